# shellcheck shell=sh disable=SC2154 # cache, modules, init: set by the caller
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The ifcvf-vdpa authors
#
# What the builds of the QEMU guests' images share, sourced by
# migration/build-image.sh and nested/build-image.sh: Debian's kernel with
# the modules a guest needs (guest-kernel.sh), an initramfs cached under a
# key of all its inputs, holding busybox, the modules, the prologue every
# guest's /init sources (guest-prologue.sh) and that /init.
#
# The caller sets cache, modules and init, then:
#   image_kernel          the kernel: sets vmlinuz and kver
#   image_start FILE...   the image's name from its inputs (the files, and
#                         more key material on stdin); if it is built,
#                         prints it and exits, else makes an empty root
#   image_base            busybox, the modules, the prologue and /init
#   image_pack            packs the root, removes older images, prints
#                         "<vmlinuz> <initramfs>"

image_lib=$(dirname "$0")/../lib

die() {
	echo "build-image: $*" >&2
	exit 1
}

image_kernel() {
	mkdir -p "$cache"
	cache=$(cd "$cache" && pwd)
	kdir=$cache/kernel
	# shellcheck disable=SC2086 # a list of modules
	kernel=$(sh "$image_lib/guest-kernel.sh" "$kdir" $modules) ||
		die "no guest kernel"
	vmlinuz=${kernel% *}
	kver=${kernel##* }
	busybox=$(command -v busybox) || die "busybox not found"
	# The initramfs has no libc: busybox-static's busybox.
	if ldd "$busybox" >/dev/null 2>&1; then
		die "$busybox is not static (install busybox-static)"
	fi
}

image_start() {
	key=$( {
		cat "$kdir/.done" "$0" "$image_lib/guest-image.sh" \
			"$image_lib/guest-kernel.sh" \
			"$image_lib/guest-prologue.sh" "$init" "$busybox" "$@"
		cat
	} | sha256sum | cut -c1-16)
	image=$cache/initramfs-$key.cpio
	if [ -f "$image" ]; then
		echo "$vmlinuz $image"
		exit 0
	fi
	root=$cache/root.tmp
	rm -rf "$root"
	mkdir -p "$root"/usr/bin "$root"/modules "$root"/dev "$root"/proc \
		"$root"/sys "$root"/tmp
}

image_base() {
	cp "$busybox" "$root/usr/bin/busybox"
	# The other applets are linked by /init (busybox --install).
	ln -s busybox "$root/usr/bin/sh"
	cp "$image_lib/guest-prologue.sh" "$root/prologue.sh"
	cp "$init" "$root/init"
	chmod 755 "$root/init"
	for m in $modules; do
		cp "$kdir/lib/modules/$kver/kernel/$m.ko" "$root/modules/" ||
			die "module $m missing from $kver"
	done
}

image_pack() {
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$image.tmp" ||
		die "cpio failed"
	mv "$image.tmp" "$image"
	rm -rf "$root"
	# Older images (other inputs) are stale.
	for f in "$cache"/initramfs-*.cpio; do
		[ "$f" = "$image" ] || rm -f "$f"
	done
	echo "$vmlinuz $image"
}
