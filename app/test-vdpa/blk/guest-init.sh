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
#
# With blk_rounds=1 (the live-migration tests) it then goes on in rounds
# until the host ends it: round r checks that the disk holds the last
# round's pattern, writes the whole disk with a pattern of its own seed,
# reads it back and compares digests: "BLK-GUEST: round r seed <seed>
# <pattern digest> before ok|FAILED after ok|FAILED". A migration lands
# in the middle of a round: what the source wrote, the destination reads
# back.

# shellcheck disable=SC2034 # said by say() of the prologue
GUEST_TAG=BLK-GUEST
# shellcheck source=SCRIPTDIR/../lib/guest-prologue.sh
. /prologue.sh
guest_modules virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci virtio_blk

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

# The pattern of seed $1 (4 characters): every 512-byte sector holds its
# own number and the seed, so a sector read from the wrong place, or
# stale, differs.
kib=$((sectors / 2))
make_pattern() {
	awk -v n="$sectors" -v seed="$1" 'BEGIN {
		for (s = 0; s < n; s++) {
			line = sprintf("sector %010d seed %s ", s, seed)
			while (length(line) < 511)
				line = line "abcdefghijklmnopqrstuvwxyz0123456789"
			printf "%s\n", substr(line, 1, 511)
		}
	}'
}
pat=/tmp/pattern	# the pattern written last
make_pattern 5eed >"$pat"
say "pattern $(md5sum </tmp/pattern | cut -d' ' -f1)" \
    "$(wc -c </tmp/pattern) bytes"

# Slice j of the disk, in 64 KiB blocks, on CPU j: "w" or "r".
slice() {
	blocks=$((kib / 64 / jobs))
	if [ "$2" = w ]; then
		taskset -c "$1" dd if="$pat" of=/dev/vda bs=64k \
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

# Write /tmp/pattern over the disk, flush, read it back into /tmp/back.
write_read() {
	run_slices w
	sync
	blockdev --flushbufs /dev/vda 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	run_slices r
	j=0
	: >/tmp/back
	while [ $j -lt "$jobs" ]; do
		cat /tmp/back.$j >>/tmp/back
		j=$((j + 1))
	done
}

verdict() {
	if cmp -s /tmp/pattern /tmp/back; then
		echo ok
	else
		echo FAILED
	fi
}

write_read
say "written"
say "read back $(md5sum </tmp/back | cut -d' ' -f1) $(wc -c </tmp/back) bytes"
say "compare $(verdict)"
sed 's/^/BLK-GUEST: stat /' /sys/block/vda/stat

# A round allocates and frees as little guest memory as it can (QEMU 7.2
# under TCG loses guest CPU writes now and then in a migration, and the
# page allocator's own structures are where a loss crashes the guest):
# the pattern is rewritten in place, slices are read back into digests,
# no cache is dropped (O_DIRECT bypasses it).
slice_md5() {
	blocks=$((kib / 64 / jobs))
	taskset -c "$1" dd if="$2" bs=64k skip=$(($1 * blocks)) \
		count=$blocks $3 2>/dev/null | md5sum | cut -d' ' -f1
}

round_verdict() {
	j=0
	v=ok
	while [ $j -lt "$jobs" ]; do
		[ "$(slice_md5 $j /dev/vda iflag=direct)" = \
		  "$(slice_md5 $j "$pat")" ] || v=FAILED
		j=$((j + 1))
	done
	echo $v
}

if grep -q 'blk_rounds=1' /proc/cmdline; then
	# The next pattern is made first, so the check of the last one
	# comes right before the writes: wherever the switch-over lands,
	# the destination reads some of what the source wrote last.
	r=1
	next=/tmp/pattern.next
	while :; do
		seed=$(printf 'r%03d' $((r % 1000)))
		make_pattern "$seed" | dd of="$next" bs=64k \
			iflag=fullblock conv=notrunc 2>/dev/null
		before=$(round_verdict)
		last=$pat
		pat=$next
		next=$last
		run_slices w
		say "round $r seed $seed $(md5sum <"$pat" | cut -d' ' -f1)" \
		    "before $before after $(round_verdict)"
		r=$((r + 1))
	done
fi
exec sleep 3600
