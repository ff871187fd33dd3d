/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The vDPA ops: what vhost asks of a VF. dev_conf maps the guest's memory
 * into the VF's IOMMU domain (IOVA = guest physical address), routes the
 * queue vectors to the guest's call eventfds, programs and starts the
 * queues and arms the notify relay; dev_close undoes it all and hands the
 * ring state back to vhost.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_eal_paging.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>
#include <rte_vhost.h>
#include <vdpa_driver.h>

#include "ifcvf_vdpa.h"

#define IFCVF_CONFIG_VECTOR	0
#define IFCVF_QUEUE_VECTOR(q)	((q) + 1)

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

/* What the driver adds: the VF cannot send a RARP, the guest can. */
#define IFCVF_VHOST_FEATURES ( \
	(1ULL << VHOST_USER_F_PROTOCOL_FEATURES) | \
	(1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE))
#define IFCVF_BLK_VHOST_FEATURES (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)


#define IFCVF_PROTOCOL_FEATURES ( \
	(1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	(1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_HOST_NOTIFIER) | \
	(1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_MQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_STATUS))
/*
 * A block device's config space is the frontend's to read. DPDK 22.11's
 * vhost configures a blk vDPA device only at a SET_VRING_CALL of the
 * last ring once the device is ready, reading the ring's index from the
 * message after handling it. Hence no STATUS (ready only at DRIVER_OK,
 * after every SET_VRING_CALL) and no REPLY_ACK (the ack overwrites the
 * index with 0): with either, a device of two queues or more is never
 * configured.
 */
#define IFCVF_BLK_PROTOCOL_FEATURES \
	((IFCVF_PROTOCOL_FEATURES & \
	  ~((1ULL << VHOST_USER_PROTOCOL_F_STATUS) | \
	    (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK))) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG))

/* The largest config a vhost-user message carries (VHOST_USER_GET_CONFIG). */
#define IFCVF_VHOST_CONFIG_MAX	256
/* How long a block device's stop waits for its requests in flight. */
#define IFCVF_BLK_DRAIN_TIMEOUT_MS	1000

static TAILQ_HEAD(, ifcvf_internal) ifcvf_list =
	TAILQ_HEAD_INITIALIZER(ifcvf_list);
static pthread_mutex_t ifcvf_list_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held (read) by a telemetry reply on a VF, (write) to unregister one. */
static pthread_rwlock_t ifcvf_use_lock = PTHREAD_RWLOCK_INITIALIZER;

struct ifcvf_internal *
ifcvf_vdpa_get(const char *name)
{
	struct ifcvf_internal *ifc;

	pthread_rwlock_rdlock(&ifcvf_use_lock);
	ifc = ifcvf_vdpa_find(rte_vdpa_find_device_by_name(name));
	if (ifc == NULL)
		pthread_rwlock_unlock(&ifcvf_use_lock);
	return ifc;
}

void
ifcvf_vdpa_put(void)
{
	pthread_rwlock_unlock(&ifcvf_use_lock);
}

void
ifcvf_vdpa_foreach(void (*fn)(struct ifcvf_internal *ifc, void *arg),
		   void *arg)
{
	struct ifcvf_internal *ifc;

	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_FOREACH(ifc, &ifcvf_list, next)
		fn(ifc, arg);
	pthread_mutex_unlock(&ifcvf_list_lock);
}

struct ifcvf_internal *
ifcvf_vdpa_find(struct rte_vdpa_device *vdev)
{
	struct ifcvf_internal *ifc;

	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_FOREACH(ifc, &ifcvf_list, next)
		if (ifc->vdev == vdev)
			break;
	pthread_mutex_unlock(&ifcvf_list_lock);
	return ifc;
}

static bool
is_blk(const struct ifcvf_internal *ifc)
{
	return ifc->hw.dev_type == IFCVF_DEV_BLK;
}

/* The device features the driver serves for this VF's type. */
static uint64_t
served_features(const struct ifcvf_internal *ifc)
{
	return is_blk(ifc) ? IFCVF_BLK_DEVICE_FEATURES : IFCVF_DEVICE_FEATURES;
}

static struct ifcvf_internal *
find_by_vid(int vid)
{
	struct ifcvf_internal *ifc;

	ifc = ifcvf_vdpa_find(rte_vhost_get_vdpa_device(vid));
	if (ifc == NULL)
		IFCVF_LOG(ERR, "vid %d is not on an IFCVF device", vid);
	return ifc;
}

/* Queues: from vhost's view to the HW layer's. */

static int
vring_to_hw(struct ifcvf_internal *ifc, const struct rte_vhost_memory *mem,
	    uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];
	uint16_t size;

	if (rte_vhost_get_vhost_vring(ifc->vid, qid, &q->vring) < 0)
		return -EINVAL;
	size = q->vring.size;
	if (size == 0 || (size & (size - 1)) != 0) {
		IFCVF_LOG(ERR, "%s: queue %u: size %u is not a power of two",
			  ifc->rte_dev->name, qid, size);
		return -EINVAL;
	}
	if (ifcvf_mem_ring_gpa(mem, &q->vring, vr) < 0) {
		IFCVF_LOG(ERR, "%s: queue %u: ring outside guest memory",
			  ifc->rte_dev->name, qid);
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

static int
vrings_to_hw(struct ifcvf_internal *ifc)
{
	struct rte_vhost_memory *mem = NULL;
	uint16_t qid;
	int ret;

	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	ret = ifcvf_mem_check(mem);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++)
		if (ifc->vring[qid].enable)
			ret = vring_to_hw(ifc, mem, qid);
	if (ret == 0)
		ret = ifcvf_mem_map(ifc, mem);
	free(mem);
	return ret;
}

/* Where queue @q's vector goes: the guest, the relay, or nowhere. */
static int
queue_irq_fd(const struct ifcvf_queue *q)
{
	if (q->sh.on)
		return q->sh.irq.fd;
	/* A disabled queue's call fd may be closed already. */
	return q->ifc->vring[q->qid].enable ? q->vring.callfd : -1;
}

/*
 * Every vector to where it belongs now. Vhost closes a call fd it
 * replaces right after the queue is disabled, so this runs at every
 * queue start: a vector never stays on a replaced fd.
 */
static int
route_irqs(struct ifcvf_internal *ifc)
{
	int fds[IFCVF_MAX_QUEUES + 1];
	uint16_t qid;

	fds[IFCVF_CONFIG_VECTOR] = ifc->cfg.fd;
	uint16_t n = ifc->nr_vring + 1;
	int ret;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		fds[IFCVF_QUEUE_VECTOR(qid)] = queue_irq_fd(&ifc->q[qid]);
	ret = ifc->bus->set_irqs(ifc, fds, n);
	if (ret == 0) {
		memcpy(ifc->irq_route, fds, sizeof(fds[0]) * n);
		ifc->nr_irq_route = n;
	}
	return ret;
}

static void
unroute_irqs(struct ifcvf_internal *ifc)
{
	ifc->bus->set_irqs(ifc, NULL, 0);
	ifc->nr_irq_route = 0;
}

/* A kick from the guest (copied to the shadow ring first): the doorbell. */
static void
relay_kick(struct ifcvf_relay_src *src)
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
avail_idx(const struct ifcvf_queue *q)
{
	return __atomic_load_n(&q->vring.avail->idx, __ATOMIC_ACQUIRE);
}

/*
 * relay=poll: new avail entries ring the doorbell, whether the guest
 * kicked or not (its kick eventfd is not read).
 */
static bool
kick_ready(struct ifcvf_relay_src *src)
{
	struct ifcvf_queue *q = container_of(src, struct ifcvf_queue, kick);
	uint16_t idx = avail_idx(q);

	if (idx == q->kick_seen)
		return false;
	q->kick_seen = idx;
	return true;
}

static int
arm_queue(struct ifcvf_internal *ifc, uint16_t qid)
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
	q->kick.handler = relay_kick;
	q->kick.ready = kick_ready;
	/* Polled, the first sweep rings once, as a kick at arming would. */
	q->kick_seen = avail_idx(q) - 1;
	/* The shadow ring is synced here before the relay may sync it. */
	ret = ifcvf_lm_arm(ifc, qid);
	if (ret == 0)
		ret = ifcvf_relay_add(&q->kick);
	return ret;
}

/*
 * Enable queue @qid on the running device from ifc->vring[] and arm it; its
 * vector is routed and MQ set already.
 */
static int
queue_run(struct ifcvf_internal *ifc, uint16_t qid)
{
	int ret;

	ret = ifcvf_hw_queue_enable(&ifc->hw, qid, &ifc->vring[qid]);
	if (ret == 0)
		ret = arm_queue(ifc, qid);
	return ret;
}

/*
 * The ring state of a stopped queue into ifc->vring[]: an IFCVF saved it in
 * its ring-state registers; a plain virtio VF completes in order and has
 * nothing in flight once stopped, so its used ring tells.
 */
static void
save_ring_state(struct ifcvf_internal *ifc, uint16_t qid)
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
static void
hand_back(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->vring[qid];

	save_ring_state(ifc, qid);
	rte_vhost_set_vring_base(ifc->vid, qid, vr->last_avail_idx,
				 vr->last_used_idx);
}

/* A parked queue was stopped by a reset: hand its final state back. */
static void
unpark(struct ifcvf_internal *ifc, uint16_t qid)
{
	hand_back(ifc, qid);
	ifc->q[qid].parked = false;
}

static uint64_t
device_features(struct ifcvf_internal *ifc)
{
	uint64_t features = 0;

	rte_vhost_get_negotiated_features(ifc->vid, &features);
	/* IOVA is guest physical: the device translates through its IOMMU. */
	return (features & served_features(ifc)) |
	       (1ULL << VIRTIO_F_ACCESS_PLATFORM);
}

static void
disarm_queues(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++) {
		ifcvf_relay_del(&ifc->q[qid].kick);
		ifcvf_lm_disarm(ifc, qid);
	}
}

/* Requests queue @qid's device has taken and not completed. */
static uint16_t
blk_in_flight(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->vring[qid];

	if (ifcvf_hw_ring_state_save(&ifc->hw, qid, vr) < 0)
		return 0;
	return (uint16_t)(vr->last_avail_idx - vr->last_used_idx);
}

/*
 * A block device's requests in flight are lost when a queue stops: wait
 * (bounded by *@waited, shared by the queues of one stop) until queue
 * @qid completed what it took. A queue still busy at the deadline has its
 * ring state taken from its used ring, so that the next device (after a
 * migration: the destination's) carries out its unfinished requests
 * again. Without ring-state registers that is how the state is read
 * anyway.
 */
static void
blk_drain_queue(struct ifcvf_internal *ifc, uint16_t qid,
		unsigned int *waited)
{
	uint16_t left;

	while ((left = blk_in_flight(ifc, qid)) != 0 &&
	       *waited < IFCVF_BLK_DRAIN_TIMEOUT_MS) {
		ifcvf_hw_notify(&ifc->hw, qid);
		ifcvf_msleep(1);
		(*waited)++;
	}
	if (left == 0)
		return;
	IFCVF_LOG(ERR, "%s: queue %u: %u requests still in flight after %u ms: they will be carried out again",
		  ifc->rte_dev->name, qid, left, IFCVF_BLK_DRAIN_TIMEOUT_MS);
	ifc->nr_drain_abandoned += left;
	ifc->q[qid].state_lost = true;
}

/* Every running queue of a block device, before a reset. */
static void
blk_drain(struct ifcvf_internal *ifc)
{
	unsigned int waited = 0;
	uint16_t qid;

	/* A queue whose requests a stop gave up on already: not again. */
	for (qid = 0; qid < ifc->nr_vring && ifc->hw.has_lm; qid++)
		if ((ifc->vring[qid].enable || ifc->q[qid].parked) &&
		    !ifc->q[qid].state_lost)
			blk_drain_queue(ifc, qid, &waited);
}

/*
 * Stop the device and put each enabled queue's ring state, in the guest's
 * terms, into ifc->vring[], with the guest's ring addresses.
 */
static void
pause_device(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	uint64_t lost = 0;

	if (is_blk(ifc))
		blk_drain(ifc);
	disarm_queues(ifc);
	if (ifcvf_hw_stop(&ifc->hw, ifc->vring, &lost) < 0)
		IFCVF_LOG(ERR, "%s: the device did not stop cleanly",
			  ifc->rte_dev->name);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		ifc->q[qid].state_lost |= (lost >> qid) & 1;
	ifcvf_lm_drain(ifc);
	ifcvf_lm_teardown(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++) {
		save_ring_state(ifc, qid);
		/* The reset stopped a parked queue: its final state. */
		if (ifc->q[qid].parked)
			unpark(ifc, qid);
	}
}

/*
 * Undo a resume that failed at any step: the vectors routed nowhere
 * before the shadow rings' interrupt fds close, then the device stopped
 * as a pause stops it. A device that never ran keeps the ring state the
 * pause saved (@paused, in the guest's terms), not what a stop reads off
 * rings it never used.
 */
static void
resume_undo(struct ifcvf_internal *ifc, const struct ifcvf_vring *paused,
	    bool ran)
{
	disarm_queues(ifc);
	unroute_irqs(ifc);
	pause_device(ifc);
	if (!ran)
		memcpy(ifc->vring, paused,
		       sizeof(ifc->vring[0]) * IFCVF_MAX_QUEUES);
}

/* Start the device on ifc->vring[], logging dirty pages if @log. */
static int
resume_device(struct ifcvf_internal *ifc, bool log)
{
	struct ifcvf_vring paused[IFCVF_MAX_QUEUES];
	bool ran = false;
	uint16_t qid;
	int ret;

	memcpy(paused, ifc->vring, sizeof(paused));
	ret = ifcvf_lm_setup(ifc, log);
	if (ret == 0)
		ret = route_irqs(ifc);
	if (ret == 0) {
		ifc->hw.config_vector = IFCVF_CONFIG_VECTOR;
		ret = ifcvf_hw_start(&ifc->hw, device_features(ifc), ifc->vring);
		ran = ret == 0;
	}
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++)
		if (ifc->vring[qid].enable)
			ret = arm_queue(ifc, qid);
	if (ret < 0)
		resume_undo(ifc, paused, ran);
	else if (ifc->mediated)
		ifcvf_stats_tick_rearm(ifc);
	return ret;
}

/* A net device's new config: the link went up or down. */
static void
net_config_changed(struct ifcvf_internal *ifc)
{
	struct ifcvf_net_config cfg;

	if (ifcvf_hw_read_net_config(&ifc->hw, &cfg) == 0)
		IFCVF_LOG(INFO, "%s: config changed, link %s",
			  ifc->rte_dev->name,
			  cfg.status & VIRTIO_NET_S_LINK_UP ? "up" : "down");
}

/*
 * A block device's new config (a capacity change): the frontend is told
 * and reads it (GET_CONFIG). No reply is awaited: the relay serves every
 * VF and does not wait on a frontend.
 */
static void
blk_config_changed(struct ifcvf_internal *ifc)
{
	struct ifcvf_blk_config cfg;

	if (ifcvf_hw_read_blk_config(&ifc->hw, &cfg) < 0)
		return;
	IFCVF_LOG(INFO, "%s: config changed, capacity %" PRIu64 " sectors",
		  ifc->rte_dev->name, cfg.capacity);
	if (rte_vhost_backend_config_change(ifc->vid, false) < 0)
		IFCVF_LOG(ERR, "%s: the frontend could not be told of the change",
			  ifc->rte_dev->name);
}

/*
 * The device's config interrupt: a link change or a new capacity, or a
 * device that stopped and needs a reset (a queue on a malformed ring).
 * Registers only: the relay never takes ifc->lock (ifc->vid is set
 * before the interrupt is routed and kept until it is no more).
 */
static void
config_changed(struct ifcvf_relay_src *src)
{
	struct ifcvf_internal *ifc = container_of(src, struct ifcvf_internal,
						  cfg);
	uint8_t status = ifcvf_hw_get_status(&ifc->hw);

	ifcvf_hw_read_isr(&ifc->hw);
	if (status & VIRTIO_CONFIG_S_NEEDS_RESET)
		IFCVF_LOG(ERR, "%s: the device stopped and needs a reset (status 0x%x): a malformed ring?",
			  ifc->rte_dev->name, status);
	if (is_blk(ifc))
		blk_config_changed(ifc);
	else
		net_config_changed(ifc);
}

static int
config_irq_start(struct ifcvf_internal *ifc)
{
	int ret;

	ifc->cfg.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ifc->cfg.fd < 0)
		return -errno;
	ifc->cfg.handler = config_changed;
	ret = ifcvf_relay_add(&ifc->cfg);
	if (ret < 0) {
		close(ifc->cfg.fd);
		ifc->cfg.fd = -1;
	}
	return ret;
}

static void
config_irq_stop(struct ifcvf_internal *ifc)
{
	if (ifc->cfg.fd < 0)
		return;
	ifcvf_relay_del(&ifc->cfg);
	close(ifc->cfg.fd);
	ifc->cfg.fd = -1;
}

/*
 * Host notifiers: a frontend that maps a queue's doorbell kicks the
 * device directly, past the relay. Offered only for a doorbell with a
 * page of its own, and only while the queues run on the guest's rings:
 * withdrawn before they move onto shadow rings, whose kicks the relay
 * must see. Under ifc->lock (vhost's get_notify_area takes none).
 */
static bool
notifier_ok(struct ifcvf_internal *ifc, uint16_t qid)
{
	return ifc->bus->notify_area != NULL &&
	       ifcvf_hw_doorbell_page_own(&ifc->hw, qid, rte_mem_page_size());
}

static void
notifiers_set(struct ifcvf_internal *ifc, bool on)
{
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++) {
		struct ifcvf_queue *q = &ifc->q[qid];

		if (q->notifier == on || (on && (q->notifier_refused ||
		    !notifier_ok(ifc, qid) || !ifc->vring[qid].enable)))
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
static void
notifiers_sync(struct ifcvf_internal *ifc)
{
	notifiers_set(ifc, ifc->configured && !ifc->mediated);
}

/*
 * Release what start_datapath took, in reverse order, from any point of
 * it: each step undoes only what was done. The device is stopped.
 */
static void
release_datapath(struct ifcvf_internal *ifc)
{
	ifcvf_stats_tick_stop(ifc);
	ifcvf_mem_unmap(ifc);
	unroute_irqs(ifc);
	config_irq_stop(ifc);
	ifc->stay_mediated = false;
	ifc->configured = false;
	ifc->nr_closes++;
}

/* Stop the running device and hand every queue's ring state back. */
static void
stop_datapath(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	pause_device(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->vring[qid].enable)
			rte_vhost_set_vring_base(ifc->vid, qid,
						 ifc->vring[qid].last_avail_idx,
						 ifc->vring[qid].last_used_idx);
	release_datapath(ifc);
}

static int
start_datapath(struct ifcvf_internal *ifc)
{
	int ret;

	ret = config_irq_start(ifc);
	if (ret == 0)
		ret = vrings_to_hw(ifc);
	if (ret == 0) {
		/* Before the kicks that wake it are armed. */
		ifcvf_stats_tick_start(ifc);
		ret = resume_device(ifc, ifcvf_lm_log_all(ifc->vid));
	}
	if (ret < 0) {
		release_datapath(ifc);
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
fail_device(struct ifcvf_internal *ifc, int err)
{
	IFCVF_LOG(ERR, "%s: reconfiguration failed (%s), the device is stopped",
		  ifc->rte_dev->name, strerror(-err));
	stop_datapath(ifc);
	return err;
}

/* Queues past @nr are gone from vhost: none of them may start again. */
static void
shrink_queues(struct ifcvf_internal *ifc, uint16_t nr)
{
	uint16_t qid;

	for (qid = nr; qid < ifc->nr_vring; qid++)
		ifc->vring[qid].enable = false;
	ifc->nr_vring = RTE_MIN(ifc->nr_vring, nr);
}

/*
 * An IFCVF stops its network queues one at a time, the device left
 * running: each enabled queue's ring state, in the guest's terms, into
 * ifc->vring[], as pause_device puts it, and nothing the VF holds dropped.
 * False: a queue did not stop (only a reset stops it).
 */
static bool
pause_queues(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	disarm_queues(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->vring[qid].enable &&
		    ifcvf_hw_queue_disable(&ifc->hw, qid, &ifc->vring[qid]) < 0)
			return false;
	ifcvf_lm_drain(ifc);
	ifcvf_lm_teardown(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		save_ring_state(ifc, qid);
	return true;
}

/*
 * resume_device on the running VF: each enabled queue programmed from
 * ifc->vring[] and started again. A failure leaves what pause_device (of
 * fail_device) reads right: the ring state of every queue not started.
 */
static int
resume_queues(struct ifcvf_internal *ifc, bool log)
{
	struct ifcvf_vring paused[IFCVF_MAX_QUEUES];
	uint16_t qid;
	int ret;

	/* A shadow set-up that fails half-way leaves ifc->vring[] changed. */
	memcpy(paused, ifc->vring, sizeof(paused));
	ret = ifcvf_lm_setup(ifc, log);
	if (ret < 0) {
		memcpy(ifc->vring, paused, sizeof(paused));
		return ret;
	}
	ret = route_irqs(ifc);
	ifcvf_hw_set_mq(&ifc->hw, ifc->vring);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++) {
		if (!ifc->vring[qid].enable)
			continue;
		ret = queue_run(ifc, qid);
		/*
		 * What the guest made available while the queue was off (on
		 * shadow rings, arm_queue synced and rang it).
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
may_restart_live(struct ifcvf_internal *ifc)
{
	return ifc->hw.has_lm && !is_blk(ifc) &&
	       device_features(ifc) == ifc->hw.features;
}

/*
 * Stop the queues for a reconfiguration: one at a time if @live and the
 * VF allows it, the VF left running; else, or if a queue does not stop,
 * by a reset. True: the VF still runs.
 */
static bool
pause_for_restart(struct ifcvf_internal *ifc, bool live)
{
	notifiers_set(ifc, false);
	if (live && may_restart_live(ifc) && pause_queues(ifc))
		return true;
	pause_device(ifc);
	return false;
}

/*
 * Stop and start again on the current queues, logging if @log; with
 * @add >= 0, queue @add (set up from vhost, not running) joins them,
 * from the state vhost holds, whatever the pause finds. An IFCVF is not
 * reset: nothing it holds (frames waiting for RX buffers) is dropped.
 */
static int
restart_device(struct ifcvf_internal *ifc, bool log, int add)
{
	struct ifcvf_vring want;
	bool live;
	int ret;

	if (add >= 0)
		want = ifc->vring[add];
	live = pause_for_restart(ifc, true);
	if (add >= 0) {
		want.enable = true;
		ifc->vring[add] = want;
	}
	/*
	 * vhost frees the queues past the first pair when the features lose
	 * MQ (a SET_FEATURES without it): run only those it still has.
	 */
	shrink_queues(ifc, rte_vhost_get_vring_num(ifc->vid));
	ret = live ? resume_queues(ifc, log) : resume_device(ifc, log);
	return ret < 0 ? fail_device(ifc, ret) : 0;
}

/* Without protocol features no SET_VRING_ENABLE comes: all rings run. */
static void
enable_implicit_vrings(struct ifcvf_internal *ifc)
{
	uint64_t features = 0;
	uint16_t qid;

	rte_vhost_get_negotiated_features(ifc->vid, &features);
	if (features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))
		return;
	for (qid = 0; qid < ifc->nr_vring; qid++)
		ifc->vring[qid].enable = true;
}

/*
 * A new connection: nothing of the last one's queues survives (vhost
 * calls dev_cleanup when a connection ends).
 */
static void
forget_connection(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	for (qid = 0; qid < IFCVF_MAX_QUEUES; qid++) {
		ifc->vring[qid].enable = false;
		ifc->vring[qid].vector = IFCVF_MSI_NO_VECTOR;
		ifc->q[qid].parked = false;
		ifc->q[qid].state_lost = false;
		ifc->q[qid].notifier = false;
		ifc->q[qid].notifier_refused = false;
		memset(&ifc->q[qid].vring, 0, sizeof(ifc->q[qid].vring));
		ifc->q[qid].vring.callfd = -1;
		ifc->q[qid].vring.kickfd = -1;
	}
	ifc->nr_vring = 0;
	ifc->vid = -1;
}

/*
 * The VF serves another connection than @vid (a second socket of the
 * same device): its configuration is refused. Under ifc->lock.
 */
static bool
serves_other(const struct ifcvf_internal *ifc, int vid)
{
	return ifc->vid >= 0 && ifc->vid != vid;
}

/* A request (@what) of a connection the VF does not serve: refused. */
static bool
refuse_other(const struct ifcvf_internal *ifc, int vid, const char *what)
{
	if (!serves_other(ifc, vid))
		return false;
	IFCVF_LOG(ERR, "%s: in use by another frontend: %s of connection %d refused",
		  ifc->rte_dev->name, what, vid);
	return true;
}

/* Configure the VF for connection @vid, under ifc->lock. */
static int
configure(struct ifcvf_internal *ifc, int vid)
{
	uint16_t nr = rte_vhost_get_vring_num(vid);
	int ret;

	if (nr > ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: frontend has %u queues, the device %u",
			  ifc->rte_dev->name, nr, ifc->hw.nr_vring);
		return -EINVAL;
	}
	if (ifc->configured && is_blk(ifc) && ifc->vid == vid)
		return 0;	/* at its last ring's enable: see blk_ready() */
	if (ifc->configured || serves_other(ifc, vid)) {
		/* Another connection's (a second socket on this VF). */
		IFCVF_LOG(ERR, "%s: in use by another frontend",
			  ifc->rte_dev->name);
		return -EBUSY;
	}
	ifc->vid = vid;
	ifc->nr_vring = IFCVF_MAX_QUEUES;
	shrink_queues(ifc, nr);
	enable_implicit_vrings(ifc);
	ret = start_datapath(ifc);
	if (ret < 0) {
		IFCVF_LOG(ERR, "%s: configuration failed: %s",
			  ifc->rte_dev->name, strerror(-ret));
		return ret;
	}
	notifiers_sync(ifc);
	IFCVF_LOG(INFO, "%s: configured, %u queues", ifc->rte_dev->name, nr);
	return 0;
}

static int
ifcvf_dev_conf(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);
	int ret;

	if (ifc == NULL)
		return -1;
	pthread_mutex_lock(&ifc->lock);
	ret = configure(ifc, vid);
	pthread_mutex_unlock(&ifc->lock);
	return ret < 0 ? -1 : 0;
}

/*
 * DPDK 22.11's vhost calls dev_conf for a blk vDPA device only at a
 * SET_VRING_CALL of its last ring once it is ready (ring 0 ready). QEMU
 * 7.2's vhost-user-blk sends its last SET_VRING_CALL before that (when it
 * sets up the guest notifiers), then the rings, then SET_VRING_ENABLE;
 * and a guest may use fewer rings than there are (SeaBIOS runs ring 0 of
 * any number): dev_conf never comes. So the driver configures a blk VF
 * itself when vhost finds ring 0 ready (the set_vring_state it sends
 * then); the other rings join as they get ready. vhost's stops (dev_close
 * at GET_VRING_BASE, dev_cleanup) do not depend on its own dev_conf.
 */
static bool
blk_ready(const struct ifcvf_internal *ifc, int vring)
{
	return is_blk(ifc) && vring == 0;
}

static int
ifcvf_dev_close(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc == NULL)
		return -1;
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured && !serves_other(ifc, vid)) {
		notifiers_set(ifc, false);
		stop_datapath(ifc);
	}
	pthread_mutex_unlock(&ifc->lock);
	return 0;
}

/* The connection ends (or its owner resets): close, and forget it. */
static int
ifcvf_dev_cleanup(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc == NULL)
		return -1;
	ifcvf_dev_close(vid);
	pthread_mutex_lock(&ifc->lock);
	if (!serves_other(ifc, vid))
		forget_connection(ifc);
	pthread_mutex_unlock(&ifc->lock);
	return 0;
}

/*
 * Restart without queue @qid (disabled), handing its state back; @err is
 * what the caller reports when the device runs again: a queue that did
 * not stop (@err set) is stopped by a reset.
 */
static int
restart_without(struct ifcvf_internal *ifc, uint16_t qid, int err)
{
	bool log = ifc->logging;	/* the pause clears it */
	bool live;
	int ret;

	live = pause_for_restart(ifc, err == 0);
	hand_back(ifc, qid);
	ifc->vring[qid].enable = false;
	ret = live ? resume_queues(ifc, log) : resume_device(ifc, log);
	return ret < 0 ? fail_device(ifc, ret) : err;
}

/* Stop queue @qid of the running device and hand its state back. */
static int
queue_stop(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	int ret;

	/* Shadow rings are laid out for the set of enabled queues. */
	if (ifc->mediated)
		return restart_without(ifc, qid, 0);
	ifcvf_relay_del(&q->kick);
	if (!ifc->hw.has_lm) {
		/*
		 * A plain virtio 1.0 device cannot stop one queue
		 * (queue_enable is write-1): it stays parked, running without
		 * kicks, until it comes back on the same rings or a reset.
		 */
		hand_back(ifc, qid);
		q->parked = true;
		ifc->vring[qid].enable = false;
		return 0;
	}
	if (is_blk(ifc)) {
		unsigned int waited = 0;

		blk_drain_queue(ifc, qid, &waited);
	}
	ret = ifcvf_hw_queue_disable(&ifc->hw, qid, &ifc->vring[qid]);
	if (ret == 0) {
		hand_back(ifc, qid);
		ifc->vring[qid].enable = false;
		return 0;
	}
	/* Only a reset stops it; its state is read off the used ring. */
	q->state_lost = true;
	return restart_without(ifc, qid, ret);
}

/* Queue @qid past the queues of dev_conf: vhost added it since. */
static int
grow_queues(struct ifcvf_internal *ifc, uint16_t qid)
{
	uint16_t nr = rte_vhost_get_vring_num(ifc->vid);

	if (qid >= nr || nr > ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: queue %u: the frontend has %u queues, the device %u",
			  ifc->rte_dev->name, qid, nr, ifc->hw.nr_vring);
		return -EINVAL;
	}
	ifc->nr_vring = nr;
	return 0;
}

static bool
same_rings(const struct ifcvf_vring *a, const struct ifcvf_vring *b)
{
	return a->desc == b->desc && a->avail == b->avail &&
	       a->used == b->used && a->size == b->size;
}

/* A parked queue back on its rings: new fds, and the kicks it missed. */
static int
unpark_running(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	int ret;

	q->parked = false;
	ret = route_irqs(ifc);
	if (ret == 0)
		ret = arm_queue(ifc, qid);
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

	ret = route_irqs(ifc);
	if (ret == 0) {
		ifcvf_hw_set_mq(&ifc->hw, ifc->vring);
		ret = queue_run(ifc, qid);
	}
	return ret;
}

static bool
same_base(const struct ifcvf_vring *a, const struct ifcvf_vring *b)
{
	return a->last_avail_idx == b->last_avail_idx &&
	       a->last_used_idx == b->last_used_idx;
}

/* A queue that failed to start is not running: undo what was done. */
static void
queue_unstart(struct ifcvf_internal *ifc, uint16_t qid)
{
	ifcvf_relay_del(&ifc->q[qid].kick);
	ifcvf_lm_disarm(ifc, qid);
	if (ifc->hw.has_lm)
		ifcvf_hw_queue_disable(&ifc->hw, qid, &ifc->vring[qid]);
	ifc->vring[qid].enable = false;
	ifcvf_hw_set_mq(&ifc->hw, ifc->vring);
}

/*
 * Start queue @qid on the running device, from what vhost holds for it
 * (vring_to_hw): the rings, the base. A parked queue resumes in place
 * only if neither changed since it was parked.
 */
static int
queue_start(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];
	struct rte_vhost_memory *mem = NULL;
	struct ifcvf_vring was = *vr;
	bool was_parked = q->parked;
	int ret;

	if (qid >= ifc->nr_vring && grow_queues(ifc, qid) < 0)
		return -EINVAL;
	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	ret = vring_to_hw(ifc, mem, qid);
	free(mem);
	if (ret < 0)
		return ret;
	if (was_parked && same_rings(vr, &was) && same_base(vr, &was)) {
		vr->enable = true;
		ret = unpark_running(ifc, qid);
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
		return restart_device(ifc, ifc->logging, qid);
	vr->enable = true;
	ret = queue_program(ifc, qid);
	if (ret < 0)
		queue_unstart(ifc, qid);
	return ret;
}

static int
ifcvf_set_vring_state(int vid, int vring, int state)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);
	bool enable = state != 0;
	int ret = 0;

	if (ifc == NULL)
		return -1;
	if (vring < 0 || vring >= ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: no queue %d", ifc->rte_dev->name, vring);
		return -1;
	}
	pthread_mutex_lock(&ifc->lock);
	if (refuse_other(ifc, vid, "a queue state")) {
		pthread_mutex_unlock(&ifc->lock);
		return -1;
	}
	if (!ifc->configured) {
		ifc->vring[vring].enable = enable;
		if (enable && blk_ready(ifc, vring))
			ret = configure(ifc, vid);
	} else if (enable && !ifc->vring[vring].enable)
		ret = queue_start(ifc, vring);
	else if (!enable && ifc->vring[vring].enable)
		ret = queue_stop(ifc, vring);
	notifiers_sync(ifc);
	pthread_mutex_unlock(&ifc->lock);
	if (ret < 0)
		IFCVF_LOG(ERR, "%s: queue %d %s failed: %s", ifc->rte_dev->name,
			  vring, enable ? "enable" : "disable", strerror(-ret));
	return ret < 0 ? -1 : 0;
}

/*
 * Dirty logging on or off on the running device. HW mode: the VF logs
 * from the moment its LM block is set, and stops when it is cleared; no
 * restart, nothing in flight dropped. A VF that cannot log is stopped
 * (no unlogged write). SW mode: the queues go onto shadow rings or leave
 * them, queue by queue on an IFCVF; a VF without ring-state registers
 * restarts onto them, and stays on them.
 */
static int
log_switch(struct ifcvf_internal *ifc, bool on)
{
	int ret;

	if (!ifcvf_lm_sw_mode(ifc)) {
		ret = ifcvf_lm_hw_log(ifc, on);
		return ret < 0 ? fail_device(ifc, ret) : 0;
	}
	if (!on && ifc->stay_mediated) {
		__atomic_store_n(&ifc->logging, false, __ATOMIC_RELEASE);
		return 0;
	}
	return restart_device(ifc, on, -1);
}

static int
ifcvf_set_features(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);
	uint64_t features = 0;
	bool want;
	int ret = 0;

	if (ifc == NULL)
		return -1;
	rte_vhost_get_negotiated_features(vid, &features);
	want = (features & (1ULL << VHOST_F_LOG_ALL)) != 0;
	pthread_mutex_lock(&ifc->lock);
	if (refuse_other(ifc, vid, "features")) {
		pthread_mutex_unlock(&ifc->lock);
		return -1;
	}
	if (ifc->configured && want && ifc->logging && !ifc->mediated &&
	    ifcvf_lm_log_moved(ifc)) {
		/*
		 * The log was handed again (QEMU does, once per queue pair):
		 * the VF must log into vhost's new mapping. The relay of a
		 * mediated VF follows it by itself.
		 */
		ret = restart_device(ifc, true, -1);
	} else if (ifc->configured && want != ifc->logging) {
		IFCVF_LOG(INFO, "%s: dirty logging %s", ifc->rte_dev->name,
			  want ? "on" : "off (migration cancelled)");
		ret = log_switch(ifc, want);
	}
	notifiers_sync(ifc);
	pthread_mutex_unlock(&ifc->lock);
	return ret < 0 ? -1 : 0;
}

static int
ifcvf_get_queue_num(struct rte_vdpa_device *vdev, uint32_t *queue_num)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	/* Queue pairs for net (vhost's MQ), queues for blk (num-queues). */
	*queue_num = is_blk(ifc) ? ifc->hw.nr_vring : ifc->hw.nr_vring / 2;
	return 0;
}

static int
ifcvf_get_features(struct rte_vdpa_device *vdev, uint64_t *features)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	*features = (ifc->hw.dev_features & served_features(ifc)) |
		    (is_blk(ifc) ? IFCVF_BLK_VHOST_FEATURES :
		     IFCVF_VHOST_FEATURES);
	/* Dirty pages are logged by the VF, or by the relay. */
	*features |= 1ULL << VHOST_F_LOG_ALL;
	return 0;
}

static int
ifcvf_get_protocol_features(struct rte_vdpa_device *vdev, uint64_t *features)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	*features = is_blk(ifc) ? IFCVF_BLK_PROTOCOL_FEATURES :
		    IFCVF_PROTOCOL_FEATURES;
	return 0;
}

static int
ifcvf_get_vfio_group_fd(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc == NULL || ifc->bus->vfio_group_fd == NULL)
		return -1;
	return ifc->bus->vfio_group_fd(ifc);
}

static int
ifcvf_get_vfio_device_fd(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc == NULL || ifc->bus->vfio_device_fd == NULL)
		return -1;
	return ifc->bus->vfio_device_fd(ifc);
}

static int
ifcvf_get_notify_area(int vid, int qid, uint64_t *offset, uint64_t *size)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc == NULL || qid < 0 || qid >= ifc->hw.nr_vring ||
	    !notifier_ok(ifc, qid))
		return -1;
	return ifc->bus->notify_area(ifc, qid, offset, size);
}

/*
 * The device type: asked while the vDPA device registers, before it is
 * known to the driver's list; hence one ops table per type.
 */
static int
ifcvf_get_dev_type_net(struct rte_vdpa_device *vdev __rte_unused,
		       uint32_t *type)
{
	*type = RTE_VHOST_VDPA_DEVICE_TYPE_NET;
	return 0;
}

static int
ifcvf_get_dev_type_blk(struct rte_vdpa_device *vdev __rte_unused,
		       uint32_t *type)
{
	*type = RTE_VHOST_VDPA_DEVICE_TYPE_BLK;
	return 0;
}

/*
 * A block device's config space for the frontend (VHOST_USER_GET_CONFIG):
 * read from the device in one config generation, its fields checked;
 * what lies past virtio_blk_config's fields the driver knows reads 0.
 * vhost hands the frontend's size as it came: bounded here by what its
 * message holds.
 */
static int
ifcvf_get_config(int vid, uint8_t *config, uint32_t size)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);
	struct ifcvf_blk_config cfg;

	if (ifc == NULL)
		return -1;
	if (size == 0 || size > IFCVF_VHOST_CONFIG_MAX) {
		IFCVF_LOG(ERR, "%s: GET_CONFIG of %u bytes refused: size out of 1..%u",
			  ifc->rte_dev->name, size, IFCVF_VHOST_CONFIG_MAX);
		return -1;
	}
	if (ifcvf_hw_read_blk_config(&ifc->hw, &cfg) < 0)
		return -1;
	memset(config, 0, size);
	memcpy(config, cfg.raw, RTE_MIN(size, (uint32_t)sizeof(cfg.raw)));
	return 0;
}

/* The config space is the device's: a frontend writes none of it. */
static int
ifcvf_set_config(int vid, uint8_t *config __rte_unused, uint32_t offset,
		 uint32_t size, uint32_t flags __rte_unused)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc != NULL)
		IFCVF_LOG(ERR, "%s: SET_CONFIG of %u bytes at %u refused: the config space is read-only",
			  ifc->rte_dev->name, size, offset);
	return -1;
}

#define IFCVF_OPS_COMMON \
	.get_queue_num = ifcvf_get_queue_num, \
	.get_features = ifcvf_get_features, \
	.get_protocol_features = ifcvf_get_protocol_features, \
	.dev_conf = ifcvf_dev_conf, \
	.dev_close = ifcvf_dev_close, \
	.dev_cleanup = ifcvf_dev_cleanup, \
	.set_vring_state = ifcvf_set_vring_state, \
	.set_features = ifcvf_set_features, \
	.get_vfio_group_fd = ifcvf_get_vfio_group_fd, \
	.get_vfio_device_fd = ifcvf_get_vfio_device_fd, \
	.get_notify_area = ifcvf_get_notify_area, \
	.get_stats_names = ifcvf_stats_names, \
	.get_stats = ifcvf_stats_get, \
	.reset_stats = ifcvf_stats_reset

static struct rte_vdpa_dev_ops ifcvf_net_ops = {
	IFCVF_OPS_COMMON,
	.get_dev_type = ifcvf_get_dev_type_net,
};

/* A block device's config space is the frontend's to read. */
static struct rte_vdpa_dev_ops ifcvf_blk_ops = {
	IFCVF_OPS_COMMON,
	.get_dev_type = ifcvf_get_dev_type_blk,
	.get_config = ifcvf_get_config,
	.set_config = ifcvf_set_config,
};

int
ifcvf_vdpa_register(struct ifcvf_internal *ifc)
{
	uint16_t qid;
	int ret;

	ret = ifcvf_relay_claim(ifc->rte_dev->name, &ifc->relay_conf);
	if (ret < 0)
		return ret;
	pthread_mutex_init(&ifc->lock, NULL);
	ifc->vid = -1;
	for (qid = 0; qid < IFCVF_MAX_QUEUES; qid++) {
		ifc->q[qid].ifc = ifc;
		ifc->q[qid].qid = qid;
		ifc->q[qid].kick.fd = -1;
		ifc->q[qid].sh.irq.fd = -1;
	}
	ifc->cfg.fd = -1;
	forget_connection(ifc);
	ifc->vdev = rte_vdpa_register_device(ifc->rte_dev, is_blk(ifc) ?
					     &ifcvf_blk_ops : &ifcvf_net_ops);
	if (ifc->vdev == NULL) {
		IFCVF_LOG(ERR, "%s: cannot register the vDPA device",
			  ifc->rte_dev->name);
		pthread_mutex_destroy(&ifc->lock);
		ifcvf_relay_release(&ifc->relay_conf);
		return -EIO;
	}
	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_INSERT_TAIL(&ifcvf_list, ifc, next);
	pthread_mutex_unlock(&ifcvf_list_lock);
	return 0;
}

void
ifcvf_vdpa_unregister(struct ifcvf_internal *ifc)
{
	pthread_rwlock_wrlock(&ifcvf_use_lock);
	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_REMOVE(&ifcvf_list, ifc, next);
	pthread_mutex_unlock(&ifcvf_list_lock);
	pthread_rwlock_unlock(&ifcvf_use_lock);
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured)
		stop_datapath(ifc);
	pthread_mutex_unlock(&ifc->lock);
	rte_vdpa_unregister_device(ifc->vdev);
	pthread_mutex_destroy(&ifc->lock);
	ifcvf_relay_release(&ifc->relay_conf);
}

/*
 * Parse @args; an unknown key is named, with the keys @valid accepts, and
 * a known key without a value is refused.
 */
struct rte_kvargs *
ifcvf_kvargs_parse(const char *dev, const char *args,
		   const char * const valid[])
{
	struct rte_kvargs *kv = rte_kvargs_parse(args, NULL);
	char keys[256] = "";
	unsigned int i, j;

	if (kv == NULL) {
		IFCVF_LOG(ERR, "%s: cannot parse devargs \"%s\"", dev, args);
		return NULL;
	}
	for (i = 0; i < kv->count; i++) {
		for (j = 0; valid[j] != NULL; j++)
			if (strcmp(kv->pairs[i].key, valid[j]) == 0)
				break;
		if (valid[j] != NULL && kv->pairs[i].value == NULL) {
			/* A bare key: no parser is handed a NULL value. */
			IFCVF_LOG(ERR, "%s: devarg \"%s\" needs a value (%s=...)",
				  dev, kv->pairs[i].key, kv->pairs[i].key);
			rte_kvargs_free(kv);
			return NULL;
		}
		if (valid[j] != NULL)
			continue;
		for (j = 0; valid[j] != NULL; j++)
			snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys),
				 "%s%s", j > 0 ? ", " : "", valid[j]);
		IFCVF_LOG(ERR, "%s: unknown devarg \"%s\": accepted keys are %s",
			  dev, kv->pairs[i].key, keys);
		rte_kvargs_free(kv);
		return NULL;
	}
	return kv;
}

int
ifcvf_devarg_bool(const char *key, const char *value, void *out)
{
	if (value != NULL && strcmp(value, "0") == 0) {
		*(bool *)out = false;
		return 0;
	}
	if (value != NULL && strcmp(value, "1") == 0) {
		*(bool *)out = true;
		return 0;
	}
	IFCVF_LOG(ERR, "devarg %s=%s: accepted values are 0 and 1", key,
		  value != NULL ? value : "");
	return -EINVAL;
}
