# SPDX-License-Identifier: GPL-2.0
#
# rbochs: build an arm64 (and x86_64) guest kernel with our tree laid over
# Linux 7.3, boot it in QEMU and check what reaches the screen.
#
#   make run     build what is stale, boot the arm64 guest, save a screenshot
#   make check   all tests; ends in "N passed, N failed"
#
# Big things live outside the checkout, under CACHE:
#   $(CACHE)/src     the pristine kernel source (or KSRC=/path/to/linux)
#   $(CACHE)/tree    that source with patches/ applied and our files laid over
#   $(CACHE)/build   one kbuild output directory per configuration
#   $(CACHE)/series  a git repository of the pristine source for make series
# Artefacts (screenshots, console logs, results) go to OUT.

CACHE    ?= $(HOME)/.cache/rbochs
OUT      ?= $(CURDIR)/out
KSRC     ?=
DEVICE   ?= VGA
DISPLAY_BACKEND ?= none
JOBS     ?= $(shell nproc)
# Extra arguments of `make bench`, e.g. BENCH_ARGS="--runs 3 --frames 30", and the guest
# architecture it runs on (arm64 or x86_64).
BENCH_ARGS ?=
BENCH_ARCH ?= arm64
# IGT GPU Tools for `make igt`: Debian's igt-gpu-tools-tests from IGT_SUITE, fetched into
# $(CACHE)/igt, unless IGT_DIR names an IGT meson build directory of your own; and extra
# arguments, e.g. IGT_ARGS="--timeout 60 kms_flip".
IGT_DIR ?=
IGT_SUITE ?= forky
IGT_ARGS ?=

export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib
export PATH := $(HOME)/.cargo/bin:$(PATH)

TREE     := $(CACHE)/tree/linux
BUILD    := $(CACHE)/build
STAMPS   := $(CACHE)/stamps
KMAKE     = $(MAKE) -s -C $(TREE) LLVM=-19 -j$(JOBS)
VMTEST   := tools/vmtest/target/release/vmtest
GUEST_arm64 := tools/guest/target/aarch64-unknown-linux-musl/release/rbguest
BENCH_arm64 := tools/guest/target/aarch64-unknown-linux-musl/release/rbbench
GUEST_x86_64 := tools/guest/target/x86_64-unknown-linux-musl/release/rbguest
BENCH_x86_64 := tools/guest/target/x86_64-unknown-linux-musl/release/rbbench
# Rust target and Debian architecture of each guest architecture.
RUSTTARGET_arm64 := aarch64-unknown-linux-musl
RUSTTARGET_x86_64 := x86_64-unknown-linux-musl
DEBARCH_arm64 := arm64
DEBARCH_x86_64 := amd64

# Kernel configurations: architecture and config fragments.
ARCH_arm64-test := arm64
FRAGS_arm64-test := configs/arm64.config configs/debug.config configs/rbochs-m.config
ARCH_arm64-run := arm64
FRAGS_arm64-run := configs/arm64.config configs/rbochs-y.config
# Only configured and built in part, by `make lint` (clippy, rustdoc).
ARCH_arm64-lint := arm64
FRAGS_arm64-lint := configs/arm64.config configs/rbochs-m.config
# x86_64 with rbochs built in, for `make bench BENCH_ARCH=x86_64`.
ARCH_x86_64-run := x86_64
FRAGS_x86_64-run := configs/x86_64.config configs/rbochs-y.config
# x86_64: the guest that runs IGT GPU Tools (Debian packages IGT for amd64 only).
ARCH_x86_64-test := x86_64
FRAGS_x86_64-test := configs/x86_64.config configs/debug.config configs/rbochs-m.config

ifeq ($(KSRC),)
PRISTINE := $(CACHE)/src/linux-source-7.3
else
PRISTINE := $(KSRC)
endif

.PHONY: all run check lint fuzz bench igt igt-initramfs igt-timing clients clients-initramfs setup source tree kernel-% \
	initramfs-% vmtest guest guest-% series series-verify series-check rustfmtcheck clean \
	distclean FORCE

all: run

setup: $(STAMPS)/setup
$(STAMPS)/setup: tools/setup.sh
	@tools/setup.sh
	@mkdir -p $(STAMPS) && touch $@

# The kernel source: Debian's linux-source-7.3, through a private apt
# configuration (tools/apt-private.sh), unless KSRC names a tree.
source: $(PRISTINE)/Makefile
$(CACHE)/src/linux-source-7.3/Makefile: | $(STAMPS)/setup
	@tools/apt-private.sh download $(CACHE)/apt-trixie trixie-backports amd64 linux-source-7.3
	@echo "source: unpacking linux-source-7.3"
	@rm -rf $(CACHE)/src.new && mkdir -p $(CACHE)/src.new
	@deb=$$(ls -t $(CACHE)/apt-trixie/linux-source-7.3_*.deb | head -n1) && \
		dpkg-deb --fsys-tarfile "$$deb" | tar -xO --wildcards '*/linux-source-7.3.tar.xz' | \
		tar -xJ -C $(CACHE)/src.new
	@test -f $(CACHE)/src.new/linux-source-7.3/Makefile || \
		{ echo "source: error: the package has no linux-source-7.3 tree" >&2; exit 1; }
	@rm -rf $(CACHE)/src && mv $(CACHE)/src.new $(CACHE)/src
ifneq ($(KSRC),)
$(KSRC)/Makefile:
	@echo "error: KSRC=$(KSRC) is not a kernel source tree (no Makefile there)" >&2; exit 1
endif

tree: $(PRISTINE)/Makefile | $(STAMPS)/setup
	@tools/prepare-tree.sh $(CURDIR) $(PRISTINE) $(TREE)

# kernel-CONFIG: configure (if the fragments changed) and build.
kernel-%: tree FORCE
	@test -n "$(ARCH_$*)" || { echo "error: unknown kernel configuration '$*'" >&2; exit 1; }
	@tools/kconfig.sh $(TREE) $(BUILD)/$* $(ARCH_$*) $(FRAGS_$*)
	@echo "kernel: building $* ($(ARCH_$*)) in $(BUILD)/$*"
	@$(KMAKE) O=$(BUILD)/$* ARCH=$(ARCH_$*) all >$(BUILD)/$*/build.log 2>&1 || \
		{ grep -E -B2 -A8 'error|Error' $(BUILD)/$*/build.log | head -60 >&2; \
		  echo "kernel: build of $* failed; full log: $(BUILD)/$*/build.log" >&2; exit 1; }
	@rm -rf $(BUILD)/$*/modules-staging
	@$(KMAKE) O=$(BUILD)/$* ARCH=$(ARCH_$*) INSTALL_MOD_PATH=$(BUILD)/$*/modules-staging \
		INSTALL_MOD_STRIP=1 modules_install >/dev/null

vmtest:
	@cd tools/vmtest && cargo build --release --quiet

guest: guest-arm64
guest-%: | $(STAMPS)/setup
	@test -n "$(RUSTTARGET_$*)" || { echo "error: unknown guest architecture '$*'" >&2; exit 1; }
	@cd tools/guest && cargo build --release --quiet --target $(RUSTTARGET_$*)

$(CACHE)/busybox-%/bin/busybox: | $(STAMPS)/setup
	@test -n "$(DEBARCH_$*)" || { echo "error: unknown guest architecture '$*'" >&2; exit 1; }
	@tools/apt-private.sh download $(CACHE)/apt-bookworm-$(DEBARCH_$*) bookworm $(DEBARCH_$*) busybox-static
	@rm -rf $(CACHE)/busybox-$* && mkdir -p $(CACHE)/busybox-$*
	@dpkg-deb -x $$(ls -t $(CACHE)/apt-bookworm-$(DEBARCH_$*)/busybox-static_*.deb | head -n1) $(CACHE)/busybox-$*
	@test -x $@ || { echo "error: busybox-static has no /bin/busybox" >&2; exit 1; }

initramfs-%: kernel-% vmtest FORCE
	@$(MAKE) -s guest-$(ARCH_$*) $(CACHE)/busybox-$(ARCH_$*)/bin/busybox
	@$(VMTEST) initramfs --out $(BUILD)/$*/initramfs.cpio --init tools/guest/init.sh \
		--busybox $(CACHE)/busybox-$(ARCH_$*)/bin/busybox --guest $(GUEST_$(ARCH_$*)) \
		--modules $(BUILD)/$*/modules-staging/lib/modules --extra $(BENCH_$(ARCH_$*))

IMAGE_arm64 := arch/arm64/boot/Image
IMAGE_x86_64 := arch/x86/boot/bzImage

# Boot the guest on the driver and save a screenshot to $(OUT)/run/screen.png.
run: initramfs-arm64-run
	@$(VMTEST) run --arch arm64 --kernel $(BUILD)/arm64-run/$(IMAGE_arm64) \
		--initrd $(BUILD)/arm64-run/initramfs.cpio --device $(DEVICE) \
		--display $(DISPLAY_BACKEND) --out $(OUT)/run

check:
	@tools/check.sh

# rbochs against Linux's C bochs driver and the memcpy limit, side by side in one guest boot
# (a few minutes under TCG): the report, markdown and a PNG of the ratios, goes to
# bench/results/ and the markdown is printed too.
bench: initramfs-$(BENCH_ARCH)-run
	@$(VMTEST) bench --arch $(BENCH_ARCH) --kernel $(BUILD)/$(BENCH_ARCH)-run/$(IMAGE_$(BENCH_ARCH)) \
		--initrd $(BUILD)/$(BENCH_ARCH)-run/initramfs.cpio --out $(OUT)/bench \
		--results-dir $(CURDIR)/bench/results $(BENCH_ARGS)

# IGT GPU Tools on rbochs and C bochs in an x86_64 guest (KVM when usable, else TCG) on
# $(DEVICE): the comparison goes to $(IGT_OUT)/report.md, one result line per test and
# driver to $(IGT_OUT)/results.txt. IGT's tests come from Debian's igt-gpu-tools-tests with
# the libraries they load (tools/igt-fetch.sh, a few seconds), or from IGT_DIR.
IGT_ROOT := $(CACHE)/igt/root
# out/igt for std-VGA, out/igt-bochs-display for DEVICE=bochs-display.
IGT_OUT = $(OUT)/igt$(if $(filter-out VGA,$(DEVICE)),-$(DEVICE))
ifeq ($(IGT_DIR),)
IGT := $(IGT_ROOT)
else
IGT := $(IGT_DIR)
endif
$(IGT_ROOT)/.stamp: tools/igt-fetch.sh tools/deb-root.sh tools/apt-private.sh | $(STAMPS)/setup
	@rm -f $@
	@tools/igt-fetch.sh $(IGT_ROOT) $(IGT_SUITE)

igt-initramfs: $(if $(IGT_DIR),,$(IGT_ROOT)/.stamp) initramfs-x86_64-test
	@tools/igt-initramfs.sh "$(IGT)" $(BUILD)/x86_64-test/initramfs.cpio \
		$(BUILD)/x86_64-test/igt.cpio $$($(VMTEST) igt-tests)

# vmtest igt on $(DEVICE), results and report in directory $(1), with extra arguments $(2).
igt_run = mkdir -p $(1) && $(VMTEST) igt --arch x86_64 --kernel $(BUILD)/x86_64-test/$(IMAGE_x86_64) \
	--initrd $(BUILD)/x86_64-test/igt.cpio --device $(DEVICE) --out $(1) \
	--results $(1)/results.txt --report $(1)/report.md $(2)

igt: igt-initramfs
	@$(call igt_run,$(IGT_OUT),$(IGT_ARGS))

# IGT's timing subtests only (kms_flip's frame timestamps, kms_sequence's queue-busy),
# IGT_TIMING_RUNS times on each driver, alternating in one boot: whether rbochs misses more
# frames than C bochs. The report goes to $(IGT_OUT)-timing/report.md.
IGT_TIMING_RUNS ?= 10
igt-timing: igt-initramfs
	@$(call igt_run,$(IGT_OUT)-timing,--timing-only --timing-runs $(IGT_TIMING_RUNS) $(IGT_ARGS))

# Real clients in the same x86_64 guest on $(DEVICE): Xorg's modesetting driver and weston
# (with weston-simple-shm) on C bochs and on rbochs double- and single-buffered, each picture
# checked whole in a host screenshot (about a minute under TCG). Debian's Xorg, xsetroot and
# weston come from IGT_SUITE through tools/clients-fetch.sh into $(CACHE)/clients (a minute,
# once); screenshots and result lines go to $(CLIENTS_OUT).
CLIENTS_ROOT := $(CACHE)/clients/root
CLIENTS_OUT = $(OUT)/clients$(if $(filter-out VGA,$(DEVICE)),-$(DEVICE))
$(CLIENTS_ROOT)/.stamp: tools/clients-fetch.sh tools/deb-root.sh tools/apt-private.sh | $(STAMPS)/setup
	@rm -f $@
	@tools/clients-fetch.sh $(CLIENTS_ROOT) $(IGT_SUITE)

clients-initramfs: $(CLIENTS_ROOT)/.stamp initramfs-x86_64-test
	@tools/clients-initramfs.sh $(CLIENTS_ROOT) $(BUILD)/x86_64-test/initramfs.cpio \
		$(BUILD)/x86_64-test/clients.cpio

clients: clients-initramfs
	@mkdir -p $(CLIENTS_OUT) && $(VMTEST) clients --arch x86_64 \
		--kernel $(BUILD)/x86_64-test/$(IMAGE_x86_64) --initrd $(BUILD)/x86_64-test/clients.cpio \
		--device $(DEVICE) --out $(CLIENTS_OUT) --results $(CLIENTS_OUT)/results.txt

# A longer ioctl fuzz run on both drivers: FUZZ_SEED (default: the time) and FUZZ_CALLS.
fuzz: initramfs-arm64-test
	@mkdir -p $(OUT)/fuzz; seed=$${FUZZ_SEED:-$$(date +%s)}; echo "fuzz: seed $$seed"; \
	FUZZ_SEED=$$seed FUZZ_CALLS=$${FUZZ_CALLS:-1000000} $(VMTEST) check --arch arm64 \
		--kernel $(BUILD)/arm64-test/$(IMAGE_arm64) --initrd $(BUILD)/arm64-test/initramfs.cpio \
		--out $(OUT)/fuzz --results $(OUT)/fuzz/results.txt rbochs-fuzz cbochs-fuzz

# The kernel's own checks over what we add: rustfmt, clippy, rustdoc, checkpatch, and that
# unsafe code stays in rust/kernel/ with SAFETY comments.
lint: tree
	@tools/kconfig.sh $(TREE) $(BUILD)/arm64-lint arm64 $(FRAGS_arm64-lint)
	@tools/lint.sh $(CURDIR) $(TREE) $(BUILD)/arm64-lint

# The project as a git format-patch series against Linux 7.3, with a cover letter, in
# $(OUT)/series, generated from patches/series (tools/series.py) in a throw-away git
# repository under $(CACHE)/series.
SERIES_OUT  = $(OUT)/series
SERIES_WORK = $(CACHE)/series
series: $(PRISTINE)/Makefile
	@tools/series.py generate $(CURDIR) $(PRISTINE) $(SERIES_WORK) $(SERIES_OUT)

# That it applies with git am to Linux 7.3, gives the tree make tree builds, and passes
# checkpatch --strict (make check runs this).
series-verify: tree
	@tools/series.py verify $(CURDIR) $(PRISTINE) $(SERIES_WORK) $(SERIES_OUT) $(TREE)

# The above, and that every patch touching Rust builds (rust/, the driver and the sample in
# the arm64-lint configuration); long: before sending, and whenever patches/series changes.
series-check: series-verify
	@tools/series.py build $(CURDIR) $(PRISTINE) $(SERIES_WORK) $(SERIES_OUT) arm64 \
		$(FRAGS_arm64-lint)

rustfmtcheck:
	@cd tools/vmtest && cargo fmt --check
	@cd tools/guest && cargo fmt --check

clean:
	rm -rf $(OUT) tools/vmtest/target tools/guest/target

distclean: clean
	rm -rf $(CACHE)

FORCE:
