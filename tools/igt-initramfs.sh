#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Add IGT GPU Tools' test programs, with the shared libraries they load, to a guest
# initramfs: a second cpio archive appended to the first (the kernel unpacks both).
#
# IGT is either a root file system that tools/igt-fetch.sh filled from Debian's
# igt-gpu-tools-tests (tests in usr/libexec/igt-gpu-tools, libraries resolved inside that
# root with its own loader), or an IGT meson build directory built on this machine (tests in
# tests/, libraries as this machine resolves them).
#
# usage: igt-initramfs.sh IGT BASE.cpio OUT.cpio TEST...
set -euo pipefail

die() { echo "igt-initramfs: error: $*" >&2; exit 1; }

[ $# -ge 4 ] || die "usage: $0 IGT BASE.cpio OUT.cpio TEST..."
igt=$1 base=$2 out=$3
shift 3
[ -n "$igt" ] || die "no IGT given (run 'make igt', which fetches it, or give IGT_DIR)"
if [ -d "$igt/usr/libexec/igt-gpu-tools" ]; then
	root=$igt
	tests=$root/usr/libexec/igt-gpu-tools
	version=$(cat "$root/.stamp" 2>/dev/null || echo "IGT from $root")
elif [ -d "$igt/tests" ]; then
	root=
	tests=$igt/tests
	version="IGT $(awk -F"'" '/^[[:space:]]*version *:/ { print $2; exit }' "$igt/../meson.build" \
		2>/dev/null || true) built in $igt"
else
	die "$igt is neither a root filled by igt-fetch.sh (usr/libexec/igt-gpu-tools) nor an IGT meson build directory (tests/)"
fi
[ -f "$base" ] || die "$base not found"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/igt" "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
progs=()
for t in "$@"; do
	if [ -x "$tests/$t" ]; then
		progs+=("$tests/$t")
		cp "$tests/$t" "$stage/igt/"
	else
		echo "igt-initramfs: $t not in $tests (it will be reported as missing)" >&2
	fi
done
[ ${#progs[@]} -gt 0 ] || die "none of the IGT tests asked for is in $tests"
echo "$version" >"$stage/igt/VERSION"

# list PROG...: the libraries the programs load ("soname => path" lines, ldd's format).
list() {
	if [ -z "$root" ]; then
		# As this machine resolves them (the build directory's run path finds libigt).
		ldd "$@" 2>/dev/null
		return
	fi
	# Inside the root, with its own loader: nothing may come from this machine.
	local p
	for p in "$@"; do
		"$root/usr/lib64/ld-linux-x86-64.so.2" --library-path \
			"$root/usr/lib/x86_64-linux-gnu" \
			--list "$p" 2>&1 || true
	done
}
libs=$(list "${progs[@]}")
missing=$(grep 'not found' <<<"$libs" | sort -u || true)
[ -z "$missing" ] || die "libraries the IGT programs need are missing: $missing"
paths=$(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' <<<"$libs" | sort -u)
if [ -n "$root" ]; then
	outside=$(grep -v "^$root/" <<<"$paths" || true)
	[ -z "$outside" ] || die "libraries resolved outside $root: $outside"
fi
while read -r lib; do
	case "$lib" in
	*/ld-linux-x86-64.so.2) cp -L "$lib" "$stage/lib64/ld-linux-x86-64.so.2" ;;
	*) cp -L "$lib" "$stage/lib/x86_64-linux-gnu/" ;;
	esac
done <<<"$paths"
[ -f "$stage/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader found for the IGT programs"

(cd "$stage" && find . -mindepth 1 | sort | cpio -o -H newc --quiet -R 0:0) >"$out.igt"
cat "$base" "$out.igt" >"$out"
rm -f "$out.igt"
echo "igt-initramfs: $version: ${#progs[@]} IGT tests and $(ls "$stage/lib/x86_64-linux-gnu" | wc -l) libraries added, $out"
