/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * Two simulated IFCVFs on one wire, two queue pairs each, driven by the
 * guest driver of vring_drv.c through the HW layer. Traffic runs both ways
 * for a while (default 2 s, or the first argument in seconds); every frame
 * is checked byte for byte and for order. Exits 0 only if traffic flowed
 * both ways and arrived intact.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ifcvf_hw.h"
#include "ifcvf_sim.h"
#include "vring_drv.h"

#define NR_VF		2
#define NR_PAIRS	2
#define NR_FLOWS	(NR_VF * NR_PAIRS)
#define GUEST_GPA	0x40000000ULL
#define GUEST_LEN	(32ULL << 20)
#define DRAIN_MS	2000

struct vf {
	struct ifcvf_sim *sim;
	struct vdrv_mem mem;
	struct vdrv_dev dev;
	bool dev_up;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
vf_up(struct vf *vf, const char *name, uint8_t id)
{
	struct ifcvf_sim_params sp = {
		.name = name,
		.profile = IFCVF_SIM_PROFILE_IFCVF,
		.nr_queue_pairs = NR_PAIRS,
		.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, id },
	};
	struct vdrv_dev_params dp = {
		.nr_pairs = NR_PAIRS,
		.queue_size = 256,
	};
	int ret;

	vf->sim = ifcvf_sim_create(&sp);
	if (vf->sim == NULL) {
		fprintf(stderr, "%s: create: %s\n", name, strerror(errno));
		return -1;
	}
	ret = vdrv_mem_init(&vf->mem, GUEST_GPA, GUEST_LEN);
	if (ret == 0)
		ret = ifcvf_sim_dma_map(vf->sim,
					(uint64_t)(uintptr_t)vf->mem.host,
					vf->mem.gpa, vf->mem.len);
	if (ret == 0)
		ret = vdrv_dev_init(&vf->dev, vf->sim, &vf->mem, &dp);
	if (ret < 0) {
		fprintf(stderr, "%s: bring-up: %s\n", name, strerror(-ret));
		return -1;
	}
	vf->dev_up = true;
	printf("%s: %u queue pairs up, features 0x%" PRIx64 "\n", name,
	       NR_PAIRS, vf->dev.features);
	return 0;
}

static void
vf_down(struct vf *vf)
{
	if (vf->dev_up)
		vdrv_dev_fini(&vf->dev);
	if (vf->sim != NULL)
		ifcvf_sim_destroy(vf->sim);
	vdrv_mem_fini(&vf->mem);
}

/* Step every flow until @until (or all done when @drain); -1 on error. */
static int
pump(struct vdrv_flow *fl, double until, bool drain)
{
	for (;;) {
		unsigned int i, progress = 0, done = 0;

		for (i = 0; i < NR_FLOWS; i++) {
			progress += vdrv_flow_step(&fl[i]);
			if (fl[i].err != 0)
				return -1;
			done += vdrv_flow_done(&fl[i]);
		}
		if (drain && done == NR_FLOWS)
			return 0;
		if (now_s() >= until)
			return drain ? -1 : 0;
		if (progress == 0)
			usleep(50);
	}
}

static void
report(struct vf *vfs, struct vdrv_flow *fl, double secs)
{
	unsigned int d, i;
	uint16_t q;

	for (d = 0; d < NR_VF; d++) {
		uint64_t pkts = 0, bytes = 0;

		for (i = 0; i < NR_FLOWS; i++) {
			if (fl[i].txd != &vfs[d].dev)
				continue;
			pkts += fl[i].rcvd;
			bytes += fl[i].bytes;
		}
		printf("%s -> %s: %" PRIu64 " packets, %.0f packets/s, "
		       "%.1f Mbit/s\n", ifcvf_sim_name(vfs[d].sim),
		       ifcvf_sim_name(vfs[1 - d].sim), pkts,
		       (double)pkts / secs, (double)bytes * 8 / secs / 1e6);
	}
	for (d = 0; d < NR_VF; d++) {
		for (q = 0; q < NR_PAIRS * 2; q++)
			vdrv_queue_dump(stdout, vfs[d].sim, q);
		printf("  %s: dma faults %" PRIu64 ", status 0x%02x\n",
		       ifcvf_sim_name(vfs[d].sim),
		       ifcvf_sim_dma_faults(vfs[d].sim),
		       ifcvf_sim_get_state(vfs[d].sim).status);
	}
}

static bool
verdict(struct vf *vfs, struct vdrv_flow *fl)
{
	bool ok = true;
	unsigned int i, d;

	for (i = 0; i < NR_FLOWS; i++) {
		if (fl[i].err != 0 || fl[i].rcvd == 0 ||
		    !vdrv_flow_done(&fl[i])) {
			fprintf(stderr, "stream %u failed\n", fl[i].stream);
			vdrv_flow_dump(&fl[i]);
			ok = false;
		}
	}
	for (d = 0; d < NR_VF; d++)
		if (ifcvf_sim_dma_faults(vfs[d].sim) != 0)
			ok = false;
	return ok;
}

int
main(int argc, char **argv)
{
	static struct vdrv_flow fl[NR_FLOWS];
	struct vf vfs[NR_VF];
	double secs = 2.0, t0, elapsed;
	unsigned int i;
	bool ok = false;
	uint16_t p;

	if (argc > 1) {
		char *end;

		secs = strtod(argv[1], &end);
		if (*end != '\0' || !(secs > 0 && secs <= 3600)) {
			fprintf(stderr, "usage: %s [seconds]\n", argv[0]);
			return 2;
		}
	}
	memset(vfs, 0, sizeof(vfs));
	if (vf_up(&vfs[0], "ifcvf-sim0", 1) < 0 ||
	    vf_up(&vfs[1], "ifcvf-sim1", 2) < 0 ||
	    ifcvf_sim_wire_connect(vfs[0].sim, vfs[1].sim) < 0)
		goto out;

	for (p = 0; p < NR_PAIRS; p++) {
		vdrv_flow_init(&fl[p], &vfs[0].dev, p, &vfs[1].dev, p, p,
			       UINT32_MAX);
		vdrv_flow_init(&fl[NR_PAIRS + p], &vfs[1].dev, p, &vfs[0].dev,
			       p, 0x100 + p, UINT32_MAX);
	}
	for (i = 0; i < NR_FLOWS; i++)
		vdrv_flow_prime(&fl[i]);

	printf("traffic both ways for %.1f s\n", secs);
	t0 = now_s();
	if (pump(fl, t0 + secs, false) == 0) {
		/* Stop sending and collect what is in flight. */
		for (i = 0; i < NR_FLOWS; i++)
			fl[i].total = fl[i].sent;
		if (pump(fl, now_s() + DRAIN_MS / 1000.0, true) < 0)
			fprintf(stderr, "frames missing after drain\n");
	}
	elapsed = now_s() - t0;
	report(vfs, fl, elapsed);
	ok = verdict(vfs, fl);
	printf("%s\n", ok ? "PASS: traffic flowed both ways, intact" :
	       "FAIL");
out:
	vf_down(&vfs[1]);
	vf_down(&vfs[0]);
	return ok ? 0 : 1;
}
