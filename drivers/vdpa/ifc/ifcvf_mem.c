/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * Guest memory as vhost hands it over: its regions checked, the rings
 * found in it (IOVA = guest physical address), and the VF's DMA windows
 * over it, one per region, mapped through the bus.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <linux/virtio_ring.h>

#include "ifcvf_vdpa.h"

static int
mem_check_region(const struct rte_vhost_memory *mem, uint32_t i)
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

int
ifcvf_mem_check(const struct rte_vhost_memory *mem)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; i < mem->nregions && ret == 0; i++)
		ret = mem_check_region(mem, i);
	return ret;
}

/* Guest physical address of [hva, hva + len), which must lie in one region. */
static int
mem_hva_to_gpa(const struct rte_vhost_memory *mem, uint64_t hva, uint64_t len,
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

int
ifcvf_mem_ring_gpa(const struct rte_vhost_memory *mem,
		   const struct rte_vhost_vring *vring, struct ifcvf_vring *vr)
{
	uint64_t size = vring->size;

	if (mem_hva_to_gpa(mem, (uintptr_t)vring->desc,
			   size * sizeof(struct vring_desc), &vr->desc) < 0 ||
	    mem_hva_to_gpa(mem, (uintptr_t)vring->avail,
			   sizeof(struct vring_avail) + 2 * (size + 1),
			   &vr->avail) < 0 ||
	    mem_hva_to_gpa(mem, (uintptr_t)vring->used,
			   sizeof(struct vring_used) +
			   sizeof(struct vring_used_elem) * size + 2,
			   &vr->used) < 0)
		return -EINVAL;
	return 0;
}

void
ifcvf_mem_unmap(struct ifcvf_internal *ifc)
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

int
ifcvf_mem_map(struct ifcvf_internal *ifc, const struct rte_vhost_memory *mem)
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
			ifcvf_mem_unmap(ifc);
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
