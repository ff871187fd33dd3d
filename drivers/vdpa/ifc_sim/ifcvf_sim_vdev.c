/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulator's front door: a vdev driver, vdpa_ifcvf_sim, that creates
 * a simulated IFCVF per instance and hands it to the driver through its
 * bus interface (ifcvf_bus.h), behind the very same vDPA ops as a PCI VF.
 * Its bus ops are the simulator's IOMMU and MSI-X.
 *
 *   --vdev vdpa_ifcvf_sim0,qp=4,profile=ifcvf,wire=vdpa_ifcvf_sim1
 *   --vdev vdpa_ifcvf_sim2,type=blk,capacity=2048,queues=2
 *   --vdev vdpa_ifcvf_sim3,type=blk,capacity=2048,disk=/tmp/disk0
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_ether.h>
#include <rte_kvargs.h>
#include <rte_telemetry.h>
#include <bus_vdev_driver.h>

#include "ifcvf_bus_abi.h"
#include "ifcvf_compat.h"
#include "ifcvf_sim.h"
#include "ifcvf_vdpa.h"

/* This plugin, as the driver names it when it refuses another build's. */
#define SIM_PLUGIN	"the simulator's plugin (vdpa_ifcvf_sim)"

#define SIM_ARG_QP	"qp"
#define SIM_ARG_PROFILE	"profile"
#define SIM_ARG_WIRE	"wire"
#define SIM_ARG_MAC	"mac"
#define SIM_ARG_FAIL	"fail"
#define SIM_ARG_TYPE	"type"
#define SIM_ARG_CAPACITY "capacity"
#define SIM_ARG_QUEUES	"queues"
#define SIM_ARG_FAULT	"fault"
#define SIM_ARG_DISK	"disk"
#define SIM_FAULT_BLK_LATE "blk_late"
#define SIM_FAULT_BLK_STUCK "blk_stuck"
#define SIM_WIRE_LOOP	"loop"
#define SIM_BLK_DEFAULT_CAPACITY 2048	/* sectors: 1 MiB */

static const char * const sim_args[] = {
	SIM_ARG_QP, SIM_ARG_PROFILE, SIM_ARG_WIRE, SIM_ARG_MAC, SIM_ARG_FAIL,
	IFCVF_DEVARG_SW_LM, IFCVF_DEVARG_RELAY, IFCVF_DEVARG_RELAY_CORE,
	SIM_ARG_TYPE, SIM_ARG_CAPACITY, SIM_ARG_QUEUES, SIM_ARG_FAULT,
	SIM_ARG_DISK, NULL,
};

struct sim_vf {
	TAILQ_ENTRY(sim_vf) next;
	struct ifcvf_internal ifc;
	struct ifcvf_sim *sim;
	char wire[RTE_DEV_NAME_MAX_LEN];	/* peer's name, or "loop" */
	char disk[PATH_MAX];	/* disk=<file>: a blk disk in a shared file */
	unsigned int fail_at[IFCVF_SIM_OP_MAX];	/* fail=<op>:<n> */
	int fault;		/* fault=blk_late|blk_stuck, -1: none */
};

/*
 * The simulated VFs. Written by probe and remove (EAL's thread, which also
 * reads it without the lock); sim_vfs_lock orders those writes with the
 * telemetry thread's reads, and keeps the VF a query reads alive until
 * the reply is built.
 */
static TAILQ_HEAD(, sim_vf) sim_vfs = TAILQ_HEAD_INITIALIZER(sim_vfs);
static pthread_mutex_t sim_vfs_lock = PTHREAD_MUTEX_INITIALIZER;

static struct ifcvf_sim *
sim_of(struct ifcvf_internal *ifc)
{
	return ((struct sim_vf *)ifc->bus_priv)->sim;
}

static int
sim_dma_map(struct ifcvf_internal *ifc, uint64_t vaddr, uint64_t iova,
	    uint64_t len)
{
	return ifcvf_sim_dma_map(sim_of(ifc), vaddr, iova, len);
}

static int
sim_dma_unmap(struct ifcvf_internal *ifc, uint64_t vaddr __rte_unused,
	      uint64_t iova, uint64_t len)
{
	return ifcvf_sim_dma_unmap(sim_of(ifc), iova, len);
}

static int
sim_set_irqs(struct ifcvf_internal *ifc, const int *fds, uint16_t n)
{
	struct ifcvf_sim *sim = sim_of(ifc);
	uint16_t v;
	int ret;

	/* A route may fail (fail=set_irqs:<n>), as VFIO's may; an unroute not. */
	if (n > 0 && ifcvf_sim_op_fails(sim, IFCVF_SIM_OP_SET_IRQS))
		return -EIO;
	for (v = 0; v < ifcvf_sim_nr_vectors(sim); v++) {
		ret = ifcvf_sim_set_irq(sim, v, v < n ? fds[v] : -1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const struct ifcvf_bus_ops sim_bus_ops = {
	.name = "sim",
	.dma_map = sim_dma_map,
	.dma_unmap = sim_dma_unmap,
	.set_irqs = sim_set_irqs,
};

static int
sim_vdev_parse_qp(const char *key, const char *value, void *out)
{
	char *end;
	unsigned long n = strtoul(value, &end, 0);

	if (*value == '\0' || *end != '\0' || n < 1 ||
	    n > IFCVF_MAX_QUEUE_PAIRS) {
		SIM_LOG(ERR, "devarg %s=%s: accepted values are 1 to %u",
			key, value, IFCVF_MAX_QUEUE_PAIRS);
		return -EINVAL;
	}
	*(uint16_t *)out = n;
	return 0;
}

/* capacity=<sectors>: the blk disk, in 512-byte sectors. */
static int
sim_vdev_parse_capacity(const char *key, const char *value, void *out)
{
	char *end;
	unsigned long long n = strtoull(value, &end, 0);

	if (*value == '\0' || *end != '\0' || n < 1 ||
	    n > IFCVF_SIM_BLK_MAX_SECTORS) {
		SIM_LOG(ERR, "devarg %s=%s: accepted values are 1 to %llu (512-byte sectors)",
			key, value, IFCVF_SIM_BLK_MAX_SECTORS);
		return -EINVAL;
	}
	*(uint64_t *)out = n;
	return 0;
}

static int
sim_vdev_parse_wire(const char *key, const char *value, void *out)
{
	if (*value == '\0' || strlen(value) >= RTE_DEV_NAME_MAX_LEN) {
		SIM_LOG(ERR, "devarg %s=%s: accepted values are %s and a vdev name",
			key, value, SIM_WIRE_LOOP);
		return -EINVAL;
	}
	strlcpy(out, value, RTE_DEV_NAME_MAX_LEN);
	return 0;
}

static int
sim_vdev_parse_path(const char *key, const char *value, void *out)
{
	if (*value == '\0' || strlen(value) >= PATH_MAX) {
		SIM_LOG(ERR, "devarg %s=%s: expected a file path", key, value);
		return -EINVAL;
	}
	strlcpy(out, value, PATH_MAX);
	return 0;
}

static int
sim_vdev_parse_mac(const char *key, const char *value, void *out)
{
	if (rte_ether_unformat_addr(value, out) < 0) {
		SIM_LOG(ERR, "devarg %s=%s: expected a MAC address", key, value);
		return -EINVAL;
	}
	return 0;
}

/* fail=<op>:<n>: the n-th <op> of the device fails, once. */
static int
sim_vdev_parse_fail(const char *key, const char *value, void *out)
{
	unsigned int *fail_at = out;
	const char *colon = strchr(value, ':');
	unsigned long n;
	char *end;
	int op;

	for (op = 0; colon != NULL && op < IFCVF_SIM_OP_MAX; op++)
		if (strncmp(value, ifcvf_sim_op_name(op), colon - value) == 0 &&
		    ifcvf_sim_op_name(op)[colon - value] == '\0')
			break;
	n = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
	if (colon == NULL || op == IFCVF_SIM_OP_MAX || colon[1] == '\0' ||
	    *end != '\0' || n < 1 || n > UINT_MAX) {
		SIM_LOG(ERR, "devarg %s=%s: expected <op>:<n>, op one of dma_map, queue_enable, queue_disable, reset, set_irqs",
			key, value);
		return -EINVAL;
	}
	fail_at[op] = n;
	return 0;
}

static int
sim_vdev_parse_args(struct rte_vdev_device *dev,
		    struct ifcvf_sim_params *p, struct sim_vf *vf)
{
	const char *args = rte_vdev_device_args(dev);
	struct rte_kvargs *kv;
	struct ifcvf_devarg_choice type = {
		{ "net", "blk" }, { IFCVF_SIM_TYPE_NET, IFCVF_SIM_TYPE_BLK },
		p->type,
	};
	struct ifcvf_devarg_choice profile = {
		{ "ifcvf", "virtio" },
		{ IFCVF_SIM_PROFILE_IFCVF, IFCVF_SIM_PROFILE_VIRTIO },
		p->profile,
	};
	struct ifcvf_devarg_choice fault = {
		{ SIM_FAULT_BLK_LATE, SIM_FAULT_BLK_STUCK },
		{ IFCVF_SIM_FAULT_BLK_LATE, IFCVF_SIM_FAULT_BLK_STUCK },
		vf->fault,
	};
	struct rte_ether_addr mac;
	int ret = 0;

	if (args == NULL || *args == '\0')
		return 0;
	kv = ifcvf_kvargs_parse(rte_vdev_device_name(dev), args, sim_args);
	if (kv == NULL)
		return -EINVAL;
	memcpy(&mac, p->mac, sizeof(p->mac));
	if (rte_kvargs_process(kv, SIM_ARG_QP, sim_vdev_parse_qp,
			       &p->nr_queue_pairs) ||
	    rte_kvargs_process(kv, SIM_ARG_QUEUES, sim_vdev_parse_qp,
			       &p->nr_queue_pairs) ||
	    rte_kvargs_process(kv, SIM_ARG_TYPE, ifcvf_devarg_choice,
			       &type) ||
	    rte_kvargs_process(kv, SIM_ARG_CAPACITY, sim_vdev_parse_capacity,
			       &p->capacity) ||
	    rte_kvargs_process(kv, SIM_ARG_PROFILE, ifcvf_devarg_choice,
			       &profile) ||
	    rte_kvargs_process(kv, SIM_ARG_WIRE, sim_vdev_parse_wire,
			       vf->wire) ||
	    rte_kvargs_process(kv, SIM_ARG_MAC, sim_vdev_parse_mac, &mac) ||
	    rte_kvargs_process(kv, SIM_ARG_DISK, sim_vdev_parse_path,
			       vf->disk) ||
	    rte_kvargs_process(kv, SIM_ARG_FAIL, sim_vdev_parse_fail,
			       vf->fail_at) ||
	    rte_kvargs_process(kv, SIM_ARG_FAULT, ifcvf_devarg_choice,
			       &fault) ||
	    rte_kvargs_process(kv, IFCVF_DEVARG_SW_LM, ifcvf_devarg_bool,
			       &vf->ifc.sw_lm) ||
	    ifcvf_relay_devargs(kv, &vf->ifc.relay_conf))
		ret = -EINVAL;
	p->type = type.chosen;
	p->profile = profile.chosen;
	vf->fault = fault.chosen;
	memcpy(p->mac, &mac, sizeof(p->mac));
	rte_kvargs_free(kv);
	return ret;
}

static struct sim_vf *
sim_vdev_find_vf(const char *name)
{
	struct sim_vf *vf;

	TAILQ_FOREACH(vf, &sim_vfs, next)
		if (strcmp(vf->ifc.rte_dev->name, name) == 0)
			return vf;
	return NULL;
}

static void
sim_vdev_wire_pair(struct sim_vf *a, struct sim_vf *b)
{
	if (ifcvf_sim_wire_connect(a->sim, b->sim) == 0)
		SIM_LOG(INFO, "%s and %s are wired together",
			a->ifc.rte_dev->name, b->ifc.rte_dev->name);
	else
		SIM_LOG(ERR, "%s cannot be wired to %s: it has a peer",
			a->ifc.rte_dev->name, b->ifc.rte_dev->name);
}

/* Wire @vf as its devargs say, and any earlier VF that named it. */
static int
sim_vdev_plug(struct sim_vf *vf)
{
	struct sim_vf *o;

	if (strcmp(vf->wire, SIM_WIRE_LOOP) == 0)
		return ifcvf_sim_wire_loop(vf->sim);
	if (vf->wire[0] != '\0') {
		if (strcmp(vf->wire, vf->ifc.rte_dev->name) == 0) {
			SIM_LOG(ERR, "%s: wire=%s names itself, use wire=%s",
				vf->wire, vf->wire, SIM_WIRE_LOOP);
			return -EINVAL;
		}
		o = sim_vdev_find_vf(vf->wire);
		if (o != NULL)
			sim_vdev_wire_pair(vf, o);
	}
	TAILQ_FOREACH(o, &sim_vfs, next)
		if (o != vf && strcmp(o->wire, vf->ifc.rte_dev->name) == 0 &&
		    strcmp(vf->wire, o->ifc.rte_dev->name) != 0)
			sim_vdev_wire_pair(o, vf);
	return 0;
}

static void
sim_vdev_arm_faults(struct sim_vf *vf)
{
	int op;

	for (op = 0; op < IFCVF_SIM_OP_MAX; op++)
		if (vf->fail_at[op] != 0)
			ifcvf_sim_fail_nth(vf->sim, op, vf->fail_at[op]);
	if (vf->fault >= 0)
		ifcvf_sim_set_fault(vf->sim, vf->fault, true);
}

static int
sim_probe(struct rte_vdev_device *dev)
{
	struct ifcvf_sim_params p = {
		.name = rte_vdev_device_name(dev),
		.profile = IFCVF_SIM_PROFILE_IFCVF,
		.nr_queue_pairs = 1,
		.mac = { 0x02, 0x1f, 0xc0, 0x00, 0x00, 0x00 },
		.capacity = SIM_BLK_DEFAULT_CAPACITY,
	};
	struct ifcvf_io io;
	struct sim_vf *vf;
	int ret;

	ret = ifcvf_bus_attach(SIM_PLUGIN, IFCVF_BUS_ABI);
	if (ret < 0)
		return ret;
	vf = calloc(1, sizeof(*vf));
	if (vf == NULL)
		return -ENOMEM;
	vf->ifc.rte_dev = &dev->device;
	vf->ifc.bus = &sim_bus_ops;
	vf->ifc.bus_priv = vf;
	vf->fault = -1;
	p.mac[5] = (uint8_t)rte_rand();
	ret = sim_vdev_parse_args(dev, &p, vf);
	if (ret < 0)
		goto free_vf;
	if (vf->disk[0] != '\0')
		p.disk_file = vf->disk;
	vf->sim = ifcvf_sim_create(&p);
	if (vf->sim == NULL) {
		ret = -errno;
		goto free_vf;
	}
	sim_vdev_arm_faults(vf);
	ifcvf_sim_get_io(vf->sim, &io);
	ret = sim_vdev_plug(vf);
	if (ret == 0)
		ret = ifcvf_bus_register(&vf->ifc, &io, IFCVF_BUS_ABI);
	if (ret < 0)
		goto destroy;
	pthread_mutex_lock(&sim_vfs_lock);
	TAILQ_INSERT_TAIL(&sim_vfs, vf, next);
	pthread_mutex_unlock(&sim_vfs_lock);
	if (p.type == IFCVF_SIM_TYPE_BLK)
		SIM_LOG(INFO, "%s: simulated %s blk VF, %u queues, %" PRIu64 " sectors",
			p.name, p.profile == IFCVF_SIM_PROFILE_IFCVF ?
			"IFCVF" : "virtio", p.nr_queue_pairs, p.capacity);
	else
		SIM_LOG(INFO, "%s: simulated %s VF, %u queue pairs", p.name,
			p.profile == IFCVF_SIM_PROFILE_IFCVF ? "IFCVF" :
			"virtio", p.nr_queue_pairs);
	return 0;

destroy:
	ifcvf_sim_destroy(vf->sim);
free_vf:
	free(vf);
	SIM_LOG(ERR, "%s: probe failed", rte_vdev_device_name(dev));
	return ret;
}

static int
sim_remove(struct rte_vdev_device *dev)
{
	struct sim_vf *vf = sim_vdev_find_vf(rte_vdev_device_name(dev));

	if (vf == NULL)
		return -ENODEV;
	pthread_mutex_lock(&sim_vfs_lock);
	TAILQ_REMOVE(&sim_vfs, vf, next);
	pthread_mutex_unlock(&sim_vfs_lock);
	ifcvf_vdpa_unregister(&vf->ifc);
	ifcvf_sim_destroy(vf->sim);
	free(vf);
	return 0;
}

/* A block VF's refused requests, by reason, as a dict in @d. */
static void
sim_tel_blk_refused(struct rte_tel_data *d, const struct ifcvf_sim_state *st)
{
	struct rte_tel_data *refused = rte_tel_data_alloc();
	unsigned int i;

	if (refused == NULL)
		return;
	rte_tel_data_start_dict(refused);
	for (i = 0; i < IFCVF_SIM_BLK_REFUSALS; i++)
		rte_tel_data_add_dict_uint(refused,
					   ifcvf_sim_blk_refusal_name(i),
					   st->blk_refused[i]);
	if (rte_tel_data_add_dict_container(d, "blk_refused", refused, 0) != 0)
		rte_tel_data_free(refused);
}

static void
sim_tel_vf_info(struct rte_tel_data *d, struct ifcvf_sim *sim)
{
	struct ifcvf_sim_state st = ifcvf_sim_get_state(sim);

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "iommu_mappings",
				  ifcvf_sim_dma_map_count(sim));
	rte_tel_data_add_dict_uint(d, "dma_faults", ifcvf_sim_dma_faults(sim));
	rte_tel_data_add_dict_uint(d, "pages_written",
				  ifcvf_sim_truth_pages(sim, 0, NULL, 0));
	rte_tel_data_add_dict_int(d, "status", st.status);
	rte_tel_data_add_dict_uint(d, "driver_features", st.driver_features);
	rte_tel_data_add_dict_int(d, "net_header", st.net_hdr_len);
	rte_tel_data_add_dict_uint(d, "starts", st.starts);
	rte_tel_data_add_dict_uint(d, "reset_drops", st.reset_drops);
	sim_tel_blk_refused(d, &st);
	rte_tel_data_add_dict_int(d, "blk_held", st.blk_held);
	rte_tel_data_add_dict_int(d, "blk_held_until_reset",
				  st.blk_held_until_reset);
}

/*
 * /vdpa_ifcvf_sim/info,<vf>: what the simulated device knows and a real
 * one would not tell: its IOMMU's mappings, the DMA it refused, how many
 * pages it wrote since the record's reset (the ground truth of a dirty
 * log, /vdpa_ifcvf_sim/truth).
 */
static int
sim_tel_info(const char *cmd __rte_unused, const char *params,
	     struct rte_tel_data *d)
{
	struct sim_vf *vf;

	if (params == NULL)
		return -EINVAL;
	pthread_mutex_lock(&sim_vfs_lock);
	vf = sim_vdev_find_vf(params);
	if (vf != NULL)
		sim_tel_vf_info(d, vf->sim);
	pthread_mutex_unlock(&sim_vfs_lock);
	return vf != NULL ? 0 : -EINVAL;
}

/*
 * Telemetry parameters "<vf>,<n>": the VF, held under sim_vfs_lock (the
 * caller unlocks), and n; NULL if either is bad.
 */
static struct sim_vf *
sim_tel_vf_and_n(const char *params, unsigned long long *n)
{
	const char *comma = params != NULL ? strchr(params, ',') : NULL;
	char name[RTE_DEV_NAME_MAX_LEN];
	char *end;

	if (comma == NULL || comma == params ||
	    (size_t)(comma - params) >= sizeof(name))
		return NULL;
	memcpy(name, params, comma - params);
	name[comma - params] = '\0';
	*n = strtoull(comma + 1, &end, 10);
	if (comma[1] < '0' || comma[1] > '9' || *end != '\0')
		return NULL;
	return sim_vdev_find_vf(name);
}

/*
 * /vdpa_ifcvf_sim/blk_resize,<vf>,<sectors>: a blk device's disk takes a
 * new capacity, as a storage backend's resize does (its config changes,
 * its config interrupt fires). For the tests.
 */
static int
sim_tel_blk_resize(const char *cmd __rte_unused, const char *params,
		   struct rte_tel_data *d)
{
	unsigned long long n;
	struct sim_vf *vf;
	int ret;

	pthread_mutex_lock(&sim_vfs_lock);
	vf = sim_tel_vf_and_n(params, &n);
	ret = vf != NULL ? ifcvf_sim_blk_resize(vf->sim, n) : -EINVAL;
	if (ret == 0) {
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_uint(d, "capacity",
					  ifcvf_sim_blk_capacity(vf->sim));
	}
	pthread_mutex_unlock(&sim_vfs_lock);
	return ret < 0 ? -EINVAL : 0;
}

/* The page frames of one truth reply, at most: well in a reply's 16 KiB. */
#define SIM_TRUTH_PER_REPLY	256

/* @n page frames of @pfns as a dict entry "pfns" of @d. */
static int
sim_tel_add_pfns(struct rte_tel_data *d, const uint64_t *pfns, size_t n)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	size_t i;

	if (a == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(a, RTE_TEL_UINT_VAL);
	for (i = 0; i < n; i++)
		rte_tel_data_add_array_uint(a, pfns[i]);
	if (rte_tel_data_add_dict_container(d, "pfns", a, 0) < 0) {
		rte_tel_data_free(a);
		return -ENOMEM;
	}
	return 0;
}

/*
 * A simulated VF's record of the pages its device wrote (the ground truth
 * a dirty log is checked against), sorted, SIM_TRUTH_PER_REPLY of them
 * from the @from-th on, into @d: "pages" (all there are), "from",
 * "pfns". The record is stable once the device stopped.
 */
static int
sim_tel_truth_reply(struct rte_tel_data *d, struct ifcvf_sim *sim,
		    unsigned long long from)
{
	uint64_t pfns[SIM_TRUTH_PER_REPLY];
	size_t first = (size_t)RTE_MIN(from, (unsigned long long)SIZE_MAX);
	long n = ifcvf_sim_truth_pages(sim, first, pfns, RTE_DIM(pfns));

	if (n < 0)
		return n;
	first = RTE_MIN(first, (size_t)n);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_uint(d, "pages", n);
	rte_tel_data_add_dict_uint(d, "from", first);
	return sim_tel_add_pfns(d, pfns,
				RTE_MIN((size_t)n - first, RTE_DIM(pfns)));
}

/* /vdpa_ifcvf_sim/truth,<vf>,<from>: see sim_tel_truth_reply(). */
static int
sim_tel_truth(const char *cmd __rte_unused, const char *params,
	      struct rte_tel_data *d)
{
	unsigned long long from;
	struct sim_vf *vf;
	int ret;

	pthread_mutex_lock(&sim_vfs_lock);
	vf = sim_tel_vf_and_n(params, &from);
	ret = vf != NULL ? sim_tel_truth_reply(d, vf->sim, from) : -EINVAL;
	pthread_mutex_unlock(&sim_vfs_lock);
	return ret < 0 ? -EINVAL : 0;
}

/*
 * /vdpa_ifcvf_sim/truth_reset,<vf>: the record starts again, empty. A
 * test resets it once the driver logs (its telemetry's "logging"), so
 * that every page in it must be in the log.
 */
static int
sim_tel_truth_reset(const char *cmd __rte_unused, const char *params,
		    struct rte_tel_data *d)
{
	struct sim_vf *vf;

	if (params == NULL)
		return -EINVAL;
	pthread_mutex_lock(&sim_vfs_lock);
	vf = sim_vdev_find_vf(params);
	if (vf != NULL) {
		ifcvf_sim_truth_reset(vf->sim);
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_uint(d, "pages", 0);
	}
	pthread_mutex_unlock(&sim_vfs_lock);
	return vf != NULL ? 0 : -EINVAL;
}

RTE_INIT(ifcvf_sim_telemetry_init)
{
	rte_telemetry_register_cmd("/vdpa_ifcvf_sim/info", sim_tel_info,
		"A simulated VF's IOMMU mappings, DMA faults and pages written. Parameter: the VF's device name");
	rte_telemetry_register_cmd("/vdpa_ifcvf_sim/blk_resize",
		sim_tel_blk_resize,
		"A simulated blk VF's disk takes a new capacity. Parameters: the VF's device name, the capacity in sectors");
	rte_telemetry_register_cmd("/vdpa_ifcvf_sim/truth", sim_tel_truth,
		"Pages a simulated VF's device wrote since truth_reset, sorted, "
		RTE_STR(SIM_TRUTH_PER_REPLY) " from an index. Parameters: the VF's name, the index");
	rte_telemetry_register_cmd("/vdpa_ifcvf_sim/truth_reset",
		sim_tel_truth_reset,
		"A simulated VF's record of the pages its device wrote starts again. Parameter: the VF's device name");
}

static struct rte_vdev_driver ifcvf_sim_driver = {
	.probe = sim_probe,
	.remove = sim_remove,
};

RTE_PMD_REGISTER_VDEV(vdpa_ifcvf_sim, ifcvf_sim_driver);
RTE_PMD_REGISTER_PARAM_STRING(vdpa_ifcvf_sim,
	"qp=<1-32> profile=ifcvf|virtio wire=loop|<vdev> mac=<addr> "
	"fail=<op>:<n> sw-live-migration=0|1 relay=epoll|poll "
	"relay-core=<cpu> type=net|blk capacity=<sectors> queues=<1-32> "
	"fault=blk_late|blk_stuck disk=<file>");
