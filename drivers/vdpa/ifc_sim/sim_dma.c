/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulated IFCVF's IOMMU and DMA engine.
 *
 * Mappings live in an array sorted by IOVA; a lookup is a binary search.
 * The device reaches memory only through sim_dma_read() and
 * sim_dma_write(), which hold the IOMMU lock for reading for the length
 * of the copy, so an unmap (a writer) waits for DMA in flight. Every
 * write is recorded, page by page, in the ground-truth set, and in the
 * dirty bitmap when the LM block has logging on.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* pthread_rwlockattr_setkind_np */
#endif

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "sim_priv.h"

#define SIM_PAGE_SIZE		(UINT64_C(1) << SIM_PAGE_SHIFT)
#define SIM_MAPS_MIN		16
#define SIM_TRUTH_MIN		1024

int
sim_iommu_init(struct ifcvf_sim *sim)
{
	pthread_rwlockattr_t attr;
	int ret;

	sim->maps = NULL;
	sim->nr_maps = 0;
	sim->cap_maps = 0;
	sim->dma_faults = 0;
	sim->truth = NULL;
	sim->truth_count = 0;
	sim->truth_cap = 0;
	sim->truth_sorted = NULL;
	sim->truth_sorted_n = 0;

	/*
	 * Prefer writers: the datapath takes the read side over and over,
	 * and an unmap must not starve behind it.
	 */
	ret = pthread_rwlockattr_init(&attr);
	if (ret != 0)
		return -ret;
	pthread_rwlockattr_setkind_np(&attr,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = pthread_rwlock_init(&sim->iommu_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (ret != 0)
		return -ret;

	ret = pthread_mutex_init(&sim->truth_lock, NULL);
	if (ret != 0) {
		pthread_rwlock_destroy(&sim->iommu_lock);
		return -ret;
	}
	return 0;
}

/* The record empty, its memory freed (under truth_lock, or at the end). */
static void
sim_truth_clear(struct ifcvf_sim *sim)
{
	free(sim->truth);
	sim->truth = NULL;
	sim->truth_count = 0;
	sim->truth_cap = 0;
	free(sim->truth_sorted);
	sim->truth_sorted = NULL;
	sim->truth_sorted_n = 0;
}

void
sim_iommu_fini(struct ifcvf_sim *sim)
{
	free(sim->maps);
	sim->maps = NULL;
	sim->nr_maps = 0;
	sim->cap_maps = 0;
	sim_truth_clear(sim);
	pthread_mutex_destroy(&sim->truth_lock);
	pthread_rwlock_destroy(&sim->iommu_lock);
}

/* Last byte of [start, start + len), len > 0; false if the range wraps. */
static inline bool
sim_range_last(uint64_t start, uint64_t len, uint64_t *last)
{
	*last = start + len - 1;
	return len > 0 && *last >= start;
}

/* Index of the first mapping whose IOVA is above @iova. */
static unsigned int
sim_map_upper(const struct ifcvf_sim *sim, uint64_t iova)
{
	unsigned int lo = 0;
	unsigned int hi = sim->nr_maps;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (sim->maps[mid].iova <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the mapping that holds @iova, or -1. Under iommu_lock. */
static int
sim_map_find(const struct ifcvf_sim *sim, uint64_t iova)
{
	unsigned int i = sim_map_upper(sim, iova);
	const struct sim_map *m;

	if (i == 0)
		return -1;
	m = &sim->maps[i - 1];
	if (iova - m->iova >= m->len)
		return -1;
	return (int)(i - 1);
}

/*
 * Index of the mapping that holds the first byte of [iova, last] when
 * adjacent mappings cover every byte of it, or -1. Under iommu_lock.
 */
static int
sim_xlate_check(const struct ifcvf_sim *sim, uint64_t iova, uint64_t last)
{
	int first = sim_map_find(sim, iova);
	unsigned int i;

	if (first < 0)
		return -1;
	for (i = (unsigned int)first; ; i++) {
		const struct sim_map *m = &sim->maps[i];
		uint64_t m_last = m->iova + m->len - 1;

		if (last <= m_last)
			return first;
		if (i + 1 >= sim->nr_maps ||
		    sim->maps[i + 1].iova != m_last + 1)
			return -1;
	}
}

/*
 * Copy one piece. Aligned 2-byte accesses are the ring indices and event
 * fields: make them single atomic accesses, acquire on reads and release
 * on writes.
 */
static inline void
sim_copy_piece(void *host, void *buf, uint64_t n, bool to_host)
{
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		uint16_t v;

		if (to_host) {
			memcpy(&v, buf, 2);
			__atomic_store_n((uint16_t *)host, v, __ATOMIC_RELEASE);
		} else {
			v = __atomic_load_n((uint16_t *)host, __ATOMIC_ACQUIRE);
			memcpy(buf, &v, 2);
		}
		return;
	}
	if (to_host)
		memcpy(host, buf, n);
	else
		memcpy(buf, host, n);
}

/* Copy through mappings from index @i on; the range was checked. */
static void
sim_xlate_copy(const struct ifcvf_sim *sim, unsigned int i, uint64_t iova,
	       uint8_t *buf, uint64_t len, bool to_host)
{
	while (len > 0) {
		const struct sim_map *m = &sim->maps[i++];
		uint64_t off = iova - m->iova;
		uint64_t n = RTE_MIN(len, m->len - off);

		sim_copy_piece((void *)(uintptr_t)(m->vaddr + off), buf, n,
			       to_host);
		iova += n;
		buf += n;
		len -= n;
	}
}

static int
sim_dma_fault(struct ifcvf_sim *sim)
{
	__atomic_fetch_add(&sim->dma_faults, 1, __ATOMIC_RELAXED);
	return -EFAULT;
}

/*
 * Translate and copy under the read lock; on a miss nothing is copied.
 * The lock is left held on success so a write can log before release.
 */
static int
sim_dma_xfer_locked(struct ifcvf_sim *sim, uint64_t iova, void *buf,
		    uint64_t len, bool to_host)
{
	uint64_t last;
	int i;

	if (sim->fault[IFCVF_SIM_FAULT_DMA] ||
	    !sim_range_last(iova, len, &last))
		return sim_dma_fault(sim);

	pthread_rwlock_rdlock(&sim->iommu_lock);
	i = sim_xlate_check(sim, iova, last);
	if (i < 0) {
		pthread_rwlock_unlock(&sim->iommu_lock);
		return sim_dma_fault(sim);
	}
	sim_xlate_copy(sim, (unsigned int)i, iova, buf, len, to_host);
	return 0;
}

int
sim_dma_read(struct ifcvf_sim *sim, uint64_t iova, void *buf, uint64_t len)
{
	int ret;

	if (len == 0)
		return 0;
	ret = sim_dma_xfer_locked(sim, iova, buf, len, false);
	if (ret == 0)
		pthread_rwlock_unlock(&sim->iommu_lock);
	return ret;
}

/*
 * Set the dirty bit of each page in [first_pfn, last_pfn] in the bitmap
 * at log_base. A bitmap byte at or past log_end, or unmapped, is not
 * written and counts as a fault; the data write itself stands.
 * Under sim->lock and the iommu read lock.
 */
static void
sim_log_dirty(struct ifcvf_sim *sim, uint64_t first_pfn, uint64_t last_pfn)
{
	uint64_t pfn;

	for (pfn = first_pfn; pfn <= last_pfn; pfn++) {
		uint64_t byte = sim->log_base + pfn / 8;
		const struct sim_map *m;
		int i;

		if (byte < sim->log_base || byte >= sim->log_end) {
			sim_dma_fault(sim);
			continue;
		}
		i = sim_map_find(sim, byte);
		if (i < 0) {
			sim_dma_fault(sim);
			continue;
		}
		m = &sim->maps[i];
		__atomic_fetch_or((uint8_t *)(uintptr_t)
				  (m->vaddr + (byte - m->iova)),
				  (uint8_t)(1u << (pfn % 8)), __ATOMIC_RELAXED);
	}
}

static inline uint64_t
sim_truth_hash(uint64_t key)
{
	return (key * UINT64_C(0x9e3779b97f4a7c15)) >> 17;
}

/* Put @key (non-zero) in @tab of @cap slots (a power of two). */
static bool
sim_truth_put(uint64_t *tab, size_t cap, uint64_t key)
{
	size_t slot = sim_truth_hash(key) & (cap - 1);

	while (tab[slot] != 0) {
		if (tab[slot] == key)
			return false;
		slot = (slot + 1) & (cap - 1);
	}
	tab[slot] = key;
	return true;
}

/* Double the set. Under truth_lock. */
static int
sim_truth_grow(struct ifcvf_sim *sim)
{
	size_t cap = sim->truth_cap ? sim->truth_cap * 2 : SIM_TRUTH_MIN;
	uint64_t *tab = calloc(cap, sizeof(*tab));
	size_t i;

	if (tab == NULL)
		return -ENOMEM;
	for (i = 0; i < sim->truth_cap; i++)
		if (sim->truth[i] != 0)
			sim_truth_put(tab, cap, sim->truth[i]);
	free(sim->truth);
	sim->truth = tab;
	sim->truth_cap = cap;
	return 0;
}

/* Record page @pfn. Under truth_lock. */
static void
sim_truth_add(struct ifcvf_sim *sim, uint64_t pfn)
{
	/* Keep the load at most 1/2; always keep one slot empty. */
	if ((sim->truth_count + 1) * 2 > sim->truth_cap &&
	    sim_truth_grow(sim) < 0 &&
	    sim->truth_count + 1 >= sim->truth_cap) {
		SIM_LOG(ERR, "%s: no memory to record page 0x%" PRIx64,
			sim->name, pfn);
		return;
	}
	if (sim_truth_put(sim->truth, sim->truth_cap, pfn + 1))
		sim->truth_count++;
}

int
sim_dma_write(struct ifcvf_sim *sim, uint64_t iova, const void *buf,
	      uint64_t len)
{
	uint64_t first_pfn, last_pfn, pfn;
	int ret;

	if (len == 0)
		return 0;
	ret = sim_dma_xfer_locked(sim, iova, (void *)(uintptr_t)buf, len,
				  true);
	if (ret != 0)
		return ret;

	first_pfn = iova >> SIM_PAGE_SHIFT;
	last_pfn = (iova + len - 1) >> SIM_PAGE_SHIFT;
	if (sim->lm_ctrl == IFCVF_LM_LOGGING_ON_VF)
		sim_log_dirty(sim, first_pfn, last_pfn);
	/*
	 * Recorded before the IOMMU lock goes: a reset of the record (which
	 * takes it for writing) comes before a write or after its pages, so
	 * a test that resets it once logging is on finds in it only writes
	 * the device logged.
	 */
	pthread_mutex_lock(&sim->truth_lock);
	for (pfn = first_pfn; pfn <= last_pfn; pfn++)
		sim_truth_add(sim, pfn);
	pthread_mutex_unlock(&sim->truth_lock);
	pthread_rwlock_unlock(&sim->iommu_lock);
	return 0;
}

/* Room for one more mapping. Under the iommu write lock. */
static int
sim_maps_reserve(struct ifcvf_sim *sim)
{
	unsigned int cap;
	struct sim_map *maps;

	if (sim->nr_maps < sim->cap_maps)
		return 0;
	cap = sim->cap_maps ? sim->cap_maps * 2 : SIM_MAPS_MIN;
	maps = realloc(sim->maps, cap * sizeof(*maps));
	if (maps == NULL)
		return -ENOMEM;
	sim->maps = maps;
	sim->cap_maps = cap;
	return 0;
}

/* Whether [iova, last] overlaps the neighbours of slot @i. */
static bool
sim_map_overlaps(const struct ifcvf_sim *sim, unsigned int i, uint64_t iova,
		 uint64_t last)
{
	if (i > 0) {
		const struct sim_map *prev = &sim->maps[i - 1];

		if (iova - prev->iova < prev->len)
			return true;
	}
	return i < sim->nr_maps && sim->maps[i].iova <= last;
}

/*
 * VFIO pins what it maps, so memory that is not there (a file shorter
 * than its mapping) or not writable is refused at map time rather than
 * faulting the datapath later. Pinning a whole guest would take a second
 * per map here: fault in the first and the last page for writing, which
 * finds a short file and a read-only mapping.
 */
static int
sim_pin(uint64_t vaddr, uint64_t len)
{
	uint64_t page = (uint64_t)getpagesize();
	uint64_t first = vaddr & ~(page - 1);
	uint64_t last = (vaddr + len - 1) & ~(page - 1);

	if ((madvise((void *)(uintptr_t)first, page, MADV_POPULATE_WRITE) == 0 &&
	     madvise((void *)(uintptr_t)last, page, MADV_POPULATE_WRITE) == 0) ||
	    errno == EINVAL)
		return 0;
	return -EFAULT;
}

int
ifcvf_sim_dma_map(struct ifcvf_sim *sim, uint64_t vaddr, uint64_t iova,
		  uint64_t len)
{
	uint64_t last, vlast;
	unsigned int i;
	int ret;

	if (sim == NULL || vaddr == 0 || !sim_range_last(iova, len, &last) ||
	    !sim_range_last(vaddr, len, &vlast))
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	ret = sim_op_fails(sim, IFCVF_SIM_OP_DMA_MAP) ? -EIO : 0;
	pthread_mutex_unlock(&sim->lock);
	if (ret != 0)
		return ret;
	ret = sim_pin(vaddr, len);
	if (ret != 0)
		return ret;

	pthread_rwlock_wrlock(&sim->iommu_lock);
	i = sim_map_upper(sim, iova);
	if (sim_map_overlaps(sim, i, iova, last)) {
		ret = -EEXIST;
		goto out;
	}
	ret = sim_maps_reserve(sim);
	if (ret != 0)
		goto out;
	memmove(&sim->maps[i + 1], &sim->maps[i],
		(sim->nr_maps - i) * sizeof(sim->maps[0]));
	sim->maps[i].iova = iova;
	sim->maps[i].len = len;
	sim->maps[i].vaddr = vaddr;
	sim->nr_maps++;
out:
	pthread_rwlock_unlock(&sim->iommu_lock);
	return ret;
}

int
ifcvf_sim_dma_unmap(struct ifcvf_sim *sim, uint64_t iova, uint64_t len)
{
	int i, ret = -ENOENT;

	if (sim == NULL || len == 0)
		return -EINVAL;

	pthread_rwlock_wrlock(&sim->iommu_lock);
	i = sim_map_find(sim, iova);
	if (i >= 0 && sim->maps[i].iova == iova && sim->maps[i].len == len) {
		sim->nr_maps--;
		memmove(&sim->maps[i], &sim->maps[i + 1],
			(sim->nr_maps - (unsigned int)i) *
			sizeof(sim->maps[0]));
		ret = 0;
	}
	pthread_rwlock_unlock(&sim->iommu_lock);
	return ret;
}

unsigned int
ifcvf_sim_dma_map_count(struct ifcvf_sim *sim)
{
	unsigned int n;

	pthread_rwlock_rdlock(&sim->iommu_lock);
	n = sim->nr_maps;
	pthread_rwlock_unlock(&sim->iommu_lock);
	return n;
}

uint64_t
ifcvf_sim_dma_faults(struct ifcvf_sim *sim)
{
	return __atomic_load_n(&sim->dma_faults, __ATOMIC_RELAXED);
}

/* After every DMA in flight (the IOMMU lock, for writing). */
void
ifcvf_sim_truth_reset(struct ifcvf_sim *sim)
{
	pthread_rwlock_wrlock(&sim->iommu_lock);
	pthread_mutex_lock(&sim->truth_lock);
	sim_truth_clear(sim);
	pthread_mutex_unlock(&sim->truth_lock);
	pthread_rwlock_unlock(&sim->iommu_lock);
}

static int
sim_pfn_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Copy the pfns of the set into @out (room for truth_count). */
static void
sim_truth_collect(const struct ifcvf_sim *sim, uint64_t *out)
{
	size_t i, n = 0;

	for (i = 0; i < sim->truth_cap; i++)
		if (sim->truth[i] != 0)
			out[n++] = sim->truth[i] - 1;
}

/*
 * The set sorted into truth_sorted, once a record that grew since. Under
 * truth_lock: the DMA writes wait for the sort, which a record read after
 * the device stopped (the tests') makes once.
 */
static int
sim_truth_sort(struct ifcvf_sim *sim)
{
	uint64_t *sorted;

	if (sim->truth_sorted != NULL && sim->truth_sorted_n == sim->truth_count)
		return 0;
	sorted = realloc(sim->truth_sorted,
			 sim->truth_count * sizeof(*sorted));
	if (sorted == NULL)
		return -ENOMEM;
	sim_truth_collect(sim, sorted);
	qsort(sorted, sim->truth_count, sizeof(*sorted), sim_pfn_cmp);
	sim->truth_sorted = sorted;
	sim->truth_sorted_n = sim->truth_count;
	return 0;
}

long
ifcvf_sim_truth_pages(struct ifcvf_sim *sim, size_t from, uint64_t *pfns,
		      size_t max)
{
	long ret;

	pthread_mutex_lock(&sim->truth_lock);
	ret = (long)sim->truth_count;
	if (pfns != NULL && max > 0 && from < sim->truth_count) {
		if (sim_truth_sort(sim) == 0)
			memcpy(pfns, sim->truth_sorted + from,
			       RTE_MIN(max, sim->truth_count - from) *
			       sizeof(*pfns));
		else
			ret = -ENOMEM;
	}
	pthread_mutex_unlock(&sim->truth_lock);
	return ret;
}
