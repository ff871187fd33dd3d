#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# Build the migration suite's guest: Debian's kernel and virtio-net and
# virtio-blk modules (../guest-kernel.sh) and an initramfs of busybox, the
# modules, <guest-init> as /init (the blk suite gives its own) with the
# prologue it sources (../guest-prologue.sh) and the static traffic
# checker guest_ping.
# The image is cached in <cache> under a key of all its inputs.
#
# usage: build-image.sh <cache> <guest-init> <guest_ping>
# prints: <kernel> <initramfs>
set -eu

cache=$1
init=$2
ping=$3

modules="drivers/virtio/virtio_ring drivers/virtio/virtio
drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev
drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
drivers/net/virtio_net drivers/block/virtio_blk"

die() {
	echo "build-image: $*" >&2
	exit 1
}

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

kdir=$cache/kernel
fetch=$(dirname "$0")/../guest-kernel.sh
# shellcheck disable=SC2086 # a list of modules
kernel=$(sh "$fetch" "$kdir" $modules) || die "no guest kernel"
vmlinuz=${kernel% *}
kver=${kernel##* }

busybox=$(command -v busybox) || die "busybox not found"
# The initramfs has no libc: busybox-static's busybox.
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is not static (install busybox-static)"
fi

prologue=$(dirname "$0")/../guest-prologue.sh
key=$(cat "$kdir/.done" "$0" "$fetch" "$prologue" "$init" "$ping" "$busybox" |
	sha256sum | cut -c1-16)
image=$cache/initramfs-$key.cpio
if [ -f "$image" ]; then
	echo "$vmlinuz $image"
	exit 0
fi

root=$cache/root.tmp
rm -rf "$root"
mkdir -p "$root"/usr/bin "$root"/modules "$root"/dev "$root"/proc \
	"$root"/sys "$root"/tmp
for d in bin sbin; do
	ln -s usr/bin "$root/$d"
done
ln -s bin "$root/usr/sbin"
cp "$busybox" "$root/usr/bin/busybox"
ln -s busybox "$root/usr/bin/sh"
cp "$prologue" "$root/prologue.sh"
cp "$init" "$root/init"
chmod 755 "$root/init"
cp "$ping" "$root/guest_ping"
for m in $modules; do
	cp "$kdir/lib/modules/$kver/kernel/$m.ko" "$root/modules/" ||
		die "module $m missing from $kver"
done
(cd "$root" && find . | cpio -o -H newc --quiet) >"$image.tmp" ||
	die "cpio failed"
mv "$image.tmp" "$image"
rm -rf "$root"
for f in "$cache"/initramfs-*.cpio; do
	[ "$f" = "$image" ] || rm -f "$f"
done
echo "$vmlinuz $image"
