#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch IGT GPU Tools' test programs for the x86_64 guest: Debian's igt-gpu-tools-tests
# (IGT 2.5 in forky and sid; bookworm's and trixie's intel-gpu-tools ship no tests) with
# every package it depends on, through a private apt configuration (tools/apt-private.sh),
# each unpacked into DEST as a root file system: the tests in
# DEST/usr/libexec/igt-gpu-tools, the libraries they load from the same Debian release
# beside them. Nothing is installed on this machine. Idempotent: DEST/.stamp (which holds
# the version) marks a finished fetch.
#
# usage: igt-fetch.sh DEST [SUITE]
#   DEST   the root to fill (replaced when it has no stamp)
#   SUITE  the Debian suite to take IGT from (default forky)
set -euo pipefail

die() { echo "igt-fetch: error: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 DEST [SUITE]"
dest=$1 suite=${2:-forky}
[ -f "$dest/.stamp" ] && exit 0

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/deb-root.sh
. "$here/deb-root.sh"
apt=$(dirname "$dest")/apt-$suite-amd64
t0=$(date +%s)
"$here/apt-private.sh" download-deps "$apt" "$suite" amd64 igt-gpu-tools-tests
debs=("$apt"/archives/*.deb)
[ -e "${debs[0]}" ] || die "no packages downloaded into $apt/archives"
tests=$(ls -t "$apt"/archives/igt-gpu-tools-tests_*.deb 2>/dev/null | head -n1)
[ -n "$tests" ] || die "igt-gpu-tools-tests was not downloaded from $suite"
version=$(dpkg-deb -f "$tests" Version)

echo "igt-fetch: unpacking igt-gpu-tools-tests $version and ${#debs[@]} packages into $dest"
rm -rf "$dest" "$dest.new"
mkdir -p "$dest.new"
unpack_newest "$apt/archives" "$dest.new"
[ -x "$dest.new/usr/libexec/igt-gpu-tools/core_getversion" ] ||
	die "igt-gpu-tools-tests $version has no usr/libexec/igt-gpu-tools/core_getversion"
echo "igt-gpu-tools-tests $version from $suite" >"$dest.new/.stamp"
mv "$dest.new" "$dest"
echo "igt-fetch: IGT $version ready in $dest ($(($(date +%s) - t0)) s)"
