#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Compile the driver and the simulator (every C file of drivers/vdpa/ifc,
# its base/, and drivers/vdpa/ifc_sim) with -Werror against one DPDK
# release's headers, and say what was checked.
#
#   check-dpdk.sh SDK_DIR INC_DIR [INC_DIR...]
#       INC_DIRs: the release's installed headers (Debian: usr/include/dpdk
#       and usr/include/<multiarch>/dpdk, which holds rte_build_config.h);
#       SDK_DIR: its driver-SDK headers (vdpa_driver.h, bus_pci_driver.h,
#       bus_vdev_driver.h, dev_driver.h, rte_eal_paging.h).
#   check-dpdk.sh --ci
#       Every release whose headers can be had on a fresh machine here
#       (today 22.11: the installed libdpdk-dev and devtools/setup.sh's
#       .dpdk-sdk), and each release it skips with the reason. Releases
#       prepared by hand in $IFCVF_DPDK_CHECK_DIR/<release>/{include,sdk}
#       (doc/guides/vdpadevs/ifc.rst, "DPDK releases") are checked too.
# Exits non-zero if a compile fails.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-cc}
releases="22.11 23.11 24.11 25.11 26.07"

# The flags of the meson build (warning_level=2, werror, debugoptimized)
# and of libdpdk's pkg-config Cflags.
cflags="-std=gnu11 -Wall -Wextra -Werror -O2 -fPIC
-DALLOW_INTERNAL_API -DALLOW_EXPERIMENTAL_API -include rte_config.h
-march=corei7"

# version <inc flags...>: the release the headers say they are.
version() {
	printf '#include <rte_version.h>\nRTE_VER_YEAR RTE_VER_MONTH RTE_VER_MINOR\n' |
		"$cc" -E -P -include rte_config.h "$@" - 2>/dev/null |
		awk 'END { if (NF == 3) printf "%d.%02d.%d\n", $1, $2, $3 }'
}

# check <sdk> <inc...>
check() {
	sdk=$1
	shift
	incs=""
	for d in "$@"; do
		[ -d "$d" ] || { echo "check-dpdk: no folder $d" >&2; return 1; }
		incs="$incs -I$d"
	done
	for h in vdpa_driver.h bus_pci_driver.h bus_vdev_driver.h \
		dev_driver.h rte_eal_paging.h; do
		[ -f "$sdk/$h" ] ||
			{ echo "check-dpdk: no $h in $sdk" >&2; return 1; }
	done
	# shellcheck disable=SC2086
	ver=$(version $incs)
	[ -n "$ver" ] || { echo "check-dpdk: no rte_version.h in $*" >&2; return 1; }
	n=0
	bad=""
	src=$top/drivers/vdpa/ifc
	sim=$top/drivers/vdpa/ifc_sim
	# The header the build generates (drivers/vdpa/ifc/meson.build).
	gen=$(mktemp -d)
	python3 "$src/bus-abi.py" "$gen/ifcvf_bus_abi.h" "$ver" \
		"$src"/ifcvf_*.h "$src"/base/*.h || { rm -rf "$gen"; return 1; }
	for f in "$src"/*.c "$src"/base/*.c "$sim"/*.c; do
		# shellcheck disable=SC2086
		if "$cc" $cflags -I"$src" -I"$src/base" -I"$sim" -I"$gen" $incs \
			-idirafter "$sdk" -c -o /dev/null "$f"; then
			n=$((n + 1))
		else
			bad="$bad ${f#"$top"/}"
		fi
	done
	rm -rf "$gen"
	if [ -n "$bad" ]; then
		echo "check-dpdk: DPDK $ver: FAIL, -Werror errors in:$bad"
		return 1
	fi
	echo "check-dpdk: DPDK $ver: OK, $n files of the driver and the simulator compiled with -Werror (headers: $*; SDK: $sdk)"
}

# The reason a release cannot be checked on a fresh machine here.
why_skipped() {
	case $1 in
	23.11) echo "no Debian release ships it (Ubuntu 24.04 and RHEL 9 do), and its SDK headers are only in DPDK's repository, not obtainable here" ;;
	24.11) echo "installed headers are in Debian trixie's libdpdk-dev, but the SDK headers are only in DPDK's repository (trixie's source package is not served), not obtainable here" ;;
	25.11) echo "installed headers are in Debian sid's libdpdk-dev, but the SDK headers are only in DPDK's repository (sid's source package is not served), not obtainable here" ;;
	*) echo "headers are only in DPDK's repository, not obtainable here" ;;
	esac
}

ci() {
	rc=0
	inst=$(version -I/usr/include/dpdk -I/usr/include/x86_64-linux-gnu/dpdk)
	for r in $releases; do
		d=${IFCVF_DPDK_CHECK_DIR:-}/$r
		if [ -n "${IFCVF_DPDK_CHECK_DIR:-}" ] && [ -d "$d/sdk" ]; then
			check "$d/sdk" "$d"/include/* || rc=1
		elif [ "${inst%.*}" = "$r" ]; then
			check "$top/.dpdk-sdk" /usr/include/dpdk \
				/usr/include/x86_64-linux-gnu/dpdk || rc=1
		else
			echo "check-dpdk: DPDK $r: skipped: $(why_skipped "$r")"
		fi
	done
	return $rc
}

case ${1:-} in
--ci) ci ;;
''|-h|--help) sed -n '4,18p' "$0"; exit 2 ;;
*) check "$@" ;;
esac
