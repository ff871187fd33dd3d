/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_SIM_H
#define IFCVF_SIM_H

/*
 * A software IFCVF: a PCI function with virtio-1.0 net or block registers,
 * IFCVF's live-migration block, an IOMMU of its own and a datapath thread
 * that serves split virtqueues. The bus glue reaches it through
 * ifcvf_sim_io_ops (the same struct ifcvf_io the HW layer uses on real
 * BARs), maps DMA with ifcvf_sim_dma_map() and routes MSI-X vectors to
 * eventfds with ifcvf_sim_set_irq().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_log.h>

#include "ifcvf_io.h"

/* The simulator's own log type (pmd.vdpa.ifcvf_sim), its vdev's too. */
extern int ifcvf_sim_logtype;

#define SIM_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, ifcvf_sim_logtype, "IFCVF_SIM: %s(): " \
		fmt "\n", __func__, ##__VA_ARGS__)

struct ifcvf_sim;

enum ifcvf_sim_profile {
	/* 0x1af4:0x1041, subsystem 0x8086:0x001a; LM block in BAR4. */
	IFCVF_SIM_PROFILE_IFCVF,
	/* QEMU's virtio-net-pci: subsystem 0x1af4:0x1100, all in BAR4. */
	IFCVF_SIM_PROFILE_VIRTIO,
};

/* The virtio device the function is. */
enum ifcvf_sim_type {
	/* 0x1041 (IFCVF subsystem 0x001a): net, queue pairs and a wire. */
	IFCVF_SIM_TYPE_NET,
	/*
	 * 0x1042 (IFCVF subsystem 0x0002): block, an in-memory disk served
	 * by every queue; one ring-state register block per queue.
	 */
	IFCVF_SIM_TYPE_BLK,
};

#define IFCVF_SIM_BLK_SECTOR		512
#define IFCVF_SIM_BLK_MAX_QUEUES	32
/* The largest disk: 1 GiB, allocated on first touch. */
#define IFCVF_SIM_BLK_MAX_SECTORS	(1ULL << 21)

struct ifcvf_sim_params {
	const char *name;		/* for logs and the thread name */
	enum ifcvf_sim_profile profile;
	enum ifcvf_sim_type type;
	/* net: 1 .. 32 pairs; blk: 1 .. IFCVF_SIM_BLK_MAX_QUEUES queues. */
	uint16_t nr_queue_pairs;
	uint16_t max_queue_size;	/* 0: profile default */
	uint8_t mac[6];
	uint64_t features;		/* 0: profile default */
	/* blk: 1 .. IFCVF_SIM_BLK_MAX_SECTORS sectors of 512 bytes. */
	uint64_t capacity;
	/*
	 * blk: NULL for a disk in memory, else the disk is this file, mapped
	 * shared: devices given the same file see each other's writes (the
	 * source and destination of a migration, on shared storage). It is
	 * created, or extended with zeros, to the capacity; a longer file is
	 * refused. Nothing orders two devices' accesses to it.
	 */
	const char *disk_file;
};

/* Features offered when ifcvf_sim_params.features is 0. */
uint64_t ifcvf_sim_default_features(enum ifcvf_sim_profile profile);
/*
 * A blk device's default: VERSION_1, ACCESS_PLATFORM, INDIRECT_DESC,
 * EVENT_IDX, SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH and MQ. RO (offered only
 * when asked for) makes every write fail.
 */
uint64_t ifcvf_sim_blk_default_features(void);

/* Returns NULL with errno set on bad parameters or no memory. */
struct ifcvf_sim *ifcvf_sim_create(const struct ifcvf_sim_params *p);
/* Stops the datapath thread, disconnects the wire, frees everything. */
void ifcvf_sim_destroy(struct ifcvf_sim *sim);
const char *ifcvf_sim_name(const struct ifcvf_sim *sim);

/* Register and config-space access: ctx is the struct ifcvf_sim *. */
extern const struct ifcvf_io_ops ifcvf_sim_io_ops;
/* Fill @io for this device (ops, ctx, BAR lengths). */
void ifcvf_sim_get_io(struct ifcvf_sim *sim, struct ifcvf_io *io);

/*
 * The IOMMU: device DMA to IOVA is translated through these mappings
 * only. Mappings may not overlap (-EEXIST); unmap takes exactly a range
 * that was mapped (-ENOENT otherwise).
 */
int ifcvf_sim_dma_map(struct ifcvf_sim *sim, uint64_t vaddr, uint64_t iova,
		      uint64_t len);
int ifcvf_sim_dma_unmap(struct ifcvf_sim *sim, uint64_t iova, uint64_t len);
unsigned int ifcvf_sim_dma_map_count(struct ifcvf_sim *sim);
/* DMA accesses refused because no mapping covered them. */
uint64_t ifcvf_sim_dma_faults(struct ifcvf_sim *sim);

/*
 * MSI-X: vector 0 .. nr_vectors - 1 raises by writing 1 to @fd; -1
 * detaches. Vectors are 2 * nr_queue_pairs + 1. The device keeps a
 * duplicate of @fd until the vector is routed elsewhere.
 */
int ifcvf_sim_set_irq(struct ifcvf_sim *sim, uint16_t vector, int fd);
uint16_t ifcvf_sim_nr_vectors(const struct ifcvf_sim *sim);

/*
 * The wire. A looped VF receives what it sends; two connected VFs receive
 * each other's packets. Pair i's TX lands on the peer's RX queue of pair
 * i modulo the peer's pairs. A VF on no wire drops what it sends.
 */
int ifcvf_sim_wire_loop(struct ifcvf_sim *sim);
int ifcvf_sim_wire_connect(struct ifcvf_sim *a, struct ifcvf_sim *b);
void ifcvf_sim_wire_disconnect(struct ifcvf_sim *sim);

enum ifcvf_sim_fault {
	IFCVF_SIM_FAULT_RESET_STUCK,	/* device_status never reads 0 */
	IFCVF_SIM_FAULT_QUEUE_ENABLE,	/* queue_enable does not stick */
	IFCVF_SIM_FAULT_DMA,		/* every DMA access faults */
	IFCVF_SIM_FAULT_FAILED,		/* device_status reads FAILED */
	IFCVF_SIM_FAULT_NEEDS_RESET,	/* device_status reads NEEDS_RESET */
	IFCVF_SIM_FAULT_DRIVER_OK,	/* DRIVER_OK does not stick */
	/*
	 * blk: requests complete late. They are taken off the avail ring
	 * (the ring-state register shows them in flight) and carried out
	 * and completed only at the queue's next doorbell (or once the
	 * fault is cleared), as a device that needs a nudge.
	 */
	IFCVF_SIM_FAULT_BLK_LATE,
	/*
	 * blk: requests are taken and never completed; the first device
	 * reset after it held one clears the fault (the replay after a
	 * stop that could not drain them).
	 */
	IFCVF_SIM_FAULT_BLK_STUCK,
	IFCVF_SIM_FAULT_MAX,
};

void ifcvf_sim_set_fault(struct ifcvf_sim *sim, enum ifcvf_sim_fault f,
			 bool on);
/*
 * Wait until the datapath thread has done every round asked of it so far
 * (each doorbell, enable, fault change): a test's point of quiet.
 */
void ifcvf_sim_quiesce(struct ifcvf_sim *sim);

/*
 * One-shot faults: the @n-th @op from now on fails, once (n = 0 clears).
 * A DMA map returns -EIO; a queue enable does not stick; a queue disable
 * does not stop the queue (until a reset); a reset never completes; an
 * MSI-X routing (its bus glue asks ifcvf_sim_op_fails()) returns -EIO.
 */
enum ifcvf_sim_op {
	IFCVF_SIM_OP_DMA_MAP,
	IFCVF_SIM_OP_QUEUE_ENABLE,
	IFCVF_SIM_OP_QUEUE_DISABLE,
	IFCVF_SIM_OP_RESET,
	IFCVF_SIM_OP_SET_IRQS,
	IFCVF_SIM_OP_MAX,
};

void ifcvf_sim_fail_nth(struct ifcvf_sim *sim, enum ifcvf_sim_op op,
			unsigned int n);
/* Count one @op done outside the device model; true: it is to fail. */
bool ifcvf_sim_op_fails(struct ifcvf_sim *sim, enum ifcvf_sim_op op);
const char *ifcvf_sim_op_name(enum ifcvf_sim_op op);

/* Device config: link state (raises the config vector) and MAC. */
void ifcvf_sim_set_link(struct ifcvf_sim *sim, bool up);

/*
 * The blk disk. Resizing keeps the first min(old, new) sectors, zeroes
 * the rest, bumps config_generation and raises the config vector; a
 * file-backed disk is not resized (-ENOTSUP).
 * Access copies bytes [off, off + len) of the disk; -EINVAL out of range
 * or on a net device.
 */
int ifcvf_sim_blk_resize(struct ifcvf_sim *sim, uint64_t sectors);
uint64_t ifcvf_sim_blk_capacity(struct ifcvf_sim *sim);
int ifcvf_sim_blk_read(struct ifcvf_sim *sim, uint64_t off, void *buf,
		       uint64_t len);
int ifcvf_sim_blk_write(struct ifcvf_sim *sim, uint64_t off,
			const void *buf, uint64_t len);

/*
 * Ground truth of device writes: every 4 KiB IOVA page the device wrote
 * since the last reset of the record, whether or not logging was on.
 */
void ifcvf_sim_truth_reset(struct ifcvf_sim *sim);
/*
 * Copies up to @max of the page frame numbers, sorted, from the @from-th
 * on; returns how many exist, or -ENOMEM (nothing copied).
 */
long ifcvf_sim_truth_pages(struct ifcvf_sim *sim, size_t from,
			   uint64_t *pfns, size_t max);

struct ifcvf_sim_queue_info {
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint16_t size;
	uint16_t vector;
	uint16_t last_avail_idx;	/* next avail entry the device reads */
	uint16_t last_used_idx;		/* next used entry the device writes */
	bool enabled;
	bool broken;			/* stopped on a malformed ring */
};

struct ifcvf_sim_queue_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t descs;		/* descriptor chains completed */
	uint64_t kicks;		/* doorbell writes */
	uint64_t irqs;		/* interrupts raised */
	uint64_t drops;		/* packets lost: no RX buffer, too big */
	uint64_t errors;	/* blk: requests answered IOERR or UNSUPP */
	uint64_t flushes;	/* blk: FLUSH requests served */
};

int ifcvf_sim_queue_info(struct ifcvf_sim *sim, uint16_t qid,
			 struct ifcvf_sim_queue_info *info);
int ifcvf_sim_queue_stats(struct ifcvf_sim *sim, uint16_t qid,
			  struct ifcvf_sim_queue_stats *st);
/*
 * When the device last saw a doorbell of queue @qid: CLOCK_MONOTONIC in
 * nanoseconds, 0 if none yet. Lock-free, for the latency benchmarks.
 */
uint64_t ifcvf_sim_doorbell_ns(struct ifcvf_sim *sim, uint16_t qid);
/* Why the block device refused a request (answered IOERR or UNSUPP). */
enum ifcvf_sim_blk_refusal {
	IFCVF_SIM_BLK_ZERO_LENGTH,	/* a zero-length descriptor */
	IFCVF_SIM_BLK_NOT_SECTORS,	/* data not whole sectors */
	IFCVF_SIM_BLK_BEYOND_CAPACITY,	/* sectors past the disk's end */
	IFCVF_SIM_BLK_READ_READABLE,	/* a read into device-readable data */
	IFCVF_SIM_BLK_WRITE_WRITABLE,	/* a write from device-writable data */
	IFCVF_SIM_BLK_READ_ONLY,	/* a write to a read-only disk */
	IFCVF_SIM_BLK_NO_ID_BUFFER,	/* GET_ID without a buffer */
	IFCVF_SIM_BLK_UNSUPPORTED,	/* a request type not served */
	IFCVF_SIM_BLK_REFUSALS
};

/* The telemetry name of @why ("beyond_capacity"). */
const char *ifcvf_sim_blk_refusal_name(enum ifcvf_sim_blk_refusal why);

/* The device as one locked read sees it. */
struct ifcvf_sim_state {
	uint8_t status;			/* device_status as the driver reads it */
	uint64_t driver_features;	/* what the driver accepted */
	uint32_t net_hdr_len;		/* the RX header it writes; 0: blk */
	uint64_t starts;		/* times the driver set DRIVER_OK */
	/* Frames awaiting RX buffers that resets dropped, since creation. */
	uint64_t reset_drops;
	/* blk: requests refused, by reason, since creation. */
	uint64_t blk_refused[IFCVF_SIM_BLK_REFUSALS];
	/* blk: requests taken and not completed (fault=blk_late, blk_stuck). */
	uint32_t blk_held;
	bool blk_held_until_reset;	/* blk_stuck: only a reset ends them */
};

struct ifcvf_sim_state ifcvf_sim_get_state(struct ifcvf_sim *sim);

#endif /* IFCVF_SIM_H */
