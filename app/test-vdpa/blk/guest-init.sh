#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# /init of the blk suite's guest (the migration suite's image, this
# script as /init): load virtio_blk, write a pattern over the whole of
# /dev/vda with O_DIRECT, flush, drop the page cache, read it back with
# O_DIRECT and compare every byte. With blk_jobs=<n> (n CPUs, a device
# of n queues) the disk is cut in n slices, each written and read by a
# dd pinned to its own CPU (virtio_blk maps CPU i to queue i). Results go
# to the serial console as "BLK-GUEST: ..." lines; the host checks them.

export PATH=/usr/bin:/usr/sbin:/bin:/sbin
/usr/bin/busybox --install -s /usr/bin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

say() {
	echo "BLK-GUEST: $*"
}

for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci virtio_blk; do
	insmod "/modules/$m.ko" || say "insmod $m failed"
done

jobs=$(sed -n 's/.*blk_jobs=\([0-9]*\).*/\1/p' /proc/cmdline)
jobs=${jobs:-1}
n=0
while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
if [ ! -b /dev/vda ]; then
	say "no /dev/vda"
	exec sleep 3600
fi
sectors=$(cat /sys/block/vda/size)
say "vda $sectors sectors, ro $(cat /sys/block/vda/ro)," \
    "hw queues $(find /sys/block/vda/mq -mindepth 1 -maxdepth 1 | wc -l)," \
    "virtio features $(cat /sys/block/vda/device/features)"

# The pattern: every 512-byte sector holds its own number and a seed,
# so a sector read from the wrong place, or stale, differs.
kib=$((sectors / 2))
awk -v n="$sectors" 'BEGIN {
	for (s = 0; s < n; s++) {
		line = sprintf("sector %010d seed 5eed ", s)
		while (length(line) < 511)
			line = line "abcdefghijklmnopqrstuvwxyz0123456789"
		printf "%s\n", substr(line, 1, 511)
	}
}' >/tmp/pattern
say "pattern $(md5sum </tmp/pattern | cut -d' ' -f1)" \
    "$(wc -c </tmp/pattern) bytes"

# Slice j of the disk, in 64 KiB blocks, on CPU j: "w" or "r".
slice() {
	blocks=$((kib / 64 / jobs))
	if [ "$2" = w ]; then
		taskset -c "$1" dd if=/tmp/pattern of=/dev/vda bs=64k \
			skip=$(($1 * blocks)) seek=$(($1 * blocks)) \
			count=$blocks oflag=direct conv=notrunc 2>/dev/null
	else
		taskset -c "$1" dd if=/dev/vda of=/tmp/back."$1" bs=64k \
			skip=$(($1 * blocks)) count=$blocks iflag=direct \
			2>/dev/null
	fi
}

run_slices() {
	j=0
	while [ $j -lt "$jobs" ]; do
		slice $j "$1" &
		j=$((j + 1))
	done
	wait
}

run_slices w
sync
blockdev --flushbufs /dev/vda 2>/dev/null
echo 3 >/proc/sys/vm/drop_caches
say "written"
run_slices r
j=0
: >/tmp/back
while [ $j -lt "$jobs" ]; do
	cat /tmp/back.$j >>/tmp/back
	j=$((j + 1))
done
say "read back $(md5sum </tmp/back | cut -d' ' -f1) $(wc -c </tmp/back) bytes"
if cmp /tmp/pattern /tmp/back; then
	say "compare ok"
else
	say "compare FAILED"
fi
sed 's/^/BLK-GUEST: stat /' /sys/block/vda/stat
exec sleep 3600
