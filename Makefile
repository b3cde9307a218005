# resdyn — build, test, benchmark and run. `make help` lists the targets.
#   make CXX=clang++          build with clang
#   make NATIVE=0             portable build (no -march=native)
#   make install PREFIX=DIR   install into DIR (default /usr/local); DESTDIR=STAGE stages it
CXX      ?= g++
NATIVE   ?= 1
OPT      ?= -O3
ARCHFLAG := $(if $(filter 1,$(NATIVE)),-march=native,)
CXXFLAGS += -std=c++17 $(OPT) $(ARCHFLAG) -Wall -Wextra -Werror -pthread -Iinclude -Isrc -MMD -MP
LDFLAGS  += -pthread
GTEST    ?= -lgtest -lgtest_main
JOBS     ?= 2
FUZZ_SECONDS ?= 60
PREFIX   ?= /usr/local
DESTDIR  ?=
# One version, written in meson.build.
VERSION  := $(shell sed -n "s/^ *version: '\([^']*\)'.*/\1/p" meson.build)
LOAD_RUNS ?= 20
LOAD_BUSY ?= 3
CLAIMS_SCALE ?= quick

BUILD    := build
# Sources: the files git tracks (a file still being written does not break the build), or
# every file when building outside a git checkout. meson.build lists the same files.
sources   = $(if $(wildcard .git),$(shell git ls-files ':(glob)$(1)'),$(wildcard $(1)))
LIB_SRC  := $(filter-out src/cli/main.cpp,$(call sources,src/*/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
# tests/library_example.cpp is a program of its own, built against the installed header
# by tools/check_install.sh.
TEST_SRC := $(filter-out tests/library_example.cpp,$(call sources,tests/*.cpp))
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)

.PHONY: all data run test test-sanitize test-under-load fuzz bench mcu mcu-budget cross report paper claims install uninstall check-install clean help

all: $(BUILD)/resdyn

help:
	@echo "make            build $(BUILD)/resdyn"
	@echo "make data       fetch MNIST into data/mnist (checked by SHA-256)"
	@echo "make run        the main job: data, build, the small reproduction (default net first) and its report"
	@echo "make test       build and run the test suite (needs data)"
	@echo "make test-sanitize  the test suite under AddressSanitizer and UBSan (build/sanitize/)"
	@echo "make test-under-load  the crash, checkpoint and signal tests LOAD_RUNS times (20) beside LOAD_BUSY busy loops (3)"
	@echo "make fuzz       each libFuzzer target for FUZZ_SECONDS s (default 60; needs clang)"
	@echo "make bench      GEMM GFLOP/s against OpenBLAS, training/inference samples/s against PyTorch"
	@echo "make report     the small reproduction (models and every analysis) and its HTML report, checked in Chromium"
	@echo "make paper      the reproduction at the paper's scale (15 x 1064 nets) and its report"
	@echo "make claims     the claims over 3 seeds and 2 training recipes at CLAIMS_SCALE (quick; small, paper), then the report"
	@echo "make mcu        Cortex-M firmware under QEMU: build, run, compare with the host (installs its toolchain)"
	@echo "make mcu-budget the best net per flash budget (64 KiB, 256 KiB, 1 MiB) on the Cortex-M4; MCU_BUDGET_EPOCHS (20)"
	@echo "make cross      build for aarch64, armhf and s390x; run the numeric tests under qemu-user (installs its toolchains)"
	@echo "make install    the header, the program and resdyn.pc under PREFIX (default /usr/local), staged in DESTDIR"
	@echo "make uninstall  remove what make install put there"
	@echo "make check-install  install into a temporary prefix; build the example against it (pkg-config, meson)"
	@echo "make clean      remove $(BUILD)/"

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/resdyn: $(BUILD)/obj/src/cli/main.o $(LIB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS)

$(BUILD)/resdyn_tests: $(TEST_OBJ) $(LIB_OBJ)
	$(CXX) $^ -o $@ $(GTEST) $(LDFLAGS)

$(BUILD)/resdyn_bench: $(BUILD)/obj/tools/bench.o $(LIB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS)

data:
	bash tools/fetch_mnist.sh

# The main job: the small reproduction (its first net is the default one: a shared-weight
# ResNet with stem, see README), every analysis and the report; then the default net's
# test error and where the report is.
run: data $(BUILD)/resdyn
	RESDYN_BIN=$(BUILD)/resdyn bash tools/paper_runs.sh small $(BUILD)/runs
	$(BUILD)/resdyn eval --model $(BUILD)/runs/models/shared.resdyn
	@echo "report: $(BUILD)/runs/report/index.html"

test: data $(BUILD)/resdyn $(BUILD)/resdyn_tests
	RESDYN_BIN=$(BUILD)/resdyn bash tools/run_tests.sh $(BUILD)/resdyn_tests

test-sanitize:
	bash tools/test_sanitize.sh

test-under-load: data $(BUILD)/resdyn $(BUILD)/resdyn_tests
	BUILD=$(BUILD) bash tools/test_under_load.sh $(LOAD_RUNS) $(LOAD_BUSY)

fuzz:
	bash tools/fuzz.sh $(FUZZ_SECONDS)

bench: $(BUILD)/resdyn_bench $(BUILD)/resdyn
	bash tools/bench.sh

report: data $(BUILD)/resdyn
	RESDYN_BIN=$(BUILD)/resdyn bash tools/paper_runs.sh small $(BUILD)/runs
	bash tools/check_report.sh $(BUILD)/runs/report

paper: data $(BUILD)/resdyn
	RESDYN_BIN=$(BUILD)/resdyn bash tools/paper_runs.sh paper $(BUILD)/paper

# The study lives beside the small reproduction's runs, whose report then shows it too.
claims: data $(BUILD)/resdyn
	RESDYN_BIN=$(BUILD)/resdyn CLAIMS_SCALE=$(CLAIMS_SCALE) bash tools/paper_runs.sh claims $(if $(filter paper,$(CLAIMS_SCALE)),$(BUILD)/paper,$(BUILD)/runs)

mcu: data $(BUILD)/resdyn
	RESDYN_BIN=$(BUILD)/resdyn bash tools/firmware/run.sh

# Shapes swept per flash budget, each trained and run on the device (tools/firmware/budget.sh).
mcu-budget: data $(BUILD)/resdyn
	RESDYN_BIN=$(BUILD)/resdyn bash tools/firmware/budget.sh

# The program and the numeric unit tests cross-built for aarch64, armhf and big-endian s390x,
# run under qemu-user; files exchanged with the host both ways (tools/cross.sh).
cross: data
	bash tools/cross.sh

# The header needs no library of its own: the .pc file gives its folder and the thread flag.
define RESDYN_PC
prefix=$(PREFIX)
includedir=$${prefix}/include

Name: resdyn
Description: Dense sigmoid ResNets and MLPs, trained and run by one C++17 header
Version: $(VERSION)
Cflags: -I$${includedir} -pthread
Libs: -pthread
endef

install: export RESDYN_PC_TEXT = $(RESDYN_PC)
install: $(BUILD)/resdyn
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/resdyn.h $(DESTDIR)$(PREFIX)/include/resdyn.h
	install -m 755 $(BUILD)/resdyn $(DESTDIR)$(PREFIX)/bin/resdyn
	printf '%s\n' "$$RESDYN_PC_TEXT" >$(DESTDIR)$(PREFIX)/lib/pkgconfig/resdyn.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/resdyn.h $(DESTDIR)$(PREFIX)/bin/resdyn \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/resdyn.pc

# '+': the script runs make install, which may share this make's jobs.
check-install: $(BUILD)/resdyn
	+bash tools/check_install.sh

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/obj/src/cli/main.d $(BUILD)/obj/tools/bench.d
