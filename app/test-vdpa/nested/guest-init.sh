#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# /init of the nested suite's guest. It binds the two virtio-net-pci
# devices to vfio-pci, runs dpdk-vdpa with the driver on both, checks
# traffic through them with two net_virtio_user frontends, host notifiers
# (vu_notifier kicking VF0's page-per-vq doorbells itself, VF1's through
# the relay; then SW live migration of VF0, its notifiers withdrawn; then
# refused) with DPDK's own IFC plugin loaded too, then devargs (vdpa=1 with
# an unknown key refused; class=vdpa with the installed plugin from a
# plugin folder;
# without vdpa=1 net_virtio's, its own devargs too), and prints to the
# serial console:
#   NESTED-TEST <name>: PASS|FAIL [reason]
#   NESTED-RESULT: PASS|FAIL
# followed by the logs, then powers off.
#
# Variables named PID_<name> and FD_<name> are set through eval; the
# unquoted expansions split lists on purpose.
# shellcheck disable=SC2086,SC2154

# shellcheck disable=SC2034 # said by say() of the prologue
GUEST_TAG=nested
# shellcheck source=SCRIPTDIR/../lib/guest-prologue.sh
. /prologue.sh
export LD_LIBRARY_PATH=/opt

COUNT=2000	# frames per vdpa_traffic round
CYCLES=3	# frontend disconnect/reconnect rounds
PMD_ARGS="--total-num-mbufs=4096 --rxd=256 --txd=256"
failed=0
logs=""

mount -t tmpfs tmp /tmp
mkdir -p /dev/hugepages
mount -t hugetlbfs huge /dev/hugepages

# result <name> <0|1> [reason]
result() {
	if [ "$2" = 0 ]; then
		echo "NESTED-TEST $1: PASS"
	else
		echo "NESTED-TEST $1: FAIL ${3:-}"
		failed=1
	fi
}

finish() {
	dmesg >/tmp/dmesg.log
	# dmesg first: the host shows the tail of the console on a failure.
	for f in /tmp/dmesg.log $logs; do
		echo "===== $f ====="
		cat "$f"
	done
	if [ "$failed" = 0 ]; then
		echo "NESTED-RESULT: PASS"
	else
		echo "NESTED-RESULT: FAIL"
	fi
	sync
	poweroff -f
	sleep 10
}

# wait_for <seconds> <command...>: poll until the command succeeds.
wait_for() {
	n=$(($1 * 5))
	shift
	up_dead=0
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		[ "$up_dead" = 1 ] && return 1
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

vmlck() {
	sed -n 's/^VmLck:[ \t]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status"
}

# --- vfio-pci -------------------------------------------------------------

bind_vfio() {
	guest_modules irqbypass vfio vfio_iommu_type1 vfio_virqfd \
		vfio-pci-core vfio-pci || return 1
	bdfs=""
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
		[ "$(cat "$d/device")" = 0x1041 ] || continue
		bdfs="$bdfs ${d##*/}"
	done
	set -- $bdfs
	[ $# = 2 ] || { say "found $# virtio-net devices: $bdfs"; return 1; }
	BDF0=$1
	BDF1=$2
	for b in $BDF0 $BDF1; do
		d=/sys/bus/pci/devices/$b
		[ -e "$d/iommu_group" ] || { say "$b has no IOMMU group"; return 1; }
		echo vfio-pci >"$d/driver_override"
		echo "$b" >/sys/bus/pci/drivers_probe
		g=$(basename "$(readlink "$d/iommu_group")")
		[ "$(basename "$(readlink "$d/driver")")" = vfio-pci ] ||
			{ say "$b is not bound to vfio-pci"; return 1; }
		[ -c "/dev/vfio/$g" ] ||
			{ say "no /dev/vfio/$g for $b"; return 1; }
		say "$b: IOMMU group $g, vfio-pci"
	done
	return 0
}

# --- processes --------------------------------------------------------------

# start_bg <name> <command...>: runs it with stdin on a fifo held open
# (dpdk-vdpa and testpmd quit or spin at EOF); sets PID_<name>.
start_bg() {
	name=$1
	shift
	mkfifo "/tmp/$name.in"
	"$@" <"/tmp/$name.in" >"/tmp/$name.log" 2>&1 &
	eval "PID_$name=$!"
	eval "exec ${FD_NEXT}>/tmp/$name.in"
	eval "FD_$name=$FD_NEXT"
	FD_NEXT=$((FD_NEXT + 1))
	logs="$logs /tmp/$name.log"
}
FD_NEXT=3

# stop_bg <name>: SIGINT, then wait up to 20 s; 0 when it exited by itself.
stop_bg() {
	eval "pid=\$PID_$1"
	kill -INT "$pid" 2>/dev/null
	if wait_for 20 eval "! alive $pid"; then
		wait "$pid"
		return 0
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	return 1
}

# quit_vdpa: "q" on its stdin, the sample's clean exit (vhost sockets
# unregistered, then rte_eal_cleanup: the PCI bus removes both devices).
# 0 when it exited with 0 within 20 s.
quit_vdpa() {
	echo q >&"$FD_vdpa"
	if wait_for 20 eval "! alive $PID_vdpa"; then
		wait "$PID_vdpa"
		return $?
	fi
	stop_bg vdpa
	return 1
}

start_vdpa() {
	rm -f /tmp/vdpa-0 /tmp/vdpa-1
	start_bg vdpa /opt/dpdk-vdpa -l 0 --file-prefix vdpa \
		-a "$BDF0,vdpa=1" -a "$BDF1,vdpa=1" -d librte_vdpa_ifc.so \
		--log-level=pmd.vdpa.ifcvf_oot:info -- --iface /tmp/vdpa-
	wait_for 60 up vdpa test -S /tmp/vdpa-1
}

# up <name> <command...>: for wait_for, the command's status; once <name>
# has died, wait_for gives up at once.
up() {
	eval "upid=\$PID_$1"
	shift
	"$@" && return 0
	alive "$upid" || { up_dead=1; return 1; }
	return 1
}

start_macswap() {
	start_bg "$1" dpdk-testpmd -l 0-1 --file-prefix "$1" --no-pci \
		--single-file-segments \
		--vdev "net_virtio_user1,path=/tmp/vdpa-1,queues=1" -- \
		--forward-mode=macswap --port-topology=loop --stats-period=1 \
		$PMD_ARGS
	# Its stdout is a file: only the periodic stats are flushed.
	wait_for 60 up "$1" grep -q "Port statistics" "/tmp/$1.log"
}

# traffic <name> [args]: vdpa_traffic on VF0's socket.
traffic() {
	name=$1
	shift
	logs="$logs /tmp/$name.log"
	timeout 60 /opt/vdpa_traffic -l 0 --file-prefix "$name" --no-pci \
		--single-file-segments \
		--vdev "net_virtio_user0,path=/tmp/vdpa-0,queues=1" -- \
		--count $COUNT "$@" >"/tmp/$name.log" 2>&1
}

# Frames testpmd received over all its runs' "Accumulated" blocks.
macswap_rx() {
	awk '/Accumulated forward statistics/ { a = 1 }
	     a && /RX-packets:/ { print $2; exit }' "/tmp/$1.log"
}

# --- the tests ---------------------------------------------------------------

say "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
if ! bind_vfio; then
	result vfio-bind 1 "cannot bind both devices to vfio-pci"
	finish
fi
result vfio-bind 0

if ! start_vdpa; then
	result vdpa-probe 1 "dpdk-vdpa did not create its sockets"
	finish
fi
n=$(grep -c "queue pairs" /tmp/vdpa.log)
if [ "$n" = 2 ]; then
	result vdpa-probe 0
else
	result vdpa-probe 1 "$n of 2 devices probed by the driver"
fi
lck0=$(vmlck "$PID_vdpa")
say "dpdk-vdpa VmLck before any frontend: $lck0 kB"

# frontend -> VF0 -> hub -> VF1 -> testpmd macswap -> VF1 -> hub -> VF0
if ! start_macswap macswap; then
	result traffic 1 "testpmd on VF1's socket did not start forwarding"
	finish
fi
lck1=$(vmlck "$PID_vdpa")
say "dpdk-vdpa VmLck with testpmd connected: $lck1 kB"
traffic traffic
rc=$?
if [ $rc = 0 ] && grep -q "result: PASS" /tmp/traffic.log; then
	result traffic 0
else
	result traffic 1 "vdpa_traffic exit $rc"
fi

# MSI-X through VFIO, remapped by the IOMMU: config + 2 queue vectors.
irqs_on=$(grep -c "IR-PCI-MSI.*vfio-msix.*($BDF1)" /proc/interrupts)
traffic reconnect --cycles $CYCLES
rc=$?
if [ $rc = 0 ] && grep -q "cycles: $CYCLES of $CYCLES passed" /tmp/reconnect.log
then
	result reconnect-vf0 0
else
	result reconnect-vf0 1 "vdpa_traffic --cycles $CYCLES exit $rc"
fi

# The hub floods to every port but the sender's, so testpmd sees each
# frame once: more means a device replayed a ring, fewer that it lost some.
stop_bg macswap
rx=$(macswap_rx macswap)
want=$((COUNT * (CYCLES + 1)))
if [ "${rx:-0}" = "$want" ]; then
	result via-macswap 0
else
	result via-macswap 1 "testpmd received ${rx:-?} frames, $want were sent"
fi

# VF1 reconnect: a new testpmd, one more round.
if start_macswap macswap2 && traffic traffic2; then
	stop_bg macswap2
	rx=$(macswap_rx macswap2)
	if [ "${rx:-0}" = "$COUNT" ]; then
		result reconnect-vf1 0
	else
		result reconnect-vf1 1 "testpmd received ${rx:-?} frames, $COUNT were sent"
	fi
else
	stop_bg macswap2
	result reconnect-vf1 1 "second testpmd on VF1 / traffic failed"
fi

# Every frontend is gone: the container must hold no pinned page.
sleep 1
lck2=$(vmlck "$PID_vdpa")
say "dpdk-vdpa VmLck after the frontends left: $lck2 kB"
if [ "${lck1:-0}" -le "${lck0:-0}" ]; then
	result dma-unmapped 1 "no pinned memory while connected ($lck0 -> $lck1 kB)"
elif [ "$lck2" != "$lck0" ]; then
	result dma-unmapped 1 "VmLck $lck0 kB before, $lck2 kB after"
elif grep -q "cannot unmap" /tmp/vdpa.log; then
	result dma-unmapped 1 "the driver failed an unmap"
else
	result dma-unmapped 0
fi

irqs_off=$(grep -c "vfio-msix" /proc/interrupts)
if [ "$irqs_on" = 3 ] && [ "$irqs_off" = 0 ]; then
	result msix-vfio 0
else
	result msix-vfio 1 "$irqs_on remapped vectors on VF1 while connected, $irqs_off left after"
fi

quit_vdpa
rc=$?
# Any error, from EAL, VFIO, vhost or the driver, fails it.
errors=$(grep -i "error\|fail\|cannot" /tmp/vdpa.log | grep -v -- "-FAILED: 0")
if [ $rc = 0 ] && [ -z "$errors" ]; then
	result vdpa-exit 0
else
	result vdpa-exit 1 "dpdk-vdpa exit $rc; $(echo "$errors" | head -n 1)"
fi

# --- host notifiers; DPDK's own IFC driver loaded too ------------------------

PMD_DIR=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0

# dpdk-vdpa again, interactive for its "stats" command: ports on demand.
start_vdpa_cli() {
	rm -f /tmp/vn-0 /tmp/vn-1
	start_bg vdpa2 /opt/dpdk-vdpa -l 0 --file-prefix vdpa2 \
		-a "$BDF0,vdpa=1" -a "$BDF1,vdpa=1" -d librte_vdpa_ifc.so \
		--log-level=pmd.vdpa.ifcvf_oot:info -- --interactive
	echo "create /tmp/vn-0 $BDF0" >&"$FD_vdpa2"
	echo "create /tmp/vn-1 $BDF1" >&"$FD_vdpa2"
	wait_for 60 up vdpa2 test -S /tmp/vn-1
}

# stats_printed <n>: dpdk-vdpa has printed <n> queues' statistics in all.
stats_printed() {
	[ "$(grep -c used_entries_relayed /tmp/vdpa2.log)" -ge "$1" ]
}

# vdpa_stats <name>: "stats <bdf> 0xffff" of both devices; prints the
# values of statistic <name>, queue 0 and 1 of VF0 then of VF1.
vdpa_stats() {
	seen=$(grep -c used_entries_relayed /tmp/vdpa2.log)
	echo "stats $BDF0 0xffff" >&"$FD_vdpa2"
	echo "stats $BDF1 0xffff" >&"$FD_vdpa2"
	wait_for 10 stats_printed $((seen + 4))
	for b in $BDF0 $BDF1; do
		awk -v dev="Device $b:" -v name="$1" '
			$0 == dev { v = ""; on = 1; next }
			on && $1 == name { v = v " " $2 }
			on && /^[^\t]/ { on = 0 }
			END { print v }' /tmp/vdpa2.log
	done | tr '\n' ' '
}

# notifier <name> <checkpoints> [args]: vu_notifier --hold on both ports
# (<name> a shell word); at each of its checkpoints (configured, direct,
# logging, log-off) sets KICKS_<checkpoint> (- as _) to the driver's
# kicks_relayed of the four queues (VF0 q0 q1, VF1 q0 q1), read while
# connected, then lets it go on. 0 if it passed.
notifier() {
	name=$1
	cps=$2
	shift 2
	unset KICKS_configured KICKS_direct KICKS_logging KICKS_log_off
	start_bg "$name" /opt/vu_notifier --hold "$@" /tmp/vn-0 /tmp/vn-1
	for cp in $cps; do
		wait_for 60 up "$name" grep -q "^holding $cp\$" "/tmp/$name.log" ||
			break
		k=$(vdpa_stats kicks_relayed)
		eval "KICKS_$(echo "$cp" | tr - _)=\"\$k\""
		say "$name: $cp: kicks_relayed (VF0 q0 q1, VF1 q0 q1):$k"
		eval "echo >&\$FD_$name"
	done
	wait_for 20 eval "! alive \$PID_$name"
	stop_bg "$name" >/dev/null
	grep -q "^result: PASS" "/tmp/$name.log"
}

# kicks_grew <from> <to> <4 x 0|+>: kicks_relayed of each queue did not
# move (0) or grew (+) from checkpoint <from> to <to> (- written _); sets
# GREW to the four differences.
kicks_grew() {
	eval "ka=\$KICKS_$1 kb=\$KICKS_$2"
	shift 2
	set -- $ka $kb "$@"
	GREW="?"
	[ $# = 12 ] || return 1
	GREW="$(($5 - $1)) $(($6 - $2)) $(($7 - $3)) $(($8 - $4))"
	shift 8
	for d in $GREW; do
		case "$1:$d" in
		0:0) ;;
		+:0|+:-*) return 1 ;;
		+:*) ;;
		*) return 1 ;;
		esac
		shift
	done
}

# fe_kicks <log> <phase> <dev> <queue> doorbell|eventfd: the frontend's
# kicks of that queue in that phase, the way it says.
fe_kicks() {
	sed -n "s/^kicks: $2: dev $3 queue $4: \([0-9]*\) through the doorbell, \([0-9]*\) through the eventfd\$/\1 \2/p" "$1" |
		{ read -r bell efd; [ "$5" = doorbell ] && echo "${bell:-}" || echo "${efd:-}"; }
}

# count <regex> <file>
count() {
	grep -c "$1" "$2"
}

if start_vdpa_cli; then
	# Both files are librte_vdpa_ifc.so*: DPDK's from the plugin
	# folder, ours (-d, LD_LIBRARY_PATH); ours must take both devices.
	probe="Probe PCI driver: vdpa_ifcvf_oot .* device: \($BDF0\|$BDF1\)"
	ours=$(grep -c "$probe" /tmp/vdpa2.log)
	theirs=$(grep -c "Probe PCI driver: net_ifcvf" /tmp/vdpa2.log)
	probed=$(grep -c "^IFCVF: .*queue pairs" /tmp/vdpa2.log)
	maps=/proc/$PID_vdpa2/maps
	if ! grep -q "$PMD_DIR/librte_vdpa_ifc.so" "$maps"; then
		result dpdk-ifc-coexist 1 "DPDK's IFC plugin is not loaded"
	elif ! grep -q " /opt/librte_vdpa_ifc.so" "$maps"; then
		result dpdk-ifc-coexist 1 "our driver is not loaded"
	elif [ "$ours" != 2 ] || [ "$theirs" != 0 ] || [ "$probed" != 2 ]; then
		result dpdk-ifc-coexist 1 "vdpa_ifcvf_oot probed $ours, net_ifcvf $theirs, $probed IFCVF probe lines"
	else
		result dpdk-ifc-coexist 0
	fi

	# VF0 (page-per-vq) gets a host notifier per queue, VF1 (doorbells
	# 4 bytes apart) none: VF0 kicks only its mapped doorbells, the
	# relay VF1's eventfds.
	log=/tmp/notifier.log
	notifier notifier "configured direct logging log-off" --migrate
	rc=$?
	offer="offered anon_inode:\[vfio-device\] region [0-9]* + 0x[0-9a-f]*000 size 0x1000, page-aligned, region mmap-able"
	if [ -z "${KICKS_direct:-}" ]; then
		result host-notifier 1 "$(grep "^result:" $log)"
	elif [ "$(count "^notifier: setup: dev 0 queue [01]: $offer" $log)" != 2 ]; then
		result host-notifier 1 "VF0 (page-per-vq): not one page-aligned VFIO doorbell offer per queue"
	elif [ "$(count "^notifier: setup: dev 1 queue [01]: none" $log)" != 2 ]; then
		result host-notifier 1 "VF1 (notify_off_multiplier 4) got a notifier message"
	elif ! grep -q "^notifier: setup: 2 of 4 doorbells mapped" $log; then
		result host-notifier 1 "$(grep "^notifier: setup: .* mapped" $log)"
	elif [ "$(count "^kicks: direct: dev 0 queue .: [1-9][0-9]* through the doorbell, 0 through the eventfd" $log)" != 2 ] ||
	     [ "$(count "^kicks: direct: dev 1 queue .: 0 through the doorbell, [1-9][0-9]* through the eventfd" $log)" != 2 ]; then
		result host-notifier 1 "kicks did not go VF0 doorbells, VF1 eventfds"
	elif ! kicks_grew configured direct 0 0 + +; then
		result host-notifier 1 "kicks_relayed during the traffic: $GREW, want 0 0 >0 >0"
	else
		result host-notifier 0
	fi

	# SW live migration of VF0 with its doorbells mapped: both withdrawn
	# during SET_FEATURES (LOG_ALL), kicks through the eventfds and
	# relayed, every page the device wrote logged; logging off leaves a
	# plain virtio VF on shadow rings: nothing offered again.
	kicks_grew direct logging + + + +
	ok=$?
	set -- $GREW
	for q in 0 1; do
		efd=$(fe_kicks $log logging 0 $q eventfd)
		say "notifier: logging: VF0 queue $q: ${efd:-?} eventfd kicks, ${1:-?} relayed"
		[ -n "$efd" ] && [ "$1" -le "$efd" ] 2>/dev/null || ok=1
		shift
	done
	if [ $rc != 0 ]; then
		result host-notifier-sw-lm 1 "$(grep "^result:" $log)"
	elif [ "$(count "^notifier: log-on: dev 0 queue [01]: withdrawn" $log)" != 2 ]; then
		result host-notifier-sw-lm 1 "VF0's doorbells were not withdrawn once each at LOG_ALL"
	elif [ "$(count "^kicks: logging: dev 0 queue .: 0 through the doorbell, [1-9][0-9]* through the eventfd" $log)" != 2 ]; then
		result host-notifier-sw-lm 1 "VF0 did not kick through its eventfds while logging"
	elif [ $ok != 0 ]; then
		result host-notifier-sw-lm 1 "kicks_relayed while logging: $GREW (each more than 0, VF0's at most its eventfd kicks)"
	elif ! grep -q "^log: dev 0: [1-9][0-9]* RX buffers written while logging ([1-9][0-9]* pages), 0 of those pages not logged; 0 used-ring pages not logged" $log; then
		result host-notifier-sw-lm 1 "$(grep "^log: dev 0: [0-9]* RX" $log)"
	elif ! grep -q "^notifier: log-off: dev 0: 0 doorbells offered again, 0 mapped" $log; then
		result host-notifier-sw-lm 1 "$(grep "^notifier: log-off: dev 0:" $log) (a virtio VF stays on shadow rings)"
	elif ! kicks_grew logging log_off + + + +; then
		result host-notifier-sw-lm 1 "kicks_relayed after logging off: $GREW, want all >0"
	else
		result host-notifier-sw-lm 0
	fi

	# A frontend that cannot map a doorbell refuses it: vhost withdraws
	# it, the driver says so, and the relay takes every kick.
	log=/tmp/refused.log
	notifier refused "configured direct" --reject
	rc=$?
	if [ $rc != 0 ]; then
		result host-notifier-refused 1 "$(grep "^result:" $log)"
	elif [ "$(count "^notifier: setup: dev 0 queue [01]: refused (--reject)" $log)" != 2 ] ||
	     [ "$(count "^notifier: setup: dev 0 queue [01]: withdrawn" $log)" != 2 ]; then
		result host-notifier-refused 1 "VF0's offers were not refused and withdrawn once each"
	elif ! grep -q "^notifier: setup: 0 of 4 doorbells mapped" $log ||
	     [ "$(count "^kicks: direct: dev . queue .: 0 through the doorbell, [1-9][0-9]* through the eventfd" $log)" != 4 ]; then
		result host-notifier-refused 1 "a doorbell was kept"
	elif ! kicks_grew configured direct + + + +; then
		result host-notifier-refused 1 "kicks_relayed during the traffic: $GREW, want all >0"
	elif ! grep -q "no host notifier, kicks go through the relay" /tmp/vdpa2.log; then
		result host-notifier-refused 1 "the driver did not see the refusal"
	else
		result host-notifier-refused 0
	fi

	# A legacy frontend (no VERSION_1, 10-byte headers): the driver
	# programs QEMU's modern-only VFs with that set; QEMU keeps
	# FEATURES_OK for it (virtio_set_status() validates only VERSION_1
	# sets) and uses the legacy header; frames both ways, byte for byte.
	notifier legacy "configured direct" --legacy
	rc=$?
	if [ $rc != 0 ]; then
		result legacy-frontend 1 "$(grep "^result:" /tmp/legacy.log)"
	elif [ "$(grep -c "^legacy: .* 10-byte net headers" /tmp/legacy.log)" != 2 ]; then
		result legacy-frontend 1 "not a legacy set on both ports"
	elif grep -q "refused FEATURES_OK" /tmp/vdpa2.log; then
		result legacy-frontend 1 "$(grep -m1 "refused FEATURES_OK" /tmp/vdpa2.log)"
	else
		result legacy-frontend 0
	fi
	echo quit >&"$FD_vdpa2"
	wait_for 20 eval "! alive $PID_vdpa2" || stop_bg vdpa2
else
	result dpdk-ifc-coexist 1 "dpdk-vdpa --interactive did not create its ports"
	result host-notifier 1 "no dpdk-vdpa"
	result host-notifier-sw-lm 1 "no dpdk-vdpa"
	result host-notifier-refused 1 "no dpdk-vdpa"
	result legacy-frontend 1 "no dpdk-vdpa"
fi

# vdpa=1 with a key the driver does not know: VF0 refused (by name),
# VF1 claimed, the process up.
# listed <bdf>: a row of dpdk-vdpa $LISTING's "list" names it.
LISTING=
listed() {
	grep -q "^$1	" "/tmp/$LISTING.log"
}
# vdpa_listing <name> <bdf> <EAL args...>: an interactive dpdk-vdpa <name>
# asked to "list"; 0 once a row names <bdf> (and the rest had a second).
vdpa_listing() {
	LISTING=$1
	b=$2
	shift 2
	start_bg "$LISTING" /opt/dpdk-vdpa -l 0 --file-prefix "$LISTING" "$@" \
		-- --interactive
	eval "echo list >&\$FD_$LISTING"
	wait_for 60 up "$LISTING" listed "$b" || return 1
	sleep 1
}
if ! vdpa_listing vdpa3 "$BDF1" -a "$BDF0,vdpa=1,bogus=1" -a "$BDF1,vdpa=1" \
	-d librte_vdpa_ifc.so; then
	result devargs-refused 1 "dpdk-vdpa did not list $BDF1 (vdpa=1)"
else
	if listed "$BDF0"; then
		result devargs-refused 1 "$BDF0 (vdpa=1,bogus=1) is a vDPA device"
	elif ! alive "$PID_vdpa3"; then
		result devargs-refused 1 "dpdk-vdpa died"
	elif ! grep -q "bogus" /tmp/vdpa3.log; then
		result devargs-refused 1 "nothing logged names the key bogus"
	else
		result devargs-refused 0
	fi
fi
echo quit >&"$FD_vdpa3"
wait_for 20 eval "! alive $PID_vdpa3" || stop_bg vdpa3

# class=vdpa instead of vdpa=1, the driver as meson installs it
# (librte_vdpa_ifcvf_oot.so) loaded from a plugin folder (-d /opt/pmds,
# no file named) next to DPDK's own IFC driver from EAL's: ours claims
# both VFs, net_ifcvf none.
if ! vdpa_listing vdpa4 "$BDF1" -a "$BDF0,class=vdpa" -a "$BDF1,class=vdpa" \
	-d /opt/pmds; then
	result class-vdpa 1 "dpdk-vdpa did not list $BDF1 (class=vdpa)"
else
	maps=/proc/$PID_vdpa4/maps
	ours=$(grep -c "Probe PCI driver: vdpa_ifcvf_oot .* device: \($BDF0\|$BDF1\)" /tmp/vdpa4.log)
	theirs=$(grep -c "Probe PCI driver: net_ifcvf" /tmp/vdpa4.log)
	if ! listed "$BDF0"; then
		result class-vdpa 1 "$BDF0 (class=vdpa) is not a vDPA device"
	elif ! grep -q " /opt/pmds/librte_vdpa_ifcvf_oot.so" "$maps"; then
		result class-vdpa 1 "the installed plugin is not loaded"
	elif grep -q " /opt/librte_vdpa_ifc.so" "$maps"; then
		result class-vdpa 1 "the build's plugin was loaded"
	elif ! grep -q "$PMD_DIR/librte_vdpa_ifc.so" "$maps"; then
		result class-vdpa 1 "DPDK's IFC plugin is not loaded"
	elif [ "$ours" != 2 ] || [ "$theirs" != 0 ]; then
		result class-vdpa 1 "vdpa_ifcvf_oot probed $ours, net_ifcvf $theirs"
	else
		result class-vdpa 0
	fi
fi
echo quit >&"$FD_vdpa4"
wait_for 20 eval "! alive $PID_vdpa4" || stop_bg vdpa4

# Without vdpa=1, net_virtio keeps the devices, with the driver loaded,
# VF0's devargs one of net_virtio's own (its port then says 10 Gbps).
logs="$logs /tmp/virtio.log"
(echo "show port info all"; echo "start tx_first"; sleep 3; echo "stop";
	echo "quit") | timeout 120 dpdk-testpmd -l 0-1 --file-prefix virtio \
	-a "$BDF0,speed=10000" -a "$BDF1" -d librte_vdpa_ifc.so -- -i \
	$PMD_ARGS >/tmp/virtio.log 2>&1
rc=$?
n=$(grep -c "Driver name: net_virtio" /tmp/virtio.log)
rx=$(awk '/Accumulated forward statistics/ { a = 1 }
	  a && /RX-packets:/ { print $2; exit }' /tmp/virtio.log)
if [ $rc = 0 ] && [ "$n" = 2 ] && [ "${rx:-0}" -gt 0 ]; then
	result net-virtio 0
else
	result net-virtio 1 "exit $rc, $n net_virtio ports, ${rx:-?} frames"
fi
# VF0's block of "show port info": its driver and link speed.
vf0=$(awk -v dev="Device name: $BDF0" '
	/^\*+ Infos for port/ { on = 0 }
	$0 == dev { on = 1 }
	on && /^(Driver name|Link speed):/ { printf "%s; ", $0 }' /tmp/virtio.log)
case "$vf0" in
"Driver name: net_virtio; Link speed: 10 Gbps; ")
	result net-virtio-devargs 0 ;;
*)
	result net-virtio-devargs 1 "$BDF0,speed=10000: ${vf0:-no port}" ;;
esac

if dmesg | grep -i dmar | grep -qi fault; then
	result no-dmar-fault 1 "$(dmesg | grep -i dmar | grep -i fault | head -n 3)"
else
	result no-dmar-fault 0
fi
finish
