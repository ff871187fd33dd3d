/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#define _GNU_SOURCE	/* memfd_create() */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vu_guest.h"

#define DEF_QUEUE_SIZE	256
#define DEF_BUF_CAP	2048

#define DEF_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))

#define DEF_PROTOCOL ( \
	(1ULL << VU_PF_REPLY_ACK) | \
	(1ULL << VU_PF_MQ) | \
	(1ULL << VU_PF_LOG_SHMFD) | \
	(1ULL << VU_PF_STATUS))

static int
report(const char *what, int ret)
{
	if (ret < 0)
		fprintf(stderr, "vu_guest: %s: %s\n", what, strerror(-ret));
	return ret;
}

static int
negotiate(struct vu_guest *g, const struct vu_guest_params *p)
{
	uint64_t want = p->features != 0 ? p->features : DEF_FEATURES;

	/* More than one pair by default: MQ, as a real frontend asks it. */
	if (p->features == 0 && g->nr_queues > 2)
		want |= 1ULL << VIRTIO_NET_F_MQ;
	uint64_t pwant = p->protocol != 0 ? p->protocol : DEF_PROTOCOL;
	int ret;

	g->want_features = want;
	g->want_protocol = pwant;
	ret = report("SET_OWNER", vu_set_owner(&g->c));
	if (ret == 0)
		ret = report("GET_FEATURES",
			     vu_get_features(&g->c, &g->dev_features));
	if (ret < 0)
		return ret;
	g->features = want & g->dev_features;
	if (g->features & (1ULL << VU_F_PROTOCOL_FEATURES)) {
		ret = report("GET_PROTOCOL_FEATURES",
			     vu_get_protocol_features(&g->c,
						      &g->dev_protocol));
		g->protocol = pwant & g->dev_protocol;
		if (ret == 0)
			ret = report("SET_PROTOCOL_FEATURES",
				     vu_set_protocol_features(&g->c,
							      g->protocol));
		if (ret < 0)
			return ret;
	}
	g->max_pairs = 1;
	if (g->protocol & (1ULL << VU_PF_MQ)) {
		ret = report("GET_QUEUE_NUM",
			     vu_get_queue_num(&g->c, &g->max_pairs));
		if (ret < 0)
			return ret;
	}
	if (g->nr_queues / 2 > g->max_pairs) {
		fprintf(stderr, "vu_guest: %u pairs asked, the backend has %lu\n",
			g->nr_queues / 2, (unsigned long)g->max_pairs);
		return -EINVAL;
	}
	return report("SET_FEATURES", vu_set_features(&g->c, g->features));
}

void
vu_guest_init(struct vu_guest *g)
{
	uint16_t q;

	memset(g, 0, sizeof(*g));
	g->c.fd = -1;
	g->log_fd = -1;
	for (q = 0; q < VU_GUEST_MAX_QUEUES; q++) {
		g->kickfd[q] = -1;
		g->callfd[q] = -1;
	}
}

int
vu_guest_connect(struct vu_guest *g, const char *path,
		 const struct vu_guest_params *p)
{
	int ret;

	vu_guest_init(g);
	g->nr_queues = p->nr_queues != 0 ? p->nr_queues :
		       2 * (p->nr_pairs != 0 ? p->nr_pairs : 1);
	g->queue_size = p->queue_size != 0 ? p->queue_size : DEF_QUEUE_SIZE;
	g->buf_cap = p->buf_cap != 0 ? p->buf_cap : DEF_BUF_CAP;
	if (g->nr_queues > VU_GUEST_MAX_QUEUES)
		return -EINVAL;
	ret = report("connect", vu_connect(&g->c, path, 10000));
	if (ret < 0)
		return ret;
	g->c.timeout_ms = p->timeout_ms;
	ret = negotiate(g, p);
	if (ret == 0)
		ret = vu_guest_add_region(g, p->gpa != 0 ? p->gpa :
					  VU_GUEST_GPA,
					  p->mem_len != 0 ? p->mem_len :
					  VU_GUEST_MEM_LEN);
	if (ret < 0) {
		vu_guest_fini(g);
		return ret;
	}
	return 0;
}

int
vu_guest_add_region(struct vu_guest *g, uint64_t gpa, uint64_t len)
{
	int ret;

	if (g->nr_mem >= VU_MAX_REGIONS)
		return -ENOSPC;
	ret = vdrv_mem_init_memfd(&g->mem[g->nr_mem], gpa, len);
	if (ret < 0)
		return report("memfd region", ret);
	return (int)g->nr_mem++;
}

void
vu_guest_region(const struct vu_guest *g, unsigned int i,
		struct vu_region *r)
{
	r->gpa = g->mem[i].gpa;
	r->size = g->mem[i].len;
	r->uaddr = (uintptr_t)g->mem[i].host;
	r->mmap_offset = 0;
}

int
vu_guest_set_mem_table(struct vu_guest *g, unsigned int n)
{
	struct vu_region r[VU_MAX_REGIONS];
	int fds[VU_MAX_REGIONS];
	unsigned int i;

	if (n > g->nr_mem)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		vu_guest_region(g, i, &r[i]);
		fds[i] = g->mem[i].fd;
	}
	return report("SET_MEM_TABLE", vu_set_mem_table(&g->c, r, fds, n));
}

int
vu_guest_queues_init(struct vu_guest *g)
{
	uint16_t q;
	int ret;

	for (q = 0; q < g->nr_queues; q++) {
		ret = vdrv_vq_init(&g->vq[q], &g->mem[0], q, g->queue_size,
				   g->buf_cap);
		if (ret < 0)
			return report("queue layout", ret);
		vdrv_vq_set_features(&g->vq[q], g->features);
		g->kickfd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		g->callfd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (g->kickfd[q] < 0 || g->callfd[q] < 0)
			return report("eventfd", -errno);
	}
	return 0;
}

void
vu_guest_vring_addr(const struct vu_guest *g, uint16_t qid,
		    struct vu_vring_addr *a)
{
	const struct vdrv_vq *vq = &g->vq[qid];

	memset(a, 0, sizeof(*a));
	a->index = qid;
	a->desc = (uintptr_t)vq->desc;
	a->avail = (uintptr_t)vq->avail;
	a->used = (uintptr_t)vq->used;
	a->log_gpa = vq->used_gpa;
	if (g->logging)
		a->flags = 1u << 0;	/* VHOST_VRING_F_LOG */
}

int
vu_guest_queue_setup(struct vu_guest *g, uint16_t qid, bool kick)
{
	return vu_guest_queue_setup_base(g, qid, g->vq[qid].avail_idx, kick);
}

int
vu_guest_queue_setup_base(struct vu_guest *g, uint16_t qid, uint32_t base,
			  bool kick)
{
	return vu_guest_queue_setup_ext(g, qid, g->vq[qid].size, NULL, base,
					kick, NULL);
}

int
vu_guest_queue_setup_ext(struct vu_guest *g, uint16_t qid, uint32_t size,
			 const struct vu_vring_addr *a, uint32_t base,
			 bool kick, int *num_ret)
{
	struct vu_vring_addr own;
	int ret;

	if (a == NULL) {
		vu_guest_vring_addr(g, qid, &own);
		a = &own;
	}
	ret = vu_set_vring_num(&g->c, qid, size);
	if (num_ret != NULL)
		*num_ret = ret;
	if (ret < 0 && (num_ret == NULL || ret != -EREMOTEIO))
		return report("SET_VRING_NUM", ret);
	ret = report("SET_VRING_ADDR", vu_set_vring_addr(&g->c, a));
	if (ret == 0)
		ret = report("SET_VRING_BASE",
			     vu_set_vring_base(&g->c, qid, base));
	if (ret == 0)
		ret = report("SET_VRING_CALL",
			     vu_set_vring_call(&g->c, qid, g->callfd[qid]));
	if (ret == 0 && (g->features & (1ULL << VU_F_PROTOCOL_FEATURES)))
		ret = vu_guest_enable_queues(g, qid, 1, true);
	if (ret == 0 && kick)
		ret = report("SET_VRING_KICK",
			     vu_set_vring_kick(&g->c, qid, g->kickfd[qid]));
	return ret;
}

int
vu_guest_enable_queues(struct vu_guest *g, uint16_t first, uint16_t n,
		       bool on)
{
	uint16_t q;
	int ret = 0;

	for (q = first; q < first + n && ret == 0; q++)
		ret = report("SET_VRING_ENABLE",
			     vu_set_vring_enable(&g->c, q, on));
	return ret;
}

int
vu_guest_driver_ok(struct vu_guest *g)
{
	if (!(g->protocol & (1ULL << VU_PF_STATUS)))
		return 0;
	return report("SET_STATUS",
		      vu_set_status(&g->c, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				    VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK |
				    VIRTIO_CONFIG_S_DRIVER_OK));
}

int
vu_guest_start(struct vu_guest *g)
{
	uint16_t q;
	int ret = 0;

	for (q = 0; q < g->nr_queues && ret == 0; q++)
		ret = vu_guest_queue_setup(g, q, true);
	if (ret == 0)
		ret = vu_guest_driver_ok(g);
	if (ret == 0)
		ret = vu_guest_sync(g);
	return ret;
}

int
vu_guest_sync(struct vu_guest *g)
{
	uint64_t f;

	return report("GET_FEATURES (sync)", vu_get_features(&g->c, &f));
}

int
vu_guest_stop(struct vu_guest *g, uint32_t *bases)
{
	uint32_t num;
	uint16_t q;
	int ret;

	for (q = 0; q < g->nr_queues; q++) {
		ret = report("GET_VRING_BASE",
			     vu_get_vring_base(&g->c, q, &num));
		if (ret < 0)
			return ret;
		if (bases != NULL)
			bases[q] = num;
	}
	return 0;
}

void
vu_guest_fini(struct vu_guest *g)
{
	unsigned int i;
	uint16_t q;

	vu_close(&g->c);
	for (q = 0; q < VU_GUEST_MAX_QUEUES; q++) {
		if (g->kickfd[q] >= 0)
			close(g->kickfd[q]);
		if (g->callfd[q] >= 0)
			close(g->callfd[q]);
		g->kickfd[q] = -1;
		g->callfd[q] = -1;
		vdrv_vq_fini(&g->vq[q]);
	}
	for (i = 0; i < g->nr_mem; i++)
		vdrv_mem_fini(&g->mem[i]);
	g->nr_mem = 0;
	if (g->log != NULL)
		munmap(g->log, g->log_size);
	if (g->log_fd >= 0)
		close(g->log_fd);
	g->log = NULL;
	g->log_fd = -1;
}

int
vu_guest_reconnect(struct vu_guest *g, const char *path,
		   const uint32_t *bases)
{
	const struct vu_guest_params p = {
		.features = g->want_features,
		.protocol = g->want_protocol,
		.timeout_ms = g->c.timeout_ms,
	};
	uint16_t q;
	int ret;

	vu_close(&g->c);
	g->logging = false;
	ret = report("connect", vu_connect(&g->c, path, 10000));
	if (ret < 0)
		return ret;
	g->c.timeout_ms = p.timeout_ms;
	ret = negotiate(g, &p);
	if (ret == 0)
		ret = vu_guest_set_mem_table(g, g->nr_mem);
	for (q = 0; q < g->nr_queues && ret == 0; q++)
		ret = vu_guest_queue_setup_base(g, q, bases[q], true);
	if (ret == 0)
		ret = vu_guest_driver_ok(g);
	if (ret == 0)
		ret = vu_guest_sync(g);
	for (q = 0; q < g->nr_queues && ret == 0; q++)
		vu_guest_kick(g, q);
	return ret;
}

/* ---- Dirty log ---- */

int
vu_guest_set_log(struct vu_guest *g, uint64_t size)
{
	return vu_guest_set_log_ext(g, size, 0);
}

int
vu_guest_set_log_ext(struct vu_guest *g, uint64_t size, uint64_t file_len)
{
	return vu_guest_set_log_at(g, size, file_len, 0);
}

int
vu_guest_set_log_at(struct vu_guest *g, uint64_t size, uint64_t file_len,
		    uint64_t offset)
{
	uint64_t end = 0;
	unsigned int i;
	void *p;
	int ret;

	if (size == 0) {
		for (i = 0; i < g->nr_mem; i++)
			if (g->mem[i].gpa + g->mem[i].len > end)
				end = g->mem[i].gpa + g->mem[i].len;
		size = (end / VDRV_PAGE_SIZE + 7) / 8;
		size = (size + VDRV_PAGE_SIZE - 1) & ~(uint64_t)(VDRV_PAGE_SIZE - 1);
	}
	if (g->log != NULL) {
		munmap(g->log, g->log_size);
		close(g->log_fd);
		g->log = NULL;
	}
	if (file_len == 0)
		file_len = size;
	g->log_fd = memfd_create("vu-dirty-log", MFD_CLOEXEC);
	if (g->log_fd < 0 ||
	    ftruncate(g->log_fd, (off_t)(offset + file_len)) < 0)
		return report("log memfd", -errno);
	/* Map only what the file holds: that is what can be read back. */
	g->log_size = file_len < size ? file_len : size;
	p = mmap(NULL, g->log_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 g->log_fd, (off_t)offset);
	if (p == MAP_FAILED)
		return report("log mmap", -errno);
	g->log = p;
	ret = vu_set_log_base(&g->c, g->log_fd, size, offset);
	return report("SET_LOG_BASE", ret);
}

int
vu_guest_log_all(struct vu_guest *g, bool on)
{
	uint64_t f = g->features & ~(1ULL << VU_F_LOG_ALL);
	struct vu_vring_addr a;
	uint16_t q;
	int ret;

	if (on)
		f |= 1ULL << VU_F_LOG_ALL;
	ret = report("SET_FEATURES (LOG_ALL)", vu_set_features(&g->c, f));
	if (ret < 0)
		return ret;
	g->features = f;
	g->logging = on;
	for (q = 0; q < g->nr_queues && ret == 0; q++) {
		vu_guest_vring_addr(g, q, &a);
		ret = report("SET_VRING_ADDR (log)",
			     vu_set_vring_addr(&g->c, &a));
	}
	return ret;
}

bool
vu_guest_log_test(const struct vu_guest *g, uint64_t gpa)
{
	uint64_t page = gpa / VDRV_PAGE_SIZE;

	if (g->log == NULL || page / 8 >= g->log_size)
		return false;
	return (__atomic_load_n(&g->log[page / 8], __ATOMIC_RELAXED) >>
		(page % 8)) & 1;
}

uint64_t
vu_guest_log_count(const struct vu_guest *g)
{
	uint64_t i, n = 0;

	for (i = 0; g->log != NULL && i < g->log_size; i++)
		n += __builtin_popcount(g->log[i]);
	return n;
}

void
vu_guest_log_clear(struct vu_guest *g)
{
	if (g->log != NULL)
		memset(g->log, 0, g->log_size);
}

void
vu_guest_kick(struct vu_guest *g, uint16_t qid)
{
	uint64_t one = 1;

	if (g->doorbell[qid] != NULL) {
		/* The ring updates before the doorbell write. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*g->doorbell[qid] = qid;
		g->kicks[qid]++;
		g->doorbell_kicks[qid]++;
		return;
	}
	if (write(g->kickfd[qid], &one, sizeof(one)) == sizeof(one))
		g->kicks[qid]++;
}

int
vu_guest_wait_used(struct vu_guest *g, uint16_t qid, int timeout_ms)
{
	int64_t deadline = vdrv_now_ms() + timeout_ms;

	do {
		vu_guest_kick(g, qid);
		if (vdrv_vq_pending(&g->vq[qid]) > 0)
			return 0;
		usleep(1000);
	} while (vdrv_now_ms() < deadline);
	fprintf(stderr, "vu_guest: queue %u: nothing completed in %d ms\n",
		qid, timeout_ms);
	return -1;
}

int
vu_guest_blk_do(struct vu_guest *g, uint16_t qid, uint32_t type,
		uint64_t sector, const void *data, uint32_t len,
		const struct vdrv_blk_opts *o, void *out,
		struct vdrv_blk_done *done, int timeout_ms)
{
	if (report("blk request", vdrv_blk_post(&g->vq[qid], type, sector,
						data, len, o)) < 0 ||
	    vu_guest_wait_used(g, qid, timeout_ms) < 0)
		return -1;
	if (vdrv_blk_reap(&g->vq[qid], done, out, out != NULL ? len : 0) != 1 ||
	    !done->intact) {
		fprintf(stderr, "vu_guest: queue %u: blk request came back mangled\n",
			qid);
		return -1;
	}
	return 0;
}

void
vu_guest_poll_irqs(struct vu_guest *g)
{
	uint64_t v;
	uint16_t q;

	for (q = 0; q < g->nr_queues; q++)
		if (g->callfd[q] >= 0 &&
		    read(g->callfd[q], &v, sizeof(v)) == sizeof(v))
			g->irqs[q] += v;
}

void
vu_guest_wait_irq(struct vu_guest *g, int ms)
{
	struct pollfd p[VU_GUEST_MAX_QUEUES];
	uint16_t q;

	for (q = 0; q < g->nr_queues; q++) {
		p[q].fd = g->callfd[q];
		p[q].events = POLLIN;
		p[q].revents = 0;
	}
	if (poll(p, g->nr_queues, ms) > 0)
		vu_guest_poll_irqs(g);
}

/* ---- Traffic ---- */

static void
flow_kick(void *owner, uint16_t qid)
{
	vu_guest_kick(owner, qid);
}

void
vu_flow_init(struct vdrv_flow *f, struct vu_guest *txg, uint16_t txp,
	     struct vu_guest *rxg, uint16_t rxp, uint32_t stream,
	     uint32_t total)
{
	vdrv_flow_init_vqs(f, &txg->vq[vdrv_txq(txp)], txg,
			   &rxg->vq[vdrv_rxq(rxp)], rxg, flow_kick, stream,
			   total);
	f->txp = txp;
	f->rxp = rxp;
}

int
vu_flow_run(struct vdrv_flow *f, int timeout_ms)
{
	int64_t end = vdrv_now_ms() + timeout_ms;

	vdrv_flow_prime(f);
	while (!vdrv_flow_done(f) && f->err == 0) {
		if (vdrv_now_ms() >= end) {
			fprintf(stderr, "flow %u: timed out\n", f->stream);
			vdrv_flow_dump(f);
			return -ETIMEDOUT;
		}
		if (vdrv_flow_step(f) == 0)
			vu_guest_wait_irq(f->rx_owner, 5);
	}
	vu_guest_poll_irqs(f->tx_owner);
	vu_guest_poll_irqs(f->rx_owner);
	if (f->err != 0)
		vdrv_flow_dump(f);
	return f->err;
}
