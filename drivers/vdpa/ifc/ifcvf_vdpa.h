/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_VDPA_H
#define IFCVF_VDPA_H

/*
 * The vDPA side of the driver: one struct ifcvf_internal per VF, created
 * by a bus glue (PCI + VFIO, or the simulator's vdev) that says where the
 * registers are (hw.io) and how DMA and interrupts are routed (bus ops).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <dev_driver.h>
#include <rte_vdpa.h>
#include <rte_vhost.h>
#include <linux/virtio_ring.h>

#include "ifcvf_hw.h"
#include "ifcvf_osdep.h"

#define IFCVF_DEVARG_VDPA	"vdpa"
#define IFCVF_DEVARG_SW_LM	"sw-live-migration"

struct ifcvf_internal;

struct ifcvf_bus_ops {
	/* DMA: map [vaddr, vaddr + len) at @iova in the VF's IOMMU domain. */
	int (*dma_map)(struct ifcvf_internal *ifc, uint64_t vaddr,
		       uint64_t iova, uint64_t len);
	int (*dma_unmap)(struct ifcvf_internal *ifc, uint64_t vaddr,
			 uint64_t iova, uint64_t len);
	/* Route MSI-X vector i to fds[i] (-1: none); n == 0 routes none. */
	int (*set_irqs)(struct ifcvf_internal *ifc, const int *fds,
			uint16_t n);
	/* Optional. */
	void (*closed)(struct ifcvf_internal *ifc);	/* after dev_close */
	void (*log_started)(struct ifcvf_internal *ifc);
	int (*vfio_group_fd)(struct ifcvf_internal *ifc);
	int (*vfio_device_fd)(struct ifcvf_internal *ifc);
	int (*notify_area)(struct ifcvf_internal *ifc, uint16_t qid,
			   uint64_t *offset, uint64_t *size);
};

/* Counters of one queue, as get_stats reports them. */
enum ifcvf_stat {
	IFCVF_STAT_COMPLETED,	/* descriptors the device completed */
	IFCVF_STAT_KICKS,	/* doorbells relayed from the kick eventfd */
	IFCVF_STAT_IRQS,	/* interrupts the relay forwarded */
	IFCVF_STAT_RELAYED,	/* used entries the relay copied (SW LM) */
	IFCVF_STAT_MAX,
};

/* An eventfd the relay thread watches, and what it does when it fires. */
struct ifcvf_relay_src {
	int fd;
	bool armed;		/* in the relay's epoll set */
	void (*handler)(struct ifcvf_relay_src *src);
};

/*
 * A mediated queue (SW-assisted live migration): the device reads the
 * guest's descriptors but an avail ring and a used ring of the driver's;
 * the relay copies avail entries in and used entries out, logging every
 * page the device wrote. Guest index = shadow index + offset.
 */
struct ifcvf_shadow {
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_off;
	uint16_t used_off;
	uint16_t next_avail;	/* guest avail entries copied so far */
	uint16_t next_used;	/* guest used entries filled so far */
	struct ifcvf_relay_src irq;	/* the device's interrupt */
	bool on;
};

struct ifcvf_queue {
	struct ifcvf_internal *ifc;
	uint16_t qid;
	struct ifcvf_relay_src kick;	/* the guest's kick eventfd */
	uint64_t desc_gpa;		/* the guest's rings */
	uint64_t avail_gpa;
	uint64_t used_gpa;
	struct ifcvf_shadow sh;
	uint16_t used_base;	/* used->idx when counting (re)started */
	struct rte_vhost_vring vring;
	uint64_t stats[IFCVF_STAT_MAX];
};

/* A guest memory region mapped into the VF's IOMMU domain. */
struct ifcvf_dma_window {
	uint64_t vaddr;
	uint64_t iova;
	uint64_t len;
};

struct ifcvf_internal {
	TAILQ_ENTRY(ifcvf_internal) next;
	struct rte_device *rte_dev;
	struct rte_vdpa_device *vdev;
	const struct ifcvf_bus_ops *bus;
	void *bus_priv;
	struct ifcvf_hw hw;
	bool sw_lm;

	pthread_mutex_t lock;	/* everything below */
	int vid;
	bool configured;	/* dev_conf done, not yet closed */
	uint16_t nr_vring;
	struct ifcvf_queue q[IFCVF_MAX_QUEUES];
	struct ifcvf_dma_window *windows;
	unsigned int nr_windows;
	bool logging;		/* dirty pages are being logged */
	bool mediated;		/* queues run on shadow rings */
	bool stay_mediated;	/* no ring-state registers to leave them */
	struct ifcvf_dma_window lm_window; /* HW log, or the shadow rings */
	struct rte_vhost_memory *mem;	/* guest memory, while mediated */
	struct ifcvf_relay_src stats_tick; /* samples used indices */
	bool stats_ticking;	/* relay thread only: the timer runs */
	struct ifcvf_relay_src cfg;	/* the device's config interrupt */
};

/* ifcvf_vdpa.c */
int ifcvf_vdpa_register(struct ifcvf_internal *ifc);
void ifcvf_vdpa_unregister(struct ifcvf_internal *ifc);
struct ifcvf_internal *ifcvf_vdpa_find(struct rte_vdpa_device *vdev);
struct rte_kvargs *ifcvf_kvargs_parse(const char *dev, const char *args,
				      const char * const valid[]);
/* Parse sw-live-migration=0|1; -EINVAL with a message otherwise. */
int ifcvf_devarg_bool(const char *key, const char *value, void *out);

/*
 * ifcvf_lm.c: live migration. Before the device starts, ifcvf_lm_setup()
 * maps the dirty log for the VF (HW mode) or puts shadow rings under the
 * queues (SW mode); once it stopped, ifcvf_lm_drain() relays what is left
 * and logs the used rings, and ifcvf_lm_teardown() undoes the setup.
 */
bool ifcvf_lm_log_all(int vid);
bool ifcvf_lm_sw_mode(const struct ifcvf_internal *ifc);
int ifcvf_lm_setup(struct ifcvf_internal *ifc, bool log);
int ifcvf_lm_arm(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_lm_disarm(struct ifcvf_internal *ifc, uint16_t qid);
/* A kick on a shadow-ring queue: copy the guest's new avail entries. */
void ifcvf_lm_sync_avail(struct ifcvf_queue *q);
/*
 * What the relay does at a mediated queue's interrupt: copy the used
 * entries to the guest, logging them; returns how many (for bench_relay).
 */
uint16_t ifcvf_lm_relay_used(struct ifcvf_queue *q);
void ifcvf_lm_drain(struct ifcvf_internal *ifc);
void ifcvf_lm_teardown(struct ifcvf_internal *ifc);

/*
 * ifcvf_relay.c: one epoll thread serves the eventfds of every VF.
 * After ifcvf_relay_del() returns, the handler is not running and will
 * not run for @src again.
 */
int ifcvf_relay_add(struct ifcvf_relay_src *src);
void ifcvf_relay_del(struct ifcvf_relay_src *src);

#endif /* IFCVF_VDPA_H */
