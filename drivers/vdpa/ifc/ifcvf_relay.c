/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The relay: one thread for every VF in the process. It waits in
 * epoll_wait on the eventfds of all running queues (the guests' kicks, and
 * the device's interrupts of mediated queues) and calls each source's
 * handler. With relay=epoll (the default) it sleeps there, so it costs
 * nothing while nothing fires. With relay=poll it never sleeps: sources
 * that can tell without their fd whether there is work (a queue's avail
 * index moved, a shadow used ring grew) are swept round and round on a
 * list of their own, without a system call, and the others are asked of
 * epoll with a zero timeout every RELAY_POLL_SWEEPS sweeps: a core for the
 * lowest latency. It starts with the first source armed and stops,
 * through an eventfd of its own, when the last one is disarmed: no
 * pthread_cancel.
 *
 * The mode and the CPU (relay-core) are the process's: the first VF that
 * gives either devarg decides both until the last such VF is gone; a VF
 * that asks for other values, or for values other than those the running
 * thread has, is refused.
 */

#define _GNU_SOURCE	/* pthread_setaffinity_np */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include "ifcvf_vdpa.h"

#define RELAY_EVENTS	64
#define RELAY_POLL_SWEEPS	64	/* polled sweeps per epoll_wait */
#define RELAY_MODE_EPOLL	"epoll"
#define RELAY_MODE_POLL		"poll"

/*
 * Disarming a source bumps gen under run; the thread drops a batch of
 * events fetched before a bump (the fd may be closed or watched anew
 * since) and waits again: epoll is level-triggered, so an event still
 * pending comes back, and none of a disarmed source does. A polled
 * source is on the polled list, which changes under run too: it is not
 * swept once it is off.
 */
static struct {
	pthread_mutex_t ctl;	/* start, stop, arm, disarm */
	pthread_mutex_t run;	/* held while the thread handles events */
	uint64_t gen;		/* disarms so far; written under run */
	unsigned int users;
	int epfd;
	int stopfd;
	ifcvf_thread_t tid;
	struct ifcvf_relay_conf conf;	/* the VFs' choice, under ctl */
	unsigned int claims;		/* VFs that gave it */
	struct ifcvf_relay_conf running;	/* the running thread's */
	TAILQ_HEAD(, ifcvf_relay_src) polled;	/* under run */
	unsigned int waiting;	/* atomic: control threads waiting for run */
	bool quit;	/* atomic: the thread left its loop (relay_start clears) */
} relay = {
	.ctl = PTHREAD_MUTEX_INITIALIZER,
	.run = PTHREAD_MUTEX_INITIALIZER,
	.polled = TAILQ_HEAD_INITIALIZER(relay.polled),
	.epfd = -1,
	.stopfd = -1,
};

static void
relay_fire(struct ifcvf_relay_src *src)
{
	uint64_t n;

	/* Drain the counter: several events make one call. */
	if (read(src->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	src->handler(src);
}

/* relay-core: the thread moves to its CPU before it serves anything. */
static void
relay_pin(const struct ifcvf_relay_conf *conf)
{
	cpu_set_t set;
	int ret;

	if (!conf->pinned)
		return;
	CPU_ZERO(&set);
	CPU_SET(conf->cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret != 0)
		IFCVF_LOG(ERR, "cannot pin the relay to CPU %u, it runs unpinned: %s",
			  conf->cpu, strerror(ret));
}

/* The control side's way into run: a polling relay steps aside for it. */
static void
relay_run_lock(void)
{
	__atomic_fetch_add(&relay.waiting, 1, __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&relay.run);
	__atomic_fetch_sub(&relay.waiting, 1, __ATOMIC_RELEASE);
}

/* relay=poll, under run: every polled source that has work. */
static void
relay_sweep(void)
{
	struct ifcvf_relay_src *src;

	TAILQ_FOREACH(src, &relay.polled, next)
		if (src->ready(src))
			src->handler(src);
}

/* Under run: the events fetched (true: the stop event was one). */
static bool
relay_serve(const struct epoll_event *ev, int n, uint64_t gen)
{
	bool stop = false;
	int i;

	if (relay.gen != gen)
		return false;	/* fetched before a disarm: wait again */
	for (i = 0; i < n; i++) {
		if (ev[i].data.ptr == NULL)
			stop = true;
		else
			relay_fire(ev[i].data.ptr);
	}
	return stop;
}

static void *
relay_main(void *arg)
{
	const struct ifcvf_relay_conf *conf = arg;
	struct epoll_event ev[RELAY_EVENTS];
	unsigned int sweeps = 0;
	bool stop = false;
	uint64_t gen;
	int n;

	relay_pin(conf);
	while (!stop) {
		gen = __atomic_load_n(&relay.gen, __ATOMIC_ACQUIRE);
		n = 0;
		if (!conf->poll)
			n = epoll_wait(relay.epfd, ev, RELAY_EVENTS, -1);
		else if (sweeps++ % RELAY_POLL_SWEEPS == 0)
			n = epoll_wait(relay.epfd, ev, RELAY_EVENTS, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			IFCVF_LOG(ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		/* A control thread waiting for run goes first. */
		while (conf->poll &&
		       __atomic_load_n(&relay.waiting, __ATOMIC_ACQUIRE) > 0)
			rte_pause();
		pthread_mutex_lock(&relay.run);
		stop = relay_serve(ev, n, gen);
		if (conf->poll)
			relay_sweep();
		pthread_mutex_unlock(&relay.run);
	}
	__atomic_store_n(&relay.quit, true, __ATOMIC_RELEASE);
	return NULL;
}

static const char *
relay_mode_name(const struct ifcvf_relay_conf *conf)
{
	return conf->poll ? RELAY_MODE_POLL : RELAY_MODE_EPOLL;
}

/* "relay=poll,relay-core=3", as a VF would give it. */
static const char *
relay_conf_str(const struct ifcvf_relay_conf *conf, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s=%s", IFCVF_DEVARG_RELAY,
			 relay_mode_name(conf));

	if (conf->pinned && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, ",%s=%u", IFCVF_DEVARG_RELAY_CORE,
			 conf->cpu);
	return buf;
}

static void
relay_close_fds(void)
{
	if (relay.epfd >= 0)
		close(relay.epfd);
	if (relay.stopfd >= 0)
		close(relay.stopfd);
	relay.epfd = -1;
	relay.stopfd = -1;
}

static int
relay_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	char desc[64];
	int ret;

	relay.epfd = epoll_create1(EPOLL_CLOEXEC);
	relay.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (relay.epfd < 0 || relay.stopfd < 0 ||
	    epoll_ctl(relay.epfd, EPOLL_CTL_ADD, relay.stopfd, &ev) < 0) {
		ret = -errno;
		IFCVF_LOG(ERR, "cannot set up the relay: %s", strerror(errno));
		relay_close_fds();
		return ret;
	}
	/* The thread's copy: a VF may claim another conf once it is idle. */
	relay.running = relay.conf;
	__atomic_store_n(&relay.quit, false, __ATOMIC_RELAXED);
	ret = ifcvf_ctrl_thread_create(&relay.tid, "ifcvf-rly", relay_main,
				       &relay.running);
	if (ret != 0) {
		IFCVF_LOG(ERR, "cannot start the relay thread: %s",
			  strerror(ret));
		relay_close_fds();
		return -ret;
	}
	IFCVF_LOG(INFO, "the relay thread runs with %s",
		  relay_conf_str(&relay.running, desc, sizeof(desc)));
	return 0;
}

static void
relay_stop(void)
{
	uint64_t one = 1;

	if (write(relay.stopfd, &one, sizeof(one)) != sizeof(one))
		IFCVF_LOG(ERR, "cannot stop the relay: %s", strerror(errno));
	else
		ifcvf_thread_join(relay.tid);
	relay_close_fds();
}

/*
 * Under ctl. Under run: what the caller set up for the handler is ordered
 * before the handler's first run.
 */
static int
relay_watch(struct ifcvf_relay_src *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };
	int ret;

	if (relay.running.poll && src->ready != NULL) {
		relay_run_lock();
		src->armed = true;
		src->polled = true;
		TAILQ_INSERT_TAIL(&relay.polled, src, next);
		pthread_mutex_unlock(&relay.run);
		return 0;
	}
	relay_run_lock();
	src->armed = true;
	pthread_mutex_unlock(&relay.run);
	if (epoll_ctl(relay.epfd, EPOLL_CTL_ADD, src->fd, &ev) == 0)
		return 0;
	ret = -errno;
	relay_run_lock();
	src->armed = false;
	pthread_mutex_unlock(&relay.run);
	IFCVF_LOG(ERR, "cannot watch fd %d: %s", src->fd, strerror(-ret));
	return ret;
}

void
ifcvf_relay_get_info(struct ifcvf_relay_info *info)
{
	pthread_mutex_lock(&relay.ctl);
	info->sources = relay.users;
	info->running = relay.users > 0 &&
			!__atomic_load_n(&relay.quit, __ATOMIC_ACQUIRE);
	info->conf = relay.users > 0 ? relay.running : relay.conf;
	pthread_mutex_unlock(&relay.ctl);
}

int
ifcvf_relay_add(struct ifcvf_relay_src *src)
{
	int ret = 0;

	pthread_mutex_lock(&relay.ctl);
	if (relay.users == 0)
		ret = relay_start();
	if (ret == 0) {
		ret = relay_watch(src);
		if (ret == 0)
			relay.users++;
		else if (relay.users == 0)
			relay_stop();
	}
	pthread_mutex_unlock(&relay.ctl);
	return ret;
}

void
ifcvf_relay_del(struct ifcvf_relay_src *src)
{
	pthread_mutex_lock(&relay.ctl);
	if (src->armed) {
		if (!src->polled)
			epoll_ctl(relay.epfd, EPOLL_CTL_DEL, src->fd, NULL);
		/* Events already fetched are dropped from now on. */
		relay_run_lock();
		if (src->polled)
			TAILQ_REMOVE(&relay.polled, src, next);
		src->polled = false;
		src->armed = false;
		__atomic_store_n(&relay.gen, relay.gen + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&relay.run);
		if (--relay.users == 0)
			relay_stop();
	}
	pthread_mutex_unlock(&relay.ctl);
}

static int
relay_parse_cpu(const char *key, const char *value, void *out)
{
	struct ifcvf_relay_conf *conf = out;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned long cpu;
	char *end;

	errno = 0;
	cpu = value != NULL ? strtoul(value, &end, 10) : 0;
	if (value == NULL || *value < '0' || *value > '9' || *end != '\0' ||
	    errno != 0 || cpu >= (unsigned long)ncpu || cpu >= CPU_SETSIZE) {
		IFCVF_LOG(ERR, "devarg %s=%s: expected a CPU number, 0 to %ld",
			  key, value != NULL ? value : "", ncpu - 1);
		return -EINVAL;
	}
	conf->pinned = true;
	conf->cpu = cpu;
	return 0;
}

int
ifcvf_relay_devargs(struct rte_kvargs *kv, struct ifcvf_relay_conf *conf)
{
	struct ifcvf_devarg_choice mode = {
		{ RELAY_MODE_EPOLL, RELAY_MODE_POLL }, { false, true },
		conf->poll,
	};

	if (rte_kvargs_process(kv, IFCVF_DEVARG_RELAY, ifcvf_devarg_choice,
			       &mode) < 0 ||
	    rte_kvargs_process(kv, IFCVF_DEVARG_RELAY_CORE, relay_parse_cpu,
			       conf) < 0)
		return -EINVAL;
	conf->poll = mode.chosen;
	conf->given |= rte_kvargs_count(kv, IFCVF_DEVARG_RELAY) > 0 ||
		       rte_kvargs_count(kv, IFCVF_DEVARG_RELAY_CORE) > 0;
	return 0;
}

static bool
relay_conf_eq(const struct ifcvf_relay_conf *a,
	      const struct ifcvf_relay_conf *b)
{
	return a->poll == b->poll && a->pinned == b->pinned &&
	       (!a->pinned || a->cpu == b->cpu);
}

static void
relay_refuse(const char *dev, const struct ifcvf_relay_conf *want,
	     const struct ifcvf_relay_conf *have, const char *whose)
{
	char w[64], h[64];

	IFCVF_LOG(ERR, "%s: devargs %s refused: %s %s, and one relay thread serves every VF of the process",
		  dev, relay_conf_str(want, w, sizeof(w)), whose,
		  relay_conf_str(have, h, sizeof(h)));
}

int
ifcvf_relay_claim(const char *dev, const struct ifcvf_relay_conf *conf)
{
	int ret = 0;

	if (!conf->given)
		return 0;
	pthread_mutex_lock(&relay.ctl);
	if (relay.claims > 0 && !relay_conf_eq(conf, &relay.conf)) {
		relay_refuse(dev, conf, &relay.conf, "an earlier VF gave");
		ret = -EINVAL;
	} else if (relay.users > 0 && !relay_conf_eq(conf, &relay.running)) {
		relay_refuse(dev, conf, &relay.running, "the relay already runs as");
		ret = -EBUSY;
	} else {
		relay.conf = *conf;
		relay.claims++;
	}
	pthread_mutex_unlock(&relay.ctl);
	return ret;
}

void
ifcvf_relay_release(const struct ifcvf_relay_conf *conf)
{
	if (!conf->given)
		return;
	pthread_mutex_lock(&relay.ctl);
	if (--relay.claims == 0)
		memset(&relay.conf, 0, sizeof(relay.conf));
	pthread_mutex_unlock(&relay.ctl);
}
