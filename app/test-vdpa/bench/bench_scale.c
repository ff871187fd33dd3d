/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The driver against the number of VFs (a benchmark: it prints numbers and
 * fails only when something does not work). 1, 8, 32, 64 and 128
 * simulated VFs (one queue pair each) in one process, served by the
 * driver, each with our frontend carrying frames over its looped wire;
 * each N in a child process of its own:
 *   - threads: the relay's (one whatever N) and the process's (the
 *     simulator adds one per VF, standing in for the hardware);
 *   - memory: RssAnon after the traffic (the driver, the simulator and
 *     vhost; the frontends' guest memory is shared memory, not counted),
 *     and what each VF adds: (RssAnon(N) - RssAnon(1)) / (N - 1);
 *   - dev_conf and dev_close, timed inside the driver's ops: median, max;
 *   - kick to doorbell: one TX queue of each VF in turn, p50 and p99;
 *   - CPU over an idle second: the relay thread's and the process's.
 *
 *   bench_scale [-q]     (-q: 1, 8 and 32 VFs, fewer kicks)
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "bench_rig.h"
#include "thread_stat.h"
#include "vdpa_proc.h"

#define MAX_VF		BENCH_MAX_TIMED
#define MEM_LEN		(4ULL << 20)
#define FRAMES		512	/* a frontend's traffic */

static unsigned int kicks = 2000;

struct scale_result {
	unsigned int nr_vf;
	unsigned int relay_threads;
	unsigned int threads;
	uint64_t rss_kib;
	double conf_med, conf_max;	/* ms */
	double close_med, close_max;
	struct bench_pct kick;
	double idle_relay_ms, idle_proc_ms;
};

/* Median and max of @n times, milliseconds. */
static void
med_max(uint64_t *ns, unsigned int n, double *med, double *max)
{
	struct bench_pct p = bench_percentiles(ns, n);

	*med = p.p50 / 1e3;
	*max = ns[n - 1] / 1e6;
}

/* ---- One N ---- */

static uint64_t
rss_anon_kib(void)
{
	char line[128];
	uint64_t kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %" SCNu64, &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kib;
}

static uint64_t
process_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
}

/* Each VF's frontend: frames out of its TX queue into its RX queue. */
static int
traffic(struct bench_rig *r)
{
	struct vdrv_flow f;
	unsigned int i;

	for (i = 0; i < r->nr_vf; i++) {
		vu_flow_init(&f, &r->vf[i].g, 0, &r->vf[i].g, 0, 1, FRAMES);
		if (vu_flow_run(&f, 20000) < 0) {
			fprintf(stderr, "vf%u: traffic failed\n", i);
			return -1;
		}
	}
	return 0;
}

/* One TX queue of each VF in turn (queue 1 of VF i is 2 * i + 1). */
static int
measure_kicks(struct bench_rig *r, struct bench_pct *p)
{
	uint64_t *lat = calloc(kicks, sizeof(*lat));
	unsigned int k;
	int ret = 0;

	if (lat == NULL)
		return -1;
	for (k = 0; k < kicks && ret == 0; k++)
		ret = bench_kicks(r, 2 * (k % r->nr_vf) + 1, 1, 1, &lat[k]);
	if (ret == 0)
		*p = bench_percentiles(lat, kicks);
	free(lat);
	return ret;
}

static void
measure_idle(struct scale_result *res)
{
	pid_t relay = thread_find(RELAY_THREAD_NAME);
	uint64_t t_relay, t_proc;

	/* The stats timers stop at their first quiet tick (10 ms). */
	usleep(100 * 1000);
	t_relay = thread_cpu_ns(relay);
	t_proc = process_cpu_ns();
	sleep(1);
	res->idle_relay_ms = (thread_cpu_ns(relay) - t_relay) / 1e6;
	res->idle_proc_ms = (process_cpu_ns() - t_proc) / 1e6;
}

static int
scale_run(unsigned int nr_vf, struct scale_result *res)
{
	struct bench_rig r;
	unsigned int i;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	res->nr_vf = nr_vf;
	if (bench_time_ops(nr_vf) < 0 ||
	    bench_rig_init(&r, "bench_scale", nr_vf, 1, MEM_LEN) < 0)
		goto out;
	for (i = 0; i < nr_vf; i++)
		if (bench_vf_connect(&r, i) < 0)
			goto out;
	if (traffic(&r) < 0 || measure_kicks(&r, &res->kick) < 0)
		goto out;
	res->relay_threads = thread_count(RELAY_THREAD_NAME, &res->threads);
	res->rss_kib = rss_anon_kib();
	measure_idle(res);
	for (i = 0; i < nr_vf; i++)
		bench_vf_disconnect(&r, i);
	if (__atomic_load_n(&bench_conf.n, __ATOMIC_ACQUIRE) < nr_vf ||
	    __atomic_load_n(&bench_close.n, __ATOMIC_ACQUIRE) < nr_vf) {
		fprintf(stderr, "%u VFs: too few dev_conf or dev_close\n",
			nr_vf);
		goto out;
	}
	med_max(bench_conf.ns, nr_vf, &res->conf_med, &res->conf_max);
	med_max(bench_close.ns, nr_vf, &res->close_med, &res->close_max);
	ret = 0;
out:
	bench_rig_fini(&r);
	return ret;
}

/* A child: EAL with @nr_vf VFs, the run, its result down @fd. */
static int
child(unsigned int nr_vf, int fd)
{
	struct scale_result res;
	char prefix[64];
	int ret = 1;

	if (bench_eal_init("bench_scale", nr_vf, 1, "",
			   sysconf(_SC_NPROCESSORS_ONLN) - 1, prefix,
			   sizeof(prefix)) < 0)
		return 1;
	if (scale_run(nr_vf, &res) == 0 &&
	    write(fd, &res, sizeof(res)) == sizeof(res))
		ret = 0;
	rte_eal_cleanup();
	vdpa_remove_runtime_dir(prefix);
	return ret;
}

static int
run_n(unsigned int nr_vf, struct scale_result *res)
{
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		exit(child(nr_vf, fds[1]));
	}
	close(fds[1]);
	got = pid < 0 ? -1 : read(fds[0], res, sizeof(*res));
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    got != sizeof(*res)) {
		fprintf(stderr, "%u VFs: the run failed\n", nr_vf);
		return -1;
	}
	return 0;
}

static void
print_result(const struct scale_result *r, const struct scale_result *one)
{
	double per_vf = r->nr_vf > 1 ?
		(double)(r->rss_kib - one->rss_kib) / (r->nr_vf - 1) : 0;

	printf("%4u  %5u %7u  %8.1f %5.0f   %6.2f %5.2f  %6.2f %5.2f  %6.1f %7.1f  %5.1f %6.1f\n",
	       r->nr_vf, r->relay_threads, r->threads, r->rss_kib / 1024.0,
	       per_vf, r->conf_med, r->conf_max, r->close_med, r->close_max,
	       r->kick.p50, r->kick.p99, r->idle_relay_ms, r->idle_proc_ms);
}

int
main(int argc, char **argv)
{
	static const unsigned int full[] = { 1, 8, 32, 64, 128 };
	static const unsigned int quick[] = { 1, 8, 32 };
	const unsigned int *ns = full;
	unsigned int nr = RTE_DIM(full), i;
	struct scale_result res[RTE_DIM(full)];
	struct rlimit rl;

	if (argc > 1 && strcmp(argv[1], "-q") == 0) {
		ns = quick;
		nr = RTE_DIM(quick);
		kicks = 500;
	}
	/* About 15 fds a VF, both ends in this process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	printf("simulated VFs of 1 pair in one process, each with a frontend (%u frames), relay=epoll;\n"
	       "kick: one TX queue of each VF in turn, %u kicks; CPU over an idle second\n",
	       FRAMES, kicks);
	printf(" VFs  threads         RssAnon   KiB   dev_conf ms   dev_close ms  kick us         idle CPU ms\n");
	printf("      relay     all       MiB  a VF   median   max  median   max     p50     p99  relay   proc\n");
	for (i = 0; i < nr; i++) {
		if (run_n(ns[i], &res[i]) < 0)
			return 1;
		print_result(&res[i], &res[0]);
	}
	return 0;
}
