/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The live-migration proof: our vhost-user frontend (vu_guest.h) asks
 * dpdk-vdpa, serving a simulated VF through the driver, to log dirty
 * pages as QEMU does, drives numbered frames over a looped wire, and
 * compares the dirty log with the simulator's ground truth: every page
 * the device wrote since logging started (the simulator's record, reset
 * once LOG_ALL took effect and read back after a close through telemetry,
 * /vdpa_ifcvf_sim/truth) must be marked in the log. A VF reset drops the frames the VF holds for
 * want of RX buffers, as a NIC does: a case passes only if the frames
 * its flows lost are exactly those the simulator says its resets
 * dropped. Each case runs in these modes:
 *   hw      profile=ifcvf: the VF logs, through its LM block;
 *   sw      profile=ifcvf,sw-live-migration=1: the relay on shadow rings;
 *   virtio  profile=virtio: no LM block, the relay too;
 *   sw_poll sw with relay=poll: the relay polls instead of sleeping.
 *
 *   test_migration <builddir> [<case>_<mode>...|all|list]
 *
 * IFCVF_TEST_KEEP_LOG=1 keeps dpdk-vdpa's log, IFCVF_TEST_GDB=1 runs it
 * under gdb.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_common.h>

#include "test.h"
#include "vdpa_proc.h"
#include "vu_guest.h"

#define NR_PAIRS	2
#define QUEUE_SIZE	256
#define FRAMES		(6 * QUEUE_SIZE)	/* per pair: rings wrap 6 times */
#define WAIT_MS		10000
#define TRAFFIC_MS	15000
#define MAX_LISTED	20
#define GUEST_MEM_LEN	(32ULL << 20)

/*
 * As QEMU with several queue pairs: without MQ, vhost drops all but the
 * first pair at every SET_FEATURES, LOG_ALL's included.
 */
#define GUEST_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VIRTIO_NET_F_MQ) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))

/*
 * A legacy (virtio 0.95) guest: no VERSION_1; the net header is 10 bytes
 * without MRG_RXBUF, 12 with it. The _legacy cases run with these.
 */
#define LEGACY_FEATURES	(GUEST_FEATURES & ~((1ULL << VIRTIO_F_VERSION_1) | \
					    (1ULL << VIRTIO_NET_F_MRG_RXBUF)))
#define LEGACY_MRG_FEATURES (LEGACY_FEATURES | (1ULL << VIRTIO_NET_F_MRG_RXBUF))

/* The running case's guest features (GUEST_FEATURES but for legacy). */
static uint64_t guest_features = GUEST_FEATURES;

struct mode {
	const char *name;
	const char *devargs;
	bool has_lm;		/* the VF has ring-state registers */
	bool sw;		/* dirty pages logged by the relay */
};

static const struct mode modes[] = {
	{ "hw", "profile=ifcvf", true, false },
	{ "sw", "profile=ifcvf,sw-live-migration=1", true, true },
	{ "virtio", "profile=virtio", false, true },
	{ "sw_poll", "profile=ifcvf,sw-live-migration=1,relay=poll", true,
	  true },
};

static const struct mode *mode;

/* The dpdk-vdpa of the running case. */
static struct vdpa_proc vdpa;
static const char *const vdpa_args[] = { "--no-shconf", NULL };

/* A number of the VF's telemetry, the driver's or the simulator's. */
static long
vf_info(const char *key)
{
	return vdpa_proc_tel_int(&vdpa, VDPA_PROC_VF0_INFO, key);
}

static long
sim_info(const char *key)
{
	return vdpa_proc_tel_int(&vdpa, VDPA_PROC_SIM0_INFO, key);
}

/* Wait (WAIT_MS at most) until the driver's telemetry has @text. */
static bool
vf_wait_for(const char *text)
{
	int64_t end = vdrv_now_ms() + WAIT_MS;

	while (!vdpa_proc_tel_has(&vdpa, VDPA_PROC_VF0_INFO, text)) {
		if (vdrv_now_ms() >= end)
			return false;
		usleep(5000);
	}
	return true;
}

/* Wait until the VF was configured @n times (the count) on every queue. */
static long
wait_configures(long n)
{
	return vdpa_proc_wait_configures(&vdpa, n, 2 * NR_PAIRS, WAIT_MS);
}

/* At least @min closes, none of which left a mapping behind. */
static int
check_closes(long min)
{
	return vdpa_proc_check_closes(&vdpa, min, WAIT_MS);
}

/* ---- Ground truth ---- */

struct pages {
	uint64_t *pfn;
	size_t n;
	size_t cap;
};

static void
pages_add(struct pages *p, uint64_t pfn)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 1024;
		p->pfn = realloc(p->pfn, p->cap * sizeof(*p->pfn));
		if (p->pfn == NULL)
			abort();
	}
	p->pfn[p->n++] = pfn;
}

static bool
pages_has(const struct pages *p, uint64_t pfn)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->pfn[i] == pfn)
			return true;
	return false;
}

#define TRUTH_CMD	"/vdpa_ifcvf_sim/truth,vdpa_ifcvf_sim0"

/* The VF's record of the pages its device wrote starts again, empty. */
static int
truth_reset(void)
{
	char reply[256];

	return vdpa_proc_telemetry(&vdpa, "/vdpa_ifcvf_sim/truth_reset,"
				   "vdpa_ifcvf_sim0", reply, sizeof(reply));
}

/*
 * One page of the record, from its @from-th page frame on, added to @p:
 * the number the reply lists, or -1; *total the record's size.
 */
static long
truth_read_page(struct pages *p, size_t from, long *total)
{
	char cmd[96], reply[16384];
	const char *c;
	char *end;
	long n = 0;
	uint64_t pfn;

	snprintf(cmd, sizeof(cmd), TRUTH_CMD ",%zu", from);
	if (vdpa_proc_telemetry(&vdpa, cmd, reply, sizeof(reply)) < 0)
		return -1;
	c = strstr(reply, "\"pages\":");
	*total = c != NULL ? strtol(c + 8, NULL, 10) : -1;
	c = strstr(reply, "\"pfns\":[");
	if (c == NULL || *total < 0)
		return -1;
	for (c += 8; *c != ']'; c = end + (*end == ',')) {
		pfn = strtoull(c, &end, 10);
		if (end == c)
			return -1;
		if (!pages_has(p, pfn))
			pages_add(p, pfn);
		n++;
	}
	return n;
}

/*
 * Add the VF's record (the pages its device wrote since truth_reset(),
 * stable once the device stopped) to @p.
 */
static int
truth_read(struct pages *p)
{
	size_t before = p->n, from = 0;
	long n, total = 0;

	do {
		n = truth_read_page(p, from, &total);
		if (n < 0) {
			fprintf(stderr, "no truth from %s at page %zu\n",
				TRUTH_CMD, from);
			return -1;
		}
		from += n;
	} while (n > 0 && (long)from < total);
	if ((long)from != total) {
		fprintf(stderr, "the truth lists %zu pages of %ld\n", from,
			total);
		return -1;
	}
	printf("  truth: %zu new pages\n", p->n - before);
	return 0;
}

static bool
in_guest(const struct vu_guest *g, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < g->nr_mem; i++)
		if (gpa >= g->mem[i].gpa && gpa - g->mem[i].gpa < g->mem[i].len)
			return true;
	return false;
}

/*
 * QEMU's dirty-bitmap sync between pre-copy rounds, at a quiet moment: the
 * log so far goes to log_seen (what the test has "sent"), the log is
 * cleared, and the used index of each queue is noted: from then on every
 * page the device writes must be logged again.
 */
static uint8_t *log_seen;
static uint16_t round_used[VU_GUEST_MAX_QUEUES];

static void
log_round(struct vu_guest *g)
{
	uint64_t i;
	uint16_t q;

	if (log_seen == NULL)
		log_seen = calloc(1, g->log_size);
	for (i = 0; log_seen != NULL && i < g->log_size; i++)
		log_seen[i] |= g->log[i];
	vu_guest_log_clear(g);
	for (q = 0; q < g->nr_queues; q++)
		round_used[q] = g->vq[q].used->idx;
}

/* Logged in this round or an earlier one. */
static bool
was_logged(const struct vu_guest *g, uint64_t gpa)
{
	uint64_t page = gpa / VDRV_PAGE_SIZE;

	if (vu_guest_log_test(g, gpa))
		return true;
	return log_seen != NULL && page / 8 < g->log_size &&
	       (log_seen[page / 8] >> (page % 8)) & 1;
}

static void
log_rounds_reset(void)
{
	free(log_seen);
	log_seen = NULL;
	memset(round_used, 0, sizeof(round_used));
}

/* Every page of [gpa, gpa + len) is logged in this round. */
static int
check_range_logged(const struct vu_guest *g, uint64_t gpa, uint64_t len,
		   const char *what, uint16_t q)
{
	uint64_t p;

	for (p = gpa & ~(uint64_t)(VDRV_PAGE_SIZE - 1); p < gpa + len;
	     p += VDRV_PAGE_SIZE) {
		if (vu_guest_log_test(g, p))
			continue;
		fprintf(stderr, "queue %u: %s page 0x%" PRIx64 " written this round, not logged\n",
			q, what, p);
		return -1;
	}
	return 0;
}

/*
 * The frontend's own view of this round: every RX buffer the device
 * filled since log_round() (the used entries it published since, at most
 * a ring of them) and those used entries must be logged now.
 */
static int
check_round(const struct vu_guest *g)
{
	const struct vdrv_vq *vq;
	struct vring_used_elem e;
	uint16_t q, i, end, from, n = 0;
	const struct vdrv_slot *s;

	for (q = 0; q < g->nr_queues; q += 2) {
		vq = &g->vq[q];
		end = vq->used->idx;
		from = round_used[q];
		if ((uint16_t)(end - from) > vq->size)
			from = end - vq->size;
		for (i = from; i != end; i++, n++) {
			e = vq->used->ring[i & (vq->size - 1)];
			s = &vq->slot[e.id];
			if (check_range_logged(g, s->buf_gpa + s->seg[0].off,
					       e.len, "RX buffer", q) < 0 ||
			    check_range_logged(g, vq->used_gpa +
					       offsetof(struct vring_used, ring) +
					       sizeof(e) * (i & (vq->size - 1)),
					       sizeof(e), "used ring", q) < 0)
				return -1;
		}
	}
	printf("  round: %u RX buffers filled since the last sync, all logged\n",
	       n);
	CHECK(n > 0);
	return 0;
}

/*
 * Every truth page inside guest memory must be marked in the log: list
 * the missed ones. Extra pages (logged, not written by the device: the
 * frontend's own writes are not in the truth) are only counted.
 */
static int
check_log_ext(const struct vu_guest *g, const struct pages *truth,
	      bool may_be_empty)
{
	uint64_t missed = 0, inside = 0, extra = 0, logged = 0, pfn;
	size_t i;

	for (i = 0; i < truth->n; i++) {
		pfn = truth->pfn[i];
		if (!in_guest(g, pfn * VDRV_PAGE_SIZE))
			continue;
		inside++;
		if (was_logged(g, pfn * VDRV_PAGE_SIZE))
			continue;
		if (missed++ < MAX_LISTED)
			fprintf(stderr, "  MISSED: gpa 0x%" PRIx64 "\n",
				pfn * VDRV_PAGE_SIZE);
	}
	for (pfn = 0; pfn < g->log_size * 8; pfn++) {
		if (!was_logged(g, pfn * VDRV_PAGE_SIZE))
			continue;
		logged++;
		if (!pages_has(truth, pfn))
			extra++;
	}
	printf("  log: %" PRIu64 " truth pages in guest memory (%zu in all), "
	       "%" PRIu64 " logged, %" PRIu64 " missed, %" PRIu64 " extra\n",
	       inside, truth->n, logged, missed, extra);
	if (missed > 0) {
		fprintf(stderr, "%" PRIu64 " page(s) written by the device are not in the dirty log\n",
			missed);
		return -1;
	}
	CHECK(inside > 0 || may_be_empty);
	return 0;
}

static int
check_log(const struct vu_guest *g, const struct pages *truth)
{
	return check_log_ext(g, truth, false);
}

/*
 * Every page of every used ring is logged: in SW mode the device writes
 * shadow rings (outside guest memory, not in the check above) and the
 * relay the guest's, which the truth does not see.
 */
static int
check_used_logged(const struct vu_guest *g)
{
	const struct vdrv_vq *vq;
	uint64_t gpa;
	uint16_t q;

	for (q = 0; q < g->nr_queues; q++) {
		vq = &g->vq[q];
		for (gpa = vq->used_gpa; gpa < vq->used_gpa + vq->used_len;
		     gpa += VDRV_PAGE_SIZE) {
			if (vu_guest_log_test(g, gpa))
				continue;
			fprintf(stderr, "used ring of queue %u: page 0x%" PRIx64 " not logged\n",
				q, gpa);
			return -1;
		}
	}
	return 0;
}

/* The pages of every RX buffer (all used: the rings wrapped) are true. */
static int
check_rx_pages(const struct vu_guest *g, const struct pages *truth)
{
	const struct vdrv_vq *vq;
	uint16_t p, i;

	for (p = 0; p < g->nr_queues / 2; p++) {
		vq = &g->vq[2 * p];
		for (i = 0; i < vq->size; i++) {
			if (pages_has(truth, vq->slot[i].buf_gpa / VDRV_PAGE_SIZE))
				continue;
			fprintf(stderr, "RX buffer %u of queue %u (gpa 0x%" PRIx64 ") not in the truth\n",
				i, 2 * p, vq->slot[i].buf_gpa);
			return -1;
		}
	}
	return 0;
}

/* ---- Traffic: one numbered stream per queue pair, pair p to pair p ---- */

struct traffic {
	struct vu_guest *g;
	struct vdrv_flow f[NR_PAIRS];
	uint16_t pairs;		/* flows from pair 0 on */
	bool primed;
	uint32_t lost;		/* of f[].lost, added to wire_lost */
};

/* The frames the case's flows found missing, so far. */
static uint32_t wire_lost;

static void
traffic_init(struct traffic *t, struct vu_guest *g, uint16_t pairs,
	     uint32_t stream, uint32_t frames)
{
	uint16_t p;

	t->g = g;
	t->pairs = pairs;
	t->primed = false;
	t->lost = 0;
	for (p = 0; p < pairs; p++) {
		vu_flow_init(&t->f[p], g, p, g, p, stream + p, frames);
		t->f[p].lossy = true;
	}
}

/* Add the frames the flows found missing since the last call. */
static void
traffic_count_lost(struct traffic *t)
{
	uint32_t n = 0;
	uint16_t p;

	for (p = 0; p < t->pairs; p++)
		n += t->f[p].lost;
	wire_lost += n - t->lost;
	t->lost = n;
}

static bool
traffic_done(const struct traffic *t)
{
	uint16_t p;

	for (p = 0; p < t->pairs; p++)
		if (!vdrv_flow_done(&t->f[p]))
			return false;
	return true;
}

static uint32_t
traffic_sent(const struct traffic *t)
{
	uint32_t n = 0;
	uint16_t p;

	for (p = 0; p < t->pairs; p++)
		n += t->f[p].sent;
	return n;
}

static int
traffic_err(const struct traffic *t)
{
	uint16_t p;

	for (p = 0; p < t->pairs; p++)
		if (t->f[p].err != 0)
			return t->f[p].err;
	return 0;
}

/*
 * Frames a reset dropped at the end of a flow leave no gap to see: when
 * the device took every frame posted and each one not received is one
 * the VF's resets dropped and no flow counted yet (telemetry
 * reset_drops), they are lost. Looked at once every 20 ms at most.
 */
static bool
traffic_tail_lost(struct traffic *t)
{
	static int64_t last;
	uint64_t missing = 0, counted = wire_lost - t->lost;
	long dropped;
	uint16_t p;

	for (p = 0; p < t->pairs; p++) {
		const struct vdrv_flow *f = &t->f[p];

		if (f->tx_done != f->sent)
			return false;
		missing += f->sent - f->rcvd - f->lost;
		counted += f->lost;
	}
	if (missing == 0 || vdrv_now_ms() - last < 20)
		return false;
	last = vdrv_now_ms();
	dropped = sim_info("reset_drops");
	if (dropped < 0 || (uint64_t)dropped != counted + missing)
		return false;
	for (p = 0; p < t->pairs; p++)
		t->f[p].lost = t->f[p].sent - t->f[p].rcvd;
	return true;
}

/* Nothing moved: a lost tail, or wait for an interrupt (@ms at most). */
static void
traffic_idle(struct traffic *t, int ms)
{
	if (!traffic_tail_lost(t))
		vu_guest_wait_irq(t->g, ms);
}

/* Step every flow until all are done or @sent frames were posted. */
static int
traffic_run_until(struct traffic *t, uint32_t sent)
{
	int64_t end = vdrv_now_ms() + TRAFFIC_MS;
	unsigned int work;
	uint16_t p;

	if (!t->primed)
		for (p = 0; p < t->pairs; p++)
			vdrv_flow_prime(&t->f[p]);
	t->primed = true;
	while (!traffic_done(t) && traffic_err(t) == 0 &&
	       traffic_sent(t) < sent) {
		if (vdrv_now_ms() >= end) {
			fprintf(stderr, "traffic timed out\n");
			break;
		}
		work = 0;
		for (p = 0; p < t->pairs; p++)
			work += vdrv_flow_step(&t->f[p]);
		if (work == 0)
			traffic_idle(t, 5);
	}
	vu_guest_poll_irqs(t->g);
	traffic_count_lost(t);
	if (traffic_err(t) != 0 || (!traffic_done(t) && traffic_sent(t) < sent)) {
		for (p = 0; p < t->pairs; p++)
			vdrv_flow_dump(&t->f[p]);
		return -1;
	}
	return 0;
}

/* Step until every frame posted so far has been received. */
static int
traffic_drain(struct traffic *t)
{
	int64_t end = vdrv_now_ms() + TRAFFIC_MS;
	uint32_t total[NR_PAIRS];
	bool idle = false;
	uint16_t p;

	for (p = 0; p < t->pairs; p++)
		total[p] = t->f[p].total;
	while (!idle && traffic_err(t) == 0 && vdrv_now_ms() < end) {
		unsigned int work = 0;

		idle = true;
		for (p = 0; p < t->pairs; p++) {
			if (t->f[p].rcvd + t->f[p].lost == t->f[p].sent &&
			    t->f[p].tx_done == t->f[p].sent)
				continue;
			idle = false;
			/* Receive only: no more frames posted meanwhile. */
			t->f[p].total = t->f[p].sent;
			work += vdrv_flow_step(&t->f[p]);
		}
		if (!idle && work == 0)
			traffic_idle(t, 1);
	}
	vu_guest_poll_irqs(t->g);
	traffic_count_lost(t);
	for (p = 0; p < t->pairs; p++)
		t->f[p].total = total[p];
	if (!idle)
		fprintf(stderr, "traffic did not drain\n");
	return idle ? 0 : -1;
}

/* Spin until the device has used an entry of @vq past @from (<= 1 s). */
static void
wait_busy(const struct vdrv_vq *vq, uint16_t from)
{
	int64_t end = vdrv_now_ms() + 1000;

	while (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) == from &&
	       vdrv_now_ms() < end)
		;
}

static int
traffic_run(struct traffic *t)
{
	return traffic_run_until(t, UINT32_MAX);
}

/*
 * An IFCVF is reconfigured on the running VF, never reset: it started
 * once (a VF without ring-state registers may restart).
 */
static int
check_one_start(void)
{
	long n = sim_info("starts");

	if (!mode->has_lm || n == 1)
		return 0;
	fprintf(stderr, "the VF started %ld times, not once\n", n);
	return -1;
}

/* ---- Guest ---- */

static int
guest_open(struct vu_guest *g, uint64_t log_size)
{
	const struct vu_guest_params p = {
		.nr_pairs = NR_PAIRS,
		.queue_size = QUEUE_SIZE,
		.mem_len = GUEST_MEM_LEN,
		.features = guest_features,
		.timeout_ms = 10000,	/* a loaded machine */
	};
	long f;

	CHECK_EQ(vu_guest_connect(g, vdpa.sock, &p), 0);
	/* What was asked for: VERSION_1 and MRG_RXBUF or not. */
	CHECK_EQ(g->features & ((1ULL << VIRTIO_F_VERSION_1) |
				(1ULL << VIRTIO_NET_F_MRG_RXBUF)),
		 guest_features & ((1ULL << VIRTIO_F_VERSION_1) |
				   (1ULL << VIRTIO_NET_F_MRG_RXBUF)));
	CHECK_EQ(vu_guest_queues_init(g), 0);
	CHECK_EQ(vu_guest_set_mem_table(g, g->nr_mem), 0);
	CHECK(g->dev_features & (1ULL << VU_F_LOG_ALL));
	CHECK(g->features & (1ULL << VIRTIO_NET_F_MQ));
	CHECK(g->protocol & (1ULL << VU_PF_LOG_SHMFD));
	CHECK_EQ(vu_guest_start(g), 0);
	CHECK_EQ(wait_configures(1), 1);
	/* The VF runs with what the driver negotiated, and its header rule. */
	f = sim_info("driver_features");
	CHECK(f >= 0);
	CHECK_EQ(f, vf_info("features"));
	CHECK_EQ(f & (1ULL << VIRTIO_F_VERSION_1),
		 (long)(g->features & (1ULL << VIRTIO_F_VERSION_1)));
	CHECK_EQ(sim_info("net_header"), (long)vdrv_net_hdr_len(g->features));
	CHECK_EQ(vu_guest_set_log(g, log_size), 0);
	return 0;
}

/*
 * LOG_ALL on or off; the backend has handled it when this returns. Once
 * a driver that did not log does, the truth starts: each page the device
 * writes from then on must be in the log.
 */
static int
log_all(struct vu_guest *g, bool on)
{
	char reply[4096];
	bool was_off;

	CHECK_EQ(vdpa_proc_telemetry(&vdpa, VDPA_PROC_VF0_INFO, reply,
				     sizeof(reply)), 0);
	CHECK(strstr(reply, "\"logging\":") != NULL);
	was_off = strstr(reply, "\"logging\":\"off\"") != NULL;
	CHECK_EQ(vu_guest_log_all(g, on), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	if (on && was_off)
		CHECK_EQ(truth_reset(), 0);
	return 0;
}

/* GET_VRING_BASE of every queue (QEMU's vhost_dev_stop): the close. */
static int
stop_and_check_bases(struct vu_guest *g, uint32_t *bases)
{
	uint16_t q;

	CHECK_EQ(vu_guest_stop(g, bases), 0);
	for (q = 0; q < g->nr_queues; q++) {
		/* The device wrote nothing since: what the frontend sees. */
		if (bases[q] == g->vq[q].used->idx)
			continue;
		fprintf(stderr, "queue %u: base %u, used idx %u (avail %u)\n",
			q, bases[q], g->vq[q].used->idx, g->vq[q].avail_idx);
		return -1;
	}
	return 0;
}

/*
 * The last round: traffic to its end, the close (GET_VRING_BASE of every
 * queue), then every check of the log against the truth and of the
 * frontend's view; at least @closes closes, each leaving no mapping.
 */
static int
finish_and_check(struct vu_guest *g, struct traffic *t, struct pages *truth,
		 bool rx_pages, unsigned int closes)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];

	if (traffic_run(t) < 0 || stop_and_check_bases(g, bases) < 0 ||
	    truth_read(truth) < 0)
		return -1;
	if (check_log(g, truth) < 0 ||
	    (rx_pages && check_rx_pages(g, truth) < 0) ||
	    check_round(g) < 0 || check_used_logged(g) < 0)
		return -1;
	return check_closes(closes);
}

/* ---- Cases ---- */

/* LOG_ALL from the start, traffic on every pair, close. */
static int
case_log_full(struct vu_guest *g, struct pages *truth)
{
	struct traffic t;

	if (guest_open(g, 0) < 0 || log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES);
	/* Two pre-copy rounds. */
	if (traffic_run_until(&t, FRAMES * NR_PAIRS / 2) < 0 ||
	    traffic_drain(&t) < 0)
		return -1;
	log_round(g);
	return finish_and_check(g, &t, truth, true, 1);
}

/*
 * A log the frontend hands at @offset of its memfd, of @size bytes (0:
 * enough for the guest, whole pages); otherwise as log_full.
 */
static int
log_placed(struct vu_guest *g, struct pages *truth, uint64_t size,
	   uint64_t offset)
{
	struct traffic t;

	if (guest_open(g, 0) < 0 ||
	    vu_guest_set_log_at(g, size, 0, offset) < 0 ||
	    log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES);
	return finish_and_check(g, &t, truth, true, 1);
}

/*
 * The log handed again while logging, as QEMU does once per queue pair
 * (the same memfd, then SET_FEATURES with LOG_ALL): vhost maps it anew
 * and unmaps the old mapping; the VF must log into the new one.
 */
static int
case_log_rebase(struct vu_guest *g, struct pages *truth)
{
	struct traffic t;
	uint16_t p;

	if (guest_open(g, 0) < 0 || log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES);
	for (p = 0; p < NR_PAIRS; p++) {
		if (traffic_run_until(&t, FRAMES * (p + 1) / NR_PAIRS) < 0 ||
		    vu_set_log_base(&g->c, g->log_fd, g->log_size, 0) < 0 ||
		    log_all(g, true) < 0)
			return -1;
	}
	/* HW mode maps each new log on the running VF. */
	if (check_one_start() < 0)
		return -1;
	return finish_and_check(g, &t, truth, true, 1);
}

/* A log at a non-zero mmap offset (valid in vhost-user). */
static int
case_log_offset(struct vu_guest *g, struct pages *truth)
{
	return log_placed(g, truth, 0, 3 * VDRV_PAGE_SIZE);
}

/* A log of exactly the bytes the guest's highest page needs. */
static int
case_log_exact(struct vu_guest *g, struct pages *truth)
{
	uint64_t top = VU_GUEST_GPA + GUEST_MEM_LEN;

	return log_placed(g, truth, (top / VDRV_PAGE_SIZE + 7) / 8, 0);
}

/*
 * The end of a migration in the middle of traffic, ROUNDS times: a ring of
 * frames posted at once and the stop while the device works on them (or
 * before it saw them). The indices handed back must be the used indices
 * the frontend sees; a destination on the same memory resumes from them
 * (logging again: the next round migrates it), and every numbered frame
 * arrives once, in order: a TX entry skipped or processed twice breaks the
 * sequence, an RX entry skipped or reused breaks the reap.
 */
#define ROUNDS		16
#define RS_FRAMES	(FRAMES * 4)

static int
ring_state_round(struct vu_guest *g, struct traffic *t, unsigned int round,
		 unsigned int *busy, unsigned int *unseen)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct pages truth = { 0 };
	uint16_t p, used0;
	int ret;

	if (traffic_run_until(t, (round + 1) * RS_FRAMES * NR_PAIRS /
			      (ROUNDS + 2)) < 0 || traffic_drain(t) < 0)
		return -1;
	used0 = g->vq[1].used->idx;
	for (p = 0; p < NR_PAIRS; p++)
		vdrv_flow_step(&t->f[p]);
	/* Odd rounds stop at once, even ones once the device is busy. */
	if (round % 2 == 0)
		wait_busy(&g->vq[1], used0);
	if (stop_and_check_bases(g, bases) < 0 || truth_read(&truth) < 0)
		return -1;
	/* A stop before the device saw the burst: nothing written. */
	ret = check_log_ext(g, &truth, true);
	free(truth.pfn);
	if (ret < 0)
		return -1;
	for (p = 0; p < NR_PAIRS; p++) {
		*busy += bases[2 * p + 1] != used0 &&
			 bases[2 * p + 1] != g->vq[2 * p + 1].avail_idx;
		*unseen += bases[2 * p + 1] != g->vq[2 * p + 1].avail_idx;
	}
	vu_guest_log_clear(g);
	if (vu_guest_reconnect(g, vdpa.sock, bases) < 0 ||
	    wait_configures(round + 2) != round + 2 ||
	    vu_guest_set_log(g, 0) < 0 || log_all(g, true) < 0)
		return -1;
	return 0;
}

static int
case_ring_state(struct vu_guest *g, struct pages *truth __rte_unused)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	unsigned int round, busy = 0, unseen = 0;
	struct traffic t;
	uint16_t p;

	if (guest_open(g, 0) < 0 || log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, RS_FRAMES);
	for (round = 0; round < ROUNDS; round++)
		if (ring_state_round(g, &t, round, &busy, &unseen) < 0)
			return -1;
	if (traffic_run(&t) < 0 || stop_and_check_bases(g, bases) < 0)
		return -1;
	printf("  %u stops: TX entries left to the destination in %u queue(s), "
	       "in the middle of a burst in %u\n", ROUNDS, unseen, busy);
	for (p = 0; p < NR_PAIRS; p++) {
		/* An RX buffer per frame received; resets drop some. */
		uint16_t rx_want = RS_FRAMES - t.f[p].lost;

		if (bases[2 * p + 1] != (uint16_t)RS_FRAMES ||
		    bases[2 * p] != rx_want) {
			fprintf(stderr, "pair %u: bases %u %u, want %u %u\n",
				p, bases[2 * p], bases[2 * p + 1], rx_want,
				RS_FRAMES);
			return -1;
		}
	}
	return check_closes(ROUNDS + 1);
}

/* Traffic without logging, LOG_ALL on in the middle of it, close. */
static int
case_switch_midway(struct vu_guest *g, struct pages *truth)
{
	struct traffic t;
	int ret = -1;

	if (guest_open(g, 0) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES);
	if (traffic_run_until(&t, FRAMES * NR_PAIRS / 3) < 0)
		return -1;
	vu_guest_log_clear(g);
	if (log_all(g, true) < 0)
		return -1;
	/* A round after the switch. */
	if (traffic_run_until(&t, 2 * FRAMES * NR_PAIRS / 3) < 0 ||
	    traffic_drain(&t) < 0)
		return -1;
	log_round(g);
	ret = finish_and_check(g, &t, truth, false, 1);
	if (ret == 0 && mode->sw && vf_info("shadow_setups") != 1) {
		fprintf(stderr, "the switch did not put the queues on shadow rings\n");
		ret = -1;
	}
	/*
	 * An IFCVF switches on the running device (HW mode logs, SW mode
	 * moves queue by queue): no reset at the switch.
	 */
	if (ret == 0)
		ret = check_one_start();
	return ret;
}

/*
 * A cancelled migration: LOG_ALL on then off in the middle of traffic.
 * Traffic goes on without a reconnect; the device is back on the guest's
 * rings (no new shadow set-up after the cancel) except on a VF without
 * ring-state registers, which stays on them; nothing logs any more.
 */
static int
case_cancel(struct vu_guest *g, struct pages *truth __rte_unused)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	long shadows, hw_logs;
	struct traffic t;
	int ret = -1;

	if (guest_open(g, 0) < 0 || log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES);
	if (traffic_run_until(&t, FRAMES * NR_PAIRS / 2) < 0)
		return -1;
	if (vu_guest_log_count(g) == 0) {
		fprintf(stderr, "nothing logged while logging\n");
		return -1;
	}
	shadows = vf_info("shadow_setups");
	hw_logs = vf_info("hw_log_setups");
	if (shadows < 0 || hw_logs < 0) {
		fprintf(stderr, "no set-up counts in the VF's telemetry\n");
		return -1;
	}
	if (log_all(g, false) < 0 || !vf_wait_for("\"logging\":\"off\""))
		return -1;
	vu_guest_log_clear(g);
	if (traffic_run(&t) < 0)
		return -1;
	/* The rest of the frames after the cancel: a second stream too. */
	traffic_init(&t, g, NR_PAIRS, 11, FRAMES);
	if (traffic_run(&t) < 0)
		return -1;
	if (vu_guest_log_count(g) != 0) {
		fprintf(stderr, "%" PRIu64 " pages logged after the cancel\n",
			vu_guest_log_count(g));
		return -1;
	}
	if (mode->has_lm && (vf_info("shadow_setups") != shadows ||
			     vf_info("hw_log_setups") != hw_logs)) {
		fprintf(stderr, "shadow rings or HW logging set up again after the cancel\n");
		return -1;
	}
	/* On an IFCVF neither switch resets the VF. */
	if (check_one_start() < 0)
		return -1;
	printf("  after the cancel: %s\n", !mode->sw ? "HW logging off" :
	       mode->has_lm ? "the guest's rings again" :
	       "still on shadow rings (no ring-state registers)");
	if (stop_and_check_bases(g, bases) == 0)
		ret = check_closes(1);
	return ret;
}

/* A queue pair disabled and enabled again while logging. */
static int
case_queue_toggle_logging(struct vu_guest *g, struct pages *truth)
{
	struct traffic t;

	if (guest_open(g, 0) < 0 || log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES / 2);
	if (traffic_run(&t) < 0)
		return -1;
	/* Pair 1 off and on while pair 0 carries traffic. */
	traffic_init(&t, g, 1, 21, FRAMES);
	if (traffic_run_until(&t, FRAMES / 3) < 0)
		return -1;
	if (vu_guest_enable_queues(g, 2, 2, false) < 0 ||
	    traffic_run_until(&t, 2 * FRAMES / 3) < 0 ||
	    vu_guest_enable_queues(g, 2, 2, true) < 0 ||
	    vu_guest_sync(g) < 0 || traffic_run(&t) < 0)
		return -1;
	/* An IFCVF stops and starts the pair alone, in both modes. */
	if (check_one_start() < 0)
		return -1;
	/* Both pairs again, in a new round: still logging? */
	log_round(g);
	traffic_init(&t, g, NR_PAIRS, 31, FRAMES / 2);
	return finish_and_check(g, &t, truth, false, 1);
}

/*
 * A memory-table update while logging: vhost closes the device and
 * configures it again. The truth of both configurations must be logged.
 */
static int
case_mem_update_logging(struct vu_guest *g, struct pages *truth)
{
	struct traffic t;
	uint64_t top;
	uint16_t p;

	/* A log for region 0 and the region to come. */
	top = VU_GUEST_GPA + (32ULL << 20) + (8ULL << 20);
	if (guest_open(g, (top / VDRV_PAGE_SIZE + 7) / 8) < 0 ||
	    log_all(g, true) < 0)
		return -1;
	traffic_init(&t, g, NR_PAIRS, 1, FRAMES);
	if (traffic_run_until(&t, FRAMES) < 0)
		return -1;
	if (vu_guest_add_region(g, g->mem[0].gpa + g->mem[0].len,
				8ULL << 20) != 1 ||
	    vu_guest_set_mem_table(g, 2) < 0 || vu_guest_sync(g) < 0)
		return -1;
	if (wait_configures(2) != 2 || check_closes(1) < 0 ||
	    truth_read(truth) < 0)
		return -1;
	if (traffic_run(&t) < 0)
		return -1;
	/* A new round on the new configuration: still logging? */
	log_round(g);
	/* TX frames from the new region: the device reads it. */
	traffic_init(&t, g, NR_PAIRS, 41, FRAMES);
	for (p = 0; p < NR_PAIRS; p++) {
		t.f[p].tx_mem = &g->mem[1];
		t.f[p].tx_mem_off = p * (4ULL << 20);
	}
	return finish_and_check(g, &t, truth, true, 2);
}

/*
 * SW mode: frames a guest made available on shadow rings without the
 * kick it owed (with EVENT_IDX a guest that skipped one skips every later
 * one) still go out, byte for byte, in order: RX buffers and TX frames
 * posted with no kick at all, on a VF quiet since its queues moved. The
 * relay's timer sends them; with relay=poll, its sweep.
 */
#define SKIPPED_FRAMES	8

static int
case_kick_skipped(struct vu_guest *g, struct pages *truth __rte_unused)
{
	uint8_t frame[VDRV_FRAME_MAX];
	uint32_t bases[VU_GUEST_MAX_QUEUES], len, stream, seq, got = 0;
	int64_t end;
	uint16_t nb;
	int r;

	if (guest_open(g, 0) < 0)
		return -1;
	/* Quiet: the stats timer stops, and must be rearmed by the move. */
	usleep(50 * 1000);
	if (log_all(g, true) < 0 || !vf_wait_for("\"shadow_rings\":1"))
		return -1;
	usleep(50 * 1000);
	if (vdrv_rx_fill(&g->vq[0], 0, 0) == 0)
		return -1;
	for (seq = 0; seq < SKIPPED_FRAMES; seq++) {
		len = vdrv_frame_len(7, seq);
		vdrv_frame_fill(frame, len, 7, seq);
		if (vdrv_tx_post(&g->vq[1], frame, len, NULL) < 0)
			return -1;
	}
	end = vdrv_now_ms() + WAIT_MS;
	while (got < SKIPPED_FRAMES && vdrv_now_ms() < end) {
		r = vdrv_rx_reap(&g->vq[0], frame, sizeof(frame), &len, &nb);
		if (r < 0 || (r == 1 && (vdrv_frame_check(frame, len, &stream,
							  &seq) < 0 ||
					 stream != 7 || seq != got))) {
			fprintf(stderr, "frame %u: bad (%d)\n", got, r);
			return -1;
		}
		if (r == 1)
			got++;
		else
			usleep(1000);
	}
	if (got < SKIPPED_FRAMES) {
		fprintf(stderr, "%u of %u frames posted without a kick went out\n",
			got, SKIPPED_FRAMES);
		return -1;
	}
	printf("  %u frames posted without a kick went out\n", got);
	if (stop_and_check_bases(g, bases) < 0)
		return -1;
	return check_closes(1);
}

/* ---- Block devices ---- */

#define BLK_SECTOR	512
#define BLK_CAPACITY	2048		/* sectors: 1 MiB */
#define BLK_QUEUES	2
#define BLK_IO_SECTORS	8
#define BLK_IO		(BLK_IO_SECTORS * BLK_SECTOR)
#define BLK_BATCH	64		/* requests in flight */

/* A request is 3 descriptors: header, data, status. */
_Static_assert(BLK_BATCH * 3 <= QUEUE_SIZE, "a batch fits in a ring");

static uint8_t blk_buf[BLK_IO];
static uint8_t blk_got[BLK_IO];

static int
blk_guest_open(struct vu_guest *g)
{
	const struct vu_guest_params p = {
		.nr_queues = BLK_QUEUES,
		.queue_size = QUEUE_SIZE,
		.buf_cap = BLK_IO + 64,
		.mem_len = GUEST_MEM_LEN,
		.features = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			    (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_MQ) |
			    (1ULL << VU_F_PROTOCOL_FEATURES),
		.protocol = (1ULL << VU_PF_MQ) | (1ULL << VU_PF_LOG_SHMFD) |
			    (1ULL << VU_PF_CONFIG),
		.timeout_ms = 10000,	/* a loaded machine */
	};

	CHECK_EQ(vu_guest_connect(g, vdpa.sock, &p), 0);
	CHECK(g->dev_features & (1ULL << VU_F_LOG_ALL));
	CHECK(g->protocol & (1ULL << VU_PF_LOG_SHMFD));
	CHECK_EQ(vu_guest_queues_init(g), 0);
	CHECK_EQ(vu_guest_set_mem_table(g, g->nr_mem), 0);
	CHECK_EQ(vu_guest_start(g), 0);
	CHECK_EQ(vdpa_proc_wait_configures(&vdpa, 1, BLK_QUEUES, WAIT_MS), 1);
	CHECK_EQ(sim_info("driver_features"), vf_info("features"));
	CHECK_EQ(sim_info("net_header"), 0);
	CHECK_EQ(vu_guest_set_log(g, 0), 0);
	return 0;
}

/* The pages of the pieces of chain @id the device may write. */
static void
blk_pages_written(const struct vdrv_vq *vq, uint16_t id, struct pages *p)
{
	const struct vdrv_slot *s = &vq->slot[id];
	uint64_t gpa, end;
	uint16_t i;

	for (i = 0; i < s->nr_seg; i++) {
		if (!(s->seg[i].flags & VRING_DESC_F_WRITE) ||
		    s->seg[i].len == 0)
			continue;
		gpa = s->buf_gpa + s->seg[i].off;
		end = gpa + s->seg[i].len;
		for (gpa &= ~(uint64_t)(VDRV_PAGE_SIZE - 1); gpa < end;
		     gpa += VDRV_PAGE_SIZE)
			if (!pages_has(p, gpa / VDRV_PAGE_SIZE))
				pages_add(p, gpa / VDRV_PAGE_SIZE);
	}
}

/*
 * @n requests of @type on @qid from @sector on, BLK_IO bytes each, all in
 * flight at once: writes of the pattern of @tag, or reads compared with
 * it byte for byte. The pages the device wrote (a read's data, every
 * status byte) go into @written.
 */
static int
blk_batch(struct vu_guest *g, uint16_t qid, uint32_t type, uint64_t sector,
	  uint16_t n, uint8_t tag, struct pages *written)
{
	int64_t end = vdrv_now_ms() + WAIT_MS;
	uint64_t sector_of[QUEUE_SIZE];
	struct vdrv_vq *vq = &g->vq[qid];
	struct vdrv_blk_done d;
	uint16_t i, done = 0;
	int id, ret;

	for (i = 0; i < n; i++) {
		vdrv_blk_pattern(blk_buf, sector + i * BLK_IO_SECTORS, BLK_IO,
				 tag);
		id = vdrv_blk_post(vq, type, sector + i * BLK_IO_SECTORS,
				   type == VIRTIO_BLK_T_OUT ? blk_buf : NULL,
				   BLK_IO, NULL);
		CHECK(id >= 0);
		sector_of[id] = sector + i * BLK_IO_SECTORS;
	}
	while (done < n) {
		CHECK(vdrv_now_ms() < end);
		vu_guest_kick(g, qid);
		usleep(1000);
		while ((ret = vdrv_blk_reap(vq, &d, blk_got, BLK_IO)) == 1) {
			done++;
			CHECK(d.intact);
			CHECK_EQ(d.status, VIRTIO_BLK_S_OK);
			blk_pages_written(vq, d.id, written);
			if (type != VIRTIO_BLK_T_IN)
				continue;
			vdrv_blk_pattern(blk_buf, sector_of[d.id], BLK_IO, tag);
			if (memcmp(blk_got, blk_buf, BLK_IO) != 0) {
				fprintf(stderr, "sector %" PRIu64 ": data differs\n",
					sector_of[d.id]);
				return -1;
			}
		}
		CHECK_EQ(ret, 0);
	}
	return 0;
}

/* The used entries of queue @q from index @from on are logged. */
static int
check_used_since(const struct vu_guest *g, uint16_t q, uint16_t from)
{
	const struct vdrv_vq *vq = &g->vq[q];
	uint16_t i, end = vq->used->idx;

	if ((uint16_t)(end - from) > vq->size)
		from = end - vq->size;
	for (i = from; i != end; i++)
		CHECK_EQ(check_range_logged(g, vq->used_gpa +
					    offsetof(struct vring_used, ring) +
					    sizeof(struct vring_used_elem) *
					    (i & (vq->size - 1)),
					    sizeof(struct vring_used_elem),
					    "used ring", q), 0);
	return 0;
}

/*
 * The whole disk written with @tag on queue @wq, read back on the other
 * queue, a batch at a time. Every page the device wrote into @written, and
 * every used entry of both queues, must be logged now.
 */
static int
blk_pass(struct vu_guest *g, uint16_t wq, uint8_t tag, struct pages *written)
{
	uint16_t rq = wq ^ 1, used[BLK_QUEUES];
	uint64_t sector;
	size_t i;

	for (i = 0; i < BLK_QUEUES; i++)
		used[i] = g->vq[i].used->idx;
	for (sector = 0; sector < BLK_CAPACITY;
	     sector += BLK_BATCH * BLK_IO_SECTORS) {
		CHECK_EQ(blk_batch(g, wq, VIRTIO_BLK_T_OUT, sector, BLK_BATCH,
				   tag, written), 0);
		CHECK_EQ(blk_batch(g, rq, VIRTIO_BLK_T_IN, sector, BLK_BATCH,
				   tag, written), 0);
	}
	for (i = 0; i < written->n; i++)
		if (!vu_guest_log_test(g, written->pfn[i] * VDRV_PAGE_SIZE)) {
			fprintf(stderr, "page 0x%" PRIx64 " the device wrote is not logged\n",
				written->pfn[i] * VDRV_PAGE_SIZE);
			return -1;
		}
	for (i = 0; i < BLK_QUEUES; i++)
		CHECK_EQ(check_used_since(g, i, used[i]), 0);
	printf("  queue %u: the disk read back, %zu pages written, all logged, and the used entries\n",
	       rq, written->n);
	return 0;
}

/* Every page the frontend saw the device write is in the truth. */
static int
check_written_true(const struct pages *written, const struct pages *truth)
{
	size_t i;

	for (i = 0; i < written->n; i++)
		if (!pages_has(truth, written->pfn[i])) {
			fprintf(stderr, "page 0x%" PRIx64 " the device wrote is not in the truth\n",
				written->pfn[i] * VDRV_PAGE_SIZE);
			return -1;
		}
	return 0;
}

/*
 * A block guest under LOG_ALL: the disk written and read back on both
 * queues, the rings wrapping, a pre-copy round between the passes, each
 * pass's writes of the device (read data, status bytes, used entries)
 * logged as they come; the close hands back the ring state the guest
 * saw, and every page the device wrote is in the log.
 */
static int
case_blk_log(struct vu_guest *g, struct pages *truth)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct pages written = { 0 };
	int ret = -1;

	if (blk_guest_open(g) < 0 || log_all(g, true) < 0 ||
	    blk_pass(g, 0, 1, &written) < 0)
		goto out;
	log_round(g);
	written.n = 0;
	if (blk_pass(g, 1, 2, &written) < 0 ||
	    stop_and_check_bases(g, bases) < 0 || truth_read(truth) < 0 ||
	    check_log(g, truth) < 0 ||
	    check_written_true(&written, truth) < 0)
		goto out;
	ret = check_closes(1);
out:
	free(written.pfn);
	return ret;
}

/* ---- Runner ---- */

/*
 * A case gets a guest with nothing open and an empty record of the pages
 * the device wrote; the runner closes the one and frees the other after it.
 */
struct mig_case {
	const char *name;
	int (*fn)(struct vu_guest *g, struct pages *truth);
	uint64_t features;	/* the guest's; 0: GUEST_FEATURES */
	bool blk;		/* a block VF, not a net one */
	bool sw_only;		/* SW modes only (shadow rings) */
};

static const struct mig_case cases[] = {
	{ "log_full", case_log_full, 0, false, false },
	{ "ring_state", case_ring_state, 0, false, false },
	{ "switch_midway", case_switch_midway, 0, false, false },
	{ "cancel", case_cancel, 0, false, false },
	{ "queue_toggle_logging", case_queue_toggle_logging, 0, false, false },
	{ "mem_update_logging", case_mem_update_logging, 0, false, false },
	{ "log_offset", case_log_offset, 0, false, false },
	{ "log_exact", case_log_exact, 0, false, false },
	{ "log_rebase", case_log_rebase, 0, false, false },
	/* Legacy guests: 10-byte headers, then 12 with MRG_RXBUF. */
	{ "legacy_log_full", case_log_full, LEGACY_FEATURES, false, false },
	{ "legacy_mrg_log_full", case_log_full, LEGACY_MRG_FEATURES, false, false },
	{ "legacy_ring_state", case_ring_state, LEGACY_FEATURES, false, false },
	{ "blk_log", case_blk_log, 0, true, false },
	{ "kick_skipped", case_kick_skipped, 0, false, true },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))
#define NR_MODES (sizeof(modes) / sizeof(modes[0]))

static const struct mig_case *the_case;

/* The case, then its losses: every frame lost is one a reset dropped. */
static int
case_run(void)
{
	struct pages truth = { 0 };
	struct vu_guest g;
	long dropped;
	int ret;

	wire_lost = 0;
	vu_guest_init(&g);
	ret = the_case->fn(&g, &truth);
	vu_guest_fini(&g);
	free(truth.pfn);
	if (ret < 0)
		return ret;
	dropped = sim_info("reset_drops");
	if (dropped != (long)wire_lost) {
		fprintf(stderr, "%u frames lost, the VF's resets dropped %ld\n",
			wire_lost, dropped);
		return -1;
	}
	if (wire_lost > 0)
		printf("  %u frames dropped by VF resets, all accounted for\n",
		       wire_lost);
	return 0;
}

/* A case on a VF in a mode: a run of the suite, <case>_<mode>. */
struct mig_run {
	const struct mig_case *c;
	const struct mode *m;
	char name[48];
};

static int
run_case(const struct test_case *tc)
{
	const struct mig_run *r = tc->param;
	const struct mig_case *c = r->c;
	char devargs[512];

	mode = r->m;
	guest_features = c->features != 0 ? c->features : GUEST_FEATURES;
	log_rounds_reset();
	vdpa_proc_init(&vdpa, "test_mig", r->name);
	if (c->blk)
		snprintf(devargs, sizeof(devargs),
			 "type=blk,capacity=%u,queues=%u,%s",
			 BLK_CAPACITY, BLK_QUEUES, mode->devargs);
	else
		snprintf(devargs, sizeof(devargs), "qp=%u,wire=loop,%s",
			 NR_PAIRS, mode->devargs);
	the_case = c;
	return vdpa_proc_run(&vdpa, devargs, case_run);
}

/* Every case in every mode it runs in (SW modes only for sw_only). */
static unsigned int
runs_fill(struct mig_run *runs, struct test_case *tcs)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < NR_CASES; i++) {
		for (j = 0; j < NR_MODES; j++) {
			if (cases[i].sw_only && !modes[j].sw)
				continue;
			runs[n].c = &cases[i];
			runs[n].m = &modes[j];
			snprintf(runs[n].name, sizeof(runs[n].name), "%s_%s",
				 cases[i].name, modes[j].name);
			tcs[n] = (struct test_case){
				.name = runs[n].name, .param = &runs[n],
			};
			n++;
		}
	}
	return n;
}

int
main(int argc, char **argv)
{
	static struct mig_run runs[NR_CASES * NR_MODES];
	static struct test_case tcs[NR_CASES * NR_MODES];
	struct test_suite suite = {
		.name = "migration", .cases = tcs, .run = run_case,
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s <builddir> [<case>_<mode>...|all|list]\n",
			argv[0]);
		return 2;
	}
	suite.nr_cases = runs_fill(runs, tcs);
	vdpa_proc_setup(&vdpa, argv[1], vdpa_args);
	return test_main(&suite, argc - 2, argv + 2);
}
