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
#include <sys/queue.h>

#include <dev_driver.h>
#include <rte_kvargs.h>
#include <rte_vdpa.h>
#include <rte_vhost.h>
#include <linux/virtio_ring.h>

#include "ifcvf_bus.h"
#include "ifcvf_hw.h"
#include "ifcvf_osdep.h"

#define IFCVF_DEVARG_VDPA	"vdpa"
#define IFCVF_DEVARG_SW_LM	"sw-live-migration"
#define IFCVF_DEVARG_RELAY	"relay"
#define IFCVF_DEVARG_RELAY_CORE	"relay-core"

/* A bit of vhost's dirty log stands for a page of this size. */
#define IFCVF_LOG_PAGE		4096

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
	bool armed;		/* served by the relay */
	bool polled;		/* on the relay's polled list, not its fd */
	void (*handler)(struct ifcvf_relay_src *src);
	/*
	 * Optional: with relay=poll the relay calls it on every sweep
	 * instead of watching fd, and the handler when it says there is
	 * work (new avail entries, say). Relay thread only.
	 */
	bool (*ready)(struct ifcvf_relay_src *src);
	TAILQ_ENTRY(ifcvf_relay_src) next;	/* the polled list */
};

/* How the relay thread waits and where it runs: relay=, relay-core=. */
struct ifcvf_relay_conf {
	bool given;		/* either devarg was given */
	bool poll;		/* relay=poll: never sleeps */
	bool pinned;		/* relay-core= was given */
	unsigned int cpu;	/* the CPU it is pinned to */
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

/* A queue of a VF; struct ifcvf_internal says who writes what. */
struct ifcvf_queue {
	/* Fixed at registration. */
	struct ifcvf_internal *ifc;
	uint16_t qid;

	/* Control, under ifc->lock; the relay reads kick, sh and vring. */
	struct ifcvf_relay_src kick;	/* the guest's kick eventfd */
	uint16_t kick_seen;	/* relay=poll: the avail index last rung */
	uint64_t desc_gpa;		/* the guest's rings */
	uint64_t avail_gpa;
	uint64_t used_gpa;
	struct ifcvf_shadow sh;	/* next_avail/next_used: the relay's, armed */
	bool parked;		/* disabled, but running: no single-queue stop */
	bool state_lost;	/* did not stop: ring state from the used ring */
	bool notifier_refused;	/* the frontend said no, on this connection */
	struct rte_vhost_vring vring;	/* callfd: the relay signals it */

	/* Atomics: any thread. */
	bool notifier;		/* the frontend was offered the doorbell */
	uint16_t used_base;	/* used->idx when counting (re)started */
	uint64_t stats[IFCVF_STAT_MAX];	/* the relay adds, get/reset_stats */
};

/* A guest memory region mapped into the VF's IOMMU domain. */
struct ifcvf_dma_window {
	uint64_t vaddr;
	uint64_t iova;
	uint64_t len;
};

/*
 * One VF. Who writes each group, and how the relay thread, which never
 * takes ifc->lock, reads what the control side changes:
 *
 * - Fixed after probe: written by the bus glue before
 *   ifcvf_vdpa_register(), read by every thread until unregister.
 * - Control: written by vhost's threads (the vDPA ops), read by them
 *   and by telemetry, under lock. Of these the relay reads vid, hw.features, mem and the queues'
 *   kick, sh and vring (its callfd): the control side changes
 *   them only while no relay source that reads them is armed (disarm,
 *   change, arm); the stats timer, armed throughout, touches a queue's
 *   sh and vring only once it found the queue's kick armed, under the
 *   relay's run lock. ifcvf_relay_add() takes the relay's run lock, which
 *   orders the writes before the handler's first run; once
 *   ifcvf_relay_del() returns, no handler runs.
 * - The relay's: stats_ticking (cleared by the control side once the
 *   timer is disarmed); the log fields while mediated
 *   (log_follow() moves them to vhost's new log); the control side
 *   writes those only before the queues are armed and after they are
 *   disarmed.
 * - Atomics: the queues' notifier, used_base and stats; and logging,
 *   which the relay loads atomically, and only for mediated queues: the
 *   control side writes it with those disarmed, except a cancel on a VF
 *   that stays mediated (an atomic store while the relay runs). HW mode
 *   switches logging, and the log fields, on the running VF: no queue is
 *   mediated then, so the relay reads neither.
 *
 * Lock order: ifcvf_use_lock (a telemetry reply), ifc->lock, the relay's
 * ctl then run locks.
 */
struct ifcvf_internal {
	/* Fixed after probe (next: the VF list's lock). */
	TAILQ_ENTRY(ifcvf_internal) next;
	struct rte_device *rte_dev;
	struct rte_vdpa_device *vdev;
	const struct ifcvf_bus_ops *bus;
	void *bus_priv;
	bool sw_lm;
	struct ifcvf_relay_conf relay_conf;	/* the bus glue parses it */

	/* Control, under lock (hw: its registers' mapping is fixed). */
	pthread_mutex_t lock;
	struct ifcvf_hw hw;
	int vid;
	bool configured;	/* dev_conf done, not yet closed */
	uint16_t nr_vring;
	/*
	 * The queues as the device is to run them (the HW layer is given
	 * them, and writes back only the ring state it reads at a stop).
	 */
	struct ifcvf_vring vring[IFCVF_MAX_QUEUES];
	struct ifcvf_queue q[IFCVF_MAX_QUEUES];
	struct ifcvf_dma_window *windows;
	unsigned int nr_windows;
	bool mediated;		/* queues run on shadow rings */
	bool stay_mediated;	/* no ring-state registers to leave them */
	struct ifcvf_dma_window lm_window; /* HW log, or the shadow rings */
	struct rte_vhost_memory *mem;	/* guest memory, while mediated */
	struct ifcvf_relay_src stats_tick; /* samples used indices */
	struct ifcvf_relay_src cfg;	/* the device's config interrupt */
	int irq_route[IFCVF_MAX_QUEUES + 1];	/* vector -> fd, as routed */
	uint16_t nr_irq_route;
	/* Since probe, for telemetry: what was made of the VF. */
	uint64_t nr_configures;		/* configured for a frontend */
	uint64_t nr_closes;		/* datapath torn down (close, failure) */
	uint64_t nr_shadow_setups;	/* queues put onto shadow rings */
	uint64_t nr_hw_log_setups;	/* the VF set to log dirty pages */
	uint64_t nr_drain_abandoned;	/* blk requests a stop gave up on */

	/* Dirty pages are being logged (see the atomics above). */
	bool logging;

	/* The log: control, then the relay's while mediated. */
	uint8_t *log;		/* vhost's dirty bitmap, while logging */
	uint64_t log_size;
	uint64_t log_vhost_base; /* the base vhost reported for it */
	void *log_map;		/* the driver's own mapping of its pages */
	size_t log_map_len;

	/* The relay's. */
	bool stats_ticking;	/* the timer runs */
};

/* Counters are bumped by the relay and read or reset by any thread. */
static inline void
ifcvf_stat_add(struct ifcvf_queue *q, enum ifcvf_stat s, uint64_t n)
{
	__atomic_fetch_add(&q->stats[s], n, __ATOMIC_RELAXED);
}

/* The guest's used index of a running queue. */
static inline uint16_t
ifcvf_used_idx(const struct ifcvf_queue *q)
{
	return __atomic_load_n(&q->vring.used->idx, __ATOMIC_ACQUIRE);
}

/*
 * ifcvf_stats.c: per-queue statistics. ifcvf_stats_count() adds the used
 * entries since its last call to the completed count (true: some); the
 * tick, a relay source, samples every armed queue between kicks and
 * sleeps once they are quiet, until a kick wakes it. The three vDPA stats
 * ops take the VF's lock.
 */
extern const char * const ifcvf_stat_names[IFCVF_STAT_MAX];
bool ifcvf_stats_count(struct ifcvf_queue *q);
void ifcvf_stats_tick_start(struct ifcvf_internal *ifc);
void ifcvf_stats_tick_stop(struct ifcvf_internal *ifc);
void ifcvf_stats_tick_wake(struct ifcvf_internal *ifc);
/*
 * Control side, queues armed on shadow rings: the timer ticks again (it
 * may have stopped on a quiet VF), as ifcvf_lm_tick() needs.
 */
void ifcvf_stats_tick_rearm(struct ifcvf_internal *ifc);
int ifcvf_stats_names(struct rte_vdpa_device *vdev,
		      struct rte_vdpa_stat_name *names, unsigned int size);
int ifcvf_stats_get(struct rte_vdpa_device *vdev, int qid,
		    struct rte_vdpa_stat *stats, unsigned int n);
int ifcvf_stats_reset(struct rte_vdpa_device *vdev, int qid);

/* ifcvf_vdpa.c (and the bus interface, ifcvf_bus.h) */
/*
 * The VF of that device name, kept registered until ifcvf_vdpa_put()
 * (NULL: none, nothing to put).
 */
struct ifcvf_internal *ifcvf_vdpa_get(const char *name);
void ifcvf_vdpa_put(void);
/* Call @fn for every registered VF, under the list's lock. */
void ifcvf_vdpa_foreach(void (*fn)(struct ifcvf_internal *ifc, void *arg),
			void *arg);
struct ifcvf_internal *ifcvf_vdpa_find(struct rte_vdpa_device *vdev);

/*
 * ifcvf_mem.c: guest memory. ifcvf_mem_check() refuses an empty, wrapping
 * or overlapping region; ifcvf_mem_ring_gpa() puts the guest physical
 * addresses of @vring's rings, each inside one region, into @vr;
 * ifcvf_mem_map() maps every region for the VF (a DMA window each, none
 * left after a failure), ifcvf_mem_unmap() unmaps them.
 */
int ifcvf_mem_check(const struct rte_vhost_memory *mem);
int ifcvf_mem_ring_gpa(const struct rte_vhost_memory *mem,
		       const struct rte_vhost_vring *vring,
		       struct ifcvf_vring *vr);
int ifcvf_mem_map(struct ifcvf_internal *ifc,
		  const struct rte_vhost_memory *mem);
void ifcvf_mem_unmap(struct ifcvf_internal *ifc);

/*
 * ifcvf_lm.c: live migration. Before the device starts, ifcvf_lm_setup()
 * maps the dirty log for the VF (HW mode) or puts shadow rings under the
 * queues (SW mode); once it stopped, ifcvf_lm_drain() relays what is left
 * and logs the used rings, and ifcvf_lm_teardown() undoes the setup.
 */
bool ifcvf_lm_log_all(int vid);
/* vhost has a log other than the one the VF logs into. */
bool ifcvf_lm_log_moved(struct ifcvf_internal *ifc);
bool ifcvf_lm_sw_mode(const struct ifcvf_internal *ifc);
int ifcvf_lm_setup(struct ifcvf_internal *ifc, bool log);
/*
 * HW mode, on the running device: the VF starts (@on) or stops logging
 * into vhost's log; nothing of it is left set up after a failure.
 */
int ifcvf_lm_hw_log(struct ifcvf_internal *ifc, bool on);
int ifcvf_lm_arm(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_lm_disarm(struct ifcvf_internal *ifc, uint16_t qid);
/* A kick on a shadow-ring queue: copy the guest's new avail entries. */
void ifcvf_lm_sync_avail(struct ifcvf_queue *q);
/*
 * The relay's timer (every stats tick): what the guest made available on
 * a shadow-ring queue without a kick the relay saw goes to the device.
 * With EVENT_IDX a guest whose store of its avail index and load of
 * avail_event are not ordered against the relay's (as a TCG guest's
 * seemed not to be) skips a kick it owed, and then every later one: the
 * queue would wait forever. True while an armed queue is on shadow
 * rings: the timer keeps ticking.
 */
bool ifcvf_lm_tick(struct ifcvf_internal *ifc);
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

/* The relay thread, for telemetry. */
struct ifcvf_relay_info {
	unsigned int sources;		/* armed; 0: no thread */
	bool running;		/* a thread serves them (none left on an error) */
	struct ifcvf_relay_conf conf;	/* it runs with, or would start with */
};
void ifcvf_relay_get_info(struct ifcvf_relay_info *info);
/*
 * A VF's relay conf, held until ifcvf_relay_release(): refused when it
 * differs from an earlier VF's or from the running thread's (-EINVAL,
 * -EBUSY, logged). A conf without either devarg takes whatever runs.
 */
int ifcvf_relay_claim(const char *dev, const struct ifcvf_relay_conf *conf);
void ifcvf_relay_release(const struct ifcvf_relay_conf *conf);

#endif /* IFCVF_VDPA_H */
