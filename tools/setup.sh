#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing rbochs needs, and say what it installs.
# Idempotent: what is present is left alone.
#
# usage: setup.sh [--check]
#   --check  install nothing; report the first missing piece and fail
set -euo pipefail

CACHE=${CACHE:-$HOME/.cache/rbochs}
BINDGEN_VERSION=0.72.1
check_only=0
[ "${1:-}" = --check ] && check_only=1

die() { echo "setup: error: $*" >&2; exit 1; }
say() { echo "setup: $*"; }

# command:package pairs; the command proves the package is there.
TOOLS="clang-19:clang-19 ld.lld-19:lld-19 llvm-ar-19:llvm-19 flex:flex bison:bison bc:bc
cpio:cpio xz:xz-utils rsync:rsync depmod:kmod patch:patch make:make
qemu-system-aarch64:qemu-system-arm qemu-system-x86_64:qemu-system-x86"
# Files that stand for library packages (the font is for the plot of `make bench`).
LIBS="/usr/lib/llvm-19/lib/libclang.so:libclang-19-dev /usr/include/openssl/ssl.h:libssl-dev
/usr/include/libelf.h:libelf-dev /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core"

missing_pkgs() {
	local t
	for t in $TOOLS; do
		command -v "${t%%:*}" >/dev/null 2>&1 || echo "${t#*:}"
	done
	for t in $LIBS; do
		[ -e "${t%%:*}" ] || echo "${t#*:}"
	done
}

pkgs=$(missing_pkgs | sort -u | tr '\n' ' ')
if [ -n "$pkgs" ]; then
	[ "$check_only" = 1 ] && die "missing: ${pkgs% } (run 'make setup')"
	[ "$(id -u)" = 0 ] || die "missing Debian packages: $pkgs; run 'make setup' as root or install them"
	say "installing Debian packages: $pkgs"
	apt-get -q update >/dev/null
	# QEMU may clash with a newer qemu-utils from backports already on the
	# machine; then take QEMU from the same backports suite.
	rest=$(echo "$pkgs" | tr ' ' '\n' | grep -v '^qemu-' | tr '\n' ' ' || true)
	qemu=$(echo "$pkgs" | tr ' ' '\n' | grep '^qemu-' | tr '\n' ' ' || true)
	if [ -n "${rest// /}" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends $rest ||
			die "apt-get install $rest failed"
	fi
	if [ -n "${qemu// /}" ]; then
		if ! DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends $qemu; then
			codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
			say "retrying QEMU from $codename-backports"
			"$(dirname "$0")/apt-private.sh" install "$CACHE/apt-host-backports" \
				"$codename-backports" $qemu
		fi
	fi
	left=$(missing_pkgs | tr '\n' ' ')
	[ -z "${left// /}" ] || die "still missing after install: $left"
fi

command -v rustup >/dev/null || die "missing: rustup (install Rust with rustup first)"
comps=$(rustup component list --installed 2>/dev/null)
for c in rust-src rustfmt clippy; do
	if ! grep -q "^$c" <<<"$comps"; then
		[ "$check_only" = 1 ] && die "missing: rustup component $c (run 'make setup')"
		say "rustup component add $c"
		rustup component add "$c" >/dev/null
	fi
done
targets=$(rustup target list --installed 2>/dev/null)
for t in aarch64-unknown-linux-musl x86_64-unknown-linux-musl; do
	if ! grep -qx "$t" <<<"$targets"; then
		[ "$check_only" = 1 ] && die "missing: rustup target $t (run 'make setup')"
		say "rustup target add $t"
		rustup target add "$t" >/dev/null
	fi
done
if ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	[ "$check_only" = 1 ] && die "missing: bindgen-cli $BINDGEN_VERSION (run 'make setup')"
	say "cargo install bindgen-cli $BINDGEN_VERSION (takes a few minutes)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli failed"
fi
exit 0
