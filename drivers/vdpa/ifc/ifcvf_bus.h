/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_BUS_H
#define IFCVF_BUS_H

/*
 * The driver's bus interface: how a bus glue hands the driver a VF it
 * found. The PCI + VFIO glue is in the driver; the simulator's vdev
 * (drivers/vdpa/ifc_sim) is another plugin, which reaches the driver
 * through these calls only. They are internal symbols, exported as DPDK
 * exports its own (version.map, node INTERNAL): no ABI promise, both
 * plugins come from one build, which ifcvf_bus_attach() and
 * ifcvf_bus_register() check.
 *
 * A glue owns a struct ifcvf_internal (ifcvf_vdpa.h) per VF. It calls
 * ifcvf_bus_attach() first; before ifcvf_bus_register() it sets rte_dev,
 * bus and bus_priv and parses the driver's own devargs into sw_lm and
 * relay_conf (ifcvf_devarg_bool(), ifcvf_relay_devargs()); the driver
 * calls the bus ops from then on until ifcvf_vdpa_unregister() returns.
 */

#include <stdint.h>

#include <rte_compat.h>
#include <rte_kvargs.h>

struct ifcvf_internal;
struct ifcvf_io;
struct ifcvf_relay_conf;

/*
 * Where DMA and interrupts of a VF go: a bus's answer. The driver calls
 * them under the VF's lock, from vhost's threads.
 */
struct ifcvf_bus_ops {
	const char *name;	/* the bus, as telemetry shows it */
	/* DMA: map [vaddr, vaddr + len) at @iova in the VF's IOMMU domain. */
	int (*dma_map)(struct ifcvf_internal *ifc, uint64_t vaddr,
		       uint64_t iova, uint64_t len);
	int (*dma_unmap)(struct ifcvf_internal *ifc, uint64_t vaddr,
			 uint64_t iova, uint64_t len);
	/* Route MSI-X vector i to fds[i] (-1: none); n == 0 routes none. */
	int (*set_irqs)(struct ifcvf_internal *ifc, const int *fds,
			uint16_t n);
	/* Optional: the vDPA ops of the same names (host notifiers). */
	int (*vfio_group_fd)(struct ifcvf_internal *ifc);
	int (*vfio_device_fd)(struct ifcvf_internal *ifc);
	int (*notify_area)(struct ifcvf_internal *ifc, uint16_t qid,
			   uint64_t *offset, uint64_t *size);
};

/*
 * A glue of another plugin calls it first, with IFCVF_BUS_ABI of
 * ifcvf_bus_abi.h (generated at build time) as @abi: 0 if it was built
 * with the driver's structs, else -EPROTO, logged with @glue's name.
 */
__rte_internal
int ifcvf_bus_attach(const char *glue, const char *abi);
/*
 * A vDPA device for the VF @ifc, whose registers @io reaches: @abi
 * checked as ifcvf_bus_attach() does, before the driver reads anything of
 * @ifc; the registers found (ifcvf_hw_init() of ifcvf_hw.h); the device
 * registered. 0, or a negative errno (logged).
 */
__rte_internal
int ifcvf_bus_register(struct ifcvf_internal *ifc, const struct ifcvf_io *io,
		       const char *abi);
/* Undo it: the VF is closed first if a frontend still uses it. */
__rte_internal
void ifcvf_vdpa_unregister(struct ifcvf_internal *ifc);

/*
 * @args of device @dev, every key one of @valid and given a value; NULL
 * with the reason logged otherwise.
 */
__rte_internal
struct rte_kvargs *ifcvf_kvargs_parse(const char *dev, const char *args,
				      const char * const valid[]);
/* A devarg that names one of two settings. */
struct ifcvf_devarg_choice {
	const char *name[2];
	int setting[2];
	int chosen;	/* the setting named, or as it was */
};

/*
 * An rte_kvargs handler: the setting @value names into the struct
 * ifcvf_devarg_choice @out; -EINVAL, logged with both names, otherwise.
 */
__rte_internal
int ifcvf_devarg_choice(const char *key, const char *value, void *out);
/* An rte_kvargs handler: 0|1 into the bool @out; -EINVAL, logged. */
__rte_internal
int ifcvf_devarg_bool(const char *key, const char *value, void *out);
/* relay= and relay-core= of @kv into @conf; -EINVAL, logged, if bad. */
__rte_internal
int ifcvf_relay_devargs(struct rte_kvargs *kv, struct ifcvf_relay_conf *conf);

#endif /* IFCVF_BUS_H */
