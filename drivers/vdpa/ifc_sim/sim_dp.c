/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulated IFCVF's datapath: split virtqueues of a virtio-net
 * device. The thread in sim_dev.c calls sim_dp_process() with sim->lock
 * held; one call is a round over every queue. A TX queue gives frames to
 * the wire (the peer's RX backlog); an RX queue fills its buffers from its
 * own backlog. Every ring and buffer access is a DMA through the IOMMU.
 *
 * A round on one queue takes at most SIM_BATCH chains (a mergeable RX
 * frame in progress may finish past it), reads avail heads a window at a
 * time and writes the used entries in bulk before publishing used->idx.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_atomic.h>
#include <rte_byteorder.h>
#include <rte_common.h>

#include "sim_priv.h"

#define SIM_TX_BUF	(SIM_NET_HDR_MAX + SIM_PKT_MAX)


/* An RX frame as the device writes it: header, then the frame. */
struct sim_rx_src {
	struct virtio_net_hdr_mrg_rxbuf hdr;
	uint32_t hdr_len;	/* the first 10 or 12 bytes of hdr */
	const struct sim_pkt *pkt;
	uint32_t len;		/* header + frame */
};

int
sim_round_fail(struct sim_round *r, const char *why)
{
	if (!r->failed) {
		r->failed = true;
		SIM_LOG(NOTICE, "%s: queue %u: %s", r->sim->name, r->qid, why);
		sim_queue_break(r->sim, r->qid);
	}
	return -1;
}

/* Read avail->idx (acquire: ring entries are read after it). */
static int
sim_avail_refresh(struct sim_round *r)
{
	const struct sim_queue *q = r->q;
	uint16_t idx;

	if (sim_dma_read(r->sim, q->avail + offsetof(struct vring_avail, idx),
			 &idx, sizeof(idx)) != 0)
		return sim_round_fail(r, "DMA fault on avail->idx");
	rte_atomic_thread_fence(__ATOMIC_ACQUIRE);
	idx = rte_le_to_cpu_16(idx);
	if ((uint16_t)(idx - q->last_avail_idx) > q->size)
		return sim_round_fail(r, "avail->idx ran more than a ring ahead");
	r->avail_idx = idx;
	return 0;
}

int
sim_round_start(struct sim_round *r, struct ifcvf_sim *sim, uint16_t qid)
{
	r->sim = sim;
	r->q = &sim->q[qid];
	r->qid = qid;
	r->event_idx = !!(sim->drv_features &
			  (UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX));
	r->failed = false;
	r->stalled = false;
	r->old_used = r->q->last_used_idx;
	r->chains = 0;
	r->win_pos = 0;
	r->win_n = 0;
	r->nr_used = 0;
	return sim_avail_refresh(r);
}

/* Fetch avail heads from ring position @pos up to the ring's end. */
static int
sim_avail_fetch(struct sim_round *r, uint16_t pos)
{
	const struct sim_queue *q = r->q;
	uint16_t slot = pos & (q->size - 1);
	uint16_t n = RTE_MIN((uint16_t)(r->avail_idx - pos),
			     (uint16_t)(q->size - slot));
	uint16_t i;

	n = RTE_MIN(n, (uint16_t)SIM_BATCH);
	if (sim_dma_read(r->sim, q->avail + offsetof(struct vring_avail, ring) +
			 (uint64_t)slot * sizeof(r->heads[0]), r->heads,
			 (uint64_t)n * sizeof(r->heads[0])) != 0)
		return sim_round_fail(r, "DMA fault on the avail ring");
	for (i = 0; i < n; i++)
		r->heads[i] = rte_le_to_cpu_16(r->heads[i]);
	r->win_pos = pos;
	r->win_n = n;
	return 0;
}

int
sim_avail_head_at(struct sim_round *r, uint16_t pos, uint16_t *head)
{
	uint16_t off = pos - r->win_pos;

	if (off >= r->win_n) {
		if (sim_avail_fetch(r, pos) < 0)
			return -1;
		off = 0;
	}
	*head = r->heads[off];
	return 0;
}

/* Head of the @k-th pending chain; @k < sim_pending(). */
static int
sim_avail_head(struct sim_round *r, uint16_t k, uint16_t *head)
{
	return sim_avail_head_at(r, r->q->last_avail_idx + k, head);
}

/* Write the pending used entries (not used->idx). */
static int
sim_used_flush(struct sim_round *r)
{
	const struct sim_queue *q = r->q;
	uint16_t pos = q->last_used_idx - r->nr_used;
	unsigned int done = 0;

	while (done < r->nr_used) {
		uint16_t slot = (uint16_t)(pos + done) & (q->size - 1);
		unsigned int n = RTE_MIN(r->nr_used - done,
					 (unsigned int)(q->size - slot));

		if (sim_dma_write(r->sim, q->used +
				  offsetof(struct vring_used, ring) +
				  (uint64_t)slot * sizeof(r->used[0]),
				  &r->used[done],
				  (uint64_t)n * sizeof(r->used[0])) != 0)
			return sim_round_fail(r, "DMA fault on the used ring");
		done += n;
	}
	r->nr_used = 0;
	return 0;
}

int
sim_used_add(struct sim_round *r, uint16_t id, uint32_t len)
{
	if (r->nr_used == SIM_BATCH && sim_used_flush(r) < 0)
		return -1;
	r->used[r->nr_used].id = rte_cpu_to_le_32(id);
	r->used[r->nr_used].len = rte_cpu_to_le_32(len);
	r->nr_used++;
	r->q->last_used_idx++;
	return 0;
}

/* Take the chain at the head of the avail ring and return it used. */
static int
sim_chain_done(struct sim_round *r, uint16_t head, uint32_t len)
{
	r->q->last_avail_idx++;
	r->q->stats.descs++;
	r->chains++;
	return sim_used_add(r, head, len);
}

void
sim_walk_start(struct sim_walk *w, const struct sim_queue *q, uint16_t head)
{
	w->table = q->desc;
	w->nr = q->size;
	w->idx = head;
	w->seen = 0;
	w->indirect = false;
	w->more = true;
}

/*
 * Next buffer descriptor of the chain into @d: 1, 0 at the end, -1 when
 * the queue broke. An indirect descriptor ends the outer chain: the walk
 * goes on in its table only.
 */
int
sim_walk_next(struct sim_round *r, struct sim_walk *w, struct vring_desc *d)
{
	for (;;) {
		if (!w->more)
			return 0;
		if (w->idx >= w->nr)
			return sim_round_fail(r, "descriptor index out of range");
		if (w->seen++ >= w->nr)
			return sim_round_fail(r, "descriptor chain loops");
		if (sim_dma_read(r->sim, w->table + (uint64_t)w->idx *
				 sizeof(*d), d, sizeof(*d)) != 0)
			return sim_round_fail(r, "DMA fault on a descriptor");
		d->addr = rte_le_to_cpu_64(d->addr);
		d->len = rte_le_to_cpu_32(d->len);
		d->flags = rte_le_to_cpu_16(d->flags);
		d->next = rte_le_to_cpu_16(d->next);
		if (!(d->flags & VRING_DESC_F_INDIRECT)) {
			w->more = !!(d->flags & VRING_DESC_F_NEXT);
			w->idx = d->next;
			return 1;
		}
		if (w->indirect)
			return sim_round_fail(r, "nested indirect table");
		if (d->len == 0 || d->len % sizeof(*d) != 0)
			return sim_round_fail(r, "bad indirect table length");
		w->table = d->addr;
		w->nr = d->len / sizeof(*d);
		w->idx = 0;
		w->seen = 0;
		w->indirect = true;
	}
}

/*
 * Gather a TX chain into @buf (SIM_TX_BUF bytes). *total is the chain's
 * full length; bytes past the buffer are validated but not read.
 */
static int
sim_tx_gather(struct sim_round *r, uint16_t head, uint8_t *buf,
	      uint64_t *total)
{
	struct vring_desc d;
	struct sim_walk w;
	int ret;

	*total = 0;
	sim_walk_start(&w, r->q, head);
	while ((ret = sim_walk_next(r, &w, &d)) > 0) {
		if (d.flags & VRING_DESC_F_WRITE)
			return sim_round_fail(r, "device-writable TX descriptor");
		if (*total + d.len <= SIM_TX_BUF &&
		    sim_dma_read(r->sim, d.addr, buf + *total, d.len) != 0)
			return sim_round_fail(r, "DMA fault on a TX buffer");
		*total += d.len;
	}
	return ret;
}

/* One TX chain: *out gets its frame, or NULL when it was dropped. */
static int
sim_tx_chain(struct sim_round *r, uint16_t head, uint8_t *buf,
	     struct sim_pkt **out)
{
	struct sim_queue *q = r->q;
	struct sim_pkt *pkt = NULL;
	uint32_t hdr_len = sim_net_hdr_len(r->sim);
	uint64_t total;

	*out = NULL;
	if (sim_tx_gather(r, head, buf, &total) < 0)
		return -1;
	if (total > hdr_len && total <= hdr_len + SIM_PKT_MAX)
		pkt = malloc(sizeof(*pkt) + total - hdr_len);
	if (pkt == NULL) {
		/* No frame, too big, or no memory. */
		__atomic_fetch_add(&q->stats.drops, 1, __ATOMIC_RELAXED);
	} else {
		pkt->next = NULL;
		pkt->len = total - hdr_len;
		memcpy(pkt->data, buf + hdr_len, pkt->len);
		q->stats.packets++;
		q->stats.bytes += pkt->len;
		*out = pkt;
	}
	return sim_chain_done(r, head, 0);
}

/*
 * EVENT_IDX: write avail_event, the avail index past which the driver
 * kicks: our last_avail_idx, or, when a frame waits for more buffers
 * than are there, the index seen, so that the next buffer kicks.
 */
static int
sim_avail_event_write(struct sim_round *r)
{
	const struct sim_queue *q = r->q;
	uint16_t v = rte_cpu_to_le_16(r->stalled ? r->avail_idx :
				      q->last_avail_idx);

	if (sim_dma_write(r->sim, q->used + offsetof(struct vring_used, ring) +
			  (uint64_t)q->size * sizeof(struct vring_used_elem),
			  &v, sizeof(v)) != 0)
		return sim_round_fail(r, "DMA fault on avail_event");
	return 0;
}

/* Whether the driver wants an interrupt for the entries just published. */
static int
sim_need_irq(struct sim_round *r, bool *need)
{
	const struct sim_queue *q = r->q;
	uint64_t off;
	uint16_t v;

	if (r->event_idx)
		off = offsetof(struct vring_avail, ring) +
			(uint64_t)q->size * sizeof(uint16_t);	/* used_event */
	else
		off = offsetof(struct vring_avail, flags);
	if (sim_dma_read(r->sim, q->avail + off, &v, sizeof(v)) != 0)
		return sim_round_fail(r, "DMA fault on the avail ring");
	v = rte_le_to_cpu_16(v);
	if (r->event_idx)
		*need = vring_need_event(v, q->last_used_idx, r->old_used);
	else
		*need = !(v & VRING_AVAIL_F_NO_INTERRUPT);
	return 0;
}

/* Publish used->idx (release: entries before index). */
static int
sim_used_publish(struct sim_round *r)
{
	uint16_t idx = rte_cpu_to_le_16(r->q->last_used_idx);

	if (sim_used_flush(r) < 0)
		return -1;
	rte_atomic_thread_fence(__ATOMIC_RELEASE);
	if (sim_dma_write(r->sim, r->q->used + offsetof(struct vring_used, idx),
			  &idx, sizeof(idx)) != 0)
		return sim_round_fail(r, "DMA fault on used->idx");
	return 0;
}

/*
 * End of a round: publish, write avail_event, interrupt. Returns true
 * when, with EVENT_IDX, the driver added chains while we published
 * avail_event (it may not kick for them).
 */
bool
sim_round_finish(struct sim_round *r)
{
	uint16_t seen = r->avail_idx;
	bool need = false;

	if (r->failed || (r->chains == 0 && !r->stalled))
		return false;
	if (r->chains > 0 && sim_used_publish(r) < 0)
		return false;
	if (r->event_idx && sim_avail_event_write(r) < 0)
		return false;
	/* Our stores before the driver's flags, event and index. */
	rte_smp_mb();
	if (r->chains > 0 && sim_need_irq(r, &need) < 0)
		return false;
	if (need) {
		sim_raise_irq(r->sim, r->q->vector);
		r->q->stats.irqs++;
	}
	if (!r->event_idx || sim_avail_refresh(r) < 0)
		return false;
	return r->avail_idx != seen;
}

/*
 * Queue @pkts (linked by next) on @sim's RX backlog of @pair; frames past
 * SIM_BACKLOG_MAX are dropped. Under sim_wire_lock.
 */
static void
sim_backlog_append(struct ifcvf_sim *sim, uint16_t pair, struct sim_pkt *pkts)
{
	uint16_t p = pair % sim->nr_qp;
	struct sim_backlog *b = &sim->backlog[p];
	struct sim_pkt *next;
	uint64_t drops = 0;

	pthread_mutex_lock(&b->lock);
	for (; pkts != NULL; pkts = next) {
		next = pkts->next;
		pkts->next = NULL;
		if (b->count >= SIM_BACKLOG_MAX) {
			free(pkts);
			drops++;
			continue;
		}
		if (b->tail != NULL)
			b->tail->next = pkts;
		else
			b->head = pkts;
		b->tail = pkts;
		b->count++;
	}
	pthread_mutex_unlock(&b->lock);
	/* Not under that sim's lock: its stats are touched atomically. */
	if (drops != 0)
		__atomic_fetch_add(&sim->q[2 * p].stats.drops, drops,
				   __ATOMIC_RELAXED);
}

void
sim_dp_deliver(struct ifcvf_sim *sim, uint16_t pair, struct sim_pkt *pkt)
{
	pkt->next = NULL;
	sim_backlog_append(sim, pair, pkt);
	sim_wake(sim);
}

/* Hand the frames sent on TX queue @qid to the wire. */
static void
sim_tx_deliver(struct ifcvf_sim *sim, uint16_t qid, struct sim_pkt *pkts)
{
	struct ifcvf_sim *peer;
	uint64_t drops = 0;

	if (pkts == NULL)
		return;
	pthread_mutex_lock(&sim_wire_lock);
	peer = sim->peer;
	if (peer != NULL) {
		sim_backlog_append(peer, qid / 2, pkts);
		sim_wake(peer);
	}
	pthread_mutex_unlock(&sim_wire_lock);
	if (peer != NULL)
		return;
	while (pkts != NULL) {
		struct sim_pkt *next = pkts->next;

		free(pkts);
		drops++;
		pkts = next;
	}
	__atomic_fetch_add(&sim->q[qid].stats.drops, drops, __ATOMIC_RELAXED);
}

static bool
sim_tx_queue(struct ifcvf_sim *sim, uint16_t qid)
{
	uint8_t buf[SIM_TX_BUF];
	struct sim_pkt *pkts = NULL, **tail = &pkts;
	struct sim_round r;
	bool more;

	if (sim_round_start(&r, sim, qid) < 0)
		return false;
	while (r.chains < SIM_BATCH && sim_pending(&r) > 0) {
		struct sim_pkt *pkt = NULL;
		uint16_t head;
		int ret;

		if (sim_avail_head(&r, 0, &head) < 0)
			break;
		ret = sim_tx_chain(&r, head, buf, &pkt);
		if (pkt != NULL) {
			*tail = pkt;
			tail = &pkt->next;
		}
		if (ret < 0)
			break;
	}
	more = sim_round_finish(&r) || r.chains >= SIM_BATCH;
	sim_tx_deliver(sim, qid, pkts);
	return more && !r.failed;
}

/* Write bytes [off, off + n) of @src to @iova. */
static int
sim_rx_put(struct ifcvf_sim *sim, uint64_t iova, const struct sim_rx_src *src,
	   uint32_t off, uint32_t n)
{
	if (off < src->hdr_len) {
		uint32_t k = RTE_MIN(n, src->hdr_len - off);

		if (sim_dma_write(sim, iova, (const uint8_t *)&src->hdr + off,
				  k) != 0)
			return -1;
		iova += k;
		off += k;
		n -= k;
	}
	if (n == 0)
		return 0;
	return sim_dma_write(sim, iova, src->pkt->data + off - src->hdr_len, n);
}

/*
 * Walk an RX chain. With @src NULL, *done is the room it offers (capped at
 * UINT32_MAX); otherwise bytes [off, src->len) of @src are written into it
 * as far as they go and *done is how many were.
 */
static int
sim_rx_chain(struct sim_round *r, uint16_t head, const struct sim_rx_src *src,
	     uint32_t off, uint32_t *done)
{
	struct vring_desc d;
	struct sim_walk w;
	int ret;

	*done = 0;
	sim_walk_start(&w, r->q, head);
	while ((ret = sim_walk_next(r, &w, &d)) > 0) {
		uint32_t n;

		if (!(d.flags & VRING_DESC_F_WRITE))
			return sim_round_fail(r, "device-readable RX descriptor");
		if (src == NULL) {
			*done += RTE_MIN(d.len, UINT32_MAX - *done);
			continue;
		}
		n = RTE_MIN(d.len, src->len - off - *done);
		if (n > 0 &&
		    sim_rx_put(r->sim, d.addr, src, off + *done, n) != 0)
			return sim_round_fail(r, "DMA fault on an RX buffer");
		*done += n;
	}
	return ret;
}

static void
sim_rx_src_init(struct sim_rx_src *src, const struct ifcvf_sim *sim,
		const struct sim_pkt *pkt, uint16_t nr_bufs)
{
	memset(&src->hdr, 0, sizeof(src->hdr));
	/* Legacy without MRG_RXBUF: no num_buffers field is written. */
	src->hdr.num_buffers = rte_cpu_to_le_16(nr_bufs);
	src->hdr_len = sim_net_hdr_len(sim);
	src->pkt = pkt;
	src->len = src->hdr_len + pkt->len;
}

static void
sim_rx_count(struct sim_round *r, const struct sim_pkt *pkt)
{
	r->q->stats.packets++;
	r->q->stats.bytes += pkt->len;
}

/*
 * Without MRG_RXBUF a frame takes exactly one chain. A frame larger than
 * the chain is dropped and the chain is still returned, with used len 0,
 * so that one small buffer does not stall the queue behind it.
 * 1: frame consumed, 0: no buffer yet, -1: broken.
 */
static int
sim_rx_single(struct sim_round *r, const struct sim_pkt *pkt)
{
	struct sim_rx_src src;
	uint32_t room, written = 0;
	uint16_t head;

	if (sim_pending(r) == 0)
		return 0;
	if (sim_avail_head(r, 0, &head) < 0 ||
	    sim_rx_chain(r, head, NULL, 0, &room) < 0)
		return -1;
	sim_rx_src_init(&src, r->sim, pkt, 1);
	if (room < src.len) {
		__atomic_fetch_add(&r->q->stats.drops, 1, __ATOMIC_RELAXED);
	} else {
		if (sim_rx_chain(r, head, &src, 0, &written) < 0)
			return -1;
		sim_rx_count(r, pkt);
	}
	return sim_chain_done(r, head, written) < 0 ? -1 : 1;
}

/*
 * With MRG_RXBUF a frame spreads over as many chains as it needs; they are
 * counted (peeked) before any is taken. A frame that the whole ring could
 * not hold is dropped.
 */
static int
sim_rx_merge(struct sim_round *r, const struct sim_pkt *pkt)
{
	/* MRG_RXBUF: the 12-byte header, legacy or not. */
	uint32_t need = sim_net_hdr_len(r->sim) + pkt->len;
	uint32_t room = 0, off = 0, n;
	struct sim_rx_src src;
	uint16_t k, i, head;

	for (k = 0; room < need; k++) {
		if (k == sim_pending(r)) {
			r->stalled = k < r->q->size;
			if (r->stalled)
				return 0;
			__atomic_fetch_add(&r->q->stats.drops, 1,
					   __ATOMIC_RELAXED);
			return 1;
		}
		if (sim_avail_head(r, k, &head) < 0 ||
		    sim_rx_chain(r, head, NULL, 0, &n) < 0)
			return -1;
		room += RTE_MIN(n, UINT32_MAX - room);
	}
	sim_rx_src_init(&src, r->sim, pkt, k);
	for (i = 0; i < k; i++) {
		if (sim_avail_head(r, 0, &head) < 0 ||
		    sim_rx_chain(r, head, &src, off, &n) < 0 ||
		    sim_chain_done(r, head, n) < 0)
			return -1;
		off += n;
	}
	sim_rx_count(r, pkt);
	return 1;
}

/* Up to @max frames from the head of @b, left in place. */
static unsigned int
sim_backlog_peek(struct sim_backlog *b, struct sim_pkt **pkts,
		 unsigned int max)
{
	struct sim_pkt *p;
	unsigned int n = 0;

	pthread_mutex_lock(&b->lock);
	for (p = b->head; p != NULL && n < max; p = p->next)
		pkts[n++] = p;
	pthread_mutex_unlock(&b->lock);
	return n;
}

/* Drop the first @n frames (peeked) of @b; returns how many are left. */
static unsigned int
sim_backlog_pop(struct sim_backlog *b, struct sim_pkt **pkts, unsigned int n)
{
	unsigned int i, left;

	pthread_mutex_lock(&b->lock);
	if (n > 0) {
		b->head = pkts[n - 1]->next;
		if (b->head == NULL)
			b->tail = NULL;
		b->count -= n;
	}
	left = b->count;
	pthread_mutex_unlock(&b->lock);
	for (i = 0; i < n; i++)
		free(pkts[i]);
	return left;
}

/*
 * The net header's length, by the negotiated features: 12 bytes
 * (virtio_net_hdr_mrg_rxbuf) with VERSION_1 or MRG_RXBUF, 10 (the legacy
 * virtio_net_hdr, no num_buffers) without either. Both profiles: QEMU's
 * virtio-net (virtio_net_set_mrg_rx_bufs()) uses the same rule whichever
 * interface, legacy or modern, the features came through.
 */
uint32_t
sim_net_hdr_len(const struct ifcvf_sim *sim)
{
	return (sim->drv_features & ((UINT64_C(1) << VIRTIO_F_VERSION_1) |
				     (UINT64_C(1) << VIRTIO_NET_F_MRG_RXBUF))) ?
	       sizeof(struct virtio_net_hdr_mrg_rxbuf) :
	       sizeof(struct virtio_net_hdr);
}

static bool
sim_rx_queue(struct ifcvf_sim *sim, uint16_t qid)
{
	struct sim_backlog *b = &sim->backlog[qid / 2];
	bool mrg = !!(sim->drv_features &
		      (UINT64_C(1) << VIRTIO_NET_F_MRG_RXBUF));
	struct sim_pkt *pkts[SIM_BATCH];
	unsigned int n, done = 0, left;
	struct sim_round r;
	bool more;
	int ret = 1;

	n = sim_backlog_peek(b, pkts, SIM_BATCH);
	if (n == 0 || sim_round_start(&r, sim, qid) < 0)
		return false;
	while (done < n && r.chains < SIM_BATCH) {
		ret = mrg ? sim_rx_merge(&r, pkts[done]) :
			    sim_rx_single(&r, pkts[done]);
		if (ret <= 0)
			break;
		done++;
	}
	left = sim_backlog_pop(b, pkts, done);
	/* Stopped by the budget rather than by a lack of buffers? */
	more = ret > 0 && left > 0;
	if (sim_round_finish(&r))
		more = more || left > 0;
	return more && !r.failed;
}

static inline bool
sim_queue_ready(const struct sim_queue *q)
{
	return q->enabled && !q->broken && q->size != 0 &&
	       (q->size & (q->size - 1)) == 0;
}

/*
 * An IFCVF serves the queue pairs (blk: queues) below its LM block's MQ
 * register only: one past it waits, whatever its registers say.
 */
static inline bool
sim_pair_served(const struct ifcvf_sim *sim, uint16_t qid)
{
	if (sim->type == IFCVF_SIM_TYPE_BLK)
		return !sim->has_lm || qid < sim->lm_mq;
	return !sim->has_lm || qid / 2 < sim->lm_mq;
}

static bool
sim_blk_process(struct ifcvf_sim *sim)
{
	bool more = false;
	uint16_t qid;

	for (qid = 0; qid < sim->nr_queues && sim_running(sim); qid++)
		if (sim_queue_ready(&sim->q[qid]) && sim_pair_served(sim, qid))
			more |= sim_blk_queue(sim, qid);
	return more;
}

bool
sim_dp_process(struct ifcvf_sim *sim)
{
	bool more = false;
	uint16_t qid;

	if (sim->type == IFCVF_SIM_TYPE_BLK)
		return sim_blk_process(sim);

	/* TX first, so that a looped frame can land in this same round. */
	for (qid = 1; qid < sim->nr_queues && sim_running(sim); qid += 2)
		if (sim_queue_ready(&sim->q[qid]) && sim_pair_served(sim, qid))
			more |= sim_tx_queue(sim, qid);
	for (qid = 0; qid < sim->nr_queues && sim_running(sim); qid += 2)
		if (sim_queue_ready(&sim->q[qid]) && sim_pair_served(sim, qid))
			more |= sim_rx_queue(sim, qid);
	return more;
}

void
sim_dp_backlog_init(struct ifcvf_sim *sim)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(sim->backlog); i++) {
		struct sim_backlog *b = &sim->backlog[i];

		pthread_mutex_init(&b->lock, NULL);
		b->head = NULL;
		b->tail = NULL;
		b->count = 0;
	}
}

static uint32_t
backlog_drop_all(struct sim_backlog *b)
{
	uint32_t n = b->count;

	while (b->head != NULL) {
		struct sim_pkt *next = b->head->next;

		free(b->head);
		b->head = next;
	}
	b->tail = NULL;
	b->count = 0;
	return n;
}

uint64_t
sim_dp_backlog_flush(struct ifcvf_sim *sim)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < RTE_DIM(sim->backlog); i++) {
		pthread_mutex_lock(&sim->backlog[i].lock);
		n += backlog_drop_all(&sim->backlog[i]);
		pthread_mutex_unlock(&sim->backlog[i].lock);
	}
	return n;
}

void
sim_dp_backlog_fini(struct ifcvf_sim *sim)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(sim->backlog); i++) {
		backlog_drop_all(&sim->backlog[i]);
		pthread_mutex_destroy(&sim->backlog[i].lock);
	}
}
