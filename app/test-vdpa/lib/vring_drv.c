/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#define _GNU_SOURCE	/* memfd_create() */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "vring_drv.h"

#define VDRV_DEF_QUEUE_SIZE	256
#define VDRV_DEF_BUF_CAP	2048
#define VDRV_ETHERTYPE		0x88b5
#define VDRV_TAG_OFF		14	/* stream, seq, len: 3 x 4 bytes */
#define VDRV_PATTERN_OFF	26

int64_t
vdrv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Guest memory ---- */

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int
vdrv_mem_init(struct vdrv_mem *m, uint64_t gpa, uint64_t len)
{
	void *p;

	if (len == 0 || (gpa & (VDRV_PAGE_SIZE - 1)) != 0)
		return -EINVAL;
	len = align_up(len, VDRV_PAGE_SIZE);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	m->host = p;
	m->gpa = gpa;
	m->len = len;
	m->used = 0;
	m->fd = -1;
	return 0;
}

int
vdrv_mem_init_memfd(struct vdrv_mem *m, uint64_t gpa, uint64_t len)
{
	void *p;
	int fd, ret;

	if (len == 0 || (gpa & (VDRV_PAGE_SIZE - 1)) != 0)
		return -EINVAL;
	len = align_up(len, VDRV_PAGE_SIZE);
	fd = memfd_create("vdrv-guest-mem", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	m->host = p;
	m->gpa = gpa;
	m->len = len;
	m->used = 0;
	m->fd = fd;
	return 0;
}

void
vdrv_mem_fini(struct vdrv_mem *m)
{
	if (m->host != NULL) {
		munmap(m->host, m->len);
		if (m->fd >= 0)
			close(m->fd);
	}
	m->host = NULL;
	m->len = 0;
	m->used = 0;
	m->fd = -1;
}

void *
vdrv_mem_alloc(struct vdrv_mem *m, uint64_t len, uint64_t align,
	       uint64_t *gpa)
{
	uint64_t off;

	if (align == 0 || (align & (align - 1)) != 0)
		return NULL;
	off = align_up(m->used, align);
	if (off > m->len || len > m->len - off)
		return NULL;
	m->used = off + len;
	memset(m->host + off, 0, len);
	if (gpa != NULL)
		*gpa = m->gpa + off;
	return m->host + off;
}

void *
vdrv_gpa_to_host(const struct vdrv_mem *m, uint64_t gpa, uint64_t len)
{
	if (gpa < m->gpa || gpa - m->gpa > m->len ||
	    len > m->len - (gpa - m->gpa))
		return NULL;
	return m->host + (gpa - m->gpa);
}

uint64_t
vdrv_host_to_gpa(const struct vdrv_mem *m, const void *p)
{
	return m->gpa + (uint64_t)((const uint8_t *)p - m->host);
}

/* ---- Split virtqueue ---- */

static uint16_t *
used_event_ptr(const struct vdrv_vq *vq)
{
	return &vq->avail->ring[vq->size];
}

static uint16_t *
avail_event_ptr(const struct vdrv_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

static void
vq_layout_reset(struct vdrv_vq *vq)
{
	uint16_t i;

	memset(vq->desc, 0, vq->desc_len);
	memset(vq->avail, 0, vq->avail_len);
	memset(vq->used, 0, vq->used_len);
	for (i = 0; i < vq->size; i++) {
		vq->next_free[i] = i + 1;
		vq->slot[i].in_use = false;
		vq->slot[i].nr_seg = 0;
		vq->slot[i].nr_desc = 0;
	}
	vq->free_head = 0;
	vq->num_free = vq->size;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->irq_on = true;
}

int
vdrv_vq_init(struct vdrv_vq *vq, struct vdrv_mem *m, uint16_t qid,
	     uint16_t size, uint32_t buf_cap)
{
	uint64_t areas_gpa, ind_gpa, ind_len;
	uint8_t *areas;
	struct vring_desc *ind;
	uint16_t i;

	memset(vq, 0, sizeof(*vq));
	if (size == 0 || (size & (size - 1)) != 0 ||
	    buf_cap < VDRV_NET_HDR_LEN)
		return -EINVAL;
	vq->mem = m;
	vq->qid = qid;
	vq->size = size;
	vq->buf_cap = buf_cap;
	vq->hdr_len = VDRV_NET_HDR_LEN;
	vq->area_len = align_up(buf_cap + VDRV_SLOT_SEGS * VDRV_SEG_GAP, 64);
	vq->desc_len = (uint64_t)size * sizeof(struct vring_desc);
	vq->avail_len = 4 + 2 * (uint64_t)size + 2;
	vq->used_len = 4 + 8 * (uint64_t)size + 2;

	/* Each ring part on pages of its own. */
	vq->desc = vdrv_mem_alloc(m, vq->desc_len, VDRV_PAGE_SIZE,
				  &vq->desc_gpa);
	vq->avail = vdrv_mem_alloc(m, vq->avail_len, VDRV_PAGE_SIZE,
				   &vq->avail_gpa);
	vq->used = vdrv_mem_alloc(m, vq->used_len, VDRV_PAGE_SIZE,
				  &vq->used_gpa);
	areas = vdrv_mem_alloc(m, (uint64_t)size * vq->area_len,
			       VDRV_PAGE_SIZE, &areas_gpa);
	ind_len = (uint64_t)(VDRV_MAX_SEGS + 1) * sizeof(struct vring_desc);
	ind = vdrv_mem_alloc(m, size * ind_len, VDRV_PAGE_SIZE, &ind_gpa);
	if (vq->desc == NULL || vq->avail == NULL || vq->used == NULL ||
	    areas == NULL || ind == NULL)
		return -ENOMEM;

	vq->next_free = calloc(size, sizeof(*vq->next_free));
	vq->slot = calloc(size, sizeof(*vq->slot));
	if (vq->next_free == NULL || vq->slot == NULL) {
		vdrv_vq_fini(vq);
		return -ENOMEM;
	}
	for (i = 0; i < size; i++) {
		struct vdrv_slot *s = &vq->slot[i];

		s->buf = areas + (uint64_t)i * vq->area_len;
		s->buf_gpa = areas_gpa + (uint64_t)i * vq->area_len;
		s->indirect = (struct vring_desc *)((uint8_t *)ind +
						    i * ind_len);
		s->indirect_gpa = ind_gpa + i * ind_len;
	}
	vq_layout_reset(vq);
	return 0;
}

void
vdrv_vq_fini(struct vdrv_vq *vq)
{
	/* Guest memory is not given back: the bump allocator is simple. */
	free(vq->next_free);
	free(vq->slot);
	vq->next_free = NULL;
	vq->slot = NULL;
}

void
vdrv_vq_reset(struct vdrv_vq *vq)
{
	if (vq->slot != NULL)
		vq_layout_reset(vq);
}

int
vdrv_vq_take_desc(struct vdrv_vq *vq)
{
	uint16_t id;

	if (vq->num_free == 0)
		return -ENOSPC;
	id = vq->free_head;
	vq->free_head = vq->next_free[id];
	vq->num_free--;
	return id;
}

void
vdrv_vq_publish(struct vdrv_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	vq->avail_idx++;
	/* Descriptors and the ring entry before the index. */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

/* Lay @n pieces of @lens out in @s's area with poisoned gaps. */
static void
slot_layout(struct vdrv_vq *vq, struct vdrv_slot *s, const uint32_t *lens,
	    unsigned int n)
{
	uint32_t off = 0;
	unsigned int i;

	memset(s->buf, VDRV_POISON, vq->area_len);
	for (i = 0; i < n; i++) {
		s->seg[i].off = off;
		s->seg[i].len = lens[i];
		s->seg[i].flags = 0;
		off += lens[i] + VDRV_SEG_GAP;
	}
	s->nr_seg = n;
}

/* Copy bytes [off, off + len) of @s's logical stream to or from @p. */
static void
slot_copy(struct vdrv_slot *s, uint32_t off, void *p, uint32_t len,
	  bool to_slot)
{
	uint8_t *b = p;
	unsigned int i;

	for (i = 0; i < s->nr_seg && len > 0; i++) {
		uint32_t n;

		if (off >= s->seg[i].len) {
			off -= s->seg[i].len;
			continue;
		}
		n = s->seg[i].len - off;
		if (n > len)
			n = len;
		if (to_slot)
			memcpy(s->buf + s->seg[i].off + off, b, n);
		else
			memcpy(b, s->buf + s->seg[i].off + off, n);
		b += n;
		len -= n;
		off = 0;
	}
}

static uint32_t
slot_total(const struct vdrv_slot *s)
{
	uint32_t t = 0;
	unsigned int i;

	for (i = 0; i < s->nr_seg; i++)
		t += s->seg[i].len;
	return t;
}

/* The device must not write between pieces. */
static bool
slot_gaps_intact(const struct vdrv_slot *s)
{
	unsigned int i, j;

	for (i = 0; i < s->nr_seg; i++) {
		const uint8_t *g = s->buf + s->seg[i].off + s->seg[i].len;

		for (j = 0; j < VDRV_SEG_GAP; j++)
			if (g[j] != VDRV_POISON)
				return false;
	}
	return true;
}

/* Describe @s's pieces in descriptors and publish the chain. */
static int
post_slot_chain(struct vdrv_vq *vq, uint16_t head, bool indirect,
		uint16_t flags)
{
	struct vdrv_slot *s = &vq->slot[head];
	unsigned int i, n = s->nr_seg;
	uint16_t cur = head;

	if (indirect) {
		for (i = 0; i < n; i++) {
			struct vring_desc *d = &s->indirect[i];

			d->addr = s->buf_gpa + s->seg[i].off;
			d->len = s->seg[i].len;
			d->flags = flags | s->seg[i].flags;
			d->next = 0;
			if (i + 1 < n) {
				d->flags |= VRING_DESC_F_NEXT;
				d->next = i + 1;
			}
		}
		vq->desc[head].addr = s->indirect_gpa;
		vq->desc[head].len = n * sizeof(struct vring_desc);
		vq->desc[head].flags = VRING_DESC_F_INDIRECT;
		vq->desc[head].next = 0;
		s->nr_desc = 1;
	} else {
		for (i = 0; i < n; i++) {
			struct vring_desc *d = &vq->desc[cur];

			d->addr = s->buf_gpa + s->seg[i].off;
			d->len = s->seg[i].len;
			d->flags = flags | s->seg[i].flags;
			d->next = 0;
			if (i + 1 < n) {
				/* Checked by the caller: enough are free. */
				uint16_t nx = (uint16_t)vdrv_vq_take_desc(vq);

				d->flags |= VRING_DESC_F_NEXT;
				d->next = nx;
				vq->next_free[cur] = nx;
				cur = nx;
			}
		}
		s->nr_desc = n;
	}
	s->in_use = true;
	vdrv_vq_publish(vq, head);
	return head;
}

/* Split @len into @n near-equal pieces into @lens; returns pieces used. */
static unsigned int
split_len(uint32_t len, unsigned int n, uint32_t *lens)
{
	unsigned int i;

	if (n == 0)
		n = 1;
	if (n > len)
		n = len > 0 ? len : 1;
	for (i = 0; i < n; i++)
		lens[i] = len / n + (i < len % n ? 1 : 0);
	return n;
}

void
vdrv_vq_set_features(struct vdrv_vq *vq, uint64_t features)
{
	vq->event_idx = !!(features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	vq->mrg_rxbuf = !!(features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	vq->hdr_len = vdrv_net_hdr_len(features);
}

int
vdrv_tx_post(struct vdrv_vq *vq, const void *frame, uint32_t len,
	     const struct vdrv_tx_opts *opts)
{
	static const struct vdrv_tx_opts def_opts = { .nr_segs = 1 };
	uint32_t lens[VDRV_MAX_SEGS + 1];
	uint8_t hdr[VDRV_NET_HDR_LEN];
	unsigned int nsegs, n, first = 0;
	struct vdrv_slot *s;
	int head;

	if (opts == NULL)
		opts = &def_opts;
	nsegs = opts->nr_segs == 0 ? 1 : opts->nr_segs;
	if (nsegs > VDRV_MAX_SEGS || len == 0 ||
	    len + vq->hdr_len > vq->buf_cap)
		return -EINVAL;
	if (opts->hdr_separate) {
		lens[0] = vq->hdr_len;
		first = 1;
	}
	n = first + split_len(len, nsegs, &lens[first]);
	if (!opts->hdr_separate)
		lens[0] += vq->hdr_len;
	if (vq->num_free < (opts->indirect ? 1 : n))
		return -ENOSPC;

	head = vdrv_vq_take_desc(vq);
	s = &vq->slot[head];
	slot_layout(vq, s, lens, n);
	memset(hdr, 0, sizeof(hdr));
	slot_copy(s, 0, hdr, vq->hdr_len, true);
	slot_copy(s, vq->hdr_len, (void *)(uintptr_t)frame, len, true);
	return post_slot_chain(vq, head, opts->indirect, 0);
}

int
vdrv_tx_post_gpa(struct vdrv_vq *vq, uint64_t gpa, uint32_t len)
{
	struct vdrv_slot *s;
	int head;

	head = vdrv_vq_take_desc(vq);
	if (head < 0)
		return head;
	s = &vq->slot[head];
	/* No pieces in the slot's area: nothing to check on reap. */
	s->nr_seg = 0;
	s->nr_desc = 1;
	s->in_use = true;
	vq->desc[head].addr = gpa;
	vq->desc[head].len = len;
	vq->desc[head].flags = 0;
	vq->desc[head].next = 0;
	vdrv_vq_publish(vq, (uint16_t)head);
	return head;
}

int
vdrv_rx_post(struct vdrv_vq *vq, uint32_t len, unsigned int nr_segs)
{
	uint32_t lens[VDRV_MAX_SEGS + 1];
	unsigned int n;
	int head;

	if (len == 0)
		len = vq->buf_cap;
	if (nr_segs == 0)
		nr_segs = 1;
	if (len > vq->buf_cap || nr_segs > VDRV_MAX_SEGS)
		return -EINVAL;
	n = split_len(len, nr_segs, lens);
	if (vq->num_free < n)
		return -ENOSPC;
	head = vdrv_vq_take_desc(vq);
	slot_layout(vq, &vq->slot[head], lens, n);
	return post_slot_chain(vq, head, false, VRING_DESC_F_WRITE);
}

unsigned int
vdrv_rx_fill(struct vdrv_vq *vq, uint32_t len, unsigned int nr_segs)
{
	unsigned int n = 0;

	while (vdrv_rx_post(vq, len, nr_segs) >= 0)
		n++;
	return n;
}

/* ---- virtio-blk requests ---- */

/* The request's header: type, ioprio 0, sector, little-endian. */
static void
blk_hdr(uint8_t *hdr, uint32_t type, uint64_t sector)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		hdr[i] = (uint8_t)(type >> (8 * i));
	memset(hdr + 4, 0, 4);
	for (i = 0; i < 8; i++)
		hdr[8 + i] = (uint8_t)(sector >> (8 * i));
}

/* Piece lengths of a request into @lens; the status piece into *@status. */
static unsigned int
blk_lens(const struct vdrv_blk_opts *o, uint32_t len, uint32_t *lens,
	 int16_t *status)
{
	unsigned int n = 0;

	lens[n++] = o->hdr_len != 0 ? o->hdr_len : VDRV_BLK_HDR_LEN;
	if (len > 0)
		n += split_len(len, o->nr_segs, &lens[n]);
	if (o->zero_len_seg)
		lens[n++] = 0;
	*status = -1;
	if (!o->no_status) {
		*status = (int16_t)n;
		lens[n++] = 1;
	}
	if (o->readable_last)
		lens[n++] = VDRV_BLK_HDR_LEN;
	return n;
}

int
vdrv_blk_post(struct vdrv_vq *vq, uint32_t type, uint64_t sector,
	      const void *data, uint32_t len, const struct vdrv_blk_opts *opts)
{
	static const struct vdrv_blk_opts def_opts;
	uint32_t lens[VDRV_SLOT_SEGS];
	uint8_t hdr[VDRV_BLK_HDR_LEN];
	uint16_t data_flags;
	struct vdrv_slot *s;
	unsigned int n, i;
	int16_t status;
	int head;

	if (opts == NULL)
		opts = &def_opts;
	if (opts->nr_segs > VDRV_MAX_SEGS || opts->hdr_len > sizeof(hdr) ||
	    len + 2 * VDRV_BLK_HDR_LEN + 1 > vq->buf_cap)
		return -EINVAL;
	n = blk_lens(opts, len, lens, &status);
	if (vq->num_free < (opts->indirect ? 1 : n))
		return -ENOSPC;
	head = vdrv_vq_take_desc(vq);
	s = &vq->slot[head];
	slot_layout(vq, s, lens, n);
	s->blk_status = status;
	blk_hdr(hdr, type, sector);
	slot_copy(s, 0, hdr, lens[0], true);
	data_flags = type == 1 /* VIRTIO_BLK_T_OUT */ ? 0 : VRING_DESC_F_WRITE;
	for (i = 1; i < n; i++)
		s->seg[i].flags = (int)i == status ? VRING_DESC_F_WRITE :
				  i + 1 == n && opts->readable_last ? 0 :
				  data_flags;
	if (data != NULL && data_flags == 0)
		slot_copy(s, lens[0], (void *)(uintptr_t)data, len, true);
	return post_slot_chain(vq, head, opts->indirect, 0);
}

int
vdrv_blk_reap(struct vdrv_vq *vq, struct vdrv_blk_done *done, void *data,
	      uint32_t len)
{
	struct vdrv_used_elem e;
	struct vdrv_slot *s;
	int ret;

	ret = vdrv_vq_reap(vq, &e);
	if (ret <= 0)
		return ret;
	s = &vq->slot[e.id];
	done->id = e.id;
	done->len = e.len;
	done->status = s->blk_status < 0 ? VDRV_BLK_NO_STATUS :
		       s->buf[s->seg[s->blk_status].off];
	done->intact = slot_gaps_intact(s);
	/* The slot keeps its bytes until it is posted again. */
	if (len > 0)
		slot_copy(s, s->seg[0].len, data, len, false);
	return 1;
}

void
vdrv_blk_pattern(uint8_t *buf, uint64_t sector, uint32_t len, uint8_t tag)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)((sector * 512 + i) * 31 + tag + (i >> 9));
}

uint16_t
vdrv_vq_pending(const struct vdrv_vq *vq)
{
	uint16_t idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);

	return (uint16_t)(idx - vq->last_used_idx);
}

uint16_t
vdrv_vq_inflight(const struct vdrv_vq *vq)
{
	uint16_t i, n = 0;

	for (i = 0; i < vq->size; i++)
		if (vq->slot[i].in_use)
			n++;
	return n;
}

static void
free_chain(struct vdrv_vq *vq, uint16_t head)
{
	struct vdrv_slot *s = &vq->slot[head];
	uint16_t last = head, i;

	for (i = 1; i < s->nr_desc; i++)
		last = vq->next_free[last];
	vq->next_free[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free += s->nr_desc;
	s->in_use = false;
	s->nr_desc = 0;
}

static void
after_reap(struct vdrv_vq *vq)
{
	if (vq->event_idx && vq->irq_on)
		__atomic_store_n(used_event_ptr(vq), vq->last_used_idx,
				 __ATOMIC_SEQ_CST);
}

/* Peek used entry @k after last_used_idx; false if it names no chain. */
static bool
peek_used(const struct vdrv_vq *vq, uint16_t k, struct vdrv_used_elem *e)
{
	const struct vring_used_elem *u;

	u = &vq->used->ring[(uint16_t)(vq->last_used_idx + k) &
			    (vq->size - 1)];
	e->id = (uint16_t)u->id;
	e->len = u->len;
	return u->id < vq->size && vq->slot[u->id].in_use;
}

int
vdrv_vq_reap(struct vdrv_vq *vq, struct vdrv_used_elem *e)
{
	bool ok;

	if (vdrv_vq_pending(vq) == 0)
		return 0;
	ok = peek_used(vq, 0, e);
	vq->last_used_idx++;
	if (ok)
		free_chain(vq, e->id);
	after_reap(vq);
	return ok ? 1 : -EPROTO;
}

/* Consume @nb used entries as one frame; see vdrv_rx_reap(). */
static int
rx_gather(struct vdrv_vq *vq, uint16_t nb, uint8_t *frame, uint32_t cap,
	  uint32_t *len)
{
	struct vdrv_used_elem e;
	uint32_t total = 0;
	int ret = 1;
	uint16_t k;

	for (k = 0; k < nb; k++) {
		uint32_t skip = k == 0 ? vq->hdr_len : 0;
		struct vdrv_slot *s;
		uint32_t n, c;

		if (!peek_used(vq, 0, &e)) {
			vq->last_used_idx++;
			ret = -EPROTO;
			continue;
		}
		s = &vq->slot[e.id];
		if (e.len > slot_total(s) || e.len < skip ||
		    !slot_gaps_intact(s)) {
			ret = -EPROTO;
		} else {
			n = e.len - skip;
			c = total < cap ? cap - total : 0;
			if (c > n)
				c = n;
			slot_copy(s, skip, frame + total, c, false);
			total += n;
		}
		vq->last_used_idx++;
		free_chain(vq, e.id);
	}
	*len = total;
	return ret;
}

int
vdrv_rx_reap(struct vdrv_vq *vq, uint8_t *frame, uint32_t cap,
	     uint32_t *len, uint16_t *num_buffers)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	static const uint8_t zero[10];
	struct vdrv_used_elem e;
	uint16_t pending, nb;
	int ret;

	pending = vdrv_vq_pending(vq);
	if (pending == 0)
		return 0;
	if (!peek_used(vq, 0, &e) || e.len < vq->hdr_len) {
		/* Empty or malformed: consume it alone. */
		ret = vdrv_vq_reap(vq, &e);
		if (ret < 0)
			return ret;
		return e.len == 0 ? -ENODATA : -EPROTO;
	}
	memset(&hdr, 0, sizeof(hdr));
	slot_copy(&vq->slot[e.id], 0, &hdr, vq->hdr_len, false);
	/* The legacy 10-byte header has no num_buffers: one buffer. */
	nb = vq->hdr_len < sizeof(hdr) ? 1 : hdr.num_buffers;
	*num_buffers = nb;
	if (nb == 0 || nb > vq->size ||
	    memcmp(&hdr, zero, sizeof(zero)) != 0) {
		vdrv_vq_reap(vq, &e);
		return -EPROTO;
	}
	if (!vq->mrg_rxbuf)
		nb = 1;
	else if (nb > pending)
		return 0;	/* the rest of the frame is not published */
	ret = rx_gather(vq, nb, frame, cap, len);
	after_reap(vq);
	return ret;
}

void
vdrv_vq_set_no_interrupt(struct vdrv_vq *vq, bool on)
{
	uint16_t f = on ? VRING_AVAIL_F_NO_INTERRUPT : 0;

	__atomic_store_n(&vq->avail->flags, f, __ATOMIC_SEQ_CST);
}

void
vdrv_vq_set_used_event(struct vdrv_vq *vq, uint16_t idx)
{
	__atomic_store_n(used_event_ptr(vq), idx, __ATOMIC_SEQ_CST);
}

uint16_t
vdrv_vq_avail_event(const struct vdrv_vq *vq)
{
	return __atomic_load_n(avail_event_ptr(vq), __ATOMIC_ACQUIRE);
}

void
vdrv_vq_irq_enable(struct vdrv_vq *vq, bool on)
{
	vq->irq_on = on;
	if (vq->event_idx)
		/* Off: an event index the used index is far from reaching. */
		vdrv_vq_set_used_event(vq, on ? vq->last_used_idx :
				       (uint16_t)(vq->last_used_idx - 1));
	else
		vdrv_vq_set_no_interrupt(vq, !on);
}

/* ---- Test frames ---- */

static uint8_t
pattern_byte(uint32_t stream, uint32_t seq, uint32_t i)
{
	return (uint8_t)(stream * 131 + seq * 17 + i * 7 + (i >> 8));
}

uint32_t
vdrv_frame_len(uint32_t stream, uint32_t seq)
{
	uint32_t span = VDRV_FRAME_MAX - VDRV_FRAME_MIN + 1;

	/* Hit both ends now and then. */
	if (seq % 16 == 3)
		return VDRV_FRAME_MAX;
	if (seq % 16 == 7)
		return VDRV_FRAME_MIN;
	return VDRV_FRAME_MIN +
		((seq * 2654435761u + stream * 40503u) >> 7) % span;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

static const uint8_t frame_macs[12] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
};

void
vdrv_frame_fill(uint8_t *buf, uint32_t len, uint32_t stream, uint32_t seq)
{
	uint32_t i;

	memcpy(buf, frame_macs, sizeof(frame_macs));
	buf[12] = VDRV_ETHERTYPE >> 8;
	buf[13] = VDRV_ETHERTYPE & 0xff;
	put32(buf + VDRV_TAG_OFF, stream);
	put32(buf + VDRV_TAG_OFF + 4, seq);
	put32(buf + VDRV_TAG_OFF + 8, len);
	for (i = VDRV_PATTERN_OFF; i < len; i++)
		buf[i] = pattern_byte(stream, seq, i);
}

int
vdrv_frame_check(const uint8_t *buf, uint32_t len, uint32_t *stream,
		 uint32_t *seq)
{
	uint32_t i, st, sq;

	if (len < VDRV_PATTERN_OFF ||
	    memcmp(buf, frame_macs, sizeof(frame_macs)) != 0 ||
	    buf[12] != VDRV_ETHERTYPE >> 8 ||
	    buf[13] != (VDRV_ETHERTYPE & 0xff) ||
	    get32(buf + VDRV_TAG_OFF + 8) != len)
		return -EBADMSG;
	st = get32(buf + VDRV_TAG_OFF);
	sq = get32(buf + VDRV_TAG_OFF + 4);
	for (i = VDRV_PATTERN_OFF; i < len; i++)
		if (buf[i] != pattern_byte(st, sq, i))
			return -EBADMSG;
	*stream = st;
	*seq = sq;
	return 0;
}

/* ---- Guest device ---- */

static void
dev_close_irqs(struct vdrv_dev *d)
{
	uint16_t v;

	for (v = 0; v < IFCVF_MAX_QUEUES + 1; v++) {
		if (d->irq_fd[v] < 0)
			continue;
		ifcvf_sim_set_irq(d->sim, v, -1);
		close(d->irq_fd[v]);
		d->irq_fd[v] = -1;
	}
}

static int
dev_open_irqs(struct vdrv_dev *d)
{
	uint16_t v;
	int ret;

	for (v = 0; v < d->nr_vectors; v++) {
		d->irq_fd[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d->irq_fd[v] < 0)
			return -errno;
		ret = ifcvf_sim_set_irq(d->sim, v, d->irq_fd[v]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Describe every vq to the HW layer and start the device. */
static int
dev_start(struct vdrv_dev *d, uint64_t features)
{
	uint16_t q;
	int ret;

	for (q = 0; q < IFCVF_MAX_QUEUES; q++) {
		struct ifcvf_vring *vr = &d->vring[q];

		memset(vr, 0, sizeof(*vr));
		vr->vector = IFCVF_MSI_NO_VECTOR;
		if (q >= d->nr_queues)
			continue;
		vdrv_vq_reset(&d->vq[q]);
		vr->desc = d->vq[q].desc_gpa;
		vr->avail = d->vq[q].avail_gpa;
		vr->used = d->vq[q].used_gpa;
		vr->size = d->vq[q].size;
		vr->vector = q;
		vr->enable = true;
	}
	d->hw.config_vector = d->config_vector;
	ret = ifcvf_hw_start(&d->hw, features, d->vring);
	if (ret < 0)
		return ret;
	d->features = d->hw.features;
	for (q = 0; q < d->nr_queues; q++) {
		vdrv_vq_set_features(&d->vq[q], d->features);
	}
	d->started = true;
	return 0;
}

int
vdrv_dev_init(struct vdrv_dev *d, struct ifcvf_sim *sim,
	      struct vdrv_mem *mem, const struct vdrv_dev_params *p)
{
	struct ifcvf_io io;
	uint64_t features;
	uint16_t q, qsize;
	uint32_t cap;
	int ret;

	memset(d, 0, sizeof(*d));
	for (q = 0; q < IFCVF_MAX_QUEUES + 1; q++)
		d->irq_fd[q] = -1;
	if (p->nr_pairs == 0 || p->nr_pairs > IFCVF_MAX_QUEUE_PAIRS)
		return -EINVAL;
	d->sim = sim;
	d->mem = mem;

	ifcvf_sim_get_io(sim, &io);
	ret = ifcvf_hw_init(&d->hw, &io);
	if (ret < 0)
		return ret;
	if (d->hw.dev_type == IFCVF_DEV_BLK) {
		d->nr_queues = p->nr_pairs;
	} else {
		d->nr_pairs = p->nr_pairs;
		d->nr_queues = p->nr_pairs * 2;
	}
	d->nr_vectors = d->nr_queues + 1;
	d->config_vector = d->nr_queues;
	if (d->hw.nr_vring < d->nr_queues ||
	    ifcvf_sim_nr_vectors(sim) < d->nr_vectors)
		return -EINVAL;

	qsize = p->queue_size != 0 ? p->queue_size : VDRV_DEF_QUEUE_SIZE;
	cap = p->buf_cap != 0 ? p->buf_cap : VDRV_DEF_BUF_CAP;
	for (q = 0; q < d->nr_queues; q++) {
		ret = vdrv_vq_init(&d->vq[q], mem, q, qsize, cap);
		if (ret < 0)
			goto fail;
	}
	ret = dev_open_irqs(d);
	if (ret < 0)
		goto fail;
	features = p->features != 0 ? p->features : d->hw.dev_features;
	ret = dev_start(d, features);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	vdrv_dev_fini(d);
	return ret;
}

int
vdrv_dev_restart(struct vdrv_dev *d)
{
	uint64_t features = d->features;

	if (d->started)
		ifcvf_hw_stop(&d->hw, d->vring, NULL);
	d->started = false;
	return dev_start(d, features);
}

void
vdrv_dev_fini(struct vdrv_dev *d)
{
	uint16_t q;

	if (d->started)
		ifcvf_hw_stop(&d->hw, d->vring, NULL);
	d->started = false;
	if (d->sim != NULL)
		dev_close_irqs(d);
	for (q = 0; q < IFCVF_MAX_QUEUES; q++)
		vdrv_vq_fini(&d->vq[q]);
}

void
vdrv_dev_kick(struct vdrv_dev *d, uint16_t qid)
{
	ifcvf_hw_notify(&d->hw, qid);
}

uint64_t
vdrv_dev_irqs(struct vdrv_dev *d, uint16_t vector)
{
	uint64_t v = 0;

	if (vector > IFCVF_MAX_QUEUES || d->irq_fd[vector] < 0)
		return 0;
	if (read(d->irq_fd[vector], &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* ---- Traffic ---- */

void
vdrv_queue_dump(FILE *fp, struct ifcvf_sim *sim, uint16_t qid)
{
	struct ifcvf_sim_queue_stats s;
	struct ifcvf_sim_queue_info i;

	memset(&i, 0, sizeof(i));
	memset(&s, 0, sizeof(s));
	ifcvf_sim_queue_info(sim, qid, &i);
	ifcvf_sim_queue_stats(sim, qid, &s);
	fprintf(fp, "  %s q%u: en=%d broken=%d avail=%u used=%u "
		"pkts=%" PRIu64 " bytes=%" PRIu64 " descs=%" PRIu64
		" kicks=%" PRIu64 " irqs=%" PRIu64 " drops=%" PRIu64 "\n",
		ifcvf_sim_name(sim), qid, i.enabled, i.broken,
		i.last_avail_idx, i.last_used_idx, s.packets, s.bytes, s.descs,
		s.kicks, s.irqs, s.drops);
}

static void
flow_dev_kick(void *owner, uint16_t qid)
{
	vdrv_dev_kick(owner, qid);
}

void
vdrv_flow_init_vqs(struct vdrv_flow *f, struct vdrv_vq *txq, void *tx_owner,
		   struct vdrv_vq *rxq, void *rx_owner,
		   void (*kick)(void *owner, uint16_t qid), uint32_t stream,
		   uint32_t total)
{
	memset(f, 0, sizeof(*f));
	f->txq = txq;
	f->rxq = rxq;
	f->tx_owner = tx_owner;
	f->rx_owner = rx_owner;
	f->kick = kick;
	f->stream = stream;
	f->total = total;
}

void
vdrv_flow_init(struct vdrv_flow *f, struct vdrv_dev *txd, uint16_t txp,
	       struct vdrv_dev *rxd, uint16_t rxp, uint32_t stream,
	       uint32_t total)
{
	vdrv_flow_init_vqs(f, &txd->vq[vdrv_txq(txp)], txd,
			   &rxd->vq[vdrv_rxq(rxp)], rxd, flow_dev_kick, stream,
			   total);
	f->txd = txd;
	f->txp = txp;
	f->rxd = rxd;
	f->rxp = rxp;
}

static void
flow_fail(struct vdrv_flow *f, const char *why, long long a, long long b)
{
	if (f->err == 0)
		fprintf(stderr, "flow %u: %s (%lld, %lld)\n", f->stream, why,
			a, b);
	f->err = -1;
}

void
vdrv_flow_prime(struct vdrv_flow *f)
{
	vdrv_rx_fill(f->rxq, f->rx_len, f->rx_segs);
	f->kick(f->rx_owner, f->rxq->qid);
}

/* Post frame f->sent of @len bytes, in f->frame, from f->tx_mem. */
static int
flow_post_tx_mem(struct vdrv_flow *f, uint32_t len)
{
	uint64_t off = f->tx_mem_off +
		(uint64_t)(f->sent % f->txq->size) * VDRV_FLOW_TX_STRIDE;
	uint8_t *p;

	if (off + VDRV_FLOW_TX_STRIDE > f->tx_mem->len ||
	    len + f->txq->hdr_len > VDRV_FLOW_TX_STRIDE)
		return -EINVAL;
	p = f->tx_mem->host + off;
	memset(p, 0, f->txq->hdr_len);
	memcpy(p + f->txq->hdr_len, f->frame, len);
	return vdrv_tx_post_gpa(f->txq, f->tx_mem->gpa + off,
				len + f->txq->hdr_len);
}

static int
flow_post(struct vdrv_flow *f, uint32_t len)
{
	const struct vdrv_tx_opts *o = NULL;

	if (f->tx_mem != NULL)
		return flow_post_tx_mem(f, len);
	if (f->opts != NULL && f->nr_opts > 0)
		o = &f->opts[f->sent % f->nr_opts];
	return vdrv_tx_post(f->txq, f->frame, len, o);
}

static unsigned int
flow_tx(struct vdrv_flow *f)
{
	struct vdrv_vq *vq = f->txq;
	struct vdrv_used_elem e;
	unsigned int progress = 0;
	int ret;

	/*
	 * Keep at most one RX ring of frames on the wire, so the device's
	 * backlog never overflows: the check is lossless delivery.
	 */
	while (f->sent < f->total &&
	       f->sent - (f->rcvd + f->lost) < f->rxq->size) {
		uint32_t len = vdrv_frame_len(f->stream, f->sent);

		vdrv_frame_fill(f->frame, len, f->stream, f->sent);
		ret = flow_post(f, len);
		if (ret == -ENOSPC)
			break;
		if (ret < 0) {
			flow_fail(f, "tx_post", ret, f->sent);
			return progress;
		}
		f->sent++;
		progress++;
	}
	if (progress > 0)
		f->kick(f->tx_owner, vq->qid);
	while ((ret = vdrv_vq_reap(vq, &e)) == 1) {
		f->tx_done++;
		progress++;
	}
	if (ret < 0)
		flow_fail(f, "tx reap: bad used id", ret, e.id);
	return progress;
}

static void
flow_check_frame(struct vdrv_flow *f, uint32_t len, uint16_t nb)
{
	uint32_t st, sq;

	uint32_t want = f->rcvd + f->lost;

	if (len > sizeof(f->rx) ||
	    vdrv_frame_check(f->rx, len, &st, &sq) != 0) {
		flow_fail(f, "frame corrupt: len, expected seq", len, want);
		return;
	}
	if (st != f->stream)
		flow_fail(f, "frame of another stream", st, sq);
	else if (f->lossy && sq > want && sq < f->sent)
		f->lost += sq - want;
	else if (sq != want)
		flow_fail(f, "out of order: got, expected", sq, want);
	if (!f->rxq->mrg_rxbuf && nb != 1)
		flow_fail(f, "num_buffers without MRG_RXBUF", nb, 1);
	if (f->mrg_buf != 0 &&
	    nb != (len + f->rxq->hdr_len + f->mrg_buf - 1) / f->mrg_buf)
		flow_fail(f, "num_buffers, frame len", nb, len);
	if (nb > f->max_nb)
		f->max_nb = nb;
	f->bytes += len;
}

static unsigned int
flow_rx(struct vdrv_flow *f)
{
	struct vdrv_vq *vq = f->rxq;
	unsigned int progress = 0;
	uint32_t len;
	uint16_t nb;
	int ret;

	while ((ret = vdrv_rx_reap(vq, f->rx, sizeof(f->rx), &len,
				   &nb)) == 1) {
		flow_check_frame(f, len, nb);
		f->rcvd++;
		progress++;
	}
	if (ret < 0)
		flow_fail(f, "rx reap", ret, f->rcvd);
	if (progress > 0 && vdrv_rx_fill(vq, f->rx_len, f->rx_segs) > 0)
		f->kick(f->rx_owner, vq->qid);
	return progress;
}

unsigned int
vdrv_flow_step(struct vdrv_flow *f)
{
	return flow_tx(f) + flow_rx(f);
}

bool
vdrv_flow_done(const struct vdrv_flow *f)
{
	return f->tx_done == f->total && f->rcvd + f->lost == f->total;
}

void
vdrv_flow_dump(const struct vdrv_flow *f)
{
	const struct vdrv_vq *t = f->txq, *r = f->rxq;

	fprintf(stderr, "flow %u: sent %u tx_done %u rcvd %u/%u lost %u; "
		"tx avail %u used %u; rx avail %u used %u\n",
		f->stream, f->sent, f->tx_done, f->rcvd, f->total, f->lost,
		t->avail_idx, t->used->idx, r->avail_idx, r->used->idx);
	if (f->txd != NULL)
		vdrv_queue_dump(stderr, f->txd->sim, t->qid);
	if (f->rxd != NULL)
		vdrv_queue_dump(stderr, f->rxd->sim, r->qid);
}
