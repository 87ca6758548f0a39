#!/usr/bin/env bash
# Brings a machine to the state `make run` and `make test` need, and does nothing when it is there:
#   1. the Debian packages of the C++ build and the tools (apt-get update only when one is missing),
#   2. a virtualenv at .venv made from python3.11 on PATH,
#   3. `pip install -e .[dev,streaming]`, repeated only when pyproject.toml or the C++ sources changed.
# The streaming extra (PyFlink) and Java 17 + Maven (which fetch and run Kafka and Flink) are part
# of it because the integration tests start real Kafka and Flink servers: nothing is optional.
# Step 3 builds in build/<wheel tag> (pyproject.toml), so a repeat recompiles only what changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
if ! command -v "$PYTHON" >/dev/null && command -v python3 >/dev/null &&
   python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  PYTHON=python3
fi
STAMP_DIR=$VENV/.bootstrap
EXTRAS=dev,streaming
APT_PACKAGES=(
  build-essential cmake ninja-build
  libfmt-dev libcli11-dev libcgal-dev libeigen3-dev libgmp-dev libmpfr-dev libboost-dev libtbb-dev
  libgtest-dev libbenchmark-dev
  clang-format clang-tidy
  clang-14 libclang-rt-14-dev
  ripser
  openjdk-17-jdk-headless maven
  curl jq
)
# Both cores at most: the machines are small and shared.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

install_apt_packages() {
  local missing=() package
  for package in "${APT_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) != "install ok installed" ]]; then
      missing+=("$package")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# A hash of everything whose change needs `pip install` to run again: the package metadata and the
# sources of the compiled extension (the Python sources are served from the tree by the editable
# install and need nothing).
build_inputs_hash() {
  local inputs=(CMakeLists.txt pyproject.toml) dir
  for dir in cpp/include cpp/src cpp/cli cpp/python; do
    [[ -d $dir ]] && inputs+=("$dir")
  done
  {
    "$VENV/bin/python" --version
    find "${inputs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

make_venv() {
  if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    return
  fi
  command -v "$PYTHON" >/dev/null || die "no python3.11 on PATH (set PYTHON=/path/to/python3.11)"
  say "creating $VENV with $("$PYTHON" --version)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
}

install_package() {
  local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  local deps_hash inputs_hash
  deps_hash=$({ cat pyproject.toml; echo "$EXTRAS"; } | sha256sum | cut -d' ' -f1)
  inputs_hash=$(build_inputs_hash)
  mkdir -p "$STAMP_DIR"
  if [[ $(cat "$STAMP_DIR/deps" 2>/dev/null) == "$deps_hash" &&
        $(cat "$STAMP_DIR/build" 2>/dev/null) == "$inputs_hash" ]]; then
    return
  fi
  # Building without isolation keeps the CMake cache in build/ valid between runs (an isolated
  # build would see nanobind in a new temporary directory each time); so the build requirements
  # go into the venv first.
  if [[ $(cat "$STAMP_DIR/deps" 2>/dev/null) != "$deps_hash" ]]; then
    say "installing the build requirements and tda-platform with its extras ($EXTRAS)"
    # setuptools and wheel build the dependencies published only as sources (apache-beam's
    # crcmod, dill, docopt), which also build without isolation here.
    "${pip[@]}" "scikit-build-core>=0.10" "nanobind>=2.0" setuptools wheel
    # One resolution for everything: apache-flink pins apache-beam, pandas, pyarrow and numpy
    # below their newest releases, and the resolver picks versions every package accepts.
    "${pip[@]}" --no-build-isolation -e ".[$EXTRAS]"
  else
    say "C++ sources changed: rebuilding the extension and tda-ph"
    "${pip[@]}" --no-build-isolation --no-deps -e .
  fi
  echo "$deps_hash" >"$STAMP_DIR/deps"
  echo "$inputs_hash" >"$STAMP_DIR/build"
}

# The build generates .pyi stubs of the extension and installs them beside it in the venv, where
# the editable install's import hook finds them but mypy and editors, reading the source tree, do
# not: a copy goes into the tree (ignored by git).
copy_stubs() {
  local site stub
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
  [[ -d $site/tda_backend ]] || return 0
  while IFS= read -r stub; do
    cmp -s "$site/$stub" "$stub" || cp "$site/$stub" "$stub"
  done < <(cd "$site" && find tda_backend -name '*.pyi')
}

install_apt_packages
make_venv
install_package
copy_stubs
say "ready ($VENV)"
