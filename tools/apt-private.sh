#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Download Debian packages with a private apt configuration, leaving the
# machine's own apt sources alone.  The mirror URI is taken from the
# machine's configuration, so no registry host is named here.
#
# usage: apt-private.sh download DIR SUITE ARCH PACKAGE...
#        apt-private.sh download-deps DIR SUITE ARCH PACKAGE...
#        apt-private.sh install DIR SUITE PACKAGE...
#   download  fetch .deb files of ARCH from SUITE into DIR (nothing installed)
#   download-deps  the same, with every package they depend on, recursively
#             (what installing them on an empty system would take), into
#             DIR/archives
#   install   install PACKAGEs on this machine from SUITE (e.g. the release's
#             -backports), using the machine's own suites for dependencies
#   DIR       private apt state (lists, cache, sources)
set -euo pipefail

die() { echo "apt-private: error: $*" >&2; exit 1; }

usage="usage: $0 download|download-deps DIR SUITE ARCH PACKAGE... | install DIR SUITE PACKAGE..."
verb=${1:-}
case "$verb" in
download | download-deps) [ $# -ge 5 ] || die "$usage"; dir=$2 suite=$3 arch=$4; shift 4 ;;
install) [ $# -ge 4 ] || die "$usage"; dir=$2 suite=$3 arch=$(dpkg --print-architecture); shift 3 ;;
*) die "$usage" ;;
esac

command -v apt-get >/dev/null || die "apt-get not found (a Debian-based host is required)"

mirror_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk '/^URIs:/ { print $2; exit }' "$f")
		case "$uri" in
		*security*) ;;
		?*) echo "$uri"; return 0 ;;
		esac
	done
	if [ -r /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit }
		}' /etc/apt/sources.list)
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	fi
	return 1
}

uri=${APT_MIRROR:-$(mirror_uri)} || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list (set APT_MIRROR)"

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing (install debian-archive-keyring)"

mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/etc/preferences.d" "$dir/etc/apt.conf.d"
cat > "$dir/etc/private.sources" <<EOS
Types: deb
URIs: $uri
Suites: $suite
Components: main
Architectures: $arch
Signed-By: $keyring
EOS

opts=(
	-o "Dir::Etc::SourceList=$dir/etc/private.sources"
	-o "Dir::State::Lists=$dir/lists"
	-o "APT::Sandbox::User=root"
)
if [ "$verb" != install ]; then
	# A private world: no machine sources, no installed packages.
	: >"$dir/status"
	opts+=(
		-o "Dir::Etc::SourceParts=-"
		-o "Dir::Etc::Parts=$dir/etc/apt.conf.d"
		-o "Dir::Etc::Preferences=$dir/etc/preferences"
		-o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
		-o "Dir::State::status=$dir/status"
		-o "Dir::Cache=$dir/cache"
		-o "APT::Architecture=$arch"
		-o "APT::Architectures=$arch"
		-o "Debug::NoLocking=1"
	)
fi

# Refresh the index at most once a day.
stamp=$dir/lists/.updated
if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
	echo "apt-private: updating $suite/$arch index from $uri"
	apt-get -q "${opts[@]}" update >"$dir/update.log" 2>&1 ||
		{ cat "$dir/update.log" >&2; die "apt-get update for $suite/$arch failed"; }
	touch "$stamp"
fi

if [ "$verb" = install ]; then
	echo "apt-private: installing $* from $suite"
	DEBIAN_FRONTEND=noninteractive apt-get -q -y "${opts[@]}" \
		install --no-install-recommends -t "$suite" "$@" ||
		die "could not install $* from $suite"
	exit 0
fi

cd "$dir"
if [ "$verb" = download-deps ]; then
	# The private status is empty, so apt fetches the whole dependency closure.
	echo "apt-private: downloading $* with their dependencies ($suite/$arch)"
	apt-get -q -y "${opts[@]}" -o "Dir::Cache::archives=$dir/archives" \
		install --download-only --no-install-recommends "$@" >"$dir/download.log" 2>&1 ||
		{ tail -n 20 "$dir/download.log" >&2; die "could not download $* from $suite/$arch"; }
	exit 0
fi
for pkg in "$@"; do
	echo "apt-private: downloading $pkg ($suite/$arch)"
	apt-get -q "${opts[@]}" download "$pkg" ||
		die "could not download $pkg from $suite/$arch"
done
