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

#define _GNU_SOURCE	/* mremap() */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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
lm_event_idx(const struct ifcvf_internal *ifc)
{
	return (ifc->hw.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)) != 0;
}

static uint64_t
lm_used_ring_len(uint16_t size)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * (uint64_t)size + 2;
}

static uint64_t
lm_avail_ring_len(uint16_t size)
{
	return sizeof(struct vring_avail) + 2ULL * size + 2;
}

/* An IOVA for @len bytes above every guest memory region. */
static int
lm_pick_iova(struct ifcvf_internal *ifc, uint64_t len, uint64_t *iova)
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
lm_map_window(struct ifcvf_internal *ifc, uint64_t vaddr, uint64_t len)
{
	struct ifcvf_dma_window *w = &ifc->lm_window;
	int ret;

	ret = lm_pick_iova(ifc, len, &w->iova);
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
lm_unmap_window(struct ifcvf_internal *ifc)
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
 * Where the log really is. DPDK 22.11's vhost maps the log file from the
 * frontend's mmap offset and then adds that offset to the address again
 * (SET_LOG_BASE), so with a non-zero offset the base it reports lies
 * past the mapping. That mapping is recognised in /proc/self/maps: it
 * is a shared writable mapping that starts @off bytes below @base, maps
 * the file from @off and is as long as the log. A vhost that maps the file
 * from 0 reports a base inside a mapping of offset 0, which never matches
 * that: then the log must lie in one shared writable mapping where vhost
 * says. 0 when it does not.
 */
static uint64_t
lm_log_locate(uint64_t base, uint64_t size)
{
	uint64_t start, end, off, want = RTE_ALIGN_CEIL(size, getpagesize());
	uint64_t found = 0;
	char line[512], perms[8];
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64,
			   &start, &end, perms, &off) != 4)
			continue;
		/* vhost maps the log shared, readable and writable. */
		if (strcmp(perms, "rw-s") != 0)
			continue;
		if (off != 0 && start + off == base && end - start == want) {
			found = start;
			break;
		}
		if (base >= start && size <= end - start &&
		    base - start <= end - start - size)
			found = base;	/* as reported, if nothing better */
	}
	fclose(f);
	return found;
}

static void
lm_log_release(struct ifcvf_internal *ifc)
{
	if (ifc->log_map != NULL)
		munmap(ifc->log_map, ifc->log_map_len);
	ifc->log_map = NULL;
	ifc->log_map_len = 0;
	ifc->log = NULL;
	ifc->log_size = 0;
	ifc->log_vhost_base = 0;
}

/*
 * Take the log vhost reports at @vhost_base: located (lm_log_locate),
 * checked to be backed by memory from end to end (a log file shorter than
 * the frontend declared would fault whoever writes its tail, the relay or
 * the VF's DMA), and mapped again by the driver itself (mremap of size 0
 * maps the same shared pages): vhost unmaps its own mapping at the next
 * SET_LOG_BASE, before the driver hears of it; the driver's stays until
 * it lets go, and writes to it still reach the frontend's file.
 */
static int
lm_log_take(struct ifcvf_internal *ifc, uint64_t vhost_base, uint64_t size)
{
	uint64_t real = lm_log_locate(vhost_base, size);
	uintptr_t start = RTE_ALIGN_FLOOR(real, (uintptr_t)getpagesize());
	uintptr_t end = RTE_ALIGN_CEIL(real + size, (uintptr_t)getpagesize());
	void *map;

	if (real == 0) {
		IFCVF_LOG(ERR, "%s: the dirty log (%" PRIu64 " bytes) is in no shared mapping",
			  ifc->rte_dev->name, size);
		return -EINVAL;
	}

	if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) < 0 &&
	    errno != EINVAL) {
		IFCVF_LOG(ERR, "%s: the dirty log (%" PRIu64 " bytes) is not all backed by memory: %s",
			  ifc->rte_dev->name, size, strerror(errno));
		return -EFAULT;
	}
	map = mremap((void *)start, 0, end - start, MREMAP_MAYMOVE);
	if (map == MAP_FAILED) {
		IFCVF_LOG(ERR, "%s: the dirty log is not a shared mapping: %s",
			  ifc->rte_dev->name, strerror(errno));
		return -EINVAL;
	}
	lm_log_release(ifc);
	ifc->log_map = map;
	ifc->log_map_len = end - start;
	ifc->log = (uint8_t *)map + (real - start);
	ifc->log_size = size;
	ifc->log_vhost_base = vhost_base;
	return 0;
}

static int
lm_get_log(struct ifcvf_internal *ifc)
{
	uint64_t base = 0, size = 0;
	int ret;

	if (rte_vhost_get_log_base(ifc->vid, &base, &size) < 0 ||
	    base == 0 || size == 0) {
		IFCVF_LOG(ERR, "%s: LOG_ALL without a dirty log",
			  ifc->rte_dev->name);
		ret = -EINVAL;
	} else {
		ret = lm_log_take(ifc, base, size);
	}
	if (ret < 0)
		ifcvf_error(ifc, IFCVF_ERR_BAD_LOG);
	return ret;
}

/* vhost's log now, and whether it is another than the one taken. */
static bool
lm_log_moved(struct ifcvf_internal *ifc, uint64_t *base, uint64_t *size)
{
	*base = 0;
	*size = 0;
	rte_vhost_get_log_base(ifc->vid, base, size);
	return *base != ifc->log_vhost_base || *size != ifc->log_size;
}

bool
ifcvf_lm_log_moved(struct ifcvf_internal *ifc)
{
	uint64_t base, size;

	return lm_log_moved(ifc, &base, &size);
}

/*
 * Whether the relay logs: the control thread turns it off while the relay
 * runs when a cancelled migration leaves the queues on shadow rings.
 */
static bool
lm_relay_logging(const struct ifcvf_internal *ifc)
{
	return __atomic_load_n(&ifc->logging, __ATOMIC_ACQUIRE);
}

/*
 * A frontend may hand a new log while logging (QEMU does, once per queue
 * pair, and a resized one without SET_FEATURES): the relay moves to it
 * before each batch it logs, keeping its own mapping of the last one if
 * the new one cannot be taken.
 */
static void
lm_log_follow(struct ifcvf_internal *ifc)
{
	uint64_t base, size;

	if (!lm_relay_logging(ifc) || !lm_log_moved(ifc, &base, &size))
		return;
	if (base == 0 || size == 0 || lm_log_take(ifc, base, size) < 0) {
		ifc->log_vhost_base = base;	/* not again at every batch */
		ifcvf_error(ifc, IFCVF_ERR_BAD_LOG);
	}
}

/*
 * Mark the pages of [gpa, gpa + len) dirty in the bitmap @log of @size
 * bytes: bit (page % 8) of byte page / 8. A page past the log is not
 * marked (vhost drops such writes too); a bit already set is not written
 * again (no locked write for it).
 */
static inline void
lm_mark_pages(uint8_t *log, uint64_t size, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;
	uint8_t bit;

	if (len == 0 || gpa + len < gpa)
		return;
	last = RTE_MIN((gpa + len - 1) / IFCVF_LOG_PAGE, size * 8 - 1);
	for (page = gpa / IFCVF_LOG_PAGE; page <= last; page++) {
		bit = 1u << (page % 8);
		if (!(__atomic_load_n(&log[page / 8], __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(&log[page / 8], bit,
					  __ATOMIC_RELAXED);
	}
}

static void
lm_log_pages(struct ifcvf_internal *ifc, uint64_t gpa, uint64_t len)
{
	if (ifc->log_size > 0)
		lm_mark_pages(ifc->log, ifc->log_size, gpa, len);
}

/* HW mode: the VF writes the dirty bitmap itself. */

/*
 * The log's pages are mapped whole (an IOMMU maps pages); the VF gets
 * the log's own start and end inside them.
 */
static int
lm_hw_setup(struct ifcvf_internal *ifc)
{
	uint64_t page = getpagesize(), va, in_page, iova;
	int ret;

	ret = lm_get_log(ifc);
	if (ret < 0)
		return ret;
	va = RTE_ALIGN_FLOOR((uintptr_t)ifc->log, page);
	in_page = (uintptr_t)ifc->log - va;
	ret = lm_map_window(ifc, va,
			    RTE_ALIGN_CEIL(in_page + ifc->log_size, page));
	if (ret < 0)
		return ret;
	iova = ifc->lm_window.iova + in_page;
	ifcvf_hw_log_enable(&ifc->hw, iova, ifc->log_size);
	ifc->logging = true;
	ifc->nr_hw_log_setups++;
	IFCVF_LOG(INFO, "%s: HW dirty logging, %" PRIu64 " bytes of log at iova 0x%" PRIx64,
		  ifc->rte_dev->name, ifc->log_size, iova);
	return 0;
}

int
ifcvf_lm_hw_log(struct ifcvf_internal *ifc, bool on)
{
	int ret = on ? lm_hw_setup(ifc) : 0;

	if (!on || ret < 0)
		ifcvf_lm_teardown(ifc);
	return ret;
}

/* SW mode: shadow rings. */

static uint64_t
lm_shadow_len(uint16_t size)
{
	return RTE_ALIGN_CEIL(lm_avail_ring_len(size), SHADOW_ALIGN) +
	       RTE_ALIGN_CEIL(lm_used_ring_len(size), SHADOW_ALIGN);
}

/* Put queue @qid on the shadow rings at @va / @iova. */
static int
lm_shadow_queue(struct ifcvf_internal *ifc, uint16_t qid, uint8_t *va,
		uint64_t iova)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];
	struct ifcvf_shadow *sh = &q->sh;
	uint64_t used_off = RTE_ALIGN_CEIL(lm_avail_ring_len(vr->size),
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
lm_sw_setup(struct ifcvf_internal *ifc)
{
	uint64_t len = 0, off = 0;
	uint16_t qid;
	uint8_t *va;
	int ret;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->vring[qid].enable)
			len += lm_shadow_len(ifc->vring[qid].size);
	if (len == 0)
		return 0;
	va = mmap(NULL, len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == MAP_FAILED)
		return -ENOMEM;
	ret = rte_vhost_get_mem_table(ifc->vid, &ifc->mem) < 0 ? -EINVAL : 0;
	if (ret == 0)
		ret = lm_map_window(ifc, (uintptr_t)va, len);
	for (qid = 0; qid < ifc->nr_vring && ret == 0; qid++) {
		if (!ifc->vring[qid].enable)
			continue;
		ret = lm_shadow_queue(ifc, qid, va + off,
				      ifc->lm_window.iova + off);
		off += lm_shadow_len(ifc->vring[qid].size);
	}
	/* What a failure leaves is ifcvf_lm_undo()'s, but an unmapped va. */
	ifc->mediated = true;
	if (ret < 0) {
		if (ifc->lm_window.len == 0)
			munmap(va, len);
		return ret;
	}
	ifc->nr_shadow_setups++;
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
lm_needs_shadow(const struct ifcvf_internal *ifc)
{
	const struct ifcvf_vring *vr;
	uint16_t qid;

	if (ifc->hw.has_lm)
		return false;
	for (qid = 0; qid < ifc->nr_vring; qid++) {
		vr = &ifc->vring[qid];
		if (vr->enable && (vr->last_avail_idx | vr->last_used_idx))
			return true;
	}
	return false;
}

/* SW mode: shadow rings when logging, or when the VF cannot do without. */
static int
lm_sw_setup_for(struct ifcvf_internal *ifc, bool log)
{
	int ret = 0;

	/* A VF without ring-state registers cannot leave the shadows. */
	if (log)
		ret = lm_get_log(ifc);
	if (ret == 0 && (log || ifc->stay_mediated || lm_needs_shadow(ifc)))
		ret = lm_sw_setup(ifc);
	return ret;
}

/* Undone by ifcvf_lm_undo() when it fails, by ifcvf_lm_teardown() after. */
int
ifcvf_lm_setup(struct ifcvf_internal *ifc, bool log)
{
	int ret;

	if (!ifcvf_lm_sw_mode(ifc))
		ret = log ? lm_hw_setup(ifc) : 0;
	else
		ret = lm_sw_setup_for(ifc, log);
	if (ret < 0) {
		ifcvf_lm_undo(ifc);
		return ret;
	}
	ifc->logging = log;
	ifc->stay_mediated |= ifc->mediated && !ifc->hw.has_lm;
	return 0;
}

/* The relay's work for a mediated queue. */

static void
lm_log_desc(struct ifcvf_internal *ifc, const struct vring_desc *d,
	    uint32_t *left)
{
	uint32_t len;

	if (!(d->flags & VRING_DESC_F_WRITE) || *left == 0)
		return;
	len = RTE_MIN(d->len, *left);
	lm_log_pages(ifc, d->addr, len);
	*left -= len;
}

static const struct vring_desc *
lm_indirect_table(struct ifcvf_internal *ifc, const struct vring_desc *d,
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
lm_log_chain(struct ifcvf_queue *q, uint16_t head, uint32_t len)
{
	const struct vring_desc *table = q->vring.desc, *d;
	uint32_t n = q->vring.size, i = head, steps;
	bool indirect = false;

	for (steps = 0; steps < n && i < n && len > 0; steps++) {
		d = &table[i];
		if (d->flags & VRING_DESC_F_INDIRECT) {
			/* Followed once: the spec forbids a nested table. */
			if (indirect)
				return;
			table = lm_indirect_table(q->ifc, d, &n);
			if (table == NULL || n == 0)
				return;
			indirect = true;
			i = 0;
			steps = 0;
			d = &table[0];
		}
		lm_log_desc(q->ifc, d, &len);
		if (!(d->flags & VRING_DESC_F_NEXT))
			return;
		i = d->next;
	}
}

static void
lm_log_used(struct ifcvf_queue *q, uint64_t off, uint64_t len)
{
	if (lm_relay_logging(q->ifc))
		lm_log_pages(q->ifc, q->used_gpa + off, len);
}

/*
 * Log what the relay wrote into the guest's used ring: @n entries from
 * index @from (one or two ranges) and the index.
 */
static void
lm_log_used_ring(struct ifcvf_queue *q, uint16_t from, uint16_t n)
{
	const uint64_t e = sizeof(struct vring_used_elem);
	const uint64_t ring = q->used_gpa + offsetof(struct vring_used, ring);
	uint16_t size = q->vring.size, first = from & (size - 1), k;
	uint64_t log_size = q->ifc->log_size;
	uint8_t *log = q->ifc->log;

	n = RTE_MIN(n, size);
	k = RTE_MIN(n, (uint16_t)(size - first));
	lm_mark_pages(log, log_size, ring + e * first, e * k);
	if (k < n)
		lm_mark_pages(log, log_size, ring, e * (n - k));
	lm_mark_pages(log, log_size, q->used_gpa +
		      offsetof(struct vring_used, idx), sizeof(uint16_t));
}

/*
 * Copy the guest's new avail entries to the shadow ring. With EVENT_IDX,
 * an entry the guest adds while avail_event is being moved past it comes
 * without a kick (the guest read the old avail_event): after publishing
 * avail_event, look at the avail index again, as a device must.
 */
static void
lm_sync_avail(struct ifcvf_queue *q)
{
	struct ifcvf_shadow *sh = &q->sh;
	uint16_t mask = q->vring.size - 1, idx;
	uint64_t off = offsetof(struct vring_used, ring) +
		       sizeof(struct vring_used_elem) * q->vring.size;
	uint16_t *avail_event = RTE_PTR_ADD(q->vring.used, off);

	lm_log_follow(q->ifc);
	idx = __atomic_load_n(&q->vring.avail->idx, __ATOMIC_ACQUIRE);
	do {
		while (sh->next_avail != idx) {
			sh->avail->ring[(uint16_t)(sh->next_avail - sh->avail_off) & mask] =
				q->vring.avail->ring[sh->next_avail & mask];
			sh->next_avail++;
		}
		__atomic_store_n(&sh->avail->idx, sh->next_avail - sh->avail_off,
				 __ATOMIC_RELEASE);
		if (!lm_event_idx(q->ifc))
			return;
		/* Ask the guest to kick at its next avail entry. */
		__atomic_store_n(avail_event, sh->next_avail, __ATOMIC_SEQ_CST);
		lm_log_used(q, off, sizeof(*avail_event));
		idx = __atomic_load_n(&q->vring.avail->idx, __ATOMIC_SEQ_CST);
	} while (idx != sh->next_avail);
}

/* Log the pages the device wrote for used entry @e (its chain). */
static inline void
lm_log_entry(struct ifcvf_queue *q, uint8_t *log, uint64_t log_size,
	     struct vring_used_elem e)
{
	const struct vring_desc *d;

	if (e.len == 0 || e.id >= q->vring.size)
		return;
	d = &q->vring.desc[e.id];
	/* A chain of one descriptor, the common case, without the walk. */
	if (d->flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT))
		lm_log_chain(q, e.id, e.len);
	else if (d->flags & VRING_DESC_F_WRITE)
		lm_mark_pages(log, log_size, d->addr, RTE_MIN(d->len, e.len));
}

/* Copy @n used entries, shadow ring to guest's, in runs between wraps. */
static void
lm_copy_runs(struct ifcvf_queue *q, uint16_t sh_from, uint16_t from,
	     uint16_t n)
{
	const struct vring_used_elem *src = q->sh.used->ring;
	struct vring_used_elem *dst = q->vring.used->ring;
	uint16_t size = q->vring.size, mask = size - 1, k;

	while (n > 0) {
		k = RTE_MIN(n, (uint16_t)(size - (sh_from & mask)));
		k = RTE_MIN(k, (uint16_t)(size - (from & mask)));
		memcpy(&dst[from & mask], &src[sh_from & mask], k * sizeof(*dst));
		sh_from += k;
		from += k;
		n -= k;
	}
}

/* Batches up to this many entries are copied one by one. */
#define LM_COPY_ONE_BY_ONE	4

/*
 * Copy @n used entries from the shadow ring (from @sh_from) to the
 * guest's (from @from), logging what the device wrote for each if @log.
 * The entries logged are read from the shadow ring, not from the stores
 * just made.
 */
static void
lm_copy_entries(struct ifcvf_queue *q, uint16_t sh_from, uint16_t from,
		uint16_t n, bool log)
{
	const struct vring_used_elem *src = q->sh.used->ring;
	struct vring_used_elem *dst = q->vring.used->ring;
	uint16_t mask = q->vring.size - 1;
	uint64_t log_size = q->ifc->log_size;
	uint8_t *log_map = q->ifc->log;
	struct vring_used_elem e;

	if (n > LM_COPY_ONE_BY_ONE) {
		lm_copy_runs(q, sh_from, from, n);
		for (; log && n > 0; n--, sh_from++)
			lm_log_entry(q, log_map, log_size, src[sh_from & mask]);
		return;
	}
	for (; n > 0; n--, sh_from++, from++) {
		e = src[sh_from & mask];
		dst[from & mask] = e;
		if (log)
			lm_log_entry(q, log_map, log_size, e);
	}
}

/*
 * Copy the device's new used entries to the guest, logging what it
 * wrote if @log; their number.
 */
static uint16_t
lm_copy_used(struct ifcvf_queue *q, bool log)
{
	struct ifcvf_shadow *sh = &q->sh;
	uint16_t next = sh->next_used, n;

	n = __atomic_load_n(&sh->used->idx, __ATOMIC_ACQUIRE) -
	    (uint16_t)(next - sh->used_off);
	if (n == 0)
		return 0;
	lm_copy_entries(q, next - sh->used_off, next, n, log);
	sh->next_used = next + n;
	return n;
}

static bool
lm_guest_wants_irq(struct ifcvf_queue *q, uint16_t old, uint16_t now)
{
	const struct vring_avail *avail = q->vring.avail;

	if (lm_event_idx(q->ifc))
		return vring_need_event(avail->ring[q->vring.size], now, old);
	return !(avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
}

static void
lm_sync_used(struct ifcvf_queue *q)
{
	struct ifcvf_internal *ifc = q->ifc;
	struct ifcvf_shadow *sh = &q->sh;
	uint16_t old = sh->next_used, n = 0;
	bool log;

	lm_log_follow(ifc);
	log = lm_relay_logging(ifc) && ifc->log_size > 0;
	do {
		n += lm_copy_used(q, log);
		/* Interrupt the relay at the device's next used entry. */
		__atomic_store_n(&sh->avail->ring[q->vring.size],
				 (uint16_t)(sh->next_used - sh->used_off),
				 __ATOMIC_SEQ_CST);
	} while (__atomic_load_n(&sh->used->idx, __ATOMIC_SEQ_CST) !=
		 (uint16_t)(sh->next_used - sh->used_off));
	if (n == 0)
		return;
	__atomic_store_n(&q->vring.used->idx, sh->next_used, __ATOMIC_RELEASE);
	if (log)
		lm_log_used_ring(q, old, n);
	ifcvf_stat_add(q, IFCVF_STAT_RELAYED, n);
	if (lm_guest_wants_irq(q, old, sh->next_used)) {
		eventfd_write(q->vring.callfd, 1);
		ifcvf_stat_add(q, IFCVF_STAT_IRQS, 1);
	}
}

void
ifcvf_lm_sync_avail(struct ifcvf_queue *q)
{
	lm_sync_avail(q);
}

bool
ifcvf_lm_tick(struct ifcvf_internal *ifc)
{
	bool mediated = false;
	struct ifcvf_queue *q;
	uint16_t qid;

	for (qid = 0; qid < ifc->hw.nr_vring; qid++) {
		q = &ifc->q[qid];
		if (!q->kick.armed || !q->sh.on)
			continue;
		mediated = true;
		if (__atomic_load_n(&q->vring.avail->idx, __ATOMIC_ACQUIRE) ==
		    q->sh.next_avail)
			continue;
		lm_sync_avail(q);
		ifcvf_hw_notify(&ifc->hw, qid);
	}
	return mediated;
}

static void
lm_relay_irq(struct ifcvf_relay_src *src)
{
	lm_sync_used(container_of(src, struct ifcvf_queue, sh.irq));
}

/* relay=poll: the device published used entries the guest has not got. */
static bool
lm_relay_irq_ready(struct ifcvf_relay_src *src)
{
	struct ifcvf_queue *q = container_of(src, struct ifcvf_queue, sh.irq);

	return __atomic_load_n(&q->sh.used->idx, __ATOMIC_ACQUIRE) !=
	       (uint16_t)(q->sh.next_used - q->sh.used_off);
}

uint16_t
ifcvf_lm_relay_used(struct ifcvf_queue *q)
{
	uint16_t before = q->sh.next_used;

	lm_sync_used(q);
	return q->sh.next_used - before;
}

int
ifcvf_lm_arm(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];

	if (!q->sh.on)
		return 0;
	q->sh.irq.handler = lm_relay_irq;
	q->sh.irq.ready = lm_relay_irq_ready;
	/* Entries the guest made available before the switch. */
	lm_sync_avail(q);
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
lm_drain_queue(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];

	lm_sync_used(q);
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
			lm_drain_queue(ifc, qid);
		/* The device's last writes to the used rings. */
		if (ifc->logging && ifc->vring[qid].enable)
			lm_log_pages(ifc, ifc->q[qid].used_gpa,
				     lm_used_ring_len(ifc->q[qid].vring.size));
	}
}

/* Queue @qid back on the guest's rings, at the indices it was set up with. */
static void
lm_unshadow(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_queue *q = &ifc->q[qid];
	struct ifcvf_vring *vr = &ifc->vring[qid];

	vr->avail = q->avail_gpa;
	vr->used = q->used_gpa;
	vr->last_avail_idx = q->sh.avail_off;
	vr->last_used_idx = q->sh.used_off;
}

void
ifcvf_lm_undo(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		if (ifc->q[qid].sh.on)
			lm_unshadow(ifc, qid);
	ifcvf_lm_teardown(ifc);
}

void
ifcvf_lm_teardown(struct ifcvf_internal *ifc)
{
	struct ifcvf_dma_window *w = &ifc->lm_window;
	uint64_t va = w->vaddr, len = w->len;
	uint16_t qid;

	if (ifc->logging && !ifc->mediated)
		ifcvf_hw_log_disable(&ifc->hw);
	lm_unmap_window(ifc);
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
	lm_log_release(ifc);
}
