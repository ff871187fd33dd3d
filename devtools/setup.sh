#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Prepare a Debian 12 machine to build and test ifcvf-vdpa.
#
# Idempotent; run as root. It installs the Debian packages the project
# needs, enables deb-src, and extracts DPDK's driver-SDK headers from
# Debian's own dpdk source package of exactly the installed libdpdk-dev
# version into a git-ignored folder (default: <project>/.dpdk-sdk), with
# DPDK's pmdinfogen (the build embeds the driver's name, PCI IDs, kernel
# module and devargs as DPDK's own drivers do; dpdk-pmdinfo.py reads them).
# No DPDK file is ever committed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
sdk_dir=${IFCVF_DPDK_SDK_DIR:-$top/.dpdk-sdk}

# Headers DPDK keeps for drivers and Debian does not ship, with their
# location inside DPDK's source tree.
sdk_headers="
lib/vhost/vdpa_driver.h
drivers/bus/pci/bus_pci_driver.h
drivers/bus/vdev/bus_vdev_driver.h
lib/eal/include/dev_driver.h
lib/eal/include/rte_eal_paging.h
"
# DPDK's pmdinfogen, run by drivers/vdpa/ifc/meson.build as DPDK's
# drivers/meson.build runs it (pmdinfogen.py imports coff.py).
sdk_tools="
buildtools/pmdinfogen.py
buildtools/gen-pmdinfo-cfile.py
buildtools/coff.py
"

packages="libdpdk-dev dpdk dpdk-dev dpdk-doc meson ninja-build pkg-config gcc
dpkg-dev python3 python3-pyelftools make
qemu-system-x86 busybox-static cpio"

die() {
	echo "setup: error: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages)"
}

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

missing_packages() {
	for p in $packages; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || printf '%s ' "$p"
	done
}

install_packages() {
	missing=$(missing_packages)
	[ -z "$missing" ] && return 0
	need_root
	apt_update
	echo "setup: installing $missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing >/dev/null ||
		die "apt-get install $missing failed"
}

# Add deb-src to the deb822 sources (Debian 12's default layout) or to
# sources.list, once.
enable_deb_src() {
	f=/etc/apt/sources.list.d/debian.sources
	if [ -f "$f" ]; then
		grep -q '^Types:.*deb-src' "$f" && return 0
		need_root
		sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
	elif [ -f /etc/apt/sources.list ]; then
		grep -q '^deb-src ' /etc/apt/sources.list && return 0
		need_root
		sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list \
			>/etc/apt/sources.list.d/ifcvf-deb-src.list
	else
		die "no apt sources found to enable deb-src in"
	fi
	apt_updated=
}

have_sdk() {
	[ -f "$sdk_dir/VERSION" ] || return 1
	[ "$(cat "$sdk_dir/VERSION")" = "$1" ] || return 1
	for h in $sdk_headers $sdk_tools; do
		[ -f "$sdk_dir/$(basename "$h")" ] || return 1
	done
}

fetch_sdk() {
	ver=$1
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	echo "setup: fetching Debian's dpdk source package $ver"
	(cd "$work" && apt-get source -qq --download-only "dpdk=$ver" \
		>/dev/null 2>&1) ||
		die "apt-get source dpdk=$ver failed: is deb-src enabled and" \
		    "does the archive still serve that version?"
	dsc=$(ls "$work"/dpdk_*.dsc 2>/dev/null | head -n 1)
	[ -n "$dsc" ] || die "no .dsc for dpdk=$ver was downloaded"
	(cd "$work" && dpkg-source -x --no-check "$dsc" src >/dev/null) ||
		die "dpkg-source could not unpack $dsc"
	mkdir -p "$sdk_dir"
	for h in $sdk_headers $sdk_tools; do
		[ -f "$work/src/$h" ] ||
			die "$h is not in dpdk $ver: this DPDK is not 22.11-like"
		cp "$work/src/$h" "$sdk_dir/"
	done
	echo "$ver" >"$sdk_dir/VERSION"
	rm -rf "$work"
	trap - EXIT
}

install_packages
ver=$(dpkg-query -W -f='${Version}' libdpdk-dev)
if ! have_sdk "$ver"; then
	need_root
	enable_deb_src
	apt_update
	fetch_sdk "$ver"
fi
echo "setup: DPDK $ver, driver-SDK headers and pmdinfogen in $sdk_dir"
