/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_IO_H
#define IFCVF_IO_H

/*
 * The one door between the HW layer and a device.
 *
 * The HW layer reaches registers as (BAR, offset, width) and the PCI
 * configuration space as bytes; a bus glue implements these three calls,
 * on a VFIO-mapped BAR or on the simulator, and the HW layer never knows
 * which.
 */

#include <stdint.h>

#define IFCVF_PCI_MAX_BAR	6

struct ifcvf_io_ops {
	/* Read @width (1, 2 or 4) bytes at @off of BAR @bar. */
	uint32_t (*read)(void *ctx, uint8_t bar, uint64_t off, uint8_t width);
	/* Write the low @width bytes of @val at @off of BAR @bar. */
	void (*write)(void *ctx, uint8_t bar, uint64_t off, uint8_t width,
		      uint32_t val);
	/* Read @len bytes of config space at @off; 0 or negative errno. */
	int (*cfg_read)(void *ctx, void *buf, uint32_t len, uint32_t off);
};

struct ifcvf_io {
	const struct ifcvf_io_ops *ops;
	void *ctx;
	/* Length of each memory BAR, 0 when the BAR is absent. */
	uint64_t bar_len[IFCVF_PCI_MAX_BAR];
};

#endif /* IFCVF_IO_H */
