/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_SIM_PRIV_H
#define IFCVF_SIM_PRIV_H

/*
 * Inside the simulated IFCVF. Two halves share this struct:
 * - sim_dev.c: the PCI function (config space, register semantics,
 *   reset, MSI-X, faults), the wire and the datapath thread's life;
 * - sim_dma.c / sim_dp.c / sim_blk.c: the IOMMU, DMA with dirty logging
 *   and the ground-truth record, the split-virtqueue datapath and its
 *   net and block devices.
 *
 * Locks, in the order they may nest:
 *   sim->lock (registers and queues; held by the datapath for a batch)
 *   -> sim->iommu_lock (rwlock; read-held around DMA)
 *   -> sim_wire_lock (global; peer pointers)
 *   -> a sim's backlog[].lock
 *   -> a sim's wake_lock (leaf: pending work and the thread's condvar)
 * truth_lock is a leaf too, taken under iommu_lock by DMA writes and by a
 * reset of the record. No code takes another sim's ->lock.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include <rte_log.h>

#include "ifcvf_compat.h"
#include "ifcvf_hw.h"
#include "ifcvf_sim.h"

#define SIM_CFG_SPACE_SIZE	4096	/* PCIe; the first 256 bytes used */
#define SIM_MAX_QUEUES		IFCVF_MAX_QUEUES
#define SIM_MAX_VECTORS		(SIM_MAX_QUEUES + 1)
#define SIM_BATCH		64	/* chains per queue per round */
#define SIM_BACKLOG_MAX		1024	/* packets waiting for RX buffers */
#define SIM_PKT_MAX		(64 * 1024)
#define SIM_NET_HDR_MAX		12	/* virtio_net_hdr_mrg_rxbuf (v1.0) */
#define SIM_PAGE_SHIFT		12
#define SIM_BLK_ID		"ifcvf-sim-blk"	/* GET_ID's answer */

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
	bool stuck;		/* an injected disable that did not stop it */
	/* blk: requests before this avail position are completed. */
	uint16_t blk_done;
	bool blk_kicked;	/* a doorbell since the last round */
	struct ifcvf_sim_queue_stats stats;
	uint64_t doorbell_ns;	/* atomic: when the last doorbell came */
};

struct sim_map {
	uint64_t iova;
	uint64_t len;
	uint64_t vaddr;
};

struct ifcvf_sim {
	char name[32];
	enum ifcvf_sim_profile profile;
	enum ifcvf_sim_type type;
	uint16_t nr_qp;		/* net only */
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
	uint64_t starts;	/* DRIVER_OK set, since creation */
	uint64_t reset_drops;	/* backlog frames resets dropped, since creation */
	/* blk: requests refused, by reason, since creation. */
	uint64_t blk_refused[IFCVF_SIM_BLK_REFUSALS];
	uint8_t cfg_generation;
	uint16_t queue_select;
	uint8_t isr;
	uint16_t link_status;
	uint32_t lm_ctrl;
	uint64_t log_base;	/* IOVA of the dirty bitmap */
	uint64_t log_end;
	uint32_t lm_mq;
	struct sim_queue q[SIM_MAX_QUEUES];
	/*
	 * blk: the disk, capacity sectors of IFCVF_SIM_BLK_SECTOR bytes;
	 * malloc'ed, or a shared mapping of a file (disk_mapped).
	 */
	uint8_t *disk;
	uint64_t capacity;
	bool disk_mapped;
	int irq_fd[SIM_MAX_VECTORS];
	bool fault[IFCVF_SIM_FAULT_MAX];
	bool blk_stuck_held;	/* BLK_STUCK held a request */
	/* One-shot faults: op number fail_at[op] (0: none) fails. */
	unsigned int op_count[IFCVF_SIM_OP_MAX];
	unsigned int fail_at[IFCVF_SIM_OP_MAX];

	/* IOMMU, sorted by iova. */
	pthread_rwlock_t iommu_lock;
	struct sim_map *maps;
	unsigned int nr_maps;
	unsigned int cap_maps;
	uint64_t dma_faults;	/* atomic */

	/*
	 * Ground truth of written pages: open-addressed set of pfn + 1, and
	 * the pfns sorted (truth_sorted_n of them; the set only grows until
	 * it is cleared, so they are the whole set while that is
	 * truth_count). All under truth_lock.
	 */
	pthread_mutex_t truth_lock;
	uint64_t *truth;
	size_t truth_count;
	size_t truth_cap;
	uint64_t *truth_sorted;
	size_t truth_sorted_n;

	/* The wire: peer is under the global sim_wire_lock. */
	struct ifcvf_sim *peer;
	struct sim_backlog backlog[IFCVF_MAX_QUEUE_PAIRS];

	/* The datapath thread. */
	pthread_t thread;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake_cond;
	bool work;		/* under wake_lock: something to look at */
	bool stop;		/* under wake_lock */
	bool busy;		/* under wake_lock: a round runs */
	pthread_cond_t idle_cond;	/* not busy and no work (quiesce) */
};

extern pthread_mutex_t sim_wire_lock;

/* sim_dev.c */
bool sim_running(const struct ifcvf_sim *sim);	/* DRIVER_OK, not failed */
void sim_wake(struct ifcvf_sim *sim);		/* takes wake_lock */
void sim_raise_irq(struct ifcvf_sim *sim, uint16_t vector); /* under lock */
void sim_queue_break(struct ifcvf_sim *sim, uint16_t qid);  /* under lock */
bool sim_op_fails(struct ifcvf_sim *sim, enum ifcvf_sim_op op); /* under lock */

/* sim_dma.c: IOMMU and DMA. -EFAULT (and a counted fault) on a miss. */
int sim_iommu_init(struct ifcvf_sim *sim);
void sim_iommu_fini(struct ifcvf_sim *sim);
int sim_dma_read(struct ifcvf_sim *sim, uint64_t iova, void *buf,
		 uint64_t len);
/* Writes, marks the truth record, and the log bitmap when logging. */
int sim_dma_write(struct ifcvf_sim *sim, uint64_t iova, const void *buf,
		  uint64_t len);

/* One round on one queue (sim_dp.c), for the net and blk datapaths. */
struct sim_round {
	struct ifcvf_sim *sim;
	struct sim_queue *q;
	uint16_t qid;
	bool event_idx;
	bool failed;		/* the queue broke during the round */
	bool stalled;		/* an RX frame waits for more chains */
	uint16_t avail_idx;	/* avail->idx as last read */
	uint16_t old_used;	/* last_used_idx when the round began */
	unsigned int chains;	/* chains taken */
	/* Avail heads of ring positions [win_pos, win_pos + win_n). */
	uint16_t win_pos;
	uint16_t win_n;
	uint16_t heads[SIM_BATCH];
	/* Used entries not yet written; the last one is last_used_idx - 1. */
	unsigned int nr_used;
	struct vring_used_elem used[SIM_BATCH];
};

/* Walks one descriptor chain, through at most one indirect table. */
struct sim_walk {
	uint64_t table;		/* IOVA of the table being walked */
	uint32_t nr;		/* its entries */
	uint32_t idx;		/* next descriptor */
	uint32_t seen;		/* descriptors read from this table */
	bool indirect;
	bool more;
};

static inline uint16_t
sim_pending(const struct sim_round *r)
{
	return (uint16_t)(r->avail_idx - r->q->last_avail_idx);
}

/* Begin a round: reads avail->idx; -1 when the queue broke. */
int sim_round_start(struct sim_round *r, struct ifcvf_sim *sim,
		    uint16_t qid);
/* Stop the queue (NEEDS_RESET, once per round); returns -1. */
int sim_round_fail(struct sim_round *r, const char *why);
/* Head of the chain at avail ring position @pos (not past avail_idx). */
int sim_avail_head_at(struct sim_round *r, uint16_t pos, uint16_t *head);
/* Return chain @id used with @len bytes written (not yet published). */
int sim_used_add(struct sim_round *r, uint16_t id, uint32_t len);
/* Publish, interrupt; true when more may be there (see sim_dp.c). */
bool sim_round_finish(struct sim_round *r);
void sim_walk_start(struct sim_walk *w, const struct sim_queue *q,
		    uint16_t head);
/* Next buffer descriptor: 1, 0 at the end, -1 when the queue broke. */
int sim_walk_next(struct sim_round *r, struct sim_walk *w,
		  struct vring_desc *d);

/* sim_dp.c: called by the thread under sim->lock; true if more to do. */
bool sim_dp_process(struct ifcvf_sim *sim);
/* sim_blk.c: one round on blk queue @qid, under sim->lock. */
bool sim_blk_queue(struct ifcvf_sim *sim, uint16_t qid);
/* sim_blk.c: the requests taken and not completed, under sim->lock. */
uint32_t sim_blk_held(const struct ifcvf_sim *sim);
/* The net header's length by the driver's features: 10 or 12 bytes. */
uint32_t sim_net_hdr_len(const struct ifcvf_sim *sim);
/* Queue a frame on @sim's RX queue @rxq backlog (under sim_wire_lock). */
void sim_dp_deliver(struct ifcvf_sim *sim, uint16_t pair,
		    struct sim_pkt *pkt);
void sim_dp_backlog_init(struct ifcvf_sim *sim);
void sim_dp_backlog_fini(struct ifcvf_sim *sim);
/*
 * A reset drops the frames waiting for RX buffers, as a NIC does; it
 * returns how many.
 */
uint64_t sim_dp_backlog_flush(struct ifcvf_sim *sim);

#endif /* IFCVF_SIM_PRIV_H */
