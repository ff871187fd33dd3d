#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# Build the nested suite's guest (../lib/guest-image.sh): Debian's kernel
# (fetched with `apt-get download` and unpacked in the cache folder, never
# installed on this host) and an initramfs holding busybox, the vfio
# modules, DPDK's runtime from this host (ldd closure), the driver and the
# test apps.
# The image is cached in <cache> under a key of all its inputs.
#
# usage: build-image.sh <cache> <guest-init> <librte_vdpa_ifc.so>
#                       <dpdk-vdpa> <vdpa_traffic> <vu_notifier>
#                       <librte_vdpa_ifcvf_oot.so>
# The last is the file meson install puts into DPDK's plugin folder; the
# guest has it alone in a plugin folder of its own, /opt/pmds.
# prints: <kernel> <initramfs>
set -eu

cache=$1
init=$2
driver=$3
vdpa=$4
traffic=$5
notifier=$6
installed=$7

multiarch=x86_64-linux-gnu
pmd_dir=/usr/lib/$multiarch/dpdk/pmds-23.0
# The PMDs EAL may load in the guest: every plugin in the folder must load.
# DPDK's own IFC driver (librte_vdpa_ifc.so.23, a name ours shares) is
# there too: ours must still be the one that takes the devices.
plugins="librte_bus_pci librte_bus_vdev librte_net_virtio librte_mempool_ring
librte_vdpa_ifc"
modules="virt/lib/irqbypass drivers/vfio/vfio drivers/vfio/vfio_iommu_type1
drivers/vfio/vfio_virqfd drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci"

# shellcheck source=SCRIPTDIR/../lib/guest-image.sh
. "$(dirname "$0")/../lib/guest-image.sh"

# The kernel and the vfio modules, fetched once.
image_kernel
testpmd=$(command -v dpdk-testpmd) || die "dpdk-testpmd not found"
for p in $plugins; do
	[ -e "$pmd_dir/$p.so" ] || die "no $pmd_dir/$p.so"
done

# The key also holds the plugins and the versions of DPDK and libc.
image_start "$driver" "$vdpa" "$traffic" "$notifier" "$installed" \
	"$testpmd" <<EOF
$(for p in $plugins; do sha256sum "$pmd_dir/$p.so"; done
dpkg-query -W -f='${Version}\n' libdpdk-dev libc6 2>/dev/null)
EOF
mkdir -p "$root"/usr/lib/$multiarch "$root"/usr/lib64 "$root"/usr/sbin \
	"$root"/opt "$root"/run "$root"/mnt/huge "$root"/etc
mkdir -p "$root$pmd_dir"
for d in bin lib lib64 sbin; do
	ln -s usr/$d "$root/$d"
done
mkdir -p "$root/var"
ln -s ../run "$root/var/run"

image_base
cp "$testpmd" "$root/usr/bin/dpdk-testpmd"
cp "$vdpa" "$root/opt/dpdk-vdpa"
cp "$traffic" "$root/opt/vdpa_traffic"
cp "$notifier" "$root/opt/vu_notifier"
cp "$driver" "$root/opt/librte_vdpa_ifc.so"
mkdir -p "$root/opt/pmds"
cp "$installed" "$root/opt/pmds/$(basename "$installed")"

# Dependency closure of every ELF in the image, at the host's paths
# (/lib is folded into /usr/lib as on the host).
elfs="$testpmd $vdpa $traffic $notifier $driver"
for p in $plugins; do elfs="$elfs $pmd_dir/$p.so"; done
# shellcheck disable=SC2086 # a list of paths
ldd $elfs 2>/dev/null | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' |
	sort -u | while read -r lib; do
	dest=$(echo "$lib" | sed 's|^/lib/|/usr/lib/|; s|^/lib64/|/usr/lib64/|')
	mkdir -p "$root$(dirname "$dest")"
	# A PMD library reached through a symlink (librte_bus_pci.so.23 in
	# /usr/lib) is one file, or the loader maps it twice and its
	# constructors run twice (EAL panics on the second registration).
	case $(readlink -f "$lib") in
	"$pmd_dir"/*)
		one="$pmd_dir/$(basename "$lib")"
		[ -e "$root$one" ] || cp -L "$lib" "$root$one"
		[ "$dest" = "$one" ] || [ -e "$root$dest" ] ||
			ln -s "$one" "$root$dest"
		;;
	*)
		[ -e "$root$dest" ] || cp -L "$lib" "$root$dest"
		;;
	esac
done
# glibc's pthread_cancel/exit loads libgcc_s at run time.
gcc_s=$(ls /usr/lib/$multiarch/libgcc_s.so.1 /lib/$multiarch/libgcc_s.so.1 \
	2>/dev/null | head -n 1)
[ -n "$gcc_s" ] || die "no libgcc_s.so.1"
cp -L "$gcc_s" "$root/usr/lib/$multiarch/libgcc_s.so.1"
[ -e "$root/usr/lib64/ld-linux-x86-64.so.2" ] ||
	die "the dynamic loader is not in the closure"

# A plugin folder of exactly $plugins: EAL loads *.so and *.so.<ABI>
# there, not the *.so.23 names ldd pulls in. Each plugin is a symlink to
# its versioned copy, so a library both linked and loaded is loaded once.
for p in $plugins; do
	[ -e "$root$pmd_dir/$p.so.23" ] ||
		cp -L "$pmd_dir/$p.so.23" "$root$pmd_dir/$p.so.23"
	ln -s "$p.so.23" "$root$pmd_dir/$p.so"
done

echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
image_pack
