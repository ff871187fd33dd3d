#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Set up the machine (devtools/setup.sh) and build into ./build.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh devtools/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null || ninja -C build
