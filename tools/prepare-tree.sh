#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel work tree: a hard-linked copy of the pristine Linux
# source, our patches applied in order, and this repository's files laid
# over it at their upstream paths.  Re-running is cheap: the tree is only
# re-created when the pristine source or the patch series changes, and the
# overlay only rewrites files whose contents changed, so kbuild rebuilds
# just what was edited.
#
# usage: prepare-tree.sh REPO PRISTINE TREE
set -euo pipefail

die() { echo "prepare-tree: error: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: $0 REPO PRISTINE TREE"
repo=$(realpath "$1") pristine=$2 tree=$3

[ -f "$pristine/Makefile" ] && [ -d "$pristine/rust/kernel" ] ||
	die "'$pristine' is not a Linux source tree with Rust support (set KSRC=/path/to/linux-7.3)"
pristine=$(realpath "$pristine")
grep -q '^VERSION = 7' "$pristine/Makefile" && grep -q '^PATCHLEVEL = 3' "$pristine/Makefile" ||
	echo "prepare-tree: warning: $pristine is not Linux 7.3; patches may not apply" >&2

series_id() {
	echo "$pristine"
	stat -c '%i %Y' "$pristine/Makefile"
	cat "$repo"/patches/*.patch 2>/dev/null || true
}
want=$(series_id | sha256sum | cut -d' ' -f1)
have=$(cat "$tree/.rbochs-series" 2>/dev/null || true)

if [ "$want" != "$have" ]; then
	echo "prepare-tree: creating $tree from $pristine"
	rm -rf "$tree.new"
	mkdir -p "$(dirname "$tree")"
	cp -al "$pristine" "$tree.new"
	# A KSRC that already carries the series (make series, then git am) keeps its own
	# changes to upstream files; the overlay below brings our files up to date.
	carries=
	if [ -f "$pristine/drivers/gpu/drm/rbochs/Kconfig" ]; then
		echo "prepare-tree: $pristine already carries the series; patches/ not applied"
		carries=1
	fi
	for p in "$repo"/patches/*.patch; do
		[ -z "$carries" ] || break
		[ -e "$p" ] || continue
		# A patch that only adds files (tools/series.py) has no diff to apply here.
		grep -q '^@@ ' "$p" || continue
		echo "prepare-tree: applying $(basename "$p")"
		# patch(1) writes a new file for each one it changes, so the
		# pristine files behind the hard links stay untouched.
		if ! out=$(patch -d "$tree.new" -p1 --forward --batch --fuzz=0 --no-backup-if-mismatch -r - <"$p" 2>&1); then
			echo "$out" >&2
			rm -rf "$tree.new"
			die "patch $(basename "$p") does not apply to $pristine"
		fi
	done
	rm -rf "$tree"
	mv "$tree.new" "$tree"
	echo "$want" >"$tree/.rbochs-series"
fi

# Overlay: compare by content, so untouched files keep their mtime.
for d in drivers rust samples Documentation; do
	[ -d "$repo/$d" ] || continue
	rsync -r --checksum --itemize-changes "$repo/$d/" "$tree/$d/" |
		sed -n 's/^>f[^ ]* /prepare-tree: updated /p'
done
