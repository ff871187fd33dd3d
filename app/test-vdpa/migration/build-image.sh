#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# Build the migration suite's guest (../lib/guest-image.sh): Debian's
# kernel with its virtio-net and virtio-blk modules, an initramfs of
# busybox, the modules, <guest-init> as /init (the blk suite gives its own)
# and the static traffic checker guest_ping.
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

# shellcheck source=SCRIPTDIR/../lib/guest-image.sh
. "$(dirname "$0")/../lib/guest-image.sh"

image_kernel
image_start "$ping" </dev/null
for d in bin sbin; do
	ln -s usr/bin "$root/$d"
done
ln -s bin "$root/usr/sbin"
image_base
cp "$ping" "$root/guest_ping"
image_pack
