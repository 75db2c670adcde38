#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test, phase by phase, with the time each takes.  Each
# phase leaves its results in $OUT/results; the summary adds them up and
# prints "N passed, N failed" last.
set -uo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out}
CACHE=${CACHE:-$HOME/.cache/rbochs}
BUILD=$CACHE/build
RES=$OUT/results
VMTEST=tools/vmtest/target/release/vmtest
export PATH=$HOME/.cargo/bin:$PATH

rm -rf "$RES"
mkdir -p "$RES"
t_all=$(date +%s)

# phase NAME COMMAND...: run, time, and record a failure as a FAIL line.
phase() {
	local name=$1 t0 rc
	shift
	echo "== $name"
	t0=$(date +%s)
	"$@"
	rc=$?
	echo "== $name: $(($(date +%s) - t0))s$([ $rc = 0 ] || echo ", FAILED (exit $rc)")"
	[ $rc = 0 ] || echo "FAIL phase.$name: exit $rc" >>"$RES/phases.txt"
	return $rc
}

# The host tools' tests, and the in-guest tools' own (argument parsing), run on the host.
host_tests() {
	(cd tools/vmtest && cargo test --release 2>&1) | tee "$RES/host-unit.txt"
	[ "${PIPESTATUS[0]}" = 0 ] || return 1
	(cd tools/guest && cargo test --release 2>&1) | tee "$RES/guest-unit.txt"
}

# suites NAME CONFIG SUITE...: run in-guest suites on a kernel configuration; results go to
# $RES/NAME.txt.
suites() {
	local name=$1 cfg=$2
	shift 2
	$VMTEST check --arch arm64 --kernel "$BUILD/$cfg/arch/arm64/boot/Image" \
		--initrd "$BUILD/$cfg/initramfs.cpio" --out "$OUT/check/$cfg" \
		--results "$RES/$name.txt" "$@"
}

phase setup make -s setup || { echo "setup failed: nothing else can run" >&2; }
phase host-tests host_tests
# The debug kernel (KASAN, kmemleak, lockdep) with rbochs, C bochs and the KMS sample as
# modules: each driver on both device variants (rbochs also single-buffered,
# double_buffer=0), without EDID, the sample, KUnit and doctests, which driver binds when
# udev loads the device's modules (coexist), and torn screenshots on C bochs and single-
# and double-buffered rbochs (tearing).
if phase build-arm64-test make -s initramfs-arm64-test; then
	phase guest-arm64-test suites guest-arm64-test arm64-test rbochs-vga rbochs-display cbochs-vga \
		cbochs-display rbochs-single-vga rbochs-single-display rbochs-noedid cbochs-noedid \
		sample kunit coexist-vga coexist-display tearing-vga tearing-display
	# Robustness, side by side with C bochs: 100,000 fuzzed ioctls, 100 unbind/bind and
	# 100 unload/reload cycles with fbcon bound and a client holding the card, hot-unplug,
	# odd EDID geometry and 1 MiB of video memory.
	phase robustness-arm64-test suites robustness-arm64-test arm64-test rbochs-fuzz \
		cbochs-fuzz rbochs-stress cbochs-stress rbochs-hotplug cbochs-hotplug rbochs-odd \
		cbochs-odd
	# Misuse (issue 19): out-of-tree modules in safe Rust that misuse the kernel crate
	# (tools/misuse/cases), built against this kernel: those that must not compile are
	# checked to fail with their error code; the others are loaded in one boot of the debug
	# guest and must get their errno and leave the kernel log clean.
	misuse() {
		local built ran
		$VMTEST misuse-build --tree "$CACHE/tree/linux" --build "$BUILD/arm64-test" \
			--cases tools/misuse/cases --out "$BUILD/arm64-test/misuse" \
			--results "$RES/misuse-build.txt"
		built=$?
		suites misuse-arm64-test arm64-test misuse
		ran=$?
		[ $built = 0 ] && [ $ran = 0 ]
	}
	phase misuse-arm64-test misuse
fi
# rustfmt, clippy, rustdoc, checkpatch and unsafe hygiene over what we add to the kernel.
lint() {
	make -s lint | tee "$RES/lint.txt"
}
phase lint lint

# The project as a patch series (make series): it applies with git am to Linux 7.3 and gives
# the tree make tree builds, every file it adds has a MAINTAINERS entry, and checkpatch
# --strict passes every patch. The per-patch builds are make series-check's, not run here.
series() {
	make -s series-verify | tee "$RES/series.txt"
}
phase series series

# The kernel users run: rbochs built in, driving the console from boot.
if phase build-arm64-run make -s initramfs-arm64-run; then
	phase guest-arm64-run suites guest-arm64-run arm64-run builtin
	# A short smoke of `make bench` on the same kernel: every workload gives sane numbers on
	# both drivers (no timing thresholds).
	bench_smoke() {
		$VMTEST bench --smoke --kernel "$BUILD/arm64-run/arch/arm64/boot/Image" \
			--initrd "$BUILD/arm64-run/initramfs.cpio" --out "$OUT/bench-smoke" \
			--results "$RES/bench-smoke.txt"
	}
	phase bench-smoke bench_smoke
fi

# x86_guest_phase TARGET DEVICE NAME: make TARGET (igt or clients) for DEVICE in the x86_64
# guest; its results, in $OUT/NAME (the target's directory for DEVICE), go to $RES/NAME.txt.
x86_guest_phase() {
	local target=$1 device=$2 name=$3 rc
	rm -f "$OUT/$name/results.txt"
	make -s "$target" OUT="$OUT" DEVICE="$device"
	rc=$?
	[ $rc = 0 ] || echo "$target: error: 'make $target DEVICE=$device' failed (exit $rc); see the output above and $OUT/$name" >&2
	cp "$OUT/$name/results.txt" "$RES/$name.txt" 2>/dev/null ||
		echo "FAIL $name: no results ('make $target DEVICE=$device' exited $rc)" >"$RES/$name.txt"
	return $rc
}

# IGT GPU Tools on rbochs and C bochs (make igt), on std-VGA and on bochs-display: one line
# per test and driver; a failure C bochs shares is a skip. IGT's tests come from Debian's
# igt-gpu-tools-tests (tools/igt-fetch.sh), or from IGT_DIR when it is set.
phase igt x86_guest_phase igt VGA igt
phase igt-bochs-display x86_guest_phase igt bochs-display igt-bochs-display

# Real clients (make clients): Xorg's modesetting driver and weston on C bochs and on rbochs
# double- and single-buffered, on std-VGA and on bochs-display.
phase clients x86_guest_phase clients VGA clients
phase clients-bochs-display x86_guest_phase clients bochs-display clients-bochs-display

echo "== total: $(($(date +%s) - t_all))s"
[ -x "$VMTEST" ] || { echo "0 passed, 1 failed"; exit 1; }
$VMTEST summary "$RES"/*.txt
