/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * Host notifiers, end to end: two of our vhost-user frontends, one per
 * vDPA port of dpdk-vdpa, each with a slave channel and the protocol
 * features SLAVE_REQ, SLAVE_SEND_FD and HOST_NOTIFIER. Once the device
 * is configured, vhost sends one VRING_HOST_NOTIFIER_MSG per queue (the
 * driver's get_vfio_device_fd and get_notify_area): the VFIO device fd
 * and the queue's doorbell in it. We map each doorbell and kick by
 * writing the queue index there, never through the kick eventfds, while
 * frames go both ways between the two VFs (port 0 TX -> wire -> port 1
 * RX and back).
 *
 *   vu_notifier [--count N] [--reject-unaligned] [--hold] <sock0> <sock1>
 *
 * --reject-unaligned answers a notifier whose offset is not page-aligned
 * with a failure, as QEMU does (it mmaps the offset as is); vhost then
 * takes every notifier of the device back and kicks go through the
 * eventfds (the driver's relay).
 * --hold: after the traffic, print "holding" and wait for a line (or
 * EOF) on stdin before disconnecting, so that the caller can read the
 * driver's statistics of the configured devices.
 *
 * Prints one "notifier:" line per queue, "kicks:" lines, then
 * "result: PASS" or "result: FAIL <why>"; exit status 0 on PASS.
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
#include <linux/virtio_ring.h>

#include "vu_guest.h"

#define NR_DEVS		2
#define NR_QUEUES	2	/* one pair per device */
#define SETUP_MS	10000	/* every notifier message, in all */
#define TRAFFIC_MS	30000
#define DEF_COUNT	1000

#define NOTIFIER_PROTOCOL ( \
	(1ULL << VU_PF_REPLY_ACK) | \
	(1ULL << VU_PF_MQ) | \
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
	bool opened;		/* g, slave_fd and hn are set */
	struct vu_guest g;
	int slave_fd;
	struct vu_host_notifier hn[NR_QUEUES];
	void *map[NR_QUEUES];
	size_t map_len[NR_QUEUES];
};

static struct port ports[NR_DEVS];
static bool reject_unaligned;
static long page_size;

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

/* Connect, negotiate, open the slave channel; no queue yet. */
static int
port_open(struct port *p)
{
	const struct vu_guest_params params = {
		.protocol = NOTIFIER_PROTOCOL,
		.timeout_ms = 5000,
	};
	int ret;

	p->slave_fd = -1;
	vu_host_notifiers_init(p->hn, NR_QUEUES);
	p->opened = true;
	ret = vu_guest_connect(&p->g, p->path, &params);
	if (ret < 0)
		return ret;
	if ((p->g.protocol & NEEDED_PROTOCOL) != NEEDED_PROTOCOL) {
		fprintf(stderr, "%s: protocol features 0x%llx lack the host notifier ones\n",
			p->path, (unsigned long long)p->g.dev_protocol);
		return -ENOTSUP;
	}
	ret = vu_set_slave_req_fd(&p->g.c, &p->slave_fd);
	if (ret == 0)
		ret = vu_guest_set_mem_table(&p->g, p->g.nr_mem);
	if (ret == 0)
		ret = vu_guest_queues_init(&p->g);
	return ret;
}

/*
 * Every queue, then DRIVER_OK: vhost configures the device after its
 * ack and, from dev_conf, sends the notifiers on the slave channel (the
 * main channel waits until they are answered).
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
	return ret;
}

static bool
all_seen(const struct port *p)
{
	unsigned int q;

	for (q = 0; q < NR_QUEUES; q++)
		if (p->hn[q].msgs == 0)
			return false;
	return true;
}

/* Answer what a QEMU frontend would: it maps the offset as given. */
static uint64_t
verdict(const struct vu_msg *m)
{
	const struct vu_vring_area *a = &m->payload.area;

	if (!reject_unaligned || (a->u64 & VU_VRING_NOFD) != 0 ||
	    m->hdr.request != VU_SLAVE_VRING_HOST_NOTIFIER_MSG)
		return 0;
	return aligned(a->offset) && a->size == (uint64_t)page_size ? 0 : 1;
}

/*
 * Serve the slave channel until every queue had a message and nothing
 * more comes for a while (a refusal makes vhost take them all back).
 */
static int
port_serve(struct port *p)
{
	int64_t end = vdrv_now_ms() + SETUP_MS;
	struct vu_msg m;
	int ret, quiet;

	for (;;) {
		quiet = all_seen(p) ? 300 : (int)(end - vdrv_now_ms());
		if (quiet <= 0)
			return -ETIMEDOUT;
		ret = vu_slave_recv(p->slave_fd, quiet, &m);
		if (ret == -ETIMEDOUT && all_seen(p))
			return 0;
		if (ret < 0)
			return ret;
		ret = vu_slave_handle(p->slave_fd, &m, p->hn, NR_QUEUES,
				      verdict(&m));
		if (ret < 0)
			return ret;
	}
}

/*
 * Where the notifier points: vfio-pci places region (BAR) i at i << 40
 * in the device fd; the region's info must hold the whole area.
 */
static int
describe(const struct vu_host_notifier *hn, unsigned int dev, unsigned int q)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = (uint32_t)(hn->offset >> 40),
	};
	char link[64], what[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", hn->fd);
	n = readlink(link, what, sizeof(what) - 1);
	what[n > 0 ? n : 0] = '\0';
	if (ioctl(hn->fd, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0) {
		fprintf(stderr, "dev %u queue %u: the fd (%s) is no VFIO device: %s\n",
			dev, q, what, strerror(errno));
		return -EINVAL;
	}
	printf("notifier: dev %u queue %u: %s region %u + 0x%llx size 0x%llx, %s, region %s\n",
	       dev, q, what, reg.index,
	       (unsigned long long)(hn->offset - reg.offset),
	       (unsigned long long)hn->size,
	       aligned(hn->offset) ? "page-aligned" : "not page-aligned",
	       reg.flags & VFIO_REGION_INFO_FLAG_MMAP ? "mmap-able" :
	       "not mmap-able");
	if (hn->offset < reg.offset ||
	    hn->offset - reg.offset + sizeof(uint16_t) > reg.size)
		return -ERANGE;
	return 0;
}

static int
port_map(struct port *p, unsigned int dev)
{
	uint64_t in_page, base;
	unsigned int q;
	void *addr;

	for (q = 0; q < NR_QUEUES; q++) {
		const struct vu_host_notifier *hn = &p->hn[q];

		if (hn->fd < 0) {
			printf("notifier: dev %u queue %u: none (%u messages)\n",
			       dev, q, hn->msgs);
			continue;
		}
		if (describe(hn, dev, q) < 0)
			return -EINVAL;
		in_page = hn->offset & (uint64_t)(page_size - 1);
		base = hn->offset - in_page;
		if (in_page + sizeof(uint16_t) > hn->size)
			return -EINVAL;
		addr = mmap(NULL, hn->size, PROT_READ | PROT_WRITE,
			    MAP_SHARED, hn->fd, (off_t)base);
		if (addr == MAP_FAILED) {
			fprintf(stderr, "mmap of dev %u queue %u's doorbell: %s\n",
				dev, q, strerror(errno));
			return -errno;
		}
		p->map[q] = addr;
		p->map_len[q] = hn->size;
		p->g.doorbell[q] = (volatile uint16_t *)
			((uint8_t *)addr + in_page);
	}
	return 0;
}

static void
port_close(struct port *p)
{
	unsigned int q;

	if (!p->opened)
		return;
	for (q = 0; q < NR_QUEUES; q++) {
		p->g.doorbell[q] = NULL;
		if (p->map[q] != NULL)
			munmap(p->map[q], p->map_len[q]);
		p->map[q] = NULL;
	}
	vu_guest_fini(&p->g);
	vu_host_notifiers_fini(p->hn, NR_QUEUES);
	if (p->slave_fd >= 0)
		close(p->slave_fd);
	p->slave_fd = -1;
}

/* Frames both ways at once; 0 when every one arrived intact, in order. */
static int
traffic(uint32_t count)
{
	struct vdrv_flow *f = calloc(NR_DEVS, sizeof(*f));
	int64_t end = vdrv_now_ms() + TRAFFIC_MS;
	unsigned int i, work;
	int ret = 0;

	if (f == NULL)
		return -ENOMEM;
	vu_flow_init(&f[0], &ports[0].g, 0, &ports[1].g, 0, 1, count);
	vu_flow_init(&f[1], &ports[1].g, 0, &ports[0].g, 0, 2, count);
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
		for (i = 0; i < NR_DEVS; i++)
			work += vdrv_flow_step(&f[i]);
		if (work == 0)
			vu_guest_wait_irq(&ports[1].g, 2);
	}
	for (i = 0; i < NR_DEVS; i++) {
		vu_guest_poll_irqs(&ports[i].g);
		printf("flow %u: %u frames sent, %u received\n", i,
		       f[i].tx_done, f[i].rcvd);
		if (ret != 0)
			vdrv_flow_dump(&f[i]);
	}
	free(f);
	return ret;
}

static void
hold(void)
{
	char line[64];

	printf("holding\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return;
}

static int
run(uint32_t count, bool keep)
{
	unsigned int d, q, mapped = 0;
	char why[128];
	int ret;

	for (d = 0; d < NR_DEVS; d++) {
		ret = port_open(&ports[d]);
		if (ret < 0)
			return fail("cannot connect and negotiate");
	}
	for (d = 0; d < NR_DEVS; d++) {
		ret = port_start(&ports[d]);
		if (ret == 0)
			ret = port_serve(&ports[d]);
		if (ret == 0)
			ret = vu_guest_sync(&ports[d].g);
		if (ret < 0) {
			snprintf(why, sizeof(why),
				 "dev %u: set-up or notifiers: %s", d,
				 strerror(-ret));
			return fail(why);
		}
		ret = port_map(&ports[d], d);
		if (ret < 0)
			return fail("a doorbell cannot be mapped");
	}
	for (d = 0; d < NR_DEVS; d++)
		for (q = 0; q < NR_QUEUES; q++)
			mapped += ports[d].g.doorbell[q] != NULL;
	printf("notifier: %u of %u doorbells mapped\n", mapped,
	       NR_DEVS * NR_QUEUES);
	fflush(stdout);
	ret = traffic(count);
	for (d = 0; d < NR_DEVS; d++)
		for (q = 0; q < NR_QUEUES; q++)
			printf("kicks: dev %u queue %u: %llu through the %s\n",
			       d, q, (unsigned long long)ports[d].g.kicks[q],
			       ports[d].g.doorbell[q] != NULL ?
			       "doorbell" : "eventfd");
	if (ret < 0)
		return fail("frames lost or corrupt");
	if (keep)
		hold();
	for (d = 0; d < NR_DEVS; d++)
		if (vu_guest_stop(&ports[d].g, NULL) < 0)
			return fail("GET_VRING_BASE failed");
	printf("result: PASS\n");
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t count = DEF_COUNT;
	bool keep = false;
	unsigned int d;
	int i, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = sysconf(_SC_PAGESIZE);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--reject-unaligned") == 0)
			reject_unaligned = true;
		else if (strcmp(argv[i], "--hold") == 0)
			keep = true;
		else
			break;
	}
	if (argc - i != NR_DEVS || count == 0) {
		fprintf(stderr, "usage: %s [--count N] [--reject-unaligned] [--hold] <sock0> <sock1>\n",
			argv[0]);
		return 2;
	}
	for (d = 0; d < NR_DEVS; d++)
		ports[d].path = argv[i + d];
	ret = run(count, keep);
	for (d = 0; d < NR_DEVS; d++)
		port_close(&ports[d]);
	return ret == 0 ? 0 : 1;
}
