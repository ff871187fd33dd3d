/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * Live migration: every page the device writes must reach vhost's dirty
 * log. In HW mode the VF logs them itself: the log is mapped into its
 * IOMMU domain above guest memory and the LM block gets its range. In SW
 * mode (sw-live-migration=1, or a VF without the LM block) the queues run
 * on shadow avail and used rings of the driver's: the relay copies avail
 * entries to the device and used entries back to the guest, logging the
 * buffers the device filled and the used ring it wrote.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "ifcvf_vdpa.h"

/* The LM window's IOVA is aligned so, above every guest region. */
#define LM_IOVA_ALIGN		(1ULL << 30)
#define LM_IOVA_LIMIT		(1ULL << 48)
#define SHADOW_ALIGN		4096

bool
ifcvf_lm_log_all(int vid)
{
	uint64_t features = 0;

	rte_vhost_get_negotiated_features(vid, &features);
	return (features & (1ULL << VHOST_F_LOG_ALL)) != 0;
}

bool
ifcvf_lm_sw_mode(const struct ifcvf_internal *ifc)
{
	return ifc->sw_lm || !ifc->hw.has_lm;
}

static bool
event_idx(const struct ifcvf_internal *ifc)
{
	return (ifc->hw.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)) != 0;
}

static uint64_t
used_ring_len(uint16_t size)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * (uint64_t)size + 2;
}

static uint64_t
avail_ring_len(uint16_t size)
{
	return sizeof(struct vring_avail) + 2ULL * size + 2;
}

/* An IOVA for @len bytes above every guest memory region. */
static int
pick_iova(struct ifcvf_internal *ifc, uint64_t len, uint64_t *iova)
{
	struct rte_vhost_memory *mem = NULL;
	uint64_t top = 0, end;
	uint32_t i;

	if (rte_vhost_get_mem_table(ifc->vid, &mem) < 0)
		return -EINVAL;
	for (i = 0; i < mem->nregions; i++) {
		end = mem->regions[i].guest_phys_addr + mem->regions[i].size;
		top = RTE_MAX(top, end);
	}
	free(mem);
	*iova = RTE_ALIGN_CEIL(top, LM_IOVA_ALIGN);
	if (*iova < top || *iova + len < *iova || *iova + len > LM_IOVA_LIMIT)
		return -ERANGE;
	return 0;
}

static int
map_lm_window(struct ifcvf_internal *ifc, uint64_t vaddr, uint64_t len)
{
	struct ifcvf_dma_window *w = &ifc->lm_window;
	int ret;

	ret = pick_iova(ifc, len, &w->iova);
	if (ret == 0)
		ret = ifc->bus->dma_map(ifc, vaddr, w->iova, len);
	if (ret < 0) {
		IFCVF_LOG(ERR, "%s: cannot map %" PRIu64 " bytes for live migration: %s",
			  ifc->rte_dev->name, len, strerror(-ret));
		return ret;
	}
	w->vaddr = vaddr;
	w->len = len;
	return 0;
}

static void
unmap_lm_window(struct ifcvf_internal *ifc)
{
	struct ifcvf_dma_window *w = &ifc->lm_window;

	if (w->len == 0)
		return;
	if (ifc->bus->dma_unmap(ifc, w->vaddr, w->iova, w->len) < 0)
		IFCVF_LOG(ERR, "%s: cannot unmap the live-migration window",
			  ifc->rte_dev->name);
	w->len = 0;
}

/*
 * vhost's dirty log, checked to be backed by memory from end to end: a
 * log file shorter than the frontend declared would fault whoever writes
 * its tail (the relay, or the VF's DMA).
 */
static int
get_log(struct ifcvf_internal *ifc, uint64_t *base, uint64_t *size)
{
	uintptr_t start, end;

	if (rte_vhost_get_log_base(ifc->vid, base, size) < 0 ||
	    *base == 0 || *size == 0) {
		IFCVF_LOG(ERR, "%s: LOG_ALL without a dirty log",
			  ifc->rte_dev->name);
		return -EINVAL;
	}
	start = RTE_ALIGN_FLOOR(*base, (uintptr_t)getpagesize());
	end = RTE_ALIGN_CEIL(*base + *size, (uintptr_t)getpagesize());
	if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) < 0 &&
	    errno != EINVAL) {
		IFCVF_LOG(ERR, "%s: the dirty log (%" PRIu64 " bytes) is not all backed by memory: %s",
			  ifc->rte_dev->name, *size, strerror(errno));
		return -EFAULT;
	}
	return 0;
}

/* HW mode: the VF writes the dirty bitmap itself. */

static int
hw_setup(struct ifcvf_internal *ifc)
{
	uint64_t base = 0, size = 0;
	int ret;

	ret = get_log(ifc, &base, &size);
	if (ret == 0)
		ret = map_lm_window(ifc, base, size);
	if (ret < 0)
		return ret;
	ifcvf_hw_log_enable(&ifc->hw, ifc->lm_window.iova, size);
	ifc->logging = true;
	IFCVF_LOG(INFO, "%s: HW dirty logging, %" PRIu64 " bytes of log at iova 0x%" PRIx64,
		  ifc->rte_dev->name, size, ifc->lm_window.iova);
	return 0;
}

/* SW mode: shadow rings. */

static uint64_t
shadow_len(uint16_t size)
{
	return RTE_ALIGN_CEIL(avail_ring_len(size), SHADOW_ALIGN) +
	       RTE_ALIGN_CEIL(used_ring_len(size), SHADOW_ALIGN);
}

/* Put queue @qid on the shadow rings at @va / @iova. */
static int
shadow_queue(struct ifcvf_internal *ifc, uint16_t qid, uint8_t *va,
	     uint64_t iova)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->hw.vring[qid];
	struct ifcvf_shadow *sh = &q->sh;
	uint64_t used_off = RTE_ALIGN_CEIL(avail_ring_len(vr->size),
					   SHADOW_ALIGN);

	sh->irq.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->irq.fd < 0)
		return -errno;
	sh->avail = (struct vring_avail *)va;
	sh->used = (struct vring_used *)(va + used_off);
	sh->avail_off = vr->last_avail_idx;
	sh->used_off = vr->last_used_idx;
	sh->next_avail = vr->last_avail_idx;
	sh->next_used = vr->last_used_idx;
	sh->on = true;
	vr->avail = iova;
	vr->used = iova + used_off;
	vr->last_avail_idx = 0;
	vr->last_used_idx = 0;
	return 0;
}

static int
sw_setup(struct ifcvf_internal *ifc)
{
	uint64_t len = 0, off = 0;
	uint16_t qid;
	uint8_t *va;
	int ret;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->hw.vring[qid].enable)
			len += shadow_len(ifc->hw.vring[qid].size);
	if (len == 0)
		return 0;
	va = mmap(NULL, len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == MAP_FAILED)
		return -ENOMEM;
	ret = rte_vhost_get_mem_table(ifc->vid, &ifc->mem) < 0 ? -EINVAL : 0;
	if (ret == 0)
		ret = map_lm_window(ifc, (uintptr_t)va, len);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++) {
		if (!ifc->hw.vring[qid].enable)
			continue;
		ret = shadow_queue(ifc, qid, va + off,
				   ifc->lm_window.iova + off);
		off += shadow_len(ifc->hw.vring[qid].size);
	}
	ifc->mediated = true;
	if (ret < 0) {
		if (ifc->lm_window.len == 0)	/* else teardown unmaps it */
			munmap(va, len);
		ifcvf_lm_teardown(ifc);
		return ret;
	}
	IFCVF_LOG(INFO, "%s: queues on shadow rings at iova 0x%" PRIx64,
		  ifc->rte_dev->name, ifc->lm_window.iova);
	return 0;
}

/*
 * A VF without ring-state registers starts its queues at index 0: rings
 * the guest has used already (a reconnect, a memory-table update) need
 * shadow rings, whose indices start at 0, to resume where they were.
 */
static bool
needs_shadow(const struct ifcvf_internal *ifc)
{
	const struct ifcvf_vring *vr;
	uint16_t qid;

	if (ifc->hw.has_lm)
		return false;
	for (qid = 0; qid < ifc->nr_vring; qid++) {
		vr = &ifc->hw.vring[qid];
		if (vr->enable && (vr->last_avail_idx | vr->last_used_idx))
			return true;
	}
	return false;
}

int
ifcvf_lm_setup(struct ifcvf_internal *ifc, bool log)
{
	uint64_t base, size;
	int ret = 0;

	if (!ifcvf_lm_sw_mode(ifc))
		return log ? hw_setup(ifc) : 0;
	/* A VF without ring-state registers cannot leave the shadows. */
	if (log)
		ret = get_log(ifc, &base, &size);
	if (ret == 0 && (log || ifc->stay_mediated || needs_shadow(ifc)))
		ret = sw_setup(ifc);
	if (ret == 0) {
		ifc->logging = log;
		ifc->stay_mediated |= ifc->mediated && !ifc->hw.has_lm;
	}
	return ret;
}

/* The relay's work for a mediated queue. */

static void
log_desc(struct ifcvf_internal *ifc, const struct vring_desc *d,
	 uint32_t *left)
{
	uint32_t len;

	if (!(d->flags & VRING_DESC_F_WRITE) || *left == 0)
		return;
	len = RTE_MIN(d->len, *left);
	rte_vhost_log_write(ifc->vid, d->addr, len);
	*left -= len;
}

static const struct vring_desc *
indirect_table(struct ifcvf_internal *ifc, const struct vring_desc *d,
	       uint32_t *n)
{
	uint64_t len = d->len;
	uintptr_t va;

	va = rte_vhost_va_from_guest_pa(ifc->mem, d->addr, &len);
	if (va == 0 || len != d->len || d->len % sizeof(*d) != 0)
		return NULL;
	*n = d->len / sizeof(*d);
	return (const struct vring_desc *)va;
}

/* Log the pages the device wrote for the chain at @head: @len bytes. */
static void
log_chain(struct ifcvf_queue *q, uint16_t head, uint32_t len)
{
	const struct vring_desc *table = q->vring.desc, *d;
	uint32_t n = q->vring.size, i = head, steps;

	for (steps = 0; steps < n && i < n && len > 0; steps++) {
		d = &table[i];
		if (d->flags & VRING_DESC_F_INDIRECT) {
			table = indirect_table(q->ifc, d, &n);
			if (table == NULL)
				return;
			i = 0;
			steps = 0;
			d = &table[0];
		}
		log_desc(q->ifc, d, &len);
		if (!(d->flags & VRING_DESC_F_NEXT))
			return;
		i = d->next;
	}
}

static void
log_used(struct ifcvf_queue *q, uint64_t off, uint64_t len)
{
	if (q->ifc->logging)
		rte_vhost_log_used_vring(q->ifc->vid, q->qid, off, len);
}

/*
 * Log @n used entries of the guest's from index @from, once they are
 * written: one or two ranges (cheaper than a call per entry).
 */
static void
log_used_entries(struct ifcvf_queue *q, uint16_t from, uint16_t n)
{
	const uint64_t e = sizeof(struct vring_used_elem);
	uint16_t size = q->vring.size, first = from & (size - 1), k;

	n = RTE_MIN(n, size);
	k = RTE_MIN(n, (uint16_t)(size - first));
	log_used(q, offsetof(struct vring_used, ring) + e * first, e * k);
	if (k < n)
		log_used(q, offsetof(struct vring_used, ring), e * (n - k));
}

/*
 * Copy the guest's new avail entries to the shadow ring. With EVENT_IDX,
 * an entry the guest adds while avail_event is being moved past it comes
 * without a kick (the guest read the old avail_event): after publishing
 * avail_event, look at the avail index again, as a device must.
 */
static void
sync_avail(struct ifcvf_queue *q)
{
	struct ifcvf_shadow *sh = &q->sh;
	uint16_t mask = q->vring.size - 1, idx;
	uint64_t off = offsetof(struct vring_used, ring) +
		       sizeof(struct vring_used_elem) * q->vring.size;
	uint16_t *avail_event = RTE_PTR_ADD(q->vring.used, off);

	idx = __atomic_load_n(&q->vring.avail->idx, __ATOMIC_ACQUIRE);
	do {
		while (sh->next_avail != idx) {
			sh->avail->ring[(uint16_t)(sh->next_avail - sh->avail_off) & mask] =
				q->vring.avail->ring[sh->next_avail & mask];
			sh->next_avail++;
		}
		__atomic_store_n(&sh->avail->idx, sh->next_avail - sh->avail_off,
				 __ATOMIC_RELEASE);
		if (!event_idx(q->ifc))
			return;
		/* Ask the guest to kick at its next avail entry. */
		__atomic_store_n(avail_event, sh->next_avail, __ATOMIC_SEQ_CST);
		log_used(q, off, sizeof(*avail_event));
		idx = __atomic_load_n(&q->vring.avail->idx, __ATOMIC_SEQ_CST);
	} while (idx != sh->next_avail);
}

/* Copy the device's used entries to the guest, logging what it wrote. */
static uint16_t
copy_used(struct ifcvf_queue *q)
{
	struct ifcvf_shadow *sh = &q->sh;
	uint16_t mask = q->vring.size - 1, idx, n = 0;
	struct vring_used_elem e;

	idx = __atomic_load_n(&sh->used->idx, __ATOMIC_ACQUIRE);
	while ((uint16_t)(sh->next_used - sh->used_off) != idx) {
		e = sh->used->ring[(uint16_t)(sh->next_used - sh->used_off) & mask];
		q->vring.used->ring[sh->next_used & mask] = e;
		if (q->ifc->logging && e.len > 0)
			log_chain(q, e.id, e.len);
		sh->next_used++;
		n++;
	}
	return n;
}

static bool
guest_wants_irq(struct ifcvf_queue *q, uint16_t old, uint16_t now)
{
	const struct vring_avail *avail = q->vring.avail;

	if (event_idx(q->ifc))
		return vring_need_event(avail->ring[q->vring.size], now, old);
	return !(avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
}

static void
sync_used(struct ifcvf_queue *q)
{
	struct ifcvf_shadow *sh = &q->sh;
	uint16_t old = sh->next_used, n = 0;

	do {
		n += copy_used(q);
		/* Interrupt the relay at the device's next used entry. */
		__atomic_store_n(&sh->avail->ring[q->vring.size],
				 (uint16_t)(sh->next_used - sh->used_off),
				 __ATOMIC_SEQ_CST);
	} while (__atomic_load_n(&sh->used->idx, __ATOMIC_SEQ_CST) !=
		 (uint16_t)(sh->next_used - sh->used_off));
	if (n == 0)
		return;
	log_used_entries(q, old, n);
	__atomic_store_n(&q->vring.used->idx, sh->next_used, __ATOMIC_RELEASE);
	log_used(q, offsetof(struct vring_used, idx), sizeof(uint16_t));
	q->stats[IFCVF_STAT_RELAYED] += n;
	if (guest_wants_irq(q, old, sh->next_used)) {
		eventfd_write(q->vring.callfd, 1);
		q->stats[IFCVF_STAT_IRQS]++;
	}
}

void
ifcvf_lm_sync_avail(struct ifcvf_queue *q)
{
	sync_avail(q);
}

static void
relay_irq(struct ifcvf_relay_src *src)
{
	sync_used(container_of(src, struct ifcvf_queue, sh.irq));
}

uint16_t
ifcvf_lm_relay_used(struct ifcvf_queue *q)
{
	uint16_t before = q->sh.next_used;

	sync_used(q);
	return q->sh.next_used - before;
}

int
ifcvf_lm_arm(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];

	if (!q->sh.on)
		return 0;
	q->sh.irq.handler = relay_irq;
	/* Entries the guest made available before the switch. */
	sync_avail(q);
	ifcvf_hw_notify(&ifc->hw, qid);
	return ifcvf_relay_add(&q->sh.irq);
}

void
ifcvf_lm_disarm(struct ifcvf_internal *ifc, uint16_t qid)
{
	ifcvf_relay_del(&ifc->q[qid].sh.irq);
}

/* The device stopped: last used entries, ring state in guest terms. */
static void
drain_queue(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->hw.vring[qid];

	sync_used(q);
	vr->last_used_idx = q->sh.next_used;
	/* Without ring-state registers: in order, nothing in flight. */
	vr->last_avail_idx = ifc->hw.has_lm ?
		(uint16_t)(vr->last_avail_idx + q->sh.avail_off) :
		vr->last_used_idx;
	vr->avail = q->avail_gpa;
	vr->used = q->used_gpa;
}

void
ifcvf_lm_drain(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++) {
		if (ifc->q[qid].sh.on)
			drain_queue(ifc, qid);
		/* The device's last writes to the used rings. */
		if (ifc->logging && ifc->hw.vring[qid].enable)
			rte_vhost_log_used_vring(ifc->vid, qid, 0,
				used_ring_len(ifc->q[qid].vring.size));
	}
}

void
ifcvf_lm_teardown(struct ifcvf_internal *ifc)
{
	struct ifcvf_dma_window *w = &ifc->lm_window;
	uint64_t va = w->vaddr, len = w->len;
	uint16_t qid;

	if (ifc->logging && !ifc->mediated)
		ifcvf_hw_log_disable(&ifc->hw);
	unmap_lm_window(ifc);
	if (ifc->mediated) {
		for (qid = 0; qid < IFCVF_MAX_QUEUES; qid++) {
			struct ifcvf_shadow *sh = &ifc->q[qid].sh;

			if (sh->irq.fd >= 0)
				close(sh->irq.fd);
			sh->irq.fd = -1;
			sh->on = false;
		}
		if (len > 0)
			munmap((void *)(uintptr_t)va, len);
		free(ifc->mem);
		ifc->mem = NULL;
	}
	ifc->mediated = false;
	ifc->logging = false;
}
