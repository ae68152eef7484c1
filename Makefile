# ddscan - GNU Makefile (no autotools, no CMake).
#
#   make            build bin/ddscan and build/libddscan.a (installs missing
#                   Debian packages first, through tools/deps.sh)
#   make check      build and run every test (unit, MPI np 1..4, end-to-end)
#   make check-slurm  the slurm/ scripts against a real SLURM on localhost (root)
#   make asan       the same tests in an ASan+UBSan build (build-asan/)
#   make bench      throughput figures, measured side by side (docs/performance.md)
#   make demo       configs/quick.cfg end to end on 2 ranks, with pictures
#   make paper      every configs/fig*-small.cfg, then docs/results.md
#   make deps       install missing Debian packages now
#   make install PREFIX=/opt/ddscan
#   make format     clang-format every C file; `make format-check` fails on a diff
#   make clean
#
# Flags come from pkg-config (hdf5-openmpi, libconfig, openblas, libpng, cmocka);
# they are written once to $(BUILD)/config.mk after the dependencies are in.
# WERROR=1 (set by .ci/run) turns warnings into errors.

SHELL := /bin/bash
CC := mpicc
BUILD ?= build
BIN ?= bin
PREFIX ?= /usr/local
WERROR ?= 0
OPT ?= -O2 -g
SAN ?=
PKGS := hdf5-openmpi libconfig openblas libpng

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
# Never -Ofast or -ffast-math: the isfinite guards and tail p-values need IEEE.
BASE_CFLAGS := -std=c11 $(OPT) $(SAN) $(WARN) -Iinclude -MMD -MP
PROV_FLAGS = -DDD_VERSION='"$(VERSION)"' -DDD_GIT_REV='"$(GIT_REV)"' \
             -DDD_CC='"$(CC)"' -DDD_CFLAGS='"$(BASE_CFLAGS)"'

NODEPS_GOALS := clean format format-check help
ifeq ($(filter $(NODEPS_GOALS),$(MAKECMDGOALS)),)
ifneq ($(MAKECMDGOALS),deps)
include $(BUILD)/config.mk
endif
endif

CFLAGS := $(BASE_CFLAGS) $(PKG_CFLAGS)
LDLIBS := $(PKG_LIBS)

LIB_SRCS := $(sort $(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/src/main.o
LIB := $(BUILD)/libddscan.a
TEST_SRCS := $(sort $(wildcard tests/test_*.c tests/mpi_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL := $(BUILD)/obj/tests/testutil.o
BENCH_SRCS := $(sort $(wildcard tools/bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:tools/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps check check-slurm asan bench install clean format format-check help tests
.DEFAULT_GOAL := all
# Keep objects make would otherwise treat as intermediate (testutil.o).
.SECONDARY:

all: $(BIN)/ddscan $(LIB)

deps:
	@tools/deps.sh build

# Generated once: re-running deps.sh when it changes picks up new packages.
$(BUILD)/config.mk: tools/deps.sh
	@tools/deps.sh build
	@mkdir -p $(BUILD)
	@for p in $(PKGS) cmocka; do \
	  pkg-config --exists $$p || { echo "ddscan: pkg-config cannot find '$$p' (Debian packages: libhdf5-openmpi-dev libconfig-dev libopenblas-dev libpng-dev libcmocka-dev)" >&2; exit 1; }; \
	done
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := -lhdf5_hl $$(pkg-config --libs $(PKGS)) -lm"; \
	   echo "CMOCKA_CFLAGS := $$(pkg-config --cflags cmocka)"; \
	   echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka)"; } > $@.tmp && mv $@.tmp $@

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
	@tests/run.sh $(BUILD) $(BIN)

# A private SLURM (munged, slurmctld, slurmd) on localhost runs slurm/*.sbatch
# and slurm/submit-array.sh; tests/slurm/check.sh always stops it again.
check-slurm: all tests
	@tools/deps.sh slurm
	@tests/slurm/check.sh $(BUILD) $(BIN)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  all tests
	@DDSCAN_ASAN=1 tests/run.sh build-asan build-asan/bin

# The README's first command: configs/quick.cfg end to end on 2 ranks, then
# the figures (a few minutes on 2 cores).
demo: all
	@tools/demo.sh

# Every configs/fig*-small.cfg and docs/results.md (about 8 minutes on 2 cores).
paper: all
	@tools/paper.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ddscan \
	  $(DESTDIR)$(PREFIX)/share/ddscan/configs
	install -m 755 $(BIN)/ddscan $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/ddscan/*.h $(DESTDIR)$(PREFIX)/include/ddscan/
	install -m 644 configs/*.cfg $(DESTDIR)$(PREFIX)/share/ddscan/configs/

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_FILES)
format-check:
	@command -v clang-format >/dev/null || { echo "format-check: clang-format is not installed (apt-get install clang-format)"; exit 1; }
	@clang-format --dry-run -Werror $(C_FILES) && echo "format-check: clean"

clean:
	rm -rf build build-asan bin

help:
	@sed -n '2,17p' Makefile

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_SRCS:tests/%.c=$(BUILD)/obj/tests/%.d) \
  $(BENCH_SRCS:%.c=$(BUILD)/obj/%.d)
