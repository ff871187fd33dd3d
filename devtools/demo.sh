#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# The main job: set up, build, and run DPDK's dpdk-vdpa with two simulated
# IFCVFs wired together, a testpmd on each vhost-user socket, traffic both
# ways for N seconds (default 5), then packets/s per direction and the
# driver's per-queue statistics.
#   devtools/demo.sh [seconds]
# devtools/demo.sh blk: two simulated IFCVF block VFs on one disk file and
# QEMU's vhost-user-blk-pci: a Linux guest writes and reads the disk, and
# is live-migrated from the first VF to the second while it does (the blk
# suite's qemu_blk_mig_hw).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh devtools/build.sh
if [ "${1:-}" = blk ]; then
	exec python3 app/test-vdpa/blk/run-blk.py build demo \
		--guest-ping build/app/test-vdpa/migration/guest_ping
fi
exec python3 app/test-vdpa/e2e/e2e.py build demo "$@"
