#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch the real display clients of `vmtest clients` for the x86_64 guest: Debian's
# xserver-xorg-core (Xorg with its built-in modesetting driver), x11-xserver-utils (xsetroot
# paints the root window, xrefresh a rectangle of it) and weston (the compositor, its kiosk
# shell and weston-simple-shm), with every package they depend on, through the private apt
# configuration of tools/apt-private.sh, each unpacked into DEST as a root file system, as
# igt-fetch.sh does for IGT. Nothing is installed on this machine. tools/clients-initramfs.sh
# takes from DEST only what the guest runs. Idempotent: DEST/.stamp (which holds the
# versions) marks a finished fetch.
#
# usage: clients-fetch.sh DEST [SUITE]
#   DEST   the root to fill (replaced when it has no stamp)
#   SUITE  the Debian suite to take the clients from (default forky, as IGT)
set -euo pipefail

die() { echo "clients-fetch: error: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 DEST [SUITE]"
dest=$1 suite=${2:-forky}
[ -f "$dest/.stamp" ] && exit 0

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/deb-root.sh
. "$here/deb-root.sh"
apt=$(dirname "$dest")/apt-$suite-amd64
pkgs=(xserver-xorg-core x11-xserver-utils weston)
t0=$(date +%s)
"$here/apt-private.sh" download-deps "$apt" "$suite" amd64 "${pkgs[@]}"
debs=("$apt"/archives/*.deb)
[ -e "${debs[0]}" ] || die "no packages downloaded into $apt/archives"
versions=
for p in "${pkgs[@]}"; do
	deb=$(ls -t "$apt/archives/${p}"_*.deb 2>/dev/null | head -n1)
	[ -n "$deb" ] || die "$p was not downloaded from $suite"
	versions+="$p $(dpkg-deb -f "$deb" Version), "
done
versions=${versions%, }

echo "clients-fetch: unpacking ${#debs[@]} packages ($versions) into $dest"
rm -rf "$dest" "$dest.new"
mkdir -p "$dest.new"
unpack_newest "$apt/archives" "$dest.new"
for f in usr/lib/xorg/Xorg usr/lib/xorg/modules/drivers/modesetting_drv.so usr/bin/xsetroot usr/bin/xrefresh \
	usr/bin/weston usr/bin/weston-simple-shm; do
	[ -e "$dest.new/$f" ] || die "the packages from $suite have no $f"
done
echo "$versions from $suite" >"$dest.new/.stamp"
mv "$dest.new" "$dest"
echo "clients-fetch: clients ready in $dest ($(($(date +%s) - t0)) s)"
