#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# /init of the migration suite's guest: load virtio-net, bring the
# interface up (no address: the checker speaks on a packet socket) and run
# guest_ping against the echo responder, whose MAC is on the kernel command
# line (mig_peer=<mac>). Its counters go to the serial console; the host
# decides when the run ends.

export PATH=/usr/bin:/usr/sbin:/bin:/sbin
/usr/bin/busybox --install -s /usr/bin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

say() {
	echo "MIG-GUEST: $*"
}

for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci failover net_failover virtio_net; do
	insmod "/modules/$m.ko" || say "insmod $m failed"
done

peer=$(sed -n 's/.*mig_peer=\([0-9a-fA-F:]*\).*/\1/p' /proc/cmdline)
window=$(sed -n 's/.*mig_window=\([0-9]*\).*/\1/p' /proc/cmdline)
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6

n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
if ip link set eth0 up; then
	say "eth0 up, $(cat /sys/class/net/eth0/address), peer $peer"
	/guest_ping eth0 "$peer" "${window:-32}" 250 2000
	say "guest_ping exited with $?"
else
	say "no eth0"
fi
while :; do
	sleep 3600
done
