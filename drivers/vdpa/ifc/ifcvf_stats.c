/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * Per-queue statistics: the counters (rte_vdpa_get_stats), the completed
 * entries counted off the guest's used index, and the relay's timer that
 * samples it between kicks.
 */

#include <stdbool.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_string_fns.h>
#include <vdpa_driver.h>

#include "ifcvf_vdpa.h"

const char * const ifcvf_stat_names[IFCVF_STAT_MAX] = {
	[IFCVF_STAT_COMPLETED] = "completed_descriptors",
	[IFCVF_STAT_KICKS] = "kicks_relayed",
	[IFCVF_STAT_IRQS] = "interrupts_relayed",
	[IFCVF_STAT_RELAYED] = "used_entries_relayed",
};

/*
 * Add the used entries since the last call to the completed count. The
 * relay calls it at every stats tick, the control thread at every stop
 * and get_stats at every query, so the 16-bit used index is sampled
 * (with a CPU to run on) before it wraps; the exchange makes each entry
 * count once whichever thread gets there first.
 */
bool
ifcvf_stats_count(struct ifcvf_queue *q)
{
	uint16_t base = __atomic_load_n(&q->used_base, __ATOMIC_RELAXED);
	uint16_t now = ifcvf_used_idx(q);

	if (base != now &&
	    __atomic_compare_exchange_n(&q->used_base, &base, now, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		ifcvf_stat_add(q, IFCVF_STAT_COMPLETED, (uint16_t)(now - base));
	return base != now;
}

/* How often the relay samples the used indices of a configured VF. */
#define IFCVF_STATS_TICK_NS	(10 * 1000 * 1000)

/*
 * The device may complete 65536 entries between two kicks (nothing kicks
 * a queue the device is still busy with), so the relay also samples the
 * used index of every armed queue on a timer.
 */
static void
stats_tick_set(struct ifcvf_internal *ifc, bool on)
{
	const struct itimerspec its = {
		.it_interval = { .tv_nsec = on ? IFCVF_STATS_TICK_NS : 0 },
		.it_value = { .tv_nsec = on ? IFCVF_STATS_TICK_NS : 0 },
	};

	if (timerfd_settime(ifc->stats_tick.fd, 0, &its, NULL) == 0)
		ifc->stats_ticking = on;
}

/* Sample while entries complete; sleep from the first quiet tick on. */
static void
stats_tick(struct ifcvf_relay_src *src)
{
	struct ifcvf_internal *ifc =
		container_of(src, struct ifcvf_internal, stats_tick);
	bool moved = false, keep = false;
	uint16_t qid;

	/* nr_vring is the control thread's: every queue, armed or not. */
	for (qid = 0; qid < ifc->hw.nr_vring; qid++) {
		if (ifc->q[qid].kick.armed)
			moved |= ifcvf_stats_count(&ifc->q[qid]);
		keep |= __atomic_load_n(&ifc->q[qid].notifier,
					__ATOMIC_RELAXED);
	}
	/*
	 * Kicks that bypass the relay cannot wake the timer, and a kick a
	 * guest skipped on shadow rings needs it: it runs on.
	 */
	if (ifcvf_lm_tick(ifc))
		keep = true;
	if (!moved && !keep)
		stats_tick_set(ifc, false);
}

/*
 * A kick (relay thread, under its run lock): traffic again, wake the
 * sampler. armed first: stats_ticking is the relay's only while the timer
 * is armed, and the control side writes it while the timer is disarmed
 * (a rearm) and the queues' kicks still run.
 */
void
ifcvf_stats_tick_wake(struct ifcvf_internal *ifc)
{
	if (ifc->stats_tick.armed && !ifc->stats_ticking)
		stats_tick_set(ifc, true);
}

/* The timer set ticking, then armed (ifcvf_relay_add orders the two). */
static void
stats_tick_arm(struct ifcvf_internal *ifc)
{
	struct ifcvf_relay_src *src = &ifc->stats_tick;

	if (src->fd >= 0)
		stats_tick_set(ifc, true);
	if (src->fd < 0 || ifcvf_relay_add(src) < 0) {
		IFCVF_LOG(WARNING, "%s: no stats timer, completed_descriptors may miss 64Ki wraps",
			  ifc->rte_dev->name);
		if (src->fd >= 0)
			close(src->fd);
		src->fd = -1;
		ifc->stats_ticking = false;
	}
}

void
ifcvf_stats_tick_start(struct ifcvf_internal *ifc)
{
	struct ifcvf_relay_src *src = &ifc->stats_tick;

	src->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	src->handler = stats_tick;
	stats_tick_arm(ifc);
}

void
ifcvf_stats_tick_rearm(struct ifcvf_internal *ifc)
{
	if (!ifc->stats_tick.armed)
		return;
	ifcvf_relay_del(&ifc->stats_tick);
	stats_tick_arm(ifc);
}

void
ifcvf_stats_tick_stop(struct ifcvf_internal *ifc)
{
	if (!ifc->stats_tick.armed)
		return;
	ifcvf_relay_del(&ifc->stats_tick);
	close(ifc->stats_tick.fd);
	ifc->stats_tick.fd = -1;
	ifc->stats_ticking = false;
}

int
ifcvf_stats_names(struct rte_vdpa_device *vdev __rte_unused,
		      struct rte_vdpa_stat_name *names, unsigned int size)
{
	unsigned int i;

	if (names == NULL)
		return IFCVF_STAT_MAX;
	for (i = 0; i < RTE_MIN(size, (unsigned int)IFCVF_STAT_MAX); i++)
		strlcpy(names[i].name, ifcvf_stat_names[i], sizeof(names[i].name));
	return IFCVF_STAT_MAX;
}

/* Queue @qid of @vdev's VF, NULL if there is none. */
static struct ifcvf_queue *
stats_queue(struct rte_vdpa_device *vdev, int qid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL || qid < 0 || qid >= ifc->hw.nr_vring)
		return NULL;
	return &ifc->q[qid];
}

/* The queue runs on the guest's used ring (under the VF's lock). */
static bool
stats_queue_running(const struct ifcvf_queue *q)
{
	return q->ifc->configured && q->ifc->vring[q->qid].enable;
}

int
ifcvf_stats_get(struct rte_vdpa_device *vdev, int qid,
		struct rte_vdpa_stat *stats, unsigned int n)
{
	struct ifcvf_queue *q = stats_queue(vdev, qid);
	unsigned int i;

	if (q == NULL)
		return -1;
	pthread_mutex_lock(&q->ifc->lock);
	if (stats_queue_running(q))
		ifcvf_stats_count(q);
	for (i = 0; i < RTE_MIN(n, (unsigned int)IFCVF_STAT_MAX); i++) {
		stats[i].id = i;
		stats[i].value = __atomic_load_n(&q->stats[i], __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&q->ifc->lock);
	return i;
}

int
ifcvf_stats_reset(struct rte_vdpa_device *vdev, int qid)
{
	struct ifcvf_queue *q = stats_queue(vdev, qid);
	unsigned int i;

	if (q == NULL)
		return -1;
	pthread_mutex_lock(&q->ifc->lock);
	for (i = 0; i < IFCVF_STAT_MAX; i++)
		__atomic_store_n(&q->stats[i], 0, __ATOMIC_RELAXED);
	if (stats_queue_running(q))
		__atomic_store_n(&q->used_base, ifcvf_used_idx(q),
				 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&q->ifc->lock);
	return 0;
}
