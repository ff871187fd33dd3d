/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The VF's datapath as a whole: started at dev_conf (guest memory mapped,
 * the config interrupt, the device), paused and resumed around a
 * reconfiguration (live on an IFCVF's network queues, else by a reset),
 * stopped at dev_close. Each start is undone by the stop of its own
 * level, from whatever point it reached: dp_pause() for dp_resume(),
 * dp_release() for ifcvf_dp_start(). Under ifc->lock.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_eal_paging.h>
#include <rte_vhost.h>
#include <vdpa_driver.h>

#include "ifcvf_vdpa.h"

/* Device features the driver can serve; the rest are masked. */
#define IFCVF_DEVICE_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_F_ANY_LAYOUT) | \
	(1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VIRTIO_NET_F_STATUS) | \
	(1ULL << VIRTIO_NET_F_MQ) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_NET_F_CSUM) | \
	(1ULL << VIRTIO_NET_F_GUEST_CSUM) | \
	(1ULL << VIRTIO_NET_F_HOST_TSO4) | \
	(1ULL << VIRTIO_NET_F_HOST_TSO6) | \
	(1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
	(1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
	(1ULL << VIRTIO_NET_F_CTRL_VQ) | \
	(1ULL << VIRTIO_NET_F_MTU))

/* A block device's: its datapath is the device's, the config relayed. */
#define IFCVF_BLK_DEVICE_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_F_ANY_LAYOUT) | \
	(1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	(1ULL << VIRTIO_BLK_F_SIZE_MAX) | \
	(1ULL << VIRTIO_BLK_F_SEG_MAX) | \
	(1ULL << VIRTIO_BLK_F_GEOMETRY) | \
	(1ULL << VIRTIO_BLK_F_RO) | \
	(1ULL << VIRTIO_BLK_F_BLK_SIZE) | \
	(1ULL << VIRTIO_BLK_F_FLUSH) | \
	(1ULL << VIRTIO_BLK_F_TOPOLOGY) | \
	(1ULL << VIRTIO_BLK_F_MQ))

/* The device features the driver serves for this VF's type. */
uint64_t
ifcvf_dp_served_features(const struct ifcvf_internal *ifc)
{
	return ifcvf_is_blk(ifc) ? IFCVF_BLK_DEVICE_FEATURES :
				   IFCVF_DEVICE_FEATURES;
}

static uint64_t
dp_features(struct ifcvf_internal *ifc)
{
	uint64_t features = 0;

	rte_vhost_get_negotiated_features(ifc->vid, &features);
	/* IOVA is guest physical: the device translates through its IOMMU. */
	return (features & ifcvf_dp_served_features(ifc)) |
	       (1ULL << VIRTIO_F_ACCESS_PLATFORM);
}

static int
dp_map_guest(struct ifcvf_internal *ifc)
{
	struct rte_vhost_memory *mem = NULL;
	uint16_t qid;
	int ret;

	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	ret = ifcvf_mem_check(mem);
	if (ret < 0)
		ifcvf_error(ifc, IFCVF_ERR_BAD_MEMORY);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++)
		if (ifc->vring[qid].enable)
			ret = ifcvf_queue_from_vhost(ifc, mem, qid);
	if (ret == 0)
		ret = ifcvf_mem_map(ifc, mem);
	free(mem);
	return ret;
}

static void
dp_disarm(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		ifcvf_queue_disarm(ifc, qid);
}

/*
 * Stop the device that dp_resume() started, in reverse order, from
 * whatever point it reached (each step undoes only what was done): the
 * relay off the queues, the device reset, its vectors routed nowhere
 * before the shadow rings' interrupt fds close, the live-migration set-up
 * undone. Each enabled queue's ring state, in the guest's terms and with
 * the guest's ring addresses, is left in ifc->vring[].
 */
static void
dp_pause(struct ifcvf_internal *ifc)
{
	uint64_t lost = 0;
	uint16_t qid;

	if (ifcvf_is_blk(ifc))
		ifcvf_blk_drain(ifc);
	dp_disarm(ifc);
	if (ifcvf_hw_stop(&ifc->hw, ifc->vring, &lost) < 0)
		IFCVF_LOG(ERR, "%s: the device did not stop cleanly",
			  ifc->rte_dev->name);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		ifc->q[qid].state_lost |= (lost >> qid) & 1;
	ifcvf_irq_unroute(ifc);
	ifcvf_lm_drain(ifc);
	ifcvf_lm_teardown(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++) {
		ifcvf_queue_save_state(ifc, qid);
		/* The reset stopped a parked queue: its final state. */
		if (ifc->q[qid].parked)
			ifcvf_queue_unpark(ifc, qid);
	}
}

/*
 * Start the device on ifc->vring[], logging dirty pages if @log. A failure
 * before the device ran leaves ifc->vring[] as it was given (nothing ran
 * to move it); once it ran, dp_pause() reads where it got to.
 */
static int
dp_resume(struct ifcvf_internal *ifc, bool log)
{
	uint16_t qid;
	int ret;

	ret = ifcvf_lm_setup(ifc, log);
	if (ret < 0)
		return ret;
	ret = ifcvf_irq_route(ifc);
	if (ret < 0)
		goto lm_undo;
	ifc->hw.config_vector = IFCVF_CONFIG_VECTOR;
	/* A start that fails resets the device. */
	ret = ifcvf_hw_start(&ifc->hw, dp_features(ifc), ifc->vring);
	if (ret < 0)
		goto unroute;
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++)
		if (ifc->vring[qid].enable)
			ret = ifcvf_queue_arm(ifc, qid);
	if (ret < 0)
		goto pause;
	if (ifc->mediated)
		ifcvf_stats_tick_rearm(ifc);
	return 0;

pause:
	dp_pause(ifc);
	return ret;
unroute:
	ifcvf_irq_unroute(ifc);
lm_undo:
	ifcvf_lm_undo(ifc);
	return ret;
}

/*
 * Host notifiers: a frontend that maps a queue's doorbell kicks the
 * device directly, past the relay. Offered only for a doorbell with a
 * page of its own, and only while the queues run on the guest's rings:
 * withdrawn before they move onto shadow rings, whose kicks the relay
 * must see. Under ifc->lock (vhost's get_notify_area takes none).
 */
bool
ifcvf_dp_notifier_ok(struct ifcvf_internal *ifc, uint16_t qid)
{
	return ifc->bus->notify_area != NULL &&
	       ifcvf_hw_doorbell_page_own(&ifc->hw, qid, rte_mem_page_size());
}

void
ifcvf_dp_notifiers_set(struct ifcvf_internal *ifc, bool on)
{
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++) {
		struct ifcvf_queue *q = &ifc->q[qid];

		if (q->notifier == on || (on && (q->notifier_refused ||
		    !ifcvf_dp_notifier_ok(ifc, qid) ||
		    !ifc->vring[qid].enable)))
			continue;
		if (rte_vhost_host_notifier_ctrl(ifc->vid, qid, on) != 0) {
			/* Refused (or not negotiated): not again on this connection. */
			if (on)
				IFCVF_LOG(INFO, "%s: queue %u: no host notifier, kicks go through the relay",
					  ifc->rte_dev->name, qid);
			q->notifier_refused |= on;
			continue;
		}
		__atomic_store_n(&q->notifier, on, __ATOMIC_RELAXED);
	}
}

/* Offer the notifiers the current mode allows (after a reconfiguration). */
void
ifcvf_dp_notifiers_sync(struct ifcvf_internal *ifc)
{
	ifcvf_dp_notifiers_set(ifc, ifc->configured && !ifc->mediated);
}

/*
 * Release what ifcvf_dp_start() took around the device, in reverse order,
 * from any point of it: each step undoes only what was done. The device
 * is stopped (dp_pause(), or a dp_resume() that failed).
 */
static void
dp_release(struct ifcvf_internal *ifc)
{
	ifcvf_stats_tick_stop(ifc);
	ifcvf_mem_unmap(ifc);
	ifcvf_irq_config_stop(ifc);
	ifc->stay_mediated = false;
	ifc->configured = false;
	ifc->nr_closes++;
}

/* Stop the running device and hand every queue's ring state back. */
void
ifcvf_dp_stop(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	dp_pause(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->vring[qid].enable)
			rte_vhost_set_vring_base(ifc->vid, qid,
						 ifc->vring[qid].last_avail_idx,
						 ifc->vring[qid].last_used_idx);
	dp_release(ifc);
}

int
ifcvf_dp_start(struct ifcvf_internal *ifc)
{
	int ret;

	ret = ifcvf_irq_config_start(ifc);
	if (ret == 0)
		ret = dp_map_guest(ifc);
	if (ret == 0) {
		/* Before the kicks that wake it are armed. */
		ifcvf_stats_tick_start(ifc);
		ret = dp_resume(ifc, ifcvf_lm_log_all(ifc->vid));
	}
	if (ret < 0) {
		dp_release(ifc);
		return ret;
	}
	ifc->configured = true;
	ifc->nr_configures++;
	return 0;
}

/*
 * A reconfiguration failed half-way: the device is reset. Tear the rest
 * down, hand the ring state saved at the pause back to vhost: the VF is
 * stopped (never "configured" on a reset device) until vhost configures
 * it again.
 */
static int
dp_fail(struct ifcvf_internal *ifc, int err)
{
	IFCVF_LOG(ERR, "%s: reconfiguration failed (%s), the device is stopped",
		  ifc->rte_dev->name, strerror(-err));
	ifcvf_dp_stop(ifc);
	return err;
}

/*
 * An IFCVF stops its network queues one at a time, the device left
 * running: each enabled queue's ring state, in the guest's terms, into
 * ifc->vring[], as dp_pause puts it, and nothing the VF holds dropped.
 * False: a queue did not stop (only a reset stops it).
 */
static bool
dp_pause_queues(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	dp_disarm(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->vring[qid].enable &&
		    ifcvf_hw_queue_disable(&ifc->hw, qid, &ifc->vring[qid]) < 0)
			return false;
	ifcvf_lm_drain(ifc);
	ifcvf_lm_teardown(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		ifcvf_queue_save_state(ifc, qid);
	return true;
}

/*
 * dp_resume on the running VF: each enabled queue programmed from
 * ifc->vring[] and started again. A failure leaves what dp_pause (of
 * dp_fail) reads right: the ring state of every queue not started.
 */
static int
dp_resume_queues(struct ifcvf_internal *ifc, bool log)
{
	uint16_t qid;
	int ret;

	ret = ifcvf_lm_setup(ifc, log);
	if (ret == 0)
		ret = ifcvf_irq_route(ifc);
	ifcvf_hw_set_mq(&ifc->hw, ifc->vring);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++) {
		if (!ifc->vring[qid].enable)
			continue;
		ret = ifcvf_queue_run(ifc, qid);
		/*
		 * What the guest made available while the queue was off (on
		 * shadow rings, ifcvf_queue_arm synced and rang it).
		 */
		if (ret == 0 && !ifc->q[qid].sh.on)
			ifcvf_hw_notify(&ifc->hw, qid);
	}
	if (ret == 0 && ifc->mediated)
		ifcvf_stats_tick_rearm(ifc);
	return ret;
}

/*
 * Whether a reconfiguration may keep the VF running: an IFCVF's network
 * queues, on the features the VF was started with (a reset negotiates
 * new ones). A block request the drain gave up on is carried out again
 * only after a reset, which makes the device forget it.
 */
static bool
dp_may_restart_live(struct ifcvf_internal *ifc)
{
	return ifc->hw.has_lm && !ifcvf_is_blk(ifc) &&
	       dp_features(ifc) == ifc->hw.features;
}

/*
 * Stop the queues for a reconfiguration: one at a time if @live and the
 * VF allows it, the VF left running; else, or if a queue does not stop,
 * by a reset. True: the VF still runs.
 */
static bool
dp_pause_for_restart(struct ifcvf_internal *ifc, bool live)
{
	ifcvf_dp_notifiers_set(ifc, false);
	if (live && dp_may_restart_live(ifc) && dp_pause_queues(ifc))
		return true;
	dp_pause(ifc);
	return false;
}

/*
 * Stop and start again on the current queues, logging if @log; with
 * @add >= 0, queue @add (set up from vhost, not running) joins them,
 * from the state vhost holds, whatever the pause finds. An IFCVF is not
 * reset: nothing it holds (frames waiting for RX buffers) is dropped.
 */
int
ifcvf_dp_restart(struct ifcvf_internal *ifc, bool log, int add)
{
	struct ifcvf_vring want;
	bool live;
	int ret;

	if (add >= 0)
		want = ifc->vring[add];
	live = dp_pause_for_restart(ifc, true);
	if (add >= 0) {
		want.enable = true;
		ifc->vring[add] = want;
	}
	/*
	 * vhost frees the queues past the first pair when the features lose
	 * MQ (a SET_FEATURES without it): run only those it still has.
	 */
	ifcvf_queue_shrink(ifc, rte_vhost_get_vring_num(ifc->vid));
	ret = live ? dp_resume_queues(ifc, log) : dp_resume(ifc, log);
	return ret < 0 ? dp_fail(ifc, ret) : 0;
}

/*
 * Restart without queue @qid (disabled), handing its state back; @err is
 * what the caller reports when the device runs again: a queue that did
 * not stop (@err set) is stopped by a reset.
 */
int
ifcvf_dp_restart_without(struct ifcvf_internal *ifc, uint16_t qid, int err)
{
	bool log = ifc->logging;	/* the pause clears it */
	bool live;
	int ret;

	live = dp_pause_for_restart(ifc, err == 0);
	ifcvf_queue_hand_back(ifc, qid);
	ifc->vring[qid].enable = false;
	ret = live ? dp_resume_queues(ifc, log) : dp_resume(ifc, log);
	return ret < 0 ? dp_fail(ifc, ret) : err;
}

/*
 * Dirty logging on or off on the running device. HW mode: the VF logs
 * from the moment its LM block is set, and stops when it is cleared; no
 * restart, nothing in flight dropped. A VF that cannot log is stopped
 * (no unlogged write). SW mode: the queues go onto shadow rings or leave
 * them, queue by queue on an IFCVF; a VF without ring-state registers
 * restarts onto them, and stays on them.
 */
int
ifcvf_dp_log_switch(struct ifcvf_internal *ifc, bool on)
{
	int ret;

	if (!ifcvf_lm_sw_mode(ifc)) {
		ret = ifcvf_lm_hw_log(ifc, on);
		return ret < 0 ? dp_fail(ifc, ret) : 0;
	}
	if (!on && ifc->stay_mediated) {
		__atomic_store_n(&ifc->logging, false, __ATOMIC_RELEASE);
		return 0;
	}
	return ifcvf_dp_restart(ifc, on, -1);
}
