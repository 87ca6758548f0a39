#!/usr/bin/env bash
# Runs the engine's libFuzzer targets one after another, each for SECONDS seconds on one core,
# starting from the seeds in cpp/fuzz/corpus/<target>/ and growing a working corpus in
# $FUZZ_DIR/corpus/<target>/. Crashes are kept in $FUZZ_DIR/artifacts/<target>/ and make the
# script exit non-zero; the libFuzzer log of each target is $FUZZ_DIR/logs/<target>.log.
#   scripts/fuzz.sh SECONDS [target ...]      (default: every cpp/fuzz/fuzz_*.cpp)
# With KEEP_GOING=1 a crash does not stop the run (libFuzzer's fork mode, one job): every crash
# of the time budget is collected. With MERGE=1 the working corpus is minimised back into
# cpp/fuzz/corpus/<target>/ at the end (at most MAX_CORPUS files, default 300: the smallest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_TARGET=${1:?usage: scripts/fuzz.sh SECONDS [target ...]}
shift
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
if [[ $# -eq 0 ]]; then
  set -- $(find cpp/fuzz -name 'fuzz_*.cpp' -printf '%f\n' | sed 's/^fuzz_//; s/\.cpp$//' | LC_ALL=C sort)
fi

status=0
for target in "$@"; do
  binary=$FUZZ_DIR/fuzz_$target
  [[ -x $binary ]] || { echo "fuzz: $binary is not built" >&2; exit 2; }
  seeds=cpp/fuzz/corpus/$target
  work=$FUZZ_DIR/corpus/$target
  artifacts=$FUZZ_DIR/artifacts/$target
  mkdir -p "$seeds" "$work" "$artifacts" "$FUZZ_DIR/logs"
  log=$FUZZ_DIR/logs/$target.log
  options=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048
           -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [[ ${KEEP_GOING:-0} == 1 ]]; then
    options+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  fi
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s (log $log)"
  if ! "$binary" "${options[@]}" "$work" "$seeds" >"$log" 2>&1; then
    echo "fuzz: $target FAILED; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    status=1
  fi
  # Plain mode ends with "#N DONE" and stat:: lines, fork mode with "#N: cov: ... time: Ts".
  grep -aE '^(stat::number_of_executed_units|#[0-9]+.*DONE|#[0-9]+: cov)' "$log" | tail -n 1 || true
  if [[ ${MERGE:-0} == 1 ]]; then
    merged=$(mktemp -d)
    "$binary" -merge=1 -max_len=4096 "$merged" "$seeds" "$work" >/dev/null 2>&1
    # The kept corpus stays small: the smallest MAX_CORPUS files of the minimised set.
    rm -f "$seeds"/*
    find "$merged" -type f -printf '%s %p\n' | sort -n | head -n "${MAX_CORPUS:-300}" |
      cut -d' ' -f2- | xargs -r cp -t "$seeds"/
    rm -rf "$merged"
    echo "fuzz: $target corpus: $(find "$seeds" -type f | wc -l) files"
  fi
done
exit $status
