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
 *   test_vu <builddir> [<case>...|all|list]
 *
 * Environment: IFCVF_TEST_KEEP_LOG=1 keeps dpdk-vdpa's log,
 * IFCVF_TEST_GDB=1 runs it under gdb (a backtrace of every thread lands in
 * the log).
 *
 * Configurations and closes are read through telemetry: the driver's
 * counts, and the simulated IOMMU's mappings, which must be the VF's DMA
 * windows and nothing more (none once it stopped).
 */

#define _GNU_SOURCE	/* memfd_create() */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "test.h"
#include "vdpa_proc.h"
#include "vu_guest.h"

#define WAIT_MS		5000
#define TRAFFIC_MS	10000

/* The dpdk-vdpa of the running case. */
static struct vdpa_proc vdpa;
static const char *const vdpa_args[] = {
	"--log-level=lib.vhost.config:debug", NULL
};

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

/* The simulated VF's device status (telemetry), or -1. */
static long
sim_status(void)
{
	return vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO, "status");
}

/* Wait until the simulated VF's telemetry shows @key at @want; said if not. */
static bool
sim_wait_int(const char *key, long want)
{
	long got;

	if (WAIT_FOR((got = vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO,
					      key)) == want, WAIT_MS))
		return true;
	fprintf(stderr, "the VF's %s is %ld, want %ld\n", key, got, want);
	return false;
}

/* Wait (2 s at most) until the device set NEEDS_RESET: it stopped. */
static bool
sim_wait_needs_reset(void)
{
	long status;

	return WAIT_FOR((status = sim_status()) >= 0 &&
			(status & VIRTIO_CONFIG_S_NEEDS_RESET), 2000);
}

/*
 * The device runs (DRIVER_OK) with the features @features and writes an
 * @hdr-byte net header (telemetry); said if not.
 */
static bool
sim_runs_with(uint64_t features, long hdr)
{
	long status = sim_status();
	long f = vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO,
				   "driver_features");
	long h = vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO, "net_header");

	if (status >= 0 && (status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    f == (long)features && h == hdr)
		return true;
	fprintf(stderr, "the VF runs with status 0x%lx, features 0x%lx, a %ld-byte header; want DRIVER_OK, 0x%" PRIx64 ", %ld\n",
		status, f, h, features, hdr);
	return false;
}

/* The blk requests a stop of the VF gave up waiting for (telemetry). */
static long
drain_abandoned(void)
{
	return vdpa_proc_tel_int(&vdpa, VDPA_PROC_VF0_INFO, "drain_abandoned");
}

/* At least @min closes, none of which left a mapping behind. */
static int
check_closes(long min)
{
	return vdpa_proc_check_closes(&vdpa, min, WAIT_MS);
}

/* Wait until the VF was configured @n times (the count), on one pair. */
static long
wait_configures(long n)
{
	return vdpa_proc_wait_configures(&vdpa, n, 2, WAIT_MS);
}

/* ---- Cases: the table at the end ---- */

struct vu_guest;

/*
 * A case gets a guest with nothing open (vu_guest_init()); whatever the
 * case opened in it, the runner closes after it (vu_guest_fini()).
 */
struct vu_case {
	const char *name;
	int (*fn)(struct vu_guest *g);
	bool sw;		/* the VF in SW live-migration mode */
	/*
	 * case_qsize: queue 0's size, vhost's refusal or NULL, the size the
	 * driver is handed (and refuses: a bad_ring error).
	 */
	uint32_t qsize;
	const char *vhost_msg;
	uint32_t driver_size;
	const char *devargs;	/* more devargs of the simulated VF */
	bool log;		/* dirty logging on while the case runs */
	uint64_t features;	/* case_legacy: the guest's features */
	int (*fault_fn)(struct vu_guest *g);	/* case_fault's first part */
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
		  long closes_before)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vdrv_flow f;

	CHECK(closes_before >= 0);	/* read through telemetry */
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
	CHECK_EQ(wait_configures(1), 1);
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
	return traffic_then_stop(g, stream, 500, vdpa_proc_closes(&vdpa));
}

/* ---- Cases ---- */

static int
case_loop_traffic(struct vu_guest *g)
{
	int ret;

	CHECK_EQ(guest_open(g, &def_params), 0);
	CHECK(g->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	CHECK(g->protocol & (1ULL << VU_PF_REPLY_ACK));
	CHECK_EQ(start_configured(g), 0);
	ret = traffic_then_stop(g, 1, 3000, 0);
	if (ret == 0) {
		printf("  loop: 3000 frames, tx base %u rx base %u, "
		       "%lu rx irqs, %lu tx irqs\n", g->vq[1].avail_idx,
		       g->vq[0].last_used_idx, (unsigned long)g->irqs[0],
		       (unsigned long)g->irqs[1]);
		if (g->irqs[0] == 0)
			ret = -1, fprintf(stderr, "no RX interrupt seen\n");
	}
	return ret;
}

/*
 * A legacy (virtio 0.95) guest: no VERSION_1, so its net header is the
 * 10-byte virtio_net_hdr, or 12 bytes with MRG_RXBUF.
 */
#define LEGACY_FEATURES ( \
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))
#define LEGACY_MRG_FEATURES (LEGACY_FEATURES | (1ULL << VIRTIO_NET_F_MRG_RXBUF))

/*
 * A legacy guest: the VF gets its features as they are (the simulator's
 * telemetry shows them and its header length) and frames go out and
 * come back byte for byte, with the header in the first descriptor or its
 * own, chained, indirect; with MRG_RXBUF over small RX buffers, so that
 * frames spread over several (num_buffers checked). A device on the wrong
 * header length shifts every frame by 2 bytes: the byte check fails.
 */
static int
case_legacy(struct vu_guest *g)
{
	static const struct vdrv_tx_opts opts[] = {
		{ .nr_segs = 1 },
		{ .hdr_separate = true, .nr_segs = 2 },
		{ .indirect = true, .nr_segs = 3 },
		{ .hdr_separate = true, .indirect = true, .nr_segs = 1 },
	};
	const struct vu_guest_params p = { .features = cur_case->features };
	bool mrg = cur_case->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	uint32_t hdr = mrg ? 12 : 10, bases[VU_GUEST_MAX_QUEUES];
	uint64_t vf;
	struct vdrv_flow f;

	CHECK_EQ(guest_open(g, &p), 0);
	if (g->features & (1ULL << VIRTIO_F_VERSION_1) ||
	    !!(g->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF)) != mrg ||
	    g->vq[0].hdr_len != hdr || g->vq[1].hdr_len != hdr) {
		fprintf(stderr, "features 0x%" PRIx64 ", header %u: not legacy\n",
			g->features, g->vq[0].hdr_len);
		return -1;
	}
	if (start_configured(g) < 0)
		return -1;
	/* The VF's features: the guest's, masked, plus ACCESS_PLATFORM. */
	vf = (g->features & ~(1ULL << VU_F_PROTOCOL_FEATURES)) |
	     (1ULL << VIRTIO_F_ACCESS_PLATFORM);
	if (!sim_runs_with(vf, hdr))
		return -1;
	vu_flow_init(&f, g, 0, g, 0, 1, 3000);
	f.opts = opts;
	f.nr_opts = sizeof(opts) / sizeof(opts[0]);
	if (mrg) {
		f.rx_len = 512;
		f.mrg_buf = 512;
	}
	if (vu_flow_run(&f, TRAFFIC_MS) < 0 || f.rcvd != 3000)
		return -1;
	printf("  legacy%s: 3000 frames, %u-byte headers, up to %u buffers "
	       "a frame, %" PRIu64 " bytes\n", mrg ? " + MRG_RXBUF" : "",
	       hdr, f.max_nb, f.bytes);
	if (mrg && f.max_nb < 3) {
		fprintf(stderr, "frames did not spread over buffers\n");
		return -1;
	}
	if (vu_guest_stop(g, bases) < 0 ||
	    bases[0] != g->vq[0].last_used_idx ||
	    bases[1] != g->vq[1].avail_idx)
		return -1;
	return check_closes(1);
}

/* After a refusal: fix queue 0's rings, then traffic must flow. */
static int
recover_q0(struct vu_guest *g, long closes_before)
{
	struct vu_vring_addr a;

	vu_guest_vring_addr(g, 0, &a);
	CHECK_EQ(vu_set_vring_num(&g->c, 0, g->vq[0].size), 0);
	CHECK_EQ(vu_set_vring_addr(&g->c, &a), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(wait_configures(1), 1);
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
	CHECK(log_wait(vhost_msg, 1) > 0);
	usleep(200 * 1000);
	CHECK_EQ(vdpa_proc_configures(&vdpa), 0);
	CHECK_EQ(vdpa_proc_wait_error(&vdpa, NULL, 0, 0), 0);
	CHECK(vdpa_alive());
	return 0;
}

/* The driver refused the configuration: its error counter @error says. */
static int
refused_by_driver(const char *error)
{
	CHECK(vdpa_proc_wait_error(&vdpa, error, 1, WAIT_MS) >= 1);
	CHECK_EQ(vdpa_proc_configures(&vdpa), 0);
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
case_ring_outside(struct vu_guest *g)
{
	struct vu_vring_addr a;
	int ret = -1;

	CHECK_EQ(guest_open(g, &def_params), 0);
	vu_guest_vring_addr(g, 0, &a);
	a.desc = (uintptr_t)g->mem[0].host + g->mem[0].len + (64 << 10);
	a.used = (uintptr_t)g->mem[0].host - (64 << 10);
	if (start_with_q0(g, &a) == 0 &&
	    refused_by_vhost("failed to map desc ring") == 0)
		ret = recover_q0(g, vdpa_proc_closes(&vdpa));
	return ret;
}

/*
 * An avail ring whose last field (used_event) lies past the end of its
 * region. Without EVENT_IDX vhost does not check that field; the device
 * may still read it, so the driver must refuse.
 */
static int
case_ring_tail_outside(struct vu_guest *g)
{
	struct vu_vring_addr a;
	uint64_t avail_len;
	int ret = -1;

	CHECK_EQ(guest_open(g, &no_event_idx), 0);
	CHECK(!(g->features & (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	avail_len = 4 + 2ULL * g->vq[0].size;	/* without used_event */
	vu_guest_vring_addr(g, 0, &a);
	a.avail = (uintptr_t)g->mem[0].host + g->mem[0].len - avail_len;
	if (start_with_q0(g, &a) == 0 &&
	    refused_by_driver("bad_ring") == 0)
		ret = recover_q0(g, vdpa_proc_closes(&vdpa));
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
case_ring_straddle(struct vu_guest *g)
{
	const uint64_t len = 4ULL << 20;
	struct vu_vring_addr a;
	uint64_t used_len;
	uint8_t *end0;

	CHECK_EQ(vu_guest_connect(g, vdpa.sock, &no_event_idx), 0);
	if (adjacent_regions(g, len) < 0 || vu_guest_queues_init(g) < 0 ||
	    vu_guest_set_mem_table(g, 2) < 0)
		return -1;
	end0 = g->mem[0].host + len;
	/* 1: the descriptor table straddles: vhost cannot map it. */
	vu_guest_vring_addr(g, 0, &a);
	a.desc = (uintptr_t)end0 - 2048;
	if (start_with_q0(g, &a) < 0 ||
	    refused_by_vhost("failed to map desc ring") < 0)
		return -1;
	/*
	 * 2: only the used ring's avail_event straddles: vhost, without
	 * EVENT_IDX, does not look at it; the driver must refuse.
	 */
	used_len = 4 + 8ULL * g->vq[0].size;
	vu_guest_vring_addr(g, 0, &a);
	a.used = (uintptr_t)end0 - used_len;
	if (vu_set_vring_addr(&g->c, &a) < 0 || vu_guest_sync(g) < 0 ||
	    refused_by_driver("bad_ring") < 0)
		return -1;
	return recover_q0(g, vdpa_proc_closes(&vdpa));
}

/* Two regions overlapping in guest-physical space. */
static int
case_overlap_regions(struct vu_guest *g)
{
	CHECK_EQ(vu_guest_connect(g, vdpa.sock, &def_params), 0);
	/* Region 1 lies inside region 0's guest-physical range. */
	if (vu_guest_add_region(g, VU_GUEST_GPA + g->mem[0].len / 2,
				1 << 20) != 1 ||
	    vu_guest_queues_init(g) < 0 ||
	    vu_guest_set_mem_table(g, 2) < 0 ||
	    start_with_q0(g, NULL) < 0 ||
	    refused_by_driver("bad_memory") < 0)
		return -1;
	/* Move region 1 out of the way: the same rings must now run. */
	g->mem[1].gpa = VU_GUEST_GPA + g->mem[0].len;
	if (vu_guest_set_mem_table(g, 2) < 0 || vu_guest_sync(g) < 0)
		return -1;
	if (wait_configures(1) != 1) {
		fprintf(stderr, "not configured after the fixed table\n");
		return -1;
	}
	return traffic_then_stop(g, 3, 500, vdpa_proc_closes(&vdpa));
}

/*
 * Queue 0 sized by the case (its qsize, vhost_msg, driver_size): vhost's
 * ack is a failure when vhost_msg is set (and that is in its log); the
 * frontend carries on regardless, as a hostile one would. Either way the
 * driver must refuse it (bad_ring), having been handed driver_size.
 */
static int
case_qsize(struct vu_guest *g)
{
	const struct vu_case *c = cur_case;
	int num_ret = 0;

	CHECK_EQ(guest_open(g, &def_params), 0);
	if (vu_guest_queue_setup(g, 1, true) < 0 ||
	    vu_guest_queue_setup_ext(g, 0, c->qsize, NULL, 0, true,
				     &num_ret) < 0 ||
	    vu_guest_driver_ok(g) < 0 || vu_guest_sync(g) < 0)
		return -1;
	if (num_ret != (c->vhost_msg != NULL ? -EREMOTEIO : 0)) {
		fprintf(stderr, "SET_VRING_NUM %u: ack %d\n", c->qsize, num_ret);
		return -1;
	}
	if (c->vhost_msg != NULL && log_wait(c->vhost_msg, 1) == 0) {
		fprintf(stderr, "vhost did not say \"%s\"\n", c->vhost_msg);
		return -1;
	}
	if (refused_by_driver("bad_ring") < 0)
		return -1;
	if (vdpa_proc_tel_int(&vdpa, "/vdpa_ifcvf/queue,vdpa_ifcvf_sim0,0",
			      "size") != c->driver_size) {
		fprintf(stderr, "the driver was not handed size %u\n",
			c->driver_size);
		return -1;
	}
	return recover_q0(g, vdpa_proc_closes(&vdpa));
}

/*
 * A region added while traffic runs: vhost closes and reconfigures the
 * device; nothing of the old table may stay mapped, and frames laid out
 * in the new region must go through.
 */
static int
case_mem_update(struct vu_guest *g)
{
	CHECK_EQ(guest_open(g, &def_params), 0);
	if (start_configured(g) < 0 || loop_frames(g, 1, 1000, NULL) < 0)
		return -1;
	if (vu_guest_add_region(g, VU_GUEST_GPA + g->mem[0].len,
				4 << 20) != 1 ||
	    vu_guest_set_mem_table(g, 2) < 0 || vu_guest_sync(g) < 0)
		return -1;
	if (wait_configures(2) != 2 || check_closes(1) < 0) {
		fprintf(stderr, "no close and reconfiguration seen\n");
		return -1;
	}
	/* TX frames from the new region, received in region 0. */
	return second_1000_then_stop(g, &g->mem[1], 2);
}

/* The frontend hangs up right after its last SET_VRING_KICK. */
static int
case_disconnect_after_kick(struct vu_guest *g)
{
	static const struct vu_guest_params no_status = {
		.protocol = (1ULL << VU_PF_REPLY_ACK) | (1ULL << VU_PF_MQ),
	};
	uint64_t v = 1;

	CHECK_EQ(guest_open(g, &no_status), 0);
	if (vu_guest_queue_setup(g, 0, true) < 0 ||
	    vu_guest_queue_setup(g, 1, false) < 0)
		return -1;
	/* The kick that makes the device ready, no ack awaited. */
	if (vu_send(&g->c, VU_SET_VRING_KICK, VU_VERSION, &v, sizeof(v),
		    &g->kickfd[1], 1) < 0)
		return -1;
	vu_close(&g->c);
	if (check_closes(1) < 0) {
		fprintf(stderr, "no clean close after the hang-up\n");
		return -1;
	}
	printf("  configured %ld time(s) before the hang-up was seen\n",
	       vdpa_proc_configures(&vdpa));
	if (!vdpa_alive())
		return -1;
	return reopen_then_traffic(g, 5, false);
}

/*
 * The frontend's dirty-log messages: SET_LOG_BASE with a memfd, LOG_ALL
 * on while traffic runs, then off. A smoke test of the protocol: the
 * proof that no dirty page is missed is the migration suite's.
 */
static int
case_log_smoke(struct vu_guest *g)
{
	int ret = -1;

	CHECK_EQ(guest_open(g, &def_params), 0);
	if (!(g->dev_features & (1ULL << VU_F_LOG_ALL)) ||
	    !(g->protocol & (1ULL << VU_PF_LOG_SHMFD))) {
		fprintf(stderr, "LOG_ALL or LOG_SHMFD not offered\n");
		return -1;
	}
	if (start_configured(g) < 0 ||
	    vu_guest_set_log(g, 0) < 0 || vu_guest_log_all(g, true) < 0 ||
	    vu_guest_sync(g) < 0 || loop_frames(g, 1, 1000, NULL) < 0)
		return -1;
	printf("  log: %lu dirty pages after 1000 frames; rx used ring %s\n",
	       (unsigned long)vu_guest_log_count(g),
	       vu_guest_log_test(g, g->vq[0].used_gpa) ? "logged" : "NOT logged");
	if (!vu_guest_log_test(g, g->vq[0].used_gpa) ||
	    !vu_guest_log_test(g, g->vq[0].slot[0].buf_gpa))
		return -1;
	if (vu_guest_log_all(g, false) == 0 && vu_guest_sync(g) == 0)
		ret = second_1000_then_stop(g, NULL, 1);
	return ret;
}

/*
 * A dirty log declared larger than its memfd, with guest memory high
 * enough that the device's log writes land past the file's end. vhost's
 * mmap succeeds; a write there is a SIGBUS. The driver must not let the
 * device (or its relay) write there: dpdk-vdpa must survive.
 */
static int
case_log_short(struct vu_guest *g)
{
	static const struct vu_guest_params high = {
		.gpa = 1ULL << 30,	/* bitmap bytes from 32 KiB on */
	};
	struct vdrv_flow f;
	int ret = -1;

	CHECK_EQ(guest_open(g, &high), 0);
	if (start_configured(g) < 0 ||
	    vu_guest_set_log_ext(g, 64 << 10, 4096) < 0)
		return -1;
	/* The driver may refuse LOG_ALL: that is a correct answer. */
	ret = vu_guest_log_all(g, true);
	printf("  LOG_ALL with a short log: %s\n",
	       ret == 0 ? "accepted" : strerror(-ret));
	ret = -1;
	if (!vdpa_alive() || vu_guest_sync(g) < 0)
		return -1;
	vu_flow_init(&f, g, 0, g, 0, 1, 500);
	vu_flow_run(&f, 3000);
	if (!vdpa_alive()) {
		fprintf(stderr, "dpdk-vdpa died while logging into a short log\n");
		return -1;
	}
	if (vdpa_proc_wait_error(&vdpa, "bad_log", 1, WAIT_MS) != 1) {
		fprintf(stderr, "the driver did not refuse the short log\n");
		return -1;
	}
	vu_guest_stop(g, NULL);
	return vdpa_alive() ? check_closes(1) : -1;
}

/* Queues disabled and enabled again while the device runs. */
static int
case_queue_toggle(struct vu_guest *g)
{
	int ret = -1;

	CHECK_EQ(guest_open(g, &def_params), 0);
	if (start_configured(g) == 0 && loop_frames(g, 1, 1000, NULL) == 0 &&
	    vu_guest_enable_queues(g, 0, 2, false) == 0 &&
	    vu_guest_enable_queues(g, 0, 2, true) == 0 &&
	    vu_guest_sync(g) == 0 && vdpa_alive())
		ret = second_1000_then_stop(g, NULL, 1);
	return ret;
}

/* More queues than GET_QUEUE_NUM allows (3 pairs on a 1-pair VF). */
static int
case_too_many_queues(struct vu_guest *g)
{
	CHECK_EQ(vu_guest_connect(g, vdpa.sock, &def_params), 0);
	CHECK_EQ(g->max_pairs, 1);
	g->nr_queues = 6;
	if (vu_guest_queues_init(g) < 0 || vu_guest_set_mem_table(g, 1) < 0 ||
	    vu_guest_start(g) < 0 ||
	    refused_by_driver("too_many_queues") < 0)
		return -1;
	/* That connection cannot shrink: a new one must get a device. */
	return reopen_then_traffic(g, 4, true);
}

/*
 * SET_VRING_BASE far from the ring's real avail index: the device sees
 * more entries than the ring holds and must stop, not run off (its status
 * reads NEEDS_RESET). dpdk-vdpa must survive and the close still release
 * everything.
 */
static int
case_bad_vring_base(struct vu_guest *g)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];

	CHECK_EQ(guest_open(g, &def_params), 0);
	/*
	 * Queue 1 with a base 0x8000 ahead of avail->idx 0. vhost resets a
	 * base that differs from used->idx: make them agree.
	 */
	g->vq[1].used->idx = 0x8000;
	if (vu_guest_queue_setup(g, 0, true) < 0 ||
	    vu_guest_queue_setup_base(g, 1, 0x8000, true) < 0 ||
	    vu_guest_driver_ok(g) < 0 || vu_guest_sync(g) < 0)
		return -1;
	if (wait_configures(1) != 1)
		return -1;
	/* A frame and a kick on the corrupt queue. */
	vdrv_frame_fill(g->vq[1].slot[0].buf, VDRV_FRAME_MIN, 9, 0);
	vu_guest_kick(g, 1);
	/* The device finds the ring malformed and stops. */
	if (!sim_wait_needs_reset() ||
	    vdpa_proc_wait_error(&vdpa, "needs_reset", 1, WAIT_MS) < 1) {
		fprintf(stderr, "device status %ld, want NEEDS_RESET, told to the driver\n",
			sim_status());
		return -1;
	}
	if (!vdpa_alive())
		return -1;
	if (vu_guest_stop(g, bases) < 0)
		return -1;
	/* Nothing consumed: the queue stopped where the frontend put it. */
	if (bases[0] != 0 || bases[1] != 0x8000) {
		fprintf(stderr, "bases %u %u, want 0 and 32768\n", bases[0],
			bases[1]);
		return -1;
	}
	return check_closes(1);
}

/* ---- Conformance: what real frontends do over a VM's life ---- */

/* Frames of @stream over the looped wire on pairs @first .. @first + @n - 1. */
static int
pairs_traffic(struct vu_guest *g, uint16_t first, uint16_t n,
	      uint32_t stream, uint32_t frames)
{
	struct vdrv_flow f;
	uint16_t p;

	for (p = first; p < first + n; p++) {
		vu_flow_init(&f, g, p, g, p, stream + p, frames);
		if (vu_flow_run(&f, TRAFFIC_MS) < 0) {
			fprintf(stderr, "pair %u: %u of %u frames\n", p, f.rcvd,
				frames);
			return -1;
		}
	}
	return 0;
}

/* Logging on, as QEMU starts a migration, when the case asks for it. */
static int
maybe_log(struct vu_guest *g)
{
	if (!cur_case->log)
		return 0;
	CHECK_EQ(vu_guest_set_log(g, 0), 0);
	CHECK_EQ(vu_guest_log_all(g, true), 0);
	return vu_guest_sync(g);
}

/* GET_VRING_BASE of every queue: each base is what the guest saw. */
static int
stop_check_bases(struct vu_guest *g)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	uint16_t q;

	CHECK_EQ(vu_guest_stop(g, bases), 0);
	for (q = 0; q < g->nr_queues; q++) {
		if (bases[q] == g->vq[q].used->idx)
			continue;
		fprintf(stderr, "queue %u: base %u, used idx %u\n", q,
			bases[q], g->vq[q].used->idx);
		return -1;
	}
	return 0;
}

/* Interrupts pending on @fd (nonblocking eventfd), 0 if none. */
static uint64_t
fd_irqs(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int
new_eventfd(void)
{
	return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/*
 * SET_VRING_CALL with a new eventfd on both running queues (QEMU under
 * KVM, at every vector mask and unmask): interrupts must come on the new
 * fds and none on the old ones; then the no-fd form: traffic still runs.
 */
static int
case_call_swap(struct vu_guest *g)
{
	int old[2] = { -1, -1 };
	int ret = -1;
	uint16_t q;

	CHECK_EQ(guest_open(g, &def_params), 0);
	if (vu_guest_start(g) < 0 || maybe_log(g) < 0 ||
	    loop_frames(g, 1, 1000, NULL) < 0)
		goto out;
	for (q = 0; q < 2; q++) {
		old[q] = g->callfd[q];
		g->callfd[q] = new_eventfd();
		if (vu_set_vring_call(&g->c, q, g->callfd[q]) < 0)
			goto out;
	}
	if (vu_guest_sync(g) < 0)
		goto out;
	fd_irqs(old[0]);
	fd_irqs(old[1]);
	g->irqs[0] = 0;
	if (loop_frames(g, 2, 1000, NULL) < 0)
		goto out;
	printf("  after the swap: %lu rx irqs on the new fd, %lu on the old\n",
	       (unsigned long)g->irqs[0], (unsigned long)fd_irqs(old[0]));
	if (g->irqs[0] == 0 || fd_irqs(old[0]) != 0 || fd_irqs(old[1]) != 0) {
		fprintf(stderr, "interrupts not on the new call fd\n");
		goto out;
	}
	/* No fd: the guest polls; the last fd hears nothing more. */
	if (vu_set_vring_call(&g->c, 0, -1) < 0 || vu_guest_sync(g) < 0)
		goto out;
	fd_irqs(g->callfd[0]);
	if (loop_frames(g, 3, 500, NULL) < 0 || fd_irqs(g->callfd[0]) != 0)
		goto out;
	ret = stop_check_bases(g);
out:
	for (q = 0; q < 2; q++)
		if (old[q] >= 0)
			close(old[q]);
	return ret;
}

/* SET_VRING_KICK with a new eventfd on running queues: no kick lost. */
static int
case_kick_swap(struct vu_guest *g)
{
	uint16_t q;
	int old;

	CHECK_EQ(guest_open(g, &def_params), 0);
	if (vu_guest_start(g) < 0 || maybe_log(g) < 0 ||
	    loop_frames(g, 1, 1000, NULL) < 0)
		return -1;
	for (q = 0; q < 2; q++) {
		old = g->kickfd[q];
		g->kickfd[q] = new_eventfd();
		close(old);
		if (vu_set_vring_kick(&g->c, q, g->kickfd[q]) < 0)
			return -1;
	}
	if (vu_guest_sync(g) < 0 || loop_frames(g, 2, 1000, NULL) < 0)
		return -1;
	return stop_check_bases(g);
}

static const struct vu_guest_params four_pairs = { .nr_pairs = 4 };

/*
 * Pair 0 starts the device (vhost calls it ready after one pair); pairs
 * 1 to 3 come after; then pairs go down and up in any order, the lowest
 * while the highest runs (the MQ register must not drop below it).
 */
static int
case_late_pairs(struct vu_guest *g)
{
	uint16_t q;

	CHECK_EQ(guest_open(g, &four_pairs), 0);
	if (vu_guest_queue_setup(g, 0, true) < 0 ||
	    vu_guest_queue_setup(g, 1, true) < 0 ||
	    vu_guest_driver_ok(g) < 0 || maybe_log(g) < 0 ||
	    pairs_traffic(g, 0, 1, 10, 300) < 0)
		return -1;
	for (q = 2; q < 8; q++)
		if (vu_guest_queue_setup(g, q, true) < 0)
			return -1;
	if (vu_guest_sync(g) < 0 || pairs_traffic(g, 0, 4, 20, 300) < 0)
		return -1;
	/* Pair 1 off and on, then pair 0 while pairs 1 to 3 run. */
	if (vu_guest_enable_queues(g, 2, 2, false) < 0 ||
	    pairs_traffic(g, 3, 1, 30, 300) < 0 ||
	    vu_guest_enable_queues(g, 2, 2, true) < 0 ||
	    vu_guest_enable_queues(g, 0, 2, false) < 0 ||
	    vu_guest_enable_queues(g, 0, 2, true) < 0 ||
	    vu_guest_sync(g) < 0 || pairs_traffic(g, 0, 4, 40, 300) < 0)
		return -1;
	return stop_check_bases(g);
}

/* One frontend of a sequence on the same VF. */
struct frontend {
	struct vu_guest_params p;
	uint16_t late_pairs;	/* pairs set up after DRIVER_OK */
	bool log;
	bool hang_up;		/* vanishes without GET_VRING_BASE */
};

/* One frontend of a sequence in @g; it closes @g (hangs up) at its end. */
static int
frontend_run(struct vu_guest *g, const struct frontend *fe, uint32_t stream)
{
	uint16_t pairs = fe->p.nr_pairs != 0 ? fe->p.nr_pairs : 1;
	uint16_t first_late = 2 * (pairs - fe->late_pairs), q;

	CHECK_EQ(guest_open(g, &fe->p), 0);
	for (q = 0; q < first_late; q++)
		CHECK_EQ(vu_guest_queue_setup(g, q, true), 0);
	CHECK_EQ(vu_guest_driver_ok(g), 0);
	for (; q < 2 * pairs; q++)
		CHECK_EQ(vu_guest_queue_setup(g, q, true), 0);
	if (fe->log) {
		CHECK_EQ(vu_guest_set_log(g, 0), 0);
		CHECK_EQ(vu_guest_log_all(g, true), 0);
	}
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(pairs_traffic(g, 0, pairs, stream, 300), 0);
	if (!fe->hang_up)
		CHECK_EQ(stop_check_bases(g), 0);
	vu_guest_fini(g);
	return 0;
}

#define NO_PROTOCOL_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_NET_F_MAC))

/* Frontends one after the other on one VF: each gets a clean device. */
static int
case_frontend_sequence(struct vu_guest *g)
{
	static const struct frontend seq[] = {
		{ .p = { .nr_pairs = 4 }, .hang_up = true },
		{ .p = { .nr_pairs = 1 } },
		{ .p = { .nr_pairs = 2 }, .late_pairs = 1 },
		{ .p = { .features = NO_PROTOCOL_FEATURES } },
		{ .p = { .nr_pairs = 2, .queue_size = 512 }, .log = true },
		{ .p = { .nr_pairs = 4, .queue_size = 1024,
			 .mem_len = 64ULL << 20 }, .late_pairs = 3,
		  .hang_up = true },
		{ .p = { .nr_pairs = 3, .queue_size = 128 } },
	};
	unsigned int i;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		if (frontend_run(g, &seq[i], 100 * (i + 1)) < 0) {
			fprintf(stderr, "frontend %u of the sequence failed\n", i);
			return -1;
		}
		CHECK_EQ(check_closes(i + 1), 0);
	}
	return 0;
}

/*
 * A guest driver reset on one connection, as QEMU does it: GET_VRING_BASE
 * of every queue, then every queue set up again from the bases handed
 * back, and DRIVER_OK: traffic resumes where it stopped.
 */
static int
case_stop_restart(struct vu_guest *g)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	uint16_t q;

	CHECK_EQ(guest_open(g, &def_params), 0);
	if (vu_guest_start(g) < 0 || loop_frames(g, 1, 1000, NULL) < 0 ||
	    vu_guest_stop(g, bases) < 0)
		return -1;
	for (q = 0; q < g->nr_queues; q++)
		if (vu_guest_queue_setup_base(g, q, bases[q], true) < 0)
			return -1;
	if (vu_guest_driver_ok(g) < 0 || vu_guest_sync(g) < 0)
		return -1;
	return second_1000_then_stop(g, NULL, 2);
}

/*
 * A fault the case injects (fail=<op>:<n>) hits the first frontend: it
 * must get no traffic or lose none, and the next frontend a clean VF.
 */
static int
case_fault(struct vu_guest *g)
{
	int ret;

	CHECK_EQ(guest_open(g, &def_params), 0);
	CHECK_EQ(vu_guest_start(g), 0);
	CHECK_EQ(maybe_log(g), 0);
	ret = cur_case->fault_fn(g);
	vu_guest_fini(g);
	CHECK(vdpa_alive());	/* whether or not the first part passed */
	if (ret != 0)
		return ret;
	CHECK_EQ(guest_open(g, &def_params), 0);
	CHECK_EQ(vu_guest_start(g), 0);
	return traffic_then_stop(g, 9, 500, vdpa_proc_closes(&vdpa));
}

/*
 * dev_conf failed and was rolled back: vhost asks again at the next
 * message, and the device must then work (the fault was one-shot).
 */
static int
fault_retried(struct vu_guest *g)
{
	CHECK_EQ(vu_guest_sync(g), 0);
	return loop_frames(g, 1, 1000, NULL);
}

/* The VF failed to start logging: it is stopped, no frame goes through. */
static int
fault_no_traffic(struct vu_guest *g)
{
	struct vdrv_flow f;

	vu_flow_init(&f, g, 0, g, 0, 1, 100);
	if (vu_flow_run(&f, 1000) == 0) {
		fprintf(stderr, "frames went through a VF that failed\n");
		return -1;
	}
	return 0;
}

/*
 * The TX queue does not stop when disabled: the VF resets it; the base
 * handed back is the device's real progress (its used index), not what
 * the queue started from.
 */
static int
fault_disable(struct vu_guest *g)
{
	uint32_t base;

	CHECK_EQ(loop_frames(g, 1, 1000, NULL), 0);
	CHECK_EQ(vu_guest_enable_queues(g, 1, 1, false), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(vu_get_vring_base(&g->c, 1, &base), 0);
	CHECK_EQ(base, g->vq[1].used->idx);
	CHECK_EQ(base, 1000);
	return 0;
}

/*
 * Logging on after traffic, and the restart onto shadow rings fails once
 * they are laid out (a queue enable that does not stick): the VF stops,
 * and the bases handed back are the device's progress in the guest's
 * terms, not the shadow rings' indices.
 */
static int
fault_log_restart(struct vu_guest *g)
{
	CHECK_EQ(loop_frames(g, 1, 1000, NULL), 0);
	CHECK_EQ(vu_guest_set_log(g, 0), 0);
	CHECK_EQ(vu_guest_log_all(g, true), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(g->vq[1].used->idx, 1000);
	return stop_check_bases(g);
}

/*
 * Logging on after traffic, and a queue does not stop when the queues move
 * onto shadow rings one at a time: the VF is reset instead (a second
 * start), runs on them, logs, and the bases are the guest's.
 */
static int
fault_log_switch(struct vu_guest *g)
{
	CHECK_EQ(loop_frames(g, 1, 1000, NULL), 0);
	CHECK_EQ(vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO, "starts"), 1);
	CHECK_EQ(vu_guest_set_log(g, 0), 0);
	CHECK_EQ(vu_guest_log_all(g, true), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO, "starts"), 2);
	CHECK_EQ(loop_frames(g, 2, 1000, NULL), 0);
	CHECK(vu_guest_log_count(g) > 0);
	return stop_check_bases(g);
}

/* A reset that never completes at the first close. */
static int
fault_stuck_close(struct vu_guest *g)
{
	CHECK_EQ(loop_frames(g, 1, 1000, NULL), 0);
	return stop_check_bases(g);
}


/* ---- Runner ---- */

/* ---- Block devices ---- */

#define BLK_SECTOR	512
#define BLK_CAPACITY	2048		/* the sim's default: 1 MiB */
#define BLK_IO_MAX	(8 * BLK_SECTOR)
#define BLK_CFG_LEN	60		/* virtio_blk_config up to WZ */

static const struct vu_guest_params blk_params = {
	.nr_queues = 2,
	.buf_cap = BLK_IO_MAX + 64,
	.features = (1ULL << VIRTIO_F_VERSION_1) |
		    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		    (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		    (1ULL << VIRTIO_BLK_F_SIZE_MAX) |
		    (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		    (1ULL << VIRTIO_BLK_F_MQ) |
		    (1ULL << VU_F_PROTOCOL_FEATURES),
	/* STATUS and REPLY_ACK asked for: the driver offers neither for blk. */
	.protocol = (1ULL << VU_PF_REPLY_ACK) | (1ULL << VU_PF_MQ) |
		    (1ULL << VU_PF_LOG_SHMFD) | (1ULL << VU_PF_STATUS) |
		    (1ULL << VU_PF_CONFIG) | (1ULL << VU_PF_SLAVE_REQ),
};

static uint8_t blk_buf[BLK_IO_MAX];
static uint8_t blk_got[BLK_IO_MAX];

/* One request on @qid; its status, and @len data bytes into @out. */
static int
blk_do(struct vu_guest *g, uint16_t qid, uint32_t type, uint64_t sector,
       const void *data, uint32_t len, const struct vdrv_blk_opts *o,
       void *out, uint8_t *status)
{
	struct vdrv_blk_done d;

	CHECK_EQ(vu_guest_blk_do(g, qid, type, sector, data, len, o, out, &d,
				 WAIT_MS), 0);
	*status = d.status;
	return 0;
}

static int
blk_write(struct vu_guest *g, uint16_t qid, uint64_t sector,
	  const void *data, uint32_t len, const struct vdrv_blk_opts *o,
	  uint8_t want)
{
	uint8_t st;

	CHECK_EQ(blk_do(g, qid, VIRTIO_BLK_T_OUT, sector, data, len, o, NULL,
			&st), 0);
	CHECK_EQ(st, want);
	return 0;
}

static int
blk_read(struct vu_guest *g, uint16_t qid, uint64_t sector, uint32_t len,
	 const struct vdrv_blk_opts *o, uint8_t want)
{
	uint8_t st;

	CHECK_EQ(blk_do(g, qid, VIRTIO_BLK_T_IN, sector, NULL, len, o,
			blk_got, &st), 0);
	CHECK_EQ(st, want);
	return 0;
}

static uint64_t
le_get(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

#define BLK_CFG_FIELD(cfg, f) le_get(&(cfg)[offsetof(struct virtio_blk_config, \
	f)], sizeof(((struct virtio_blk_config *)0)->f))

/*
 * A blk guest on both queues: features, queue count, the config; with
 * @slave, a slave channel too, set up before the rings as QEMU does.
 */
static int
blk_open_slave(struct vu_guest *g, int *slave)
{
	/*
	 * Queue by queue as this frontend sets them up: configured at the
	 * first ring's enable (vdpa_blk_ready() in the driver), queue 1 added.
	 */
	long confs = vdpa_proc_configures(&vdpa);
	uint8_t cfg[VU_CONFIG_MAX];

	CHECK_EQ(guest_open(g, &blk_params), 0);
	CHECK(!(g->features & (1ULL << VIRTIO_BLK_F_RO)));
	CHECK(g->features & (1ULL << VIRTIO_BLK_F_MQ));
	CHECK(g->protocol & (1ULL << VU_PF_CONFIG));
	CHECK(!(g->protocol & (1ULL << VU_PF_STATUS)));
	CHECK(!(g->protocol & (1ULL << VU_PF_REPLY_ACK)));
	CHECK_EQ(g->max_pairs, 2);	/* GET_QUEUE_NUM: blk queues */
	memset(cfg, 0xff, sizeof(cfg));
	CHECK(vu_get_config(&g->c, BLK_CFG_LEN, cfg) > 0);
	CHECK_EQ(BLK_CFG_FIELD(cfg, capacity), BLK_CAPACITY);
	CHECK_EQ(BLK_CFG_FIELD(cfg, blk_size), BLK_SECTOR);
	CHECK_EQ(BLK_CFG_FIELD(cfg, num_queues), 2);
	CHECK(BLK_CFG_FIELD(cfg, seg_max) > 0);
	CHECK_EQ(BLK_CFG_FIELD(cfg, max_discard_sectors), 0);
	if (slave != NULL) {
		CHECK(g->protocol & (1ULL << VU_PF_SLAVE_REQ));
		CHECK_EQ(vu_set_slave_req_fd(&g->c, slave), 0);
	}
	CHECK_EQ(vu_guest_start(g), 0);
	CHECK_EQ(vdpa_proc_wait_configures(&vdpa, confs + 1, -1, WAIT_MS),
		 confs + 1);
	return 0;
}

static int
blk_open(struct vu_guest *g)
{
	return blk_open_slave(g, NULL);
}

/*
 * A pattern written on queue 0 in several layouts, read back on queue 1
 * byte for byte; GET_ID; the bases handed back are what the guest saw.
 * With dirty logging on (the _log and _sw cases) every page a read wrote
 * is in the frontend's log.
 */
static int
case_blk_io(struct vu_guest *g)
{
	static const struct vdrv_blk_opts layouts[] = {
		{ .nr_segs = 1 }, { .nr_segs = 3 },
		{ .indirect = true, .nr_segs = 2 }, { .nr_segs = 8 },
	};
	char id[VIRTIO_BLK_ID_BYTES];
	const unsigned int n = sizeof(layouts) / sizeof(layouts[0]);
	uint64_t sector = 0;
	unsigned int i;
	uint8_t st;

	if (blk_open(g) < 0 || maybe_log(g) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		vdrv_blk_pattern(blk_buf, sector, BLK_IO_MAX, (uint8_t)i);
		if (blk_write(g, 0, sector, blk_buf, BLK_IO_MAX, &layouts[i],
			      VIRTIO_BLK_S_OK) < 0 ||
		    blk_read(g, 1, sector, BLK_IO_MAX,
			     &layouts[n - 1 - i],
			     VIRTIO_BLK_S_OK) < 0)
			return -1;
		if (memcmp(blk_got, blk_buf, BLK_IO_MAX) != 0) {
			fprintf(stderr, "sector %lu: data differs\n",
				(unsigned long)sector);
			return -1;
		}
		if (cur_case->log &&
		    !vu_guest_log_test(g, g->vq[1].slot[0].buf_gpa + 4096)) {
			fprintf(stderr, "a page the read wrote is not logged\n");
			return -1;
		}
		sector += BLK_IO_MAX / BLK_SECTOR;
	}
	if (blk_do(g, 1, VIRTIO_BLK_T_GET_ID, 0, NULL, sizeof(id), NULL, id,
		   &st) < 0 || st != VIRTIO_BLK_S_OK ||
	    strncmp(id, "ifcvf-sim-blk", sizeof(id)) != 0)
		return -1;
	CHECK_EQ(stop_check_bases(g), 0);
	return check_closes(1);
}

/*
 * Hostile requests and config messages: each gets a clear error, the
 * other queue keeps serving, nothing lands on the disk; a layout the spec
 * forbids stops the device (NEEDS_RESET, logged) until the next frontend,
 * which finds the data written before.
 */
static int
case_blk_hostile(struct vu_guest *g)
{
	static const struct vdrv_blk_opts zero_seg = {
		.nr_segs = 2, .zero_len_seg = true,
	};
	static const struct vdrv_blk_opts bad_layout = {
		.readable_last = true,
	};
	static const uint8_t zero[BLK_IO_MAX];
	uint8_t cfg[VU_CONFIG_MAX];

	CHECK_EQ(blk_open(g), 0);
	vdrv_blk_pattern(blk_buf, 0, BLK_IO_MAX, 9);
	CHECK_EQ(blk_write(g, 0, BLK_CAPACITY - 1, blk_buf, 2 * BLK_SECTOR,
			   NULL, VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(blk_read(g, 1, BLK_CAPACITY, BLK_SECTOR, NULL,
			  VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(blk_write(g, 0, 0, blk_buf, 1024, &zero_seg,
			   VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(blk_write(g, 1, 0, blk_buf, 100, NULL, VIRTIO_BLK_S_IOERR),
		 0);
	CHECK(sim_wait_int("beyond_capacity", 2));
	CHECK(sim_wait_int("zero_length", 1));
	CHECK(sim_wait_int("not_sectors", 1));
	/* Nothing was written: sector 0 and the last one read zero. */
	CHECK_EQ(blk_read(g, 1, 0, BLK_IO_MAX, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, zero, BLK_IO_MAX) == 0);
	CHECK_EQ(blk_read(g, 0, BLK_CAPACITY - 1, BLK_SECTOR, NULL,
			  VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, zero, BLK_SECTOR) == 0);
	/* Config messages out of bounds, and a write to it. */
	CHECK_EQ(vu_get_config(&g->c, 1000, cfg), 0);
	CHECK_EQ(vdpa_proc_wait_error(&vdpa, "config_refused", 1, WAIT_MS), 1);
	cfg[0] = 1;
	CHECK_EQ(vu_set_config(&g->c, 32, cfg, 1), 0);
	CHECK_EQ(vdpa_proc_wait_error(&vdpa, "config_refused", 2, WAIT_MS), 2);
	/* Both queues still serve. */
	CHECK_EQ(blk_write(g, 0, 8, blk_buf, BLK_SECTOR, NULL,
			   VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_read(g, 1, 8, BLK_SECTOR, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);
	/* A readable descriptor after the status: the device stops. */
	CHECK(vdrv_blk_post(&g->vq[0], VIRTIO_BLK_T_IN, 0, NULL, BLK_SECTOR,
			    &bad_layout) >= 0);
	vu_guest_kick(g, 0);
	CHECK(sim_wait_needs_reset());
	/* The driver heard of it (the config interrupt). */
	CHECK(vdpa_proc_wait_error(&vdpa, "needs_reset", 1, WAIT_MS) >= 1);
	CHECK(vdpa_alive());
	/* The next frontend gets a working device, with the data there. */
	vu_guest_fini(g);
	CHECK_EQ(blk_open(g), 0);
	CHECK_EQ(blk_read(g, 0, 8, BLK_SECTOR, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);	/* sector 8 */
	return 0;
}

/*
 * Open a blk guest (logging if the case asks), post 4 writes of one sector
 * from @sector on on queue 0 (blk_buf) and kick once.
 */
static int
blk_open_write4(struct vu_guest *g, uint64_t sector)
{
	unsigned int i;

	CHECK_EQ(blk_open(g), 0);
	CHECK_EQ(maybe_log(g), 0);
	for (i = 0; i < 4; i++) {
		vdrv_blk_pattern(blk_buf + i * BLK_SECTOR, sector + i,
				 BLK_SECTOR, 5);
		CHECK(vdrv_blk_post(&g->vq[0], VIRTIO_BLK_T_OUT, sector + i,
				    blk_buf + i * BLK_SECTOR, BLK_SECTOR,
				    NULL) >= 0);
	}
	vu_guest_kick(g, 0);
	return 0;
}

/* 4 writes posted on queue 0 that the device took and holds (blk_late). */
static int
blk_held4(struct vu_guest *g)
{
	CHECK_EQ(blk_open_write4(g, 0), 0);
	CHECK(sim_wait_int("blk_held", 4));
	CHECK(sim_wait_int("blk_held_until_reset", 0));
	CHECK_EQ(vdrv_vq_pending(&g->vq[0]), 0);
	return 0;
}

/* blk_open_write4's 4 sectors from @sector on read back from the disk. */
static int
blk_check4(struct vu_guest *g, uint64_t sector, const char *what)
{
	CHECK_EQ(blk_read(g, 1, sector, 4 * BLK_SECTOR, NULL,
			  VIRTIO_BLK_S_OK), 0);
	if (memcmp(blk_got, blk_buf, 4 * BLK_SECTOR) != 0) {
		fprintf(stderr, "the %s writes are not on the disk\n", what);
		return -1;
	}
	return 0;
}

/* The 4 completions of blk_held4's writes, each one OK. */
static int
blk_reap4(struct vu_guest *g)
{
	struct vdrv_blk_done d;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		CHECK_EQ(vdrv_blk_reap(&g->vq[0], &d, NULL, 0), 1);
		CHECK_EQ(d.status, VIRTIO_BLK_S_OK);
	}
	return 0;
}

/*
 * A device whose requests complete late (fault=blk_late: only at a later
 * doorbell): at GET_VRING_BASE the driver drains the requests in flight
 * before the ring state goes back, so that none is lost; the next
 * frontend reads the data.
 */
static int
case_blk_drain(struct vu_guest *g)
{
	uint32_t base = 0;

	if (blk_held4(g) < 0)
		return -1;
	/* The stop: every request completes before the state is read. */
	if (vu_get_vring_base(&g->c, 0, &base) < 0 || base != 4 ||
	    vdrv_vq_pending(&g->vq[0]) != 4 || drain_abandoned() != 0) {
		fprintf(stderr, "base %u, %u completed\n", base,
			vdrv_vq_pending(&g->vq[0]));
		return -1;
	}
	if (blk_reap4(g) < 0)
		return -1;
	vu_guest_fini(g);
	if (blk_open(g) < 0)
		return -1;
	return blk_check4(g, 0, "drained");
}

/*
 * The same held requests, and queue 0 disabled on the running device (vhost
 * does at a SET_VRING_CALL on a ready ring, as QEMU sends when the guest
 * masks a vector): the queue's stop drains them first, so none is lost.
 */
static int
case_blk_drain_toggle(struct vu_guest *g)
{
	if (blk_held4(g) < 0)
		return -1;
	if (vu_guest_enable_queues(g, 0, 1, false) < 0 ||
	    vu_guest_sync(g) < 0 || vdrv_vq_pending(&g->vq[0]) != 4 ||
	    drain_abandoned() != 0) {
		fprintf(stderr, "%u of 4 held requests completed at the queue's stop\n",
			vdrv_vq_pending(&g->vq[0]));
		return -1;
	}
	return blk_reap4(g);
}

/*
 * Requests that never complete (fault=blk_stuck): the stop gives up after
 * its bound, says so, and hands back the used index as the ring state; the
 * frontend, reconnected with it, gets the requests carried out again (the
 * fault ends with the device's reset) and their data lands on the disk.
 */
static int
case_blk_drain_timeout(struct vu_guest *g)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES] = { 0 };
	struct vdrv_blk_done d;
	unsigned int i;

	if (blk_open_write4(g, 100) < 0)
		return -1;
	if (!sim_wait_int("blk_held", 4) ||
	    !sim_wait_int("blk_held_until_reset", 1) ||
	    vu_guest_stop(g, bases) < 0 || bases[0] != 0 ||
	    vdrv_vq_pending(&g->vq[0]) != 0 || drain_abandoned() != 4) {
		fprintf(stderr, "base %u, %u completed\n", bases[0],
			vdrv_vq_pending(&g->vq[0]));
		return -1;
	}
	/* The same rings, from the bases handed back: the 4 run again. */
	if (vu_guest_reconnect(g, vdpa.sock, bases) < 0)
		return -1;
	for (i = 0; i < 4; i++)
		if (vu_guest_wait_used(g, 0, WAIT_MS) < 0 ||
		    vdrv_blk_reap(&g->vq[0], &d, NULL, 0) != 1 ||
		    d.status != VIRTIO_BLK_S_OK)
			return -1;
	return blk_check4(g, 100, "replayed");
}

/*
 * A capacity change (the simulated disk resized through telemetry): the
 * driver tells the frontend on its slave channel (CONFIG_CHANGE_MSG), the
 * new config says so, and the new last sector serves.
 */
static int
blk_config_change_body(struct vu_guest *g, int *slave)
{
	uint8_t cfg[VU_CONFIG_MAX];
	char reply[256];
	struct vu_msg m;

	CHECK_EQ(blk_open_slave(g, slave), 0);
	CHECK_EQ(vdpa_proc_telemetry(&vdpa, "/vdpa_ifcvf_sim/blk_resize,"
				     "vdpa_ifcvf_sim0,4096", reply,
				     sizeof(reply)), 0);
	CHECK(strstr(reply, "\"capacity\":4096") != NULL);
	CHECK_EQ(vu_slave_recv(*slave, WAIT_MS, &m), 0);
	CHECK_EQ(m.hdr.request, VU_SLAVE_CONFIG_CHANGE_MSG);
	CHECK(vu_get_config(&g->c, BLK_CFG_LEN, cfg) > 0);
	CHECK_EQ(BLK_CFG_FIELD(cfg, capacity), 4096);
	vdrv_blk_pattern(blk_buf, 4095, BLK_SECTOR, 7);
	CHECK_EQ(blk_write(g, 0, 4095, blk_buf, BLK_SECTOR, NULL,
			   VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_read(g, 1, 4095, BLK_SECTOR, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);
	return stop_check_bases(g);
}

static int
case_blk_config_change(struct vu_guest *g)
{
	int slave = -1;
	int ret;

	ret = blk_config_change_body(g, &slave);
	if (slave >= 0)
		close(slave);
	return ret;
}

#define CASE(n)	.name = #n, .fn = case_##n
#define BLK_DEVARGS	"type=blk,queues=2"

static const struct vu_case cases[] = {
	{ CASE(loop_traffic) },
	/* The relay polling, pinned: the same traffic and the same rings. */
	{ .name = "loop_traffic_poll", .fn = case_loop_traffic,
	  .devargs = "relay=poll,relay-core=0" },
	{ .name = "queue_toggle_poll", .fn = case_queue_toggle,
	  .devargs = "relay=poll" },
	{ .name = "log_smoke_sw_poll", .fn = case_log_smoke, .sw = true,
	  .devargs = "relay=poll" },
	{ .name = "legacy", .fn = case_legacy, .features = LEGACY_FEATURES },
	{ .name = "legacy_mrg", .fn = case_legacy,
	  .features = LEGACY_MRG_FEATURES },
	{ .name = "legacy_virtio", .fn = case_legacy,
	  .features = LEGACY_FEATURES, .devargs = "profile=virtio" },
	{ .name = "legacy_mrg_virtio", .fn = case_legacy,
	  .features = LEGACY_MRG_FEATURES, .devargs = "profile=virtio" },
	{ CASE(ring_outside) },
	{ CASE(ring_tail_outside) },
	{ CASE(ring_straddle) },
	{ CASE(overlap_regions) },
	/* vhost fails to allocate for 0 entries, but keeps size 0. */
	{ .name = "qsize_0", .fn = case_qsize, .qsize = 0,
	  .vhost_msg = "processing VHOST_USER_SET_VRING_NUM failed",
	  .driver_size = 0 },
	{ .name = "qsize_3", .fn = case_qsize, .qsize = 3,
	  .vhost_msg = "invalid virtqueue size 3",
	  .driver_size = 3 },
	/* vhost refuses before storing it: the queue keeps size 0. */
	{ .name = "qsize_65536", .fn = case_qsize, .qsize = 65536,
	  .vhost_msg = "invalid virtqueue size 65536",
	  .driver_size = 0 },
	/* A valid virtio size, larger than the device's maximum (4096). */
	{ .name = "qsize_too_large", .fn = case_qsize, .qsize = 8192,
	  .driver_size = 8192 },
	{ CASE(mem_update) },
	{ CASE(disconnect_after_kick) },
	{ CASE(queue_toggle) },
	{ CASE(too_many_queues) },
	{ CASE(bad_vring_base) },
	{ CASE(log_smoke) },
	{ .name = "log_smoke_sw", .fn = case_log_smoke, .sw = true },
	{ CASE(log_short) },
	{ .name = "log_short_sw", .fn = case_log_short, .sw = true },
	{ CASE(call_swap) },
	{ .name = "call_swap_virtio", .fn = case_call_swap,
	  .devargs = "profile=virtio" },
	{ .name = "call_swap_sw", .fn = case_call_swap, .sw = true, .log = true },
	{ CASE(kick_swap) },
	{ .name = "kick_swap_virtio", .fn = case_kick_swap,
	  .devargs = "profile=virtio" },
	{ .name = "kick_swap_sw", .fn = case_kick_swap, .sw = true, .log = true },
	{ CASE(late_pairs), .devargs = "qp=4" },
	{ .name = "late_pairs_virtio", .fn = case_late_pairs,
	  .devargs = "qp=4,profile=virtio" },
	{ .name = "late_pairs_log", .fn = case_late_pairs, .devargs = "qp=4",
	  .log = true },
	{ .name = "late_pairs_sw", .fn = case_late_pairs, .devargs = "qp=4",
	  .sw = true, .log = true },
	{ CASE(frontend_sequence), .devargs = "qp=4" },
	{ .name = "frontend_sequence_virtio", .fn = case_frontend_sequence,
	  .devargs = "qp=4,profile=virtio" },
	{ CASE(stop_restart) },
	{ .name = "stop_restart_virtio", .fn = case_stop_restart,
	  .devargs = "profile=virtio" },
	{ .name = "fault_dma_map", .fn = case_fault,
	  .devargs = "fail=dma_map:1", .fault_fn = fault_retried },
	{ .name = "fault_dma_map_virtio", .fn = case_fault,
	  .devargs = "profile=virtio,fail=dma_map:1",
	  .fault_fn = fault_retried },
	/* The second map is the shadow rings', at LOG_ALL. */
	{ .name = "fault_dma_map_log", .fn = case_fault, .sw = true,
	  .log = true, .devargs = "fail=dma_map:2",
	  .fault_fn = fault_no_traffic },
	{ .name = "fault_dma_map_log_hw", .fn = case_fault, .log = true,
	  .devargs = "fail=dma_map:2", .fault_fn = fault_no_traffic },
	{ .name = "fault_queue_enable", .fn = case_fault,
	  .devargs = "fail=queue_enable:1", .fault_fn = fault_retried },
	{ .name = "fault_queue_disable", .fn = case_fault,
	  .devargs = "fail=queue_disable:1", .fault_fn = fault_disable },
	/* Enables 1, 2: dev_conf's; 3: the restart's, on shadow rings. */
	{ .name = "fault_log_restart", .fn = case_fault, .sw = true,
	  .devargs = "fail=queue_enable:3", .fault_fn = fault_log_restart },
	/* No disable before LOG_ALL's: the move onto shadow rings. */
	{ .name = "fault_log_switch", .fn = case_fault, .sw = true,
	  .devargs = "fail=queue_disable:1", .fault_fn = fault_log_switch },
	/*
	 * The first MSI-X routing fails: dev_conf unwinds and is retried.
	 * On a virtio VF, the one of the restart onto shadow rings when
	 * LOG_ALL comes: the shadow rings are undone before the device ran,
	 * and the VF is stopped with the rings' state handed back.
	 */
	{ .name = "fault_set_irqs", .fn = case_fault,
	  .devargs = "fail=set_irqs:1", .fault_fn = fault_retried },
	{ .name = "fault_set_irqs_log_virtio", .fn = case_fault, .sw = true,
	  .log = true, .devargs = "profile=virtio,fail=set_irqs:2",
	  .fault_fn = fault_no_traffic },
	{ .name = "fault_reset", .fn = case_fault,
	  .devargs = "fail=reset:2", .fault_fn = fault_stuck_close },
	{ .name = "fault_reset_virtio", .fn = case_fault,
	  .devargs = "profile=virtio,fail=reset:2",
	  .fault_fn = fault_stuck_close },
	{ CASE(blk_io), .devargs = BLK_DEVARGS },
	{ .name = "blk_io_virtio", .fn = case_blk_io,
	  .devargs = BLK_DEVARGS ",profile=virtio" },
	{ .name = "blk_io_log", .fn = case_blk_io, .devargs = BLK_DEVARGS,
	  .log = true },
	{ .name = "blk_io_sw", .fn = case_blk_io, .devargs = BLK_DEVARGS,
	  .sw = true, .log = true },
	{ CASE(blk_hostile), .devargs = BLK_DEVARGS },
	{ CASE(blk_config_change), .devargs = BLK_DEVARGS },
	{ CASE(blk_drain), .devargs = BLK_DEVARGS ",fault=blk_late" },
	{ CASE(blk_drain_toggle), .devargs = BLK_DEVARGS ",fault=blk_late" },
	{ .name = "blk_drain_sw", .fn = case_blk_drain, .sw = true,
	  .log = true, .devargs = BLK_DEVARGS ",fault=blk_late" },
	{ CASE(blk_drain_timeout), .devargs = BLK_DEVARGS ",fault=blk_stuck" },
	{ .name = "blk_drain_timeout_sw", .fn = case_blk_drain_timeout,
	  .sw = true, .log = true, .devargs = BLK_DEVARGS ",fault=blk_stuck" },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

/* The case in its guest, closed after it whatever the case left open. */
static int
case_in_guest(void)
{
	struct vu_guest g;
	int ret;

	vu_guest_init(&g);
	ret = cur_case->fn(&g);
	vu_guest_fini(&g);
	return ret;
}

static int
run_case(const struct test_case *tc)
{
	const struct vu_case *c = tc->param;
	char devargs[256];

	snprintf(devargs, sizeof(devargs), "wire=loop%s%s%s",
		 c->sw ? ",sw-live-migration=1" : "",
		 c->devargs != NULL ? "," : "",
		 c->devargs != NULL ? c->devargs : "");
	cur_case = c;
	vdpa_proc_init(&vdpa, "test_vu", c->name);
	return vdpa_proc_run(&vdpa, devargs, case_in_guest);
}

int
main(int argc, char **argv)
{
	static struct test_case runs[NR_CASES];
	const struct test_suite suite = {
		.name = "vu", .cases = runs, .nr_cases = NR_CASES,
		.run = run_case,
	};
	unsigned int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s <builddir> [<case>...|all|list]\n",
			argv[0]);
		return 2;
	}
	for (i = 0; i < NR_CASES; i++)
		runs[i] = (struct test_case){
			.name = cases[i].name, .param = &cases[i],
		};
	vdpa_proc_setup(&vdpa, argv[1], vdpa_args);
	return test_main(&suite, argc - 2, argv + 2);
}
