/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_PCI_H
#define IFCVF_PCI_H

/*
 * What the PCI glue decides before touching a device, exposed for the
 * unit suite: which IDs it matches, whether a device's devargs give it
 * to this driver, and how it says it is out of VFIO containers.
 */

#include <stdbool.h>

#include <bus_pci_driver.h>

#include "ifcvf_vdpa.h"

/* The PCI bus's ID table of the driver, ended by a zero vendor ID. */
extern const struct rte_pci_id ifcvf_pci_ids[];

/* What the devargs of a VF that is this driver's set. */
struct ifcvf_pci_args {
	bool sw_lm;			/* sw-live-migration= */
	struct ifcvf_relay_conf relay;	/* relay=, relay-core= */
};

/*
 * 1 when @args (a device's devargs, may be NULL) say vdpa=1 and every
 * key is valid (*out then set), 0 when the device is left to another
 * driver (net_virtio), negative when vdpa=1 comes with a bad key or value.
 */
int ifcvf_pci_devargs(const char *dev, const char *args,
		      struct ifcvf_pci_args *out);

/*
 * A VFIO container for VF @name (its fd), or -1 with an error naming
 * DPDK's limit of RTE_MAX_VFIO_CONTAINERS a process.
 */
int ifcvf_pci_container_create(const char *name);

#endif /* IFCVF_PCI_H */
