#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# Fetch the test guests' kernel: the package Debian's linux-image-amd64
# depends on, downloaded with `apt-get download` and unpacked in <kdir>
# (never installed on this host), with only the modules the caller names
# (the whole module tree would take 400 MB). Done once per <kdir> and
# module list; <kdir>/.done then names the package and the list.
# Shared by the nested and migration suites' build-image.sh.
#
# usage: guest-kernel.sh <kdir> <module path below kernel/, no .ko>...
# prints: <vmlinuz> <kernel version>
set -eu

mkdir -p "$1"
kdir=$(cd "$1" && pwd)
shift
mods="$*"

die() {
	echo "guest-kernel: $*" >&2
	exit 1
}

kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -n 1
}

want="modules: $mods"
if [ ! -f "$kdir/.done" ] || [ "$(sed -n 2p "$kdir/.done")" != "$want" ]; then
	pkg=$(kernel_pkg)
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(kernel_pkg)
	fi
	[ -n "$pkg" ] || die "apt cannot resolve linux-image-amd64"
	rm -rf "${kdir:?}"/boot "${kdir:?}"/lib "$kdir"/.done "$kdir"/*.deb
	# Stale package lists name a version the archive no longer serves.
	if ! (cd "$kdir" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(kernel_pkg)
		(cd "$kdir" && apt-get download -qq "$pkg" >/dev/null 2>&1) ||
			die "apt-get download $pkg failed"
	fi
	deb=$(ls "$kdir"/linux-image-*.deb | head -n 1)
	set -- './boot/vmlinuz-*'
	for m in $mods; do
		set -- "$@" "*/kernel/$m.ko"
	done
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir" --wildcards "$@" ||
		die "cannot unpack $deb"
	rm -f "$deb"
	printf '%s\n%s\n' "$pkg" "$want" >"$kdir/.done"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)
kver=${vmlinuz##*/vmlinuz-}
for m in $mods; do
	[ -f "$kdir/lib/modules/$kver/kernel/$m.ko" ] ||
		die "module $m missing from $kver"
done
echo "$vmlinuz $kver"
