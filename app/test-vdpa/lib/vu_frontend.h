/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef VU_FRONTEND_H
#define VU_FRONTEND_H

/*
 * A small vhost-user frontend (the "master", a socket client) for the
 * tests: plain C over a unix socket, no DPDK.
 *
 * Two levels:
 * - raw messages: vu_send() any request with any payload and fds, and
 *   vu_recv() one message, so that a test can send hostile values;
 * - one wrapper per request, which fills the payload, asks for a REPLY_ACK
 *   when that protocol feature is negotiated, and reads the reply.
 *
 * Every receive has a timeout (vu_conn.timeout_ms). Return values: 0 (or
 * a byte count for vu_recv), -ETIMEDOUT, -ECONNRESET when the backend
 * closed the connection, -EPROTO for a malformed reply, -EREMOTEIO when
 * the backend answered a REPLY_ACK with a failure, another -errno for a
 * socket error.
 *
 * Ring addresses (vu_set_vring_addr) are in the frontend's own address
 * space, as the vhost-user protocol wants: each memory region says where
 * it lives in the frontend (uaddr) and in the guest (gpa).
 */

#include <stdbool.h>
#include <stdint.h>

#define VU_MAX_REGIONS		8
#define VU_MAX_FDS		8
#define VU_MAX_PAYLOAD		512
#define VU_DEF_TIMEOUT_MS	10000

/* Message flags. */
#define VU_VERSION		0x1
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)

/* SET_VRING_KICK / _CALL payload: queue index, and "no fd" bit. */
#define VU_VRING_IDX_MASK	0xffu
#define VU_VRING_NOFD		(1u << 8)

/* Requests (frontend to backend), as numbered by the protocol. */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SEND_RARP = 19,
	VU_NET_SET_MTU = 20,
	VU_SET_SLAVE_REQ_FD = 21,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
};

/* Requests on the slave channel (backend to frontend). */
enum vu_slave_request {
	VU_SLAVE_IOTLB_MSG = 1,
	VU_SLAVE_CONFIG_CHANGE_MSG = 2,
	VU_SLAVE_VRING_HOST_NOTIFIER_MSG = 3,
};

/* Feature bits of the vhost-user layer. */
#define VU_F_LOG_ALL		26	/* VHOST_F_LOG_ALL */
#define VU_F_PROTOCOL_FEATURES	30	/* VHOST_USER_F_PROTOCOL_FEATURES */

/* Protocol feature bits. */
#define VU_PF_MQ		0
#define VU_PF_LOG_SHMFD		1
#define VU_PF_RARP		2
#define VU_PF_REPLY_ACK		3
#define VU_PF_MTU		4
#define VU_PF_SLAVE_REQ		5
#define VU_PF_CONFIG		9
#define VU_PF_SLAVE_SEND_FD	10
#define VU_PF_HOST_NOTIFIER	11
#define VU_PF_STATUS		16

/* Payloads. */
struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;		/* bit 0: log used ring writes (log_gpa) */
	uint64_t desc;		/* frontend addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log_gpa;	/* guest-physical address of the used ring */
};

struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region regions[VU_MAX_REGIONS];
};

struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* VRING_HOST_NOTIFIER_MSG payload: where to mmap a queue's doorbell. */
struct vu_vring_area {
	uint64_t u64;		/* queue index, VU_VRING_NOFD: no area */
	uint64_t size;
	uint64_t offset;	/* in the fd that comes with it */
};

/* GET_CONFIG / SET_CONFIG payload: a window of the device's config. */
#define VU_CONFIG_MAX		256
struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_CONFIG_MAX];
};

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes that follow */
} __attribute__((packed));

struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_memory mem;
		struct vu_log log;
		struct vu_vring_area area;
		uint8_t raw[VU_MAX_PAYLOAD];
	} payload;
	int fds[VU_MAX_FDS];	/* received fds: the caller closes them */
	unsigned int nr_fds;
};

/*
 * Handles one request @m that came on the slave channel while a reply was
 * awaited, answering it when it asks for an answer (vu_slave_handle());
 * its fds are closed after it returns unless it took them (nr_fds = 0).
 * A negative return ends the wait with that error.
 */
typedef int (*vu_slave_fn)(void *arg, struct vu_msg *m);

struct vu_conn {
	int fd;
	int timeout_ms;		/* every receive; 0: VU_DEF_TIMEOUT_MS */
	uint64_t features;	/* as last sent with SET_FEATURES */
	uint64_t protocol;	/* as last sent with SET_PROTOCOL_FEATURES */
	bool reply_ack;		/* ask for acks (REPLY_ACK negotiated) */
	/* The slave channel vu_recv_reply() serves; see vu_serve_slave(). */
	int slave_fd;
	vu_slave_fn slave_fn;	/* NULL: none */
	void *slave_arg;
};

/* ---- Connection ---- */

/* Connect to @path, retrying until it accepts or @timeout_ms pass. */
int vu_connect(struct vu_conn *c, const char *path, int timeout_ms);
void vu_close(struct vu_conn *c);

/* ---- Raw messages ---- */

/*
 * Send a header {@request, @flags, @size} and @size payload bytes, with
 * @nr_fds descriptors attached. @flags is sent as is (include
 * VU_VERSION). Sends exactly what it is given: @size need not match
 * what the request expects.
 */
int vu_send(struct vu_conn *c, uint32_t request, uint32_t flags,
	    const void *payload, uint32_t size, const int *fds,
	    unsigned int nr_fds);
/* Send only @len bytes of a message's header and payload (a torn send). */
int vu_send_partial(struct vu_conn *c, const struct vu_hdr *hdr,
		    const void *payload, uint32_t len);
/* Receive one message within the timeout; returns its payload size. */
int vu_recv(struct vu_conn *c, struct vu_msg *m);
/*
 * Wait for the reply to @request; checks its request and reply flag.
 * @want_size: the payload size it must have, or -1 for any.
 */
int vu_recv_reply(struct vu_conn *c, uint32_t request, int want_size,
		  struct vu_msg *m);

/*
 * Send @request with a payload, asking for an ack when c->reply_ack; then
 * read the ack. The workhorse of the wrappers below, usable with any
 * payload.
 */
int vu_request(struct vu_conn *c, uint32_t request, const void *payload,
	       uint32_t size, const int *fds, unsigned int nr_fds);

/* ---- Wrappers ---- */

int vu_get_u64(struct vu_conn *c, uint32_t request, uint64_t *val);
int vu_get_features(struct vu_conn *c, uint64_t *features);
int vu_set_features(struct vu_conn *c, uint64_t features);
int vu_set_owner(struct vu_conn *c);
int vu_get_protocol_features(struct vu_conn *c, uint64_t *features);
/* Also turns acks on when REPLY_ACK is in @features. */
int vu_set_protocol_features(struct vu_conn *c, uint64_t features);
int vu_get_queue_num(struct vu_conn *c, uint64_t *num);
/* @fds[i] backs regions[i]. */
int vu_set_mem_table(struct vu_conn *c, const struct vu_region *regions,
		     const int *fds, unsigned int n);
int vu_set_vring_num(struct vu_conn *c, uint32_t index, uint32_t num);
int vu_set_vring_addr(struct vu_conn *c, const struct vu_vring_addr *a);
int vu_set_vring_base(struct vu_conn *c, uint32_t index, uint32_t num);
/* The backend stops the queue and returns its next avail index. */
int vu_get_vring_base(struct vu_conn *c, uint32_t index, uint32_t *num);
/* @fd < 0 sends the "no fd" flag. */
int vu_set_vring_kick(struct vu_conn *c, uint32_t index, int fd);
int vu_set_vring_call(struct vu_conn *c, uint32_t index, int fd);
int vu_set_vring_enable(struct vu_conn *c, uint32_t index, bool on);
/*
 * Hand the dirty log: @fd mapped from @offset for @size bytes. The
 * backend always replies to this one (an empty payload for DPDK).
 */
int vu_set_log_base(struct vu_conn *c, int fd, uint64_t size,
		    uint64_t offset);
int vu_set_status(struct vu_conn *c, uint8_t status);
int vu_get_status(struct vu_conn *c, uint8_t *status);
/*
 * GET_CONFIG of @size bytes (the message carries @size as asked, even
 * past VU_CONFIG_MAX) into @buf (up to VU_CONFIG_MAX); returns the size
 * of the reply's payload, or a negative errno.
 */
int vu_get_config(struct vu_conn *c, uint32_t size, uint8_t *buf);
int vu_set_config(struct vu_conn *c, uint32_t offset, const uint8_t *buf,
		  uint32_t size);

/* ---- Slave channel (backend to frontend requests) ---- */

/* A queue's host notifier, as the last VRING_HOST_NOTIFIER_MSG set it. */
struct vu_host_notifier {
	int fd;			/* -1: none (the caller closes it) */
	uint64_t offset;
	uint64_t size;
	unsigned int msgs;	/* messages seen for this queue */
};

/*
 * Open the slave channel: a socketpair whose other end goes with
 * SET_SLAVE_REQ_FD (SLAVE_REQ negotiated). Returns our end in @slave_fd.
 */
int vu_set_slave_req_fd(struct vu_conn *c, int *slave_fd);
/*
 * Serve @slave_fd with @fn(@arg, msg) while waiting for every reply on
 * @c from now on (@fn NULL: stop), as QEMU does: DPDK's vhost sends
 * slave requests (host notifiers) from inside its handling of a request
 * (SET_FEATURES, SET_VRING_ENABLE, GET_VRING_BASE, ...) and waits for
 * their answers before it replies to that request.
 */
void vu_serve_slave(struct vu_conn *c, int slave_fd, vu_slave_fn fn,
		    void *arg);
/* Receive one request on the slave channel within @timeout_ms. */
int vu_slave_recv(int slave_fd, int timeout_ms, struct vu_msg *m);
/* Answer @req with @result (0: success) if it asked for a reply. */
int vu_slave_reply(int slave_fd, const struct vu_msg *req, uint64_t result);
/* Mark every entry of @hn unset (fd -1); @n entries. */
void vu_host_notifiers_init(struct vu_host_notifier *hn, unsigned int n);
void vu_host_notifiers_fini(struct vu_host_notifier *hn, unsigned int n);
/*
 * Handle a slave request @m received with vu_slave_recv(): a valid
 * VRING_HOST_NOTIFIER_MSG updates hn[queue] (fd, offset, size; NOFD
 * clears it) and is answered @result; anything else (or a queue >= @n)
 * is answered with a failure. Takes @m's fds. Returns the request.
 */
int vu_slave_handle(int slave_fd, struct vu_msg *m,
		    struct vu_host_notifier *hn, unsigned int n,
		    uint64_t result);

/* Name of a request, for messages. */
const char *vu_request_name(uint32_t request);

#endif /* VU_FRONTEND_H */
