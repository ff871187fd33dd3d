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

/*
 * What the driver refused, or found wrong with a device, per VF since
 * probe (telemetry's "errors"); each is logged where it is counted.
 */
enum ifcvf_err {
	IFCVF_ERR_BAD_RING,	/* a ring outside guest memory, or its size */
	IFCVF_ERR_BAD_MEMORY,	/* a memory table's region invalid or overlapping */
	IFCVF_ERR_QUEUES,	/* more queues than the device has */
	IFCVF_ERR_BAD_LOG,	/* no dirty log, or one the VF cannot write */
	IFCVF_ERR_CONFIG,	/* a GET_CONFIG or SET_CONFIG refused */
	IFCVF_ERR_OTHER_FRONTEND, /* a request of a connection not served */
	IFCVF_ERR_NEEDS_RESET,	/* the device stopped and needs a reset */
	IFCVF_ERR_MAX,
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
 *   ifcvf_vdpa_register() (ifcvf_bus_register()), read by every thread
 *   until unregister.
 * - Control: written by vhost's threads (the vDPA ops), read by them
 *   and by telemetry, under lock. Of these the relay reads vid, hw.features, mem and the queues'
 *   kick, sh and vring (its callfd): the control side changes
 *   them only while no relay source that reads them is armed (disarm,
 *   change, arm); the stats timer, armed throughout, touches a queue's
 *   sh and vring only once it found the queue's kick armed, under the
 *   relay's run lock. ifcvf_relay_add() takes the relay's run lock, which
 *   orders the writes before the handler's first run; once
 *   ifcvf_relay_del() returns, no handler runs.
 * - The relay's: stats_ticking while the stats timer is armed (the
 *   control side writes it only while the timer is disarmed, and the
 *   relay reads it only after it found the timer armed); the log fields
 *   while mediated (lm_log_follow() moves them to vhost's new log); the
 *   control side writes those only before the queues are armed and
 *   after they are disarmed.
 * - Atomics: the queues' notifier, used_base and stats, the VF's errors;
 *   and logging,
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
	/* Atomics: the control side and the relay add, telemetry reads. */
	uint64_t errors[IFCVF_ERR_MAX];

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

/* Count an error of @ifc's (any thread). */
static inline void
ifcvf_error(struct ifcvf_internal *ifc, enum ifcvf_err e)
{
	__atomic_fetch_add(&ifc->errors[e], 1, __ATOMIC_RELAXED);
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

/* MSI-X vectors: the config interrupt's, then one per queue. */
#define IFCVF_CONFIG_VECTOR	0
#define IFCVF_QUEUE_VECTOR(q)	((q) + 1)

static inline bool
ifcvf_is_blk(const struct ifcvf_internal *ifc)
{
	return ifc->hw.dev_type == IFCVF_DEV_BLK;
}

/*
 * ifcvf_dp.c: the VF's datapath, under ifc->lock. ifcvf_dp_start() maps
 * the guest's memory, routes the interrupts and starts the device on the
 * enabled queues of ifc->vring[] (nothing left taken after a failure);
 * ifcvf_dp_stop() stops it and hands every queue's ring state back to
 * vhost. ifcvf_dp_restart() stops and starts it again on the current
 * queues (live on an IFCVF's network queues), logging if @log, with
 * queue @add (>= 0) joining them; ifcvf_dp_restart_without() with queue
 * @qid leaving them, its state handed back, returning @err once the VF
 * runs. A restart that fails stops the VF. ifcvf_dp_log_switch() turns
 * dirty logging on or off on the running VF.
 */
uint64_t ifcvf_dp_served_features(const struct ifcvf_internal *ifc);
/* ifcvf_vdpa.c: the VF registered as a vDPA device (the PCI glue's). */
int ifcvf_vdpa_register(struct ifcvf_internal *ifc);

int ifcvf_dp_start(struct ifcvf_internal *ifc);
void ifcvf_dp_stop(struct ifcvf_internal *ifc);
int ifcvf_dp_restart(struct ifcvf_internal *ifc, bool log, int add);
int ifcvf_dp_restart_without(struct ifcvf_internal *ifc, uint16_t qid,
			     int err);
int ifcvf_dp_log_switch(struct ifcvf_internal *ifc, bool on);
/* Whether queue @qid's doorbell can be a host notifier. */
bool ifcvf_dp_notifier_ok(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_dp_notifiers_set(struct ifcvf_internal *ifc, bool on);
void ifcvf_dp_notifiers_sync(struct ifcvf_internal *ifc);

/*
 * ifcvf_queue.c: one queue, under ifc->lock. ifcvf_queue_from_vhost()
 * puts vhost's view of queue @qid (its rings in @mem, its base) into
 * ifc->vring[qid]; ifcvf_queue_arm() / _disarm() put its relay sources
 * on and off; ifcvf_queue_run() enables it on the running device and arms
 * it. ifcvf_queue_save_state() reads a stopped queue's ring state into
 * ifc->vring[qid], ifcvf_queue_hand_back() also gives it to vhost, and
 * ifcvf_queue_unpark() to a queue a reset stopped while parked.
 * ifcvf_queue_start() / _stop() serve vhost's SET_VRING_ENABLE on a
 * configured VF; ifcvf_queue_shrink() drops the queues past @nr.
 */
int ifcvf_queue_from_vhost(struct ifcvf_internal *ifc,
			   const struct rte_vhost_memory *mem, uint16_t qid);
int ifcvf_queue_arm(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_queue_disarm(struct ifcvf_internal *ifc, uint16_t qid);
int ifcvf_queue_run(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_queue_save_state(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_queue_hand_back(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_queue_unpark(struct ifcvf_internal *ifc, uint16_t qid);
int ifcvf_queue_start(struct ifcvf_internal *ifc, uint16_t qid);
int ifcvf_queue_stop(struct ifcvf_internal *ifc, uint16_t qid);
void ifcvf_queue_shrink(struct ifcvf_internal *ifc, uint16_t nr);

/*
 * ifcvf_irq.c: ifcvf_irq_route() routes every vector to where it belongs
 * now (the guest's call fd, the relay for a shadow-ring queue or the
 * config interrupt), ifcvf_irq_unroute() routes none. The config
 * interrupt is a relay source from ifcvf_irq_config_start() to _stop().
 */
int ifcvf_irq_route(struct ifcvf_internal *ifc);
void ifcvf_irq_unroute(struct ifcvf_internal *ifc);
int ifcvf_irq_config_start(struct ifcvf_internal *ifc);
void ifcvf_irq_config_stop(struct ifcvf_internal *ifc);

/*
 * ifcvf_blk.c: a block VF. ifcvf_blk_drain() waits (1 s at most in all)
 * for the requests in flight of every running queue before a reset,
 * ifcvf_blk_drain_queue() for one queue within the time left in
 * *@waited (ms); a queue still busy has its ring state taken from its
 * used ring. ifcvf_blk_config_changed() tells the frontend (relay
 * thread); the config ops serve GET_CONFIG and refuse SET_CONFIG.
 */
void ifcvf_blk_drain(struct ifcvf_internal *ifc);
void ifcvf_blk_drain_queue(struct ifcvf_internal *ifc, uint16_t qid,
			   unsigned int *waited);
void ifcvf_blk_config_changed(struct ifcvf_internal *ifc);
int ifcvf_blk_get_config(int vid, uint8_t *config, uint32_t size);
int ifcvf_blk_set_config(int vid, uint8_t *config, uint32_t offset,
			 uint32_t size, uint32_t flags);

/* ifcvf_vdpa.c: the vDPA ops, and the VF list (and ifcvf_bus.h). */
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
/* The VF serving connection @vid (NULL, logged: none). */
struct ifcvf_internal *ifcvf_vdpa_find_by_vid(int vid);

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
 * (nothing of it left after a failure) maps the dirty log for the VF (HW
 * mode) or puts shadow rings under the
 * queues (SW mode); once it stopped, ifcvf_lm_drain() relays what is left
 * and logs the used rings, and ifcvf_lm_teardown() undoes the setup.
 */
bool ifcvf_lm_log_all(int vid);
/* vhost has a log other than the one the VF logs into. */
bool ifcvf_lm_log_moved(struct ifcvf_internal *ifc);
bool ifcvf_lm_sw_mode(const struct ifcvf_internal *ifc);
int ifcvf_lm_setup(struct ifcvf_internal *ifc, bool log);
/* Undo a setup whose device never ran: ifc->vring[] as it was given. */
void ifcvf_lm_undo(struct ifcvf_internal *ifc);
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
