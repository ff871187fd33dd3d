/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The relay's promise (ifcvf_relay.c): once ifcvf_relay_del() returns, the
 * source's handler does not run again for that arming. A writer thread
 * fires the sources while the main thread disarms each, closes its fd and
 * arms it again, every other time on a fresh eventfd that nobody writes:
 * a handler that runs on such a quiet arming ran on an event fetched
 * before the disarm. The same again with relay=poll (the thread never
 * sleeps), on sources it asks of epoll and on sources it polls itself;
 * the relay-core pin, and the process-wide claim of relay= and relay-core=
 * by the VFs.
 */

#define _GNU_SOURCE	/* sched_getaffinity */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "ifcvf_vdpa.h"
#include "test.h"
#include "test_log.h"
#include "thread_stat.h"

#define NR_SRC		8
#define ROUNDS		20000
#define WAIT_MS		2000	/* for a source's handler to run */

struct tsrc {
	struct ifcvf_relay_src src;
	pthread_mutex_t mu;	/* the fd and quiet, main vs the writer */
	bool quiet;		/* atomic: this arming gets no event */
	uint64_t calls;		/* atomic */
	uint64_t stale;		/* atomic: calls on a quiet arming */
};

static struct tsrc srcs[NR_SRC];
static bool writer_stop;	/* atomic */

static void
tsrc_handler(struct ifcvf_relay_src *s)
{
	struct tsrc *t = container_of(s, struct tsrc, src);

	if (__atomic_load_n(&t->quiet, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&t->stale, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->calls, 1, __ATOMIC_RELAXED);
}

/* Fire every armed, noisy source, round and round. */
static void *
writer_main(void *arg __rte_unused)
{
	unsigned int i;

	while (!__atomic_load_n(&writer_stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < NR_SRC; i++) {
			pthread_mutex_lock(&srcs[i].mu);
			if (!srcs[i].quiet && srcs[i].src.fd >= 0)
				eventfd_write(srcs[i].src.fd, 1);
			pthread_mutex_unlock(&srcs[i].mu);
		}
	}
	return NULL;
}

/* Sources polled (relay=poll): their eventfd read without epoll. */
static bool polled_sources;

static bool
tsrc_ready(struct ifcvf_relay_src *s)
{
	eventfd_t n;

	return eventfd_read(s->fd, &n) == 0;
}

static int
tsrc_arm(struct tsrc *t, bool quiet)
{
	t->src.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->src.fd < 0)
		return -errno;
	__atomic_store_n(&t->quiet, quiet, __ATOMIC_RELEASE);
	t->src.handler = tsrc_handler;
	t->src.ready = polled_sources ? tsrc_ready : NULL;
	return ifcvf_relay_add(&t->src);
}

static void
tsrc_disarm(struct tsrc *t)
{
	ifcvf_relay_del(&t->src);
	close(t->src.fd);
	t->src.fd = -1;
}

/* Disarm, close and re-arm sources while the relay fires them. */
static int
test_del_while_firing(void)
{
	uint64_t calls = 0, stale = 0;
	pthread_t writer;
	unsigned int i;

	memset(srcs, 0, sizeof(srcs));
	writer_stop = false;
	for (i = 0; i < NR_SRC; i++) {
		pthread_mutex_init(&srcs[i].mu, NULL);
		CHECK_EQ(tsrc_arm(&srcs[i], false), 0);
	}
	CHECK_EQ(pthread_create(&writer, NULL, writer_main, NULL), 0);
	for (i = 0; i < ROUNDS; i++) {
		struct tsrc *t = &srcs[i % NR_SRC];

		pthread_mutex_lock(&t->mu);
		tsrc_disarm(t);
		if (tsrc_arm(t, !t->quiet) != 0) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		pthread_mutex_unlock(&t->mu);
	}
	__atomic_store_n(&writer_stop, true, __ATOMIC_RELEASE);
	pthread_join(writer, NULL);
	CHECK_EQ(i, ROUNDS);
	for (i = 0; i < NR_SRC; i++) {
		tsrc_disarm(&srcs[i]);
		calls += srcs[i].calls;
		stale += srcs[i].stale;
	}
	printf("  %u re-arms: %lu handler runs, %lu after a disarm\n",
	       ROUNDS, (unsigned long)calls, (unsigned long)stale);
	CHECK(calls > 0);
	CHECK_EQ(stale, 0);
	return 0;
}

/* The last disarm stops the thread; the next arm starts it again. */
static int
test_restart(void)
{
	struct tsrc t = { .mu = PTHREAD_MUTEX_INITIALIZER };
	bool ran;
	int i;

	for (i = 0; i < 100; i++) {
		CHECK_EQ(tsrc_arm(&t, false), 0);
		eventfd_write(t.src.fd, 1);
		ran = WAIT_FOR(__atomic_load_n(&t.calls, __ATOMIC_ACQUIRE) >=
			       (uint64_t)i + 1, WAIT_MS);
		tsrc_disarm(&t);
		CHECK(ran);
	}
	CHECK_EQ(t.stale, 0);
	return 0;
}

static const struct ifcvf_relay_conf poll_conf = {
	.given = true, .poll = true,
};

/*
 * @fn with a VF's claim of relay=poll held; the sources polled by the
 * relay itself (their ready()) or asked of epoll.
 */
static int
polling(int (*fn)(void), bool ready)
{
	int ret;

	CHECK_EQ(ifcvf_relay_claim("vf0", &poll_conf), 0);
	polled_sources = ready;
	ret = fn();
	polled_sources = false;
	ifcvf_relay_release(&poll_conf);
	return ret;
}

/* Asked of epoll, then polled. */
static int
test_poll_del_while_firing(void)
{
	CHECK_EQ(polling(test_del_while_firing, false), 0);
	return polling(test_del_while_firing, true);
}

static int
test_poll_restart(void)
{
	CHECK_EQ(polling(test_restart, false), 0);
	return polling(test_restart, true);
}

/* relay=poll,relay-core=<last CPU>: pinned there, and it never sleeps. */
static int
test_poll_pinned(void)
{
	struct ifcvf_relay_conf conf = poll_conf;
	struct tsrc t = { .mu = PTHREAD_MUTEX_INITIALIZER };
	uint64_t busy, sleeps;
	cpu_set_t set;
	bool ran;
	pid_t tid;
	int i;

	conf.pinned = true;
	conf.cpu = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	CHECK_EQ(ifcvf_relay_claim("vf0", &conf), 0);
	CHECK_EQ(tsrc_arm(&t, false), 0);
	tid = thread_find(RELAY_THREAD_NAME);
	CHECK(tid > 0);
	/* The thread pins itself first thing: give it the time to. */
	for (i = 0; i < 1000; i++) {
		CHECK_EQ(sched_getaffinity(tid, sizeof(set), &set), 0);
		if (CPU_COUNT(&set) == 1)
			break;
		usleep(1000);
	}
	CHECK_EQ(CPU_COUNT(&set), 1);
	CHECK(CPU_ISSET(conf.cpu, &set));
	busy = thread_cpu_ns(tid);
	sleeps = thread_sleeps(tid);
	usleep(200 * 1000);
	busy = thread_cpu_ns(tid) - busy;
	sleeps = thread_sleeps(tid) - sleeps;
	printf("  idle relay=poll thread: %" PRIu64 " ms of CPU in 200 ms, slept %" PRIu64 " times\n",
	       busy / 1000000, sleeps);
	/* Preempted maybe, but it never gave its CPU up. */
	CHECK(busy > 0);
	CHECK_EQ(sleeps, 0);
	eventfd_write(t.src.fd, 1);
	ran = WAIT_FOR(__atomic_load_n(&t.calls, __ATOMIC_ACQUIRE) > 0,
		       WAIT_MS);
	tsrc_disarm(&t);
	ifcvf_relay_release(&conf);
	CHECK(ran);
	return 0;
}

/* The default relay sleeps: next to no CPU while nothing fires. */
static int
test_epoll_idle(void)
{
	struct tsrc t = { .mu = PTHREAD_MUTEX_INITIALIZER };
	uint64_t busy;
	pid_t tid;

	CHECK_EQ(tsrc_arm(&t, false), 0);
	tid = thread_find(RELAY_THREAD_NAME);
	CHECK(tid > 0);
	busy = thread_cpu_ns(tid);
	usleep(200 * 1000);
	busy = thread_cpu_ns(tid) - busy;
	printf("  idle relay=epoll thread: %" PRIu64 " us of CPU in 200 ms\n",
	       busy / 1000);
	CHECK(busy < 10ULL * 1000 * 1000);
	tsrc_disarm(&t);
	return 0;
}

/* Claimed @conf as VF @dev: the return code, and whether the log has @word. */
static int
claim_says(const char *dev, const struct ifcvf_relay_conf *conf,
	   const char *word)
{
	char *logged;
	int ret;

	log_capture();
	ret = ifcvf_relay_claim(dev, conf);
	logged = log_release();
	if (word != NULL && strstr(logged, word) == NULL) {
		fprintf(stderr, "no \"%s\" in: %s\n", word, logged);
		ret = 0;
	}
	free(logged);
	return ret;
}

/* The first VF that gives relay= decides; another value is refused. */
static int
test_claim_conflict(void)
{
	const struct ifcvf_relay_conf epoll_conf = { .given = true };
	const struct ifcvf_relay_conf none = { .given = false };
	struct ifcvf_relay_conf pinned = poll_conf;

	pinned.pinned = true;
	CHECK_EQ(claim_says("vf0", &poll_conf, NULL), 0);
	CHECK_EQ(claim_says("vf1", &poll_conf, NULL), 0);
	CHECK_EQ(claim_says("vf2", &epoll_conf, "relay=poll"), -EINVAL);
	CHECK_EQ(claim_says("vf2", &pinned, "relay-core=0"), -EINVAL);
	/* A VF without either devarg takes what the others chose. */
	CHECK_EQ(claim_says("vf3", &none, NULL), 0);
	ifcvf_relay_release(&poll_conf);
	CHECK_EQ(claim_says("vf2", &epoll_conf, "relay=poll"), -EINVAL);
	ifcvf_relay_release(&poll_conf);
	/* Nobody holds it any more: the next VF decides. */
	CHECK_EQ(claim_says("vf2", &epoll_conf, NULL), 0);
	ifcvf_relay_release(&epoll_conf);
	return 0;
}

/* A running relay keeps its mode: another one is refused until it stops. */
static int
test_claim_running(void)
{
	struct tsrc t = { .mu = PTHREAD_MUTEX_INITIALIZER };

	CHECK_EQ(tsrc_arm(&t, false), 0);
	CHECK_EQ(claim_says("vf0", &poll_conf, "already runs as relay=epoll"),
		 -EBUSY);
	tsrc_disarm(&t);
	CHECK_EQ(claim_says("vf0", &poll_conf, NULL), 0);
	ifcvf_relay_release(&poll_conf);
	return 0;
}

static const struct test_case cases[] = {
	TEST_CASE(test_del_while_firing),
	TEST_CASE(test_restart),
	TEST_CASE(test_poll_del_while_firing),
	TEST_CASE(test_poll_restart),
	TEST_CASE(test_poll_pinned),
	TEST_CASE(test_epoll_idle),
	TEST_CASE(test_claim_conflict),
	TEST_CASE(test_claim_running),
};

static const struct test_suite suite = {
	.name = "relay", .cases = cases, .nr_cases = RTE_DIM(cases),
};

int
main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "64", "--no-pci",
			"--no-shconf", "--no-telemetry", "-l", "0",
			"--log-level=*:error", NULL };

	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "cannot initialise EAL\n");
		return 1;
	}
	return test_main(&suite, argc - 1, argv + 1);
}
