/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_SIM_PRIV_H
#define IFCVF_SIM_PRIV_H

/*
 * Inside the simulated IFCVF. Two halves share this struct:
 * - sim_dev.c: the PCI function (config space, register semantics,
 *   reset, MSI-X, faults), the wire and the datapath thread's life;
 * - sim_dma.c / sim_dp.c: the IOMMU, DMA with dirty logging and the
 *   ground-truth record, and the split-virtqueue datapath.
 *
 * Locks, in the order they may nest:
 *   sim->lock (registers and queues; held by the datapath for a batch)
 *   -> sim->iommu_lock (rwlock; read-held around DMA)
 *   -> sim_wire_lock (global; peer pointers)
 *   -> a sim's backlog[].lock
 *   -> a sim's wake_lock (leaf: pending work and the thread's condvar)
 * truth_lock is a leaf too. No code takes another sim's ->lock.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>

#include "ifcvf_hw.h"
#include "ifcvf_sim.h"

/* The simulator's own log type (pmd.vdpa.ifcvf_sim). */
extern int ifcvf_sim_logtype;

#define SIM_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, ifcvf_sim_logtype, "IFCVF_SIM: %s(): " \
		fmt "\n", __func__, ##__VA_ARGS__)

#define SIM_CFG_SPACE_SIZE	4096	/* PCIe; the first 256 bytes used */
#define SIM_MAX_QUEUES		IFCVF_MAX_QUEUES
#define SIM_MAX_VECTORS		(SIM_MAX_QUEUES + 1)
#define SIM_BATCH		64	/* chains per queue per round */
#define SIM_BACKLOG_MAX		1024	/* packets waiting for RX buffers */
#define SIM_PKT_MAX		(64 * 1024)
#define SIM_NET_HDR_LEN		12	/* virtio_net_hdr_mrg_rxbuf (v1.0) */
#define SIM_PAGE_SHIFT		12

/* A frame on the wire: what follows the virtio-net header. */
struct sim_pkt {
	struct sim_pkt *next;
	uint32_t len;
	uint8_t data[];
};

/* Frames waiting for buffers on one RX queue. */
struct sim_backlog {
	pthread_mutex_t lock;
	struct sim_pkt *head;
	struct sim_pkt *tail;
	unsigned int count;
};

struct sim_queue {
	/* Registers, as the driver programmed them. */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint16_t size;
	uint16_t vector;
	bool enabled;
	/* Device state. */
	uint16_t last_avail_idx;
	uint16_t last_used_idx;
	uint32_t lm_state;	/* LM ring-state register when not enabled */
	bool broken;
	struct ifcvf_sim_queue_stats stats;
};

struct sim_map {
	uint64_t iova;
	uint64_t len;
	uint64_t vaddr;
};

struct ifcvf_sim {
	char name[32];
	enum ifcvf_sim_profile profile;
	uint16_t nr_qp;
	uint16_t nr_queues;
	uint16_t nr_vectors;
	uint16_t max_queue_size;
	uint64_t dev_features;
	uint8_t mac[6];

	/* Layout (fixed per profile). */
	uint8_t cfg[SIM_CFG_SPACE_SIZE];
	uint64_t bar_len[IFCVF_PCI_MAX_BAR];
	struct ifcvf_region common;
	struct ifcvf_region notify;
	struct ifcvf_region isr_region;
	struct ifcvf_region device;
	uint32_t notify_mult;
	bool has_lm;

	/* Registers and queues, under lock. */
	pthread_mutex_t lock;
	uint32_t dfselect;
	uint32_t gfselect;
	uint64_t drv_features;
	uint16_t msix_config;
	uint8_t status;
	uint8_t cfg_generation;
	uint16_t queue_select;
	uint8_t isr;
	uint16_t link_status;
	uint32_t lm_ctrl;
	uint64_t log_base;	/* IOVA of the dirty bitmap */
	uint64_t log_end;
	uint32_t lm_mq;
	struct sim_queue q[SIM_MAX_QUEUES];
	int irq_fd[SIM_MAX_VECTORS];
	bool fault[IFCVF_SIM_FAULT_MAX];

	/* IOMMU, sorted by iova. */
	pthread_rwlock_t iommu_lock;
	struct sim_map *maps;
	unsigned int nr_maps;
	unsigned int cap_maps;
	uint64_t dma_faults;	/* atomic */

	/* Ground truth of written pages: open-addressed set of pfn + 1. */
	pthread_mutex_t truth_lock;
	uint64_t *truth;
	size_t truth_count;
	size_t truth_cap;

	/* The wire: peer is under the global sim_wire_lock. */
	struct ifcvf_sim *peer;
	struct sim_backlog backlog[IFCVF_MAX_QUEUE_PAIRS];

	/* The datapath thread. */
	pthread_t thread;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake_cond;
	bool work;		/* under wake_lock: something to look at */
	bool stop;		/* under wake_lock */
};

extern pthread_mutex_t sim_wire_lock;

/* sim_dev.c */
bool sim_running(const struct ifcvf_sim *sim);	/* DRIVER_OK, not failed */
void sim_wake(struct ifcvf_sim *sim);		/* takes wake_lock */
void sim_raise_irq(struct ifcvf_sim *sim, uint16_t vector); /* under lock */
void sim_queue_break(struct ifcvf_sim *sim, uint16_t qid);  /* under lock */

/* sim_dma.c: IOMMU and DMA. -EFAULT (and a counted fault) on a miss. */
int sim_iommu_init(struct ifcvf_sim *sim);
void sim_iommu_fini(struct ifcvf_sim *sim);
int sim_dma_read(struct ifcvf_sim *sim, uint64_t iova, void *buf,
		 uint64_t len);
/* Writes, marks the truth record, and the log bitmap when logging. */
int sim_dma_write(struct ifcvf_sim *sim, uint64_t iova, const void *buf,
		  uint64_t len);

/* sim_dp.c: called by the thread under sim->lock; true if more to do. */
bool sim_dp_process(struct ifcvf_sim *sim);
/* Queue a frame on @sim's RX queue @rxq backlog (under sim_wire_lock). */
void sim_dp_deliver(struct ifcvf_sim *sim, uint16_t pair,
		    struct sim_pkt *pkt);
void sim_dp_backlog_init(struct ifcvf_sim *sim);
void sim_dp_backlog_fini(struct ifcvf_sim *sim);
/* A reset drops the frames waiting for RX buffers, as a NIC does. */
void sim_dp_backlog_flush(struct ifcvf_sim *sim);

#endif /* IFCVF_SIM_PRIV_H */
