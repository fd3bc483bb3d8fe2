# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fork's entry points.  The two a user needs (README.rst):
#   make run     set up, build, boot Debian's OVMF on q35,smm=on, show SMM state
#   make check   set up, build, run the whole test suite
# Both install the Debian packages they need (as root) and reuse what is there.

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
QEMU_BUILD := $(TOP)/build/qemu
NINJA_TARGETS = qemu-system-x86_64 qemu-system-i386 $(shell $(TOP)/fork/check --print-build-targets)

# ccache: hash paths below the checkout relative to it, so that another
# clone (CI's) hits the cache too
export CCACHE_BASEDIR ?= $(TOP)
# ... and leave the build directory out of the hash: QEMU builds with -g,
# which otherwise makes ccache hash the working directory and miss
export CCACHE_NOHASHDIR ?= 1

# Arguments for the VM of 'make run', e.g. make run RUN_ARGS="--smp 4 --keep"
RUN_ARGS ?=
# Arguments for the test runner, e.g. make check CHECK_ARGS="--only q35"
CHECK_ARGS ?=

.PHONY: all build build-unpatched peer-10.0 peer-11.1 firmware functional-assets run check bench bench-hotplug firmware-matrix stress sanitize fuzz deps-build deps-run deps-check deps-fuzz deps-bench configure \
        series series-build-check upstream-report devtree export-patches devtree-discard \
        submission submission-build submission-build-check submission-devtree submission-export \
        clean distclean help

all: build

help:
	@sed -n '3,6p' $(TOP)/Makefile | sed 's/^# \{0,1\}//'
	@echo "Developer targets: build, build-unpatched, series, series-build-check,"
	@echo "  upstream-report, devtree, export-patches, devtree-discard,"
	@echo "  submission, submission-build, submission-build-check,"
	@echo "  submission-devtree, submission-export, clean, distclean (see README.rst)"

deps-build deps-run deps-check deps-fuzz deps-bench: deps-%:
	@$(TOP)/fork/install-deps $*

configure:
	@$(TOP)/configure

build: deps-build configure
	@echo "==> building QEMU (qemu-system-x86_64, qemu-system-i386) and the qtests in build/qemu"
	@set -o pipefail; PATH=/usr/bin:/bin:$$PATH ninja -C $(QEMU_BUILD) $(NINJA_TARGETS) \
	    | $(TOP)/fork/progress

run: deps-run build
	@$(TOP)/fork/run-vm $(RUN_ARGS)

check: deps-check build build-unpatched peer-10.0 peer-11.1 firmware functional-assets submission-build
	@$(TOP)/fork/check $(CHECK_ARGS)

# The Debian packages tests/functional declares as assets, put in its
# asset cache (build/functional-cache) with apt: make check runs the
# functional tests with downloads off
functional-assets:
	@QEMU_TEST_CACHE_DIR=$(TOP)/build/functional-cache $(TOP)/fork/seed-functional-assets

# Debian's upstream 10.0 binary (bookworm-backports), unpacked in
# build/peer-10.0: migration peer and canary
peer-10.0:
	@$(TOP)/fork/fetch-peer

# Upstream's newest release, sid's 11.1.3 with sid's libc and libraries,
# unpacked in build/peer-11.1: the canaries' second upstream (when sid
# does not serve it, build/peer-11.1/UNAVAILABLE says why)
peer-11.1:
	@$(TOP)/fork/fetch-peer-11.1

# trixie's OVMF 2025.02 next to bookworm's 2022.11, unpacked in
# build/firmware; firmware-matrix also tries sid's newest
firmware:
	@$(TOP)/fork/fetch-firmware

# The unpatched base built with the same options (build/base-qemu): the
# upstream canaries of make check and the baseline of make bench.
build-unpatched: deps-build
	@$(TOP)/configure --unpatched --target-list=x86_64-softmmu
	@echo "==> building the unpatched base (QEMU $$(cat $(TOP)/build/base/tree/VERSION)) in build/base-qemu"
	@set -o pipefail; PATH=/usr/bin:/bin:$$PATH ninja -C $(TOP)/build/base-qemu qemu-system-x86_64 \
	    | $(TOP)/fork/progress

# Benchmark: CPU hotplug latency with SMM, e.g. BENCH_ARGS="--runs 20"
BENCH_ARGS ?=
bench-hotplug: deps-run build
	@$(TOP)/fork/bench-hotplug $(BENCH_ARGS)

# SMI cost against the unpatched base and Debian's 7.2 (README.rst), e.g.
# BENCH_ARGS="--runs 5 --only smi,inject"
bench: deps-bench build peer-10.0
	@$(TOP)/fork/bench-smi $(BENCH_ARGS)

# The firmware matrix (SeaBIOS, OVMF x64/ia32 x 1/2/4 vCPUs), e.g.
# MATRIX_ARGS="--vcpus 1,2,4,8 --firmware ovmf-x64"
MATRIX_ARGS ?=
firmware-matrix: deps-check build
	@$(TOP)/fork/fetch-firmware sid
	@$(TOP)/fork/firmware-matrix $(MATRIX_ARGS)

# Randomized CPU plug/unplug with SMM (OVMF 2022.11 and 2025.02, Linux),
# e.g. STRESS_ARGS="--ops 500 --seed 1234 --maxcpus 16"
STRESS_ARGS ?=
stress: deps-check build firmware
	@$(TOP)/fork/stress $(STRESS_ARGS)

# ASan + UBSan build (build/asan, x86_64, minimal features) running the qtests and fast e2e tests
sanitize: deps-check
	@$(TOP)/fork/sanitize $(CHECK_ARGS)

# Bounded fuzzing of the SMM device model, e.g. FUZZ_RUNS=1000000 FUZZ_SECONDS=3600
FUZZ_SECONDS ?= 300
FUZZ_RUNS ?= 0
FUZZ_JOBS ?= $(shell nproc)
fuzz: deps-fuzz
	@$(TOP)/fork/fuzz --runs $(FUZZ_RUNS) --jobs $(FUZZ_JOBS) $(FUZZ_SECONDS)

series: deps-build configure
	@$(TOP)/fork/series

series-build-check: series
	@$(TOP)/fork/series-build-check

# Report only: does the series apply to the newest upstream Debian serves
# (sid)?  Not part of make check: that source may stop being served.
upstream-report: series
	@$(TOP)/fork/upstream-apply-report

# The submission series: the fixes as upstream takes them, on upstream
# 10.2.2 (patches/submission/).  make submission SIGNOFF="Name <email>"
# writes series/submission/ (cover letter, patches addressed to their
# maintainers, signed by the person who posts them).
SIGNOFF ?=
submission: deps-build
	@$(TOP)/fork/submission write $(if $(SIGNOFF),--signoff "$(SIGNOFF)")

# 10.2.2 with the submission series, built for make check's checks of it
# (skipped, with the reason, when Debian no longer serves that source),
# and each qtest the series adds run without its patch (a result that
# tests/e2e/test-submission.py asserts)
submission-build: deps-build configure
	@rc=0; $(TOP)/fork/submission build || rc=$$?; \
	    if [ $$rc -eq 0 ]; then $(TOP)/fork/submission revert-check || true; \
	        $(TOP)/fork/submission check-tcg || true; \
	    elif [ $$rc -ne 3 ]; then exit $$rc; fi

# every commit of the submission series builds on its own
submission-build-check: deps-build configure
	@$(TOP)/fork/submission build --each

submission-devtree: deps-build
	@$(TOP)/fork/submission devtree

submission-export:
	@$(TOP)/fork/submission export

devtree: deps-build configure
	@$(TOP)/fork/devtree

export-patches:
	@$(TOP)/fork/export-patches

devtree-discard:
	@rm -rf $(TOP)/build/src/.git && $(TOP)/fork/lay-tree $(TOP)/build/src

clean:
	rm -rf $(QEMU_BUILD)

distclean:
	rm -rf $(TOP)/build $(TOP)/series
