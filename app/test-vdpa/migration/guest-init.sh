#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# /init of the migration suite's guest: load virtio-net, bring the
# interface up and run guest_ping (it speaks on a packet socket) against
# the echo responder, whose MAC is on the kernel command line
# (mig_peer=<mac>). Its counters go to the serial console; the host decides
# when the run ends. The interface has guest_ping's source address,
# 10.0.0.2, so that the guest announces itself after a migration (a
# gratuitous ARP when the device asks, VIRTIO_NET_F_GUEST_ANNOUNCE); the
# features the guest's driver acked are reported (virtio bit string, bit 0
# first).
#
# mig_pairs=<n> (n > 1, a multi-queue device and n CPUs): one guest_ping
# per queue pair, instance i pinned to CPU i, whose TX queue is i (XPS).
#
# mig_reload=<count> (one pair): guest_ping stops after <count> replies
# with none in flight, then virtio_net is unloaded (the device is reset:
# QEMU stops every vring) and loaded again, and eth0 comes up and is
# checked as before. Every start of the checkers is a phase, marked by
# "MIG-GUEST: eth0 up"; a reset guest (system_reset) boots into a phase
# of its own the same way, and the host counts them.

# shellcheck disable=SC2034 # said by say() of the prologue
GUEST_TAG=MIG-GUEST
# shellcheck source=SCRIPTDIR/../lib/guest-prologue.sh
. /prologue.sh
guest_modules virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci failover net_failover virtio_net

peer=$(sed -n 's/.*mig_peer=\([0-9a-fA-F:]*\).*/\1/p' /proc/cmdline)
window=$(sed -n 's/.*mig_window=\([0-9]*\).*/\1/p' /proc/cmdline)
pairs=$(sed -n 's/.*mig_pairs=\([0-9]*\).*/\1/p' /proc/cmdline)
reload=$(sed -n 's/.*mig_reload=\([0-9]*\).*/\1/p' /proc/cmdline)
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6

# Wait for eth0, bring it up and run the checkers (with a count: until
# they are done).
phase() {
	n=0
	while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if ! ip link set eth0 up; then
		say "no eth0"
		return 1
	fi
	ip addr add 10.0.0.2/24 dev eth0 2>/dev/null || say "no address on eth0"
	say "eth0 up, $(cat /sys/class/net/eth0/address), peer $peer"
	say "virtio features $(cat /sys/class/net/eth0/device/features)"
	if [ "${pairs:-1}" -gt 1 ]; then
		q=/sys/class/net/eth0/queues
		xps=""
		for t in "$q"/tx-*; do
			xps="$xps ${t##*/}=$(cat "$t/xps_cpus")"
		done
		say "queues rx $(ls -d "$q"/rx-* | wc -l)" \
		    "tx $(ls -d "$q"/tx-* | wc -l), cpus $(nproc), xps$xps"
		i=0
		while [ $i -lt "$pairs" ]; do
			taskset -c $i /guest_ping eth0 "$peer" "${window:-32}" \
				250 2000 $i "$pairs" &
			i=$((i + 1))
		done
		wait
	else
		/guest_ping eth0 "$peer" "${window:-32}" 250 2000 0 0 "${1:-0}"
	fi
	say "guest_ping exited with $?"
}

if [ -n "$reload" ]; then
	phase "$reload"
	say "reload virtio_net"
	rmmod virtio_net || say "rmmod virtio_net failed"
	guest_modules virtio_net
fi
phase
while :; do
	sleep 3600
done
