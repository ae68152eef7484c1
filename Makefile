# ddscan - GNU Makefile (no autotools, no CMake).
#
#   make            build bin/ddscan and build/libddscan.a
#   make check      build and run every test (unit, MPI np 1..4, end-to-end, Python)
#   make check-slurm  the slurm/ scripts against a real SLURM on localhost (root)
#   make asan       the same tests in an ASan+UBSan build (build-asan/); TESTS='a|b'
#                   and NP_LIST='1 3' select tests and rank counts (.ci/run's subset)
#   make fuzz       libFuzzer harnesses (clang) for FUZZ_SECONDS each (build-fuzz/)
#   make bench      throughput figures, measured side by side (docs/performance.md)
#   make demo       configs/quick.cfg end to end on 2 ranks, with pictures
#   make paper      every configs/fig*-small.cfg, then docs/results.md
#   make deps       install missing Debian packages now (root or sudo)
#   make install PREFIX=/opt/ddscan   ddscan, ddplot, mkresults, configs, Python package
#   make format     clang-format every C file; `make format-check` fails on a diff
#   make clean
#
# Libraries (tools/configure.sh finds them once, writes $(BUILD)/config.mk, and
# runs again when one of these variables changes):
#   CC=mpicc                    the MPI C compiler wrapper
#   BLAS=openblas|blis|flexiblas|mkl   the CBLAS (or BLAS_LIBS='-L... -l...' BLAS_CFLAGS=-I...)
#   HDF5_DIR=PREFIX             parallel HDF5 (else pkg-config, then h5pcc -show)
#   LIBCONFIG_DIR= PNG_DIR= BLAS_DIR= CMOCKA_DIR= MKLROOT=   prefixes (DIR/include, DIR/lib)
#   X_CFLAGS/X_LIBS for X in HDF5 LIBCONFIG PNG BLAS CMOCKA   exact flags
# cmocka is needed by the tests only.  No apt-get unless something is missing
# and this is Debian as root or with sudo (tools/deps.sh).
# PYTHON=python3 runs the Python tests (default: the first of python3 on PATH
# and /usr/bin/python3 that imports h5py).
# WERROR=1 (set by .ci/run) turns warnings into errors.

SHELL := /bin/bash
CC := mpicc
BUILD ?= build
BIN ?= bin
PREFIX ?= /usr/local
WERROR ?= 0
OPT ?= -O2 -g
SAN ?=
BLAS ?= openblas
PYTHON ?=

# The release (VERSION) and the git revision it was built from.
VERSION := $(shell cat VERSION 2>/dev/null || echo unknown)
GIT_REV := $(shell git describe --always --dirty --abbrev=7 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
# Never -Ofast or -ffast-math: the isfinite guards and tail p-values need IEEE.
BASE_CFLAGS := -std=c11 $(OPT) $(SAN) $(WARN) -Iinclude -MMD -MP
PROV_FLAGS = -DDD_VERSION='"$(VERSION)"' -DDD_GIT_REV='"$(GIT_REV)"' \
             -DDD_CC='"$(CC)"' -DDD_CFLAGS='"$(BASE_CFLAGS)"' -DDD_BLAS_NAME='"$(BLAS_NAME)"'

# What tools/configure.sh reads; a change re-runs it (config.vars is the stamp).
CONFIG_VARS := CC BLAS HDF5_DIR HDF5_CFLAGS HDF5_LIBS LIBCONFIG_DIR LIBCONFIG_CFLAGS \
  LIBCONFIG_LIBS PNG_DIR PNG_CFLAGS PNG_LIBS BLAS_DIR BLAS_CFLAGS BLAS_LIBS MKLROOT \
  CMOCKA_DIR CMOCKA_CFLAGS CMOCKA_LIBS
export $(CONFIG_VARS)
CONFIG_KEY := $(foreach v,$(CONFIG_VARS),$(v)=$($(v)))

NODEPS_GOALS := clean format format-check help deps
TEST_GOALS := check check-slurm tests asan
ifeq ($(filter $(NODEPS_GOALS),$(MAKECMDGOALS)),)
ifneq ($(CONFIG_KEY),$(shell cat $(BUILD)/config.vars 2>/dev/null))
$(shell mkdir -p $(BUILD) && printf '%s\n' '$(CONFIG_KEY)' > $(BUILD)/config.vars)
endif
include $(BUILD)/config.mk
ifneq ($(filter $(TEST_GOALS),$(MAKECMDGOALS)),)
include $(BUILD)/config-test.mk
endif
endif

CFLAGS := $(BASE_CFLAGS) $(PKG_CFLAGS)
LDLIBS := $(PKG_LIBS) -pthread # the watchdog thread (src/par/watchdog.c); glibc < 2.34 needs it

LIB_SRCS := $(sort $(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/src/main.o
LIB := $(BUILD)/libddscan.a
TEST_SRCS := $(sort $(wildcard tests/test_*.c tests/mpi_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL := $(BUILD)/obj/tests/testutil.o
BENCH_SRCS := $(sort $(wildcard tools/bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:tools/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps check check-slurm asan fuzz bench install clean format format-check help tests
.DEFAULT_GOAL := all
# Keep objects make would otherwise treat as intermediate (testutil.o).
.SECONDARY:

all: $(BIN)/ddscan $(LIB)

deps:
	@tools/deps.sh build

# Found once (tools/configure.sh compiles against each candidate); again when
# the script or one of CONFIG_VARS changes.
$(BUILD)/config.mk: tools/configure.sh $(BUILD)/config.vars
	@tools/configure.sh $@

# cmocka, for the tests only (Debian's test packages first, when it may).
$(BUILD)/config-test.mk: tools/configure.sh $(BUILD)/config.vars
	@tools/deps.sh test
	@tools/configure.sh --test $@

# Every object follows the configuration (another BLAS, another HDF5).
$(LIB_OBJS) $(MAIN_OBJ): $(BUILD)/config.mk

$(BUILD)/obj/src/core/provenance.o: CFLAGS += $(PROV_FLAGS)
$(BUILD)/obj/src/core/provenance.o: $(wildcard .git/HEAD .git/index)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/ddscan: $(MAIN_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CMOCKA_CFLAGS) -Itests -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_UTIL) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(TEST_UTIL) $(LIB) $(CMOCKA_LIBS) $(LDLIBS) -o $@

tests: $(TEST_BINS)

$(BUILD)/bench/%: $(BUILD)/obj/tools/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

# Timings live here, never in tests: every bench prints ratios measured side by
# side in one run (tools/bench.sh collects them in $(BUILD)/bench/report.txt).
bench: all $(BENCH_BINS)
	@tools/bench.sh $(BUILD) $(BIN)

check: all tests
	@PYTHON=$(PYTHON) tests/run.sh $(BUILD) $(BIN)

# A private SLURM (munged, slurmctld, slurmd) on localhost runs slurm/*.sbatch
# and slurm/submit-array.sh; tests/slurm/check.sh always stops it again.
check-slurm: all tests
	@tools/deps.sh slurm
	@PYTHON=$(PYTHON) tests/slurm/check.sh $(BUILD) $(BIN)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  all tests
	@DDSCAN_ASAN=1 PYTHON=$(PYTHON) tests/run.sh build-asan build-asan/bin

# libFuzzer (clang from Debian: clang-14) over the inputs a user controls:
# tests/fuzz/fuzz_<target>.c for each FUZZ_TARGETS entry, the library built
# with ASan+UBSan and fuzzer coverage in build-fuzz/, each target run for
# FUZZ_SECONDS (tools/fuzz.sh: seeds, corpus, crashes, the cov/exec figures).
# Targets: config (parse + validate), set (--set); events (the events-file
# reader: FUZZ_TARGETS=events, stops at a known libhdf5 memory error, see
# docs/reliability.md "Fuzzing").
FUZZ_TARGETS ?= config set
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang-14
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
  -fno-sanitize-recover=undefined
fuzz:
	@OMPI_CC=$(FUZZ_CC) $(MAKE) --no-print-directory BUILD=build-fuzz BIN=build-fuzz/bin \
	  OPT="-O1 -g" SAN="$(FUZZ_SAN)" WERROR=0 \
	  $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz_%)
	@tools/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -fsanitize=fuzzer $< $(LIB) $(LDLIBS) -o $@

# The README's first command: configs/quick.cfg end to end on 2 ranks, then
# the figures (a few minutes on 2 cores).
demo: all
	@tools/demo.sh

# Every configs/fig*-small.cfg and docs/results.md (about 8 minutes on 2 cores).
paper: all
	@tools/paper.sh

# The Python package goes to PREFIX/share/ddscan/python, where the installed
# ddplot finds it (or PYTHONPATH=PREFIX/share/ddscan/python; or pip install ./python).
PYPKG_DIR = $(DESTDIR)$(PREFIX)/share/ddscan/python/ddscan_results
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ddscan \
	  $(DESTDIR)$(PREFIX)/share/ddscan/configs $(PYPKG_DIR) $(DESTDIR)$(PREFIX)/share/doc/ddscan
	install -m 755 $(BIN)/ddscan tools/ddplot tools/mkresults $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/ddscan/*.h $(DESTDIR)$(PREFIX)/include/ddscan/
	install -m 644 configs/*.cfg $(DESTDIR)$(PREFIX)/share/ddscan/configs/
	install -m 644 python/ddscan_results/*.py $(PYPKG_DIR)/
	install -m 644 LICENSE CITATION.cff CHANGELOG.md README.md $(DESTDIR)$(PREFIX)/share/doc/ddscan/

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_FILES)
format-check:
	@command -v clang-format >/dev/null || { echo "format-check: clang-format is not installed (apt-get install clang-format)"; exit 1; }
	@clang-format --dry-run -Werror $(C_FILES) && echo "format-check: clean"

clean:
	rm -rf build build-asan build-fuzz bin

help:
	@sed -n '2,31p' Makefile

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_SRCS:tests/%.c=$(BUILD)/obj/tests/%.d) \
  $(BENCH_SRCS:%.c=$(BUILD)/obj/%.d)
