#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Build DPDK's vdpa example, unmodified, from Debian's dpdk-doc sources.
# usage: build-vdpa-example.sh <output binary> <scratch folder>
set -eu

src=/usr/share/dpdk/examples/vdpa
out=$1
work=$2

[ -f "$src/main.c" ] || { echo "no $src: install dpdk-doc" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
cp -r "$src/." "$work/"
make -s -C "$work" >&2
cp "$work/build/vdpa-shared" "$out"
