/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulator's datapath, driven by the guest driver of vring_drv.c
 * through the HW layer: traffic on the wire, descriptor layouts, merged
 * RX buffers, interrupt suppression, dirty logging, faults and teardown.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_common.h>
#include <rte_log.h>

#include "ifcvf_hw.h"
#include "ifcvf_sim.h"
#include "test.h"
#include "vring_drv.h"

#define GUEST_GPA	0x40000000ULL
#define GUEST_LEN	(64ULL << 20)
#define LOG_IOVA	0x100000000ULL	/* outside guest memory */
#define BAD_GPA		0x10000000ULL	/* mapped by nobody */
#define WAIT_MS		2000
#define STATUS_NEEDS_RESET	0x40

/* ---- Fixture: one sim, its guest memory and a guest driver ---- */

struct fx {
	struct ifcvf_sim *sim;
	struct vdrv_mem mem;
	struct vdrv_dev dev;
	bool dev_up;
};

/* Create the sim of @sp, map guest memory, bring the guest driver up. */
static int
fx_setup_params(struct fx *f, const struct ifcvf_sim_params *sp,
		const struct vdrv_dev_params *dp)
{
	const char *name = sp->name;
	int ret;

	memset(f, 0, sizeof(*f));
	f->sim = ifcvf_sim_create(sp);
	if (f->sim == NULL) {
		fprintf(stderr, "ifcvf_sim_create(%s): %s\n", name,
			strerror(errno));
		return -1;
	}
	ret = vdrv_mem_init(&f->mem, GUEST_GPA, GUEST_LEN);
	if (ret < 0)
		return ret;
	ret = ifcvf_sim_dma_map(f->sim, (uint64_t)(uintptr_t)f->mem.host,
				f->mem.gpa, f->mem.len);
	if (ret < 0) {
		fprintf(stderr, "ifcvf_sim_dma_map: %d\n", ret);
		return ret;
	}
	ret = vdrv_dev_init(&f->dev, f->sim, &f->mem, dp);
	if (ret < 0) {
		fprintf(stderr, "vdrv_dev_init(%s): %d\n", name, ret);
		return ret;
	}
	f->dev_up = true;
	return 0;
}

static int
fx_setup(struct fx *f, const char *name, enum ifcvf_sim_profile profile,
	 const struct vdrv_dev_params *dp)
{
	struct ifcvf_sim_params sp = {
		.name = name,
		.profile = profile,
		.nr_queue_pairs = dp->nr_pairs,
		.mac = { 0x02, 0x00, 0x00, 0x00, 0x10, 0x01 },
	};

	return fx_setup_params(f, &sp, dp);
}

static void
fx_teardown(struct fx *f)
{
	if (f->dev_up)
		vdrv_dev_fini(&f->dev);
	f->dev_up = false;
	if (f->sim != NULL)
		ifcvf_sim_destroy(f->sim);
	f->sim = NULL;
	vdrv_mem_fini(&f->mem);
}

static struct ifcvf_sim_queue_info
qinfo(struct ifcvf_sim *sim, uint16_t qid)
{
	struct ifcvf_sim_queue_info info;

	memset(&info, 0, sizeof(info));
	ifcvf_sim_queue_info(sim, qid, &info);
	return info;
}

static struct ifcvf_sim_queue_stats
qstats(struct ifcvf_sim *sim, uint16_t qid)
{
	struct ifcvf_sim_queue_stats st;

	memset(&st, 0, sizeof(st));
	ifcvf_sim_queue_stats(sim, qid, &st);
	return st;
}

/* ---- Traffic ---- */

/* Scratch for the cases that build frames by hand. */
static uint8_t frame_buf[VDRV_FRAME_MAX];
static uint8_t rx_buf[VDRV_FRAME_MAX + VDRV_PAGE_SIZE];

/* Run @n flows to completion; fails after WAIT_MS without progress. */
static int
run_flows(struct vdrv_flow *fl, unsigned int n)
{
	uint64_t last = test_now_ms();
	unsigned int i;

	for (i = 0; i < n; i++)
		vdrv_flow_prime(&fl[i]);
	for (;;) {
		unsigned int progress = 0, done = 0;

		for (i = 0; i < n; i++) {
			progress += vdrv_flow_step(&fl[i]);
			if (fl[i].err != 0)
				break;
			done += vdrv_flow_done(&fl[i]);
		}
		if (done == n)
			return 0;
		if (progress > 0)
			last = test_now_ms();
		if (i < n || test_now_ms() - last > WAIT_MS) {
			if (i == n)
				fprintf(stderr, "traffic stalled\n");
			for (i = 0; i < n; i++)
				vdrv_flow_dump(&fl[i]);
			return -1;
		}
		if (progress == 0)
			usleep(100);
	}
}

static const struct vdrv_dev_params params_1pair = {
	.nr_pairs = 1,
};

/* ---- Loop wire, one pair ---- */

static int
loop_body(struct fx *f)
{
	struct ifcvf_sim_queue_stats rs, ts;
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "loop", IFCVF_SIM_PROFILE_IFCVF, &params_1pair),
		 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 7, 1000);
	CHECK_EQ(run_flows(&fl, 1), 0);
	CHECK_EQ(fl.rcvd, 1000);
	CHECK_EQ(fl.tx_done, 1000);
	CHECK_EQ(vdrv_vq_inflight(&f->dev.vq[vdrv_txq(0)]), 0);

	/* Interrupts: the eventfds and the sim's own count. */
	CHECK(vdrv_dev_irqs(&f->dev, vdrv_rxq(0)) > 0);
	CHECK(vdrv_dev_irqs(&f->dev, vdrv_txq(0)) > 0);
	rs = qstats(f->sim, vdrv_rxq(0));
	ts = qstats(f->sim, vdrv_txq(0));
	CHECK_EQ(ts.packets, 1000);
	CHECK_EQ(rs.packets, 1000);
	/* Bytes count the frames, with or without their headers. */
	CHECK(ts.bytes == fl.bytes ||
	      ts.bytes == fl.bytes + 1000 * VDRV_NET_HDR_LEN);
	CHECK(rs.irqs > 0 && ts.irqs > 0);
	CHECK(ts.kicks > 0);
	CHECK_EQ(rs.drops + ts.drops, 0);
	CHECK_EQ(ifcvf_sim_dma_faults(f->sim), 0);
	CHECK(!qinfo(f->sim, vdrv_txq(0)).broken);
	return 0;
}

/* ---- Descriptor layouts ---- */

static const struct vdrv_tx_opts tx_layouts[] = {
	{ .hdr_separate = true, .nr_segs = 1 },
	{ .nr_segs = 3 },
	{ .hdr_separate = true, .nr_segs = 5 },
	{ .indirect = true, .nr_segs = 1 },
	{ .indirect = true, .hdr_separate = true, .nr_segs = 4 },
	{ .indirect = true, .nr_segs = VDRV_MAX_SEGS },
	{ .nr_segs = VDRV_MAX_SEGS },
	{ .nr_segs = 1 },
};

static int
tx_chain_body(struct fx *f)
{
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "txchain", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 1, 400);
	fl.opts = tx_layouts;
	fl.nr_opts = sizeof(tx_layouts) / sizeof(tx_layouts[0]);
	CHECK_EQ(run_flows(&fl, 1), 0);
	CHECK_EQ(fl.rcvd, 400);
	CHECK_EQ(qstats(f->sim, vdrv_txq(0)).packets, 400);
	return 0;
}

static int
rx_split_body(struct fx *f)
{
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "rxsplit", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	/* 2000 bytes in 5 pieces of 400: a full frame takes 4. */
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 2, 400);
	fl.rx_len = 2000;
	fl.rx_segs = 5;
	CHECK_EQ(run_flows(&fl, 1), 0);
	CHECK_EQ(fl.rcvd, 400);
	CHECK_EQ(fl.max_nb, 1);
	return 0;
}

static int
rx_mergeable_body(struct fx *f)
{
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "mrg", IFCVF_SIM_PROFILE_IFCVF, &params_1pair),
		 0);
	CHECK(f->dev.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 3, 300);
	fl.rx_len = 256;
	fl.mrg_buf = 256;
	CHECK_EQ(run_flows(&fl, 1), 0);
	CHECK_EQ(fl.rcvd, 300);
	/* A 1514-byte frame takes 6 buffers of 256. */
	CHECK_EQ(fl.max_nb, 6);
	CHECK_EQ(qstats(f->sim, vdrv_rxq(0)).packets, 300);
	return 0;
}

/* Without MRG_RXBUF a frame bigger than the buffer is dropped. */
static int
rx_too_big_body(struct fx *f)
{
	struct vdrv_dev_params dp = params_1pair;
	struct vdrv_vq *tx, *rx;
	struct ifcvf_sim_queue_stats rs, ts;
	uint32_t len = 0, st, sq;
	uint16_t nb;
	int ret = 0;

	dp.features = ifcvf_sim_default_features(IFCVF_SIM_PROFILE_IFCVF) &
		~(1ULL << VIRTIO_NET_F_MRG_RXBUF);
	CHECK_EQ(fx_setup(f, "toobig", IFCVF_SIM_PROFILE_IFCVF, &dp), 0);
	CHECK(!(f->dev.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF)));
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	tx = &f->dev.vq[vdrv_txq(0)];
	rx = &f->dev.vq[vdrv_rxq(0)];
	CHECK(vdrv_rx_fill(rx, 256, 1) > 0);
	vdrv_dev_kick(&f->dev, vdrv_rxq(0));

	vdrv_frame_fill(frame_buf, 1000, 4, 0);
	CHECK(vdrv_tx_post(tx, frame_buf, 1000, NULL) >= 0);
	vdrv_dev_kick(&f->dev, vdrv_txq(0));
	CHECK(WAIT_FOR(qstats(f->sim, vdrv_rxq(0)).drops +
		       qstats(f->sim, vdrv_txq(0)).drops >= 1, WAIT_MS));

	/* A frame that fits still gets through, and only that one. */
	vdrv_frame_fill(frame_buf, 60, 4, 1);
	CHECK(vdrv_tx_post(tx, frame_buf, 60, NULL) >= 0);
	vdrv_dev_kick(&f->dev, vdrv_txq(0));
	CHECK(WAIT_FOR((ret = vdrv_rx_reap(rx, rx_buf, sizeof(rx_buf), &len,
					  &nb)) != 0 && ret != -ENODATA,
		       WAIT_MS));
	CHECK_EQ(ret, 1);
	CHECK_EQ(len, 60);
	CHECK_EQ(nb, 1);
	CHECK_EQ(vdrv_frame_check(rx_buf, len, &st, &sq), 0);
	CHECK_EQ(sq, 1);
	CHECK(WAIT_FOR(vdrv_vq_pending(tx) == 2, WAIT_MS));
	rs = qstats(f->sim, vdrv_rxq(0));
	ts = qstats(f->sim, vdrv_txq(0));
	CHECK_EQ(rs.drops + ts.drops, 1);
	CHECK_EQ(rs.packets, 1);
	CHECK(!qinfo(f->sim, vdrv_rxq(0)).broken);
	return 0;
}

/*
 * Frames sent with no RX buffer posted wait in the device's backlog; a
 * reset drops them, as a NIC does, and counts them. A lossy flow skips
 * the gap, the frames after it arrive whole and in order.
 */
#define HELD_FRAMES	10

static int
reset_drops_body(struct fx *f)
{
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "rstdrop", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 8, HELD_FRAMES);
	fl.lossy = true;
	/* Not primed: the RX ring stays empty. */
	CHECK(WAIT_FOR((vdrv_flow_step(&fl), fl.tx_done == HELD_FRAMES),
		       WAIT_MS));
	CHECK_EQ(fl.rcvd, 0);
	CHECK_EQ(qstats(f->sim, vdrv_txq(0)).packets, HELD_FRAMES);
	CHECK_EQ(ifcvf_sim_get_state(f->sim).reset_drops, 0);

	CHECK_EQ(vdrv_dev_restart(&f->dev), 0);
	CHECK_EQ(ifcvf_sim_get_state(f->sim).reset_drops, HELD_FRAMES);
	fl.total = HELD_FRAMES + 100;
	CHECK_EQ(run_flows(&fl, 1), 0);
	CHECK_EQ(fl.rcvd, 100);
	CHECK_EQ(fl.lost, HELD_FRAMES);
	/* Nothing was waiting at this reset. */
	CHECK_EQ(vdrv_dev_restart(&f->dev), 0);
	CHECK_EQ(ifcvf_sim_get_state(f->sim).reset_drops, HELD_FRAMES);
	CHECK_EQ(qstats(f->sim, vdrv_rxq(0)).drops, 0);
	return 0;
}

/* ---- Two sims on a wire ---- */

static int
wire_pairs_body(struct fx *a, struct fx *b)
{
	struct vdrv_dev_params dp = { .nr_pairs = 4 };
	struct vdrv_flow fl[8];
	uint16_t p;

	CHECK_EQ(fx_setup(a, "wireA", IFCVF_SIM_PROFILE_IFCVF, &dp), 0);
	CHECK_EQ(fx_setup(b, "wireB", IFCVF_SIM_PROFILE_VIRTIO, &dp), 0);
	CHECK_EQ(ifcvf_sim_wire_connect(a->sim, b->sim), 0);
	for (p = 0; p < 4; p++) {
		vdrv_flow_init(&fl[p], &a->dev, p, &b->dev, p, 10 + p, 300);
		vdrv_flow_init(&fl[4 + p], &b->dev, p, &a->dev, p, 20 + p, 300);
	}
	CHECK_EQ(run_flows(fl, 8), 0);
	for (p = 0; p < 4; p++) {
		CHECK_EQ(qstats(b->sim, vdrv_rxq(p)).packets, 300);
		CHECK_EQ(qstats(a->sim, vdrv_rxq(p)).packets, 300);
		CHECK_EQ(qstats(a->sim, vdrv_txq(p)).packets, 300);
	}
	return 0;
}

/* ---- 32 pairs ---- */

static int
pairs32_body(struct fx *f)
{
	struct vdrv_dev_params dp = {
		.nr_pairs = IFCVF_MAX_QUEUE_PAIRS,
		.queue_size = 64,
	};
	static struct vdrv_flow fl[IFCVF_MAX_QUEUE_PAIRS];
	uint16_t p;

	CHECK_EQ(fx_setup(f, "pairs32", IFCVF_SIM_PROFILE_IFCVF, &dp), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	for (p = 0; p < IFCVF_MAX_QUEUE_PAIRS; p++)
		vdrv_flow_init(&fl[p], &f->dev, p, &f->dev, p, 100 + p, 100);
	CHECK_EQ(run_flows(fl, IFCVF_MAX_QUEUE_PAIRS), 0);
	for (p = 0; p < IFCVF_MAX_QUEUE_PAIRS; p++) {
		CHECK_EQ(fl[p].rcvd, 100);
		CHECK_EQ(qstats(f->sim, vdrv_txq(p)).packets, 100);
		CHECK_EQ(qstats(f->sim, vdrv_rxq(p)).packets, 100);
		CHECK(qstats(f->sim, vdrv_rxq(p)).irqs > 0);
	}
	return 0;
}

/* ---- Interrupt suppression ---- */

/* Send @n more frames of @fl and wait until all are reaped. */
static int
run_some(struct vdrv_flow *fl, uint32_t n)
{
	fl->total += n;
	CHECK_EQ(run_flows(fl, 1), 0);
	return 0;
}

static int
no_interrupt_body(struct fx *f)
{
	struct vdrv_dev_params dp = params_1pair;
	uint64_t rx_irqs, tx_irqs;
	struct vdrv_flow fl;

	dp.features = ifcvf_sim_default_features(IFCVF_SIM_PROFILE_IFCVF) &
		~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	CHECK_EQ(fx_setup(f, "noirq", IFCVF_SIM_PROFILE_IFCVF, &dp), 0);
	CHECK(!f->dev.vq[0].event_idx);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 9, 0);

	vdrv_vq_set_no_interrupt(&f->dev.vq[vdrv_rxq(0)], true);
	vdrv_vq_set_no_interrupt(&f->dev.vq[vdrv_txq(0)], true);
	vdrv_dev_irqs(&f->dev, vdrv_rxq(0));
	vdrv_dev_irqs(&f->dev, vdrv_txq(0));
	rx_irqs = qstats(f->sim, vdrv_rxq(0)).irqs;
	tx_irqs = qstats(f->sim, vdrv_txq(0)).irqs;
	CHECK_EQ(run_some(&fl, 50), 0);
	usleep(20000);
	CHECK_EQ(vdrv_dev_irqs(&f->dev, vdrv_rxq(0)), 0);
	CHECK_EQ(vdrv_dev_irqs(&f->dev, vdrv_txq(0)), 0);
	CHECK_EQ(qstats(f->sim, vdrv_rxq(0)).irqs, rx_irqs);
	CHECK_EQ(qstats(f->sim, vdrv_txq(0)).irqs, tx_irqs);

	vdrv_vq_set_no_interrupt(&f->dev.vq[vdrv_rxq(0)], false);
	vdrv_vq_set_no_interrupt(&f->dev.vq[vdrv_txq(0)], false);
	CHECK_EQ(run_some(&fl, 50), 0);
	CHECK(WAIT_FOR(vdrv_dev_irqs(&f->dev, vdrv_rxq(0)) > 0, WAIT_MS));
	CHECK(WAIT_FOR(vdrv_dev_irqs(&f->dev, vdrv_txq(0)) > 0, WAIT_MS));
	return 0;
}

static int
event_idx_body(struct fx *f)
{
	struct vdrv_vq *rx, *tx;
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "evidx", IFCVF_SIM_PROFILE_IFCVF, &params_1pair),
		 0);
	rx = &f->dev.vq[vdrv_rxq(0)];
	tx = &f->dev.vq[vdrv_txq(0)];
	CHECK(rx->event_idx && tx->event_idx);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 9, 0);

	/* used_event far ahead: no interrupt at all. */
	rx->irq_on = false;
	tx->irq_on = false;
	vdrv_vq_set_used_event(rx, rx->last_used_idx + 0x8000);
	vdrv_vq_set_used_event(tx, tx->last_used_idx + 0x8000);
	vdrv_dev_irqs(&f->dev, vdrv_rxq(0));
	vdrv_dev_irqs(&f->dev, vdrv_txq(0));
	CHECK_EQ(run_some(&fl, 30), 0);
	usleep(20000);
	CHECK_EQ(vdrv_dev_irqs(&f->dev, vdrv_rxq(0)), 0);
	CHECK_EQ(vdrv_dev_irqs(&f->dev, vdrv_txq(0)), 0);

	/* The device publishes its avail index for the driver. */
	CHECK(WAIT_FOR(vdrv_vq_avail_event(tx) == tx->avail_idx, WAIT_MS));
	CHECK_EQ(vdrv_vq_avail_event(tx), 30);

	/*
	 * used_event 4 entries ahead on RX: exactly one interrupt, from
	 * the round whose used entries pass it.
	 */
	vdrv_vq_set_used_event(rx, rx->last_used_idx + 4);
	CHECK_EQ(run_some(&fl, 30), 0);
	usleep(20000);
	CHECK_EQ(vdrv_dev_irqs(&f->dev, vdrv_rxq(0)), 1);
	CHECK_EQ(vdrv_dev_irqs(&f->dev, vdrv_txq(0)), 0);

	/* Back to interrupts on every reap. */
	vdrv_vq_irq_enable(rx, true);
	vdrv_vq_irq_enable(tx, true);
	CHECK_EQ(run_some(&fl, 30), 0);
	CHECK(WAIT_FOR(vdrv_dev_irqs(&f->dev, vdrv_rxq(0)) > 0, WAIT_MS));
	CHECK(WAIT_FOR(vdrv_dev_irqs(&f->dev, vdrv_txq(0)) > 0, WAIT_MS));
	CHECK(WAIT_FOR(vdrv_vq_avail_event(tx) == 90, WAIT_MS));
	return 0;
}

/* ---- Dirty logging ---- */

static bool
pfn_in(const uint64_t *set, size_t n, uint64_t pfn)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == pfn)
			return true;
	return false;
}

/* Collect the set bits of @bm as sorted pfns into @out. */
static size_t
bitmap_pfns(const uint8_t *bm, size_t len, uint64_t *out, size_t max)
{
	size_t i, n = 0;
	unsigned int b;

	for (i = 0; i < len; i++)
		for (b = 0; b < 8; b++)
			if (bm[i] & (1u << b)) {
				if (n < max)
					out[n] = (uint64_t)i * 8 + b;
				n++;
			}
	return n;
}

#define MAX_PFNS	8192

static int
check_logged_page(const uint64_t *set, size_t n, uint64_t gpa,
		  const char *what)
{
	if (!pfn_in(set, n, gpa >> 12)) {
		fprintf(stderr, "%s page 0x%" PRIx64 " not logged\n", what,
			gpa >> 12);
		return -1;
	}
	return 0;
}

static int
dirty_log_body(struct fx *f, uint8_t *bm, size_t bm_len)
{
	static uint64_t got[MAX_PFNS], truth[MAX_PFNS];
	struct vdrv_vq *rx, *tx;
	size_t n_got, n_truth, i;
	struct vdrv_flow fl;

	CHECK_EQ(fx_setup(f, "dirty", IFCVF_SIM_PROFILE_IFCVF, &params_1pair),
		 0);
	CHECK(f->dev.hw.has_lm);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	CHECK_EQ(ifcvf_sim_dma_map(f->sim, (uint64_t)(uintptr_t)bm, LOG_IOVA,
				   bm_len), 0);
	rx = &f->dev.vq[vdrv_rxq(0)];
	tx = &f->dev.vq[vdrv_txq(0)];
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 5, 0);

	/* Logging on: the bitmap and the truth agree page for page. */
	ifcvf_sim_truth_reset(f->sim);
	CHECK_EQ(ifcvf_hw_log_enable(&f->dev.hw, LOG_IOVA, bm_len), 0);
	CHECK_EQ(run_some(&fl, 64), 0);
	usleep(20000);
	CHECK_EQ(ifcvf_hw_log_disable(&f->dev.hw), 0);
	n_got = bitmap_pfns(bm, bm_len, got, MAX_PFNS);
	n_truth = ifcvf_sim_truth_pages(f->sim, 0, truth, MAX_PFNS);
	CHECK(n_got > 0 && n_got <= MAX_PFNS);
	CHECK_EQ(n_got, n_truth);
	for (i = 0; i < n_got; i++)
		if (got[i] != truth[i]) {
			fprintf(stderr, "pfn %zu: bitmap 0x%" PRIx64
				" truth 0x%" PRIx64 "\n", i, got[i], truth[i]);
			return -1;
		}
	CHECK_EQ(check_logged_page(got, n_got, rx->used_gpa, "RX used"), 0);
	CHECK_EQ(check_logged_page(got, n_got, tx->used_gpa, "TX used"), 0);
	/* The first 64 RX buffers (heads 0..63) took the frames. */
	for (i = 0; i < 64; i++)
		CHECK_EQ(check_logged_page(got, n_got, rx->slot[i].buf_gpa,
					   "RX buffer"), 0);
	/* Pages the device only reads are not dirty. */
	CHECK(!pfn_in(got, n_got, tx->desc_gpa >> 12));
	CHECK(!pfn_in(got, n_got, tx->avail_gpa >> 12));
	CHECK(!pfn_in(got, n_got, tx->slot[0].buf_gpa >> 12));

	/* Logging off: the bitmap stays clean, the truth still grows. */
	memset(bm, 0, bm_len);
	ifcvf_sim_truth_reset(f->sim);
	CHECK_EQ(run_some(&fl, 64), 0);
	usleep(20000);
	CHECK_EQ(bitmap_pfns(bm, bm_len, got, MAX_PFNS), 0);
	n_truth = ifcvf_sim_truth_pages(f->sim, 0, truth, MAX_PFNS);
	CHECK(n_truth > 0);
	CHECK(pfn_in(truth, n_truth, rx->used_gpa >> 12));
	return 0;
}

/* ---- Faults ---- */

static int
expect_broken(struct fx *f, uint16_t qid)
{
	CHECK(WAIT_FOR(qinfo(f->sim, qid).broken, WAIT_MS));
	CHECK(ifcvf_sim_get_state(f->sim).status & STATUS_NEEDS_RESET);
	CHECK(ifcvf_hw_get_status(&f->dev.hw) & STATUS_NEEDS_RESET);
	/* The config interrupt tells the driver. */
	CHECK(WAIT_FOR(vdrv_dev_irqs(&f->dev, f->dev.config_vector) > 0,
		       WAIT_MS));
	return 0;
}

/* After a reset the device works again. */
static int
expect_recovers(struct fx *f)
{
	struct vdrv_flow fl;

	CHECK_EQ(vdrv_dev_restart(&f->dev), 0);
	CHECK(!(ifcvf_sim_get_state(f->sim).status & STATUS_NEEDS_RESET));
	CHECK(!qinfo(f->sim, vdrv_txq(0)).broken);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 6, 50);
	CHECK_EQ(run_flows(&fl, 1), 0);
	return 0;
}

static int
dma_fault_desc_body(struct fx *f)
{
	struct vdrv_vq *tx;
	int head;

	CHECK_EQ(fx_setup(f, "dmadesc", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	tx = &f->dev.vq[vdrv_txq(0)];
	head = vdrv_vq_take_desc(tx);
	CHECK(head >= 0);
	tx->desc[head].addr = BAD_GPA;
	tx->desc[head].len = 100;
	tx->desc[head].flags = 0;
	vdrv_vq_publish(tx, head);
	vdrv_dev_kick(&f->dev, vdrv_txq(0));
	CHECK_EQ(expect_broken(f, vdrv_txq(0)), 0);
	CHECK(ifcvf_sim_dma_faults(f->sim) > 0);
	CHECK_EQ(expect_recovers(f), 0);
	return 0;
}

static int
dma_fault_unmap_body(struct fx *f)
{
	struct vdrv_vq *tx;

	CHECK_EQ(fx_setup(f, "dmaunmap", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	tx = &f->dev.vq[vdrv_txq(0)];
	CHECK_EQ(ifcvf_sim_dma_unmap(f->sim, f->mem.gpa, f->mem.len), 0);
	CHECK_EQ(ifcvf_sim_dma_map_count(f->sim), 0);
	vdrv_frame_fill(frame_buf, 100, 6, 0);
	CHECK(vdrv_tx_post(tx, frame_buf, 100, NULL) >= 0);
	vdrv_dev_kick(&f->dev, vdrv_txq(0));
	CHECK_EQ(expect_broken(f, vdrv_txq(0)), 0);
	CHECK(ifcvf_sim_dma_faults(f->sim) > 0);

	CHECK_EQ(ifcvf_sim_dma_map(f->sim, (uint64_t)(uintptr_t)f->mem.host,
				   f->mem.gpa, f->mem.len), 0);
	CHECK_EQ(expect_recovers(f), 0);
	return 0;
}

enum malformed {
	MAL_LOOP,		/* descriptors chained in a circle */
	MAL_NEXT_OOR,		/* next >= size */
	MAL_HEAD_OOR,		/* avail ring names a head >= size */
	MAL_TX_WRITABLE,	/* device-writable descriptor on TX */
	MAL_INDIRECT_LEN,	/* indirect table length not 16 * n */
};

static int
malformed_body(struct fx *f, enum malformed kind)
{
	struct vdrv_vq *tx;
	uint64_t buf_gpa;
	int h0, h1;

	CHECK_EQ(fx_setup(f, "malformed", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	tx = &f->dev.vq[vdrv_txq(0)];
	h0 = vdrv_vq_take_desc(tx);
	h1 = vdrv_vq_take_desc(tx);
	CHECK(h0 >= 0 && h1 >= 0);
	buf_gpa = tx->slot[h0].buf_gpa;
	memset(tx->slot[h0].buf, 0, 256);
	tx->desc[h0] = (struct vring_desc){
		.addr = buf_gpa, .len = 64, .flags = 0,
	};
	tx->desc[h1] = (struct vring_desc){
		.addr = buf_gpa + 64, .len = 64, .flags = 0,
	};
	switch (kind) {
	case MAL_LOOP:
		tx->desc[h0].flags = VRING_DESC_F_NEXT;
		tx->desc[h0].next = h1;
		tx->desc[h1].flags = VRING_DESC_F_NEXT;
		tx->desc[h1].next = h0;
		break;
	case MAL_NEXT_OOR:
		tx->desc[h0].flags = VRING_DESC_F_NEXT;
		tx->desc[h0].next = tx->size + 3;
		break;
	case MAL_HEAD_OOR:
		h0 = tx->size + 1;
		break;
	case MAL_TX_WRITABLE:
		tx->desc[h0].flags = VRING_DESC_F_NEXT;
		tx->desc[h0].next = h1;
		tx->desc[h1].flags = VRING_DESC_F_WRITE;
		break;
	case MAL_INDIRECT_LEN:
		tx->desc[h0].addr = tx->slot[h0].indirect_gpa;
		tx->desc[h0].len = 24;
		tx->desc[h0].flags = VRING_DESC_F_INDIRECT;
		tx->slot[h0].indirect[0] = (struct vring_desc){
			.addr = buf_gpa, .len = 64,
		};
		break;
	}
	vdrv_vq_publish(tx, (uint16_t)h0);
	vdrv_dev_kick(&f->dev, vdrv_txq(0));
	CHECK_EQ(expect_broken(f, vdrv_txq(0)), 0);
	/* Nothing made it to the wire. */
	CHECK_EQ(qstats(f->sim, vdrv_rxq(0)).packets, 0);
	CHECK_EQ(expect_recovers(f), 0);
	return 0;
}

/* ---- Ring state ---- */

static int
ring_state_body(struct fx *f)
{
	struct ifcvf_sim_queue_info before;
	struct vdrv_flow fl;
	uint16_t q;

	CHECK_EQ(fx_setup(f, "ringstate", IFCVF_SIM_PROFILE_IFCVF,
			  &params_1pair), 0);
	CHECK_EQ(ifcvf_sim_wire_loop(f->sim), 0);
	vdrv_flow_init(&fl, &f->dev, 0, &f->dev, 0, 8, 37);
	CHECK_EQ(run_flows(&fl, 1), 0);
	for (q = 0; q < 2; q++) {
		before = qinfo(f->sim, q);
		CHECK(before.enabled);
		CHECK_EQ(before.last_avail_idx, 37);
		CHECK_EQ(before.last_used_idx, 37);
		CHECK_EQ(ifcvf_hw_queue_disable(&f->dev.hw, q, &f->dev.vring[q]), 0);
		CHECK(!qinfo(f->sim, q).enabled);
		CHECK_EQ(f->dev.vring[q].last_avail_idx,
			 before.last_avail_idx);
		CHECK_EQ(f->dev.vring[q].last_used_idx,
			 before.last_used_idx);
	}
	return 0;
}

/* ---- Teardown ---- */

static int
count_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
teardown_body(struct fx *a, struct fx *b)
{
	struct vdrv_dev_params dp = { .nr_pairs = 2 };
	int tasks, fds;
	struct vdrv_flow fl[2];

	tasks = count_dir("/proc/self/task");
	fds = count_dir("/proc/self/fd");
	CHECK(tasks > 0 && fds > 0);

	CHECK_EQ(fx_setup(a, "tdA", IFCVF_SIM_PROFILE_IFCVF, &dp), 0);
	CHECK_EQ(fx_setup(b, "tdB", IFCVF_SIM_PROFILE_VIRTIO, &dp), 0);
	CHECK(count_dir("/proc/self/task") > tasks);
	CHECK_EQ(ifcvf_sim_wire_connect(a->sim, b->sim), 0);
	vdrv_flow_init(&fl[0], &a->dev, 1, &b->dev, 1, 30, 100);
	vdrv_flow_init(&fl[1], &b->dev, 0, &a->dev, 0, 31, 100);
	CHECK_EQ(run_flows(fl, 2), 0);

	/* Destroy A while connected, with frames in flight toward it. */
	vdrv_frame_fill(frame_buf, 500, 32, 0);
	CHECK(vdrv_tx_post(&b->dev.vq[vdrv_txq(0)], frame_buf, 500,
			   NULL) >= 0);
	vdrv_dev_kick(&b->dev, vdrv_txq(0));
	fx_teardown(a);
	/* B keeps going with no peer: its frames are dropped. */
	vdrv_frame_fill(frame_buf, 500, 32, 1);
	CHECK(vdrv_tx_post(&b->dev.vq[vdrv_txq(1)], frame_buf, 500,
			   NULL) >= 0);
	vdrv_dev_kick(&b->dev, vdrv_txq(1));
	CHECK(WAIT_FOR(vdrv_vq_pending(&b->dev.vq[vdrv_txq(1)]) == 1,
		       WAIT_MS));
	fx_teardown(b);

	CHECK(WAIT_FOR(count_dir("/proc/self/task") == tasks, 1000));
	CHECK_EQ(count_dir("/proc/self/fd"), fds);
	return 0;
}

/* ---- Cases: each body gets fresh fixtures, always torn down ---- */

/* ---- The block device ---- */

#define BLK_CAPACITY	2048		/* sectors: 1 MiB */
#define BLK_SECTOR	IFCVF_SIM_BLK_SECTOR
#define BLK_IO_MAX	(16 * BLK_SECTOR)

static uint8_t blk_buf[BLK_IO_MAX];
static uint8_t blk_got[BLK_IO_MAX];

static int
fx_setup_blk_disk(struct fx *f, const char *name, uint16_t queues,
		  uint64_t features, const char *disk_file)
{
	struct ifcvf_sim_params sp = {
		.name = name,
		.profile = IFCVF_SIM_PROFILE_IFCVF,
		.type = IFCVF_SIM_TYPE_BLK,
		.nr_queue_pairs = queues,
		.capacity = BLK_CAPACITY,
		.features = features,
		.disk_file = disk_file,
	};
	struct vdrv_dev_params dp = {
		.nr_pairs = queues,
		.buf_cap = BLK_IO_MAX + 64,
	};

	return fx_setup_params(f, &sp, &dp);
}

static int
fx_setup_blk(struct fx *f, const char *name, uint16_t queues,
	     uint64_t features)
{
	return fx_setup_blk_disk(f, name, queues, features, NULL);
}

/* Post one request on @qid, kick, wait for it: its completion. */
static int
blk_do(struct fx *f, uint16_t qid, uint32_t type, uint64_t sector,
       const void *data, uint32_t len, const struct vdrv_blk_opts *o,
       struct vdrv_blk_done *done, void *out)
{
	struct vdrv_vq *vq = &f->dev.vq[qid];

	if (vdrv_blk_post(vq, type, sector, data, len, o) < 0)
		return -1;
	vdrv_dev_kick(&f->dev, qid);
	if (!WAIT_FOR(vdrv_vq_pending(vq) > 0, WAIT_MS)) {
		fprintf(stderr, "queue %u: request not completed\n", qid);
		vdrv_queue_dump(stderr, f->sim, qid);
		return -1;
	}
	return vdrv_blk_reap(vq, done, out, out != NULL ? len : 0) == 1 ?
	       0 : -1;
}

static int
blk_write(struct fx *f, uint16_t qid, uint64_t sector, const void *data,
	  uint32_t len, const struct vdrv_blk_opts *o, uint8_t status)
{
	struct vdrv_blk_done d;

	CHECK_EQ(blk_do(f, qid, VIRTIO_BLK_T_OUT, sector, data, len, o, &d,
			NULL), 0);
	CHECK(d.intact);
	CHECK_EQ(d.status, status);
	CHECK_EQ(d.len, 1);
	return 0;
}

static int
blk_read(struct fx *f, uint16_t qid, uint64_t sector, uint32_t len,
	 const struct vdrv_blk_opts *o, uint8_t status)
{
	struct vdrv_blk_done d;

	CHECK_EQ(blk_do(f, qid, VIRTIO_BLK_T_IN, sector, NULL, len, o, &d,
			blk_got), 0);
	CHECK(d.intact);
	CHECK_EQ(d.status, status);
	CHECK_EQ(d.len, status == VIRTIO_BLK_S_OK ? len + 1 : 1);
	return 0;
}

/*
 * A pattern (@seed) of @len bytes at @sector written on @w's queue @wq,
 * then read back on @r's queue @rq: the same bytes.
 */
static int
blk_pass(struct fx *w, uint16_t wq, struct fx *r, uint16_t rq,
	 uint64_t sector, uint32_t len, unsigned int seed)
{
	vdrv_blk_pattern(blk_buf, sector, len, seed);
	CHECK_EQ(blk_write(w, wq, sector, blk_buf, len, NULL,
			   VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_read(r, rq, sector, len, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, len) == 0);
	return 0;
}

/* True when @len bytes at @p are all @v. */
static bool
all_bytes(const uint8_t *p, uint32_t len, uint8_t v)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static const struct vdrv_blk_opts blk_layouts[] = {
	{ .nr_segs = 1 },
	{ .nr_segs = 4 },
	{ .indirect = true, .nr_segs = 3 },
	{ .nr_segs = VDRV_MAX_SEGS },
};

/*
 * Write a pattern on one queue in several layouts, read it back on the
 * other and from the disk itself; FLUSH and GET_ID.
 */
static int
blk_rw_body(struct fx *f)
{
	static const uint32_t lens[] = { 512, 4096, 1536, BLK_IO_MAX };
	struct vdrv_blk_done d;
	uint64_t sector = 0;
	char id[VIRTIO_BLK_ID_BYTES];
	unsigned int i;

	CHECK_EQ(fx_setup_blk(f, "blkrw", 2, 0), 0);
	CHECK_EQ(f->dev.hw.dev_type, IFCVF_DEV_BLK);
	for (i = 0; i < RTE_DIM(lens); i++) {
		vdrv_blk_pattern(blk_buf, sector, lens[i], 1);
		CHECK_EQ(blk_write(f, 0, sector, blk_buf, lens[i],
				   &blk_layouts[i], VIRTIO_BLK_S_OK), 0);
		CHECK_EQ(blk_read(f, 1, sector, lens[i],
				  &blk_layouts[RTE_DIM(blk_layouts) - 1 - i],
				  VIRTIO_BLK_S_OK), 0);
		CHECK(memcmp(blk_got, blk_buf, lens[i]) == 0);
		CHECK_EQ(ifcvf_sim_blk_read(f->sim, sector * BLK_SECTOR,
					    blk_got, lens[i]), 0);
		CHECK(memcmp(blk_got, blk_buf, lens[i]) == 0);
		sector += lens[i] / BLK_SECTOR;
	}
	/* The last sector of the disk. */
	CHECK_EQ(blk_pass(f, 1, f, 0, BLK_CAPACITY - 1, BLK_SECTOR, 2), 0);

	CHECK_EQ(blk_do(f, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, &d, NULL),
		 0);
	CHECK_EQ(d.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(qstats(f->sim, 0).flushes, 1);
	CHECK_EQ(blk_do(f, 1, VIRTIO_BLK_T_GET_ID, 0, NULL, sizeof(id), NULL,
			&d, id), 0);
	CHECK_EQ(d.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(d.len, sizeof(id) + 1);
	CHECK(strncmp(id, "ifcvf-sim-blk", sizeof(id)) == 0);
	CHECK_EQ(qstats(f->sim, 0).errors + qstats(f->sim, 1).errors, 0);
	CHECK_EQ(ifcvf_sim_dma_faults(f->sim), 0);
	return 0;
}

/*
 * Requests the device cannot carry out: IOERR (UNSUPP for an unknown
 * type), nothing moved, the queue and the other one keep serving.
 */
static int
blk_refused_body(struct fx *f)
{
	static const struct vdrv_blk_opts zero_seg = {
		.nr_segs = 2, .zero_len_seg = true,
	};
	static const uint8_t zero[BLK_IO_MAX];
	struct ifcvf_sim_state st;
	struct vdrv_blk_done d;

	CHECK_EQ(fx_setup_blk(f, "blkbad", 2, 0), 0);
	rte_log_set_level_pattern("pmd.vdpa.ifcvf_sim", RTE_LOG_CRIT);
	vdrv_blk_pattern(blk_buf, 0, BLK_IO_MAX, 3);
	/* Beyond the capacity: the last sector and one more; wrapping. */
	CHECK_EQ(blk_write(f, 0, BLK_CAPACITY - 1, blk_buf, 2 * BLK_SECTOR,
			   NULL, VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(blk_write(f, 0, UINT64_MAX, blk_buf, BLK_SECTOR, NULL,
			   VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(blk_read(f, 0, BLK_CAPACITY, BLK_SECTOR, NULL,
			  VIRTIO_BLK_S_IOERR), 0);
	CHECK(all_bytes(blk_got, BLK_SECTOR, VDRV_POISON));
	/* Not whole sectors. */
	CHECK_EQ(blk_write(f, 0, 0, blk_buf, 100, NULL, VIRTIO_BLK_S_IOERR),
		 0);
	CHECK_EQ(blk_read(f, 1, 0, 700, NULL, VIRTIO_BLK_S_IOERR), 0);
	CHECK(all_bytes(blk_got, 700, VDRV_POISON));
	/* A zero-length data descriptor, in a write and in a read. */
	CHECK_EQ(blk_write(f, 1, 8, blk_buf, 1024, &zero_seg,
			   VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(blk_read(f, 1, 8, 1024, &zero_seg, VIRTIO_BLK_S_IOERR), 0);
	CHECK(all_bytes(blk_got, 1024, VDRV_POISON));
	/* An unknown type. */
	CHECK_EQ(blk_do(f, 0, 99, 0, NULL, 0, NULL, &d, NULL), 0);
	CHECK_EQ(d.status, VIRTIO_BLK_S_UNSUPP);
	/* Nothing reached the disk. */
	CHECK_EQ(ifcvf_sim_blk_read(f->sim, 0, blk_got, BLK_IO_MAX), 0);
	CHECK(memcmp(blk_got, zero, BLK_IO_MAX) == 0);
	CHECK_EQ(ifcvf_sim_blk_read(f->sim, (BLK_CAPACITY - 1) * BLK_SECTOR,
				    blk_got, BLK_SECTOR), 0);
	CHECK(memcmp(blk_got, zero, BLK_SECTOR) == 0);
	CHECK_EQ(qstats(f->sim, 0).errors + qstats(f->sim, 1).errors, 8);
	/* Each refusal counted under its reason. */
	st = ifcvf_sim_get_state(f->sim);
	CHECK_EQ(st.blk_refused[IFCVF_SIM_BLK_BEYOND_CAPACITY], 3);
	CHECK_EQ(st.blk_refused[IFCVF_SIM_BLK_NOT_SECTORS], 2);
	CHECK_EQ(st.blk_refused[IFCVF_SIM_BLK_ZERO_LENGTH], 2);
	CHECK_EQ(st.blk_refused[IFCVF_SIM_BLK_UNSUPPORTED], 1);
	CHECK_EQ(st.blk_refused[IFCVF_SIM_BLK_READ_ONLY], 0);
	CHECK_EQ(st.blk_held, 0);
	/* Both queues still serve. */
	CHECK(!(ifcvf_sim_get_state(f->sim).status & STATUS_NEEDS_RESET));
	CHECK_EQ(blk_write(f, 0, 8, blk_buf, 1024, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_read(f, 1, 8, 1024, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, 1024) == 0);
	rte_log_set_level_pattern("pmd.vdpa.ifcvf_sim", RTE_LOG_NOTICE);
	return 0;
}

/* A read-only disk refuses writes and serves reads. */
static int
blk_ro_body(struct fx *f)
{
	CHECK_EQ(fx_setup_blk(f, "blkro", 1, ifcvf_sim_blk_default_features() |
			      (1ULL << VIRTIO_BLK_F_RO)), 0);
	vdrv_blk_pattern(blk_buf, 4, BLK_SECTOR, 4);
	CHECK_EQ(ifcvf_sim_blk_write(f->sim, 4 * BLK_SECTOR, blk_buf,
				     BLK_SECTOR), 0);
	CHECK_EQ(blk_write(f, 0, 0, blk_buf, BLK_SECTOR, NULL,
			   VIRTIO_BLK_S_IOERR), 0);
	CHECK_EQ(ifcvf_sim_get_state(f->sim).blk_refused[
		 IFCVF_SIM_BLK_READ_ONLY], 1);
	CHECK_EQ(blk_read(f, 0, 4, BLK_SECTOR, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);
	return 0;
}

enum blk_malformed {
	BLK_MAL_READABLE_LAST,	/* a readable descriptor after the status */
	BLK_MAL_SHORT_HDR,	/* 8 header bytes, then writable data */
	BLK_MAL_NO_STATUS,	/* a write with nothing device-writable */
};

/* A layout the spec forbids: NEEDS_RESET, nothing written; a reset heals. */
static int
blk_malformed_body(struct fx *f, enum blk_malformed kind)
{
	struct vdrv_blk_opts o = { .nr_segs = 1 };
	uint32_t type = VIRTIO_BLK_T_IN;
	struct vdrv_vq *vq;
	int head;

	CHECK_EQ(fx_setup_blk(f, "blkmal", 2, 0), 0);
	vq = &f->dev.vq[0];
	if (kind == BLK_MAL_READABLE_LAST)
		o.readable_last = true;
	else if (kind == BLK_MAL_SHORT_HDR)
		o.hdr_len = 8;
	else
		o.no_status = true;
	if (kind == BLK_MAL_NO_STATUS)
		type = VIRTIO_BLK_T_OUT;
	vdrv_blk_pattern(blk_buf, 0, BLK_SECTOR, 5);
	rte_log_set_level_pattern("pmd.vdpa.ifcvf_sim", RTE_LOG_CRIT);
	head = vdrv_blk_post(vq, type, 0, blk_buf, BLK_SECTOR, &o);
	CHECK(head >= 0);
	vdrv_dev_kick(&f->dev, 0);
	CHECK(WAIT_FOR(ifcvf_sim_get_state(f->sim).status & STATUS_NEEDS_RESET,
		       WAIT_MS));
	rte_log_set_level_pattern("pmd.vdpa.ifcvf_sim", RTE_LOG_NOTICE);
	CHECK(qinfo(f->sim, 0).broken);
	CHECK_EQ(vdrv_vq_pending(vq), 0);
	/* A read's data piece (the one after the header) is untouched. */
	CHECK(type != VIRTIO_BLK_T_IN ||
	      all_bytes(vq->slot[head].buf + vq->slot[head].seg[1].off,
			BLK_SECTOR, VDRV_POISON));
	CHECK(ifcvf_sim_blk_read(f->sim, 0, blk_got, BLK_SECTOR) == 0 &&
	      all_bytes(blk_got, BLK_SECTOR, 0));
	CHECK_EQ(vdrv_dev_restart(&f->dev), 0);
	CHECK_EQ(blk_write(f, 1, 0, blk_buf, BLK_SECTOR, NULL,
			   VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_read(f, 0, 0, BLK_SECTOR, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);
	return 0;
}

/*
 * The late-completion fault: requests are taken (the LM ring state shows
 * them in flight) and complete, in order and with the right data, only
 * at the next doorbell; with the fault cleared they complete at once.
 */
static int
blk_late_body(struct fx *f)
{
	static const uint8_t zero[4 * BLK_SECTOR];
	struct vdrv_vq *vq;
	struct vdrv_blk_done d;
	unsigned int i;
	int heads[4];

	CHECK_EQ(fx_setup_blk(f, "blklate", 1, 0), 0);
	vq = &f->dev.vq[0];
	rte_log_set_level_pattern("pmd.vdpa.ifcvf_sim", RTE_LOG_ERR);
	ifcvf_sim_set_fault(f->sim, IFCVF_SIM_FAULT_BLK_LATE, true);
	/* No round left over from the start may take half of what follows. */
	ifcvf_sim_quiesce(f->sim);
	for (i = 0; i < 4; i++) {
		vdrv_blk_pattern(blk_buf + i * BLK_SECTOR, i, BLK_SECTOR, 6);
		heads[i] = vdrv_blk_post(vq, VIRTIO_BLK_T_OUT, i,
					 blk_buf + i * BLK_SECTOR, BLK_SECTOR,
					 NULL);
		CHECK(heads[i] >= 0);
	}
	vdrv_dev_kick(&f->dev, 0);
	ifcvf_sim_quiesce(f->sim);
	CHECK_EQ(qinfo(f->sim, 0).last_avail_idx, 4);
	CHECK_EQ(qinfo(f->sim, 0).last_used_idx, 0);
	CHECK_EQ(ifcvf_hw_ring_state_save(&f->dev.hw, 0, &f->dev.vring[0]), 0);
	CHECK_EQ(f->dev.vring[0].last_avail_idx, 4);
	CHECK_EQ(f->dev.vring[0].last_used_idx, 0);
	CHECK_EQ(vdrv_vq_pending(vq), 0);
	CHECK_EQ(ifcvf_sim_blk_read(f->sim, 0, blk_got, sizeof(zero)), 0);
	CHECK(memcmp(blk_got, zero, sizeof(zero)) == 0);

	vdrv_dev_kick(&f->dev, 0);
	CHECK(WAIT_FOR(vdrv_vq_pending(vq) == 4, WAIT_MS));
	for (i = 0; i < 4; i++) {
		CHECK_EQ(vdrv_blk_reap(vq, &d, NULL, 0), 1);
		CHECK_EQ(d.id, heads[i]);	/* in order */
		CHECK_EQ(d.status, VIRTIO_BLK_S_OK);
	}
	CHECK_EQ(qinfo(f->sim, 0).last_used_idx, 4);
	CHECK_EQ(ifcvf_sim_blk_read(f->sim, 0, blk_got, 4 * BLK_SECTOR), 0);
	CHECK(memcmp(blk_got, blk_buf, 4 * BLK_SECTOR) == 0);

	/* Held again; clearing the fault lets it complete without a kick. */
	CHECK(vdrv_blk_post(vq, VIRTIO_BLK_T_IN, 0, NULL, BLK_SECTOR,
			    NULL) >= 0);
	vdrv_dev_kick(&f->dev, 0);
	ifcvf_sim_quiesce(f->sim);
	CHECK_EQ(qinfo(f->sim, 0).last_avail_idx, 5);
	CHECK_EQ(vdrv_vq_pending(vq), 0);
	ifcvf_sim_set_fault(f->sim, IFCVF_SIM_FAULT_BLK_LATE, false);
	CHECK(WAIT_FOR(vdrv_vq_pending(vq) == 1, WAIT_MS));
	CHECK_EQ(vdrv_blk_reap(vq, &d, blk_got, BLK_SECTOR), 1);
	CHECK_EQ(d.status, VIRTIO_BLK_S_OK);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);
	rte_log_set_level_pattern("pmd.vdpa.ifcvf_sim", RTE_LOG_NOTICE);
	return 0;
}

/*
 * Dirty pages: a read's data pages, the status byte's and the used
 * ring's are written and logged; a write's data pages are only read.
 */
static int
blk_dirty_body(struct fx *f, uint8_t *bm, size_t bm_len)
{
	static uint64_t got[MAX_PFNS], truth[MAX_PFNS];
	struct vdrv_blk_done w, r;
	size_t n_got, n_truth, i;
	struct vdrv_vq *vq;

	CHECK_EQ(fx_setup_blk(f, "blkdirty", 2, 0), 0);
	CHECK(f->dev.hw.has_lm);
	CHECK_EQ(ifcvf_sim_dma_map(f->sim, (uint64_t)(uintptr_t)bm, LOG_IOVA,
				   bm_len), 0);
	vq = &f->dev.vq[1];
	vdrv_blk_pattern(blk_buf, 0, BLK_IO_MAX, 7);
	ifcvf_sim_truth_reset(f->sim);
	CHECK_EQ(ifcvf_hw_log_enable(&f->dev.hw, LOG_IOVA, bm_len), 0);
	CHECK_EQ(blk_do(f, 0, VIRTIO_BLK_T_OUT, 0, blk_buf, BLK_IO_MAX, NULL,
			&w, NULL), 0);
	CHECK_EQ(blk_do(f, 1, VIRTIO_BLK_T_IN, 0, NULL, BLK_IO_MAX, NULL, &r,
			blk_got), 0);
	CHECK_EQ(w.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(r.status, VIRTIO_BLK_S_OK);
	CHECK(memcmp(blk_got, blk_buf, BLK_IO_MAX) == 0);
	CHECK_EQ(ifcvf_hw_log_disable(&f->dev.hw), 0);
	n_got = bitmap_pfns(bm, bm_len, got, MAX_PFNS);
	n_truth = ifcvf_sim_truth_pages(f->sim, 0, truth, MAX_PFNS);
	CHECK_EQ(n_got, n_truth);
	for (i = 0; i < n_got; i++)
		CHECK_EQ(got[i], truth[i]);
	CHECK_EQ(check_logged_page(got, n_got, vq->used_gpa, "used"), 0);
	for (i = 0; i < BLK_IO_MAX; i += VDRV_PAGE_SIZE)
		CHECK_EQ(check_logged_page(got, n_got, vq->slot[r.id].buf_gpa +
					   VDRV_BLK_HDR_LEN + i, "read data"),
			 0);
	/* A page of the write's data (queue 0), past its header's. */
	CHECK(!pfn_in(got, n_got,
		      (f->dev.vq[0].slot[w.id].buf_gpa + VDRV_BLK_HDR_LEN +
		       VDRV_PAGE_SIZE) >> 12));
	CHECK(!pfn_in(got, n_got, vq->desc_gpa >> 12));
	return 0;
}

/* A capacity change: config_generation moves, the config vector fires. */
static int
blk_resize_body(struct fx *f)
{
	struct ifcvf_blk_config cfg;

	CHECK_EQ(fx_setup_blk(f, "blkresize", 3, 0), 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&f->dev.hw, &cfg), 0);
	CHECK_EQ(cfg.capacity, BLK_CAPACITY);
	CHECK_EQ(cfg.num_queues, 3);
	CHECK_EQ(cfg.blk_size, BLK_SECTOR);
	vdrv_dev_irqs(&f->dev, f->dev.config_vector);
	CHECK_EQ(ifcvf_sim_blk_resize(f->sim, 2 * BLK_CAPACITY), 0);
	CHECK(vdrv_dev_irqs(&f->dev, f->dev.config_vector) > 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&f->dev.hw, &cfg), 0);
	CHECK_EQ(cfg.capacity, 2 * BLK_CAPACITY);
	/* The new sectors serve. */
	vdrv_blk_pattern(blk_buf, 2 * BLK_CAPACITY - 1, BLK_SECTOR, 8);
	CHECK_EQ(blk_write(f, 2, 2 * BLK_CAPACITY - 1, blk_buf, BLK_SECTOR,
			   NULL, VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_read(f, 0, 2 * BLK_CAPACITY - 1, BLK_SECTOR, NULL,
			  VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, BLK_SECTOR) == 0);
	CHECK_EQ(ifcvf_sim_blk_resize(f->sim, 0), -EINVAL);
	return 0;
}

/* The disk file @path is the capacity long and holds @data at @sector. */
static int
blk_file_holds(const char *path, uint64_t sector, const void *data,
	       uint32_t len)
{
	struct stat st = { .st_size = -1 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	CHECK(fd >= 0);
	n = fstat(fd, &st) == 0 ? pread(fd, blk_got, len,
					 (off_t)(sector * BLK_SECTOR)) : -1;
	close(fd);
	CHECK_EQ(st.st_size, (off_t)(BLK_CAPACITY * BLK_SECTOR));
	CHECK_EQ(n, (ssize_t)len);
	CHECK(memcmp(blk_got, data, len) == 0);
	return 0;
}

/*
 * disk=<file>: two devices on one file see each other's writes, and the
 * file keeps them after both are gone (a migration's shared storage).
 * The file grows to the capacity; a longer one, a disk file on a net
 * device and a resize are refused.
 */
static int
blk_disk_file_body(struct fx *a, struct fx *b, const char *path)
{
	struct ifcvf_sim_params sp = {
		.name = "blkfile_short",
		.profile = IFCVF_SIM_PROFILE_IFCVF,
		.type = IFCVF_SIM_TYPE_BLK,
		.nr_queue_pairs = 1,
		.capacity = BLK_CAPACITY / 2,
		.disk_file = path,
	};

	CHECK_EQ(fx_setup_blk_disk(a, "blkfile_a", 1, 0, path), 0);
	vdrv_blk_pattern(blk_buf, 7, 4 * BLK_SECTOR, 3);
	CHECK_EQ(blk_write(a, 0, 7, blk_buf, 4 * BLK_SECTOR, NULL,
			   VIRTIO_BLK_S_OK), 0);
	CHECK_EQ(blk_file_holds(path, 7, blk_buf, 4 * BLK_SECTOR), 0);
	CHECK_EQ(ifcvf_sim_blk_resize(a->sim, 2 * BLK_CAPACITY), -ENOTSUP);
	/* B, on the same file while A lives, reads A's sectors... */
	CHECK_EQ(fx_setup_blk_disk(b, "blkfile_b", 1, 0, path), 0);
	CHECK_EQ(blk_read(b, 0, 7, 4 * BLK_SECTOR, NULL, VIRTIO_BLK_S_OK), 0);
	CHECK(memcmp(blk_got, blk_buf, 4 * BLK_SECTOR) == 0);
	/* ...and A reads B's write. */
	CHECK_EQ(blk_pass(b, 0, a, 0, BLK_CAPACITY - 1, BLK_SECTOR, 4), 0);
	fx_teardown(a);
	fx_teardown(b);
	/* Both gone: the file holds the last write. */
	CHECK_EQ(blk_file_holds(path, BLK_CAPACITY - 1, blk_buf, BLK_SECTOR),
		 0);
	/* A file longer than the capacity is not cut. */
	errno = 0;
	CHECK(ifcvf_sim_create(&sp) == NULL && errno == EINVAL);
	CHECK_EQ(blk_file_holds(path, BLK_CAPACITY - 1, blk_buf, BLK_SECTOR),
		 0);
	sp.name = "netfile";
	sp.type = IFCVF_SIM_TYPE_NET;
	sp.capacity = 0;
	errno = 0;
	CHECK(ifcvf_sim_create(&sp) == NULL && errno == EINVAL);
	return 0;
}

static int
test_blk_disk_file(void)
{
	char path[] = "/tmp/ifcvf-sim-disk-XXXXXX";
	struct fx a, b;
	int fd = mkstemp(path);
	int rc;

	CHECK(fd >= 0);
	close(fd);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	rc = blk_disk_file_body(&a, &b, path);
	fx_teardown(&a);
	fx_teardown(&b);
	unlink(path);
	return rc;
}

#define FX_CASE(name, body_call) \
static int \
name(void) \
{ \
	struct fx f; \
	int rc; \
	memset(&f, 0, sizeof(f)); \
	rc = body_call; \
	fx_teardown(&f); \
	return rc; \
}

#define FX2_CASE(name, body) \
static int \
name(void) \
{ \
	struct fx a, b; \
	int rc; \
	memset(&a, 0, sizeof(a)); \
	memset(&b, 0, sizeof(b)); \
	rc = body(&a, &b); \
	fx_teardown(&a); \
	fx_teardown(&b); \
	return rc; \
}

FX_CASE(test_loop_1pair, loop_body(&f))
FX_CASE(test_tx_chained_indirect, tx_chain_body(&f))
FX_CASE(test_rx_split, rx_split_body(&f))
FX_CASE(test_rx_mergeable, rx_mergeable_body(&f))
FX_CASE(test_rx_too_big_dropped, rx_too_big_body(&f))
FX_CASE(test_reset_drops, reset_drops_body(&f))
FX2_CASE(test_wire_4pairs, wire_pairs_body)
FX_CASE(test_32pairs, pairs32_body(&f))
FX_CASE(test_irq_no_interrupt, no_interrupt_body(&f))
FX_CASE(test_irq_event_idx, event_idx_body(&f))
FX_CASE(test_dma_fault_bad_desc, dma_fault_desc_body(&f))
FX_CASE(test_dma_fault_unmapped, dma_fault_unmap_body(&f))
FX_CASE(test_malformed_loop, malformed_body(&f, MAL_LOOP))
FX_CASE(test_malformed_next, malformed_body(&f, MAL_NEXT_OOR))
FX_CASE(test_malformed_head, malformed_body(&f, MAL_HEAD_OOR))
FX_CASE(test_malformed_tx_writable, malformed_body(&f, MAL_TX_WRITABLE))
FX_CASE(test_malformed_indirect_len, malformed_body(&f, MAL_INDIRECT_LEN))
FX_CASE(test_ring_state, ring_state_body(&f))
FX2_CASE(test_teardown, teardown_body)
FX_CASE(test_blk_rw, blk_rw_body(&f))
FX_CASE(test_blk_refused, blk_refused_body(&f))
FX_CASE(test_blk_ro, blk_ro_body(&f))
FX_CASE(test_blk_readable_last, blk_malformed_body(&f, BLK_MAL_READABLE_LAST))
FX_CASE(test_blk_short_header, blk_malformed_body(&f, BLK_MAL_SHORT_HDR))
FX_CASE(test_blk_no_status, blk_malformed_body(&f, BLK_MAL_NO_STATUS))
FX_CASE(test_blk_late, blk_late_body(&f))
FX_CASE(test_blk_resize, blk_resize_body(&f))

/* Run @body with a bitmap that covers every guest page from IOVA 0. */
static int
with_log_bitmap(int (*body)(struct fx *f, uint8_t *bm, size_t bm_len))
{
	size_t bm_len = (size_t)((GUEST_GPA + GUEST_LEN) >> 12) / 8;
	struct fx f;
	uint8_t *bm;
	int rc;

	bm_len = (bm_len + VDRV_PAGE_SIZE - 1) & ~(size_t)(VDRV_PAGE_SIZE - 1);
	bm = mmap(NULL, bm_len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(bm != MAP_FAILED);
	memset(&f, 0, sizeof(f));
	rc = body(&f, bm, bm_len);
	fx_teardown(&f);
	munmap(bm, bm_len);
	return rc;
}

static int
test_dirty_log(void)
{
	return with_log_bitmap(dirty_log_body);
}

static int
test_blk_dirty_log(void)
{
	return with_log_bitmap(blk_dirty_body);
}

static const struct test_case cases[] = {
	TEST_CASE(test_loop_1pair),
	TEST_CASE(test_tx_chained_indirect),
	TEST_CASE(test_rx_split),
	TEST_CASE(test_rx_mergeable),
	TEST_CASE(test_rx_too_big_dropped),
	TEST_CASE(test_reset_drops),
	TEST_CASE(test_wire_4pairs),
	TEST_CASE(test_32pairs),
	TEST_CASE(test_irq_no_interrupt),
	TEST_CASE(test_irq_event_idx),
	TEST_CASE(test_dirty_log),
	TEST_CASE(test_dma_fault_bad_desc),
	TEST_CASE(test_dma_fault_unmapped),
	TEST_CASE(test_malformed_loop),
	TEST_CASE(test_malformed_next),
	TEST_CASE(test_malformed_head),
	TEST_CASE(test_malformed_tx_writable),
	TEST_CASE(test_malformed_indirect_len),
	TEST_CASE(test_ring_state),
	TEST_CASE(test_teardown),
	TEST_CASE(test_blk_rw),
	TEST_CASE(test_blk_refused),
	TEST_CASE(test_blk_ro),
	TEST_CASE(test_blk_readable_last),
	TEST_CASE(test_blk_short_header),
	TEST_CASE(test_blk_no_status),
	TEST_CASE(test_blk_late),
	TEST_CASE(test_blk_dirty_log),
	TEST_CASE(test_blk_resize),
	TEST_CASE(test_blk_disk_file),
};

TEST_MAIN("unit", cases)
