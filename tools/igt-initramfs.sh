#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Add IGT GPU Tools' test programs, with the shared libraries they load, to a guest
# initramfs: a second cpio archive appended to the first (the kernel unpacks both).
#
# Debian's intel-gpu-tools package ships IGT's tools and benchmarks but none of its tests
# (bookworm, trixie and sid alike), so IGT_DIR must name a meson build directory of
# IGT (its tests/ holds the test programs), built for x86_64 on this machine.
#
# usage: igt-initramfs.sh IGT_DIR BASE.cpio OUT.cpio TEST...
set -euo pipefail

die() { echo "igt-initramfs: error: $*" >&2; exit 1; }

[ $# -ge 4 ] || die "usage: $0 IGT_DIR BASE.cpio OUT.cpio TEST..."
igt=$1 base=$2 out=$3
shift 3
[ -n "$igt" ] || die "IGT_DIR is not set: Debian's intel-gpu-tools ships no IGT tests;" \
	"build IGT (meson) and run 'make igt IGT_DIR=/path/to/igt/build'"
[ -d "$igt/tests" ] || die "$igt/tests not found: IGT_DIR must be an IGT meson build directory"
[ -f "$base" ] || die "$base not found"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/igt" "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
progs=()
for t in "$@"; do
	if [ -x "$igt/tests/$t" ]; then
		progs+=("$igt/tests/$t")
		cp "$igt/tests/$t" "$stage/igt/"
	else
		echo "igt-initramfs: $t not built in $igt/tests (it will be reported as missing)" >&2
	fi
done
[ ${#progs[@]} -gt 0 ] || die "none of the IGT tests asked for is built in $igt/tests"
# The libraries the programs load, as this machine resolves them (from the build directory,
# where their run path finds IGT's own library).
ldd "${progs[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' |
	sort -u | while read -r lib; do
		case "$lib" in
		*/ld-linux-x86-64.so.2) cp -L "$lib" "$stage/lib64/ld-linux-x86-64.so.2" ;;
		*) cp -L "$lib" "$stage/lib/x86_64-linux-gnu/" ;;
		esac
	done
[ -f "$stage/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader found for the IGT programs"
missing=$(ldd "${progs[@]}" 2>/dev/null | grep 'not found' | sort -u || true)
[ -z "$missing" ] || die "libraries the IGT programs need are missing: $missing"

(cd "$stage" && find . -mindepth 1 | sort | cpio -o -H newc --quiet -R 0:0) >"$out.igt"
cat "$base" "$out.igt" >"$out"
rm -f "$out.igt"
echo "igt-initramfs: $(ls "$stage/igt" | wc -l) IGT tests and $(ls "$stage/lib/x86_64-linux-gnu" | wc -l) libraries added, $out"
