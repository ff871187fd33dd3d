/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * One queue of a running VF: from vhost's view of it to what the HW
 * layer is given (ifc->vring[]), its kick armed on the relay, its start
 * and stop while the others run, and its ring state handed back to vhost.
 * Under ifc->lock.
 */

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include <rte_vhost.h>

#include "ifcvf_vdpa.h"

int
ifcvf_queue_from_vhost(struct ifcvf_internal *ifc,
		       const struct rte_vhost_memory *mem, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];
	uint16_t size, max = ifcvf_hw_queue_size_max(&ifc->hw, qid);

	if (rte_vhost_get_vhost_vring(ifc->vid, qid, &q->vring) < 0)
		return -EINVAL;
	size = q->vring.size;
	if (size == 0 || (size & (size - 1)) != 0 || size > max) {
		IFCVF_LOG(ERR, "%s: queue %u: size %u is not a power of two <= %u",
			  ifc->rte_dev->name, qid, size, max);
		ifcvf_error(ifc, IFCVF_ERR_BAD_RING);
		return -EINVAL;
	}
	if (ifcvf_mem_ring_gpa(mem, &q->vring, vr) < 0) {
		IFCVF_LOG(ERR, "%s: queue %u: ring outside guest memory",
			  ifc->rte_dev->name, qid);
		ifcvf_error(ifc, IFCVF_ERR_BAD_RING);
		return -EINVAL;
	}
	q->desc_gpa = vr->desc;
	q->avail_gpa = vr->avail;
	q->used_gpa = vr->used;
	vr->size = size;
	vr->vector = IFCVF_QUEUE_VECTOR(qid);
	q->kick.fd = q->vring.kickfd;
	return rte_vhost_get_vring_base(ifc->vid, qid, &vr->last_avail_idx,
					&vr->last_used_idx);
}

/* A kick from the guest (copied to the shadow ring first): the doorbell. */
static void
queue_kick(struct ifcvf_relay_src *src)
{
	struct ifcvf_queue *q = container_of(src, struct ifcvf_queue, kick);

	if (q->sh.on)
		ifcvf_lm_sync_avail(q);
	ifcvf_hw_notify(&q->ifc->hw, q->qid);
	ifcvf_stat_add(q, IFCVF_STAT_KICKS, 1);
	/* The used ring is sampled by the stats timer, not per kick. */
	ifcvf_stats_tick_wake(q->ifc);
}

static uint16_t
queue_avail_idx(const struct ifcvf_queue *q)
{
	return __atomic_load_n(&q->vring.avail->idx, __ATOMIC_ACQUIRE);
}

/*
 * relay=poll: new avail entries ring the doorbell, whether the guest
 * kicked or not (its kick eventfd is not read).
 */
static bool
queue_kick_ready(struct ifcvf_relay_src *src)
{
	struct ifcvf_queue *q = container_of(src, struct ifcvf_queue, kick);
	uint16_t idx = queue_avail_idx(q);

	if (idx == q->kick_seen)
		return false;
	q->kick_seen = idx;
	return true;
}

int
ifcvf_queue_arm(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	int ret;

	/*
	 * Count from where the device starts, in the guest's terms, not from
	 * what guest memory says now: a guest resetting its rings may not
	 * have zeroed its used index yet.
	 */
	q->used_base = q->sh.on ? q->sh.next_used :
				  ifc->vring[qid].last_used_idx;
	q->kick.handler = queue_kick;
	q->kick.ready = queue_kick_ready;
	/* Polled, the first sweep rings once, as a kick at arming would. */
	q->kick_seen = queue_avail_idx(q) - 1;
	/* The shadow ring is synced here before the relay may sync it. */
	ret = ifcvf_lm_arm(ifc, qid);
	if (ret == 0)
		ret = ifcvf_relay_add(&q->kick);
	return ret;
}

/* Queue @qid's relay sources off: no handler runs for them once it returns. */
void
ifcvf_queue_disarm(struct ifcvf_internal *ifc, uint16_t qid)
{
	ifcvf_relay_del(&ifc->q[qid].kick);
	ifcvf_lm_disarm(ifc, qid);
}

/*
 * Enable queue @qid on the running device from ifc->vring[] and arm it; its
 * vector is routed and MQ set already.
 */
int
ifcvf_queue_run(struct ifcvf_internal *ifc, uint16_t qid)
{
	int ret;

	ret = ifcvf_hw_queue_enable(&ifc->hw, qid, &ifc->vring[qid]);
	if (ret == 0)
		ret = ifcvf_queue_arm(ifc, qid);
	return ret;
}

/*
 * The ring state of a stopped queue into ifc->vring[]: an IFCVF saved it in
 * its ring-state registers; a plain virtio VF completes in order and has
 * nothing in flight once stopped, so its used ring tells.
 */
void
ifcvf_queue_save_state(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->vring[qid];
	struct ifcvf_queue *q = &ifc->q[qid];

	if (!vr->enable && !q->parked)
		return;
	ifcvf_stats_count(q);
	/* A queue that did not stop has its registers lost with the reset. */
	if (!ifc->hw.has_lm || q->state_lost) {
		vr->last_used_idx = ifcvf_used_idx(q);
		vr->last_avail_idx = vr->last_used_idx;
	}
	q->state_lost = false;
}

/* Give vhost the ring state of a stopped queue. */
void
ifcvf_queue_hand_back(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->vring[qid];

	ifcvf_queue_save_state(ifc, qid);
	rte_vhost_set_vring_base(ifc->vid, qid, vr->last_avail_idx,
				 vr->last_used_idx);
}

/* A parked queue was stopped by a reset: hand its final state back. */
void
ifcvf_queue_unpark(struct ifcvf_internal *ifc, uint16_t qid)
{
	ifcvf_queue_hand_back(ifc, qid);
	ifc->q[qid].parked = false;
}

/* Queues past @nr are gone from vhost: none of them may start again. */
void
ifcvf_queue_shrink(struct ifcvf_internal *ifc, uint16_t nr)
{
	uint16_t qid;

	for (qid = nr; qid < ifc->nr_vring; qid++)
		ifc->vring[qid].enable = false;
	ifc->nr_vring = RTE_MIN(ifc->nr_vring, nr);
}

/* Stop queue @qid of the running device and hand its state back. */
int
ifcvf_queue_stop(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	int ret;

	/* Shadow rings are laid out for the set of enabled queues. */
	if (ifc->mediated)
		return ifcvf_dp_restart_without(ifc, qid, 0);
	ifcvf_queue_disarm(ifc, qid);
	if (!ifc->hw.has_lm) {
		/*
		 * A plain virtio 1.0 device cannot stop one queue
		 * (queue_enable is write-1): it stays parked, running without
		 * kicks, until it comes back on the same rings or a reset.
		 */
		ifcvf_queue_hand_back(ifc, qid);
		q->parked = true;
		ifc->vring[qid].enable = false;
		return 0;
	}
	if (ifcvf_is_blk(ifc)) {
		unsigned int waited = 0;

		ifcvf_blk_drain_queue(ifc, qid, &waited);
	}
	ret = ifcvf_hw_queue_disable(&ifc->hw, qid, &ifc->vring[qid]);
	if (ret == 0) {
		ifcvf_queue_hand_back(ifc, qid);
		ifc->vring[qid].enable = false;
		return 0;
	}
	/* Only a reset stops it; its state is read off the used ring. */
	q->state_lost = true;
	return ifcvf_dp_restart_without(ifc, qid, ret);
}

/* Queue @qid past the queues of dev_conf: vhost added it since. */
static int
queue_grow(struct ifcvf_internal *ifc, uint16_t qid)
{
	uint16_t nr = rte_vhost_get_vring_num(ifc->vid);

	if (qid >= nr || nr > ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: queue %u: the frontend has %u queues, the device %u",
			  ifc->rte_dev->name, qid, nr, ifc->hw.nr_vring);
		ifcvf_error(ifc, IFCVF_ERR_QUEUES);
		return -EINVAL;
	}
	ifc->nr_vring = nr;
	return 0;
}

static bool
queue_same_rings(const struct ifcvf_vring *a, const struct ifcvf_vring *b)
{
	return a->desc == b->desc && a->avail == b->avail &&
	       a->used == b->used && a->size == b->size;
}

/* A parked queue back on its rings: new fds, and the kicks it missed. */
static int
queue_unpark_running(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	int ret;

	q->parked = false;
	ret = ifcvf_irq_route(ifc);
	if (ret == 0)
		ret = ifcvf_queue_arm(ifc, qid);
	if (ret < 0)
		return ret;
	ifcvf_hw_notify(&ifc->hw, qid);
	/* A completion signalled to a replaced call fd is not lost. */
	eventfd_write(q->vring.callfd, 1);
	return 0;
}

/* Program queue @qid into the running device and arm its kick. */
static int
queue_program(struct ifcvf_internal *ifc, uint16_t qid)
{
	int ret;

	ret = ifcvf_irq_route(ifc);
	if (ret == 0) {
		ifcvf_hw_set_mq(&ifc->hw, ifc->vring);
		ret = ifcvf_queue_run(ifc, qid);
	}
	return ret;
}

static bool
queue_same_base(const struct ifcvf_vring *a, const struct ifcvf_vring *b)
{
	return a->last_avail_idx == b->last_avail_idx &&
	       a->last_used_idx == b->last_used_idx;
}

/* A queue that failed to start is not running: undo what was done. */
static void
queue_unstart(struct ifcvf_internal *ifc, uint16_t qid)
{
	ifcvf_queue_disarm(ifc, qid);
	if (ifc->hw.has_lm)
		ifcvf_hw_queue_disable(&ifc->hw, qid, &ifc->vring[qid]);
	ifc->vring[qid].enable = false;
	ifcvf_hw_set_mq(&ifc->hw, ifc->vring);
}

/*
 * Start queue @qid on the running device, from what vhost holds for it
 * (ifcvf_queue_from_vhost): the rings, the base. A parked queue resumes
 * in place only if neither changed since it was parked.
 */
int
ifcvf_queue_start(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];
	struct rte_vhost_memory *mem = NULL;
	struct ifcvf_vring was = *vr;
	bool was_parked = q->parked;
	int ret;

	if (qid >= ifc->nr_vring && queue_grow(ifc, qid) < 0)
		return -EINVAL;
	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	ret = ifcvf_queue_from_vhost(ifc, mem, qid);
	free(mem);
	if (ret < 0)
		return ret;
	if (was_parked && queue_same_rings(vr, &was) &&
	    queue_same_base(vr, &was)) {
		vr->enable = true;
		ret = queue_unpark_running(ifc, qid);
		if (ret < 0) {
			vr->enable = false;
			q->parked = true;
		}
		return ret;
	}
	/* The frontend set the queue anew: the parked state is not its. */
	q->parked = false;
	/*
	 * Shadow rings have a layout per set of queues (and SW logging needs
	 * them); a VF without ring-state registers needs them to start a
	 * used ring past 0, and a reset to take a parked queue off its old
	 * rings.
	 */
	if (ifc->mediated || was_parked ||
	    (ifc->logging && ifcvf_lm_sw_mode(ifc)) ||
	    (!ifc->hw.has_lm && (vr->last_avail_idx | vr->last_used_idx)))
		return ifcvf_dp_restart(ifc, ifc->logging, qid);
	vr->enable = true;
	ret = queue_program(ifc, qid);
	if (ret < 0)
		queue_unstart(ifc, qid);
	return ret;
}
