/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vu_frontend.h"

static const char * const request_names[] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_SEND_RARP] = "SEND_RARP",
	[VU_NET_SET_MTU] = "NET_SET_MTU",
	[VU_SET_SLAVE_REQ_FD] = "SET_SLAVE_REQ_FD",
	[VU_SET_STATUS] = "SET_STATUS",
	[VU_GET_STATUS] = "GET_STATUS",
	[VU_GET_CONFIG] = "GET_CONFIG",
	[VU_SET_CONFIG] = "SET_CONFIG",
};

const char *
vu_request_name(uint32_t request)
{
	if (request < sizeof(request_names) / sizeof(request_names[0]) &&
	    request_names[request] != NULL)
		return request_names[request];
	return "UNKNOWN";
}

/* ---- Connection ---- */

static int
timeout_of(const struct vu_conn *c)
{
	return c->timeout_ms > 0 ? c->timeout_ms : VU_DEF_TIMEOUT_MS;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vu_connect(struct vu_conn *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sa;
	int64_t end = now_ms() + timeout_ms;
	int fd, ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		ret = -errno;
		close(fd);
		if ((ret != -ENOENT && ret != -ECONNREFUSED) ||
		    now_ms() >= end)
			return ret;
		usleep(20 * 1000);
	}
	c->fd = fd;
	return 0;
}

void
vu_close(struct vu_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* ---- Raw messages ---- */

static int
send_iov(int fd, struct iovec *iov, int n, const int *fds,
	 unsigned int nr_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t r;

	if (fd < 0)
		return -ENOTCONN;
	if (nr_fds > VU_MAX_FDS)
		return -EINVAL;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = n;
	if (nr_fds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr_fds);
	}
	do {
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	/* A unix stream socket takes a small message whole, or fails. */
	return 0;
}

int
vu_send(struct vu_conn *c, uint32_t request, uint32_t flags,
	const void *payload, uint32_t size, const int *fds,
	unsigned int nr_fds)
{
	struct vu_hdr hdr = {
		.request = request,
		.flags = flags,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)(uintptr_t)payload, .iov_len = size },
	};

	return send_iov(c->fd, iov, size > 0 ? 2 : 1, fds, nr_fds);
}

int
vu_send_partial(struct vu_conn *c, const struct vu_hdr *hdr,
		const void *payload, uint32_t len)
{
	struct iovec iov[2];
	int n = 1;

	iov[0].iov_base = (void *)(uintptr_t)hdr;
	iov[0].iov_len = len < sizeof(*hdr) ? len : sizeof(*hdr);
	if (len > sizeof(*hdr)) {
		iov[1].iov_base = (void *)(uintptr_t)payload;
		iov[1].iov_len = len - sizeof(*hdr);
		n = 2;
	}
	return send_iov(c->fd, iov, n, NULL, 0);
}

/* Poll @n fds until one of them is ready or the deadline @end passes. */
static int
poll_until(struct pollfd *p, nfds_t n, int64_t end)
{
	int64_t left;
	int r;

	for (;;) {
		left = end - now_ms();
		if (left < 0)
			left = 0;
		r = poll(p, n, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Wait until @fd is readable or the deadline @end passes. */
static int
wait_readable(int fd, int64_t end)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll_until(&p, 1, end);
}

static void
take_fds(struct msghdr *mh, struct vu_msg *m)
{
	struct cmsghdr *cm;
	unsigned int i, n;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(fd));
			if (m->nr_fds < VU_MAX_FDS)
				m->fds[m->nr_fds++] = fd;
			else
				close(fd);
		}
	}
}

/* Read exactly @len bytes into @buf by the deadline (fds with the first). */
static int
read_full(int fd, void *buf, size_t len, struct vu_msg *m, int64_t end)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	size_t got = 0;
	struct msghdr mh;
	struct iovec iov;
	ssize_t r;
	int ret;

	while (got < len) {
		ret = wait_readable(fd, end);
		if (ret < 0)
			return ret;
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = (uint8_t *)buf + got;
		iov.iov_len = len - got;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		take_fds(&mh, m);
		got += r;
	}
	return 0;
}

/* One message from @fd by the deadline @end; returns its payload size. */
static int
recv_msg(int fd, struct vu_msg *m, int64_t end)
{
	int ret;

	if (fd < 0)
		return -ENOTCONN;
	memset(m, 0, sizeof(*m));
	ret = read_full(fd, &m->hdr, sizeof(m->hdr), m, end);
	if (ret < 0)
		return ret;
	if (m->hdr.size > sizeof(m->payload))
		return -EPROTO;
	if (m->hdr.size > 0) {
		ret = read_full(fd, &m->payload, m->hdr.size, m, end);
		if (ret < 0)
			return ret;
	}
	return (int)m->hdr.size;
}

int
vu_recv(struct vu_conn *c, struct vu_msg *m)
{
	return recv_msg(c->fd, m, now_ms() + timeout_of(c));
}

static void
close_fds(struct vu_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_fds; i++)
		close(m->fds[i]);
	m->nr_fds = 0;
}

/*
 * Until @c's socket is readable or @end: serve the slave channel, if
 * any, one request at a time.
 */
static int
wait_reply(struct vu_conn *c, int64_t end)
{
	struct pollfd p[2] = {
		{ .fd = c->fd, .events = POLLIN },
		{ .fd = c->slave_fd, .events = POLLIN },
	};
	struct vu_msg m;
	int r;

	if (c->slave_fn == NULL || c->fd < 0)
		return 0;
	for (;;) {
		r = poll_until(p, p[1].fd >= 0 ? 2 : 1, end);
		if (r < 0)
			return r;
		if (p[0].revents != 0)
			return 0;	/* the reply, or a hang-up: recv_msg's */
		if ((p[1].revents & POLLIN) == 0) {
			p[1].fd = -1;	/* the slave channel is gone */
			continue;
		}
		r = recv_msg(c->slave_fd, &m, end);
		if (r < 0) {
			close_fds(&m);
			p[1].fd = -1;
			continue;
		}
		r = c->slave_fn(c->slave_arg, &m);
		close_fds(&m);
		if (r < 0)
			return r;
	}
}

int
vu_recv_reply(struct vu_conn *c, uint32_t request, int want_size,
	      struct vu_msg *m)
{
	int64_t end = now_ms() + timeout_of(c);
	int ret = wait_reply(c, end);

	if (ret == 0)
		ret = recv_msg(c->fd, m, end);

	if (ret < 0) {
		fprintf(stderr, "vu: %s: no reply: %s\n",
			vu_request_name(request), strerror(-ret));
		return ret;
	}
	close_fds(m);
	if (m->hdr.request != request ||
	    (m->hdr.flags & VU_FLAG_REPLY) == 0 ||
	    (m->hdr.flags & 0x3) != VU_VERSION ||
	    (want_size >= 0 && m->hdr.size != (uint32_t)want_size)) {
		fprintf(stderr, "vu: %s: bad reply: request %u flags 0x%x size %u\n",
			vu_request_name(request), m->hdr.request, m->hdr.flags,
			m->hdr.size);
		return -EPROTO;
	}
	return 0;
}

static int
recv_ack(struct vu_conn *c, uint32_t request)
{
	struct vu_msg m;
	int ret;

	ret = vu_recv_reply(c, request, sizeof(uint64_t), &m);
	if (ret < 0)
		return ret;
	return m.payload.u64 == 0 ? 0 : -EREMOTEIO;
}

int
vu_request(struct vu_conn *c, uint32_t request, const void *payload,
	   uint32_t size, const int *fds, unsigned int nr_fds)
{
	uint32_t flags = VU_VERSION;
	int ret;

	if (c->reply_ack)
		flags |= VU_FLAG_NEED_REPLY;
	ret = vu_send(c, request, flags, payload, size, fds, nr_fds);
	if (ret < 0 || !c->reply_ack)
		return ret;
	return recv_ack(c, request);
}

/* ---- Wrappers ---- */

int
vu_get_u64(struct vu_conn *c, uint32_t request, uint64_t *val)
{
	struct vu_msg m;
	int ret;

	ret = vu_send(c, request, VU_VERSION, NULL, 0, NULL, 0);
	if (ret == 0)
		ret = vu_recv_reply(c, request, sizeof(uint64_t), &m);
	if (ret == 0)
		*val = m.payload.u64;
	return ret;
}

int
vu_get_features(struct vu_conn *c, uint64_t *features)
{
	return vu_get_u64(c, VU_GET_FEATURES, features);
}

int
vu_set_features(struct vu_conn *c, uint64_t features)
{
	int ret = vu_request(c, VU_SET_FEATURES, &features, sizeof(features),
			     NULL, 0);

	if (ret == 0)
		c->features = features;
	return ret;
}

int
vu_set_owner(struct vu_conn *c)
{
	return vu_request(c, VU_SET_OWNER, NULL, 0, NULL, 0);
}

int
vu_get_protocol_features(struct vu_conn *c, uint64_t *features)
{
	return vu_get_u64(c, VU_GET_PROTOCOL_FEATURES, features);
}

int
vu_set_protocol_features(struct vu_conn *c, uint64_t features)
{
	int ret;

	/* The backend acks this one already if it carries REPLY_ACK. */
	c->reply_ack = (features & (1ULL << VU_PF_REPLY_ACK)) != 0;
	ret = vu_request(c, VU_SET_PROTOCOL_FEATURES, &features,
			 sizeof(features), NULL, 0);
	if (ret == 0)
		c->protocol = features;
	else
		c->reply_ack = false;
	return ret;
}

int
vu_get_queue_num(struct vu_conn *c, uint64_t *num)
{
	return vu_get_u64(c, VU_GET_QUEUE_NUM, num);
}

int
vu_set_mem_table(struct vu_conn *c, const struct vu_region *regions,
		 const int *fds, unsigned int n)
{
	struct vu_memory mem;

	if (n > VU_MAX_REGIONS)
		return -EINVAL;
	memset(&mem, 0, sizeof(mem));
	mem.nregions = n;
	memcpy(mem.regions, regions, n * sizeof(*regions));
	return vu_request(c, VU_SET_MEM_TABLE, &mem,
			  offsetof(struct vu_memory, regions) +
			  n * sizeof(struct vu_region), fds, n);
}

static int
set_state(struct vu_conn *c, uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { .index = index, .num = num };

	return vu_request(c, request, &s, sizeof(s), NULL, 0);
}

int
vu_set_vring_num(struct vu_conn *c, uint32_t index, uint32_t num)
{
	return set_state(c, VU_SET_VRING_NUM, index, num);
}

int
vu_set_vring_addr(struct vu_conn *c, const struct vu_vring_addr *a)
{
	return vu_request(c, VU_SET_VRING_ADDR, a, sizeof(*a), NULL, 0);
}

int
vu_set_vring_base(struct vu_conn *c, uint32_t index, uint32_t num)
{
	return set_state(c, VU_SET_VRING_BASE, index, num);
}

int
vu_get_vring_base(struct vu_conn *c, uint32_t index, uint32_t *num)
{
	struct vu_vring_state s = { .index = index };
	struct vu_msg m;
	int ret;

	ret = vu_send(c, VU_GET_VRING_BASE, VU_VERSION, &s, sizeof(s),
		      NULL, 0);
	if (ret == 0)
		ret = vu_recv_reply(c, VU_GET_VRING_BASE, sizeof(s), &m);
	if (ret == 0 && m.payload.state.index != index)
		ret = -EPROTO;
	if (ret == 0)
		*num = m.payload.state.num;
	return ret;
}

static int
set_vring_fd(struct vu_conn *c, uint32_t request, uint32_t index, int fd)
{
	uint64_t v = index & VU_VRING_IDX_MASK;

	if (fd < 0) {
		v |= VU_VRING_NOFD;
		return vu_request(c, request, &v, sizeof(v), NULL, 0);
	}
	return vu_request(c, request, &v, sizeof(v), &fd, 1);
}

int
vu_set_vring_kick(struct vu_conn *c, uint32_t index, int fd)
{
	return set_vring_fd(c, VU_SET_VRING_KICK, index, fd);
}

int
vu_set_vring_call(struct vu_conn *c, uint32_t index, int fd)
{
	return set_vring_fd(c, VU_SET_VRING_CALL, index, fd);
}

int
vu_set_vring_enable(struct vu_conn *c, uint32_t index, bool on)
{
	return set_state(c, VU_SET_VRING_ENABLE, index, on ? 1 : 0);
}

int
vu_set_log_base(struct vu_conn *c, int fd, uint64_t size, uint64_t offset)
{
	struct vu_log log = { .mmap_size = size, .mmap_offset = offset };
	uint32_t flags = VU_VERSION;
	struct vu_msg m;
	int ret;

	if (c->reply_ack)
		flags |= VU_FLAG_NEED_REPLY;
	ret = vu_send(c, VU_SET_LOG_BASE, flags, &log, sizeof(log), &fd, 1);
	if (ret < 0)
		return ret;
	/*
	 * Success: a reply (DPDK sends it with no payload, QEMU's own
	 * backends a u64), which also stands for the ack. Failure: an ack
	 * of 1 if asked for, else nothing and the backend hangs up.
	 */
	ret = vu_recv_reply(c, VU_SET_LOG_BASE, -1, &m);
	if (ret < 0)
		return ret;
	if (m.hdr.size == 0)
		return 0;
	if (m.hdr.size == sizeof(uint64_t))
		return m.payload.u64 == 0 ? 0 : -EREMOTEIO;
	return -EPROTO;
}

int
vu_set_status(struct vu_conn *c, uint8_t status)
{
	uint64_t v = status;

	return vu_request(c, VU_SET_STATUS, &v, sizeof(v), NULL, 0);
}

int
vu_get_status(struct vu_conn *c, uint8_t *status)
{
	uint64_t v = 0;
	int ret = vu_get_u64(c, VU_GET_STATUS, &v);

	if (ret == 0)
		*status = (uint8_t)v;
	return ret;
}

#define VU_CONFIG_HDR_LEN	offsetof(struct vu_config, region)

int
vu_get_config(struct vu_conn *c, uint32_t size, uint8_t *buf)
{
	struct vu_config cfg = { .size = size };
	struct vu_msg m;
	uint32_t n;
	int ret;

	/* The payload is the header and a zeroed region of the size asked. */
	ret = vu_send(c, VU_GET_CONFIG, VU_VERSION, &cfg, VU_CONFIG_HDR_LEN +
		      (size < VU_CONFIG_MAX ? size : VU_CONFIG_MAX), NULL, 0);
	if (ret == 0)
		ret = vu_recv_reply(c, VU_GET_CONFIG, -1, &m);
	if (ret < 0)
		return ret;
	n = m.hdr.size > VU_CONFIG_HDR_LEN ? m.hdr.size - VU_CONFIG_HDR_LEN : 0;
	memcpy(buf, m.payload.raw + VU_CONFIG_HDR_LEN,
	       n < VU_CONFIG_MAX ? n : VU_CONFIG_MAX);
	return (int)m.hdr.size;
}

int
vu_set_config(struct vu_conn *c, uint32_t offset, const uint8_t *buf,
	      uint32_t size)
{
	struct vu_config cfg = { .offset = offset, .size = size };

	if (size > VU_CONFIG_MAX)
		return -EINVAL;
	memcpy(cfg.region, buf, size);
	return vu_request(c, VU_SET_CONFIG, &cfg, VU_CONFIG_HDR_LEN + size,
			  NULL, 0);
}

/* ---- Slave channel ---- */

int
vu_set_slave_req_fd(struct vu_conn *c, int *slave_fd)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ret = vu_request(c, VU_SET_SLAVE_REQ_FD, NULL, 0, &sv[1], 1);
	/* The backend holds its own copy now. */
	close(sv[1]);
	if (ret < 0) {
		close(sv[0]);
		return ret;
	}
	*slave_fd = sv[0];
	return 0;
}

void
vu_serve_slave(struct vu_conn *c, int slave_fd, vu_slave_fn fn, void *arg)
{
	c->slave_fd = slave_fd;
	c->slave_fn = fn;
	c->slave_arg = arg;
}

int
vu_slave_recv(int slave_fd, int timeout_ms, struct vu_msg *m)
{
	return recv_msg(slave_fd, m, now_ms() + timeout_ms);
}

int
vu_slave_reply(int slave_fd, const struct vu_msg *req, uint64_t result)
{
	struct vu_hdr hdr = {
		.request = req->hdr.request,
		.flags = VU_VERSION | VU_FLAG_REPLY,
		.size = sizeof(result),
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = &result, .iov_len = sizeof(result) },
	};

	if ((req->hdr.flags & VU_FLAG_NEED_REPLY) == 0)
		return 0;
	return send_iov(slave_fd, iov, 2, NULL, 0);
}

void
vu_host_notifiers_init(struct vu_host_notifier *hn, unsigned int n)
{
	unsigned int i;

	memset(hn, 0, n * sizeof(*hn));
	for (i = 0; i < n; i++)
		hn[i].fd = -1;
}

void
vu_host_notifiers_fini(struct vu_host_notifier *hn, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (hn[i].fd >= 0)
			close(hn[i].fd);
		hn[i].fd = -1;
	}
}

/* A VRING_HOST_NOTIFIER_MSG into @hn; false when it is malformed. */
static bool
take_host_notifier(struct vu_msg *m, struct vu_host_notifier *hn,
		   unsigned int n)
{
	const struct vu_vring_area *a = &m->payload.area;
	unsigned int q = a->u64 & VU_VRING_IDX_MASK;
	bool nofd = (a->u64 & VU_VRING_NOFD) != 0;

	if (m->hdr.size != sizeof(*a) || q >= n ||
	    m->nr_fds != (nofd ? 0u : 1u))
		return false;
	if (hn[q].fd >= 0)
		close(hn[q].fd);
	hn[q].fd = nofd ? -1 : m->fds[0];
	hn[q].offset = nofd ? 0 : a->offset;
	hn[q].size = nofd ? 0 : a->size;
	hn[q].msgs++;
	m->nr_fds = 0;
	return true;
}

int
vu_slave_handle(int slave_fd, struct vu_msg *m, struct vu_host_notifier *hn,
		unsigned int n, uint64_t result)
{
	int ret;

	if ((m->hdr.flags & 0x3) != VU_VERSION ||
	    m->hdr.request != VU_SLAVE_VRING_HOST_NOTIFIER_MSG ||
	    !take_host_notifier(m, hn, n)) {
		fprintf(stderr, "vu: slave request %u (flags 0x%x, size %u, %u fds) refused\n",
			m->hdr.request, m->hdr.flags, m->hdr.size, m->nr_fds);
		close_fds(m);
		result = 1;
	}
	ret = vu_slave_reply(slave_fd, m, result);
	return ret < 0 ? ret : (int)m->hdr.request;
}
