# SPDX-License-Identifier: GPL-2.0
#
# Sourced by igt-fetch.sh and clients-fetch.sh, which fill a root file system for the x86_64
# guest with Debian packages that tools/apt-private.sh downloaded. Needs the sourcing
# script's die().

# unpack_newest ARCHIVES DEST: unpacks every package in ARCHIVES (.deb files) into DEST,
# the newest version of each (the cache may hold older ones).
unpack_newest() {
	local archives=$1 dest=$2 deb name newest
	for deb in "$archives"/*.deb; do
		name=$(basename "$deb")
		newest=$(ls -t "$archives/${name%%_*}"_*.deb | head -n1)
		[ "$deb" = "$newest" ] || continue
		dpkg-deb -x "$deb" "$dest" || die "cannot unpack $deb"
	done
}
