/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * Host notifiers, end to end: two of our vhost-user frontends, one per
 * vDPA port of dpdk-vdpa, each with a slave channel and the protocol
 * features SLAVE_REQ, SLAVE_SEND_FD and HOST_NOTIFIER. vhost sends a
 * VRING_HOST_NOTIFIER_MSG for each queue the driver offers a doorbell
 * for (the driver's get_vfio_device_fd and get_notify_area: the VFIO
 * device fd and the queue's doorbell page in it), and one with NOFD when
 * the driver withdraws it. As QEMU does, we serve the slave channel
 * whenever we wait for a reply (vhost sends these from inside its
 * handling of our requests and waits for the answers), map an offered
 * doorbell page as given (offset and size: one page, page-aligned, or
 * the offer is refused) and unmap a withdrawn one before answering. A
 * kick writes the queue index into the queue's doorbell when it is
 * mapped, else the kick eventfd (the driver's relay). Frames go both
 * ways between the two VFs (port 0 TX -> wire -> port 1 RX and back).
 *
 *   vu_notifier [--count N] [--reject] [--migrate] [--hold] [--legacy]
 *               <sock0> <sock1>
 *
 * --reject: refuse every doorbell offered (a frontend that cannot map
 * it); vhost then withdraws it and kicks go through the eventfds.
 * --migrate: after the first traffic, SW live migration of port 0 as
 * QEMU starts one: SET_LOG_BASE, SET_FEATURES with LOG_ALL, SET_VRING_ADDR
 * with the log flag; traffic again, every frame checked, then the dirty
 * log (every page of each RX buffer the device wrote, the used rings);
 * then logging off as QEMU cancels a migration, and traffic once more.
 * --legacy: a legacy (virtio 0.95) frontend: no VERSION_1 and no
 * MRG_RXBUF, so 10-byte net headers; the VF (QEMU's virtio-net-pci in the
 * nested suite) is programmed with that set through its modern interface.
 * No slave channel: it kicks through the eventfds (the driver's relay).
 * --hold: at each checkpoint (configured, direct, and with --migrate
 * logging, log-off) print "holding <checkpoint>" and wait for a line (or
 * EOF) on stdin, so that the caller can read the driver's statistics.
 *
 * Prints "notifier:" lines (each offer and withdrawal, as it comes, with
 * the phase: setup, direct, log-on, logging, log-off, stop), "kicks:"
 * lines per phase and queue, "log:" lines, then "result: PASS" or
 * "result: FAIL <why>"; exit status 0 on PASS.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vu_guest.h"

#define NR_DEVS		2
#define NR_QUEUES	2	/* one pair per device */
#define TRAFFIC_MS	30000
#define DEF_COUNT	1000
#define MIG_DEV		0	/* the port --migrate migrates */

#define NOTIFIER_PROTOCOL ( \
	(1ULL << VU_PF_REPLY_ACK) | \
	(1ULL << VU_PF_MQ) | \
	(1ULL << VU_PF_LOG_SHMFD) | \
	(1ULL << VU_PF_STATUS) | \
	(1ULL << VU_PF_SLAVE_REQ) | \
	(1ULL << VU_PF_SLAVE_SEND_FD) | \
	(1ULL << VU_PF_HOST_NOTIFIER))

#define NEEDED_PROTOCOL ( \
	(1ULL << VU_PF_SLAVE_REQ) | \
	(1ULL << VU_PF_SLAVE_SEND_FD) | \
	(1ULL << VU_PF_HOST_NOTIFIER))

struct port {
	const char *path;
	unsigned int dev;
	bool opened;		/* g, slave_fd and hn are set */
	struct vu_guest g;
	int slave_fd;
	struct vu_host_notifier hn[NR_QUEUES];
	void *map[NR_QUEUES];
	size_t map_len[NR_QUEUES];
	/* This phase's messages, and g.kicks at its start. */
	unsigned int offered[NR_QUEUES];
	unsigned int withdrawn[NR_QUEUES];
	uint64_t kicks0[NR_QUEUES];
	uint64_t bell0[NR_QUEUES];
};

static struct port ports[NR_DEVS];
static bool reject_all;
static bool legacy;
static bool keep;
static long page_size;
static const char *phase = "setup";

static int
fail(const char *why)
{
	printf("result: FAIL %s\n", why);
	fflush(stdout);
	return -1;
}

static bool
aligned(uint64_t off)
{
	return (off & (uint64_t)(page_size - 1)) == 0;
}

/*
 * Where the offer points: vfio-pci places region (BAR) i at i << 40 in
 * the device fd; the region's info must hold the whole area.
 */
static int
describe(struct port *p, unsigned int q, int fd, uint64_t offset,
	 uint64_t size)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = (uint32_t)(offset >> 40),
	};
	char link[64], what[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, what, sizeof(what) - 1);
	what[n > 0 ? n : 0] = '\0';
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0) {
		printf("notifier: %s: dev %u queue %u: offered, but the fd (%s) is no VFIO device: %s\n",
		       phase, p->dev, q, what, strerror(errno));
		return -EINVAL;
	}
	printf("notifier: %s: dev %u queue %u: offered %s region %u + 0x%llx size 0x%llx, %s, region %s\n",
	       phase, p->dev, q, what, reg.index,
	       (unsigned long long)(offset - reg.offset),
	       (unsigned long long)size,
	       aligned(offset) ? "page-aligned" : "not page-aligned",
	       reg.flags & VFIO_REGION_INFO_FLAG_MMAP ? "mmap-able" :
	       "not mmap-able");
	if (offset < reg.offset || offset - reg.offset + size > reg.size)
		return -ERANGE;
	return 0;
}

static void
doorbell_unmap(struct port *p, unsigned int q)
{
	p->g.doorbell[q] = NULL;
	if (p->map[q] != NULL)
		munmap(p->map[q], p->map_len[q]);
	p->map[q] = NULL;
}

/* As QEMU maps a host notifier: one page, at the offset as given. */
static int
doorbell_map(struct port *p, unsigned int q, int fd, uint64_t offset,
	     uint64_t size)
{
	void *addr;

	if (describe(p, q, fd, offset, size) < 0)
		return -EINVAL;
	if (reject_all) {
		printf("notifier: %s: dev %u queue %u: refused (--reject)\n",
		       phase, p->dev, q);
		return -EPERM;
	}
	if (!aligned(offset) || size != (uint64_t)page_size) {
		printf("notifier: %s: dev %u queue %u: refused, not one page at a page boundary\n",
		       phase, p->dev, q);
		return -EINVAL;
	}
	addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)offset);
	if (addr == MAP_FAILED) {
		printf("notifier: %s: dev %u queue %u: refused, mmap: %s\n",
		       phase, p->dev, q, strerror(errno));
		return -errno;
	}
	p->map[q] = addr;
	p->map_len[q] = size;
	p->g.doorbell[q] = addr;
	return 0;
}

/*
 * A slave request that came while we waited for a reply: the doorbell
 * it takes away is unmapped, the one it offers mapped, before the
 * answer.
 */
static int
on_slave(void *arg, struct vu_msg *m)
{
	struct port *p = arg;
	const struct vu_vring_area *a = &m->payload.area;
	unsigned int q = a->u64 & VU_VRING_IDX_MASK;
	bool nofd = (a->u64 & VU_VRING_NOFD) != 0;
	uint64_t result = 0;
	int ret;

	if ((m->hdr.flags & 0x3) == VU_VERSION &&
	    m->hdr.request == VU_SLAVE_VRING_HOST_NOTIFIER_MSG &&
	    m->hdr.size == sizeof(*a) && q < NR_QUEUES &&
	    m->nr_fds == (nofd ? 0u : 1u)) {
		doorbell_unmap(p, q);
		if (nofd) {
			p->withdrawn[q]++;
			printf("notifier: %s: dev %u queue %u: withdrawn\n",
			       phase, p->dev, q);
		} else {
			p->offered[q]++;
			if (doorbell_map(p, q, m->fds[0], a->offset,
					 a->size) < 0)
				result = 1;
		}
	}
	ret = vu_slave_handle(p->slave_fd, m, p->hn, NR_QUEUES, result);
	return ret < 0 ? ret : 0;
}

/* Connect, negotiate, open the slave channel; no queue yet. */
/* A legacy frontend: no slave channel, no doorbell to map. */
static int
port_open_legacy(struct port *p)
{
	int ret;

	if (p->g.features & (1ULL << VIRTIO_F_VERSION_1)) {
		fprintf(stderr, "%s: VERSION_1 negotiated by a legacy frontend\n",
			p->path);
		return -EPROTO;
	}
	printf("legacy: %s features 0x%llx, %u-byte net headers\n",
	       p->path, (unsigned long long)p->g.features,
	       vdrv_net_hdr_len(p->g.features));
	ret = vu_guest_set_mem_table(&p->g, p->g.nr_mem);
	return ret == 0 ? vu_guest_queues_init(&p->g) : ret;
}

static int
port_open(struct port *p)
{
	const struct vu_guest_params params = {
		.protocol = legacy ? NOTIFIER_PROTOCOL & ~NEEDED_PROTOCOL :
				     NOTIFIER_PROTOCOL,
		.timeout_ms = 5000,
		.features = legacy ? (1ULL << VIRTIO_RING_F_EVENT_IDX) |
				     (1ULL << VIRTIO_NET_F_MAC) |
				     (1ULL << VU_F_PROTOCOL_FEATURES) : 0,
	};
	int ret;

	p->slave_fd = -1;
	vu_host_notifiers_init(p->hn, NR_QUEUES);
	p->opened = true;
	ret = vu_guest_connect(&p->g, p->path, &params);
	if (ret < 0)
		return ret;
	if (legacy)
		return port_open_legacy(p);
	if ((p->g.protocol & NEEDED_PROTOCOL) != NEEDED_PROTOCOL) {
		fprintf(stderr, "%s: protocol features 0x%llx lack the host notifier ones\n",
			p->path, (unsigned long long)p->g.dev_protocol);
		return -ENOTSUP;
	}
	ret = vu_set_slave_req_fd(&p->g.c, &p->slave_fd);
	if (ret < 0)
		return ret;
	vu_serve_slave(&p->g.c, p->slave_fd, on_slave, p);
	ret = vu_guest_set_mem_table(&p->g, p->g.nr_mem);
	if (ret == 0)
		ret = vu_guest_queues_init(&p->g);
	return ret;
}

/*
 * Every queue, then DRIVER_OK: vhost configures the device after its
 * ack and, from dev_conf, sends the offers on the slave channel before
 * it reads our next request; the round trip after serves them.
 */
static int
port_start(struct port *p)
{
	uint16_t q;
	int ret = 0;

	for (q = 0; q < p->g.nr_queues && ret == 0; q++)
		ret = vu_guest_queue_setup(&p->g, q, true);
	if (ret == 0)
		ret = vu_set_status(&p->g.c, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				    VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK |
				    VIRTIO_CONFIG_S_DRIVER_OK);
	if (ret == 0)
		ret = vu_guest_sync(&p->g);
	return ret;
}

static void
port_close(struct port *p)
{
	unsigned int q;

	if (!p->opened)
		return;
	for (q = 0; q < NR_QUEUES; q++)
		doorbell_unmap(p, q);
	vu_guest_fini(&p->g);
	vu_host_notifiers_fini(p->hn, NR_QUEUES);
	if (p->slave_fd >= 0)
		close(p->slave_fd);
	p->slave_fd = -1;
}

static unsigned int
mapped(const struct port *p)
{
	unsigned int q, n = 0;

	for (q = 0; q < NR_QUEUES; q++)
		n += p->g.doorbell[q] != NULL;
	return n;
}

static void
phase_begin(const char *name)
{
	unsigned int d, q;

	phase = name;
	for (d = 0; d < NR_DEVS; d++)
		for (q = 0; q < NR_QUEUES; q++) {
			ports[d].offered[q] = 0;
			ports[d].withdrawn[q] = 0;
			ports[d].kicks0[q] = ports[d].g.kicks[q];
			ports[d].bell0[q] = ports[d].g.doorbell_kicks[q];
		}
}

/* This phase's kicks of each queue, by the way they went. */
static void
phase_kicks(void)
{
	unsigned int d, q;

	for (d = 0; d < NR_DEVS; d++)
		for (q = 0; q < NR_QUEUES; q++) {
			const struct port *p = &ports[d];
			uint64_t bell = p->g.doorbell_kicks[q] - p->bell0[q];
			uint64_t all = p->g.kicks[q] - p->kicks0[q];

			printf("kicks: %s: dev %u queue %u: %llu through the doorbell, %llu through the eventfd\n",
			       phase, d, q, (unsigned long long)bell,
			       (unsigned long long)(all - bell));
		}
}

static void
hold(const char *checkpoint)
{
	char line[64];

	if (!keep)
		return;
	printf("holding %s\n", checkpoint);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return;
}

/*
 * The ground truth of the pages the device writes on a port's RX queue:
 * each used entry the device publishes, read before the flow reaps it,
 * names the buffer and the bytes written.
 */
static struct {
	struct port *p;		/* watched; NULL: none */
	uint16_t next;		/* the next used entry to read */
	uint8_t *page;		/* region 0's pages written */
	unsigned int buffers;	/* used entries read */
} truth;

static int
truth_begin(struct port *p)
{
	truth.page = calloc(p->g.mem[0].len / VDRV_PAGE_SIZE, 1);
	if (truth.page == NULL)
		return -ENOMEM;
	truth.p = p;
	truth.next = p->g.vq[vdrv_rxq(0)].last_used_idx;
	truth.buffers = 0;
	return 0;
}

static void
truth_mark(uint64_t gpa, uint64_t len)
{
	const struct vdrv_mem *m = &truth.p->g.mem[0];
	uint64_t a;

	for (a = gpa & ~(uint64_t)(VDRV_PAGE_SIZE - 1); a < gpa + len;
	     a += VDRV_PAGE_SIZE)
		if (a >= m->gpa && a < m->gpa + m->len)
			truth.page[(a - m->gpa) / VDRV_PAGE_SIZE] = 1;
}

static void
truth_watch(void)
{
	const struct vdrv_vq *rx;
	const struct vdrv_slot *s;
	uint32_t left, n;
	uint16_t idx, i;

	if (truth.p == NULL)
		return;
	rx = &truth.p->g.vq[vdrv_rxq(0)];
	idx = __atomic_load_n(&rx->used->idx, __ATOMIC_ACQUIRE);
	for (; truth.next != idx; truth.next++) {
		const struct vring_used_elem *e =
			&rx->used->ring[truth.next % rx->size];

		if (e->id >= rx->size)
			continue;	/* the flow reports it */
		s = &rx->slot[e->id];
		left = e->len;
		for (i = 0; i < s->nr_seg && left > 0; i++) {
			n = left < s->seg[i].len ? left : s->seg[i].len;
			truth_mark(s->buf_gpa + s->seg[i].off, n);
			left -= n;
		}
		truth.buffers++;
	}
}

/*
 * The dirty log holds every page the device wrote into the watched RX
 * buffers and every page of the used rings (the relay's).
 */
static int
check_log(void)
{
	const struct port *p = truth.p;
	const struct vu_guest *g = &p->g;
	const struct vdrv_mem *m = &g->mem[0];
	unsigned int pages = 0, missed = 0, used_missed = 0;
	uint64_t i, gpa;
	uint16_t q;

	for (i = 0; i < m->len / VDRV_PAGE_SIZE; i++) {
		if (!truth.page[i])
			continue;
		pages++;
		gpa = m->gpa + i * VDRV_PAGE_SIZE;
		if (vu_guest_log_test(g, gpa))
			continue;
		if (missed++ < 5)
			printf("log: dev %u: RX buffer page 0x%llx written, not logged\n",
			       p->dev, (unsigned long long)gpa);
	}
	for (q = 0; q < g->nr_queues; q++) {
		const struct vdrv_vq *vq = &g->vq[q];

		for (gpa = vq->used_gpa & ~(uint64_t)(VDRV_PAGE_SIZE - 1);
		     gpa < vq->used_gpa + vq->used_len;
		     gpa += VDRV_PAGE_SIZE) {
			if (vu_guest_log_test(g, gpa))
				continue;
			used_missed++;
			printf("log: dev %u: used ring of queue %u: page 0x%llx not logged\n",
			       p->dev, q, (unsigned long long)gpa);
		}
	}
	printf("log: dev %u: %u RX buffers written while logging (%u pages), %u of those pages not logged; %u used-ring pages not logged; %llu dirty pages\n",
	       p->dev, truth.buffers, pages, missed, used_missed,
	       (unsigned long long)vu_guest_log_count(g));
	free(truth.page);
	truth.page = NULL;
	truth.p = NULL;
	return pages > 0 && missed == 0 && used_missed == 0 ? 0 : -1;
}

/*
 * Frames both ways at once, streams @stream and @stream + 1; 0 when
 * every one arrived intact, in order.
 */
static int
traffic(uint32_t count, uint32_t stream)
{
	struct vdrv_flow *f = calloc(NR_DEVS, sizeof(*f));
	int64_t end = vdrv_now_ms() + TRAFFIC_MS;
	unsigned int i, work;
	int ret = 0;

	if (f == NULL)
		return -ENOMEM;
	vu_flow_init(&f[0], &ports[0].g, 0, &ports[1].g, 0, stream, count);
	vu_flow_init(&f[1], &ports[1].g, 0, &ports[0].g, 0, stream + 1,
		     count);
	for (i = 0; i < NR_DEVS; i++)
		vdrv_flow_prime(&f[i]);
	while (!(vdrv_flow_done(&f[0]) && vdrv_flow_done(&f[1]))) {
		if (f[0].err != 0 || f[1].err != 0) {
			ret = -EIO;
			break;
		}
		if (vdrv_now_ms() >= end) {
			fprintf(stderr, "traffic timed out\n");
			ret = -ETIMEDOUT;
			break;
		}
		work = 0;
		for (i = 0; i < NR_DEVS; i++) {
			truth_watch();
			work += vdrv_flow_step(&f[i]);
		}
		if (work == 0)
			vu_guest_wait_irq(&ports[1].g, 2);
	}
	truth_watch();
	for (i = 0; i < NR_DEVS; i++) {
		vu_guest_poll_irqs(&ports[i].g);
		printf("flow %s %u: %u frames sent, %u received\n", phase,
		       stream + i, f[i].tx_done, f[i].rcvd);
		if (ret != 0)
			vdrv_flow_dump(&f[i]);
	}
	free(f);
	phase_kicks();
	return ret;
}

/*
 * SW live migration of port MIG_DEV with its doorbells mapped, as QEMU
 * starts and then cancels one: every doorbell is withdrawn before the
 * reply to SET_FEATURES (LOG_ALL), traffic goes on through the kick
 * eventfds, the log gets every page the device wrote; then logging off.
 */
static int
migrate(uint32_t count)
{
	struct port *p = &ports[MIG_DEV];
	unsigned int q, offered = 0;
	bool had[NR_QUEUES];

	if (mapped(p) == 0)
		return fail("--migrate: dev 0 had no doorbell mapped");
	for (q = 0; q < NR_QUEUES; q++)
		had[q] = p->g.doorbell[q] != NULL;
	phase_begin("log-on");
	if (vu_guest_set_log(&p->g, 0) < 0 || vu_guest_log_all(&p->g, true) < 0 ||
	    vu_guest_sync(&p->g) < 0)
		return fail("logging on: a request failed");
	printf("notifier: log-on: dev %u: %u of %u doorbells mapped after LOG_ALL\n",
	       p->dev, mapped(p), NR_QUEUES);
	if (mapped(p) != 0)
		return fail("a doorbell kept while logging");
	for (q = 0; q < NR_QUEUES; q++)
		if (had[q] && p->withdrawn[q] == 0)
			return fail("a mapped doorbell was never withdrawn");

	phase_begin("logging");
	if (truth_begin(p) < 0)
		return fail("no memory");
	if (traffic(count, 3) < 0)
		return fail("frames lost or corrupt while logging");
	if (check_log() < 0)
		return fail("a page the device wrote is not in the dirty log");
	hold("logging");

	phase_begin("log-off");
	if (vu_guest_log_all(&p->g, false) < 0 || vu_guest_sync(&p->g) < 0)
		return fail("logging off: a request failed");
	for (q = 0; q < NR_QUEUES; q++)
		offered += p->offered[q];
	printf("notifier: log-off: dev %u: %u doorbells offered again, %u mapped\n",
	       p->dev, offered, mapped(p));
	if (traffic(count, 5) < 0)
		return fail("frames lost or corrupt after logging");
	hold("log-off");
	return 0;
}

static int
run(uint32_t count, bool mig)
{
	unsigned int d, q;
	char why[128];
	int ret;

	for (d = 0; d < NR_DEVS; d++) {
		ports[d].dev = d;
		ret = port_open(&ports[d]);
		if (ret < 0)
			return fail("cannot connect and negotiate");
	}
	phase_begin("setup");
	for (d = 0; d < NR_DEVS; d++) {
		ret = port_start(&ports[d]);
		if (ret < 0) {
			snprintf(why, sizeof(why),
				 "dev %u: set-up or notifiers: %s", d,
				 strerror(-ret));
			return fail(why);
		}
	}
	for (d = 0; d < NR_DEVS; d++)
		for (q = 0; q < NR_QUEUES; q++)
			if (ports[d].hn[q].msgs == 0)
				printf("notifier: setup: dev %u queue %u: none\n",
				       d, q);
	printf("notifier: setup: %u of %u doorbells mapped\n",
	       mapped(&ports[0]) + mapped(&ports[1]), NR_DEVS * NR_QUEUES);
	hold("configured");

	phase_begin("direct");
	ret = traffic(count, 1);
	if (ret < 0)
		return fail("frames lost or corrupt");
	hold("direct");
	if (mig && migrate(count) < 0)
		return -1;

	phase_begin("stop");
	for (d = 0; d < NR_DEVS; d++)
		if (vu_guest_stop(&ports[d].g, NULL) < 0)
			return fail("GET_VRING_BASE failed");
	printf("notifier: stop: %u of %u doorbells mapped\n",
	       mapped(&ports[0]) + mapped(&ports[1]), NR_DEVS * NR_QUEUES);
	printf("result: PASS\n");
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t count = DEF_COUNT;
	bool mig = false;
	unsigned int d;
	int i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = sysconf(_SC_PAGESIZE);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--reject") == 0)
			reject_all = true;
		else if (strcmp(argv[i], "--migrate") == 0)
			mig = true;
		else if (strcmp(argv[i], "--hold") == 0)
			keep = true;
		else if (strcmp(argv[i], "--legacy") == 0)
			legacy = true;
		else
			break;
	}
	if (argc - i != NR_DEVS || count == 0) {
		fprintf(stderr, "usage: %s [--count N] [--reject] [--migrate] [--hold] [--legacy] <sock0> <sock1>\n",
			argv[0]);
		return 2;
	}
	for (d = 0; d < NR_DEVS; d++)
		ports[d].path = argv[i + d];
	ret = run(count, mig);
	for (d = 0; d < NR_DEVS; d++)
		port_close(&ports[d]);
	return ret == 0 ? 0 : 1;
}
