#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure a kernel build directory: allnoconfig with our fragments as
# KCONFIG_ALLCONFIG, then a check that every option the fragments ask for
# made it into .config (Kconfig silently drops options whose dependencies
# are not met, which otherwise surfaces much later as a missing feature).
#
# usage: kconfig.sh TREE BUILDDIR ARCH FRAGMENT...
set -euo pipefail

die() { echo "kconfig: error: $*" >&2; exit 1; }

[ $# -ge 4 ] || die "usage: $0 TREE BUILDDIR ARCH FRAGMENT..."
tree=$1 build=$2 arch=$3
shift 3

mkdir -p "$build"
merged=$build/rbochs-fragments.config
cat "$@" >"$merged.new"
if cmp -s "$merged.new" "$merged" && [ -f "$build/.config" ]; then
	rm "$merged.new"
	exit 0
fi
mv "$merged.new" "$merged"

echo "kconfig: configuring $build ($arch) from $*"
make -s -C "$tree" O="$build" ARCH="$arch" LLVM="${LLVM:--19}" \
	KCONFIG_ALLCONFIG="$merged" allnoconfig >"$build/kconfig.log" 2>&1 ||
	{ cat "$build/kconfig.log" >&2; die "allnoconfig failed"; }

missing=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) ;;
	*) continue ;;
	esac
	opt=${line%%=*} val=${line#*=}
	got=$(grep -E "^$opt=" "$build/.config" | cut -d= -f2- || true)
	if [ "$got" != "$val" ]; then
		echo "kconfig: $opt=$val was asked for, .config has '${got:-not set}'" >&2
		missing=1
	fi
done <"$merged"
if [ "$missing" = 1 ]; then
	rm -f "$merged"
	die "options above were dropped (unmet dependencies?); see 'make O=$build ARCH=$arch menuconfig'"
fi
