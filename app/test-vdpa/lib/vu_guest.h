/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef VU_GUEST_H
#define VU_GUEST_H

/*
 * A virtio-net (or virtio-blk) "guest" behind a vhost-user frontend: guest memory in
 * memfd regions (vring_drv's struct vdrv_mem), split virtqueues laid out
 * by vring_drv in region 0, and a vhost-user backend (the vDPA driver
 * behind dpdk-vdpa) as the device. A kick is a write to the queue's kick
 * eventfd, an interrupt a count on its call eventfd.
 *
 *   vu_guest_init()         nothing open yet (vu_guest_fini() is safe)
 *   vu_guest_connect()      socket, SET_OWNER, features, protocol features
 *   vu_guest_add_region()   memfd regions (region 0 holds the queues)
 *   vu_guest_set_mem_table()
 *   vu_guest_queues_init()  lay the queues out
 *   vu_guest_start()        NUM/ADDR/BASE/CALL/ENABLE/KICK each, STATUS
 *   vu_flow_init()          traffic from a TX queue to an RX queue
 *   vu_guest_stop()         GET_VRING_BASE of each queue
 *   vu_guest_fini()
 *
 * Everything a test may want to break is reachable: g->c for raw
 * messages, g->mem[] and g->vq[] for addresses.
 */

#include <stdbool.h>
#include <stdint.h>

#include "vring_drv.h"
#include "vu_frontend.h"

#define VU_GUEST_MAX_QUEUES	8
#define VU_GUEST_GPA		0x100000ULL	/* region 0 */
#define VU_GUEST_MEM_LEN	(16ULL << 20)

struct vu_guest_params {
	uint16_t nr_pairs;	/* 0: 1 */
	uint16_t nr_queues;	/* a blk guest's queues; 0: 2 * nr_pairs */
	uint16_t queue_size;	/* 0: 256 */
	uint32_t buf_cap;	/* 0: 2048 */
	uint64_t mem_len;	/* region 0; 0: VU_GUEST_MEM_LEN */
	uint64_t gpa;		/* region 0; 0: VU_GUEST_GPA */
	/*
	 * Features asked for; the backend's offer masks them. 0: VERSION_1,
	 * MRG_RXBUF, EVENT_IDX, MAC, PROTOCOL_FEATURES (and MQ for more
	 * than one pair).
	 */
	uint64_t features;
	/* Protocol features asked for; 0: REPLY_ACK, MQ, LOG_SHMFD, STATUS. */
	uint64_t protocol;
	int timeout_ms;		/* every reply; 0: VU_DEF_TIMEOUT_MS */
};

struct vu_guest {
	struct vu_conn c;
	uint64_t dev_features;	/* the backend's offer */
	uint64_t dev_protocol;
	uint64_t features;	/* negotiated */
	uint64_t protocol;
	uint64_t want_features;	/* asked for at connect */
	uint64_t want_protocol;
	uint64_t max_pairs;	/* GET_QUEUE_NUM */
	uint16_t nr_queues;
	uint16_t queue_size;
	uint32_t buf_cap;
	unsigned int nr_mem;
	struct vdrv_mem mem[VU_MAX_REGIONS];
	struct vdrv_vq vq[VU_GUEST_MAX_QUEUES];
	int kickfd[VU_GUEST_MAX_QUEUES];
	int callfd[VU_GUEST_MAX_QUEUES];
	uint64_t irqs[VU_GUEST_MAX_QUEUES];	/* call counts read so far */
	uint64_t kicks[VU_GUEST_MAX_QUEUES];
	uint64_t doorbell_kicks[VU_GUEST_MAX_QUEUES];	/* of kicks[] */
	/*
	 * A queue's doorbell in the device (a host notifier the caller
	 * mapped): when set, a kick writes the queue index there instead
	 * of signalling the kick eventfd.
	 */
	volatile uint16_t *doorbell[VU_GUEST_MAX_QUEUES];
	/* Dirty log: bit (p % 8) of byte p / 8 for guest page p (4 KiB). */
	int log_fd;
	uint8_t *log;
	uint64_t log_size;
	bool logging;		/* LOG_ALL sent */
};

/* A guest with nothing open: vu_guest_fini() may run on it. */
void vu_guest_init(struct vu_guest *g);
/* Connect to @path and negotiate; region 0 is created too. */
int vu_guest_connect(struct vu_guest *g, const char *path,
		     const struct vu_guest_params *p);
/* Add a memfd region of @len bytes at @gpa; returns its index. */
int vu_guest_add_region(struct vu_guest *g, uint64_t gpa, uint64_t len);
/* Describe the first @n regions (all: n = g->nr_mem) to the backend. */
int vu_guest_set_mem_table(struct vu_guest *g, unsigned int n);
/* The vhost-user description of region @i. */
void vu_guest_region(const struct vu_guest *g, unsigned int i,
		     struct vu_region *r);
/* Lay out every queue in region 0 and create its eventfds. */
int vu_guest_queues_init(struct vu_guest *g);
/* The SET_VRING_ADDR payload of queue @qid's rings. */
void vu_guest_vring_addr(const struct vu_guest *g, uint16_t qid,
			 struct vu_vring_addr *a);
/*
 * Describe queue @qid (NUM, ADDR, BASE, CALL, ENABLE, then KICK last) to
 * the backend; with @kick false the KICK is left to the caller.
 */
int vu_guest_queue_setup(struct vu_guest *g, uint16_t qid, bool kick);
/* The same with SET_VRING_BASE @base instead of the avail index. */
int vu_guest_queue_setup_base(struct vu_guest *g, uint16_t qid,
			      uint32_t base, bool kick);
/*
 * The general form: @size entries, rings at @a (NULL: the queue's own),
 * SET_VRING_BASE @base. With @num_ret, SET_VRING_NUM's ack goes there and
 * a refusal (-EREMOTEIO) does not stop the rest: a hostile frontend
 * carries on.
 */
int vu_guest_queue_setup_ext(struct vu_guest *g, uint16_t qid, uint32_t size,
			     const struct vu_vring_addr *a, uint32_t base,
			     bool kick, int *num_ret);
/* SET_VRING_ENABLE @on of queues @first .. @first + @n - 1. */
int vu_guest_enable_queues(struct vu_guest *g, uint16_t first, uint16_t n,
			   bool on);
/* When STATUS is negotiated, SET_STATUS up to DRIVER_OK; else nothing. */
int vu_guest_driver_ok(struct vu_guest *g);
/* Set every queue up and, when STATUS is negotiated, DRIVER_OK. */
int vu_guest_start(struct vu_guest *g);
/* A round trip (GET_FEATURES): the backend has handled what came before. */
int vu_guest_sync(struct vu_guest *g);
/*
 * GET_VRING_BASE of every queue into @bases (may be NULL): the backend
 * stops the device.
 */
int vu_guest_stop(struct vu_guest *g, uint32_t *bases);
/* Close the connection, the eventfds and the memory. */
void vu_guest_fini(struct vu_guest *g);
/*
 * A migration's destination on the same memory: close the connection,
 * connect to @path again, negotiate as before, send every region, set
 * every queue up with SET_VRING_BASE @bases[q] (what GET_VRING_BASE
 * returned), DRIVER_OK, and kick every queue once so that the device
 * looks at entries made available before the stop. Rings, buffers and
 * eventfds are kept; dirty logging is off on the new connection.
 */
int vu_guest_reconnect(struct vu_guest *g, const char *path,
		       const uint32_t *bases);

/* ---- Dirty log (live migration) ---- */

/*
 * Create a dirty log of @size bytes in a memfd (0: enough for every
 * region) and hand it with SET_LOG_BASE (LOG_SHMFD must be negotiated).
 */
int vu_guest_set_log(struct vu_guest *g, uint64_t size);
/* The same with a memfd of @file_len bytes (a hostile frontend's lie). */
int vu_guest_set_log_ext(struct vu_guest *g, uint64_t size,
			 uint64_t file_len);
/*
 * The general form: the log lies at @offset (page-aligned) of its memfd,
 * which holds @file_len bytes from there (0: @size).
 */
int vu_guest_set_log_at(struct vu_guest *g, uint64_t size, uint64_t file_len,
			uint64_t offset);
/*
 * Start or stop logging as QEMU does: SET_FEATURES with LOG_ALL set or
 * cleared, then SET_VRING_ADDR of every queue with the log flag set or
 * cleared.
 */
int vu_guest_log_all(struct vu_guest *g, bool on);
/* Whether the log marks the page of @gpa dirty. */
bool vu_guest_log_test(const struct vu_guest *g, uint64_t gpa);
/* Pages the log marks dirty. */
uint64_t vu_guest_log_count(const struct vu_guest *g);
void vu_guest_log_clear(struct vu_guest *g);

void vu_guest_kick(struct vu_guest *g, uint16_t qid);
/* Read the call eventfds: interrupts since the last call, all queues. */
void vu_guest_poll_irqs(struct vu_guest *g);
/* Wait up to @ms for an interrupt on any queue. */
void vu_guest_wait_irq(struct vu_guest *g, int ms);

/*
 * Kick queue @qid until the device has completed a chain on it, at most
 * @timeout_ms. 0, or -1 when nothing came back.
 */
int vu_guest_wait_used(struct vu_guest *g, uint16_t qid, int timeout_ms);
/*
 * One virtio-blk request on @qid (vdrv_blk_post()'s arguments), waited for
 * as vu_guest_wait_used() does: its completion into *@done and, with
 * @out, its @len data bytes. 0, or -1 when it could not be posted, did not
 * complete or came back with its buffers mangled.
 */
int vu_guest_blk_do(struct vu_guest *g, uint16_t qid, uint32_t type,
		    uint64_t sector, const void *data, uint32_t len,
		    const struct vdrv_blk_opts *o, void *out,
		    struct vdrv_blk_done *done, int timeout_ms);

/*
 * ---- Traffic: test frames from a TX queue to an RX queue ----
 * A vdrv_flow between two guests' queue pairs (tx_mem for frames laid out
 * in another region); step it with vdrv_flow_step() and the like.
 */

void vu_flow_init(struct vdrv_flow *f, struct vu_guest *txg, uint16_t txp,
		  struct vu_guest *rxg, uint16_t rxp, uint32_t stream,
		  uint32_t total);
/*
 * Prime, then step until done, an error or @timeout_ms. 0 when every
 * frame went through intact and in order.
 */
int vu_flow_run(struct vdrv_flow *f, int timeout_ms);

#endif /* VU_GUEST_H */
