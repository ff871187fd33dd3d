/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * A traffic checker for the end-to-end suites. It drives one port (in the
 * tests, DPDK's net_virtio_user on a vDPA socket) and sends numbered
 * frames with a payload derived from (queue, sequence) on every queue.
 * Whatever comes back (through a peer that swaps MACs, e.g. testpmd in
 * macswap mode) is checked byte for byte. Exit 0 only when every frame
 * came back intact, exactly once, on the queue it left from.
 *
 * With --max-loss N a queue may lose N frames (a device reset drops what
 * waits in the device): when nothing moved for WRITE_OFF_MS, the frames in
 * flight are written off, so a loss does not shrink the window for good,
 * as long as the queue's unanswered frames stay within N. Frames that
 * come back late still count.
 *
 * With --cycles N it connects N times in one process: after each round
 * the port is stopped, closed and its device removed, then probed again
 * with the same devargs (a vhost-user disconnect and reconnect each time).
 * With --hold it keeps the last round's port running until a line (or
 * EOF) arrives on stdin, so the backend can be inspected while connected.
 *
 *   vdpa_traffic <EAL args> -- [--count N] [--window N] [--size N]
 *                [--timeout S] [--grow-mb N] [--cycles N] [--hold]
 *                [--max-loss N]
 */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#define MAX_QUEUES	32
#define BURST		32
#define RING_SIZE	256
#define MAGIC		0x1fc0a5a5u
#define ETHER_TYPE_TEST	0x88b5	/* local experimental */
#define WRITE_OFF_MS	100

struct frame_hdr {
	struct rte_ether_hdr eth;
	uint32_t magic;
	uint16_t queue;
	uint16_t len;
	uint32_t seq;
} __rte_packed __rte_aligned(2);

struct queue_state {
	uint32_t sent;
	uint32_t received;
	uint32_t corrupt;
	uint32_t duplicate;
	uint32_t misrouted;
	uint32_t mark;		/* frames sent before it are written off */
	uint32_t back;		/* frames from mark on that came back */
	uint8_t *seen;		/* one byte per sequence number */
};

static struct {
	uint32_t count;		/* frames per queue */
	uint32_t window;	/* frames in flight per queue */
	uint16_t size;		/* largest frame */
	unsigned int timeout;	/* seconds without progress */
	unsigned int grow_mb;	/* allocate this much mid-run */
	uint32_t max_loss;	/* frames a queue may lose (a device reset) */
	unsigned int cycles;	/* connect, check, disconnect this often */
	bool hold;		/* wait for stdin before the last close */
} opt = {
	.count = 10000,
	.window = 128,
	.size = 1024,
	.timeout = 5,
	.cycles = 1,
};

static struct queue_state qs[MAX_QUEUES];
static struct rte_mempool *pool;
static uint16_t nb_queues;
static uint16_t port;

static uint8_t
pattern(uint16_t q, uint32_t seq, uint16_t i)
{
	return (uint8_t)(seq * 31 + q * 7 + i);
}

static uint16_t
frame_len(uint16_t q, uint32_t seq)
{
	uint16_t min = sizeof(struct frame_hdr) + 4;

	return min + (seq * 131 + q * 17) % (opt.size - min + 1);
}

static struct rte_mbuf *
make_frame(uint16_t q, uint32_t seq)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t len = frame_len(q, seq), i;
	struct frame_hdr *h;
	uint8_t *p;

	if (m == NULL)
		return NULL;
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	h = (struct frame_hdr *)p;
	memset(&h->eth.dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_eth_macaddr_get(port, &h->eth.src_addr);
	h->eth.ether_type = rte_cpu_to_be_16(ETHER_TYPE_TEST);
	h->magic = MAGIC;
	h->queue = q;
	h->len = len;
	h->seq = seq;
	for (i = sizeof(*h); i < len; i++)
		p[i] = pattern(q, seq, i);
	return m;
}

static void
check_frame(uint16_t rxq, struct rte_mbuf *m)
{
	const struct frame_hdr *h = rte_pktmbuf_mtod(m, struct frame_hdr *);
	const uint8_t *p = (const uint8_t *)h;
	struct queue_state *s;
	uint16_t i;

	if (m->nb_segs != 1 || m->pkt_len < sizeof(*h) || h->magic != MAGIC ||
	    h->queue >= nb_queues || h->seq >= opt.count ||
	    h->len != m->pkt_len) {
		qs[rxq].corrupt++;
		return;
	}
	s = &qs[h->queue];
	if (h->queue != rxq)
		s->misrouted++;
	for (i = sizeof(*h); i < h->len; i++)
		if (p[i] != pattern(h->queue, h->seq, i)) {
			s->corrupt++;
			return;
		}
	if (s->seen[h->seq]++) {
		s->duplicate++;
		return;
	}
	s->received++;
	if (h->seq >= s->mark)
		s->back++;
}

static unsigned int
step_queue(uint16_t q)
{
	struct queue_state *s = &qs[q];
	struct rte_mbuf *pkts[BURST];
	unsigned int work = 0;
	uint16_t n, i, sent;

	n = 0;
	while (n < BURST && s->sent + n < opt.count &&
	       s->sent + n - s->mark - s->back < opt.window) {
		pkts[n] = make_frame(q, s->sent + n);
		if (pkts[n] == NULL)
			break;
		n++;
	}
	sent = rte_eth_tx_burst(port, q, pkts, n);
	for (i = sent; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
	s->sent += sent;
	work += sent;

	n = rte_eth_rx_burst(port, q, pkts, BURST);
	for (i = 0; i < n; i++) {
		check_frame(q, pkts[i]);
		rte_pktmbuf_free(pkts[i]);
	}
	return work + n;
}

static bool
all_done(void)
{
	uint16_t q;

	for (q = 0; q < nb_queues; q++)
		if (qs[q].received < opt.count)
			return false;
	return true;
}

/*
 * Nothing moved for a while: forget the frames in flight of each queue
 * whose unanswered frames are within --max-loss, so it sends again.
 */
static void
write_off(void)
{
	uint16_t q;

	for (q = 0; q < nb_queues; q++) {
		struct queue_state *s = &qs[q];

		if (s->sent - s->received <= opt.max_loss) {
			s->mark = s->sent;
			s->back = 0;
		}
	}
}

/* Grow the process's memory (a hugepage EAL then sends a new mem table). */
static void *
grow(void)
{
	void *p = rte_malloc(NULL, (size_t)opt.grow_mb << 20, 0);

	printf("grew memory by %u MiB: %s\n", opt.grow_mb,
	       p != NULL ? "ok" : "failed");
	if (p != NULL)
		memset(p, 1, (size_t)opt.grow_mb << 20);
	return p;
}

static int
run(bool verbose)
{
	uint64_t hz = rte_get_timer_hz(), start = rte_get_timer_cycles();
	uint64_t idle = hz * WRITE_OFF_MS / 1000;
	uint64_t last = start, now;
	void *grown = NULL;
	uint16_t q;
	unsigned int work;
	uint64_t total;

	while (!all_done()) {
		work = 0;
		for (q = 0; q < nb_queues; q++)
			work += step_queue(q);
		now = rte_get_timer_cycles();
		if (work > 0)
			last = now;
		else if (now - last > opt.timeout * hz)
			break;
		else if (opt.max_loss > 0 && now - last > idle)
			write_off();
		if (opt.grow_mb > 0 && grown == NULL && qs[0].received > opt.count / 2)
			grown = grow();
	}
	rte_free(grown);
	now = rte_get_timer_cycles();
	total = 0;
	for (q = 0; q < nb_queues; q++)
		total += qs[q].received;
	if (verbose)
		printf("round trips: %" PRIu64 " in %.3f s, %.0f frames/s\n",
		       total, (double)(now - start) / hz,
		       total / ((double)(now - start) / hz));
	return all_done() ? 0 : -1;
}

/* Per-queue lines (always when @verbose, else only for bad queues). */
static int
report(bool verbose)
{
	int bad = 0, qbad;
	uint16_t q;

	for (q = 0; q < nb_queues; q++) {
		struct queue_state *s = &qs[q];

		qbad = opt.count - s->received > opt.max_loss || s->corrupt ||
		       s->duplicate || s->misrouted;
		if (verbose || qbad)
			printf("queue %u: sent %u received %u lost %u corrupt %u duplicate %u misrouted %u\n",
			       q, s->sent, s->received,
			       s->sent - s->received, s->corrupt,
			       s->duplicate, s->misrouted);
		bad |= qbad;
	}
	return bad;
}

static void
queues_free(void)
{
	uint16_t q;

	for (q = 0; q < MAX_QUEUES; q++) {
		free(qs[q].seen);
		memset(&qs[q], 0, sizeof(qs[q]));
	}
}

static int
port_init(bool verbose)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	uint16_t q;

	if (rte_eth_dev_count_avail() != 1)
		return -1;
	port = rte_eth_find_next(0);
	if (port >= RTE_MAX_ETHPORTS || rte_eth_dev_info_get(port, &info) != 0)
		return -1;
	nb_queues = RTE_MIN(info.max_rx_queues, (uint16_t)MAX_QUEUES);
	nb_queues = RTE_MIN(nb_queues, info.max_tx_queues);
	if (rte_eth_dev_configure(port, nb_queues, nb_queues, &conf) != 0)
		return -1;
	for (q = 0; q < nb_queues; q++) {
		if (rte_eth_rx_queue_setup(port, q, RING_SIZE, 0, NULL, pool) ||
		    rte_eth_tx_queue_setup(port, q, RING_SIZE, 0, NULL))
			return -1;
		qs[q].seen = calloc(opt.count, 1);
		if (qs[q].seen == NULL)
			return -1;
	}
	if (rte_eth_dev_start(port) != 0)
		return -1;
	if (verbose)
		printf("port %u: %u queue pairs\n", port, nb_queues);
	return 0;
}

/* "name,args" of the port's device, to probe it again after removal. */
static int
port_devargs(char *buf, size_t len)
{
	struct rte_eth_dev_info info;
	const struct rte_devargs *da;
	int n;

	port = rte_eth_find_next(0);
	if (port >= RTE_MAX_ETHPORTS || rte_eth_dev_info_get(port, &info) != 0)
		return -1;
	da = rte_dev_devargs(info.device);
	if (da == NULL)
		return -1;
	if (da->args != NULL && da->args[0] != '\0')
		n = snprintf(buf, len, "%s,%s", da->name, da->args);
	else
		n = snprintf(buf, len, "%s", da->name);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Stop, close and (when @remove) hot-unplug the port's device. */
static int
port_fini(bool remove)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;
	int ret = 0;

	if (rte_eth_dev_info_get(port, &info) == 0)
		dev = info.device;
	if (rte_eth_dev_stop(port) != 0 || rte_eth_dev_close(port) != 0)
		ret = -1;
	if (remove && (dev == NULL || rte_dev_remove(dev) != 0)) {
		fprintf(stderr, "cannot remove the port's device\n");
		ret = -1;
	}
	return ret;
}

static void
wait_stdin(void)
{
	int c;

	printf("holding the port, enter a line to close it\n");
	fflush(stdout);
	do
		c = getchar();
	while (c != EOF && c != '\n');
}

/* One connect, check, disconnect round; 0 when every frame came back. */
static int
cycle(unsigned int i, const char *devargs)
{
	bool verbose = opt.cycles == 1, last = i + 1 == opt.cycles;
	int bad;

	if (i > 0 && rte_dev_probe(devargs) != 0) {
		printf("cycle %u: cannot probe %s\n", i, devargs);
		return -1;
	}
	if (port_init(verbose) < 0) {
		printf("cycle %u: cannot set up the port\n", i);
		queues_free();
		return -1;
	}
	if (run(verbose) < 0 && !verbose)
		printf("cycle %u: traffic stalled\n", i);
	bad = report(verbose);
	if (!verbose)
		printf("cycle %u: %s\n", i, bad ? "FAIL" : "PASS");
	if (last && opt.hold)
		wait_stdin();
	if (port_fini(opt.cycles > 1) < 0)
		bad = 1;
	queues_free();
	return bad ? -1 : 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "window", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-loss", required_argument, NULL, 'l' },
		{ "grow-mb", required_argument, NULL, 'g' },
		{ "cycles", required_argument, NULL, 'n' },
		{ "hold", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opt.count = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			opt.window = strtoul(optarg, NULL, 0);
			break;
		case 's':
			opt.size = strtoul(optarg, NULL, 0);
			break;
		case 't':
			opt.timeout = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			opt.max_loss = strtoul(optarg, NULL, 0);
			break;
		case 'g':
			opt.grow_mb = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			opt.cycles = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			opt.hold = true;
			break;
		default:
			return -1;
		}
	}
	if (opt.count == 0 || opt.window == 0 || opt.cycles == 0 ||
	    opt.size < sizeof(struct frame_hdr) + 4 || opt.size > 1514)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	char devargs[1024];
	unsigned int i;
	int ret = rte_eal_init(argc, argv);

	if (ret < 0)
		return 2;
	if (parse_args(argc - ret, argv + ret) < 0) {
		fprintf(stderr, "usage: %s <EAL args> -- [--count N] [--window N] [--size N] [--timeout S] [--grow-mb N] [--cycles N] [--hold] [--max-loss N]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pool = rte_pktmbuf_pool_create("frames", 8191, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_socket_id());
	if (pool == NULL || port_devargs(devargs, sizeof(devargs)) < 0) {
		fprintf(stderr, "cannot set up port 0\n");
		return 2;
	}
	/* A failed round ends the run: the next ones would not be clean. */
	for (i = 0; i < opt.cycles; i++)
		if (cycle(i, devargs) < 0)
			break;
	if (opt.cycles > 1)
		printf("cycles: %u of %u passed\n", i, opt.cycles);
	ret = i < opt.cycles;
	printf("result: %s\n", ret ? "FAIL" : "PASS");
	rte_eal_cleanup();
	return ret;
}
