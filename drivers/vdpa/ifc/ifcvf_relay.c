/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The relay: one thread for every VF in the process. It sleeps in
 * epoll_wait on the eventfds of all running queues (the guests' kicks, and
 * the device's interrupts of mediated queues) and calls each source's
 * handler, so it costs nothing while nothing fires. It starts with the
 * first source armed and stops, through an eventfd of its own, when the
 * last one is disarmed: no pthread_cancel.
 */

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "ifcvf_vdpa.h"

#define RELAY_EVENTS	64

static struct {
	pthread_mutex_t ctl;	/* start, stop, arm, disarm */
	pthread_mutex_t run;	/* held while the thread handles events */
	unsigned int users;
	int epfd;
	int stopfd;
	pthread_t tid;
} relay = {
	.ctl = PTHREAD_MUTEX_INITIALIZER,
	.run = PTHREAD_MUTEX_INITIALIZER,
	.epfd = -1,
	.stopfd = -1,
};

static void
relay_fire(struct ifcvf_relay_src *src)
{
	uint64_t n;

	if (!src->armed)
		return;
	/* Drain the counter: several events make one call. */
	if (read(src->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	src->handler(src);
}

static void *
relay_main(void *arg __rte_unused)
{
	struct epoll_event ev[RELAY_EVENTS];
	bool stop = false;
	int i, n;

	while (!stop) {
		n = epoll_wait(relay.epfd, ev, RELAY_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			IFCVF_LOG(ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		pthread_mutex_lock(&relay.run);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				stop = true;
			else
				relay_fire(ev[i].data.ptr);
		}
		pthread_mutex_unlock(&relay.run);
	}
	return NULL;
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
	ret = rte_ctrl_thread_create(&relay.tid, "ifcvf-relay", NULL,
				     relay_main, NULL);
	if (ret != 0) {
		IFCVF_LOG(ERR, "cannot start the relay thread: %s",
			  strerror(ret));
		relay_close_fds();
		return -ret;
	}
	return 0;
}

static void
relay_stop(void)
{
	uint64_t one = 1;

	if (write(relay.stopfd, &one, sizeof(one)) != sizeof(one))
		IFCVF_LOG(ERR, "cannot stop the relay: %s", strerror(errno));
	else
		pthread_join(relay.tid, NULL);
	relay_close_fds();
}

int
ifcvf_relay_add(struct ifcvf_relay_src *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };
	int ret = 0;

	pthread_mutex_lock(&relay.ctl);
	if (relay.users == 0)
		ret = relay_start();
	if (ret == 0) {
		src->armed = true;
		if (epoll_ctl(relay.epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0) {
			ret = -errno;
			src->armed = false;
			IFCVF_LOG(ERR, "cannot watch fd %d: %s", src->fd,
				  strerror(errno));
			if (relay.users == 0)
				relay_stop();
		} else {
			relay.users++;
		}
	}
	pthread_mutex_unlock(&relay.ctl);
	return ret;
}

void
ifcvf_relay_del(struct ifcvf_relay_src *src)
{
	pthread_mutex_lock(&relay.ctl);
	if (src->armed) {
		epoll_ctl(relay.epfd, EPOLL_CTL_DEL, src->fd, NULL);
		/* An event already fetched for src is skipped from now on. */
		pthread_mutex_lock(&relay.run);
		src->armed = false;
		pthread_mutex_unlock(&relay.run);
		if (--relay.users == 0)
			relay_stop();
	}
	pthread_mutex_unlock(&relay.ctl);
}
