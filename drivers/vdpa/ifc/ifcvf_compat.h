/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The one place that knows which DPDK release the driver is built
 * against (22.11 to 26.07). The code is written against the newest API
 * names; this header provides them on older releases, keyed on
 * RTE_VERSION. No other file tests a DPDK version.
 *
 *   23.03  VHOST_USER_PROTOCOL_F_SLAVE_* renamed _BACKEND_*, and
 *          rte_vhost_slave_config_change rte_vhost_backend_config_change;
 *          telemetry's u64 values become uint (rte_tel_data_add_*_uint,
 *          RTE_TEL_UINT_VAL; the u64 names deprecated in 24.11, gone in
 *          25.11)
 *   23.11  rte_ctrl_thread_create (pthread_t) removed:
 *          rte_thread_create_internal_control (rte_thread_t, a name of
 *          at most 10 characters, "dpdk-" put in front), rte_thread_join
 *   24.03  RTE_LOG_LINE; non-EAL static log types removed (the driver
 *          registers its own with RTE_LOG_REGISTER: nothing to do)
 *   24.11  rte_vdpa_relay_vring_used declared in vdpa_driver.h
 *   25.03  __rte_packed deprecated: __rte_packed_begin/__rte_packed_end
 *   25.11  rte_vfio.h no longer includes <linux/vfio.h>: a file that uses
 *          VFIO's ioctls includes it itself
 */

#ifndef IFCVF_COMPAT_H
#define IFCVF_COMPAT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

#include <rte_bitops.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_thread.h>
#include <rte_version.h>

#define IFCVF_DPDK_AT_LEAST(y, m) (RTE_VERSION >= RTE_VERSION_NUM(y, m, 0, 0))

/* 23.03: slave -> backend (rte_vhost.h, vdpa_driver.h). */
#if !IFCVF_DPDK_AT_LEAST(23, 3)
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ VHOST_USER_PROTOCOL_F_SLAVE_REQ
#define VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD \
	VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD
#define rte_vhost_backend_config_change rte_vhost_slave_config_change
#define RTE_TEL_UINT_VAL RTE_TEL_U64_VAL
#define rte_tel_data_add_dict_uint rte_tel_data_add_dict_u64
#define rte_tel_data_add_array_uint rte_tel_data_add_array_u64
#endif

/* 25.03: packed structures are bracketed. */
#if !IFCVF_DPDK_AT_LEAST(25, 3)
#define __rte_packed_begin
#define __rte_packed_end __rte_packed
#endif

/*
 * A control-plane thread (EAL's control cores, EAL's naming): a
 * pthread-style start routine on every release.
 */
typedef void *(*ifcvf_thread_fn)(void *arg);

#if IFCVF_DPDK_AT_LEAST(23, 11)
typedef rte_thread_t ifcvf_thread_t;

struct ifcvf_thread_start {
	ifcvf_thread_fn fn;
	void *arg;
};

static inline uint32_t
ifcvf_thread_trampoline(void *p)
{
	struct ifcvf_thread_start s = *(struct ifcvf_thread_start *)p;

	free(p);
	s.fn(s.arg);
	return 0;
}

/* @name: at most 10 characters (EAL makes it "dpdk-<name>"). */
static inline int
ifcvf_ctrl_thread_create(ifcvf_thread_t *t, const char *name,
			 ifcvf_thread_fn fn, void *arg)
{
	struct ifcvf_thread_start *s = malloc(sizeof(*s));
	int ret;

	if (s == NULL)
		return ENOMEM;
	s->fn = fn;
	s->arg = arg;
	ret = rte_thread_create_internal_control(t, name,
						 ifcvf_thread_trampoline, s);
	if (ret != 0)
		free(s);
	return ret < 0 ? -ret : ret;
}

static inline void
ifcvf_thread_join(ifcvf_thread_t t)
{
	rte_thread_join(t, NULL);
}
#else
typedef pthread_t ifcvf_thread_t;

static inline int
ifcvf_ctrl_thread_create(ifcvf_thread_t *t, const char *name,
			 ifcvf_thread_fn fn, void *arg)
{
	char dname[16];	/* pthread's limit */

	/* The name 23.11 and later give it. */
	snprintf(dname, sizeof(dname), "dpdk-%s", name);
	return rte_ctrl_thread_create(t, dname, NULL, fn, arg);
}

static inline void
ifcvf_thread_join(ifcvf_thread_t t)
{
	pthread_join(t, NULL);
}
#endif

#endif /* IFCVF_COMPAT_H */
