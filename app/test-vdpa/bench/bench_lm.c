/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * A live migration's destination, measured (a benchmark: it prints numbers
 * and fails only when something does not work). Our frontend connects to
 * a simulated VF served by the driver in this process, with guest memory
 * of 1, 4 and 16 GiB (a memfd; -q: 1 and 4), frames already made available
 * on its rings as the source left them (SET_VRING_BASE 0, RX buffers and
 * a TX frame posted before the device starts), kicks once as QEMU does
 * after the switch-over, and waits for the frame on its RX queue. The
 * median of 5 of
 *   - dev_conf, timed inside the driver's op;
 *   - from dev_conf's start to the first frame delivered (used on RX).
 * The simulator faults in only the first and last page of what it maps
 * (sim_dma.c), where VFIO pins every page: on hardware dev_conf adds the
 * pinning of the guest's memory, which these figures leave out.
 *
 *   bench_lm [-q]
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "bench_rig.h"
#include "vdpa_proc.h"

#define REPS		5
#define GIB		((uint64_t)1 << 30)

static const uint8_t frame[64];

/* The destination's start: rings as the source left them, a kick. */
static int
dest_start(struct vu_guest *g)
{
	uint16_t q;

	if (vdrv_rx_fill(&g->vq[0], 0, 1) == 0 ||
	    vdrv_tx_post(&g->vq[1], frame, sizeof(frame), NULL) < 0)
		return -1;
	for (q = 0; q < g->nr_queues; q++)
		if (vu_guest_queue_setup_base(g, q, 0, true) < 0)
			return -1;
	if (vu_guest_driver_ok(g) < 0 || vu_guest_sync(g) < 0)
		return -1;
	for (q = 0; q < g->nr_queues; q++)
		vu_guest_kick(g, q);
	return 0;
}

/* Wait up to 10 s for RX queue 0's first used entry; its time. */
static uint64_t
first_frame(struct vu_guest *g)
{
	uint64_t end = bench_now_ns() + 10000000000ULL;

	while (vdrv_vq_pending(&g->vq[0]) == 0)
		if (bench_now_ns() > end)
			return 0;
	return bench_now_ns();
}

/* One destination: dev_conf's time and dev_conf to first frame, ns. */
static int
dest_once(struct bench_rig *r, uint64_t mem, uint64_t *conf, uint64_t *first)
{
	const struct vu_guest_params p = { .mem_len = mem, .timeout_ms = 20000 };
	unsigned int i = __atomic_load_n(&bench_conf.n, __ATOMIC_ACQUIRE);
	struct vu_guest g;
	uint64_t t;
	int ret = -1;

	if (vu_guest_connect(&g, r->vf[0].path, &p) < 0)
		return -1;
	if (vu_guest_queues_init(&g) < 0 || vu_guest_set_mem_table(&g, 1) < 0 ||
	    dest_start(&g) < 0)
		goto out;
	t = first_frame(&g);
	if (t == 0 || __atomic_load_n(&bench_conf.n, __ATOMIC_ACQUIRE) <= i) {
		fprintf(stderr, "%" PRIu64 " GiB: no frame or no dev_conf\n",
			mem / GIB);
		goto out;
	}
	*conf = bench_conf.ns[i];
	*first = t - bench_conf.start[i];
	ret = vu_guest_stop(&g, NULL) < 0 ? -1 : 0;
out:
	vu_guest_fini(&g);
	return ret;
}

static int
bench_mem(struct bench_rig *r, uint64_t mem)
{
	uint64_t conf[REPS], first[REPS];
	struct bench_pct c, f;
	unsigned int k;

	for (k = 0; k < REPS; k++)
		if (dest_once(r, mem, &conf[k], &first[k]) < 0)
			return -1;
	c = bench_percentiles(conf, REPS);
	f = bench_percentiles(first, REPS);
	printf("  %2" PRIu64 " GiB: dev_conf %7.1f us, dev_conf to the first frame delivered %7.1f us\n",
	       mem / GIB, c.p50, f.p50);
	return 0;
}

int
main(int argc, char **argv)
{
	static const uint64_t full[] = { 1 * GIB, 4 * GIB, 16 * GIB };
	unsigned int nr = RTE_DIM(full), i;
	struct bench_rig r;
	char prefix[64];
	int ret = 1;

	if (argc > 1 && strcmp(argv[1], "-q") == 0)
		nr = 2;
	if (bench_eal_init("bench_lm", 1, 1, "",
			   sysconf(_SC_NPROCESSORS_ONLN) - 1, prefix,
			   sizeof(prefix)) < 0)
		return 1;
	if (bench_time_ops(1) < 0 ||
	    bench_rig_init(&r, "bench_lm", 1, 1, 0) < 0)
		goto out;
	printf("a migration's destination (median of %d): guest memory, dev_conf, the first frame\n",
	       REPS);
	for (i = 0; i < nr; i++)
		if (bench_mem(&r, full[i]) < 0)
			goto out;
	ret = 0;
out:
	bench_rig_fini(&r);
	rte_eal_cleanup();
	vdpa_remove_runtime_dir(prefix);
	return ret;
}
