/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * End-to-end tests with our own vhost-user frontend (vu_guest.h) against
 * DPDK's dpdk-vdpa example serving a simulated VF through the driver:
 * traffic on a looped wire, then hostile frontends. Every case starts its
 * own dpdk-vdpa (stdin a fifo we hold open, a unique file prefix) and
 * stops it in every path; every wait is bounded.
 *
 *   test_vu <builddir> <case>|all|list
 *
 * Environment: TEST_VU_KEEP_LOG=1 keeps dpdk-vdpa's log, TEST_VU_GDB=1
 * runs it under gdb (a backtrace of every thread lands in the log).
 *
 * The driver's log says "closed, IOMMU holds N mappings" each time it
 * tears a configuration down: every such N must be 0.
 */

#define _GNU_SOURCE	/* memfd_create() */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "test.h"
#include "vdpa_proc.h"
#include "vu_guest.h"

#define CLOSED_MSG	"closed, IOMMU holds "
#define CONFIGURED_MSG	"configured, 2 queues"
#define CONF_FAILED_MSG	"configuration failed"
#define WAIT_MS		5000
#define TRAFFIC_MS	10000

/* The dpdk-vdpa of the running case. */
static struct vdpa_proc vdpa;
static const char *const vdpa_args[] = {
	"--log-level=lib.vhost.config:debug", NULL
};

static unsigned int
log_count(const char *needle)
{
	return vdpa_proc_log_count(&vdpa, needle);
}

static unsigned int
log_wait(const char *needle, unsigned int count)
{
	return vdpa_proc_log_wait(&vdpa, needle, count, WAIT_MS);
}

static bool
vdpa_alive(void)
{
	return vdpa_proc_alive(&vdpa);
}

/* Every close so far left no mapping; at least @min closes seen. */
static int
check_closes(unsigned int min)
{
	return vdpa_proc_check_closes(&vdpa, min, WAIT_MS);
}

/* ---- Cases: the table at the end ---- */

struct vu_case {
	const char *name;
	int (*fn)(void);
	bool sw;		/* the VF in SW live-migration mode */
	bool by_name_only;	/* not in "all": a known driver bug */
	/* case_qsize: queue 0's size, vhost's refusal or NULL, the driver's */
	uint32_t qsize;
	const char *vhost_msg;
	const char *driver_msg;
};

static const struct vu_case *cur_case;

/* ---- Guest helpers ---- */

static const struct vu_guest_params def_params;

#define NO_EVENT_IDX_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))

static const struct vu_guest_params no_event_idx = {
	.features = NO_EVENT_IDX_FEATURES,
};

/* Connect, lay out the queues, send region 0. */
static int
guest_open(struct vu_guest *g, const struct vu_guest_params *p)
{
	int ret = vu_guest_connect(g, vdpa.sock, p);

	if (ret == 0)
		ret = vu_guest_queues_init(g);
	if (ret == 0)
		ret = vu_guest_set_mem_table(g, g->nr_mem);
	return ret;
}

/*
 * Frames over the looped wire (TX pair 0 to RX pair 0), then
 * GET_VRING_BASE: the indices handed back must be the used indices the
 * guest saw, and the close must leave no mapping.
 */
static int
traffic_then_stop(struct vu_guest *g, uint32_t stream, uint32_t frames,
		  unsigned int closes_before)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vdrv_flow f;

	vu_flow_init(&f, g, 0, g, 0, stream, frames);
	CHECK_EQ(vu_flow_run(&f, TRAFFIC_MS), 0);
	CHECK_EQ(f.sent, frames);
	CHECK_EQ(f.rcvd, frames);
	CHECK_EQ(vu_guest_stop(g, bases), 0);
	CHECK_EQ(bases[0], g->vq[0].last_used_idx);
	CHECK_EQ(bases[0], g->vq[0].used->idx);
	CHECK_EQ(bases[1], g->vq[1].last_used_idx);
	CHECK_EQ(bases[1], g->vq[1].avail_idx);
	CHECK_EQ(check_closes(closes_before + 1), 0);
	return 0;
}

/* Start every queue; the driver must configure the device. */
static int
start_configured(struct vu_guest *g)
{
	CHECK_EQ(vu_guest_start(g), 0);
	CHECK_EQ(log_wait(CONFIGURED_MSG, 1), 1);
	return 0;
}

/* @frames frames of @stream over the looped wire, pair 0 to pair 0. */
static int
loop_frames(struct vu_guest *g, uint32_t stream, uint32_t frames,
	    struct vdrv_mem *tx_mem)
{
	struct vdrv_flow f;

	vu_flow_init(&f, g, 0, g, 0, stream, frames);
	f.tx_mem = tx_mem;
	return vu_flow_run(&f, TRAFFIC_MS);
}

/*
 * After 1000 frames: 1000 more (from @tx_mem if not NULL), the stop; the
 * bases handed back must be 2000 and what the guest saw, and at least
 * @closes closes must have left no mapping.
 */
static int
second_1000_then_stop(struct vu_guest *g, struct vdrv_mem *tx_mem,
		      unsigned int closes)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];

	if (loop_frames(g, 2, 1000, tx_mem) < 0 ||
	    vu_guest_stop(g, bases) < 0)
		return -1;
	if (bases[0] != g->vq[0].last_used_idx || bases[0] != 2000 ||
	    bases[1] != g->vq[1].avail_idx || bases[1] != 2000) {
		fprintf(stderr, "bases %u %u, want 2000; guest saw %u %u\n",
			bases[0], bases[1], g->vq[0].last_used_idx,
			g->vq[1].avail_idx);
		return -1;
	}
	return check_closes(closes);
}

/*
 * A new frontend on the same socket (after @g's end) must get a working
 * device; with @first_config, the first configuration the driver logs.
 */
static int
reopen_then_traffic(struct vu_guest *g, uint32_t stream, bool first_config)
{
	vu_guest_fini(g);
	CHECK_EQ(guest_open(g, &def_params), 0);
	CHECK_EQ(first_config ? start_configured(g) : vu_guest_start(g), 0);
	return traffic_then_stop(g, stream, 500, log_count(CLOSED_MSG));
}

/* ---- Cases ---- */

static int
case_loop_traffic(void)
{
	struct vu_guest g;
	int ret;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	CHECK(g.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	CHECK(g.protocol & (1ULL << VU_PF_REPLY_ACK));
	CHECK_EQ(start_configured(&g), 0);
	ret = traffic_then_stop(&g, 1, 3000, 0);
	if (ret == 0) {
		printf("  loop: 3000 frames, tx base %u rx base %u, "
		       "%lu rx irqs, %lu tx irqs\n", g.vq[1].avail_idx,
		       g.vq[0].last_used_idx, (unsigned long)g.irqs[0],
		       (unsigned long)g.irqs[1]);
		if (g.irqs[0] == 0)
			ret = -1, fprintf(stderr, "no RX interrupt seen\n");
	}
	vu_guest_fini(&g);
	return ret;
}

/* After a refusal: fix queue 0's rings, then traffic must flow. */
static int
recover_q0(struct vu_guest *g, unsigned int closes_before)
{
	struct vu_vring_addr a;

	vu_guest_vring_addr(g, 0, &a);
	CHECK_EQ(vu_set_vring_num(&g->c, 0, g->vq[0].size), 0);
	CHECK_EQ(vu_set_vring_addr(&g->c, &a), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(log_wait(CONFIGURED_MSG, 1), 1);
	return traffic_then_stop(g, 7, 500, closes_before);
}

/* Queue 1 normal, queue 0 with rings at @a; then DRIVER_OK and a sync. */
static int
start_with_q0(struct vu_guest *g, const struct vu_vring_addr *a)
{
	CHECK_EQ(vu_guest_queue_setup(g, 1, true), 0);
	CHECK_EQ(vu_guest_queue_setup_ext(g, 0, g->vq[0].size, a, 0, true,
					  NULL), 0);
	CHECK_EQ(vu_guest_driver_ok(g), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	return 0;
}

static int
refused_by_vhost(const char *vhost_msg)
{
	/* vhost leaves the queue not ready: the driver is never asked. */
	usleep(200 * 1000);
	CHECK(log_count(vhost_msg) > 0);
	CHECK_EQ(log_count(CONFIGURED_MSG), 0);
	CHECK_EQ(log_count(CONF_FAILED_MSG), 0);
	CHECK(vdpa_alive());
	return 0;
}

static int
refused_by_driver(const char *driver_msg)
{
	CHECK(log_wait(driver_msg, 1) >= 1);
	CHECK_EQ(log_count(CONFIGURED_MSG), 0);
	/*
	 * A refused configuration logs no close: what it mapped shows in
	 * the count of the next close, after the recovery.
	 */
	CHECK_EQ(check_closes(0), 0);
	CHECK(vdpa_alive());
	return 0;
}

/* Ring addresses in no memory region at all. */
static int
case_ring_outside(void)
{
	struct vu_vring_addr a;
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	vu_guest_vring_addr(&g, 0, &a);
	a.desc = (uintptr_t)g.mem[0].host + g.mem[0].len + (64 << 10);
	a.used = (uintptr_t)g.mem[0].host - (64 << 10);
	if (start_with_q0(&g, &a) == 0 &&
	    refused_by_vhost("failed to map desc ring") == 0)
		ret = recover_q0(&g, log_count(CLOSED_MSG));
	vu_guest_fini(&g);
	return ret;
}

/*
 * An avail ring whose last field (used_event) lies past the end of its
 * region. Without EVENT_IDX vhost does not check that field; the device
 * may still read it, so the driver must refuse.
 */
static int
case_ring_tail_outside(void)
{
	struct vu_vring_addr a;
	struct vu_guest g;
	uint64_t avail_len;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &no_event_idx), 0);
	CHECK(!(g.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	avail_len = 4 + 2ULL * g.vq[0].size;	/* without used_event */
	vu_guest_vring_addr(&g, 0, &a);
	a.avail = (uintptr_t)g.mem[0].host + g.mem[0].len - avail_len;
	if (start_with_q0(&g, &a) == 0 &&
	    refused_by_driver("ring outside guest memory") == 0)
		ret = recover_q0(&g, log_count(CLOSED_MSG));
	vu_guest_fini(&g);
	return ret;
}

/*
 * Regions 0 and 1 adjacent in guest-physical and frontend address space,
 * with different memfds, so that a ring can straddle them.
 */
static int
adjacent_regions(struct vu_guest *g, uint64_t len)
{
	uint8_t *base;
	int fd[2], i;

	vdrv_mem_fini(&g->mem[0]);
	g->nr_mem = 0;
	base = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	for (i = 0; i < 2; i++) {
		fd[i] = memfd_create("test-vu-adjacent", MFD_CLOEXEC);
		if (fd[i] < 0 || ftruncate(fd[i], (off_t)len) < 0 ||
		    mmap(base + i * len, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd[i], 0) == MAP_FAILED)
			return -errno;
		g->mem[i] = (struct vdrv_mem){
			.host = base + i * len,
			.gpa = VU_GUEST_GPA + i * len,
			.len = len,
			.fd = fd[i],
		};
	}
	g->nr_mem = 2;
	return 0;
}

static int
case_ring_straddle(void)
{
	const uint64_t len = 4ULL << 20;
	struct vu_vring_addr a;
	struct vu_guest g;
	uint64_t used_len;
	uint8_t *end0;
	int ret = -1;

	CHECK_EQ(vu_guest_connect(&g, vdpa.sock, &no_event_idx), 0);
	if (adjacent_regions(&g, len) < 0 || vu_guest_queues_init(&g) < 0 ||
	    vu_guest_set_mem_table(&g, 2) < 0)
		goto out;
	end0 = g.mem[0].host + len;
	/* 1: the descriptor table straddles: vhost cannot map it. */
	vu_guest_vring_addr(&g, 0, &a);
	a.desc = (uintptr_t)end0 - 2048;
	if (start_with_q0(&g, &a) < 0 ||
	    refused_by_vhost("failed to map desc ring") < 0)
		goto out;
	/*
	 * 2: only the used ring's avail_event straddles: vhost, without
	 * EVENT_IDX, does not look at it; the driver must refuse.
	 */
	used_len = 4 + 8ULL * g.vq[0].size;
	vu_guest_vring_addr(&g, 0, &a);
	a.used = (uintptr_t)end0 - used_len;
	if (vu_set_vring_addr(&g.c, &a) < 0 || vu_guest_sync(&g) < 0 ||
	    refused_by_driver("ring outside guest memory") < 0)
		goto out;
	ret = recover_q0(&g, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/* Two regions overlapping in guest-physical space. */
static int
case_overlap_regions(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(vu_guest_connect(&g, vdpa.sock, &def_params), 0);
	/* Region 1 lies inside region 0's guest-physical range. */
	if (vu_guest_add_region(&g, VU_GUEST_GPA + g.mem[0].len / 2,
				1 << 20) != 1 ||
	    vu_guest_queues_init(&g) < 0 ||
	    vu_guest_set_mem_table(&g, 2) < 0 ||
	    start_with_q0(&g, NULL) < 0 ||
	    refused_by_driver("overlap in guest physical space") < 0)
		goto out;
	/* Move region 1 out of the way: the same rings must now run. */
	g.mem[1].gpa = VU_GUEST_GPA + g.mem[0].len;
	if (vu_guest_set_mem_table(&g, 2) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (log_wait(CONFIGURED_MSG, 1) != 1) {
		fprintf(stderr, "not configured after the fixed table\n");
		goto out;
	}
	ret = traffic_then_stop(&g, 3, 500, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * Queue 0 sized by the case (its qsize, vhost_msg, driver_msg): vhost's
 * ack is a failure when vhost_msg is set (and that is in its log); the
 * frontend carries on regardless, as a hostile one would. Either way the
 * driver must refuse with driver_msg.
 */
static int
case_qsize(void)
{
	const struct vu_case *c = cur_case;
	struct vu_guest g;
	int num_ret = 0;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (vu_guest_queue_setup(&g, 1, true) < 0 ||
	    vu_guest_queue_setup_ext(&g, 0, c->qsize, NULL, 0, true,
				     &num_ret) < 0 ||
	    vu_guest_driver_ok(&g) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (num_ret != (c->vhost_msg != NULL ? -EREMOTEIO : 0)) {
		fprintf(stderr, "SET_VRING_NUM %u: ack %d\n", c->qsize, num_ret);
		goto out;
	}
	if (c->vhost_msg != NULL && log_count(c->vhost_msg) == 0) {
		fprintf(stderr, "vhost did not say \"%s\"\n", c->vhost_msg);
		goto out;
	}
	if (refused_by_driver(c->driver_msg) < 0)
		goto out;
	ret = recover_q0(&g, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * A region added while traffic runs: vhost closes and reconfigures the
 * device; nothing of the old table may stay mapped, and frames laid out
 * in the new region must go through.
 */
static int
case_mem_update(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (start_configured(&g) < 0 || loop_frames(&g, 1, 1000, NULL) < 0)
		goto out;
	if (vu_guest_add_region(&g, VU_GUEST_GPA + g.mem[0].len,
				4 << 20) != 1 ||
	    vu_guest_set_mem_table(&g, 2) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (log_wait(CONFIGURED_MSG, 2) != 2 || check_closes(1) < 0) {
		fprintf(stderr, "no close and reconfiguration seen\n");
		goto out;
	}
	/* TX frames from the new region, received in region 0. */
	ret = second_1000_then_stop(&g, &g.mem[1], 2);
out:
	vu_guest_fini(&g);
	return ret;
}

/* The frontend hangs up right after its last SET_VRING_KICK. */
static int
case_disconnect_after_kick(void)
{
	static const struct vu_guest_params no_status = {
		.protocol = (1ULL << VU_PF_REPLY_ACK) | (1ULL << VU_PF_MQ),
	};
	struct vu_guest g;
	uint64_t v = 1;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &no_status), 0);
	if (vu_guest_queue_setup(&g, 0, true) < 0 ||
	    vu_guest_queue_setup(&g, 1, false) < 0)
		goto out;
	/* The kick that makes the device ready, no ack awaited. */
	if (vu_send(&g.c, VU_SET_VRING_KICK, VU_VERSION, &v, sizeof(v),
		    &g.kickfd[1], 1) < 0)
		goto out;
	vu_close(&g.c);
	if (log_wait(CLOSED_MSG, 1) < 1 || check_closes(1) < 0) {
		fprintf(stderr, "no clean close after the hang-up\n");
		goto out;
	}
	printf("  configured %u time(s) before the hang-up was seen\n",
	       log_count(CONFIGURED_MSG));
	if (!vdpa_alive())
		goto out;
	ret = reopen_then_traffic(&g, 5, false);
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * The frontend's dirty-log messages: SET_LOG_BASE with a memfd, LOG_ALL
 * on while traffic runs, then off. A smoke test of the protocol: the
 * proof that no dirty page is missed is the migration suite's.
 */
static int
case_log_smoke(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (!(g.dev_features & (1ULL << VU_F_LOG_ALL)) ||
	    !(g.protocol & (1ULL << VU_PF_LOG_SHMFD))) {
		fprintf(stderr, "LOG_ALL or LOG_SHMFD not offered\n");
		goto out;
	}
	if (start_configured(&g) < 0 ||
	    vu_guest_set_log(&g, 0) < 0 || vu_guest_log_all(&g, true) < 0 ||
	    vu_guest_sync(&g) < 0 || loop_frames(&g, 1, 1000, NULL) < 0)
		goto out;
	printf("  log: %lu dirty pages after 1000 frames; rx used ring %s\n",
	       (unsigned long)vu_guest_log_count(&g),
	       vu_guest_log_test(&g, g.vq[0].used_gpa) ? "logged" : "NOT logged");
	if (!vu_guest_log_test(&g, g.vq[0].used_gpa) ||
	    !vu_guest_log_test(&g, g.vq[0].slot[0].buf_gpa))
		goto out;
	if (vu_guest_log_all(&g, false) == 0 && vu_guest_sync(&g) == 0)
		ret = second_1000_then_stop(&g, NULL, 1);
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * A dirty log declared larger than its memfd, with guest memory high
 * enough that the device's log writes land past the file's end. vhost's
 * mmap succeeds; a write there is a SIGBUS. The driver must not let the
 * device (or its relay) write there: dpdk-vdpa must survive.
 */
static int
case_log_short(void)
{
	static const struct vu_guest_params high = {
		.gpa = 1ULL << 30,	/* bitmap bytes from 32 KiB on */
	};
	struct vu_guest g;
	struct vdrv_flow f;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &high), 0);
	if (start_configured(&g) < 0 ||
	    vu_guest_set_log_ext(&g, 64 << 10, 4096) < 0)
		goto out;
	/* The driver may refuse LOG_ALL: that is a correct answer. */
	ret = vu_guest_log_all(&g, true);
	printf("  LOG_ALL with a short log: %s\n",
	       ret == 0 ? "accepted" : strerror(-ret));
	ret = -1;
	if (!vdpa_alive() || vu_guest_sync(&g) < 0)
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 1, 500);
	vu_flow_run(&f, 3000);
	if (!vdpa_alive()) {
		fprintf(stderr, "dpdk-vdpa died while logging into a short log\n");
		goto out;
	}
	if (log_wait("is not all backed by memory", 1) != 1) {
		fprintf(stderr, "the driver did not refuse the short log\n");
		goto out;
	}
	vu_guest_stop(&g, NULL);
	ret = vdpa_alive() ? check_closes(1) : -1;
out:
	vu_guest_fini(&g);
	return ret;
}

/* Queues disabled and enabled again while the device runs. */
static int
case_queue_toggle(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (start_configured(&g) == 0 && loop_frames(&g, 1, 1000, NULL) == 0 &&
	    vu_guest_enable_queues(&g, 0, 2, false) == 0 &&
	    vu_guest_enable_queues(&g, 0, 2, true) == 0 &&
	    vu_guest_sync(&g) == 0 && vdpa_alive())
		ret = second_1000_then_stop(&g, NULL, 1);
	vu_guest_fini(&g);
	return ret;
}

/* More queues than GET_QUEUE_NUM allows (3 pairs on a 1-pair VF). */
static int
case_too_many_queues(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(vu_guest_connect(&g, vdpa.sock, &def_params), 0);
	CHECK_EQ(g.max_pairs, 1);
	g.nr_queues = 6;
	if (vu_guest_queues_init(&g) < 0 || vu_guest_set_mem_table(&g, 1) < 0 ||
	    vu_guest_start(&g) < 0 ||
	    refused_by_driver("frontend has 6 queues, the device 2") < 0)
		goto out;
	/* That connection cannot shrink: a new one must get a device. */
	ret = reopen_then_traffic(&g, 4, true);
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * SET_VRING_BASE far from the ring's real avail index: the device sees
 * more entries than the ring holds and must stop that queue, not run off.
 * dpdk-vdpa must survive and the close still release everything.
 */
static int
case_bad_vring_base(void)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	/*
	 * Queue 1 with a base 0x8000 ahead of avail->idx 0. vhost resets a
	 * base that differs from used->idx: make them agree.
	 */
	g.vq[1].used->idx = 0x8000;
	if (vu_guest_queue_setup(&g, 0, true) < 0 ||
	    vu_guest_queue_setup_base(&g, 1, 0x8000, true) < 0 ||
	    vu_guest_driver_ok(&g) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (log_wait(CONFIGURED_MSG, 1) != 1)
		goto out;
	/* A frame and a kick on the corrupt queue. */
	vdrv_frame_fill(g.vq[1].slot[0].buf, VDRV_FRAME_MIN, 9, 0);
	vu_guest_kick(&g, 1);
	usleep(200 * 1000);
	if (!vdpa_alive() || vu_guest_stop(&g, bases) < 0)
		goto out;
	/* Nothing consumed: the queue stopped where the frontend put it. */
	if (bases[0] != 0 || bases[1] != 0x8000) {
		fprintf(stderr, "bases %u %u, want 0 and 32768\n", bases[0],
			bases[1]);
		goto out;
	}
	if (log_count("IFCVF: ") - log_count("IFCVF: sim_") -
	    log_count(CONFIGURED_MSG) == 0)
		printf("  NOTE: the device stopped queue 1 (NEEDS_RESET) and "
		       "the driver logged nothing about it\n");
	ret = check_closes(1);
out:
	vu_guest_fini(&g);
	return ret;
}

/* ---- Runner ---- */

#define CASE(n)	.name = #n, .fn = case_##n

static const struct vu_case cases[] = {
	{ CASE(loop_traffic) },
	{ CASE(ring_outside) },
	{ CASE(ring_tail_outside) },
	{ CASE(ring_straddle) },
	{ CASE(overlap_regions) },
	/* vhost fails to allocate for 0 entries, but keeps size 0. */
	{ .name = "qsize_0", .fn = case_qsize, .qsize = 0,
	  .vhost_msg = "processing VHOST_USER_SET_VRING_NUM failed",
	  .driver_msg = "queue 0: size 0 is not a power of two" },
	{ .name = "qsize_3", .fn = case_qsize, .qsize = 3,
	  .vhost_msg = "invalid virtqueue size 3",
	  .driver_msg = "queue 0: size 3 is not a power of two" },
	/* vhost refuses before storing it: the queue keeps size 0. */
	{ .name = "qsize_65536", .fn = case_qsize, .qsize = 65536,
	  .vhost_msg = "invalid virtqueue size 65536",
	  .driver_msg = "queue 0: size 0 is not a power of two" },
	/* A valid virtio size, larger than the device's maximum (4096). */
	{ .name = "qsize_too_large", .fn = case_qsize, .qsize = 8192,
	  .driver_msg = "size 8192 is not a power of two <= 4096" },
	{ CASE(mem_update) },
	{ CASE(disconnect_after_kick) },
	{ CASE(queue_toggle) },
	{ CASE(too_many_queues) },
	{ CASE(bad_vring_base) },
	{ CASE(log_smoke) },
	{ .name = "log_smoke_sw", .fn = case_log_smoke, .sw = true },
	/* SIGBUS in dpdk-vdpa today (HW: the device, SW: the relay). */
	{ .name = "log_short", .fn = case_log_short, .by_name_only = true },
	{ .name = "log_short_sw", .fn = case_log_short, .sw = true,
	  .by_name_only = true },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static int
run_case(const struct vu_case *c)
{
	char what[64];

	snprintf(what, sizeof(what), "vu/%s", c->name);
	cur_case = c;
	vdpa_proc_init(&vdpa, "test_vu", c->name);
	return vdpa_proc_run(&vdpa, c->sw ? "wire=loop,sw-live-migration=1" :
			     "wire=loop", c->fn, what);
}

int
main(int argc, char **argv)
{
	unsigned int i, failed = 0, ran = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s <builddir> <case>|all|list\n",
			argv[0]);
		return 2;
	}
	vdpa.build_dir = argv[1];
	vdpa.eal_args = vdpa_args;
	vdpa.gdb = getenv("TEST_VU_GDB") != NULL;
	vdpa.keep = getenv("TEST_VU_KEEP_LOG") != NULL;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < NR_CASES; i++) {
		if (strcmp(argv[2], "list") == 0) {
			printf("%s%s\n", cases[i].name,
			       cases[i].by_name_only ? " (by name only)" : "");
			continue;
		}
		if (strcmp(argv[2], cases[i].name) != 0 &&
		    (strcmp(argv[2], "all") != 0 || cases[i].by_name_only))
			continue;
		ran++;
		if (run_case(&cases[i]) != 0)
			failed++;
	}
	if (strcmp(argv[2], "list") == 0)
		return 0;
	if (ran == 0) {
		fprintf(stderr, "no case %s\n", argv[2]);
		return 2;
	}
	printf("%u passed, %u failed\n", ran - failed, failed);
	return failed == 0 ? 0 : 1;
}
