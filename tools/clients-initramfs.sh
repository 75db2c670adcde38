#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Add the real display clients of `vmtest clients` to a guest initramfs: a second cpio
# archive appended to the first (the kernel unpacks both). ROOT is what
# tools/clients-fetch.sh filled; only the programs the test runs, the modules they load
# (Xorg's modesetting driver and shadow framebuffer, weston's DRM backend and kiosk shell),
# the keyboard data both compile a keymap from, and the shared libraries all of them load
# (resolved inside ROOT by its own dynamic loader, so nothing comes from this machine) are
# taken, each at its own path.
#
# usage: clients-initramfs.sh ROOT BASE.cpio OUT.cpio
set -euo pipefail

die() { echo "clients-initramfs: error: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: $0 ROOT BASE.cpio OUT.cpio"
root=$(cd "$1" 2>/dev/null && pwd) || die "$1 not found"
base=$2 out=$3
[ -f "$root/.stamp" ] || die "$root has no clients (run 'make clients-initramfs', which fetches them)"
[ -f "$base" ] || die "$base not found"

# The programs, and the modules they load at run time.
progs=(
	usr/lib/xorg/Xorg
	usr/bin/xkbcomp
	usr/bin/xsetroot
	usr/bin/xrefresh
	usr/bin/weston
	usr/bin/weston-simple-shm
)
modules=(
	usr/lib/xorg/modules/drivers/modesetting_drv.so
	usr/lib/xorg/modules/libshadow.so
	usr/lib/xorg/modules/libshadowfb.so
	usr/lib/x86_64-linux-gnu/libweston-16/drm-backend.so
	usr/lib/x86_64-linux-gnu/weston/kiosk-shell.so
)
for f in "${progs[@]}" "${modules[@]}"; do
	[ -e "$root/$f" ] || die "$root has no $f"
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# put PATH: ROOT/PATH at the same place in the stage (symbolic links followed).
put() {
	mkdir -p "$stage/$(dirname "$1")"
	cp -L "$root/$1" "$stage/$1"
}
for f in "${progs[@]}" "${modules[@]}"; do
	put "$f"
done
# The keyboard data (a tree of files with links inside it), for xkbcomp and libxkbcommon.
mkdir -p "$stage/usr/share/X11"
cp -a "$root/usr/share/xkeyboard-config-2" "$stage/usr/share/"
cp -a "$root/usr/share/X11/xkb" "$stage/usr/share/X11/"
mkdir -p "$stage/var/lib/xkb" "$stage/var/log" "$stage/tmp/.X11-unix"
cp "$root/.stamp" "$stage/usr/CLIENTS-VERSION"

# The libraries, resolved inside the root with its own loader.
ld=$root/usr/lib64/ld-linux-x86-64.so.2
[ -x "$ld" ] || die "$root has no dynamic loader (usr/lib64/ld-linux-x86-64.so.2)"
libs=$(for f in "${progs[@]}" "${modules[@]}"; do
	"$ld" --library-path "$root/usr/lib/x86_64-linux-gnu" --list "$root/$f" 2>&1 || true
done)
missing=$(grep 'not found' <<<"$libs" | sort -u || true)
[ -z "$missing" ] || die "libraries the clients need are missing: $missing"
paths=$(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' <<<"$libs" | sort -u)
outside=$(grep -v "^$root/" <<<"$paths" || true)
[ -z "$outside" ] || die "libraries resolved outside $root: $outside"
mkdir -p "$stage/lib64"
n=0
while read -r lib; do
	case "$lib" in
	# Where the programs' interpreter path points.
	*/ld-linux-x86-64.so.2) cp -L "$lib" "$stage/lib64/ld-linux-x86-64.so.2" ;;
	# At its own path: some are found through a program's run path (weston's).
	*) put "${lib#"$root"/}"; n=$((n + 1)) ;;
	esac
done <<<"$paths"

(cd "$stage" && find . -mindepth 1 | sort | cpio -o -H newc --quiet -R 0:0) >"$out.clients"
cat "$base" "$out.clients" >"$out"
rm -f "$out.clients"
echo "clients-initramfs: $(cat "$root/.stamp"): ${#progs[@]} programs, ${#modules[@]} modules and $n libraries added, $out ($(($(stat -c %s "$out") / 1048576)) MiB)"
