/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The simulated IFCVF as a PCI function: configuration space, the
 * virtio-1.0 register semantics, the LM block, MSI-X, faults, the wire
 * and the life of the datapath thread.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include <rte_common.h>
#include <rte_log.h>

#include "sim_priv.h"

RTE_LOG_REGISTER(ifcvf_sim_logtype, pmd.vdpa.ifcvf_sim, NOTICE);

pthread_mutex_t sim_wire_lock = PTHREAD_MUTEX_INITIALIZER;

/* BAR sizes and the placement of the virtio structures in them. */
#define SIM_BAR_4K		0x1000
#define SIM_BAR_16K		0x4000
#define SIM_COMMON_OFF		0x0
#define SIM_COMMON_LEN		0x38
#define SIM_ISR_OFF		0x1000
#define SIM_ISR_LEN		4
#define SIM_DEVICE_OFF		0x2000
#define SIM_DEVICE_LEN		0x10
#define SIM_BLK_DEVICE_LEN	0x40	/* struct virtio_blk_config */
#define SIM_NOTIFY_OFF		0x3000
#define SIM_NOTIFY_MULT		4
#define SIM_VIRTIO_NOTIFY_LEN	0x1000
#define SIM_VIRTIO_BAR		4
#define SIM_MSIX_BAR		1
#define SIM_MSIX_PBA_OFF	0x800
#define SIM_LM_LEN		SIM_BAR_4K

/* Addresses shown in the BAR registers (never dereferenced). */
#define SIM_BAR_ADDR_BASE	0xfe000000u
#define SIM_BAR_ADDR_STRIDE	0x10000u

/* Identity. */
#define SIM_VIRTIO_SUBSYS_VENDOR 0x1af4
#define SIM_VIRTIO_SUBSYS_DEVICE 0x1100
#define SIM_REVISION		1
#define SIM_CLASS_NET		0x020000
#define SIM_CLASS_STORAGE	0x010000
#define SIM_BLK_SIZE_MAX	65536
#define SIM_BLK_SEG_MAX		126
#define SIM_IFCVF_QSIZE		4096
#define SIM_VIRTIO_QSIZE	1024

/* The capability chain. */
#define SIM_CAP_MSIX		0x40
#define SIM_CAP_MSIX_LEN	12
#define SIM_CAP_COMMON		(SIM_CAP_MSIX + SIM_CAP_MSIX_LEN)
#define SIM_VCAP_LEN		16
#define SIM_VCAP_NOTIFY_LEN	20
#define SIM_VCAP_PCI_CFG_LEN	20
#define SIM_CAP_NOTIFY		(SIM_CAP_COMMON + SIM_VCAP_LEN)
#define SIM_CAP_ISR		(SIM_CAP_NOTIFY + SIM_VCAP_NOTIFY_LEN)
#define SIM_CAP_DEVICE		(SIM_CAP_ISR + SIM_VCAP_LEN)
#define SIM_CAP_PCI_CFG		(SIM_CAP_DEVICE + SIM_VCAP_LEN)

#define SIM_ISR_QUEUE		0x1
#define SIM_ISR_CONFIG		VIRTIO_PCI_ISR_CONFIG
#define SIM_THREAD_NAME_LEN	16

/* The device and storage no other file looks at. */
struct sim_dev {
	struct ifcvf_sim sim;
	uint8_t msix[SIM_BAR_4K];	/* BAR1: MSI-X table and PBA */
};

static struct sim_dev *
sim_dev_of(struct ifcvf_sim *sim)
{
	return container_of(sim, struct sim_dev, sim);
}

/* Little-endian helpers for the config space and byte-wide storage. */
static void
sim_le_put(uint8_t *p, uint32_t val, uint8_t width)
{
	uint8_t i;

	for (i = 0; i < width; i++)
		p[i] = (uint8_t)(val >> (8 * i));
}

static uint32_t
sim_le_get(const uint8_t *p, uint8_t width)
{
	uint32_t val = 0;
	uint8_t i;

	for (i = 0; i < width; i++)
		val |= (uint32_t)p[i] << (8 * i);
	return val;
}

static uint32_t
sim_lo32(uint64_t v)
{
	return (uint32_t)v;
}

static uint32_t
sim_hi32(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

static void
sim_set_lo32(uint64_t *p, uint32_t val)
{
	*p = (*p & 0xffffffff00000000ULL) | val;
}

static void
sim_set_hi32(uint64_t *p, uint32_t val)
{
	*p = (*p & 0xffffffffULL) | ((uint64_t)val << 32);
}

/* ---- Features ---------------------------------------------------------- */

uint64_t
ifcvf_sim_default_features(enum ifcvf_sim_profile profile)
{
	RTE_SET_USED(profile);
	return (1ULL << VIRTIO_F_VERSION_1) |
		(1ULL << VIRTIO_F_ACCESS_PLATFORM) |
		(1ULL << VIRTIO_NET_F_MAC) |
		(1ULL << VIRTIO_NET_F_STATUS) |
		(1ULL << VIRTIO_NET_F_MQ) |
		(1ULL << VIRTIO_NET_F_MRG_RXBUF) |
		(1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		(1ULL << VIRTIO_RING_F_EVENT_IDX);
}

uint64_t
ifcvf_sim_blk_default_features(void)
{
	return (1ULL << VIRTIO_F_VERSION_1) |
		(1ULL << VIRTIO_F_ACCESS_PLATFORM) |
		(1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		(1ULL << VIRTIO_RING_F_EVENT_IDX) |
		(1ULL << VIRTIO_BLK_F_SIZE_MAX) |
		(1ULL << VIRTIO_BLK_F_SEG_MAX) |
		(1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		(1ULL << VIRTIO_BLK_F_FLUSH) |
		(1ULL << VIRTIO_BLK_F_MQ);
}

static uint32_t
sim_feature_window(uint64_t features, uint32_t select)
{
	if (select == 0)
		return sim_lo32(features);
	if (select == 1)
		return sim_hi32(features);
	return 0;
}

/*
 * FEATURES_OK. A set with VERSION_1 holds only bits the device offers.
 * A legacy set (no VERSION_1) written through this modern interface:
 * - IFCVF: accepted under the same rule (the FPGA serves virtio 0.95 and
 *   1.0 frontends; DPDK's IFC driver hands it either).
 * - virtio (QEMU's virtio-net-pci): QEMU's virtio_set_status()
 *   (hw/virtio/virtio.c) calls virtio_validate_features() only when the
 *   driver's features hold VERSION_1, so FEATURES_OK is always kept for a
 *   legacy set; virtio_pci_common_write() (hw/virtio/virtio-pci.c) hands
 *   each feature word to virtio_set_features(), whose
 *   virtio_set_features_nocheck() keeps the bits the device offers and
 *   drops the rest. virtio-net then takes the legacy header rule
 *   (virtio_net_set_mrg_rx_bufs(): 10 bytes, 12 with MRG_RXBUF). The
 *   profile does the same: drops what it does not offer and accepts.
 */
static bool
sim_features_ok(struct ifcvf_sim *sim)
{
	bool v1 = (sim->drv_features & (1ULL << VIRTIO_F_VERSION_1)) != 0;

	if (!v1 && sim->profile == IFCVF_SIM_PROFILE_VIRTIO) {
		sim->drv_features &= sim->dev_features;
		return true;
	}
	return (sim->drv_features & ~sim->dev_features) == 0;
}

/* ---- Layout and configuration space ------------------------------------ */

static void
sim_region_set(struct ifcvf_region *r, uint8_t bar, uint32_t off,
	       uint32_t len)
{
	r->bar = bar;
	r->off = off;
	r->len = len;
}

static void
sim_layout(struct ifcvf_sim *sim)
{
	uint8_t bar = SIM_VIRTIO_BAR;
	uint32_t notify_len = SIM_VIRTIO_NOTIFY_LEN;

	sim->bar_len[SIM_MSIX_BAR] = SIM_BAR_4K;
	if (sim->profile == IFCVF_SIM_PROFILE_IFCVF) {
		bar = 0;
		notify_len = sim->nr_queues * SIM_NOTIFY_MULT;
		sim->bar_len[IFCVF_LM_BAR] = SIM_LM_LEN;
		sim->has_lm = true;
	}
	sim->bar_len[bar] = SIM_BAR_16K;
	sim_region_set(&sim->common, bar, SIM_COMMON_OFF, SIM_COMMON_LEN);
	sim_region_set(&sim->isr_region, bar, SIM_ISR_OFF, SIM_ISR_LEN);
	sim_region_set(&sim->device, bar, SIM_DEVICE_OFF,
		       sim->type == IFCVF_SIM_TYPE_BLK ? SIM_BLK_DEVICE_LEN :
		       SIM_DEVICE_LEN);
	sim_region_set(&sim->notify, bar, SIM_NOTIFY_OFF, notify_len);
	sim->notify_mult = SIM_NOTIFY_MULT;
}

static void
sim_cfg_put(struct ifcvf_sim *sim, uint32_t off, uint32_t val, uint8_t width)
{
	sim_le_put(&sim->cfg[off], val, width);
}

static void
sim_cfg_header(struct ifcvf_sim *sim)
{
	bool virtio = sim->profile == IFCVF_SIM_PROFILE_VIRTIO;
	bool blk = sim->type == IFCVF_SIM_TYPE_BLK;
	uint32_t i;

	sim_cfg_put(sim, PCI_VENDOR_ID, IFCVF_VENDOR_ID, 2);
	sim_cfg_put(sim, PCI_DEVICE_ID, blk ? IFCVF_BLK_MODERN_DEVICE_ID :
		    IFCVF_NET_MODERN_DEVICE_ID, 2);
	sim_cfg_put(sim, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
		    2);
	sim_cfg_put(sim, PCI_STATUS, PCI_STATUS_CAP_LIST, 2);
	sim_cfg_put(sim, PCI_CLASS_REVISION,
		    ((blk ? SIM_CLASS_STORAGE : SIM_CLASS_NET) << 8) |
		    SIM_REVISION, 4);
	sim_cfg_put(sim, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL, 1);
	for (i = 0; i < IFCVF_PCI_MAX_BAR; i++) {
		if (sim->bar_len[i] == 0)
			continue;
		sim_cfg_put(sim, PCI_BASE_ADDRESS_0 + 4 * i,
			    SIM_BAR_ADDR_BASE + i * SIM_BAR_ADDR_STRIDE, 4);
	}
	sim_cfg_put(sim, PCI_SUBSYSTEM_VENDOR_ID, virtio ?
		    SIM_VIRTIO_SUBSYS_VENDOR : IFCVF_SUBSYS_VENDOR_ID, 2);
	sim_cfg_put(sim, PCI_SUBSYSTEM_ID, virtio ? SIM_VIRTIO_SUBSYS_DEVICE :
		    blk ? IFCVF_SUBSYS_BLK_DEVICE_ID : IFCVF_SUBSYS_DEVICE_ID,
		    2);
	sim_cfg_put(sim, PCI_CAPABILITY_LIST, SIM_CAP_MSIX, 1);
}

static void
sim_cfg_msix_cap(struct ifcvf_sim *sim)
{
	uint32_t c = SIM_CAP_MSIX;

	sim_cfg_put(sim, c + PCI_CAP_LIST_ID, PCI_CAP_ID_MSIX, 1);
	sim_cfg_put(sim, c + PCI_CAP_LIST_NEXT, SIM_CAP_COMMON, 1);
	sim_cfg_put(sim, c + PCI_MSIX_FLAGS, sim->nr_vectors - 1, 2);
	sim_cfg_put(sim, c + PCI_MSIX_TABLE, SIM_MSIX_BAR, 4);
	sim_cfg_put(sim, c + PCI_MSIX_PBA, SIM_MSIX_PBA_OFF | SIM_MSIX_BAR, 4);
}

/* One virtio vendor capability; @r is NULL for the PCI cfg access one. */
static void
sim_cfg_vcap(struct ifcvf_sim *sim, uint32_t c, uint8_t next, uint8_t len,
	     uint8_t type, const struct ifcvf_region *r)
{
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_VNDR, PCI_CAP_ID_VNDR, 1);
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_NEXT, next, 1);
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_LEN, len, 1);
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_CFG_TYPE, type, 1);
	if (r == NULL)
		return;
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_BAR, r->bar, 1);
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_OFFSET, r->off, 4);
	sim_cfg_put(sim, c + VIRTIO_PCI_CAP_LENGTH, r->len, 4);
}

static void
sim_cfg_build(struct ifcvf_sim *sim)
{
	memset(sim->cfg, 0, sizeof(sim->cfg));
	sim_cfg_header(sim);
	sim_cfg_msix_cap(sim);
	sim_cfg_vcap(sim, SIM_CAP_COMMON, SIM_CAP_NOTIFY, SIM_VCAP_LEN,
		     VIRTIO_PCI_CAP_COMMON_CFG, &sim->common);
	sim_cfg_vcap(sim, SIM_CAP_NOTIFY, SIM_CAP_ISR, SIM_VCAP_NOTIFY_LEN,
		     VIRTIO_PCI_CAP_NOTIFY_CFG, &sim->notify);
	sim_cfg_put(sim, SIM_CAP_NOTIFY + VIRTIO_PCI_NOTIFY_CAP_MULT,
		    sim->notify_mult, 4);
	sim_cfg_vcap(sim, SIM_CAP_ISR, SIM_CAP_DEVICE, SIM_VCAP_LEN,
		     VIRTIO_PCI_CAP_ISR_CFG, &sim->isr_region);
	sim_cfg_vcap(sim, SIM_CAP_DEVICE, SIM_CAP_PCI_CFG, SIM_VCAP_LEN,
		     VIRTIO_PCI_CAP_DEVICE_CFG, &sim->device);
	sim_cfg_vcap(sim, SIM_CAP_PCI_CFG, 0, SIM_VCAP_PCI_CFG_LEN,
		     VIRTIO_PCI_CAP_PCI_CFG, NULL);
}

/* ---- Status, reset, interrupts ----------------------------------------- */

/* device_status as the driver reads it. */
static uint8_t
sim_status_get(const struct ifcvf_sim *sim)
{
	uint8_t st = sim->status;

	/* A faulty device still completes a reset; it fails once used. */
	if (st == 0)
		return 0;
	if (sim->fault[IFCVF_SIM_FAULT_FAILED])
		st |= VIRTIO_CONFIG_S_FAILED;
	if (sim->fault[IFCVF_SIM_FAULT_NEEDS_RESET])
		st |= VIRTIO_CONFIG_S_NEEDS_RESET;
	return st;
}

bool
sim_running(const struct ifcvf_sim *sim)
{
	uint8_t st = sim_status_get(sim);

	if (!(st & VIRTIO_CONFIG_S_DRIVER_OK))
		return false;
	return !(st & (VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET));
}

void
sim_wake(struct ifcvf_sim *sim)
{
	pthread_mutex_lock(&sim->wake_lock);
	sim->work = true;
	pthread_cond_signal(&sim->wake_cond);
	pthread_mutex_unlock(&sim->wake_lock);
}

static void
sim_signal(struct ifcvf_sim *sim, uint16_t vector)
{
	uint64_t one = 1;
	int fd;

	if (vector >= sim->nr_vectors)
		return;
	fd = sim->irq_fd[vector];
	if (fd < 0)
		return;
	if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		SIM_LOG(DEBUG, "%s: vector %u: write to fd %d: %s",
			sim->name, vector, fd, strerror(errno));
}

void
sim_raise_irq(struct ifcvf_sim *sim, uint16_t vector)
{
	sim->isr |= SIM_ISR_QUEUE;
	sim_signal(sim, vector);
}

static void
sim_raise_config(struct ifcvf_sim *sim)
{
	sim->isr |= SIM_ISR_CONFIG;
	sim_signal(sim, sim->msix_config);
}

void
sim_queue_break(struct ifcvf_sim *sim, uint16_t qid)
{
	if (qid >= sim->nr_queues || sim->q[qid].broken)
		return;
	sim->q[qid].broken = true;
	SIM_LOG(NOTICE, "%s: queue %u stopped on a malformed ring",
		sim->name, qid);
	if (sim->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	sim->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	sim_raise_config(sim);
}

static uint32_t
sim_ring_state(const struct sim_queue *q)
{
	if (!q->enabled)
		return q->lm_state;
	return q->last_avail_idx | ((uint32_t)q->last_used_idx << 16);
}

static void
sim_queue_reset(struct ifcvf_sim *sim, struct sim_queue *q)
{
	/* The LM block survives; it keeps the last live indices. */
	q->lm_state = sim_ring_state(q);
	q->desc = 0;
	q->avail = 0;
	q->used = 0;
	q->size = sim->max_queue_size;
	q->vector = IFCVF_MSI_NO_VECTOR;
	q->enabled = false;
	q->last_avail_idx = 0;
	q->last_used_idx = 0;
	q->broken = false;
	q->stuck = false;
	q->blk_done = 0;
	q->blk_kicked = false;
}

static void
sim_reset(struct ifcvf_sim *sim)
{
	uint16_t i;

	sim->dfselect = 0;
	sim->gfselect = 0;
	sim->drv_features = 0;
	sim->msix_config = IFCVF_MSI_NO_VECTOR;
	sim->status = 0;
	sim->queue_select = 0;
	sim->isr = 0;
	if (sim->blk_stuck_held)
		sim->fault[IFCVF_SIM_FAULT_BLK_STUCK] = false;
	sim->blk_stuck_held = false;
	for (i = 0; i < SIM_MAX_QUEUES; i++)
		sim_queue_reset(sim, &sim->q[i]);
	sim->reset_drops += sim_dp_backlog_flush(sim);
}

static void
sim_log_driver_ok(const struct ifcvf_sim *sim)
{
	const char *legacy =
		(sim->drv_features & (1ULL << VIRTIO_F_VERSION_1)) ?
		"" : " (legacy)";

	if (sim->type == IFCVF_SIM_TYPE_BLK)
		SIM_LOG(INFO, "%s: DRIVER_OK, features 0x%" PRIx64 "%s, blk",
			sim->name, sim->drv_features, legacy);
	else
		SIM_LOG(INFO, "%s: DRIVER_OK, features 0x%" PRIx64
			"%s, net header %u bytes", sim->name,
			sim->drv_features, legacy, sim_net_hdr_len(sim));
}

static void
sim_status_write(struct ifcvf_sim *sim, uint8_t val)
{
	uint8_t old = sim->status;

	if (val == 0) {
		if (old != 0 && (sim->fault[IFCVF_SIM_FAULT_RESET_STUCK] ||
				 sim_op_fails(sim, IFCVF_SIM_OP_RESET))) {
			SIM_LOG(DEBUG, "%s: reset stuck", sim->name);
			return;
		}
		sim_reset(sim);
		return;
	}
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !sim_features_ok(sim)) {
		SIM_LOG(DEBUG, "%s: features 0x%" PRIx64 " refused",
			sim->name, sim->drv_features);
		val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if (sim->fault[IFCVF_SIM_FAULT_DRIVER_OK])
		val &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	/* NEEDS_RESET belongs to the device: only a reset clears it. */
	sim->status = val | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((val & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		sim_log_driver_ok(sim);
		sim->starts++;
		sim_wake(sim);
	}
}

static uint16_t
sim_vector(const struct ifcvf_sim *sim, uint32_t val)
{
	return val < sim->nr_vectors ? (uint16_t)val : IFCVF_MSI_NO_VECTOR;
}

/* ---- Common configuration ---------------------------------------------- */

/* Natural width of the common register at @off, 0 if none starts there. */
static uint8_t
sim_common_width(uint64_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return 4;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	default:
		return 0;
	}
}

/* The queue behind queue_select, NULL when it selects none. */
static struct sim_queue *
sim_selected(struct ifcvf_sim *sim)
{
	if (sim->queue_select >= sim->nr_queues)
		return NULL;
	return &sim->q[sim->queue_select];
}

static uint32_t
sim_queue_read(struct ifcvf_sim *sim, uint64_t off)
{
	const struct sim_queue *q = sim_selected(sim);

	if (q == NULL)
		return 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return q->size;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return q->vector;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return q->enabled;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return sim->queue_select;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return sim_lo32(q->desc);
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		return sim_hi32(q->desc);
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return sim_lo32(q->avail);
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		return sim_hi32(q->avail);
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return sim_lo32(q->used);
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return sim_hi32(q->used);
	default:
		return 0;
	}
}

static uint32_t
sim_common_read(struct ifcvf_sim *sim, uint64_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return sim->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return sim_feature_window(sim->dev_features, sim->dfselect);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return sim->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return sim_feature_window(sim->drv_features, sim->gfselect);
	case VIRTIO_PCI_COMMON_MSIX:
		return sim->msix_config;
	case VIRTIO_PCI_COMMON_NUMQ:
		return sim->nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return sim_status_get(sim);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return sim->cfg_generation;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return sim->queue_select;
	default:
		return sim_queue_read(sim, off);
	}
}

static void
sim_drv_features_write(struct ifcvf_sim *sim, uint32_t val)
{
	if (sim->status & VIRTIO_CONFIG_S_FEATURES_OK) {
		SIM_LOG(DEBUG, "%s: features written after FEATURES_OK",
			sim->name);
		return;
	}
	if (sim->gfselect == 0)
		sim_set_lo32(&sim->drv_features, val);
	else if (sim->gfselect == 1)
		sim_set_hi32(&sim->drv_features, val);
}

static void
sim_queue_size_write(struct ifcvf_sim *sim, struct sim_queue *q,
		     uint32_t val)
{
	if (val == 0 || val > sim->max_queue_size ||
	    !rte_is_power_of_2(val)) {
		SIM_LOG(DEBUG, "%s: queue size %u refused", sim->name, val);
		return;
	}
	q->size = (uint16_t)val;
}

static void
sim_queue_enable_write(struct ifcvf_sim *sim, struct sim_queue *q,
		       uint32_t val)
{
	uint32_t state;

	if (val == 0) {
		/* A queue that failed to stop stays stuck until a reset. */
		if (q->enabled && (q->stuck ||
		    sim_op_fails(sim, IFCVF_SIM_OP_QUEUE_DISABLE))) {
			q->stuck = true;
			return;
		}
		q->lm_state = sim_ring_state(q);
		q->enabled = false;
		return;
	}
	if (val != 1 || q->enabled)
		return;
	if (sim->fault[IFCVF_SIM_FAULT_QUEUE_ENABLE] ||
	    sim_op_fails(sim, IFCVF_SIM_OP_QUEUE_ENABLE)) {
		SIM_LOG(DEBUG, "%s: queue enable fault", sim->name);
		return;
	}
	state = sim->has_lm ? q->lm_state : 0;
	q->last_avail_idx = (uint16_t)state;
	q->last_used_idx = (uint16_t)(state >> 16);
	q->blk_done = q->last_avail_idx;
	q->broken = false;
	q->enabled = true;
	sim_wake(sim);
}

/* Ring address registers: frozen while the queue is enabled. */
static void
sim_queue_addr_write(struct ifcvf_sim *sim, struct sim_queue *q,
		     uint64_t off, uint32_t val)
{
	uint64_t *reg = &q->used;

	if (q->enabled) {
		SIM_LOG(DEBUG, "%s: ring address written while enabled",
			sim->name);
		return;
	}
	if (off < VIRTIO_PCI_COMMON_Q_AVAILLO)
		reg = &q->desc;
	else if (off < VIRTIO_PCI_COMMON_Q_USEDLO)
		reg = &q->avail;
	if ((off - VIRTIO_PCI_COMMON_Q_DESCLO) % 8 == 0)
		sim_set_lo32(reg, val);
	else
		sim_set_hi32(reg, val);
}

static void
sim_queue_write(struct ifcvf_sim *sim, uint64_t off, uint32_t val)
{
	struct sim_queue *q = sim_selected(sim);

	if (q == NULL) {
		SIM_LOG(DEBUG, "%s: no queue %u", sim->name,
			sim->queue_select);
		return;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (q->enabled)
			SIM_LOG(DEBUG, "%s: queue size written while enabled",
				sim->name);
		else
			sim_queue_size_write(sim, q, val);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		q->vector = sim_vector(sim, val);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		sim_queue_enable_write(sim, q, val);
		break;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		SIM_LOG(DEBUG, "%s: queue_notify_off is read-only",
			sim->name);
		break;
	default:
		sim_queue_addr_write(sim, q, off, val);
		break;
	}
}

static void
sim_common_write(struct ifcvf_sim *sim, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		sim->dfselect = val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		sim->gfselect = val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		sim_drv_features_write(sim, val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		sim->msix_config = sim_vector(sim, val);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		sim_status_write(sim, (uint8_t)val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		sim->queue_select = (uint16_t)val;
		break;
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		SIM_LOG(DEBUG, "%s: read-only register 0x%" PRIx64,
			sim->name, off);
		break;
	default:
		sim_queue_write(sim, off, val);
		break;
	}
}

/* ---- ISR, device config, notify ---------------------------------------- */

static uint32_t
sim_isr_read(struct ifcvf_sim *sim, uint64_t off, uint8_t width)
{
	uint8_t isr = sim->isr;

	if (off != 0 || width != 1) {
		SIM_LOG(DEBUG, "%s: ISR read at %" PRIu64 " width %u",
			sim->name, off, width);
		return 0;
	}
	sim->isr = 0;
	return isr;
}

#define SIM_BLK_CFG_PUT(img, f, v) \
	sim_le_put(&(img)[offsetof(struct virtio_blk_config, f)], v, \
		   RTE_SIZEOF_FIELD(struct virtio_blk_config, f))

static void
sim_blk_config_image(const struct ifcvf_sim *sim, uint8_t *img)
{
	uint8_t *cap = &img[offsetof(struct virtio_blk_config, capacity)];

	sim_le_put(cap, sim_lo32(sim->capacity), 4);
	sim_le_put(cap + 4, sim_hi32(sim->capacity), 4);
	SIM_BLK_CFG_PUT(img, size_max, SIM_BLK_SIZE_MAX);
	SIM_BLK_CFG_PUT(img, seg_max, SIM_BLK_SEG_MAX);
	SIM_BLK_CFG_PUT(img, blk_size, IFCVF_SIM_BLK_SECTOR);
	SIM_BLK_CFG_PUT(img, num_queues, sim->nr_queues);
}

static void
sim_net_config_image(const struct ifcvf_sim *sim, uint8_t *img)
{
	memcpy(img, sim->mac, sizeof(sim->mac));
	sim_le_put(&img[offsetof(struct virtio_net_config, status)],
		   sim->link_status, 2);
	sim_le_put(&img[offsetof(struct virtio_net_config,
				 max_virtqueue_pairs)], sim->nr_qp, 2);
}

static uint32_t
sim_device_read(struct ifcvf_sim *sim, uint64_t off, uint8_t width)
{
	uint8_t img[SIM_BLK_DEVICE_LEN];

	if (off + width > sim->device.len) {
		SIM_LOG(DEBUG, "%s: device cfg read past the end", sim->name);
		return 0;
	}
	memset(img, 0, sizeof(img));
	if (sim->type == IFCVF_SIM_TYPE_BLK)
		sim_blk_config_image(sim, img);
	else
		sim_net_config_image(sim, img);
	return sim_le_get(&img[off], width);
}

/* The queue a doorbell write at @off (in the notify region) rings, or -1. */
static int
sim_doorbell_qid(const struct ifcvf_sim *sim, uint64_t off)
{
	uint64_t qid = off / sim->notify_mult;

	if (off % sim->notify_mult != 0 || qid >= sim->nr_queues)
		return -1;
	return qid;
}

static void
sim_notify_write(struct ifcvf_sim *sim, uint64_t off)
{
	int qid = sim_doorbell_qid(sim, off);

	if (qid < 0) {
		SIM_LOG(DEBUG, "%s: stray doorbell at 0x%" PRIx64,
			sim->name, off);
		return;
	}
	sim->q[qid].stats.kicks++;
	sim->q[qid].blk_kicked = true;
	sim_wake(sim);
}

/* ---- MSI-X table and the LM block -------------------------------------- */

static uint32_t
sim_msix_read(struct ifcvf_sim *sim, uint64_t off, uint8_t width)
{
	return sim_le_get(&sim_dev_of(sim)->msix[off], width);
}

static void
sim_msix_write(struct ifcvf_sim *sim, uint64_t off, uint8_t width,
	       uint32_t val)
{
	sim_le_put(&sim_dev_of(sim)->msix[off], val, width);
}

/* The queue whose ring-state register sits at @off, -1 if none. */
static int
sim_lm_ring_qid(const struct ifcvf_sim *sim, uint64_t off)
{
	uint64_t rel, slot, qid;

	if (off < IFCVF_LM_RING_STATE_OFFSET)
		return -1;
	rel = off - IFCVF_LM_RING_STATE_OFFSET;
	slot = rel % IFCVF_LM_CFG_SIZE;
	if (sim->type == IFCVF_SIM_TYPE_BLK)
		qid = slot == 0 ? rel / IFCVF_LM_CFG_SIZE : UINT64_MAX;
	else if (slot != 0 && slot != 4)
		return -1;
	else
		qid = rel / IFCVF_LM_CFG_SIZE * 2 + slot / 4;
	return qid < sim->nr_queues ? (int)qid : -1;
}

static uint32_t
sim_lm_read(struct ifcvf_sim *sim, uint64_t off)
{
	int qid;

	switch (off) {
	case IFCVF_LM_LOGGING_CTRL:
		return sim->lm_ctrl;
	case IFCVF_LM_BASE_ADDR_LOW:
		return sim_lo32(sim->log_base);
	case IFCVF_LM_BASE_ADDR_HIGH:
		return sim_hi32(sim->log_base);
	case IFCVF_LM_END_ADDR_LOW:
		return sim_lo32(sim->log_end);
	case IFCVF_LM_END_ADDR_HIGH:
		return sim_hi32(sim->log_end);
	case IFCVF_LM_MQ_OFFSET:
		return sim->lm_mq;
	default:
		break;
	}
	qid = sim_lm_ring_qid(sim, off);
	return qid < 0 ? 0 : sim_ring_state(&sim->q[qid]);
}

static void
sim_lm_ring_write(struct ifcvf_sim *sim, uint64_t off, uint32_t val)
{
	int qid = sim_lm_ring_qid(sim, off);

	if (qid < 0) {
		SIM_LOG(DEBUG, "%s: no LM register at 0x%" PRIx64,
			sim->name, off);
		return;
	}
	if (sim->q[qid].enabled) {
		SIM_LOG(DEBUG, "%s: ring state of enabled queue %d written",
			sim->name, qid);
		return;
	}
	sim->q[qid].lm_state = val;
}

static void
sim_lm_write(struct ifcvf_sim *sim, uint64_t off, uint32_t val)
{
	switch (off) {
	case IFCVF_LM_LOGGING_CTRL:
		sim->lm_ctrl = val;
		break;
	case IFCVF_LM_BASE_ADDR_LOW:
		sim_set_lo32(&sim->log_base, val);
		break;
	case IFCVF_LM_BASE_ADDR_HIGH:
		sim_set_hi32(&sim->log_base, val);
		break;
	case IFCVF_LM_END_ADDR_LOW:
		sim_set_lo32(&sim->log_end, val);
		break;
	case IFCVF_LM_END_ADDR_HIGH:
		sim_set_hi32(&sim->log_end, val);
		break;
	case IFCVF_LM_MQ_OFFSET:
		sim->lm_mq = val;
		sim_wake(sim);
		break;
	default:
		sim_lm_ring_write(sim, off, val);
		break;
	}
}

/* ---- BAR dispatch ------------------------------------------------------ */

static bool
sim_access_ok(const struct ifcvf_sim *sim, uint8_t bar, uint64_t off,
	      uint8_t width)
{
	bool ok = (width == 1 || width == 2 || width == 4) &&
		bar < IFCVF_PCI_MAX_BAR && off < sim->bar_len[bar] &&
		width <= sim->bar_len[bar] - off && off % width == 0;

	if (!ok)
		SIM_LOG(DEBUG, "%s: bad access bar %u off 0x%" PRIx64
			" width %u", sim->name, bar, off, width);
	return ok;
}

static bool
sim_in(const struct ifcvf_region *r, uint8_t bar, uint64_t off)
{
	return r->len != 0 && bar == r->bar && off >= r->off &&
		off - r->off < r->len;
}

static bool
sim_common_width_ok(const struct ifcvf_sim *sim, uint64_t off,
		    uint8_t width)
{
	if (sim_common_width(off) == width)
		return true;
	SIM_LOG(DEBUG, "%s: common cfg 0x%" PRIx64 " width %u mismatch",
		sim->name, off, width);
	return false;
}

static bool
sim_lm_width_ok(const struct ifcvf_sim *sim, uint64_t off, uint8_t width)
{
	if (width == 4)
		return true;
	SIM_LOG(DEBUG, "%s: LM block 0x%" PRIx64 " width %u mismatch",
		sim->name, off, width);
	return false;
}

static uint32_t
sim_bar_read(struct ifcvf_sim *sim, uint8_t bar, uint64_t off,
	     uint8_t width)
{
	if (sim_in(&sim->common, bar, off)) {
		off -= sim->common.off;
		if (!sim_common_width_ok(sim, off, width))
			return 0;
		return sim_common_read(sim, off);
	}
	if (sim_in(&sim->isr_region, bar, off))
		return sim_isr_read(sim, off - sim->isr_region.off, width);
	if (sim_in(&sim->device, bar, off))
		return sim_device_read(sim, off - sim->device.off, width);
	if (sim_in(&sim->notify, bar, off))
		return 0;
	if (bar == SIM_MSIX_BAR)
		return sim_msix_read(sim, off, width);
	if (sim->has_lm && bar == IFCVF_LM_BAR)
		return sim_lm_width_ok(sim, off, width) ?
			sim_lm_read(sim, off) : 0;
	SIM_LOG(DEBUG, "%s: nothing at bar %u off 0x%" PRIx64,
		sim->name, bar, off);
	return 0;
}

static void
sim_bar_write(struct ifcvf_sim *sim, uint8_t bar, uint64_t off,
	      uint8_t width, uint32_t val)
{
	if (sim_in(&sim->common, bar, off)) {
		off -= sim->common.off;
		if (sim_common_width_ok(sim, off, width))
			sim_common_write(sim, off, val);
	} else if (sim_in(&sim->notify, bar, off)) {
		sim_notify_write(sim, off - sim->notify.off);
	} else if (bar == SIM_MSIX_BAR) {
		sim_msix_write(sim, off, width, val);
	} else if (sim->has_lm && bar == IFCVF_LM_BAR) {
		if (sim_lm_width_ok(sim, off, width))
			sim_lm_write(sim, off, val);
	} else {
		/* ISR, device config and holes: read-only or nothing. */
		SIM_LOG(DEBUG, "%s: write ignored at bar %u off 0x%" PRIx64,
			sim->name, bar, off);
	}
}

static uint32_t
sim_io_read(void *ctx, uint8_t bar, uint64_t off, uint8_t width)
{
	struct ifcvf_sim *sim = ctx;
	uint32_t val;

	if (!sim_access_ok(sim, bar, off, width))
		return 0;
	pthread_mutex_lock(&sim->lock);
	val = sim_bar_read(sim, bar, off, width);
	pthread_mutex_unlock(&sim->lock);
	return val;
}

/*
 * When the write reaches the device, before the simulator's lock (a
 * doorbell on hardware waits for none): the latency benchmarks' end.
 */
static void
sim_doorbell_stamp(struct ifcvf_sim *sim, uint8_t bar, uint64_t off)
{
	struct timespec ts;
	int qid;

	if (!sim_in(&sim->notify, bar, off))
		return;
	qid = sim_doorbell_qid(sim, off - sim->notify.off);
	if (qid < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	__atomic_store_n(&sim->q[qid].doorbell_ns,
			 ts.tv_sec * 1000000000ULL + ts.tv_nsec,
			 __ATOMIC_RELEASE);
}

static void
sim_io_write(void *ctx, uint8_t bar, uint64_t off, uint8_t width,
	     uint32_t val)
{
	struct ifcvf_sim *sim = ctx;

	if (!sim_access_ok(sim, bar, off, width))
		return;
	if (width < 4)
		val &= (1u << (8 * width)) - 1;
	sim_doorbell_stamp(sim, bar, off);
	pthread_mutex_lock(&sim->lock);
	sim_bar_write(sim, bar, off, width, val);
	pthread_mutex_unlock(&sim->lock);
}

static int
sim_io_cfg_read(void *ctx, void *buf, uint32_t len, uint32_t off)
{
	struct ifcvf_sim *sim = ctx;

	if (off > SIM_CFG_SPACE_SIZE || len > SIM_CFG_SPACE_SIZE - off)
		return -EINVAL;
	/* Built once at creation; nothing writes it afterwards. */
	memcpy(buf, &sim->cfg[off], len);
	return 0;
}

const struct ifcvf_io_ops ifcvf_sim_io_ops = {
	.read = sim_io_read,
	.write = sim_io_write,
	.cfg_read = sim_io_cfg_read,
};

void
ifcvf_sim_get_io(struct ifcvf_sim *sim, struct ifcvf_io *io)
{
	memset(io, 0, sizeof(*io));
	io->ops = &ifcvf_sim_io_ops;
	io->ctx = sim;
	memcpy(io->bar_len, sim->bar_len, sizeof(io->bar_len));
}

/* ---- The datapath thread ----------------------------------------------- */

/* Sleeps until there is work; false when asked to stop. */
static bool
sim_thread_wait(struct ifcvf_sim *sim)
{
	bool stop;

	pthread_mutex_lock(&sim->wake_lock);
	sim->busy = false;
	if (!sim->work)
		pthread_cond_broadcast(&sim->idle_cond);
	while (!sim->work && !sim->stop)
		pthread_cond_wait(&sim->wake_cond, &sim->wake_lock);
	stop = sim->stop;
	sim->work = false;
	sim->busy = !stop;
	pthread_mutex_unlock(&sim->wake_lock);
	return !stop;
}

void
ifcvf_sim_quiesce(struct ifcvf_sim *sim)
{
	pthread_mutex_lock(&sim->wake_lock);
	while ((sim->work || sim->busy) && !sim->stop)
		pthread_cond_wait(&sim->idle_cond, &sim->wake_lock);
	pthread_mutex_unlock(&sim->wake_lock);
}

static void *
sim_thread_main(void *arg)
{
	struct ifcvf_sim *sim = arg;
	bool more;

	while (sim_thread_wait(sim)) {
		pthread_mutex_lock(&sim->lock);
		more = sim_dp_process(sim);
		pthread_mutex_unlock(&sim->lock);
		if (more)
			sim_wake(sim);
	}
	return NULL;
}

static int
sim_thread_start(struct ifcvf_sim *sim)
{
	char tname[SIM_THREAD_NAME_LEN];
	size_t n;
	int ret;

	ret = pthread_create(&sim->thread, NULL, sim_thread_main, sim);
	if (ret != 0) {
		SIM_LOG(ERR, "%s: cannot create thread: %s", sim->name,
			strerror(ret));
		return -ret;
	}
	memcpy(tname, "sim-", 4);
	n = strnlen(sim->name, sizeof(tname) - 5);
	memcpy(&tname[4], sim->name, n);
	tname[4 + n] = '\0';
	ret = pthread_setname_np(sim->thread, tname);
	if (ret != 0)
		SIM_LOG(DEBUG, "%s: cannot name thread: %s", sim->name,
			strerror(ret));
	return 0;
}

static void
sim_thread_stop(struct ifcvf_sim *sim)
{
	pthread_mutex_lock(&sim->wake_lock);
	sim->stop = true;
	pthread_cond_signal(&sim->wake_cond);
	pthread_mutex_unlock(&sim->wake_lock);
	pthread_join(sim->thread, NULL);
}

/* ---- Creation and destruction ------------------------------------------ */

static int
sim_queue_size_check(const struct ifcvf_sim_params *p)
{
	if (p->max_queue_size != 0 &&
	    (!rte_is_power_of_2(p->max_queue_size) ||
	     p->max_queue_size > IFCVF_MAX_QUEUE_SIZE)) {
		SIM_LOG(ERR, "%s: bad max queue size %u", p->name,
			p->max_queue_size);
		return -EINVAL;
	}
	return 0;
}

static int
sim_blk_params_check(const struct ifcvf_sim_params *p)
{
	if (p->nr_queue_pairs < 1 ||
	    p->nr_queue_pairs > IFCVF_SIM_BLK_MAX_QUEUES) {
		SIM_LOG(ERR, "%s: %u blk queues out of 1..%u", p->name,
			p->nr_queue_pairs, IFCVF_SIM_BLK_MAX_QUEUES);
		return -EINVAL;
	}
	if (p->capacity < 1 || p->capacity > IFCVF_SIM_BLK_MAX_SECTORS) {
		SIM_LOG(ERR, "%s: capacity %" PRIu64 " out of 1..%llu sectors",
			p->name, p->capacity, IFCVF_SIM_BLK_MAX_SECTORS);
		return -EINVAL;
	}
	return sim_queue_size_check(p);
}

static int
sim_params_check(const struct ifcvf_sim_params *p)
{
	size_t max = RTE_SIZEOF_FIELD(struct ifcvf_sim, name);

	if (p == NULL || p->name == NULL || p->name[0] == '\0' ||
	    strnlen(p->name, max) >= max) {
		SIM_LOG(ERR, "missing or too long name");
		return -EINVAL;
	}
	if (p->profile != IFCVF_SIM_PROFILE_IFCVF &&
	    p->profile != IFCVF_SIM_PROFILE_VIRTIO) {
		SIM_LOG(ERR, "%s: unknown profile %d", p->name, p->profile);
		return -EINVAL;
	}
	if (p->type == IFCVF_SIM_TYPE_BLK)
		return sim_blk_params_check(p);
	if (p->type != IFCVF_SIM_TYPE_NET) {
		SIM_LOG(ERR, "%s: unknown device type %d", p->name, p->type);
		return -EINVAL;
	}
	if (p->disk_file != NULL) {
		SIM_LOG(ERR, "%s: a disk file is for a blk device", p->name);
		return -EINVAL;
	}
	if (p->nr_queue_pairs < 1 ||
	    p->nr_queue_pairs > IFCVF_MAX_QUEUE_PAIRS) {
		SIM_LOG(ERR, "%s: %u queue pairs out of 1..%u", p->name,
			p->nr_queue_pairs, IFCVF_MAX_QUEUE_PAIRS);
		return -EINVAL;
	}
	return sim_queue_size_check(p);
}

static void
sim_setup(struct ifcvf_sim *sim, const struct ifcvf_sim_params *p)
{
	uint16_t i;

	bool blk = p->type == IFCVF_SIM_TYPE_BLK;

	snprintf(sim->name, sizeof(sim->name), "%s", p->name);
	sim->profile = p->profile;
	sim->type = p->type;
	sim->nr_qp = blk ? 0 : p->nr_queue_pairs;
	sim->nr_queues = blk ? p->nr_queue_pairs : 2 * p->nr_queue_pairs;
	sim->nr_vectors = sim->nr_queues + 1;
	sim->lm_mq = blk ? sim->nr_queues : sim->nr_qp;
	sim->capacity = blk ? p->capacity : 0;
	sim->max_queue_size = p->max_queue_size;
	if (sim->max_queue_size == 0)
		sim->max_queue_size = p->profile == IFCVF_SIM_PROFILE_IFCVF ?
			SIM_IFCVF_QSIZE : SIM_VIRTIO_QSIZE;
	sim->dev_features = p->features != 0 ? p->features : blk ?
		ifcvf_sim_blk_default_features() :
		ifcvf_sim_default_features(p->profile);
	memcpy(sim->mac, p->mac, sizeof(sim->mac));
	sim->link_status = VIRTIO_NET_S_LINK_UP;
	for (i = 0; i < SIM_MAX_VECTORS; i++)
		sim->irq_fd[i] = -1;
	sim_layout(sim);
	sim_cfg_build(sim);
	sim_dp_backlog_init(sim);
	sim_reset(sim);
	pthread_mutex_init(&sim->lock, NULL);
	pthread_mutex_init(&sim->wake_lock, NULL);
	pthread_cond_init(&sim->wake_cond, NULL);
	pthread_cond_init(&sim->idle_cond, NULL);
}

static void
sim_disk_free(struct ifcvf_sim *sim)
{
	if (sim->disk_mapped)
		munmap(sim->disk, sim->capacity * IFCVF_SIM_BLK_SECTOR);
	else
		free(sim->disk);
	sim->disk = NULL;
}

static void
sim_teardown(struct ifcvf_sim *sim)
{
	sim_dp_backlog_fini(sim);
	sim_disk_free(sim);
	pthread_cond_destroy(&sim->idle_cond);
	pthread_cond_destroy(&sim->wake_cond);
	pthread_mutex_destroy(&sim->wake_lock);
	pthread_mutex_destroy(&sim->lock);
	free(sim_dev_of(sim));
}

/* A file-backed disk: @path sized to the capacity, mapped shared. */
static int
sim_disk_map(struct ifcvf_sim *sim, const char *path)
{
	off_t size = (off_t)(sim->capacity * IFCVF_SIM_BLK_SECTOR);
	struct stat st;
	void *disk;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		SIM_LOG(ERR, "%s: disk file %s: %s", sim->name, path,
			strerror(errno));
		goto out;
	}
	if (st.st_size > size) {
		SIM_LOG(ERR, "%s: disk file %s holds %jd bytes, more than the capacity's %jd",
			sim->name, path, (intmax_t)st.st_size, (intmax_t)size);
		ret = -EINVAL;
		goto out;
	}
	if (st.st_size < size && ftruncate(fd, size) < 0) {
		ret = -errno;
		SIM_LOG(ERR, "%s: disk file %s cannot grow to %jd bytes: %s",
			sim->name, path, (intmax_t)size, strerror(errno));
		goto out;
	}
	disk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (disk == MAP_FAILED) {
		ret = -errno;
		SIM_LOG(ERR, "%s: disk file %s cannot be mapped: %s",
			sim->name, path, strerror(errno));
		goto out;
	}
	sim->disk = disk;
	sim->disk_mapped = true;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * A blk device's disk: @path's contents, or zeroed memory (calloc: pages
 * come on first touch).
 */
static int
sim_disk_alloc(struct ifcvf_sim *sim, const char *path)
{
	if (sim->type != IFCVF_SIM_TYPE_BLK)
		return 0;
	if (path != NULL)
		return sim_disk_map(sim, path);
	sim->disk = calloc(sim->capacity, IFCVF_SIM_BLK_SECTOR);
	return sim->disk == NULL ? -ENOMEM : 0;
}

struct ifcvf_sim *
ifcvf_sim_create(const struct ifcvf_sim_params *p)
{
	struct sim_dev *dev;
	struct ifcvf_sim *sim;
	int ret;

	ret = sim_params_check(p);
	if (ret != 0) {
		errno = -ret;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	sim = &dev->sim;
	sim_setup(sim, p);
	ret = sim_disk_alloc(sim, p->disk_file);
	if (ret == 0)
		ret = sim_iommu_init(sim);
	if (ret != 0)
		goto fail;
	ret = sim_thread_start(sim);
	if (ret != 0) {
		sim_iommu_fini(sim);
		goto fail;
	}
	SIM_LOG(INFO, "%s: created (%s %s, %u queues, queue size %u)",
		sim->name, sim->has_lm ? "ifcvf" : "virtio",
		sim->type == IFCVF_SIM_TYPE_BLK ? "blk" : "net",
		sim->nr_queues, sim->max_queue_size);
	return sim;
fail:
	sim_teardown(sim);
	errno = ret < 0 ? -ret : ENOMEM;
	return NULL;
}

/*
 * Like VFIO, the device holds the eventfd itself (a duplicate): a vector
 * left on an fd its owner has since closed still signals that eventfd,
 * never whatever file reuses the number.
 */
int
ifcvf_sim_set_irq(struct ifcvf_sim *sim, uint16_t vector, int fd)
{
	int own = -1, old;

	if (vector >= sim->nr_vectors || fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (own < 0)
			return -errno;
	}
	pthread_mutex_lock(&sim->lock);
	old = sim->irq_fd[vector];
	sim->irq_fd[vector] = own;
	pthread_mutex_unlock(&sim->lock);
	if (old >= 0)
		close(old);
	return 0;
}

static void
sim_irqs_release(struct ifcvf_sim *sim)
{
	uint16_t v;

	for (v = 0; v < sim->nr_vectors; v++)
		ifcvf_sim_set_irq(sim, v, -1);
}

void
ifcvf_sim_destroy(struct ifcvf_sim *sim)
{
	if (sim == NULL)
		return;
	ifcvf_sim_wire_disconnect(sim);
	sim_thread_stop(sim);
	sim_iommu_fini(sim);
	sim_irqs_release(sim);
	SIM_LOG(INFO, "%s: destroyed", sim->name);
	sim_teardown(sim);
}

const char *
ifcvf_sim_name(const struct ifcvf_sim *sim)
{
	return sim->name;
}

/* ---- MSI-X routing, faults, link --------------------------------------- */

void
ifcvf_sim_fail_nth(struct ifcvf_sim *sim, enum ifcvf_sim_op op,
		   unsigned int n)
{
	if ((unsigned int)op >= IFCVF_SIM_OP_MAX)
		return;
	pthread_mutex_lock(&sim->lock);
	sim->op_count[op] = 0;
	sim->fail_at[op] = n;
	pthread_mutex_unlock(&sim->lock);
}

/* Count one @op; true when it is the one to fail (under sim->lock). */
bool
sim_op_fails(struct ifcvf_sim *sim, enum ifcvf_sim_op op)
{
	if (sim->fail_at[op] == 0)
		return false;
	if (++sim->op_count[op] != sim->fail_at[op])
		return false;
	sim->fail_at[op] = 0;
	SIM_LOG(INFO, "%s: injected fault: %s %u fails", sim->name,
		ifcvf_sim_op_name(op), sim->op_count[op]);
	return true;
}

bool
ifcvf_sim_op_fails(struct ifcvf_sim *sim, enum ifcvf_sim_op op)
{
	bool fails;

	pthread_mutex_lock(&sim->lock);
	fails = sim_op_fails(sim, op);
	pthread_mutex_unlock(&sim->lock);
	return fails;
}

static const char * const sim_op_names[IFCVF_SIM_OP_MAX] = {
	[IFCVF_SIM_OP_DMA_MAP] = "dma_map",
	[IFCVF_SIM_OP_QUEUE_ENABLE] = "queue_enable",
	[IFCVF_SIM_OP_QUEUE_DISABLE] = "queue_disable",
	[IFCVF_SIM_OP_RESET] = "reset",
	[IFCVF_SIM_OP_SET_IRQS] = "set_irqs",
};

const char *
ifcvf_sim_op_name(enum ifcvf_sim_op op)
{
	return (unsigned int)op < IFCVF_SIM_OP_MAX ? sim_op_names[op] : "?";
}

uint16_t
ifcvf_sim_nr_vectors(const struct ifcvf_sim *sim)
{
	return sim->nr_vectors;
}

void
ifcvf_sim_set_fault(struct ifcvf_sim *sim, enum ifcvf_sim_fault f, bool on)
{
	if ((unsigned int)f >= IFCVF_SIM_FAULT_MAX)
		return;
	pthread_mutex_lock(&sim->lock);
	sim->fault[f] = on;
	pthread_mutex_unlock(&sim->lock);
	/* Whether the datapath may run can have changed. */
	sim_wake(sim);
}

void
ifcvf_sim_set_link(struct ifcvf_sim *sim, bool up)
{
	uint16_t st = up ? VIRTIO_NET_S_LINK_UP : 0;

	pthread_mutex_lock(&sim->lock);
	if (sim->link_status != st) {
		sim->link_status = st;
		sim->cfg_generation++;
		if (sim->status & VIRTIO_CONFIG_S_DRIVER_OK)
			sim_raise_config(sim);
	}
	pthread_mutex_unlock(&sim->lock);
}

/* ---- The blk disk ------------------------------------------------------ */

static bool
sim_disk_range_ok(const struct ifcvf_sim *sim, uint64_t off, uint64_t len)
{
	uint64_t size = sim->capacity * IFCVF_SIM_BLK_SECTOR;

	return sim->type == IFCVF_SIM_TYPE_BLK && off <= size &&
	       len <= size - off;
}

int
ifcvf_sim_blk_resize(struct ifcvf_sim *sim, uint64_t sectors)
{
	uint64_t old;
	uint8_t *disk;

	if (sim->type != IFCVF_SIM_TYPE_BLK || sectors < 1 ||
	    sectors > IFCVF_SIM_BLK_MAX_SECTORS)
		return -EINVAL;
	if (sim->disk_mapped)
		return -ENOTSUP;
	pthread_mutex_lock(&sim->lock);
	old = sim->capacity;
	disk = realloc(sim->disk, sectors * IFCVF_SIM_BLK_SECTOR);
	if (disk == NULL) {
		pthread_mutex_unlock(&sim->lock);
		return -ENOMEM;
	}
	if (sectors > old)
		memset(disk + old * IFCVF_SIM_BLK_SECTOR, 0,
		       (sectors - old) * IFCVF_SIM_BLK_SECTOR);
	sim->disk = disk;
	sim->capacity = sectors;
	sim->cfg_generation++;
	if (sim->status & VIRTIO_CONFIG_S_DRIVER_OK)
		sim_raise_config(sim);
	pthread_mutex_unlock(&sim->lock);
	SIM_LOG(INFO, "%s: capacity %" PRIu64 " -> %" PRIu64 " sectors",
		sim->name, old, sectors);
	return 0;
}

uint64_t
ifcvf_sim_blk_capacity(struct ifcvf_sim *sim)
{
	uint64_t cap;

	pthread_mutex_lock(&sim->lock);
	cap = sim->capacity;
	pthread_mutex_unlock(&sim->lock);
	return cap;
}

int
ifcvf_sim_blk_read(struct ifcvf_sim *sim, uint64_t off, void *buf,
		   uint64_t len)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&sim->lock);
	if (sim_disk_range_ok(sim, off, len)) {
		memcpy(buf, sim->disk + off, len);
		ret = 0;
	}
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

int
ifcvf_sim_blk_write(struct ifcvf_sim *sim, uint64_t off, const void *buf,
		    uint64_t len)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&sim->lock);
	if (sim_disk_range_ok(sim, off, len)) {
		memcpy(sim->disk + off, buf, len);
		ret = 0;
	}
	pthread_mutex_unlock(&sim->lock);
	return ret;
}

/* ---- The wire ---------------------------------------------------------- */

int
ifcvf_sim_wire_loop(struct ifcvf_sim *sim)
{
	int ret = 0;

	pthread_mutex_lock(&sim_wire_lock);
	if (sim->peer == NULL)
		sim->peer = sim;
	else if (sim->peer != sim)
		ret = -EBUSY;
	pthread_mutex_unlock(&sim_wire_lock);
	return ret;
}

int
ifcvf_sim_wire_connect(struct ifcvf_sim *a, struct ifcvf_sim *b)
{
	int ret = 0;

	if (a == NULL || b == NULL || a == b)
		return -EINVAL;
	pthread_mutex_lock(&sim_wire_lock);
	if (a->peer != NULL || b->peer != NULL) {
		ret = -EBUSY;
	} else {
		a->peer = b;
		b->peer = a;
	}
	pthread_mutex_unlock(&sim_wire_lock);
	return ret;
}

void
ifcvf_sim_wire_disconnect(struct ifcvf_sim *sim)
{
	pthread_mutex_lock(&sim_wire_lock);
	if (sim->peer != NULL)
		sim->peer->peer = NULL;
	sim->peer = NULL;
	pthread_mutex_unlock(&sim_wire_lock);
}

/* ---- Inspection -------------------------------------------------------- */

int
ifcvf_sim_queue_info(struct ifcvf_sim *sim, uint16_t qid,
		     struct ifcvf_sim_queue_info *info)
{
	const struct sim_queue *q;

	if (qid >= sim->nr_queues)
		return -EINVAL;
	q = &sim->q[qid];
	pthread_mutex_lock(&sim->lock);
	info->desc = q->desc;
	info->avail = q->avail;
	info->used = q->used;
	info->size = q->size;
	info->vector = q->vector;
	info->last_avail_idx = q->last_avail_idx;
	info->last_used_idx = q->last_used_idx;
	info->enabled = q->enabled;
	info->broken = q->broken;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

int
ifcvf_sim_queue_stats(struct ifcvf_sim *sim, uint16_t qid,
		      struct ifcvf_sim_queue_stats *st)
{
	if (qid >= sim->nr_queues)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	*st = sim->q[qid].stats;
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

uint64_t
ifcvf_sim_doorbell_ns(struct ifcvf_sim *sim, uint16_t qid)
{
	if (qid >= sim->nr_queues)
		return 0;
	return __atomic_load_n(&sim->q[qid].doorbell_ns, __ATOMIC_ACQUIRE);
}

struct ifcvf_sim_state
ifcvf_sim_get_state(struct ifcvf_sim *sim)
{
	struct ifcvf_sim_state st;

	pthread_mutex_lock(&sim->lock);
	st.status = sim_status_get(sim);
	st.driver_features = sim->drv_features;
	st.net_hdr_len = sim->type == IFCVF_SIM_TYPE_BLK ? 0 :
			 sim_net_hdr_len(sim);
	st.starts = sim->starts;
	st.reset_drops = sim->reset_drops;
	memcpy(st.blk_refused, sim->blk_refused, sizeof(st.blk_refused));
	st.blk_held = sim->type == IFCVF_SIM_TYPE_BLK ? sim_blk_held(sim) : 0;
	st.blk_held_until_reset = sim->blk_stuck_held;
	pthread_mutex_unlock(&sim->lock);
	return st;
}
