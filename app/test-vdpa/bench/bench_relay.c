/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The cost of SW-assisted live migration, measured (a benchmark, not a
 * test: it prints numbers and fails only when something does not work).
 *
 * 1. The relay: used entries copied from a shadow used ring to the
 *    guest's, every page the device wrote logged in vhost's dirty log.
 *    The driver's relay (ifcvf_lm_relay_used) and DPDK's own
 *    rte_vdpa_relay_vring_used do the same work in the same run, on the
 *    same rings: one vhost-user connection (our frontend, vu_guest, in
 *    this process) with LOG_ALL on, its RX queue's descriptors all
 *    device-writable 2 KiB buffers, a shadow used ring filled once with
 *    entries for every descriptor. Both sides relay the same batches from
 *    the same index; descriptors per second on one core, the ratio, and
 *    the driver's rate against 100 Gb/s of 64-byte frames (148.8 M/s).
 *    DPDK's function leaves the used ring's own logging to its caller,
 *    so a third line adds that (rte_vhost_log_used_vring of the entries
 *    and the index after each batch), which is what the driver does.
 * 2. dev_close: the time the driver's dev_close takes (timed inside,
 *    and as the round trip of the first GET_VRING_BASE, which QEMU's
 *    vhost_dev_stop sends in the migration's downtime), logging or not,
 *    HW and SW mode, ring sizes 256 and 4096, idle or right after a ring
 *    of frames was posted, on a looped simulated VF served by the driver
 *    in this process.
 *
 *   bench_relay [-q]     (-q: fewer repetitions, a quick run)
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_eal.h>
#include <rte_vhost.h>
#include <vdpa_driver.h>

#include "ifcvf_vdpa.h"
#include "vdpa_proc.h"
#include "vu_guest.h"

#define MEM_LEN		(64ULL << 20)
#define BUF_LEN		2048
#define VF_HW		"vdpa_ifcvf_sim0"
#define VF_SW		"vdpa_ifcvf_sim1"
/* 100 Gb/s of 64-byte frames (84 bytes on the wire): descriptors/s. */
#define LINE_RATE_64B	148.8e6

static char dir[64];
static int reps = 9;
static uint64_t relay_count = 4u << 20;	/* descriptors per measurement */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- vhost-user backends in this process ---- */

static int relay_vid = -1;

static int
new_device(int vid)
{
	char path[128];

	if (rte_vhost_get_ifname(vid, path, sizeof(path)) == 0 &&
	    strstr(path, "relay") != NULL)
		__atomic_store_n(&relay_vid, vid, __ATOMIC_RELEASE);
	return 0;
}

static void
destroy_device(int vid)
{
	if (__atomic_load_n(&relay_vid, __ATOMIC_ACQUIRE) == vid)
		__atomic_store_n(&relay_vid, -1, __ATOMIC_RELEASE);
}

static const struct rte_vhost_device_ops ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
};

/* A vhost-user server at @dir/@name, on vDPA device @vf (NULL: none). */
static int
backend_start(const char *name, const char *vf, char *path, size_t len)
{
	struct rte_vdpa_device *vdev = NULL;

	snprintf(path, len, "%s/%s", dir, name);
	if (vf != NULL && (vdev = rte_vdpa_find_device_by_name(vf)) == NULL) {
		fprintf(stderr, "no vDPA device %s\n", vf);
		return -1;
	}
	if (rte_vhost_driver_register(path, 0) < 0 ||
	    rte_vhost_driver_callback_register(path, &ops) < 0 ||
	    (vdev != NULL &&
	     rte_vhost_driver_attach_vdpa_device(path, vdev) < 0) ||
	    rte_vhost_driver_start(path) < 0) {
		fprintf(stderr, "cannot start the vhost-user backend %s\n", path);
		return -1;
	}
	return 0;
}

/* ---- 1. The relay ---- */

#define RELAY_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))

struct relay_rig {
	struct vu_guest g;
	int vid;
	struct rte_vhost_vring vr;
	struct vring_avail *sh_avail;
	struct vring_used *sh_used;
	struct vring m;			/* DPDK's view of the shadow */
	struct ifcvf_internal *ifc;	/* the driver's */
};

static int
relay_rig_init(struct relay_rig *r, const char *path, uint16_t size)
{
	const struct vu_guest_params p = {
		.queue_size = size,
		.buf_cap = BUF_LEN,
		.mem_len = MEM_LEN,
		.features = RELAY_FEATURES,
		.timeout_ms = 10000,
	};
	struct ifcvf_queue *q;
	double end;
	uint16_t i;

	memset(r, 0, sizeof(*r));
	if (vu_guest_connect(&r->g, path, &p) < 0 ||
	    vu_guest_queues_init(&r->g) < 0 ||
	    vu_guest_set_mem_table(&r->g, 1) < 0 ||
	    vu_guest_start(&r->g) < 0 || vu_guest_set_log(&r->g, 0) < 0 ||
	    vu_guest_log_all(&r->g, true) < 0 || vu_guest_sync(&r->g) < 0)
		return -1;
	for (end = now_s() + 5; now_s() < end; usleep(1000))
		if ((r->vid = __atomic_load_n(&relay_vid, __ATOMIC_ACQUIRE)) >= 0)
			break;
	if (r->vid < 0 || rte_vhost_get_vhost_vring(r->vid, 0, &r->vr) < 0) {
		fprintf(stderr, "relay: no vhost device\n");
		return -1;
	}
	/* Every descriptor a 2 KiB device-writable buffer; no interrupts. */
	if (vdrv_rx_fill(&r->g.vq[0], 0, 1) != size)
		return -1;
	vdrv_vq_set_no_interrupt(&r->g.vq[0], true);
	r->sh_avail = calloc(1, sizeof(*r->sh_avail) + 2 * (size + 1));
	r->sh_used = calloc(1, sizeof(*r->sh_used) +
			    sizeof(struct vring_used_elem) * size + 2);
	r->ifc = calloc(1, sizeof(*r->ifc));
	if (r->sh_avail == NULL || r->sh_used == NULL || r->ifc == NULL)
		return -1;
	for (i = 0; i < size; i++) {
		if (!(r->vr.desc[i].flags & VRING_DESC_F_WRITE) ||
		    (r->vr.desc[i].flags & VRING_DESC_F_NEXT))
			return -1;
		r->sh_used->ring[i].id = i;
		r->sh_used->ring[i].len = r->vr.desc[i].len;
	}
	r->m.num = size;
	r->m.desc = (void *)r->vr.desc;
	r->m.avail = (void *)r->sh_avail;
	r->m.used = (void *)r->sh_used;
	r->ifc->vid = r->vid;
	r->ifc->logging = true;
	q = &r->ifc->q[0];
	q->ifc = r->ifc;
	q->qid = 0;
	q->vring = r->vr;
	q->sh.avail = r->sh_avail;
	q->sh.used = r->sh_used;
	q->sh.on = true;
	return rte_vhost_get_mem_table(r->vid, &r->ifc->mem) < 0 ? -1 : 0;
}

static void
relay_rig_fini(struct relay_rig *r)
{
	vu_guest_stop(&r->g, NULL);
	vu_guest_fini(&r->g);
	if (r->ifc != NULL)
		free(r->ifc->mem);
	free(r->ifc);
	free(r->sh_avail);
	free(r->sh_used);
}

enum relay_side { SIDE_IFCVF, SIDE_DPDK, SIDE_DPDK_LOG, NR_SIDES };

static const char * const side_names[NR_SIDES] = {
	"ifcvf_lm_relay_used",
	"rte_vdpa_relay_vring_used",
	"rte_vdpa_relay_vring_used + used-ring log",
};

/* The used-ring logging DPDK's relay leaves to its caller. */
static void
log_used_range(struct relay_rig *r, uint16_t from, uint16_t n)
{
	uint16_t mask = r->vr.size - 1, first = from & mask;
	uint16_t k = RTE_MIN(n, (uint16_t)(r->vr.size - first));
	uint64_t ring = offsetof(struct vring_used, ring);
	uint64_t e = sizeof(struct vring_used_elem);

	rte_vhost_log_used_vring(r->vid, 0, ring + e * first, e * k);
	if (k < n)
		rte_vhost_log_used_vring(r->vid, 0, ring, e * (n - k));
	rte_vhost_log_used_vring(r->vid, 0, offsetof(struct vring_used, idx),
				 sizeof(uint16_t));
}

/* Relay @count descriptors in batches of @batch; seconds taken. */
static double
relay_run(struct relay_rig *r, enum relay_side side, uint16_t batch)
{
	struct ifcvf_queue *q = &r->ifc->q[0];
	uint64_t done;
	uint16_t from;
	double t0;
	int n;

	/* The guest's used index and the shadow's are in step. */
	r->sh_used->idx = r->vr.used->idx;
	q->sh.next_used = r->vr.used->idx;
	t0 = now_s();
	for (done = 0; done < relay_count; done += batch) {
		from = r->sh_used->idx;
		__atomic_store_n(&r->sh_used->idx, (uint16_t)(from + batch),
				 __ATOMIC_RELEASE);
		if (side == SIDE_IFCVF) {
			n = ifcvf_lm_relay_used(q);
		} else {
			n = rte_vdpa_relay_vring_used(r->vid, 0, &r->m);
			if (side == SIDE_DPDK_LOG)
				log_used_range(r, from, batch);
		}
		if (n != batch) {
			fprintf(stderr, "%s relayed %d of %u\n",
				side_names[side], n, batch);
			return -1;
		}
	}
	return now_s() - t0;
}

static int
bench_relay(const char *path, uint16_t size)
{
	static const uint16_t batches[] = { 1, 32, 256 };
	double best[NR_SIDES], t;
	struct relay_rig r;
	unsigned int b, i, k;
	int ret = -1;

	if (relay_rig_init(&r, path, size) < 0) {
		fprintf(stderr, "relay rig (ring %u) failed\n", size);
		goto out;
	}
	printf("relay, dirty logging on, ring %u, %" PRIu64 " descriptors a run, best of %d:\n",
	       size, relay_count, reps);
	for (b = 0; b < RTE_DIM(batches); b++) {
		for (k = 0; k < NR_SIDES; k++)
			best[k] = 1e9;
		/* Alternate the sides, so that both see the same machine. */
		for (i = 0; i < (unsigned int)reps; i++) {
			for (k = 0; k < NR_SIDES; k++) {
				t = relay_run(&r, k, batches[b]);
				if (t < 0)
					goto out;
				best[k] = RTE_MIN(best[k], t);
			}
		}
		printf("  batch %3u:", batches[b]);
		for (k = 0; k < NR_SIDES; k++)
			printf(" %s %.1f Mdesc/s%s", side_names[k],
			       relay_count / best[k] / 1e6,
			       k + 1 < NR_SIDES ? "," : "\n");
		printf("  batch %3u: ratio ifcvf / DPDK %.2f (DPDK + used-ring log: %.2f)\n",
		       batches[b], best[SIDE_DPDK] / best[SIDE_IFCVF],
		       best[SIDE_DPDK_LOG] / best[SIDE_IFCVF]);
		printf("  batch %3u: ifcvf %.1f Mdesc/s on one core, %.2fx the %.1f M of 100 Gb/s of 64-byte frames\n",
		       batches[b], relay_count / best[SIDE_IFCVF] / 1e6,
		       relay_count / best[SIDE_IFCVF] / LINE_RATE_64B,
		       LINE_RATE_64B / 1e6);
	}
	ret = 0;
out:
	relay_rig_fini(&r);
	return ret;
}

/* ---- 2. dev_close while logging ---- */

/*
 * The driver's dev_close, timed from the inside: the VF's ops are wrapped
 * (before any connection) so that the round trip's noise stays out.
 */
static int (*driver_close)(int vid);
/* The last dev_close, seconds: written before the reply is sent. */
static volatile double close_time;

static int
timed_close(int vid)
{
	double t0 = now_s();
	int ret = driver_close(vid);

	close_time = now_s() - t0;
	return ret;
}

static int
wrap_close(const char *vf)
{
	static struct rte_vdpa_dev_ops wrapped[2];
	static unsigned int n;
	struct rte_vdpa_device *vdev = rte_vdpa_find_device_by_name(vf);

	if (vdev == NULL || n == RTE_DIM(wrapped))
		return -1;
	wrapped[n] = *vdev->ops;
	driver_close = wrapped[n].dev_close;	/* the same for every VF */
	wrapped[n].dev_close = timed_close;
	vdev->ops = &wrapped[n++];
	return 0;
}

struct close_time {
	double inside;		/* dev_close itself */
	double round_trip;	/* GET_VRING_BASE, as the frontend sees it */
};

/* One connection: traffic, a burst or not, then the timed stop. */
static int
close_once(const char *path, uint16_t size, bool log, bool burst,
	   struct close_time *ct)
{
	const struct vu_guest_params p = {
		.queue_size = size,
		.mem_len = MEM_LEN,
		.timeout_ms = 10000,
	};
	struct vu_guest g;
	struct vdrv_flow f;
	int ret = -1;
	uint32_t num;
	double t0;

	if (vu_guest_connect(&g, path, &p) < 0 ||
	    vu_guest_queues_init(&g) < 0 ||
	    vu_guest_set_mem_table(&g, 1) < 0 || vu_guest_start(&g) < 0)
		goto out;
	if (log && (vu_guest_set_log(&g, 0) < 0 ||
		    vu_guest_log_all(&g, true) < 0 || vu_guest_sync(&g) < 0))
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 1, 2 * size);
	if (vu_flow_run(&f, 20000) < 0)
		goto out;
	/* A ring of frames in flight when the stop comes, or none. */
	vu_flow_init(&f, &g, 0, &g, 0, 2, size);
	if (burst)
		vdrv_flow_step(&f);
	close_time = -1;
	t0 = now_s();
	if (vu_get_vring_base(&g.c, 0, &num) < 0)
		goto out;
	ct->round_trip = now_s() - t0;
	ct->inside = close_time;
	ret = ct->inside < 0 ? -1 : 0;
	vu_get_vring_base(&g.c, 1, &num);
out:
	vu_guest_fini(&g);
	if (ret < 0)
		fprintf(stderr, "close: a run failed (ring %u, %slogging)\n",
			size, log ? "" : "not ");
	return ret;
}

/* Medians of @reps closes. */
static int
close_median(const char *path, uint16_t size, bool log, bool burst,
	     struct close_time *med)
{
	double in[64], rt[64];
	struct close_time ct;
	int i;

	for (i = 0; i < reps; i++) {
		if (close_once(path, size, log, burst, &ct) < 0)
			return -1;
		in[i] = ct.inside;
		rt[i] = ct.round_trip;
	}
	qsort(in, reps, sizeof(in[0]), cmp_double);
	qsort(rt, reps, sizeof(rt[0]), cmp_double);
	med->inside = in[reps / 2];
	med->round_trip = rt[reps / 2];
	return 0;
}

static int
bench_close(const char *mode, const char *path)
{
	static const uint16_t sizes[] = { 256, 4096 };
	struct close_time off, on;
	unsigned int s, burst;

	for (s = 0; s < RTE_DIM(sizes); s++) {
		for (burst = 0; burst < 2; burst++) {
			if (close_median(path, sizes[s], false, burst, &off) < 0 ||
			    close_median(path, sizes[s], true, burst, &on) < 0)
				return -1;
			printf("  %s mode, ring %4u, %-26s: not logging %4.0f us (%4.0f), "
			       "logging %4.0f us (%4.0f), extra %+4.0f us\n",
			       mode, sizes[s],
			       burst ? "a ring of frames in flight" : "idle",
			       off.inside * 1e6, off.round_trip * 1e6,
			       on.inside * 1e6, on.round_trip * 1e6,
			       (on.inside - off.inside) * 1e6);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char prefix[64], lcores[32];
	char relay[128] = "", hw[128] = "", sw[128] = "";
	char *eal[] = {
		argv[0], "--lcores", lcores, "--no-pci", "--no-huge",
		"-m", "256", "--no-shconf", prefix,
		"--log-level=lib.vhost.*:error",
		"--log-level=pmd.vdpa.ifcvf*:warning",
		"--vdev", VF_HW ",qp=1,wire=loop,profile=ifcvf",
		"--vdev", VF_SW ",qp=1,wire=loop,profile=ifcvf,sw-live-migration=1",
	};
	int ret = 1;

	if (argc > 1 && strcmp(argv[1], "-q") == 0) {
		reps = 3;
		relay_count = 1u << 20;
	}
	/* Every CPU: the simulated VFs' threads inherit the main thread's. */
	snprintf(lcores, sizeof(lcores), "0@(0-%ld)",
		 sysconf(_SC_NPROCESSORS_ONLN) - 1);
	snprintf(prefix, sizeof(prefix), "--file-prefix=bench_relay%d",
		 (int)getpid());
	snprintf(dir, sizeof(dir), "/tmp/bench_relay.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (rte_eal_init(RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		goto out;
	}
	if (wrap_close(VF_HW) < 0 || wrap_close(VF_SW) < 0 ||
	    backend_start("relay", NULL, relay, sizeof(relay)) < 0 ||
	    backend_start("hw", VF_HW, hw, sizeof(hw)) < 0 ||
	    backend_start("sw", VF_SW, sw, sizeof(sw)) < 0)
		goto out;
	if (bench_relay(relay, 256) < 0 || bench_relay(relay, 4096) < 0)
		goto out;
	printf("dev_close, median of %d (in brackets: the first GET_VRING_BASE's "
	       "round trip, QEMU's view):\n", reps);
	if (bench_close("SW", sw) < 0 || bench_close("HW", hw) < 0)
		goto out;
	ret = 0;
out:
	rte_vhost_driver_unregister(relay);
	rte_vhost_driver_unregister(hw);
	rte_vhost_driver_unregister(sw);
	rte_eal_cleanup();
	rmdir(dir);
	vdpa_remove_runtime_dir(prefix + strlen("--file-prefix="));
	return ret;
}
