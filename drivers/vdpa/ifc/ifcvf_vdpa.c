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
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

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

/* What the driver adds: the VF cannot send a RARP, the guest can. */
#define IFCVF_VHOST_FEATURES ( \
	(1ULL << VHOST_USER_F_PROTOCOL_FEATURES) | \
	(1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE))


#define IFCVF_PROTOCOL_FEATURES ( \
	(1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	(1ULL << VHOST_USER_PROTOCOL_F_SLAVE_REQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_HOST_NOTIFIER) | \
	(1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_MQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_STATUS))

static const char * const stat_names[IFCVF_STAT_MAX] = {
	[IFCVF_STAT_COMPLETED] = "completed_descriptors",
	[IFCVF_STAT_KICKS] = "kicks_relayed",
	[IFCVF_STAT_IRQS] = "interrupts_relayed",
	[IFCVF_STAT_RELAYED] = "used_entries_relayed",
};

static TAILQ_HEAD(, ifcvf_internal) ifcvf_list =
	TAILQ_HEAD_INITIALIZER(ifcvf_list);
static pthread_mutex_t ifcvf_list_lock = PTHREAD_MUTEX_INITIALIZER;

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

static struct ifcvf_internal *
find_by_vid(int vid)
{
	struct ifcvf_internal *ifc;

	ifc = ifcvf_vdpa_find(rte_vhost_get_vdpa_device(vid));
	if (ifc == NULL)
		IFCVF_LOG(ERR, "vid %d is not on an IFCVF device", vid);
	return ifc;
}

/* Guest memory: validation and the DMA windows. */

static int
check_region(const struct rte_vhost_memory *mem, uint32_t i)
{
	const struct rte_vhost_mem_region *r = &mem->regions[i], *o;
	uint32_t j;

	if (r->size == 0 || r->host_user_addr == 0 ||
	    r->guest_phys_addr + r->size < r->guest_phys_addr ||
	    r->host_user_addr + r->size < r->host_user_addr) {
		IFCVF_LOG(ERR, "memory region %u (gpa 0x%" PRIx64 ", size 0x%" PRIx64 ") is invalid",
			  i, r->guest_phys_addr, r->size);
		return -EINVAL;
	}
	for (j = 0; j < i; j++) {
		o = &mem->regions[j];
		if (r->guest_phys_addr < o->guest_phys_addr + o->size &&
		    o->guest_phys_addr < r->guest_phys_addr + r->size) {
			IFCVF_LOG(ERR, "memory regions %u and %u overlap in guest physical space",
				  j, i);
			return -EINVAL;
		}
	}
	return 0;
}

static void
unmap_windows(struct ifcvf_internal *ifc)
{
	struct ifcvf_dma_window *w;

	while (ifc->nr_windows > 0) {
		w = &ifc->windows[--ifc->nr_windows];
		if (ifc->bus->dma_unmap(ifc, w->vaddr, w->iova, w->len) < 0)
			IFCVF_LOG(ERR, "%s: cannot unmap iova 0x%" PRIx64,
				  ifc->rte_dev->name, w->iova);
	}
	free(ifc->windows);
	ifc->windows = NULL;
}

static int
map_windows(struct ifcvf_internal *ifc, const struct rte_vhost_memory *mem)
{
	const struct rte_vhost_mem_region *r;
	uint32_t i;
	int ret;

	ifc->windows = calloc(mem->nregions, sizeof(*ifc->windows));
	if (ifc->windows == NULL && mem->nregions > 0)
		return -ENOMEM;
	for (i = 0; i < mem->nregions; i++) {
		r = &mem->regions[i];
		ret = ifc->bus->dma_map(ifc, r->host_user_addr,
					r->guest_phys_addr, r->size);
		if (ret < 0) {
			IFCVF_LOG(ERR, "%s: DMA map of region %u failed: %d",
				  ifc->rte_dev->name, i, ret);
			unmap_windows(ifc);
			return ret;
		}
		ifc->windows[ifc->nr_windows++] = (struct ifcvf_dma_window){
			.vaddr = r->host_user_addr,
			.iova = r->guest_phys_addr,
			.len = r->size,
		};
	}
	return 0;
}

/* Guest physical address of [hva, hva + len), which must lie in one region. */
static int
hva_to_gpa(const struct rte_vhost_memory *mem, uint64_t hva, uint64_t len,
	   uint64_t *gpa)
{
	const struct rte_vhost_mem_region *r;
	uint32_t i;

	for (i = 0; i < mem->nregions; i++) {
		r = &mem->regions[i];
		if (hva >= r->host_user_addr && len <= r->size &&
		    hva - r->host_user_addr <= r->size - len) {
			*gpa = r->guest_phys_addr + (hva - r->host_user_addr);
			return 0;
		}
	}
	return -EINVAL;
}

/* Queues: from vhost's view to the HW layer's. */

static int
vring_to_hw(struct ifcvf_internal *ifc, const struct rte_vhost_memory *mem,
	    uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->hw.vring[qid];
	uint16_t size;

	if (rte_vhost_get_vhost_vring(ifc->vid, qid, &q->vring) < 0)
		return -EINVAL;
	size = q->vring.size;
	if (size == 0 || (size & (size - 1)) != 0) {
		IFCVF_LOG(ERR, "%s: queue %u: size %u is not a power of two",
			  ifc->rte_dev->name, qid, size);
		return -EINVAL;
	}
	if (hva_to_gpa(mem, (uintptr_t)q->vring.desc,
		       (uint64_t)size * sizeof(struct vring_desc),
		       &vr->desc) < 0 ||
	    hva_to_gpa(mem, (uintptr_t)q->vring.avail,
		       sizeof(struct vring_avail) + 2ULL * (size + 1),
		       &vr->avail) < 0 ||
	    hva_to_gpa(mem, (uintptr_t)q->vring.used,
		       sizeof(struct vring_used) +
		       sizeof(struct vring_used_elem) * (uint64_t)size + 2,
		       &vr->used) < 0) {
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
	uint32_t i;
	uint16_t qid;
	int ret = 0;

	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	for (i = 0; i < mem->nregions && ret == 0; i++)
		ret = check_region(mem, i);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++)
		ret = vring_to_hw(ifc, mem, qid);
	if (ret == 0)
		ret = map_windows(ifc, mem);
	free(mem);
	return ret;
}

static int
route_irqs(struct ifcvf_internal *ifc)
{
	int fds[IFCVF_MAX_QUEUES + 1];
	uint16_t qid;

	fds[IFCVF_CONFIG_VECTOR] = ifc->cfg.fd;
	for (qid = 0; qid < ifc->nr_vring; qid++)
		fds[IFCVF_QUEUE_VECTOR(qid)] = ifc->q[qid].sh.on ?
			ifc->q[qid].sh.irq.fd : ifc->q[qid].vring.callfd;
	return ifc->bus->set_irqs(ifc, fds, ifc->nr_vring + 1);
}

static uint16_t
used_idx(const struct ifcvf_queue *q)
{
	return __atomic_load_n(&q->vring.used->idx, __ATOMIC_ACQUIRE);
}

/*
 * Add the used entries since the last call to the completed count. The
 * relay calls it at every kick and every stats tick, get_stats at every
 * query, so the 16-bit used index is sampled (with a CPU to run on) before
 * it wraps; the exchange makes each entry count once whichever thread
 * gets there first.
 */
static bool
count_completed(struct ifcvf_queue *q)
{
	uint16_t base = __atomic_load_n(&q->used_base, __ATOMIC_RELAXED);
	uint16_t now = used_idx(q);

	if (base != now &&
	    __atomic_compare_exchange_n(&q->used_base, &base, now, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_fetch_add(&q->stats[IFCVF_STAT_COMPLETED],
				   (uint16_t)(now - base), __ATOMIC_RELAXED);
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
	bool moved = false;
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->q[qid].kick.armed)
			moved |= count_completed(&ifc->q[qid]);
	if (!moved)
		stats_tick_set(ifc, false);
}

/* A kick (relay thread): traffic again, wake the sampler. */
static void
stats_tick_wake(struct ifcvf_internal *ifc)
{
	if (!ifc->stats_ticking && ifc->stats_tick.armed)
		stats_tick_set(ifc, true);
}

static void
stats_tick_start(struct ifcvf_internal *ifc)
{
	struct ifcvf_relay_src *src = &ifc->stats_tick;

	src->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	src->handler = stats_tick;
	if (src->fd < 0 || ifcvf_relay_add(src) < 0) {
		IFCVF_LOG(WARNING, "%s: no stats timer, completed_descriptors may miss 64Ki wraps",
			  ifc->rte_dev->name);
		if (src->fd >= 0)
			close(src->fd);
		src->fd = -1;
		return;
	}
	stats_tick_set(ifc, true);
}

static void
stats_tick_stop(struct ifcvf_internal *ifc)
{
	if (!ifc->stats_tick.armed)
		return;
	ifcvf_relay_del(&ifc->stats_tick);
	close(ifc->stats_tick.fd);
	ifc->stats_tick.fd = -1;
	ifc->stats_ticking = false;
}

/* A kick from the guest (copied to the shadow ring first): the doorbell. */
static void
relay_kick(struct ifcvf_relay_src *src)
{
	struct ifcvf_queue *q = container_of(src, struct ifcvf_queue, kick);

	if (q->sh.on)
		ifcvf_lm_sync_avail(q);
	ifcvf_hw_notify(&q->ifc->hw, q->qid);
	q->stats[IFCVF_STAT_KICKS]++;
	/* The used ring is sampled by the stats timer, not per kick. */
	stats_tick_wake(q->ifc);
}

static int
arm_queue(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	int ret;

	q->used_base = used_idx(q);
	q->kick.handler = relay_kick;
	ret = ifcvf_relay_add(&q->kick);
	if (ret == 0)
		ret = ifcvf_lm_arm(ifc, qid);
	return ret;
}

/*
 * The ring state of a stopped queue into hw.vring[]: an IFCVF saved it in
 * its ring-state registers; a plain virtio VF completes in order and has
 * nothing in flight once stopped, so its used ring tells.
 */
static void
save_ring_state(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->hw.vring[qid];
	struct ifcvf_queue *q = &ifc->q[qid];

	count_completed(q);
	if (vr->enable && !ifc->hw.has_lm) {
		vr->last_used_idx = used_idx(q);
		vr->last_avail_idx = vr->last_used_idx;
	}
}

/* Give vhost the ring state of a stopped queue. */
static void
hand_back(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->hw.vring[qid];

	save_ring_state(ifc, qid);
	rte_vhost_set_vring_base(ifc->vid, qid, vr->last_avail_idx,
				 vr->last_used_idx);
}

static uint64_t
device_features(struct ifcvf_internal *ifc)
{
	uint64_t features = 0;

	rte_vhost_get_negotiated_features(ifc->vid, &features);
	/* IOVA is guest physical: the device translates through its IOMMU. */
	return (features & IFCVF_DEVICE_FEATURES) |
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

/*
 * Stop the device and put each enabled queue's ring state, in the guest's
 * terms, into hw.vring[], with the guest's ring addresses.
 */
static void
pause_device(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	disarm_queues(ifc);
	ifcvf_hw_stop(&ifc->hw);
	ifcvf_lm_drain(ifc);
	ifcvf_lm_teardown(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		save_ring_state(ifc, qid);
}

/* Start the device on hw.vring[], logging dirty pages if @log. */
static int
resume_device(struct ifcvf_internal *ifc, bool log)
{
	uint16_t qid;
	int ret;

	ret = ifcvf_lm_setup(ifc, log);
	if (ret == 0)
		ret = route_irqs(ifc);
	if (ret == 0) {
		ifc->hw.config_vector = IFCVF_CONFIG_VECTOR;
		ret = ifcvf_hw_start(&ifc->hw, device_features(ifc));
	}
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++)
		if (ifc->hw.vring[qid].enable)
			ret = arm_queue(ifc, qid);
	if (ret < 0) {
		disarm_queues(ifc);
		ifcvf_hw_reset(&ifc->hw);
		/* Before teardown closes the shadow rings' interrupt fds. */
		ifc->bus->set_irqs(ifc, NULL, 0);
		ifcvf_lm_teardown(ifc);
	}
	return ret;
}

static void
log_started(struct ifcvf_internal *ifc)
{
	if (ifc->bus->log_started != NULL)
		ifc->bus->log_started(ifc);
}

/*
 * The device's config interrupt: a link change, or a device that stopped
 * and needs a reset (a queue on a malformed ring). Registers only: the
 * relay never takes ifc->lock.
 */
static void
config_changed(struct ifcvf_relay_src *src)
{
	struct ifcvf_internal *ifc = container_of(src, struct ifcvf_internal,
						  cfg);
	struct ifcvf_net_config cfg;
	uint8_t status = ifcvf_hw_get_status(&ifc->hw);

	ifcvf_hw_read_isr(&ifc->hw);
	if (status & VIRTIO_CONFIG_S_NEEDS_RESET)
		IFCVF_LOG(ERR, "%s: the device stopped and needs a reset (status 0x%x): a malformed ring?",
			  ifc->rte_dev->name, status);
	if (ifcvf_hw_read_net_config(&ifc->hw, &cfg) == 0)
		IFCVF_LOG(INFO, "%s: config changed, link %s",
			  ifc->rte_dev->name,
			  cfg.status & VIRTIO_NET_S_LINK_UP ? "up" : "down");
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

/* Tell the bus glue the device is closed (for its own checks). */
static void
closed(struct ifcvf_internal *ifc)
{
	if (ifc->bus->closed != NULL)
		ifc->bus->closed(ifc);
}

static void
stop_datapath(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	stats_tick_stop(ifc);
	pause_device(ifc);
	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->hw.vring[qid].enable)
			rte_vhost_set_vring_base(ifc->vid, qid,
						 ifc->hw.vring[qid].last_avail_idx,
						 ifc->hw.vring[qid].last_used_idx);
	unmap_windows(ifc);
	ifc->bus->set_irqs(ifc, NULL, 0);
	config_irq_stop(ifc);
	ifc->stay_mediated = false;
	closed(ifc);
}

static int
start_datapath(struct ifcvf_internal *ifc)
{
	int ret;

	ret = config_irq_start(ifc);
	if (ret == 0)
		ret = vrings_to_hw(ifc);
	if (ret == 0)
		ret = resume_device(ifc, ifcvf_lm_log_all(ifc->vid));
	if (ret == 0 && ifc->logging)
		log_started(ifc);
	if (ret < 0) {
		unmap_windows(ifc);
		ifc->bus->set_irqs(ifc, NULL, 0);
		config_irq_stop(ifc);
		ifc->stay_mediated = false;
		closed(ifc);
	} else {
		stats_tick_start(ifc);
	}
	return ret;
}

/* Stop and start again on the current queues, logging if @log. */
static int
restart_device(struct ifcvf_internal *ifc, bool log)
{
	int ret;

	pause_device(ifc);
	/*
	 * vhost frees the queues past the first pair when the features lose
	 * MQ (a SET_FEATURES without it): run only those it still has.
	 */
	ifc->nr_vring = RTE_MIN(ifc->nr_vring, rte_vhost_get_vring_num(ifc->vid));
	ret = resume_device(ifc, log);
	if (ret < 0)
		IFCVF_LOG(ERR, "%s: restart failed, the device is stopped",
			  ifc->rte_dev->name);
	return ret;
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
		ifc->hw.vring[qid].enable = true;
}

static int
ifcvf_dev_conf(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);
	uint16_t nr;
	int ret;

	if (ifc == NULL)
		return -1;
	nr = rte_vhost_get_vring_num(vid);
	if (nr > ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: frontend has %u queues, the device %u",
			  ifc->rte_dev->name, nr, ifc->hw.nr_vring);
		return -1;
	}
	pthread_mutex_lock(&ifc->lock);
	ifc->vid = vid;
	ifc->nr_vring = nr;
	enable_implicit_vrings(ifc);
	ret = ifc->configured ? -EBUSY : start_datapath(ifc);
	if (ret == 0)
		ifc->configured = true;
	pthread_mutex_unlock(&ifc->lock);
	if (ret < 0) {
		IFCVF_LOG(ERR, "%s: configuration failed: %s",
			  ifc->rte_dev->name, strerror(-ret));
		return -1;
	}
	if (ifc->bus->notify_area != NULL &&
	    rte_vhost_host_notifier_ctrl(vid, RTE_VHOST_QUEUE_ALL, true) != 0)
		IFCVF_LOG(INFO, "%s: doorbells go through the relay",
			  ifc->rte_dev->name);
	IFCVF_LOG(INFO, "%s: configured, %u queues", ifc->rte_dev->name, nr);
	return 0;
}

static int
ifcvf_dev_close(int vid)
{
	struct ifcvf_internal *ifc = find_by_vid(vid);

	if (ifc == NULL)
		return -1;
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured) {
		stop_datapath(ifc);
		ifc->configured = false;
	}
	pthread_mutex_unlock(&ifc->lock);
	return 0;
}

static int
ifcvf_dev_cleanup(int vid)
{
	return ifcvf_dev_close(vid);
}

/* A queue enabled or disabled while the device runs. */
static int
change_queue(struct ifcvf_internal *ifc, uint16_t qid, bool enable)
{
	struct rte_vhost_memory *mem = NULL;
	struct ifcvf_vring *vr;
	int ret;

	if (!enable && !ifc->mediated) {
		ifcvf_relay_del(&ifc->q[qid].kick);
		/*
		 * A plain virtio 1.0 device cannot stop one queue (queue_enable
		 * is write-1) nor restart it past index 0: it runs until reset.
		 */
		ret = ifc->hw.has_lm ? ifcvf_hw_queue_disable(&ifc->hw, qid) : 0;
		hand_back(ifc, qid);
		return ret;
	}
	if (!enable) {
		bool log = ifc->logging;	/* the pause clears it */

		/* Shadow rings are laid out for the enabled queues. */
		pause_device(ifc);
		hand_back(ifc, qid);
		ifc->hw.vring[qid].enable = false;
		return resume_device(ifc, log);
	}
	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	ret = vring_to_hw(ifc, mem, qid);
	free(mem);
	vr = &ifc->hw.vring[qid];
	/*
	 * Shadow rings have a layout per set of queues; a VF without
	 * ring-state registers needs them to start a used ring past 0.
	 */
	if (ret == 0 && (ifc->mediated || (!ifc->hw.has_lm &&
			 (vr->last_avail_idx | vr->last_used_idx)))) {
		vr->enable = true;
		return restart_device(ifc, ifc->logging);
	}
	if (ret == 0) {
		ifcvf_hw_set_mq(&ifc->hw, (qid + 2) / 2);
		ret = ifcvf_hw_queue_enable(&ifc->hw, qid);
	}
	if (ret == 0)
		ret = arm_queue(ifc, qid);
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
	if (ifc->configured && vring < ifc->nr_vring &&
	    ifc->hw.vring[vring].enable != enable)
		ret = change_queue(ifc, vring, enable);
	ifc->hw.vring[vring].enable = enable;
	pthread_mutex_unlock(&ifc->lock);
	if (ret < 0)
		IFCVF_LOG(ERR, "%s: queue %d %s failed: %s", ifc->rte_dev->name,
			  vring, enable ? "enable" : "disable", strerror(-ret));
	return ret < 0 ? -1 : 0;
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
	if (ifc->configured && want != ifc->logging) {
		IFCVF_LOG(INFO, "%s: dirty logging %s", ifc->rte_dev->name,
			  want ? "on" : "off (migration cancelled)");
		if (!want && ifc->stay_mediated)
			ifc->logging = false;	/* no way back to direct */
		else
			ret = restart_device(ifc, want);
		if (ret == 0 && want)
			log_started(ifc);
	}
	pthread_mutex_unlock(&ifc->lock);
	return ret < 0 ? -1 : 0;
}

static int
ifcvf_get_queue_num(struct rte_vdpa_device *vdev, uint32_t *queue_num)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	*queue_num = ifc->hw.nr_vring / 2;
	return 0;
}

static int
ifcvf_get_features(struct rte_vdpa_device *vdev, uint64_t *features)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	*features = (ifc->hw.dev_features & IFCVF_DEVICE_FEATURES) |
		    IFCVF_VHOST_FEATURES;
	/* Dirty pages are logged by the VF, or by the relay. */
	*features |= 1ULL << VHOST_F_LOG_ALL;
	return 0;
}

static int
ifcvf_get_protocol_features(struct rte_vdpa_device *vdev __rte_unused,
			    uint64_t *features)
{
	*features = IFCVF_PROTOCOL_FEATURES;
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

	if (ifc == NULL || ifc->bus->notify_area == NULL ||
	    qid < 0 || qid >= ifc->hw.nr_vring)
		return -1;
	return ifc->bus->notify_area(ifc, qid, offset, size);
}

static int
ifcvf_get_dev_type(struct rte_vdpa_device *vdev __rte_unused, uint32_t *type)
{
	*type = RTE_VHOST_VDPA_DEVICE_TYPE_NET;
	return 0;
}

/* Statistics, per queue. */

static int
ifcvf_get_stats_names(struct rte_vdpa_device *vdev __rte_unused,
		      struct rte_vdpa_stat_name *names, unsigned int size)
{
	unsigned int i;

	if (names == NULL)
		return IFCVF_STAT_MAX;
	for (i = 0; i < RTE_MIN(size, (unsigned int)IFCVF_STAT_MAX); i++)
		strlcpy(names[i].name, stat_names[i], sizeof(names[i].name));
	return IFCVF_STAT_MAX;
}

static int
ifcvf_get_stats(struct rte_vdpa_device *vdev, int qid,
		struct rte_vdpa_stat *stats, unsigned int n)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);
	struct ifcvf_queue *q;
	unsigned int i;

	if (ifc == NULL || qid < 0 || qid >= ifc->hw.nr_vring)
		return -1;
	q = &ifc->q[qid];
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured && ifc->hw.vring[qid].enable)
		count_completed(q);
	for (i = 0; i < RTE_MIN(n, (unsigned int)IFCVF_STAT_MAX); i++) {
		stats[i].id = i;
		stats[i].value = __atomic_load_n(&q->stats[i], __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&ifc->lock);
	return i;
}

static int
ifcvf_reset_stats(struct rte_vdpa_device *vdev, int qid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);
	struct ifcvf_queue *q;

	if (ifc == NULL || qid < 0 || qid >= ifc->hw.nr_vring)
		return -1;
	q = &ifc->q[qid];
	pthread_mutex_lock(&ifc->lock);
	memset(q->stats, 0, sizeof(q->stats));
	if (ifc->configured && ifc->hw.vring[qid].enable)
		q->used_base = used_idx(q);
	pthread_mutex_unlock(&ifc->lock);
	return 0;
}

static struct rte_vdpa_dev_ops ifcvf_ops = {
	.get_queue_num = ifcvf_get_queue_num,
	.get_features = ifcvf_get_features,
	.get_protocol_features = ifcvf_get_protocol_features,
	.dev_conf = ifcvf_dev_conf,
	.dev_close = ifcvf_dev_close,
	.dev_cleanup = ifcvf_dev_cleanup,
	.set_vring_state = ifcvf_set_vring_state,
	.set_features = ifcvf_set_features,
	.get_vfio_group_fd = ifcvf_get_vfio_group_fd,
	.get_vfio_device_fd = ifcvf_get_vfio_device_fd,
	.get_notify_area = ifcvf_get_notify_area,
	.get_stats_names = ifcvf_get_stats_names,
	.get_stats = ifcvf_get_stats,
	.reset_stats = ifcvf_reset_stats,
	.get_dev_type = ifcvf_get_dev_type,
};

int
ifcvf_vdpa_register(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	pthread_mutex_init(&ifc->lock, NULL);
	ifc->vid = -1;
	for (qid = 0; qid < IFCVF_MAX_QUEUES; qid++) {
		ifc->q[qid].ifc = ifc;
		ifc->q[qid].qid = qid;
		ifc->q[qid].kick.fd = -1;
		ifc->q[qid].sh.irq.fd = -1;
	}
	ifc->cfg.fd = -1;
	ifc->vdev = rte_vdpa_register_device(ifc->rte_dev, &ifcvf_ops);
	if (ifc->vdev == NULL) {
		IFCVF_LOG(ERR, "%s: cannot register the vDPA device",
			  ifc->rte_dev->name);
		pthread_mutex_destroy(&ifc->lock);
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
	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_REMOVE(&ifcvf_list, ifc, next);
	pthread_mutex_unlock(&ifcvf_list_lock);
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured) {
		stop_datapath(ifc);
		ifc->configured = false;
	}
	pthread_mutex_unlock(&ifc->lock);
	rte_vdpa_unregister_device(ifc->vdev);
	pthread_mutex_destroy(&ifc->lock);
}

/* Parse @args; an unknown key is named, with the keys @valid accepts. */
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
