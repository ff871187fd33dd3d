/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * A kick's way to the device, measured (a benchmark: it prints numbers and
 * fails only when something does not work). Our frontend writes a queue's
 * kick eventfd; the relay thread of the driver, in this process, turns it
 * into the doorbell write the simulated VF timestamps
 * (ifcvf_sim_doorbell_ns). The floor is the least a kick can cost through
 * an eventfd: one thread's write waking another blocked in read(),
 * measured in the same run, a sample of it before each kick of the
 * 1-queue run. p50, p99 and p99.9 of
 *   - the floor;
 *   - one queue given a frame and kicked at a time;
 *   - 64 queues (8 VFs of 4 pairs, a frame on each TX queue and a buffer
 *     on each RX queue) kicked back to back;
 * and the relay thread's CPU time, per kick and over an idle second. Each
 * relay mode (relay=epoll, relay=poll pinned to the last CPU, everything
 * else kept off that CPU) runs in a child process of its own: the relay's
 * mode is the process's.
 *
 *   bench_kick [-q]      (-q: fewer samples, a quick run)
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_vhost.h>

#include "bench_rig.h"
#include "thread_stat.h"
#include "vdpa_proc.h"

#define NR_VF		8
#define NR_PAIRS	4
#define NR_Q		(2 * NR_PAIRS)
#define GAP_US		100	/* between kicks: the relay goes idle */
#define WAKE_MAX_NS	1000000000ULL	/* a wake-up that never came */

static unsigned int samples = 20000;

/* ---- The floor: an eventfd wake-up between two threads ---- */

struct wake {
	int fd;
	uint64_t woke_ns;	/* atomic: when read() returned */
	bool stop;		/* atomic */
};

static void *
waker_main(void *arg)
{
	struct wake *w = arg;
	uint64_t v;

	while (read(w->fd, &v, sizeof(v)) == sizeof(v) &&
	       !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		__atomic_store_n(&w->woke_ns, bench_now_ns(), __ATOMIC_RELEASE);
	return NULL;
}

static int
waker_start(struct wake *w, pthread_t *t)
{
	w->stop = false;
	w->fd = eventfd(0, EFD_CLOEXEC);
	if (w->fd < 0)
		return -1;
	if (pthread_create(t, NULL, waker_main, w) == 0)
		return 0;
	close(w->fd);
	return -1;
}

/* One wake-up: from the write to the other thread's return from read(). */
static int
waker_sample(struct wake *w, uint64_t *lat)
{
	uint64_t t0, one = 1;

	__atomic_store_n(&w->woke_ns, 0, __ATOMIC_RELEASE);
	t0 = bench_now_ns();
	if (write(w->fd, &one, sizeof(one)) != sizeof(one))
		return -1;
	do {
		usleep(GAP_US);
		if (bench_now_ns() - t0 > WAKE_MAX_NS) {
			fprintf(stderr, "the waker thread did not wake in 1 s\n");
			return -1;
		}
	} while (__atomic_load_n(&w->woke_ns, __ATOMIC_ACQUIRE) == 0);
	*lat = w->woke_ns - t0;
	return 0;
}

static void
waker_stop(struct wake *w, pthread_t t)
{
	uint64_t one = 1;

	__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
	if (write(w->fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(t, NULL);
	close(w->fd);
}

/*
 * The floor and one queue's kicks (VF 0's first TX queue), a sample of
 * each in turn: the same machine for both.
 */
static int
measure_one(struct bench_rig *r, uint64_t *floor, uint64_t *one)
{
	struct wake w;
	pthread_t t;
	unsigned int i;
	int ret = 0;

	if (waker_start(&w, &t) < 0)
		return -1;
	for (i = 0; i < samples && ret == 0; i++)
		if (waker_sample(&w, &floor[i]) < 0 ||
		    bench_kicks(r, 1, 1, 1, &one[i]) < 0)
			ret = -1;
	waker_stop(&w, t);
	return ret;
}

/* The relay thread's CPU time over @us of nothing happening, ns. */
static uint64_t
idle_cpu(pid_t relay, unsigned int us)
{
	uint64_t t0 = thread_cpu_ns(relay);

	usleep(us);
	return thread_cpu_ns(relay) - t0;
}

/* The VFs up, each queue rung once. */
static int
rig_start(struct bench_rig *r)
{
	unsigned int i;

	if (bench_rig_init(r, "bench_kick", NR_VF, NR_PAIRS,
			   VU_GUEST_MEM_LEN) < 0)
		return -1;
	for (i = 0; i < NR_VF; i++)
		if (bench_vf_connect(r, i) < 0)
			return -1;
	return 0;
}

static int
bench(const char *mode)
{
	uint64_t *lat = calloc((size_t)samples * NR_VF * NR_Q, sizeof(*lat));
	unsigned int rounds64 = samples / 10;
	struct bench_pct floor, one, all;
	uint64_t cpu, idle, wall;
	struct bench_rig r;
	pid_t relay;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	if (lat == NULL || rig_start(&r) < 0)
		goto out;
	relay = thread_find(RELAY_THREAD_NAME);
	cpu = thread_cpu_ns(relay);
	wall = bench_now_ns();
	if (relay == 0 || measure_one(&r, lat, lat + samples) < 0)
		goto out;
	cpu = thread_cpu_ns(relay) - cpu;
	wall = bench_now_ns() - wall;
	floor = bench_percentiles(lat, samples);
	one = bench_percentiles(lat + samples, samples);
	if (bench_kicks(&r, 0, NR_VF * NR_Q, rounds64, lat) < 0)
		goto out;
	all = bench_percentiles(lat, (size_t)rounds64 * NR_VF * NR_Q);
	/* The stats timer stops at its first quiet tick (10 ms). */
	usleep(100 * 1000);
	idle = idle_cpu(relay, 1000 * 1000);
	printf("relay=%s: kick (eventfd write) to the doorbell the simulated VF sees, %u kicks %u us apart:\n",
	       mode, samples, GAP_US);
	bench_print_pct("floor, an eventfd wake-up between threads:", floor);
	bench_print_pct("1 queue (a TX queue, a frame a kick):", one);
	printf("  %-44s p50 %.2fx the floor's\n", "", one.p50 / floor.p50);
	bench_print_pct("64 queues (8 VFs x 8) kicked back to back:", all);
	printf("  %-44s p50 %.2fx the floor's\n", "", all.p50 / floor.p50);
	printf("  relay thread CPU: %.2f us a kick in the 1-queue run (%.1f%% of its wall time), %.1f ms over an idle second (%.1f%%)\n",
	       cpu / 1e3 / samples, 100.0 * cpu / wall, idle / 1e6,
	       idle / 1e7);
	ret = 0;
out:
	if (ret < 0)
		fprintf(stderr, "relay=%s: a measurement failed\n", mode);
	bench_rig_fini(&r);
	free(lat);
	return ret;
}

struct mode {
	const char *name;
	char args[64];		/* the VFs' devargs */
	long last_cpu;		/* the main lcore's (and the VFs') CPUs: 0 .. */
};

/* One relay mode in this process: EAL, the VFs, the measurements. */
static int
run_mode(const struct mode *m)
{
	char prefix[64];
	int ret;

	if (bench_eal_init("bench_kick", NR_VF, NR_PAIRS, m->args, m->last_cpu,
			   prefix, sizeof(prefix)) < 0)
		return 1;
	ret = bench(m->name) == 0 ? 0 : 1;
	rte_eal_cleanup();
	vdpa_remove_runtime_dir(prefix);
	return ret;
}

int
main(int argc, char **argv)
{
	long last = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	struct mode modes[2] = {
		{ .name = "epoll", .args = "relay=epoll", .last_cpu = last },
		/* Polling takes the last core; the rest of us stay off it. */
		{ .name = "poll", .last_cpu = last > 0 ? last - 1 : 0 },
	};
	int i, status, failed = 0;
	pid_t pid;

	if (argc > 1 && strcmp(argv[1], "-q") == 0)
		samples = 2000;
	snprintf(modes[1].args, sizeof(modes[1].args),
		 "relay=poll,relay-core=%ld", last);
	for (i = 0; i < 2; i++) {
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			exit(run_mode(&modes[i]));
		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	return failed == 0 ? 0 : 1;
}
