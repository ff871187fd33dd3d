#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The main job: set up, build, and run two simulated IFCVFs wired
# together with traffic in both directions (arguments go to sim_demo).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh devtools/build.sh
exec build/app/test-vdpa/sim_demo "$@"
