/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * PCI + VFIO glue: claims a VF whose devargs say class=vdpa or vdpa=1,
 * gives it a VFIO
 * container of its own, maps its BARs and puts it behind the vDPA ops.
 * Registers are reached on the mapped BARs, DMA through the container,
 * MSI-X through VFIO_DEVICE_SET_IRQS.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>

#include <rte_devargs.h>
#include <rte_eal_paging.h>
#include <rte_io.h>
#include <rte_kvargs.h>
#include <rte_vfio.h>
#include <bus_pci_driver.h>

#include "ifcvf_pci.h"
#include "ifcvf_vdpa.h"

/* DPDK's generic device-class devarg, as mlx5 reads it. */
#define IFCVF_DEVARG_CLASS	"class"
#define IFCVF_CLASS_VDPA	"vdpa"

static const char * const pci_args[] = {
	IFCVF_DEVARG_CLASS, IFCVF_DEVARG_VDPA, IFCVF_DEVARG_SW_LM,
	IFCVF_DEVARG_RELAY, IFCVF_DEVARG_RELAY_CORE, NULL,
};

struct pci_vf {
	struct ifcvf_internal ifc;
	struct rte_pci_device *pdev;
	int container_fd;
	int group_fd;
	int iommu_group;
};

static struct pci_vf *
pci_vf_of(struct ifcvf_internal *ifc)
{
	return ifc->bus_priv;
}

/* Register access on the VFIO-mapped BARs. */

static uint32_t
pci_bar_read(void *ctx, uint8_t bar, uint64_t off, uint8_t width)
{
	struct rte_pci_device *pdev = ctx;
	uint8_t *addr = (uint8_t *)pdev->mem_resource[bar].addr + off;

	switch (width) {
	case 1:
		return rte_read8(addr);
	case 2:
		return rte_read16(addr);
	default:
		return rte_read32(addr);
	}
}

static void
pci_bar_write(void *ctx, uint8_t bar, uint64_t off, uint8_t width,
	      uint32_t val)
{
	struct rte_pci_device *pdev = ctx;
	uint8_t *addr = (uint8_t *)pdev->mem_resource[bar].addr + off;

	switch (width) {
	case 1:
		rte_write8(val, addr);
		break;
	case 2:
		rte_write16(val, addr);
		break;
	default:
		rte_write32(val, addr);
		break;
	}
}

static int
pci_cfg_read(void *ctx, void *buf, uint32_t len, uint32_t off)
{
	int ret = rte_pci_read_config(ctx, buf, len, off);

	if (ret < 0)
		return ret;
	return (uint32_t)ret == len ? 0 : -EIO;
}

static const struct ifcvf_io_ops pci_io_ops = {
	.read = pci_bar_read,
	.write = pci_bar_write,
	.cfg_read = pci_cfg_read,
};

/* Bus ops: the VF's own container and its device fd. */

static int
pci_dma_map(struct ifcvf_internal *ifc, uint64_t vaddr, uint64_t iova,
	    uint64_t len)
{
	return rte_vfio_container_dma_map(pci_vf_of(ifc)->container_fd, vaddr,
					  iova, len) < 0 ? -EIO : 0;
}

static int
pci_dma_unmap(struct ifcvf_internal *ifc, uint64_t vaddr, uint64_t iova,
	      uint64_t len)
{
	return rte_vfio_container_dma_unmap(pci_vf_of(ifc)->container_fd,
					    vaddr, iova, len) < 0 ? -EIO : 0;
}

static int
pci_vfio_device_fd(struct ifcvf_internal *ifc)
{
	return rte_intr_dev_fd_get(pci_vf_of(ifc)->pdev->intr_handle);
}

static int
pci_vfio_group_fd(struct ifcvf_internal *ifc)
{
	return pci_vf_of(ifc)->group_fd;
}

static int
pci_set_irqs(struct ifcvf_internal *ifc, const int *fds, uint16_t n)
{
	size_t len = sizeof(struct vfio_irq_set) + sizeof(int) * n;
	struct vfio_irq_set *set = alloca(len);
	int ret;

	set->argsz = len;
	set->index = VFIO_PCI_MSIX_IRQ_INDEX;
	set->start = 0;
	set->count = n;
	set->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
		     (n > 0 ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	memcpy(set->data, fds, sizeof(int) * n);
	ret = ioctl(pci_vfio_device_fd(ifc), VFIO_DEVICE_SET_IRQS, set);
	if (ret < 0) {
		IFCVF_LOG(ERR, "%s: VFIO_DEVICE_SET_IRQS (%u vectors): %s",
			  ifc->rte_dev->name, n, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Where QEMU may mmap a queue's doorbell from the VFIO device fd. */
static int
pci_notify_area(struct ifcvf_internal *ifc, uint16_t qid, uint64_t *offset,
		uint64_t *size)
{
	struct vfio_region_info reg = {
		.argsz = sizeof(reg),
		.index = ifc->hw.notify.bar,
	};

	if (ioctl(pci_vfio_device_fd(ifc), VFIO_DEVICE_GET_REGION_INFO,
		  &reg) < 0) {
		IFCVF_LOG(ERR, "%s: VFIO_DEVICE_GET_REGION_INFO: %s",
			  ifc->rte_dev->name, strerror(errno));
		return -1;
	}
	*offset = reg.offset + ifcvf_hw_notify_offset(&ifc->hw, qid);
	/* A page of its own (notifier_ok): what a frontend maps. */
	*size = rte_mem_page_size();
	return 0;
}

static const struct ifcvf_bus_ops pci_bus_ops = {
	.name = "pci",
	.dma_map = pci_dma_map,
	.dma_unmap = pci_dma_unmap,
	.set_irqs = pci_set_irqs,
	.vfio_group_fd = pci_vfio_group_fd,
	.vfio_device_fd = pci_vfio_device_fd,
	.notify_area = pci_notify_area,
};

/* Last vdpa value wins, as in net_virtio: only "1" asks for vDPA. */
static int
pci_vdpa_is_on(const char *key __rte_unused, const char *value, void *out)
{
	*(bool *)out = value != NULL && strcmp(value, "1") == 0;
	return 0;
}

/* Last class value wins: only "vdpa" is this driver's class. */
static int
pci_class_is_vdpa(const char *key __rte_unused, const char *value, void *out)
{
	*(bool *)out = value != NULL && strcmp(value, IFCVF_CLASS_VDPA) == 0;
	return 0;
}

/*
 * Whether the devargs give the device to this driver: class=vdpa, or,
 * without a class key, vdpa=1. Any other class (class=net), no class and
 * no vdpa=1, vdpa=0, or a string kvargs cannot parse leave it to
 * net_virtio, whatever other keys (its own) the string carries.
 */
static bool
pci_is_mine(const char *args)
{
	struct rte_kvargs *kv;
	bool vdpa = false;

	if (args == NULL || args[0] == '\0')
		return false;
	kv = rte_kvargs_parse(args, NULL);
	if (kv == NULL)
		return false;
	if (rte_kvargs_count(kv, IFCVF_DEVARG_CLASS) > 0)
		rte_kvargs_process(kv, IFCVF_DEVARG_CLASS, pci_class_is_vdpa,
				   &vdpa);
	else
		rte_kvargs_process(kv, IFCVF_DEVARG_VDPA, pci_vdpa_is_on,
				   &vdpa);
	rte_kvargs_free(kv);
	return vdpa;
}

int
ifcvf_pci_devargs(const char *dev, const char *args,
		  struct ifcvf_pci_args *out)
{
	struct rte_kvargs *kv;
	int ret;

	if (!pci_is_mine(args))
		return 0;
	/* Ours: now an unknown key is refused, by name. */
	kv = ifcvf_kvargs_parse(dev, args, pci_args);
	if (kv == NULL)
		return -EINVAL;
	ret = rte_kvargs_process(kv, IFCVF_DEVARG_SW_LM, ifcvf_devarg_bool,
				 &out->sw_lm);
	if (ret == 0)
		ret = ifcvf_relay_devargs(kv, &out->relay);
	rte_kvargs_free(kv);
	return ret < 0 ? -EINVAL : 1;
}

int
ifcvf_pci_container_create(const char *name)
{
	int fd = rte_vfio_container_create();

	if (fd < 0)
		IFCVF_LOG(ERR, "%s: cannot create a VFIO container: DPDK gives a process RTE_MAX_VFIO_CONTAINERS (%d), its default one included, so at most %d VFs get one (or /dev/vfio/vfio cannot be opened)",
			  name, RTE_MAX_VFIO_CONTAINERS,
			  RTE_MAX_VFIO_CONTAINERS - 1);
	return fd;
}

static int
pci_vfio_setup(struct pci_vf *vf)
{
	char name[RTE_DEV_NAME_MAX_LEN];

	rte_pci_device_name(&vf->pdev->addr, name, sizeof(name));
	if (rte_vfio_get_group_num(rte_pci_get_sysfs_path(), name,
				   &vf->iommu_group) <= 0) {
		IFCVF_LOG(ERR, "%s: no IOMMU group (is it bound to vfio-pci?)",
			  name);
		return -ENODEV;
	}
	vf->container_fd = ifcvf_pci_container_create(name);
	if (vf->container_fd < 0)
		return -EIO;
	vf->group_fd = rte_vfio_container_group_bind(vf->container_fd,
						     vf->iommu_group);
	if (vf->group_fd < 0) {
		IFCVF_LOG(ERR, "%s: cannot bind IOMMU group %d", name,
			  vf->iommu_group);
		goto destroy;
	}
	if (rte_pci_map_device(vf->pdev) == 0)
		return 0;
	IFCVF_LOG(ERR, "%s: cannot map the BARs", name);
	rte_vfio_container_group_unbind(vf->container_fd, vf->iommu_group);
destroy:
	rte_vfio_container_destroy(vf->container_fd);
	return -EIO;
}

static void
pci_vfio_teardown(struct pci_vf *vf)
{
	rte_pci_unmap_device(vf->pdev);
	rte_vfio_container_group_unbind(vf->container_fd, vf->iommu_group);
	rte_vfio_container_destroy(vf->container_fd);
}

static int
pci_hw_setup(struct pci_vf *vf)
{
	struct ifcvf_io io = { .ops = &pci_io_ops, .ctx = vf->pdev };
	int i;

	for (i = 0; i < IFCVF_PCI_MAX_BAR; i++)
		if (vf->pdev->mem_resource[i].addr != NULL)
			io.bar_len[i] = vf->pdev->mem_resource[i].len;
	return ifcvf_hw_init(&vf->ifc.hw, &io);
}

static int
ifcvf_pci_probe(struct rte_pci_driver *drv __rte_unused,
		struct rte_pci_device *pdev)
{
	struct rte_devargs *da;
	struct ifcvf_pci_args args = { .sw_lm = false };
	struct pci_vf *vf;
	int ret;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 1;
	da = pdev->device.devargs;
	ret = ifcvf_pci_devargs(pdev->name, da != NULL ? da->args : NULL,
				&args);
	if (ret <= 0)
		return ret < 0 ? ret : 1;	/* 1: leave it to net_virtio */
	vf = calloc(1, sizeof(*vf));
	if (vf == NULL)
		return -ENOMEM;
	vf->pdev = pdev;
	vf->ifc.rte_dev = &pdev->device;
	vf->ifc.bus = &pci_bus_ops;
	vf->ifc.bus_priv = vf;
	vf->ifc.sw_lm = args.sw_lm;
	vf->ifc.relay_conf = args.relay;
	ret = pci_vfio_setup(vf);
	if (ret < 0)
		goto free_vf;
	ret = pci_hw_setup(vf);
	if (ret == 0)
		ret = ifcvf_vdpa_register(&vf->ifc);
	if (ret < 0)
		goto teardown;
	if (vf->ifc.hw.dev_type == IFCVF_DEV_BLK)
		IFCVF_LOG(INFO, "%s: blk, %u queues, %s", pdev->name,
			  vf->ifc.hw.nr_vring, vf->ifc.hw.has_lm ?
			  "HW dirty logging" : "no HW dirty logging");
	else
		IFCVF_LOG(INFO, "%s: %u queue pairs, %s", pdev->name,
			  vf->ifc.hw.nr_vring / 2, vf->ifc.hw.has_lm ?
			  "HW dirty logging" : "no HW dirty logging");
	return 0;

teardown:
	pci_vfio_teardown(vf);
free_vf:
	free(vf);
	IFCVF_LOG(ERR, "%s: probe failed", pdev->name);
	return ret;
}

static struct pci_vf *
pci_find_vf(struct rte_pci_device *pdev)
{
	struct ifcvf_internal *ifc;

	ifc = ifcvf_vdpa_find(rte_vdpa_find_device_by_name(pdev->name));
	return ifc == NULL ? NULL : container_of(ifc, struct pci_vf, ifc);
}

static int
ifcvf_pci_remove(struct rte_pci_device *pdev)
{
	struct pci_vf *vf;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	vf = pci_find_vf(pdev);
	if (vf == NULL)
		return -ENODEV;
	ifcvf_vdpa_unregister(&vf->ifc);
	pci_vfio_teardown(vf);
	free(vf);
	return 0;
}

#define IFCVF_PCI_ID(dev, subsys) { \
	.class_id = RTE_CLASS_ANY_ID, \
	.vendor_id = IFCVF_VENDOR_ID, \
	.device_id = (dev), \
	.subsystem_vendor_id = IFCVF_SUBSYS_VENDOR_ID, \
	.subsystem_device_id = (subsys), \
}

const struct rte_pci_id ifcvf_pci_ids[] = {
	IFCVF_PCI_ID(IFCVF_NET_MODERN_DEVICE_ID, IFCVF_SUBSYS_DEVICE_ID),
	IFCVF_PCI_ID(IFCVF_NET_TRANSITIONAL_DEVICE_ID,
		     IFCVF_SUBSYS_NET_DEVICE_ID),
	/* Any other virtio-1.0 net VF (e.g. QEMU's virtio-net-pci). */
	{ RTE_PCI_DEVICE(IFCVF_VENDOR_ID, IFCVF_NET_MODERN_DEVICE_ID) },
	/* IFCVF's virtio-blk VFs (only IFCVF's: no other blk VF is tested). */
	IFCVF_PCI_ID(IFCVF_BLK_MODERN_DEVICE_ID, IFCVF_SUBSYS_BLK_DEVICE_ID),
	IFCVF_PCI_ID(IFCVF_BLK_TRANSITIONAL_DEVICE_ID,
		     IFCVF_SUBSYS_BLK_DEVICE_ID),
	{ .vendor_id = 0 },
};

static struct rte_pci_driver ifcvf_pci_driver = {
	.id_table = ifcvf_pci_ids,
	.drv_flags = 0,
	.probe = ifcvf_pci_probe,
	.remove = ifcvf_pci_remove,
};

RTE_PMD_REGISTER_PCI(vdpa_ifcvf_oot, ifcvf_pci_driver);
RTE_PMD_REGISTER_PCI_TABLE(vdpa_ifcvf_oot, ifcvf_pci_ids);
RTE_PMD_REGISTER_KMOD_DEP(vdpa_ifcvf_oot, "* vfio-pci");
RTE_PMD_REGISTER_PARAM_STRING(vdpa_ifcvf_oot,
	IFCVF_DEVARG_CLASS "=" IFCVF_CLASS_VDPA " "
	IFCVF_DEVARG_VDPA "=1 " IFCVF_DEVARG_SW_LM "=0|1 "
	IFCVF_DEVARG_RELAY "=epoll|poll " IFCVF_DEVARG_RELAY_CORE "=<cpu>");
