/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulator's front door: a vdev driver, vdpa_ifcvf_sim, that creates
 * a simulated IFCVF per instance and puts it behind the very same vDPA
 * ops as a PCI VF. Its bus ops are the simulator's IOMMU and MSI-X.
 *
 *   --vdev vdpa_ifcvf_sim0,qp=4,profile=ifcvf,wire=vdpa_ifcvf_sim1
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_ether.h>
#include <rte_kvargs.h>
#include <bus_vdev_driver.h>

#include "ifcvf_sim.h"
#include "ifcvf_vdpa.h"

#define SIM_ARG_QP	"qp"
#define SIM_ARG_PROFILE	"profile"
#define SIM_ARG_WIRE	"wire"
#define SIM_ARG_MAC	"mac"
#define SIM_ARG_TRUTH	"truth"
#define SIM_WIRE_LOOP	"loop"

static const char * const sim_args[] = {
	SIM_ARG_QP, SIM_ARG_PROFILE, SIM_ARG_WIRE, SIM_ARG_MAC,
	SIM_ARG_TRUTH, IFCVF_DEVARG_SW_LM, NULL,
};

struct sim_vf {
	TAILQ_ENTRY(sim_vf) next;
	struct ifcvf_internal ifc;
	struct ifcvf_sim *sim;
	char wire[RTE_DEV_NAME_MAX_LEN];	/* peer's name, or "loop" */
	char truth[PATH_MAX];	/* where to write written pages at close */
};

static TAILQ_HEAD(, sim_vf) sim_vfs = TAILQ_HEAD_INITIALIZER(sim_vfs);

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

	for (v = 0; v < ifcvf_sim_nr_vectors(sim); v++) {
		ret = ifcvf_sim_set_irq(sim, v, v < n ? fds[v] : -1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Write the pages the device wrote since the last close (the ground
 * truth a live-migration test checks the dirty log against): one
 * hexadecimal page frame number a line.
 */
static void
dump_truth(struct sim_vf *vf)
{
	size_t n = ifcvf_sim_truth_pages(vf->sim, NULL, 0), i;
	uint64_t *pfns = calloc(n + 1, sizeof(*pfns));
	FILE *f = fopen(vf->truth, "w");

	if (pfns == NULL || f == NULL) {
		IFCVF_LOG(ERR, "%s: cannot write %s", vf->ifc.rte_dev->name,
			  vf->truth);
	} else {
		n = RTE_MIN(n, ifcvf_sim_truth_pages(vf->sim, pfns, n));
		for (i = 0; i < n; i++)
			fprintf(f, "%" PRIx64 "\n", pfns[i]);
	}
	if (f != NULL)
		fclose(f);
	free(pfns);
	ifcvf_sim_truth_reset(vf->sim);
}

static void
sim_closed(struct ifcvf_internal *ifc)
{
	struct sim_vf *vf = ifc->bus_priv;

	IFCVF_LOG(NOTICE, "%s: closed, IOMMU holds %u mappings",
		  ifc->rte_dev->name, ifcvf_sim_dma_map_count(vf->sim));
	if (vf->truth[0] != '\0')
		dump_truth(vf);
}

/* The ground truth starts with the dirty log. */
static void
sim_log_started(struct ifcvf_internal *ifc)
{
	ifcvf_sim_truth_reset(((struct sim_vf *)ifc->bus_priv)->sim);
}

static const struct ifcvf_bus_ops sim_bus_ops = {
	.dma_map = sim_dma_map,
	.dma_unmap = sim_dma_unmap,
	.set_irqs = sim_set_irqs,
	.closed = sim_closed,
	.log_started = sim_log_started,
};

static int
parse_qp(const char *key, const char *value, void *out)
{
	char *end;
	unsigned long n = strtoul(value, &end, 0);

	if (*value == '\0' || *end != '\0' || n < 1 ||
	    n > IFCVF_MAX_QUEUE_PAIRS) {
		IFCVF_LOG(ERR, "devarg %s=%s: accepted values are 1 to %u",
			  key, value, IFCVF_MAX_QUEUE_PAIRS);
		return -EINVAL;
	}
	*(uint16_t *)out = n;
	return 0;
}

static int
parse_profile(const char *key, const char *value, void *out)
{
	if (strcmp(value, "ifcvf") == 0)
		*(enum ifcvf_sim_profile *)out = IFCVF_SIM_PROFILE_IFCVF;
	else if (strcmp(value, "virtio") == 0)
		*(enum ifcvf_sim_profile *)out = IFCVF_SIM_PROFILE_VIRTIO;
	else {
		IFCVF_LOG(ERR, "devarg %s=%s: accepted values are ifcvf and virtio",
			  key, value);
		return -EINVAL;
	}
	return 0;
}

static int
parse_wire(const char *key, const char *value, void *out)
{
	if (*value == '\0' || strlen(value) >= RTE_DEV_NAME_MAX_LEN) {
		IFCVF_LOG(ERR, "devarg %s=%s: accepted values are %s and a vdev name",
			  key, value, SIM_WIRE_LOOP);
		return -EINVAL;
	}
	strlcpy(out, value, RTE_DEV_NAME_MAX_LEN);
	return 0;
}

static int
parse_path(const char *key, const char *value, void *out)
{
	if (*value == '\0' || strlen(value) >= PATH_MAX) {
		IFCVF_LOG(ERR, "devarg %s=%s: expected a file path", key, value);
		return -EINVAL;
	}
	strlcpy(out, value, PATH_MAX);
	return 0;
}

static int
parse_mac(const char *key, const char *value, void *out)
{
	if (rte_ether_unformat_addr(value, out) < 0) {
		IFCVF_LOG(ERR, "devarg %s=%s: expected a MAC address", key, value);
		return -EINVAL;
	}
	return 0;
}

static int
parse_args(struct rte_vdev_device *dev, struct ifcvf_sim_params *p,
	   struct sim_vf *vf)
{
	const char *args = rte_vdev_device_args(dev);
	struct rte_kvargs *kv;
	struct rte_ether_addr mac;
	int ret = 0;

	if (args == NULL || *args == '\0')
		return 0;
	kv = ifcvf_kvargs_parse(rte_vdev_device_name(dev), args, sim_args);
	if (kv == NULL)
		return -EINVAL;
	memcpy(&mac, p->mac, sizeof(p->mac));
	if (rte_kvargs_process(kv, SIM_ARG_QP, parse_qp, &p->nr_queue_pairs) ||
	    rte_kvargs_process(kv, SIM_ARG_PROFILE, parse_profile,
			       &p->profile) ||
	    rte_kvargs_process(kv, SIM_ARG_WIRE, parse_wire, vf->wire) ||
	    rte_kvargs_process(kv, SIM_ARG_MAC, parse_mac, &mac) ||
	    rte_kvargs_process(kv, SIM_ARG_TRUTH, parse_path, vf->truth) ||
	    rte_kvargs_process(kv, IFCVF_DEVARG_SW_LM, ifcvf_devarg_bool,
			       &vf->ifc.sw_lm))
		ret = -EINVAL;
	memcpy(p->mac, &mac, sizeof(p->mac));
	rte_kvargs_free(kv);
	return ret;
}

static struct sim_vf *
find_vf(const char *name)
{
	struct sim_vf *vf;

	TAILQ_FOREACH(vf, &sim_vfs, next)
		if (strcmp(vf->ifc.rte_dev->name, name) == 0)
			return vf;
	return NULL;
}

static void
wire_pair(struct sim_vf *a, struct sim_vf *b)
{
	if (ifcvf_sim_wire_connect(a->sim, b->sim) == 0)
		IFCVF_LOG(INFO, "%s and %s are wired together",
			  a->ifc.rte_dev->name, b->ifc.rte_dev->name);
	else
		IFCVF_LOG(ERR, "%s cannot be wired to %s: it has a peer",
			  a->ifc.rte_dev->name, b->ifc.rte_dev->name);
}

/* Wire @vf as its devargs say, and any earlier VF that named it. */
static int
plug(struct sim_vf *vf)
{
	struct sim_vf *o;

	if (strcmp(vf->wire, SIM_WIRE_LOOP) == 0)
		return ifcvf_sim_wire_loop(vf->sim);
	if (vf->wire[0] != '\0') {
		if (strcmp(vf->wire, vf->ifc.rte_dev->name) == 0) {
			IFCVF_LOG(ERR, "%s: wire=%s names itself, use wire=%s",
				  vf->wire, vf->wire, SIM_WIRE_LOOP);
			return -EINVAL;
		}
		o = find_vf(vf->wire);
		if (o != NULL)
			wire_pair(vf, o);
	}
	TAILQ_FOREACH(o, &sim_vfs, next)
		if (o != vf && strcmp(o->wire, vf->ifc.rte_dev->name) == 0 &&
		    strcmp(vf->wire, o->ifc.rte_dev->name) != 0)
			wire_pair(o, vf);
	return 0;
}

static int
sim_probe(struct rte_vdev_device *dev)
{
	struct ifcvf_sim_params p = {
		.name = rte_vdev_device_name(dev),
		.profile = IFCVF_SIM_PROFILE_IFCVF,
		.nr_queue_pairs = 1,
		.mac = { 0x02, 0x1f, 0xc0, 0x00, 0x00, 0x00 },
	};
	struct ifcvf_io io;
	struct sim_vf *vf;
	int ret;

	vf = calloc(1, sizeof(*vf));
	if (vf == NULL)
		return -ENOMEM;
	vf->ifc.rte_dev = &dev->device;
	vf->ifc.bus = &sim_bus_ops;
	vf->ifc.bus_priv = vf;
	p.mac[5] = (uint8_t)rte_rand();
	ret = parse_args(dev, &p, vf);
	if (ret < 0)
		goto free_vf;
	vf->sim = ifcvf_sim_create(&p);
	if (vf->sim == NULL) {
		ret = -errno;
		goto free_vf;
	}
	ifcvf_sim_get_io(vf->sim, &io);
	ret = ifcvf_hw_init(&vf->ifc.hw, &io);
	if (ret == 0)
		ret = plug(vf);
	if (ret == 0)
		ret = ifcvf_vdpa_register(&vf->ifc);
	if (ret < 0)
		goto destroy;
	TAILQ_INSERT_TAIL(&sim_vfs, vf, next);
	IFCVF_LOG(INFO, "%s: simulated %s VF, %u queue pairs",
		  p.name, p.profile == IFCVF_SIM_PROFILE_IFCVF ? "IFCVF" : "virtio",
		  p.nr_queue_pairs);
	return 0;

destroy:
	ifcvf_sim_destroy(vf->sim);
free_vf:
	free(vf);
	IFCVF_LOG(ERR, "%s: probe failed", rte_vdev_device_name(dev));
	return ret;
}

static int
sim_remove(struct rte_vdev_device *dev)
{
	struct sim_vf *vf = find_vf(rte_vdev_device_name(dev));

	if (vf == NULL)
		return -ENODEV;
	TAILQ_REMOVE(&sim_vfs, vf, next);
	ifcvf_vdpa_unregister(&vf->ifc);
	ifcvf_sim_destroy(vf->sim);
	free(vf);
	return 0;
}

static struct rte_vdev_driver ifcvf_sim_driver = {
	.probe = sim_probe,
	.remove = sim_remove,
};

RTE_PMD_REGISTER_VDEV(vdpa_ifcvf_sim, ifcvf_sim_driver);
RTE_PMD_REGISTER_PARAM_STRING(vdpa_ifcvf_sim,
	"qp=<1-32> profile=ifcvf|virtio wire=loop|<vdev> mac=<addr> "
	"truth=<file> sw-live-migration=0|1");
