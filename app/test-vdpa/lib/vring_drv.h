/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef VRING_DRV_H
#define VRING_DRV_H

/*
 * A guest-side virtio-net and virtio-blk driver living in plain process
 * memory, for the simulator's tests and demo.
 *
 * - struct vdrv_mem: "guest memory", one mapping with a guest-physical
 *   base, anonymous (vdrv_mem_init) or shared and backed by a memfd
 *   (vdrv_mem_init_memfd) that a vhost-user frontend hands to its
 *   backend. The caller maps it into a simulator with
 *   ifcvf_sim_dma_map(sim, (uint64_t)mem.host, mem.gpa, mem.len), so that
 *   IOVA = GPA as under vDPA.
 * - struct vdrv_vq: a split virtqueue in guest memory, posting TX frames
 *   and RX buffers and reaping used entries.
 * - struct vdrv_dev: a device brought up through the HW layer, with one
 *   eventfd per MSI-X vector counting interrupts.
 *
 * Single-threaded: one thread drives a given vq or dev.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/virtio_ring.h>

#include "ifcvf_hw.h"
#include "ifcvf_sim.h"

#define VDRV_NET_HDR_LEN	12	/* virtio_net_hdr_mrg_rxbuf */
#define VDRV_NET_HDR_LEGACY	10	/* virtio_net_hdr, virtio 0.95 */
#define VDRV_MAX_SEGS		16	/* data descriptors per chain */
/* Pieces of a slot: blk's header, data, zero piece, status, trailer. */
#define VDRV_SLOT_SEGS		(VDRV_MAX_SEGS + 4)
#define VDRV_SEG_GAP		64	/* poison bytes between pieces */
#define VDRV_POISON		0xee
#define VDRV_FRAME_MIN		60
#define VDRV_FRAME_MAX		1514
#define VDRV_PAGE_SIZE		4096

/* CLOCK_MONOTONIC in milliseconds, for the callers' bounded waits. */
int64_t vdrv_now_ms(void);

/* ---- Guest memory ---- */

struct vdrv_mem {
	uint8_t *host;		/* start of the mapping */
	uint64_t gpa;		/* guest-physical address of host[0] */
	uint64_t len;
	uint64_t used;		/* bump allocator offset */
	int fd;			/* the backing memfd, -1 if anonymous */
};

/* Map @len bytes (rounded up to a page) at guest-physical @gpa. */
int vdrv_mem_init(struct vdrv_mem *m, uint64_t gpa, uint64_t len);
/*
 * The same, shared and backed by a memfd (MFD_CLOEXEC) of exactly the
 * mapping's length, kept open in m->fd until vdrv_mem_fini().
 */
int vdrv_mem_init_memfd(struct vdrv_mem *m, uint64_t gpa, uint64_t len);
void vdrv_mem_fini(struct vdrv_mem *m);
/*
 * Carve @len bytes aligned to @align (a power of two) out of @m, zeroed.
 * Returns the host pointer and sets *@gpa, or NULL when full.
 */
void *vdrv_mem_alloc(struct vdrv_mem *m, uint64_t len, uint64_t align,
		     uint64_t *gpa);
/* Host pointer of [gpa, gpa + len), NULL if outside @m. */
void *vdrv_gpa_to_host(const struct vdrv_mem *m, uint64_t gpa, uint64_t len);
/* Guest-physical address of @p, which must lie inside @m. */
uint64_t vdrv_host_to_gpa(const struct vdrv_mem *m, const void *p);

/* ---- Split virtqueue ---- */

/* One piece of a posted buffer, as an offset into the slot's area. */
struct vdrv_seg {
	uint32_t off;
	uint32_t len;
	uint16_t flags;		/* VRING_DESC_F_WRITE or 0, with the chain's */
};

/* What the driver remembers about a chain, indexed by its head. */
struct vdrv_slot {
	uint8_t *buf;		/* host address of the slot's buffer area */
	uint64_t buf_gpa;
	struct vring_desc *indirect;	/* the slot's indirect table */
	uint64_t indirect_gpa;
	struct vdrv_seg seg[VDRV_SLOT_SEGS];
	uint16_t nr_seg;
	uint16_t nr_desc;	/* main-table descriptors held */
	int16_t blk_status;	/* blk: the status byte's piece, -1: none */
	bool in_use;
};

struct vdrv_vq {
	struct vdrv_mem *mem;
	uint16_t qid;
	uint16_t size;
	uint32_t buf_cap;	/* data bytes a slot can hold */
	uint32_t area_len;	/* buf_cap plus room for gaps */

	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint64_t desc_len;	/* bytes of each ring part */
	uint64_t avail_len;
	uint64_t used_len;

	uint16_t *next_free;	/* driver-private free list */
	uint16_t free_head;
	uint16_t num_free;
	uint16_t avail_idx;	/* next avail entry the driver fills */
	uint16_t last_used_idx;	/* next used entry the driver reaps */
	struct vdrv_slot *slot;

	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool mrg_rxbuf;		/* VIRTIO_NET_F_MRG_RXBUF negotiated */
	/* The net header: 12 bytes, 10 for a legacy set without MRG_RXBUF. */
	uint32_t hdr_len;
	bool irq_on;		/* keep used_event current after reaps */
};

/*
 * The net header's length for negotiated @features: the 12-byte
 * virtio_net_hdr_mrg_rxbuf with VERSION_1 or MRG_RXBUF, the 10-byte
 * legacy virtio_net_hdr (no num_buffers) without either.
 */
static inline uint32_t
vdrv_net_hdr_len(uint64_t features)
{
	return (features & ((1ULL << 32 /* VIRTIO_F_VERSION_1 */) |
			    (1ULL << 15 /* VIRTIO_NET_F_MRG_RXBUF */))) ?
	       VDRV_NET_HDR_LEN : VDRV_NET_HDR_LEGACY;
}

/* The features the queue's flags and header length follow. */
void vdrv_vq_set_features(struct vdrv_vq *vq, uint64_t features);

/* How a TX frame is laid out in descriptors. */
struct vdrv_tx_opts {
	bool hdr_separate;	/* the net header in its own descriptor */
	bool indirect;		/* chain in an indirect table */
	unsigned int nr_segs;	/* frame pieces, 1 .. VDRV_MAX_SEGS (0 = 1) */
};

/* One reaped used entry. */
struct vdrv_used_elem {
	uint16_t id;
	uint32_t len;
};

/*
 * Lay out a queue of @size entries (a power of two) in @m, with slots of
 * @buf_cap data bytes. All state is zero: nothing posted.
 */
int vdrv_vq_init(struct vdrv_vq *vq, struct vdrv_mem *m, uint16_t qid,
		 uint16_t size, uint32_t buf_cap);
void vdrv_vq_fini(struct vdrv_vq *vq);
/* Forget everything posted and zero the rings (after a device reset). */
void vdrv_vq_reset(struct vdrv_vq *vq);

/*
 * Post a frame of @len bytes (a zeroed net header, vq->hdr_len bytes, is
 * prepended).
 * Returns the head descriptor id, -ENOSPC when the ring or the free list
 * is full, -EINVAL when the frame does not fit a slot.
 */
int vdrv_tx_post(struct vdrv_vq *vq, const void *frame, uint32_t len,
		 const struct vdrv_tx_opts *opts);
/*
 * Post a TX chain of one descriptor pointing at [@gpa, @gpa + @len), a
 * buffer the caller laid out (header included) anywhere in guest memory,
 * e.g. another region. Reaped like any chain. Returns the head id or
 * -ENOSPC.
 */
int vdrv_tx_post_gpa(struct vdrv_vq *vq, uint64_t gpa, uint32_t len);
/*
 * Post an RX buffer of @len bytes (0 = the slot's capacity), split over
 * @nr_segs device-writable descriptors (0 = 1). Returns the head id or a
 * negative errno as vdrv_tx_post().
 */
int vdrv_rx_post(struct vdrv_vq *vq, uint32_t len, unsigned int nr_segs);
/* Fill the ring with RX buffers; returns how many were posted. */
unsigned int vdrv_rx_fill(struct vdrv_vq *vq, uint32_t len,
			  unsigned int nr_segs);

/* Used entries the device has published and the driver not yet reaped. */
uint16_t vdrv_vq_pending(const struct vdrv_vq *vq);
/* Chains posted and not yet reaped. */
uint16_t vdrv_vq_inflight(const struct vdrv_vq *vq);
/*
 * Reap one used entry and free its chain. Returns 1, 0 when none is
 * pending, -EPROTO if the device returned an id that is not in flight.
 */
int vdrv_vq_reap(struct vdrv_vq *vq, struct vdrv_used_elem *e);
/*
 * Reap one received frame: strips the header into *@num_buffers and
 * copies up to @cap frame bytes to @frame (*@len is the full frame
 * length). With MRG_RXBUF it waits (returns 0) until all num_buffers
 * entries are published, then gathers them. Returns 1, 0 when no frame is
 * complete, -ENODATA for a buffer returned with nothing written, -EPROTO
 * on a malformed completion (still consumed).
 */
int vdrv_rx_reap(struct vdrv_vq *vq, uint8_t *frame, uint32_t cap,
		 uint32_t *len, uint16_t *num_buffers);

/* Interrupt suppression. */
void vdrv_vq_set_no_interrupt(struct vdrv_vq *vq, bool on);
void vdrv_vq_set_used_event(struct vdrv_vq *vq, uint16_t idx);
uint16_t vdrv_vq_avail_event(const struct vdrv_vq *vq);
/*
 * Ask for interrupts (or not) the way the negotiated features allow:
 * used_event with EVENT_IDX, the NO_INTERRUPT flag otherwise.
 */
void vdrv_vq_irq_enable(struct vdrv_vq *vq, bool on);

/*
 * Low-level access for malformed-ring tests: take a free descriptor
 * (-ENOSPC if none) and publish a head in the avail ring as is.
 */
int vdrv_vq_take_desc(struct vdrv_vq *vq);
void vdrv_vq_publish(struct vdrv_vq *vq, uint16_t head);

/* ---- virtio-blk requests: header, data pieces, status byte ---- */

#define VDRV_BLK_HDR_LEN	16	/* struct virtio_blk_outhdr */
#define VDRV_BLK_NO_STATUS	0xff	/* status of a request without one */

/* How a request is laid out; zeroed: header, one data piece, status. */
struct vdrv_blk_opts {
	unsigned int nr_segs;	/* data pieces, 1 .. VDRV_MAX_SEGS (0 = 1) */
	bool indirect;		/* chain in an indirect table */
	/* Malformed requests, for the device's checks. */
	uint32_t hdr_len;	/* header piece length (0 = 16) */
	bool zero_len_seg;	/* a data piece of length 0 after the data */
	bool no_status;		/* no status piece */
	bool readable_last;	/* a device-readable piece after the status */
};

/* A completed request. */
struct vdrv_blk_done {
	uint16_t id;
	uint32_t len;		/* used length: bytes the device wrote */
	uint8_t status;		/* VIRTIO_BLK_S_*, VDRV_BLK_NO_STATUS */
	bool intact;		/* no byte written between pieces */
};

/*
 * Post request @type at @sector with @len data bytes: a write's are
 * copied from @data, a read's or GET_ID's are device-writable and
 * poisoned. Returns the head id, -ENOSPC or -EINVAL as vdrv_tx_post().
 */
int vdrv_blk_post(struct vdrv_vq *vq, uint32_t type, uint64_t sector,
		  const void *data, uint32_t len,
		  const struct vdrv_blk_opts *opts);
/*
 * Reap one completed request into *@done, and its first @len data bytes
 * (as they are now, written or not) into @data. Returns 1, 0 when none is
 * pending, -EPROTO as vdrv_vq_reap().
 */
int vdrv_blk_reap(struct vdrv_vq *vq, struct vdrv_blk_done *done,
		  void *data, uint32_t len);

/*
 * @len bytes of test data for sector @sector (512 bytes each) with @tag:
 * every byte depends on where it is, so data read from the wrong sector,
 * or stale, differs.
 */
void vdrv_blk_pattern(uint8_t *buf, uint64_t sector, uint32_t len,
		      uint8_t tag);

/* ---- Test frames: an ethertype-0x88b5 frame tagged (stream, seq) ---- */

/* Length of frame @seq of @stream, in VDRV_FRAME_MIN .. VDRV_FRAME_MAX. */
uint32_t vdrv_frame_len(uint32_t stream, uint32_t seq);
/* Write frame (@stream, @seq) of @len bytes (>= VDRV_FRAME_MIN). */
void vdrv_frame_fill(uint8_t *buf, uint32_t len, uint32_t stream,
		     uint32_t seq);
/* Check every byte of a received frame; 0 and its tags, or -EBADMSG. */
int vdrv_frame_check(const uint8_t *buf, uint32_t len, uint32_t *stream,
		     uint32_t *seq);

/* ---- Guest device ---- */

struct vdrv_dev_params {
	/* 1 .. IFCVF_MAX_QUEUE_PAIRS; a blk device's queues, 1 .. 32. */
	uint16_t nr_pairs;
	uint16_t queue_size;	/* 0: 256 */
	uint32_t buf_cap;	/* 0: 2048 */
	uint64_t features;	/* 0: everything the device offers */
};

struct vdrv_dev {
	struct ifcvf_sim *sim;
	struct vdrv_mem *mem;
	struct ifcvf_hw hw;
	struct ifcvf_vring vring[IFCVF_MAX_QUEUES];	/* as the HW layer runs them */
	uint16_t nr_pairs;	/* 0 on a blk device */
	uint16_t nr_queues;
	uint16_t nr_vectors;	/* eventfds attached: queues + config */
	uint16_t config_vector;
	uint64_t features;	/* negotiated */
	struct vdrv_vq vq[IFCVF_MAX_QUEUES];
	int irq_fd[IFCVF_MAX_QUEUES + 1];
	bool started;
};

/*
 * Bring @sim up through the HW layer with queues in @mem (which the
 * caller has mapped into @sim): every data queue enabled, queue q on
 * vector q, the config interrupt on vector 2 * nr_pairs.
 */
int vdrv_dev_init(struct vdrv_dev *d, struct ifcvf_sim *sim,
		  struct vdrv_mem *mem, const struct vdrv_dev_params *p);
/* Stop the device, detach and close the eventfds. */
void vdrv_dev_fini(struct vdrv_dev *d);
/* Reset the device and bring it up again with fresh rings. */
int vdrv_dev_restart(struct vdrv_dev *d);

static inline uint16_t
vdrv_rxq(uint16_t pair)
{
	return pair * 2;
}

static inline uint16_t
vdrv_txq(uint16_t pair)
{
	return pair * 2 + 1;
}

void vdrv_dev_kick(struct vdrv_dev *d, uint16_t qid);
/* Interrupts counted on @vector since the last call (non-blocking). */
uint64_t vdrv_dev_irqs(struct vdrv_dev *d, uint16_t vector);

/* ---- Traffic: a stream of test frames from a TX queue to an RX queue ---- */

struct vdrv_flow {
	struct vdrv_dev *txd;	/* vdrv_flow_init()'s devices, else NULL */
	struct vdrv_dev *rxd;
	uint16_t txp;		/* pair on the sending side */
	uint16_t rxp;		/* pair on the receiving side */
	uint32_t stream;
	uint32_t total;		/* frames to send (raise it to send more) */
	const struct vdrv_tx_opts *opts;	/* cycled; NULL: plain */
	unsigned int nr_opts;
	uint32_t rx_len;	/* RX buffer length, 0: slot capacity */
	unsigned int rx_segs;	/* RX buffer pieces, 0: 1 */
	uint32_t mrg_buf;	/* expect num_buffers = ceil(len / mrg_buf) */
	/*
	 * Optional: TX frames laid out (header included, one per
	 * VDRV_FLOW_TX_STRIDE bytes) in this region from @tx_mem_off on,
	 * each posted as a single descriptor, instead of in the slots.
	 */
	struct vdrv_mem *tx_mem;
	uint64_t tx_mem_off;
	/*
	 * A device reset may drop frames on the wire (a NIC's RX backlog):
	 * a gap in the sequence is counted in @lost, not failed. The caller
	 * accounts for it (the simulator counts what its resets dropped). A
	 * gap shows when a later frame arrives: frames lost at the end of
	 * the flow leave it unfinished.
	 */
	bool lossy;

	/* The queues, and how their device is kicked: kick(owner, qid). */
	struct vdrv_vq *txq;
	struct vdrv_vq *rxq;
	void *tx_owner;
	void *rx_owner;
	void (*kick)(void *owner, uint16_t qid);

	uint32_t sent;
	uint32_t tx_done;
	uint32_t rcvd;
	uint32_t lost;		/* frames a gap skipped (lossy flows) */
	uint16_t max_nb;	/* largest num_buffers seen */
	uint64_t bytes;		/* frame bytes received */
	int err;		/* first error, reported once on stderr */
	uint8_t frame[VDRV_FRAME_MAX];
	uint8_t rx[VDRV_FRAME_MAX + VDRV_PAGE_SIZE];
};

#define VDRV_FLOW_TX_STRIDE	2048

/* Stream @stream of @total frames from @txd's pair @txp to @rxd's @rxp. */
void vdrv_flow_init(struct vdrv_flow *f, struct vdrv_dev *txd, uint16_t txp,
		    struct vdrv_dev *rxd, uint16_t rxp, uint32_t stream,
		    uint32_t total);
/*
 * The same between any two queues (another frontend's): @kick(@tx_owner,
 * txq->qid) after posting to @txq, @kick(@rx_owner, rxq->qid) after
 * filling @rxq.
 */
void vdrv_flow_init_vqs(struct vdrv_flow *f, struct vdrv_vq *txq,
			void *tx_owner, struct vdrv_vq *rxq, void *rx_owner,
			void (*kick)(void *owner, uint16_t qid),
			uint32_t stream, uint32_t total);
/* Fill the RX ring and kick it. */
void vdrv_flow_prime(struct vdrv_flow *f);
/*
 * Post what fits, kick, reap TX completions and received frames (each
 * checked byte for byte and for order), refill RX. Returns the work done;
 * sets f->err on a failed check.
 */
unsigned int vdrv_flow_step(struct vdrv_flow *f);
bool vdrv_flow_done(const struct vdrv_flow *f);
/*
 * Print the flow's counters and its two queues' ring indices to stderr,
 * and on vdrv_dev flows their sim state.
 */
void vdrv_flow_dump(const struct vdrv_flow *f);
/* Print one queue's sim info and stats to @fp. */
void vdrv_queue_dump(FILE *fp, struct ifcvf_sim *sim, uint16_t qid);

#endif /* VRING_DRV_H */
