/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_vhost.h>
#include <vdpa_driver.h>

#include "bench_rig.h"
#include "ifcvf_sim.h"
#include "ifcvf_vdpa.h"

#define GAP_US		100	/* between rounds of kicks: the relay idles */
#define MAX_KICKS	256	/* queues kicked in one round */

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct bench_pct
bench_percentiles(uint64_t *ns, size_t n)
{
	struct bench_pct p;

	qsort(ns, n, sizeof(ns[0]), cmp_u64);
	p.p50 = ns[n / 2] / 1e3;
	p.p99 = ns[n * 99 / 100] / 1e3;
	p.p999 = ns[n * 999 / 1000] / 1e3;
	return p;
}

void
bench_print_pct(const char *what, struct bench_pct p)
{
	printf("  %-44s p50 %6.2f us, p99 %7.2f us, p99.9 %7.2f us\n", what,
	       p.p50, p.p99, p.p999);
}

/* EAL's argv: EAL may keep pointers into it, so it lives on. */
static char **eal_argv;
static char *eal_vdevs;

int
bench_eal_init(const char *prog, unsigned int nr_vf, uint16_t nr_pairs,
	       const char *vf_args, long last_cpu, char *prefix, size_t len)
{
	static char lcores[32], file_prefix[96];
	const char *const fixed[] = {
		prog, "--lcores", lcores, "--no-pci", "--no-huge", "-m", "1024",
		"--no-shconf", file_prefix, "--log-level=lib.vhost.*:error",
		"--log-level=pmd.vdpa.ifcvf*:warning",
	};
	unsigned int i, n;

	eal_argv = calloc(RTE_DIM(fixed) + 2 * nr_vf, sizeof(*eal_argv));
	eal_vdevs = calloc(nr_vf, 128);
	if (eal_argv == NULL || eal_vdevs == NULL)
		return -ENOMEM;
	snprintf(lcores, sizeof(lcores), "0@(0-%ld)", last_cpu);
	snprintf(prefix, len, "%s%d", prog, (int)getpid());
	snprintf(file_prefix, sizeof(file_prefix), "--file-prefix=%s", prefix);
	for (n = 0; n < RTE_DIM(fixed); n++)
		eal_argv[n] = (char *)(uintptr_t)fixed[n];
	for (i = 0; i < nr_vf; i++) {
		snprintf(eal_vdevs + 128 * i, 128,
			 "vdpa_ifcvf_sim%u,qp=%u,wire=loop%s%s", i, nr_pairs,
			 vf_args[0] != '\0' ? "," : "", vf_args);
		eal_argv[n++] = "--vdev";
		eal_argv[n++] = eal_vdevs + 128 * i;
	}
	if (rte_eal_init(n, eal_argv) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return -1;
	}
	return 0;
}

static const struct rte_vhost_device_ops no_ops;

/* The simulated VF of vDPA device @name (its registers' context). */
static struct ifcvf_sim *
sim_of_vf(const char *name)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_get(name);
	struct ifcvf_sim *sim;

	if (ifc == NULL)
		return NULL;
	sim = ifc->hw.io.ctx;
	ifcvf_vdpa_put();
	return sim;
}

static int
backend_start(struct bench_rig *r, unsigned int i)
{
	struct bench_vf *v = &r->vf[i];
	struct rte_vdpa_device *vdev;
	char name[32];

	snprintf(name, sizeof(name), "vdpa_ifcvf_sim%u", i);
	snprintf(v->path, sizeof(v->path), "%s/vf%u", r->dir, i);
	vdev = rte_vdpa_find_device_by_name(name);
	v->sim = sim_of_vf(name);
	if (vdev == NULL || v->sim == NULL ||
	    rte_vhost_driver_register(v->path, 0) < 0 ||
	    rte_vhost_driver_callback_register(v->path, &no_ops) < 0 ||
	    rte_vhost_driver_attach_vdpa_device(v->path, vdev) < 0 ||
	    rte_vhost_driver_start(v->path) < 0) {
		fprintf(stderr, "cannot start the vhost-user backend of %s\n",
			name);
		return -1;
	}
	return 0;
}

int
bench_rig_init(struct bench_rig *r, const char *tag, unsigned int nr_vf,
	       uint16_t nr_pairs, uint64_t mem_len)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->nr_pairs = nr_pairs;
	r->mem_len = mem_len;
	snprintf(r->dir, sizeof(r->dir), "/tmp/%s.XXXXXX", tag);
	r->vf = calloc(nr_vf, sizeof(*r->vf));
	if (r->vf == NULL || mkdtemp(r->dir) == NULL) {
		perror("bench rig");
		r->dir[0] = '\0';
		return -1;
	}
	for (i = 0; i < nr_vf; i++, r->nr_vf++)
		if (backend_start(r, i) < 0)
			return -1;
	return 0;
}

/* Wait up to 5 s for the first doorbell of queue @q of VF @v. */
static int
first_doorbell(struct bench_vf *v, uint16_t q)
{
	uint64_t end = bench_now_ns() + 5000000000ULL;

	vu_guest_kick(&v->g, q);
	while (ifcvf_sim_doorbell_ns(v->sim, q) == 0 && bench_now_ns() < end)
		usleep(1000);
	if (ifcvf_sim_doorbell_ns(v->sim, q) != 0)
		return 0;
	fprintf(stderr, "%s queue %u: no doorbell\n", v->path, q);
	return -1;
}

int
bench_vf_connect(struct bench_rig *r, unsigned int i)
{
	const struct vu_guest_params p = {
		.nr_pairs = r->nr_pairs,
		.mem_len = r->mem_len,
		.timeout_ms = 10000,
	};
	struct bench_vf *v = &r->vf[i];
	uint16_t q;

	if (vu_guest_connect(&v->g, v->path, &p) < 0)
		return -1;
	v->connected = true;
	if (vu_guest_queues_init(&v->g) < 0 ||
	    vu_guest_set_mem_table(&v->g, 1) < 0 ||
	    vu_guest_start(&v->g) < 0 || vu_guest_sync(&v->g) < 0)
		return -1;
	for (q = 0; q < 2 * r->nr_pairs; q++)
		if (first_doorbell(v, q) < 0)
			return -1;
	return 0;
}

void
bench_vf_disconnect(struct bench_rig *r, unsigned int i)
{
	struct bench_vf *v = &r->vf[i];

	if (!v->connected)
		return;
	vu_guest_stop(&v->g, NULL);
	vu_guest_fini(&v->g);
	v->connected = false;
}

void
bench_rig_fini(struct bench_rig *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_vf; i++) {
		bench_vf_disconnect(r, i);
		rte_vhost_driver_unregister(r->vf[i].path);
	}
	if (r->dir[0] != '\0')
		rmdir(r->dir);
	free(r->vf);
	r->vf = NULL;
}

/*
 * Make an entry available on queue @q of @g as a guest does before it
 * kicks: a frame on a TX queue, a buffer on an RX queue (the looped wire
 * moves one into the other), after reaping what the device returned.
 */
static int
post_one(struct vu_guest *g, uint16_t q)
{
	static const uint8_t frame[64];
	struct vdrv_vq *vq = &g->vq[q];
	struct vdrv_used_elem e;

	while (vdrv_vq_reap(vq, &e) > 0)
		;
	if (q % 2 == 1)
		return vdrv_tx_post(vq, frame, sizeof(frame), NULL);
	return vdrv_rx_post(vq, 0, 1);
}

/* Wait for a doorbell of @q other than @before; 0 on none. */
static uint64_t
next_doorbell(struct bench_vf *v, uint16_t q, uint64_t before)
{
	unsigned int tries;
	uint64_t d;

	for (tries = 0; (d = ifcvf_sim_doorbell_ns(v->sim, q)) == before;
	     tries++) {
		if (tries == 100000) {
			fprintf(stderr, "%s queue %u: kick lost\n", v->path, q);
			return 0;
		}
		usleep(GAP_US);
	}
	return d;
}

int
bench_kicks(struct bench_rig *r, unsigned int first, unsigned int nq,
	    unsigned int rounds, uint64_t *lat)
{
	uint64_t t0[MAX_KICKS], before[MAX_KICKS], d;
	unsigned int nr_q = 2 * r->nr_pairs, k, j;
	struct bench_vf *v;
	uint16_t q;

	if (nq > MAX_KICKS || first + nq > r->nr_vf * nr_q)
		return -1;
	for (k = 0; k < rounds; k++) {
		for (j = 0; j < nq; j++) {
			v = &r->vf[(first + j) / nr_q];
			q = (first + j) % nr_q;
			before[j] = ifcvf_sim_doorbell_ns(v->sim, q);
			t0[j] = bench_now_ns();
			if (post_one(&v->g, q) < 0) {
				fprintf(stderr, "%s queue %u: ring full\n",
					v->path, q);
				return -1;
			}
			vu_guest_kick(&v->g, q);
		}
		for (j = 0; j < nq; j++) {
			v = &r->vf[(first + j) / nr_q];
			d = next_doorbell(v, (first + j) % nr_q, before[j]);
			if (d == 0)
				return -1;
			lat[k * nq + j] = d - t0[j];
		}
		usleep(GAP_US);
	}
	return 0;
}

/* ---- dev_conf and dev_close, timed inside ---- */

struct bench_op_times bench_conf, bench_close;
static int (*driver_conf)(int vid);
static int (*driver_close)(int vid);

static int
timed(int (*op)(int vid), int vid, struct bench_op_times *t)
{
	uint64_t t0 = bench_now_ns();
	int ret = op(vid);
	unsigned int i = __atomic_fetch_add(&t->n, 1, __ATOMIC_RELAXED);

	if (i < BENCH_MAX_TIMED) {
		t->start[i] = t0;
		t->ns[i] = bench_now_ns() - t0;
	}
	return ret;
}

static int
timed_conf(int vid)
{
	return timed(driver_conf, vid, &bench_conf);
}

static int
timed_close(int vid)
{
	return timed(driver_close, vid, &bench_close);
}

int
bench_time_ops(unsigned int nr_vf)
{
	static struct rte_vdpa_dev_ops wrapped;
	struct rte_vdpa_device *vdev;
	char name[32];
	unsigned int i;

	for (i = 0; i < nr_vf; i++) {
		snprintf(name, sizeof(name), "vdpa_ifcvf_sim%u", i);
		vdev = rte_vdpa_find_device_by_name(name);
		if (vdev == NULL)
			return -1;
		if (i == 0) {
			/* The same ops for every VF of the driver. */
			wrapped = *vdev->ops;
			driver_conf = wrapped.dev_conf;
			driver_close = wrapped.dev_close;
			wrapped.dev_conf = timed_conf;
			wrapped.dev_close = timed_close;
		}
		vdev->ops = &wrapped;
	}
	return 0;
}
