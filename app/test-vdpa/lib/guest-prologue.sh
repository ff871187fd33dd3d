# shellcheck shell=sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# The start of every QEMU guest's /init (the migration, blk and nested
# suites), sourced as /prologue.sh: busybox's applets on PATH, /proc, /sys
# and /dev mounted, say() printing its arguments to the serial console
# after the suite's tag ($GUEST_TAG), and guest_modules <module>...,
# which loads each of /modules and says which did not load (false then).

export PATH=/usr/bin:/usr/sbin:/bin:/sbin
/usr/bin/busybox --install -s /usr/bin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

say() {
	echo "$GUEST_TAG: $*"
}

guest_modules() {
	gm_ok=0
	for m in "$@"; do
		insmod "/modules/$m.ko" || { say "insmod $m failed"; gm_ok=1; }
	done
	return $gm_ok
}
