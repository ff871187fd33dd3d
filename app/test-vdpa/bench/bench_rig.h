/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef BENCH_RIG_H
#define BENCH_RIG_H

/*
 * The latency benchmarks' rig (bench_kick, bench_scale): simulated VFs
 * served by the driver in this process, a vhost-user backend on each, our
 * frontend connected to each, and kicks timed to the doorbell the
 * simulated VF timestamps (ifcvf_sim_doorbell_ns).
 *
 *   bench_eal_init()   EAL with N vdpa_ifcvf_sim<i> of the same devargs
 *   bench_rig_init()   the backends
 *   bench_vf_connect() a frontend on VF i, until each queue rang once
 *   bench_kicks()      timed kicks
 *   bench_rig_fini()   frontends stopped, backends gone
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_guest.h"

struct ifcvf_sim;

struct bench_vf {
	char path[128];		/* the backend's socket */
	struct vu_guest g;
	struct ifcvf_sim *sim;
	bool connected;
};

struct bench_rig {
	char dir[64];
	unsigned int nr_vf;
	uint16_t nr_pairs;
	uint64_t mem_len;	/* each frontend's region 0 */
	struct bench_vf *vf;
};

uint64_t bench_now_ns(void);

struct bench_pct {
	double p50, p99, p999;	/* microseconds */
};

/* Sorts @ns. */
struct bench_pct bench_percentiles(uint64_t *ns, size_t n);
void bench_print_pct(const char *what, struct bench_pct p);

/*
 * EAL for @prog with @nr_vf simulated VFs of @nr_pairs pairs on a looped
 * wire, each with devargs @vf_args too; CPUs 0 to @last_cpu for the main
 * thread, and so for the simulated VFs' threads, which inherit them.
 * @prefix (EAL's file prefix) is filled for vdpa_remove_runtime_dir().
 */
int bench_eal_init(const char *prog, unsigned int nr_vf, uint16_t nr_pairs,
		   const char *vf_args, long last_cpu, char *prefix,
		   size_t len);
/* The backends of every VF (no frontend yet). */
int bench_rig_init(struct bench_rig *r, const char *tag, unsigned int nr_vf,
		   uint16_t nr_pairs, uint64_t mem_len);
/* Connect VF @i's frontend, start it, wait for each queue's first doorbell. */
int bench_vf_connect(struct bench_rig *r, unsigned int i);
/* GET_VRING_BASE of each queue (the driver's dev_close), and hang up. */
void bench_vf_disconnect(struct bench_rig *r, unsigned int i);
void bench_rig_fini(struct bench_rig *r);
/*
 * @nq queues from @first (VF-major: queue q of VF v is v * 2 * nr_pairs
 * + q) each given an entry and kicked back to back, @rounds times; a
 * latency a queue a round into @lat (nanoseconds), from before the entry
 * was made available to the doorbell.
 */
int bench_kicks(struct bench_rig *r, unsigned int first, unsigned int nq,
		unsigned int rounds, uint64_t *lat);

/*
 * dev_conf and dev_close of every VF, timed inside the driver's ops (the
 * i-th call's start and duration, nanoseconds), from bench_time_ops() on.
 */
#define BENCH_MAX_TIMED	128

struct bench_op_times {
	uint64_t start[BENCH_MAX_TIMED];
	uint64_t ns[BENCH_MAX_TIMED];
	unsigned int n;		/* atomic: calls so far */
};

extern struct bench_op_times bench_conf, bench_close;

/* The ops of VFs 0 .. @nr_vf - 1 through the timing wrappers. */
int bench_time_ops(unsigned int nr_vf);

#endif /* BENCH_RIG_H */
