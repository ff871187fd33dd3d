#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# The main job: set up, build, and run DPDK's dpdk-vdpa with two simulated
# IFCVFs wired together, a testpmd on each vhost-user socket, traffic both
# ways for N seconds (default 5), then packets/s per direction and the
# driver's per-queue statistics.
#   devtools/demo.sh [seconds]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh devtools/build.sh
exec python3 app/test-vdpa/e2e.py build demo "$@"
