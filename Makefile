# `make run` and `make test` are the two set-up commands of the README: each starts with
# scripts/bootstrap.sh, which installs what is missing and returns at once when nothing is.
# The other targets are developer shortcuts.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
BIN       := $(VENV)/bin
PYTHON    := $(BIN)/python
BUILD_DIR ?= build/cpp
JOBS      ?= 2
DATASETS  ?= ../shared/datasets
CLANG_FORMAT ?= clang-format
CLANG_TIDY   ?= clang-tidy
# clang 14 knows C++23 as c++2b only; the compile commands come from GCC's -std=c++23.
CLANG_TIDY_ARGS ?= --quiet --extra-arg=-std=c++2b
PYTEST_ARGS  ?=

# What `make run` runs: the API on the embedded default (SQLite and files under ./var,
# in-process workers) at http://127.0.0.1:8000 until Ctrl-C.
RUN_CMD ?= $(BIN)/tda-server

CPP_FILES  = $(shell find cpp \( -name '*.hpp' -o -name '*.cpp' \) -print 2>/dev/null | LC_ALL=C sort)
TIDY_FILES = $(wildcard cpp/src/*.cpp cpp/cli/*.cpp)
PY_DIRS    = $(wildcard tda_backend tests bench scripts)

export VENV
export CMAKE_BUILD_PARALLEL_LEVEL := $(JOBS)

section = @printf '\n========== %s ==========\n' "$(1)"

.PHONY: help bootstrap run configure build test test-cpp test-py lint lint-clang-format lint-clang-tidy \
        lint-ruff lint-ruff-format lint-mypy format bench clean

help:
	@echo 'Set-up commands (each installs what it needs first):'
	@echo '  make run      run the product'
	@echo '  make test     build the C++ tree, run ctest, then pytest over tests/'
	@echo 'Developer shortcuts:'
	@echo '  make build    configure and build the C++ tree in $(BUILD_DIR)'
	@echo '  make lint     clang-format, clang-tidy, ruff, mypy (no changes made)'
	@echo '  make format   apply clang-format and ruff format'
	@echo '  make bench    run the benchmarks in bench/'
	@echo '  make clean    remove build/ (the venv stays)'

bootstrap:
	$(call section,bootstrap: system packages; .venv; pip install -e .[dev])
	@scripts/bootstrap.sh

run: bootstrap
	$(call section,run: $(RUN_CMD))
	$(RUN_CMD)

# Configured once; later the build reruns CMake by itself when a CMakeLists.txt changes.
configure: bootstrap
	@if [[ ! -f $(BUILD_DIR)/build.ninja ]]; then set -x; \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DTDA_BUILD_TESTS=ON; fi

build: configure
	$(call section,C++ build: $(BUILD_DIR))
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Both suites run even when the first fails, so one run shows every failure.
test: build
	@status=0; \
	$(MAKE) --no-print-directory test-cpp || status=1; \
	$(MAKE) --no-print-directory test-py || status=1; \
	exit $$status

test-cpp:
	$(call section,C++ tests: ctest)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# pytest's exit code 5 means it collected no test: not a failure while a suite is still empty.
test-py:
	$(call section,Python tests: pytest)
	@status=0; $(PYTHON) -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [[ $$status -eq 5 ]]; then echo 'pytest collected no test'; status=0; fi; \
	exit $$status

# Every check runs (make -k) and the lint fails if any of them does. clang-tidy needs only the
# configured tree's compile_commands.json.
lint: configure
	@$(MAKE) --no-print-directory -k lint-clang-format lint-clang-tidy lint-ruff lint-ruff-format \
	  lint-mypy

lint-clang-format:
	$(call section,clang-format)
	$(CLANG_FORMAT) --dry-run -Werror $(CPP_FILES)

lint-clang-tidy:
	$(call section,clang-tidy)
	@printf '%s\n' $(TIDY_FILES) | xargs -r -P $(JOBS) -n 1 \
	  $(CLANG_TIDY) -p $(BUILD_DIR) $(CLANG_TIDY_ARGS) 2> >(grep -Ev '^[0-9]+ warnings? generated' >&2)

lint-ruff:
	$(call section,ruff check)
	$(BIN)/ruff check $(PY_DIRS)

lint-ruff-format:
	$(call section,ruff format --check)
	$(BIN)/ruff format --check $(PY_DIRS)

lint-mypy:
	$(call section,mypy)
	$(BIN)/mypy

format: bootstrap
	$(CLANG_FORMAT) -i $(CPP_FILES)
	$(BIN)/ruff check --fix-only --quiet $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

bench: bootstrap
	$(call section,benchmarks)
	@if [[ -f bench/run_all.py ]]; then $(PYTHON) bench/run_all.py; \
	else echo 'bench/run_all.py does not exist yet'; fi

clean:
	rm -rf build
