/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The driver's state through DPDK's telemetry (dpdk-telemetry.py):
 *
 *   /vdpa_ifcvf/list                 the VFs, by device name
 *   /vdpa_ifcvf/info,<vf>            bus, profile, state, features, logging,
 *                                    DMA windows, MSI-X routes
 *   /vdpa_ifcvf/queue,<vf>,<qid>     one queue: enable, mode, ring state,
 *                                    host notifier, counters
 *
 * Each answer is read under the VF's lock: a consistent snapshot.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>
#include <rte_vdpa.h>

#include "ifcvf_compat.h"
#include "ifcvf_vdpa.h"

static void
tel_list_one(struct ifcvf_internal *ifc, void *arg)
{
	rte_tel_data_add_array_string(arg, ifc->rte_dev->name);
}

static int
tel_list(const char *cmd __rte_unused, const char *params __rte_unused,
	 struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	ifcvf_vdpa_foreach(tel_list_one, d);
	return 0;
}

/*
 * The VF named by the first parameter, held until ifcvf_vdpa_put();
 * @rest points past it.
 */
static struct ifcvf_internal *
tel_find(const char *params, const char **rest)
{
	char name[RTE_DEV_NAME_MAX_LEN];
	size_t len;

	if (params == NULL)
		return NULL;
	len = strcspn(params, ",");
	if (len == 0 || len >= sizeof(name))
		return NULL;
	memcpy(name, params, len);
	name[len] = '\0';
	if (rest != NULL)
		*rest = params[len] == ',' ? params + len + 1 : NULL;
	return ifcvf_vdpa_get(name);
}

static const char *
tel_logging_mode(const struct ifcvf_internal *ifc)
{
	if (!ifc->logging)
		return "off";
	return ifc->mediated ? "sw" : "hw";
}

static uint64_t
tel_dma_bytes(const struct ifcvf_internal *ifc)
{
	uint64_t n = ifc->lm_window.len;
	unsigned int i;

	for (i = 0; i < ifc->nr_windows; i++)
		n += ifc->windows[i].len;
	return n;
}

static void
tel_info_routes(struct rte_tel_data *d, const struct ifcvf_internal *ifc)
{
	struct rte_tel_data *routes = rte_tel_data_alloc();
	uint16_t v;

	if (routes == NULL)
		return;
	rte_tel_data_start_array(routes, RTE_TEL_INT_VAL);
	for (v = 0; v < ifc->nr_irq_route; v++)
		rte_tel_data_add_array_int(routes, ifc->irq_route[v]);
	if (rte_tel_data_add_dict_container(d, "msix_routes", routes, 0) != 0)
		rte_tel_data_free(routes);
}

static const char * const tel_err_names[IFCVF_ERR_MAX] = {
	[IFCVF_ERR_BAD_RING] = "bad_ring",
	[IFCVF_ERR_BAD_MEMORY] = "bad_memory",
	[IFCVF_ERR_QUEUES] = "too_many_queues",
	[IFCVF_ERR_BAD_LOG] = "bad_log",
	[IFCVF_ERR_CONFIG] = "config_refused",
	[IFCVF_ERR_OTHER_FRONTEND] = "other_frontend",
	[IFCVF_ERR_NEEDS_RESET] = "needs_reset",
};

/* What the driver refused or found wrong, by kind, since probe. */
static void
tel_info_errors(struct rte_tel_data *d, struct ifcvf_internal *ifc)
{
	struct rte_tel_data *errs = rte_tel_data_alloc();
	unsigned int i;

	if (errs == NULL)
		return;
	rte_tel_data_start_dict(errs);
	for (i = 0; i < IFCVF_ERR_MAX; i++)
		rte_tel_data_add_dict_uint(errs, tel_err_names[i],
			__atomic_load_n(&ifc->errors[i], __ATOMIC_RELAXED));
	if (rte_tel_data_add_dict_container(d, "errors", errs, 0) != 0)
		rte_tel_data_free(errs);
}

static int
tel_info(const char *cmd __rte_unused, const char *params,
	 struct rte_tel_data *d)
{
	struct ifcvf_internal *ifc = tel_find(params, NULL);

	if (ifc == NULL)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&ifc->lock);
	rte_tel_data_add_dict_string(d, "bus", ifc->bus->name);
	rte_tel_data_add_dict_string(d, "profile",
		ifc->hw.profile == IFCVF_PROFILE_IFCVF ? "ifcvf" : "virtio");
	rte_tel_data_add_dict_int(d, "lm_block", ifc->hw.has_lm);
	rte_tel_data_add_dict_int(d, "sw_live_migration", ifc->sw_lm);
	rte_tel_data_add_dict_string(d, "state",
				     ifc->configured ? "running" : "stopped");
	rte_tel_data_add_dict_uint(d, "device_features", ifc->hw.dev_features);
	rte_tel_data_add_dict_uint(d, "features", ifc->hw.features);
	rte_tel_data_add_dict_int(d, "device_queues", ifc->hw.nr_vring);
	rte_tel_data_add_dict_int(d, "queues", ifc->nr_vring);
	rte_tel_data_add_dict_string(d, "logging", tel_logging_mode(ifc));
	rte_tel_data_add_dict_int(d, "shadow_rings", ifc->mediated);
	rte_tel_data_add_dict_int(d, "dma_windows", ifc->nr_windows +
				  (ifc->lm_window.len != 0));
	rte_tel_data_add_dict_uint(d, "dma_bytes", tel_dma_bytes(ifc));
	tel_info_routes(d, ifc);
	rte_tel_data_add_dict_uint(d, "configures", ifc->nr_configures);
	rte_tel_data_add_dict_uint(d, "closes", ifc->nr_closes);
	rte_tel_data_add_dict_uint(d, "shadow_setups", ifc->nr_shadow_setups);
	rte_tel_data_add_dict_uint(d, "hw_log_setups", ifc->nr_hw_log_setups);
	rte_tel_data_add_dict_uint(d, "drain_abandoned",
				   ifc->nr_drain_abandoned);
	tel_info_errors(d, ifc);
	pthread_mutex_unlock(&ifc->lock);
	ifcvf_vdpa_put();
	return 0;
}

static const char *
tel_queue_mode(const struct ifcvf_internal *ifc, const struct ifcvf_queue *q)
{
	if (q->parked)
		return "parked";
	if (!ifc->configured || !q->kick.armed)
		return "stopped";
	return q->sh.on ? "shadow" : "direct";
}

static void
tel_queue_info(struct rte_tel_data *d, const struct ifcvf_internal *ifc,
	       const struct ifcvf_queue *q)
{
	const struct ifcvf_vring *vr = &ifc->vring[q->qid];
	unsigned int i;

	rte_tel_data_add_dict_int(d, "enabled", vr->enable);
	rte_tel_data_add_dict_string(d, "mode", tel_queue_mode(ifc, q));
	rte_tel_data_add_dict_int(d, "size", q->vring.size);
	rte_tel_data_add_dict_int(d, "last_avail_idx", vr->last_avail_idx);
	rte_tel_data_add_dict_int(d, "last_used_idx", vr->last_used_idx);
	if (q->kick.armed)
		rte_tel_data_add_dict_int(d, "used_idx",
			__atomic_load_n(&q->vring.used->idx, __ATOMIC_ACQUIRE));
	rte_tel_data_add_dict_int(d, "host_notifier", q->notifier);
	for (i = 0; i < IFCVF_STAT_MAX; i++)
		rte_tel_data_add_dict_uint(d, ifcvf_stat_names[i],
			__atomic_load_n(&q->stats[i], __ATOMIC_RELAXED));
}

static int
tel_queue(const char *cmd __rte_unused, const char *params,
	  struct rte_tel_data *d)
{
	const char *rest = NULL;
	struct ifcvf_internal *ifc = tel_find(params, &rest);
	unsigned long qid;
	char *end;

	if (ifc == NULL)
		return -EINVAL;
	qid = rest != NULL ? strtoul(rest, &end, 10) : 0;
	if (rest == NULL || *rest == '\0' || *end != '\0' ||
	    qid >= ifc->hw.nr_vring) {
		ifcvf_vdpa_put();
		return -EINVAL;
	}
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&ifc->lock);
	tel_queue_info(d, ifc, &ifc->q[qid]);
	pthread_mutex_unlock(&ifc->lock);
	ifcvf_vdpa_put();
	return 0;
}

/*
 * /vdpa_ifcvf/relay: the relay thread every VF shares: whether it runs,
 * its mode, its CPU (-1: not pinned), the sources it serves.
 */
static int
tel_relay(const char *cmd __rte_unused, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	struct ifcvf_relay_info ri;

	ifcvf_relay_get_info(&ri);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "running", ri.running);
	rte_tel_data_add_dict_string(d, "mode", ri.conf.poll ? "poll" : "epoll");
	rte_tel_data_add_dict_int(d, "cpu",
				  ri.conf.pinned ? (int)ri.conf.cpu : -1);
	rte_tel_data_add_dict_uint(d, "sources", ri.sources);
	return 0;
}

RTE_INIT(ifcvf_telemetry_init)
{
	rte_telemetry_register_cmd("/vdpa_ifcvf/list", tel_list,
		"The driver's VFs. No parameters");
	rte_telemetry_register_cmd("/vdpa_ifcvf/info", tel_info,
		"A VF's state. Parameter: the VF's device name");
	rte_telemetry_register_cmd("/vdpa_ifcvf/queue", tel_queue,
		"A queue's state and counters. Parameters: VF name, queue index");
	rte_telemetry_register_cmd("/vdpa_ifcvf/relay", tel_relay,
		"The relay thread: running, mode, CPU, sources. No parameters");
}
