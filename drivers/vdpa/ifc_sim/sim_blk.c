/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulated device's block datapath: virtio-blk requests on every
 * queue against an in-memory disk, called by the thread under sim->lock.
 *
 * A request is a chain of device-readable descriptors (the 16-byte
 * header, then a write's data) followed by device-writable ones (a read's
 * or GET_ID's data, then the status byte, the chain's last writable
 * byte). A first walk checks the layout and gathers the header, moving
 * no data; a layout the spec forbids (a readable descriptor after a
 * writable one, a short header, no status byte) stops the queue
 * (NEEDS_RESET). A request the device cannot carry out (beyond the
 * capacity, a data length that is not whole sectors, a descriptor of
 * length 0, a write to a read-only disk) is answered VIRTIO_BLK_S_IOERR
 * with nothing moved; an unknown type VIRTIO_BLK_S_UNSUPP. Only then does
 * a second walk move the data, by DMA between the disk and guest memory.
 *
 * Requests complete in order. Under IFCVF_SIM_FAULT_BLK_LATE the device
 * takes requests off the avail ring (last_avail_idx moves) and completes
 * those it took before the queue's last doorbell only: q->blk_done stays
 * behind until the next one. Under IFCVF_SIM_FAULT_BLK_STUCK it completes
 * none at all.
 */

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <linux/virtio_blk.h>

#include <rte_byteorder.h>
#include <rte_common.h>

#include "sim_priv.h"

#define SIM_BLK_HDR_LEN		sizeof(struct virtio_blk_outhdr)
#define SIM_BLK_SECTOR_SHIFT	9

/* What a request's chain holds, from the walk that moves no data. */
struct sim_blk_req {
	struct virtio_blk_outhdr hdr;	/* as the guest wrote it */
	uint32_t type;
	uint64_t sector;
	uint32_t hdr_got;	/* header bytes gathered */
	uint64_t out_len;	/* device-readable bytes after the header */
	uint64_t in_len;	/* device-writable bytes, status included */
	uint64_t status_addr;	/* IOVA of the status byte */
	bool zero_len;		/* a descriptor of length 0 */
	bool writable;		/* a device-writable descriptor was seen */
};

/* Gather the header's next bytes from a readable descriptor. */
static int
sim_blk_hdr_take(struct sim_round *r, struct sim_blk_req *req,
		 const struct vring_desc *d)
{
	uint32_t n = RTE_MIN(d->len, (uint32_t)SIM_BLK_HDR_LEN - req->hdr_got);

	if (n > 0 && sim_dma_read(r->sim, d->addr,
				  (uint8_t *)&req->hdr + req->hdr_got, n) != 0)
		return sim_round_fail(r, "DMA fault on a blk request header");
	req->hdr_got += n;
	req->out_len += d->len - n;
	return 0;
}

static int
sim_blk_scan_desc(struct sim_round *r, struct sim_blk_req *req,
		  const struct vring_desc *d)
{
	if (d->len == 0)
		req->zero_len = true;
	if (d->flags & VRING_DESC_F_WRITE) {
		req->writable = true;
		req->in_len += d->len;
		if (d->len > 0)
			req->status_addr = d->addr + d->len - 1;
		return 0;
	}
	if (req->writable)
		return sim_round_fail(r, "blk request: device-readable descriptor after a device-writable one");
	return sim_blk_hdr_take(r, req, d);
}

/* The first walk: layout and header; -1 when the queue broke. */
static int
sim_blk_scan(struct sim_round *r, uint16_t head, struct sim_blk_req *req)
{
	struct vring_desc d;
	struct sim_walk w;
	int ret;

	memset(req, 0, sizeof(*req));
	sim_walk_start(&w, r->q, head);
	while ((ret = sim_walk_next(r, &w, &d)) > 0)
		if (sim_blk_scan_desc(r, req, &d) < 0)
			return -1;
	if (ret < 0)
		return -1;
	if (req->hdr_got < SIM_BLK_HDR_LEN)
		return sim_round_fail(r, "blk request header shorter than 16 bytes");
	if (req->in_len == 0)
		return sim_round_fail(r, "blk request without a status byte");
	req->type = rte_le_to_cpu_32(req->hdr.type);
	req->sector = rte_le_to_cpu_64(req->hdr.sector);
	return 0;
}

/*
 * The data part of one descriptor: readable bytes past the header (@out)
 * or writable ones before the status byte; *@pos counts them. Moves the
 * part of [*pos, *pos + n) below @len between @d and @buf.
 */
static int
sim_blk_move_desc(struct sim_round *r, const struct vring_desc *d, bool out,
		  uint8_t *buf, uint64_t len, uint64_t *pos, uint32_t *hdr)
{
	uint64_t addr = d->addr, n = d->len, k;

	if (out != !(d->flags & VRING_DESC_F_WRITE))
		return 0;
	if (out) {
		k = RTE_MIN(n, (uint64_t)*hdr);	/* header bytes: not data */
		*hdr -= k;
		addr += k;
		n -= k;
	}
	k = *pos < len ? RTE_MIN(n, len - *pos) : 0;
	if (k > 0 && (out ? sim_dma_read(r->sim, addr, buf + *pos, k) :
		      sim_dma_write(r->sim, addr, buf + *pos, k)) != 0)
		return sim_round_fail(r, "DMA fault on a blk data buffer");
	*pos += k;
	return 0;
}

/*
 * The second walk: copy @len bytes between @buf and the request's data,
 * from the guest (@out: a write) or to it.
 */
static int
sim_blk_move(struct sim_round *r, uint16_t head, bool out, uint8_t *buf,
	     uint64_t len)
{
	uint32_t hdr = SIM_BLK_HDR_LEN;
	struct vring_desc d;
	struct sim_walk w;
	uint64_t pos = 0;
	int ret;

	sim_walk_start(&w, r->q, head);
	while ((ret = sim_walk_next(r, &w, &d)) > 0)
		if (sim_blk_move_desc(r, &d, out, buf, len, &pos, &hdr) < 0)
			return -1;
	return ret;
}

static const struct {
	const char *name;	/* telemetry's */
	const char *text;	/* the log's */
} sim_blk_refusals[IFCVF_SIM_BLK_REFUSALS] = {
	[IFCVF_SIM_BLK_ZERO_LENGTH] = { "zero_length",
		"zero-length descriptor" },
	[IFCVF_SIM_BLK_NOT_SECTORS] = { "not_sectors",
		"data length not whole sectors" },
	[IFCVF_SIM_BLK_BEYOND_CAPACITY] = { "beyond_capacity",
		"beyond the capacity" },
	[IFCVF_SIM_BLK_READ_READABLE] = { "read_readable",
		"read request with device-readable data" },
	[IFCVF_SIM_BLK_WRITE_WRITABLE] = { "write_writable",
		"write request with device-writable data" },
	[IFCVF_SIM_BLK_READ_ONLY] = { "read_only",
		"write to a read-only disk" },
	[IFCVF_SIM_BLK_NO_ID_BUFFER] = { "no_id_buffer",
		"GET_ID without a buffer" },
	[IFCVF_SIM_BLK_UNSUPPORTED] = { "unsupported",
		"unsupported request type" },
};

const char *
ifcvf_sim_blk_refusal_name(enum ifcvf_sim_blk_refusal why)
{
	return why < IFCVF_SIM_BLK_REFUSALS ? sim_blk_refusals[why].name :
	       NULL;
}

/* A request refused: logged and counted, nothing moved. */
static uint8_t
sim_blk_refuse(struct sim_round *r, const struct sim_blk_req *req,
	       uint8_t status, enum ifcvf_sim_blk_refusal why)
{
	SIM_LOG(NOTICE, "%s: queue %u: blk request type %u sector %" PRIu64
		": %s", r->sim->name, r->qid, req->type, req->sector,
		sim_blk_refusals[why].text);
	r->q->stats.errors++;
	r->sim->blk_refused[why]++;
	return status;
}

/* Whole sectors within the disk: the disk bytes, or NULL with *why set. */
static uint8_t *
sim_blk_range(struct sim_round *r, const struct sim_blk_req *req,
	      uint64_t len, enum ifcvf_sim_blk_refusal *why)
{
	uint64_t cap = r->sim->capacity, n = len >> SIM_BLK_SECTOR_SHIFT;

	if (req->zero_len)
		*why = IFCVF_SIM_BLK_ZERO_LENGTH;
	else if (len == 0 || len % IFCVF_SIM_BLK_SECTOR != 0)
		*why = IFCVF_SIM_BLK_NOT_SECTORS;
	else if (req->sector > cap || n > cap - req->sector)
		*why = IFCVF_SIM_BLK_BEYOND_CAPACITY;
	else
		return r->sim->disk +
		       (req->sector << SIM_BLK_SECTOR_SHIFT);
	return NULL;
}

static int
sim_blk_read(struct sim_round *r, uint16_t head,
	     const struct sim_blk_req *req, uint8_t *status, uint32_t *used)
{
	uint64_t len = req->in_len - 1;
	enum ifcvf_sim_blk_refusal why = IFCVF_SIM_BLK_READ_READABLE;
	uint8_t *disk = req->out_len == 0 ? sim_blk_range(r, req, len, &why) :
			NULL;

	if (disk == NULL) {
		*status = sim_blk_refuse(r, req, VIRTIO_BLK_S_IOERR, why);
		return 0;
	}
	if (sim_blk_move(r, head, false, disk, len) < 0)
		return -1;
	r->q->stats.bytes += len;
	*used += len;
	return 0;
}

static int
sim_blk_write(struct sim_round *r, uint16_t head,
	      const struct sim_blk_req *req, uint8_t *status)
{
	enum ifcvf_sim_blk_refusal why = IFCVF_SIM_BLK_WRITE_WRITABLE;
	uint8_t *disk = NULL;

	if (r->sim->dev_features & (1ULL << VIRTIO_BLK_F_RO))
		why = IFCVF_SIM_BLK_READ_ONLY;
	else if (req->in_len == 1)
		disk = sim_blk_range(r, req, req->out_len, &why);
	if (disk == NULL) {
		*status = sim_blk_refuse(r, req, VIRTIO_BLK_S_IOERR, why);
		return 0;
	}
	if (sim_blk_move(r, head, true, disk, req->out_len) < 0)
		return -1;
	r->q->stats.bytes += req->out_len;
	return 0;
}

static int
sim_blk_get_id(struct sim_round *r, uint16_t head,
	       const struct sim_blk_req *req, uint8_t *status, uint32_t *used)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = SIM_BLK_ID;
	uint64_t len = RTE_MIN(req->in_len - 1, (uint64_t)sizeof(id));

	if (len == 0 || req->zero_len) {
		*status = sim_blk_refuse(r, req, VIRTIO_BLK_S_IOERR,
					 IFCVF_SIM_BLK_NO_ID_BUFFER);
		return 0;
	}
	if (sim_blk_move(r, head, false, id, len) < 0)
		return -1;
	*used += len;
	return 0;
}

/* Carry out one request; *status and *used (bytes written) for its end. */
static int
sim_blk_exec(struct sim_round *r, uint16_t head,
	     const struct sim_blk_req *req, uint8_t *status, uint32_t *used)
{
	*status = VIRTIO_BLK_S_OK;
	*used = 1;	/* the status byte */
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		return sim_blk_read(r, head, req, status, used);
	case VIRTIO_BLK_T_OUT:
		return sim_blk_write(r, head, req, status);
	case VIRTIO_BLK_T_GET_ID:
		return sim_blk_get_id(r, head, req, status, used);
	case VIRTIO_BLK_T_FLUSH:
		if (r->sim->dev_features & (1ULL << VIRTIO_BLK_F_FLUSH)) {
			r->q->stats.flushes++;
			return 0;
		}
		break;
	default:
		break;
	}
	*status = sim_blk_refuse(r, req, VIRTIO_BLK_S_UNSUPP,
				 IFCVF_SIM_BLK_UNSUPPORTED);
	return 0;
}

/* One request from scan to used entry. */
static int
sim_blk_request(struct sim_round *r, uint16_t head)
{
	struct sim_blk_req req;
	uint32_t used;
	uint8_t status;

	if (sim_blk_scan(r, head, &req) < 0 ||
	    sim_blk_exec(r, head, &req, &status, &used) < 0)
		return -1;
	if (sim_dma_write(r->sim, req.status_addr, &status, 1) != 0)
		return sim_round_fail(r, "DMA fault on a blk status byte");
	if (status == VIRTIO_BLK_S_OK)
		r->q->stats.packets++;
	r->q->stats.descs++;
	r->chains++;
	return sim_used_add(r, head, used);
}

/* Under the late or stuck fault: take what is posted, complete nothing. */
static void
sim_blk_hold(struct sim_round *r, bool stuck)
{
	struct sim_queue *q = r->q;
	uint16_t n = sim_pending(r);

	if (n == 0)
		return;
	q->last_avail_idx = r->avail_idx;
	r->sim->blk_stuck_held |= stuck;
	SIM_LOG(NOTICE, "%s: queue %u: %u requests taken and held (until %s)",
		r->sim->name, r->qid,
		(uint16_t)(q->last_avail_idx - q->blk_done),
		stuck ? "a reset" : "the next doorbell");
}

uint32_t
sim_blk_held(const struct ifcvf_sim *sim)
{
	uint32_t n = 0;
	uint16_t i;

	for (i = 0; i < sim->nr_queues; i++)
		n += (uint16_t)(sim->q[i].last_avail_idx - sim->q[i].blk_done);
	return n;
}

bool
sim_blk_queue(struct ifcvf_sim *sim, uint16_t qid)
{
	struct sim_queue *q = &sim->q[qid];
	bool stuck = sim->fault[IFCVF_SIM_FAULT_BLK_STUCK];
	bool late = stuck || sim->fault[IFCVF_SIM_FAULT_BLK_LATE];
	struct sim_round r;
	uint16_t head, pos, end;
	bool more;

	if (sim_round_start(&r, sim, qid) < 0)
		return false;
	/* Late: what was taken before the doorbell completes now. */
	end = late ? (q->blk_kicked && !stuck ? q->last_avail_idx :
		      q->blk_done) : r.avail_idx;
	while (r.chains < SIM_BATCH && q->blk_done != end) {
		pos = q->blk_done;
		if (sim_avail_head_at(&r, pos, &head) < 0 ||
		    sim_blk_request(&r, head) < 0)
			break;
		q->blk_done++;
		if (q->last_avail_idx == pos)
			q->last_avail_idx++;
	}
	/* A doorbell's work past the batch goes on in the next round. */
	q->blk_kicked = q->blk_kicked && q->blk_done != end;
	more = sim_round_finish(&r) || r.chains >= SIM_BATCH;
	if (late && !r.failed)
		sim_blk_hold(&r, stuck);
	return more && !r.failed;
}
