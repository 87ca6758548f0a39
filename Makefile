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
        lint-ruff lint-ruff-format lint-mypy format bench clean test-sanitize fuzz-build fuzz-smoke fuzz

help:
	@echo 'Set-up commands (each installs what it needs first):'
	@echo '  make run      run the product'
	@echo '  make test     build the C++ tree, run ctest, then pytest over tests/'
	@echo 'Developer shortcuts:'
	@echo '  make build    configure and build the C++ tree in $(BUILD_DIR)'
	@echo '  make lint     clang-format, clang-tidy, ruff, mypy (no changes made)'
	@echo '  make format   apply clang-format and ruff format'
	@echo '  make bench    run the benchmarks in bench/'
	@echo '  make test-sanitize  the C++ tests under ASan + UBSan (part of make test)'
	@echo '  make fuzz-smoke     every fuzz target for FUZZ_SMOKE_S s (part of make test)'
	@echo '  make fuzz           every fuzz target for FUZZ_S s, corpus minimised into the repo'
	@echo '  make clean    remove build/ (the venv stays)'

bootstrap:
	$(call section,bootstrap: system packages; .venv; pip install -e . with the dev and streaming extras)
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
	$(MAKE) --no-print-directory test-sanitize || status=1; \
	$(MAKE) --no-print-directory fuzz-smoke || status=1; \
	exit $$status

test-cpp:
	$(call section,C++ tests: ctest)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The C++ tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer (GCC, -O1).
ASAN_DIR ?= build/asan
test-sanitize: bootstrap
	$(call section,C++ tests under ASan + UBSan: $(ASAN_DIR))
	@if [[ ! -f $(ASAN_DIR)/build.ninja ]]; then set -x; \
	  cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG='-O1 -g' \
	    -DTDA_SANITIZE=ON -DTDA_BUILD_TESTS=ON -DTDA_BUILD_CLI=OFF; fi
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

# libFuzzer targets (cpp/fuzz/fuzz_*.cpp) need clang; the Python upload parsers use atheris.
# fuzz-smoke runs each target FUZZ_SMOKE_S seconds from the kept corpus (CI); `make fuzz` runs
# them FUZZ_S seconds each, collecting every crash, and minimises new inputs into the corpus.
FUZZ_DIR     ?= build/fuzz
FUZZ_CXX     ?= clang++-14
FUZZ_SMOKE_S ?= 20
FUZZ_S       ?= 600
fuzz-build: bootstrap
	@if [[ ! -f $(FUZZ_DIR)/build.ninja ]]; then set -x; \
	  cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DTDA_BUILD_FUZZERS=ON -DTDA_BUILD_TESTS=OFF \
	    -DTDA_BUILD_CLI=OFF; fi
	cmake --build $(FUZZ_DIR) -j $(JOBS)

# atheris has no usable fork mode (it re-runs argv[0], the .py file): the first crash ends a run.
fuzz_parsing = \
	mkdir -p $(FUZZ_DIR)/corpus/parsing $(FUZZ_DIR)/artifacts/parsing $(FUZZ_DIR)/logs; \
	echo 'fuzz: parsing (atheris) for $(1)s (log $(FUZZ_DIR)/logs/parsing.log)'; \
	$(PYTHON) tests/fuzz/fuzz_parsing.py -max_total_time=$(1) -max_len=4096 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/artifacts/parsing/ $(FUZZ_DIR)/corpus/parsing \
	  tests/fuzz/corpus/parsing >$(FUZZ_DIR)/logs/parsing.log 2>&1 || \
	  { echo 'fuzz: parsing FAILED'; tail -n 40 $(FUZZ_DIR)/logs/parsing.log; exit 1; }; \
	grep -E '^Done' $(FUZZ_DIR)/logs/parsing.log

fuzz-smoke: fuzz-build
	$(call section,fuzz smoke: $(FUZZ_SMOKE_S) s per target)
	FUZZ_DIR=$(FUZZ_DIR) scripts/fuzz.sh $(FUZZ_SMOKE_S)
	@$(call fuzz_parsing,$(FUZZ_SMOKE_S))

fuzz: fuzz-build
	$(call section,fuzz: $(FUZZ_S) s per target)
	FUZZ_DIR=$(FUZZ_DIR) KEEP_GOING=1 MERGE=1 scripts/fuzz.sh $(FUZZ_S)
	@$(call fuzz_parsing,$(FUZZ_S))

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
