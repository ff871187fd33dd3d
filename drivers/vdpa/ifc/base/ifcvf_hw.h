/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_HW_H
#define IFCVF_HW_H

/*
 * The HW layer: programs a virtio-1.0 net or block device (an IFCVF VF,
 * or any modern virtio-net VF) through its registers. It knows registers
 * and nothing of vhost; every access goes through struct ifcvf_io.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_compat.h>

#include "ifcvf_io.h"

#define IFCVF_VENDOR_ID			0x1af4
#define IFCVF_NET_MODERN_DEVICE_ID	0x1041
#define IFCVF_NET_TRANSITIONAL_DEVICE_ID 0x1000
#define IFCVF_SUBSYS_VENDOR_ID		0x8086
#define IFCVF_SUBSYS_DEVICE_ID		0x001a	/* with the modern ID */
#define IFCVF_SUBSYS_NET_DEVICE_ID	0x0001	/* with the transitional ID */
#define IFCVF_BLK_MODERN_DEVICE_ID	0x1042
#define IFCVF_BLK_TRANSITIONAL_DEVICE_ID 0x1001
#define IFCVF_SUBSYS_BLK_DEVICE_ID	0x0002	/* with either blk ID */

#define IFCVF_MAX_QUEUE_PAIRS		32
#define IFCVF_MAX_QUEUES		(IFCVF_MAX_QUEUE_PAIRS * 2)
#define IFCVF_MAX_QUEUE_SIZE		32768
#define IFCVF_MSI_NO_VECTOR		0xffff

/* IFCVF's live-migration block in BAR4. */
#define IFCVF_LM_BAR			4
#define IFCVF_LM_LOGGING_CTRL		0x00
#define IFCVF_LM_LOGGING_OFF		0x0
#define IFCVF_LM_LOGGING_ON_VF		0x1
#define IFCVF_LM_BASE_ADDR_LOW		0x10
#define IFCVF_LM_BASE_ADDR_HIGH		0x14
#define IFCVF_LM_END_ADDR_LOW		0x18
#define IFCVF_LM_END_ADDR_HIGH		0x1c
#define IFCVF_LM_RING_STATE_OFFSET	0x20
#define IFCVF_LM_CFG_SIZE		0x40
#define IFCVF_LM_MQ_OFFSET		0x28
/* Offset of the ring-state register of queue @q in the LM block. */
#define IFCVF_LM_RING_STATE(q) \
	(IFCVF_LM_RING_STATE_OFFSET + ((q) / 2) * IFCVF_LM_CFG_SIZE + \
	 ((q) % 2) * 4)
/* A block device's queues have a ring-state register block each. */
#define IFCVF_LM_BLK_RING_STATE(q) \
	(IFCVF_LM_RING_STATE_OFFSET + (q) * IFCVF_LM_CFG_SIZE)

/* Bounds of the waits the HW layer does; a device past them is an error. */
#define IFCVF_RESET_TIMEOUT_MS		1000
#define IFCVF_QUEUE_DISABLE_TIMEOUT_MS	100

/* Where one virtio structure lives: a window of a BAR. */
struct ifcvf_region {
	uint8_t bar;
	uint32_t off;
	uint32_t len;
};

enum ifcvf_profile {
	IFCVF_PROFILE_IFCVF,	/* Intel FPGA 100G VF: LM block in BAR4 */
	IFCVF_PROFILE_VIRTIO,	/* any other virtio-1.0 net VF */
};

/* The virtio device type, by PCI device ID. */
enum ifcvf_dev_type {
	IFCVF_DEV_NET,		/* 0x1041, 0x1000 and any other ID */
	IFCVF_DEV_BLK,		/* 0x1042, 0x1001 */
};

/* One virtqueue as the driver wants it programmed. */
struct ifcvf_vring {
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint16_t size;
	uint16_t vector;	/* MSI-X vector, IFCVF_MSI_NO_VECTOR for none */
	uint16_t last_avail_idx;
	uint16_t last_used_idx;
	bool enable;
};

struct ifcvf_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
};

/*
 * struct virtio_blk_config up to write_zeroes_may_unmap and its padding:
 * what a virtio 1.1 frontend (QEMU 7.2) asks for.
 */
#define IFCVF_BLK_CFG_LEN		60

/*
 * A block device's config, read in one config generation. raw[] is the
 * config space as the device shows it (little-endian), with every field
 * whose feature the device does not offer left zero; the fields below are
 * its checked values (0 when not offered, num_queues 1 without MQ).
 */
struct ifcvf_blk_config {
	uint8_t raw[IFCVF_BLK_CFG_LEN];
	uint64_t capacity;	/* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint32_t blk_size;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
};

struct ifcvf_hw {
	struct ifcvf_io io;
	uint16_t vendor_id;
	uint16_t device_id;
	uint16_t subsys_vendor_id;
	uint16_t subsys_device_id;
	enum ifcvf_dev_type dev_type;
	enum ifcvf_profile profile;
	bool has_lm;		/* HW dirty logging and ring-state registers */

	struct ifcvf_region common;
	struct ifcvf_region notify;
	struct ifcvf_region isr;
	struct ifcvf_region device;
	uint32_t notify_off_multiplier;

	/* Data queues, at most IFCVF_MAX_QUEUES: pairs for net. */
	uint16_t nr_vring;
	uint16_t config_vector;
	uint64_t dev_features;	/* what the device offers */
	uint64_t features;	/* what was negotiated */
	uint16_t notify_off[IFCVF_MAX_QUEUES];
};

/*
 * Walk the config space of the device behind @io, find its virtio
 * structures and decide whether BAR4 is an IFCVF LM block.
 * Returns 0, or a negative errno with the reason logged. Part of the
 * driver's bus interface (ifcvf_bus.h): an internal symbol.
 */
__rte_internal
int ifcvf_hw_init(struct ifcvf_hw *hw, const struct ifcvf_io *io);

uint8_t ifcvf_hw_get_status(struct ifcvf_hw *hw);
/* Write 0 to device_status and wait (bounded) until it reads back 0. */
int ifcvf_hw_reset(struct ifcvf_hw *hw);
uint64_t ifcvf_hw_get_features(struct ifcvf_hw *hw);
/*
 * ACK, DRIVER, write @wanted & device features (VERSION_1 or not: a
 * legacy frontend's set is written as it is), FEATURES_OK check; a
 * refusal is logged with the features' names.
 */
int ifcvf_hw_negotiate(struct ifcvf_hw *hw, uint64_t wanted);

/*
 * The HW layer keeps no queue state: each call is given the rings it
 * programs (@vr, or @vrings: hw->nr_vring entries, those marked enable
 * programmed) and writes back only the ring state it reads from the
 * device, into the @vr or @vrings it is given to save into.
 */

/* The largest ring queue @qid takes (its queue_size register). */
uint16_t ifcvf_hw_queue_size_max(struct ifcvf_hw *hw, uint16_t qid);
/* Program queue @qid as @vr says and enable it. */
int ifcvf_hw_queue_enable(struct ifcvf_hw *hw, uint16_t qid,
			  const struct ifcvf_vring *vr);
/* Disable queue @qid; with an LM block, its ring state into @vr. */
int ifcvf_hw_queue_disable(struct ifcvf_hw *hw, uint16_t qid,
			   struct ifcvf_vring *vr);

/*
 * Reset, negotiate @features, set the config vector, program and enable
 * every one of @vrings marked enable, then DRIVER_OK.
 */
int ifcvf_hw_start(struct ifcvf_hw *hw, uint64_t features,
		   const struct ifcvf_vring *vrings);
/*
 * Disable every queue (saving the ring state of each into @vrings) and
 * reset. Bit q of *@lost (if not NULL) is set when queue q did not stop:
 * its ring state is unknown.
 */
int ifcvf_hw_stop(struct ifcvf_hw *hw, struct ifcvf_vring *vrings,
		  uint64_t *lost);

/*
 * Tell the device (LM block only) how many queues it serves: up to the
 * highest of @vrings marked enable, counted in pairs for net, in queues
 * for blk.
 */
void ifcvf_hw_set_mq(struct ifcvf_hw *hw, const struct ifcvf_vring *vrings);

/* Ring state through the LM block: -ENOTSUP without one. */
int ifcvf_hw_ring_state_save(struct ifcvf_hw *hw, uint16_t qid,
			     struct ifcvf_vring *vr);
int ifcvf_hw_ring_state_restore(struct ifcvf_hw *hw, uint16_t qid,
				const struct ifcvf_vring *vr);

/* HW dirty logging into [base, base + size) of the device's IOVA space. */
int ifcvf_hw_log_enable(struct ifcvf_hw *hw, uint64_t base, uint64_t size);
int ifcvf_hw_log_disable(struct ifcvf_hw *hw);

void ifcvf_hw_notify(struct ifcvf_hw *hw, uint16_t qid);
/* Offset of queue @qid's doorbell in the notify BAR. */
uint64_t ifcvf_hw_notify_offset(const struct ifcvf_hw *hw, uint16_t qid);
/*
 * Whether queue @qid's doorbell has a @page_size page of its BAR to
 * itself (no other doorbell, no other register): only then may a
 * frontend map it.
 */
bool ifcvf_hw_doorbell_page_own(const struct ifcvf_hw *hw, uint16_t qid,
				uint64_t page_size);
uint8_t ifcvf_hw_read_isr(struct ifcvf_hw *hw);

int ifcvf_hw_read_net_config(struct ifcvf_hw *hw,
			     struct ifcvf_net_config *cfg);
/*
 * Read a block device's config with natural-width accesses, within one
 * config generation (-EAGAIN if it keeps changing), and check it: a field
 * an offered feature needs lies inside the device region, capacity fits
 * in bytes, blk_size is a power of two in 512..65536, seg_max and size_max
 * are not 0, num_queues is 1..nr_vring. -EINVAL with the reason logged.
 */
int ifcvf_hw_read_blk_config(struct ifcvf_hw *hw,
			     struct ifcvf_blk_config *cfg);

#endif /* IFCVF_HW_H */
