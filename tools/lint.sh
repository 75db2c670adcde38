#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own checks, over what this repository adds to the tree:
#   rustfmt       make rustfmtcheck (the kernel's rustfmt settings)
#   clippy        the Rust code we add, built with CLIPPY=1: no warning may point into it
#   rustdoc       make rustdoc: no warning may point into our files
#   checkpatch    scripts/checkpatch.pl on our C, Kconfig and Makefiles
#   unsafe        drivers and samples are safe code: `unsafe` only in rust/kernel/
# Each check prints one PASS/FAIL line (the format `vmtest summary` adds up).
#
# usage: lint.sh REPO TREE BUILDDIR
set -uo pipefail

repo=$(realpath "$1") tree=$2 build=$3
kmake() { make -s -C "$tree" O="$build" ARCH=arm64 LLVM=-19 -j"$(nproc)" "$@"; }

pass() { echo "PASS lint.$1"; }
fail() {
	echo "FAIL lint.$1: $2"
	[ -n "${3:-}" ] && sed 's/^/    | /' <<<"$3" | head -40
}

cd "$repo"
# Our Rust and C files, as paths inside the kernel tree.
mapfile -t ours < <(git ls-files 'drivers/*.rs' 'rust/*.rs' 'samples/*.rs' 'rust/*.c')

# Warnings (clippy, rustdoc) whose location is one of our files.
our_warnings() {
	local log=$1 f hits=""
	for f in "${ours[@]}"; do
		hits+=$(grep -n -B4 -A8 -- "--> .*$f:" "$log" 2>/dev/null)
	done
	printf '%s' "$hits"
}

# rustfmt, with the kernel's configuration.
if out=$(kmake rustfmtcheck 2>&1); then
	pass rustfmt
else
	fail rustfmt "make rustfmtcheck reports differences" "$out"
fi

# clippy: build the Rust parts with CLIPPY=1.
log=$build/clippy.log
if kmake CLIPPY=1 prepare >"$log" 2>&1 &&
	kmake CLIPPY=1 rust/ drivers/gpu/drm/rbochs/ samples/rust/ >>"$log" 2>&1; then
	w=$(our_warnings "$log")
	if [ -z "$w" ]; then pass clippy; else fail clippy "warnings in our code ($log)" "$w"; fi
else
	fail clippy "build failed ($log)" "$(grep -E -A8 '^error' "$log" | head -40)"
fi

# rustdoc.
log=$build/rustdoc.log
if kmake rustdoc >"$log" 2>&1; then
	w=$(our_warnings "$log")
	if [ -z "$w" ]; then pass rustdoc; else fail rustdoc "warnings in our docs ($log)" "$w"; fi
else
	fail rustdoc "make rustdoc failed ($log)" "$(grep -E -A8 '^error' "$log" | head -40)"
fi

# checkpatch, run from the kernel tree as kernel developers do, on our files that checkpatch
# knows how to read (their copies in the tree are identical). The patches themselves are
# checked as the series that `make series` writes (series.checkpatch in make check): the
# files in patches/ carry no Signed-off-by, which is the sender's to add.
bad=""
mapfile -t files < <(git ls-files 'rust/*.c' 'drivers/*/Kconfig' 'drivers/*/Makefile')
for f in "${files[@]}"; do
	out=$(cd "$tree" && perl scripts/checkpatch.pl --no-tree --quiet --strict -f "$f" 2>&1) ||
		bad+="$f:"$'\n'"$out"$'\n'
done
if [ -z "$bad" ]; then pass checkpatch; else fail checkpatch "checkpatch.pl complains" "$bad"; fi

# Safe drivers: no `unsafe` outside the kernel crate.
hits=$(git ls-files 'drivers/*.rs' 'samples/*.rs' | xargs grep -n -w 'unsafe' 2>/dev/null)
if [ -z "$hits" ]; then
	pass unsafe-confined
else
	fail unsafe-confined "unsafe code outside rust/kernel/" "$hits"
fi

# Every unsafe block and unsafe impl in the kernel crate files we add has a SAFETY comment
# on the lines just above it, and every unsafe fn documents its requirements.
bad=""
for f in $(git ls-files 'rust/kernel/*.rs'); do
	bad+=$(awk -v f="$f" '
		/^[[:space:]]*\/\// { if ($0 ~ /SAFETY:/) last = NR; if ($0 ~ /# Safety/) doc = NR; next }
		/unsafe[[:space:]]*\{/ || /unsafe impl/ {
			if (NR - last > 12) printf "%s:%d: unsafe without a SAFETY comment\n", f, NR
		}
		/unsafe (extern "C" )?fn / {
			if (NR - doc > 12) printf "%s:%d: unsafe fn without # Safety\n", f, NR
		}' "$f")
done
if [ -z "$bad" ]; then pass safety-comments; else fail safety-comments "undocumented unsafe" "$bad"; fi
