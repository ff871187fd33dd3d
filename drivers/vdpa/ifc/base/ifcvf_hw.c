/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "ifcvf_hw.h"
#include "ifcvf_osdep.h"

#define PCI_CFG_HDR_END		0x40
#define PCI_CFG_STD_SIZE	0x100
#define VIRTIO_COMMON_CFG_LEN	0x38	/* up to queue_used_hi */
#define VIRTIO_NET_CFG_LEN	10	/* mac, status, max_virtqueue_pairs */
#define VIRTIO_BLK_CFG_MIN_LEN	8	/* capacity */
#define BLK_SECTOR_SHIFT	9
#define BLK_SIZE_MIN		512
#define BLK_SIZE_MAX		65536
#define CFG_GENERATION_TRIES	16

/* Register access: every read and write goes through the io ops. */

static uint32_t
hw_region_read(struct ifcvf_hw *hw, const struct ifcvf_region *r, uint32_t off,
	       uint8_t width)
{
	return hw->io.ops->read(hw->io.ctx, r->bar, (uint64_t)r->off + off,
				width);
}

static void
hw_region_write(struct ifcvf_hw *hw, const struct ifcvf_region *r, uint32_t off,
		uint8_t width, uint32_t val)
{
	hw->io.ops->write(hw->io.ctx, r->bar, (uint64_t)r->off + off, width,
			  val);
}

static uint32_t
hw_common_read(struct ifcvf_hw *hw, uint32_t off, uint8_t width)
{
	return hw_region_read(hw, &hw->common, off, width);
}

static void
hw_common_write(struct ifcvf_hw *hw, uint32_t off, uint8_t width, uint32_t val)
{
	hw_region_write(hw, &hw->common, off, width, val);
}

static void
hw_common_write64(struct ifcvf_hw *hw, uint32_t off_lo, uint64_t val)
{
	hw_common_write(hw, off_lo, 4, (uint32_t)val);
	hw_common_write(hw, off_lo + 4, 4, (uint32_t)(val >> 32));
}

static uint32_t
hw_lm_read(struct ifcvf_hw *hw, uint32_t off)
{
	return hw->io.ops->read(hw->io.ctx, IFCVF_LM_BAR, off, 4);
}

static void
hw_lm_write(struct ifcvf_hw *hw, uint32_t off, uint32_t val)
{
	hw->io.ops->write(hw->io.ctx, IFCVF_LM_BAR, off, 4, val);
}

/* The config-space walk. */

static int
hw_cfg_read(struct ifcvf_hw *hw, void *buf, uint32_t len, uint32_t off)
{
	int ret = hw->io.ops->cfg_read(hw->io.ctx, buf, len, off);

	if (ret < 0)
		IFCVF_LOG(ERR, "config space read of %u bytes at 0x%x failed: %d",
			  len, off, ret);
	return ret < 0 ? ret : 0;
}

static int
hw_read_ids(struct ifcvf_hw *hw)
{
	uint16_t ids[2];
	uint16_t subsys[2];
	int ret;

	ret = hw_cfg_read(hw, ids, sizeof(ids), PCI_VENDOR_ID);
	if (ret == 0)
		ret = hw_cfg_read(hw, subsys, sizeof(subsys),
				  PCI_SUBSYSTEM_VENDOR_ID);
	if (ret < 0)
		return ret;
	hw->vendor_id = ids[0];
	hw->device_id = ids[1];
	hw->subsys_vendor_id = subsys[0];
	hw->subsys_device_id = subsys[1];
	hw->dev_type = hw->device_id == IFCVF_BLK_MODERN_DEVICE_ID ||
		       hw->device_id == IFCVF_BLK_TRANSITIONAL_DEVICE_ID ?
		       IFCVF_DEV_BLK : IFCVF_DEV_NET;
	return 0;
}

static const char *
hw_cap_name(uint8_t type)
{
	switch (type) {
	case VIRTIO_PCI_CAP_COMMON_CFG:
		return "common cfg";
	case VIRTIO_PCI_CAP_NOTIFY_CFG:
		return "notify";
	case VIRTIO_PCI_CAP_ISR_CFG:
		return "ISR";
	case VIRTIO_PCI_CAP_DEVICE_CFG:
		return "device cfg";
	default:
		return "other";
	}
}

/* Check that a capability's window lies inside an existing BAR. */
static int
hw_check_region(const struct ifcvf_hw *hw, const struct virtio_pci_cap *cap,
		uint32_t pos, uint32_t min_len)
{
	const char *name = hw_cap_name(cap->cfg_type);

	if (cap->bar >= IFCVF_PCI_MAX_BAR) {
		IFCVF_LOG(ERR, "%s capability at 0x%x: BAR index %u out of range",
			  name, pos, cap->bar);
		return -EINVAL;
	}
	if (hw->io.bar_len[cap->bar] == 0) {
		IFCVF_LOG(ERR, "%s capability at 0x%x: BAR%u is absent",
			  name, pos, cap->bar);
		return -EINVAL;
	}
	if ((uint64_t)cap->offset + cap->length > hw->io.bar_len[cap->bar]) {
		IFCVF_LOG(ERR, "%s capability at 0x%x: 0x%x + 0x%x is beyond BAR%u (0x%" PRIx64 ")",
			  name, pos, cap->offset, cap->length, cap->bar,
			  hw->io.bar_len[cap->bar]);
		return -EINVAL;
	}
	if (cap->length < min_len) {
		IFCVF_LOG(ERR, "%s capability at 0x%x: length 0x%x below 0x%x",
			  name, pos, cap->length, min_len);
		return -EINVAL;
	}
	return 0;
}

static void
hw_set_region(struct ifcvf_region *r, const struct virtio_pci_cap *cap)
{
	r->bar = cap->bar;
	r->off = cap->offset;
	r->len = cap->length;
}

/* What the capability walk found. */
struct cap_walk {
	uint32_t found;		/* bit per VIRTIO_PCI_CAP_* type taken */
	bool virtio_in_bar4;	/* rules out an LM block there */
};

/* Take one virtio vendor capability at @pos; the first of each type wins. */
static int
hw_take_virtio_cap(struct ifcvf_hw *hw, uint32_t pos, uint8_t cap_len,
		   struct cap_walk *walk)
{
	struct virtio_pci_cap cap;
	struct ifcvf_region *r;
	uint32_t min_len;
	int ret;

	if (cap_len < sizeof(cap) || pos + cap_len > PCI_CFG_STD_SIZE) {
		IFCVF_LOG(ERR, "vendor capability at 0x%x: bad length %u",
			  pos, cap_len);
		return -EINVAL;
	}
	ret = hw_cfg_read(hw, &cap, sizeof(cap), pos);
	if (ret < 0)
		return ret;

	switch (cap.cfg_type) {
	case VIRTIO_PCI_CAP_COMMON_CFG:
		r = &hw->common;
		min_len = VIRTIO_COMMON_CFG_LEN;
		break;
	case VIRTIO_PCI_CAP_NOTIFY_CFG:
		r = &hw->notify;
		min_len = 2;
		break;
	case VIRTIO_PCI_CAP_ISR_CFG:
		r = &hw->isr;
		min_len = 1;
		break;
	case VIRTIO_PCI_CAP_DEVICE_CFG:
		r = &hw->device;
		min_len = hw->dev_type == IFCVF_DEV_BLK ?
			  VIRTIO_BLK_CFG_MIN_LEN : VIRTIO_NET_CFG_LEN;
		break;
	default:
		return 0;	/* PCI cfg access, shared memory, ...: unused */
	}
	if (cap.bar == IFCVF_LM_BAR)
		walk->virtio_in_bar4 = true;
	if (walk->found & (1u << cap.cfg_type))
		return 0;

	ret = hw_check_region(hw, &cap, pos, min_len);
	if (ret < 0)
		return ret;
	if (cap.cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
		if (cap_len < sizeof(struct virtio_pci_notify_cap)) {
			IFCVF_LOG(ERR, "notify capability at 0x%x: length %u has no multiplier",
				  pos, cap_len);
			return -EINVAL;
		}
		ret = hw_cfg_read(hw, &hw->notify_off_multiplier,
				  sizeof(hw->notify_off_multiplier),
				  pos + sizeof(cap));
		if (ret < 0)
			return ret;
	}
	hw_set_region(r, &cap);
	walk->found |= 1u << cap.cfg_type;
	return 0;
}

/*
 * Walk the capability list. Each pointer is checked against the
 * standard config space and each position is visited at most once, so a
 * loop or a wild pointer ends the walk with an error.
 */
static int
hw_walk_caps(struct ifcvf_hw *hw, struct cap_walk *walk)
{
	uint8_t visited[PCI_CFG_STD_SIZE / 4] = { 0 };
	uint16_t status;
	uint8_t pos, hdr[3];
	int ret;

	ret = hw_cfg_read(hw, &status, sizeof(status), PCI_STATUS);
	if (ret < 0)
		return ret;
	if (!(status & PCI_STATUS_CAP_LIST)) {
		IFCVF_LOG(ERR, "device has no capability list");
		return -ENODEV;
	}
	ret = hw_cfg_read(hw, &pos, 1, PCI_CAPABILITY_LIST);
	while (ret == 0 && pos != 0) {
		if (pos < PCI_CFG_HDR_END || pos > PCI_CFG_STD_SIZE - 4 ||
		    (pos & 3) != 0) {
			IFCVF_LOG(ERR, "capability pointer 0x%x out of range", pos);
			return -EINVAL;
		}
		if (visited[pos / 4]++) {
			IFCVF_LOG(ERR, "capability list loops at 0x%x", pos);
			return -ELOOP;
		}
		ret = hw_cfg_read(hw, hdr, sizeof(hdr), pos);
		if (ret == 0 && hdr[0] == PCI_CAP_ID_VNDR)
			ret = hw_take_virtio_cap(hw, pos, hdr[2], walk);
		pos = hdr[1];
	}
	return ret;
}

static int
hw_check_required_caps(uint32_t found)
{
	static const uint8_t required[] = {
		VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG,
		VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_DEVICE_CFG,
	};
	unsigned int i;

	for (i = 0; i < RTE_DIM(required); i++) {
		if (!(found & (1u << required[i]))) {
			IFCVF_LOG(ERR, "no valid %s capability",
				  hw_cap_name(required[i]));
			return -ENODEV;
		}
	}
	return 0;
}

/* Read each data queue's doorbell offset and check it lies in the region. */
static int
hw_read_queue_layout(struct ifcvf_hw *hw)
{
	uint16_t num = hw_common_read(hw, VIRTIO_PCI_COMMON_NUMQ, 2);
	uint64_t off;
	uint16_t q;

	/* A net control queue, when present, is the odd one out. */
	if (hw->dev_type == IFCVF_DEV_NET)
		num &= ~1u;
	hw->nr_vring = RTE_MIN(num, (uint16_t)IFCVF_MAX_QUEUES);
	if (hw->nr_vring == 0) {
		IFCVF_LOG(ERR, "device reports %u queues", num);
		return -ENODEV;
	}
	for (q = 0; q < hw->nr_vring; q++) {
		hw_common_write(hw, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		hw->notify_off[q] = hw_common_read(hw, VIRTIO_PCI_COMMON_Q_NOFF,
						   2);
		off = (uint64_t)hw->notify_off[q] * hw->notify_off_multiplier;
		if (off + 2 > hw->notify.len) {
			IFCVF_LOG(ERR, "queue %u doorbell 0x%" PRIx64 " beyond notify region (0x%x)",
				  q, off, hw->notify.len);
			return -EINVAL;
		}
	}
	return 0;
}

/* The IFCVF subsystem device ID that goes with the device ID, 0 if none. */
static uint16_t
hw_subsys_of(uint16_t device_id)
{
	switch (device_id) {
	case IFCVF_NET_MODERN_DEVICE_ID:
		return IFCVF_SUBSYS_DEVICE_ID;
	case IFCVF_NET_TRANSITIONAL_DEVICE_ID:
		return IFCVF_SUBSYS_NET_DEVICE_ID;
	case IFCVF_BLK_MODERN_DEVICE_ID:
	case IFCVF_BLK_TRANSITIONAL_DEVICE_ID:
		return IFCVF_SUBSYS_BLK_DEVICE_ID;
	default:
		return 0;
	}
}

static bool
hw_is_ifcvf(const struct ifcvf_hw *hw)
{
	uint16_t subsys = hw_subsys_of(hw->device_id);

	return hw->vendor_id == IFCVF_VENDOR_ID && subsys != 0 &&
	       hw->subsys_vendor_id == IFCVF_SUBSYS_VENDOR_ID &&
	       hw->subsys_device_id == subsys;
}

/* Offset of queue @qid's ring-state register in the LM block. */
static uint32_t
hw_lm_ring_state_off(const struct ifcvf_hw *hw, uint16_t qid)
{
	return hw->dev_type == IFCVF_DEV_BLK ? IFCVF_LM_BLK_RING_STATE(qid) :
	       IFCVF_LM_RING_STATE(qid);
}

/* BAR4 is an LM block only on an IFCVF, when no virtio structure is there. */
static void
hw_detect_lm(struct ifcvf_hw *hw, bool virtio_in_bar4)
{
	uint64_t need = hw_lm_ring_state_off(hw, hw->nr_vring - 1) + 4;

	hw->profile = hw_is_ifcvf(hw) ? IFCVF_PROFILE_IFCVF :
				       IFCVF_PROFILE_VIRTIO;
	hw->has_lm = hw->profile == IFCVF_PROFILE_IFCVF && !virtio_in_bar4 &&
		     hw->io.bar_len[IFCVF_LM_BAR] >= need;
	if (!hw->has_lm)
		IFCVF_LOG(INFO, "%04x:%04x (subsystem %04x:%04x): no HW dirty logging",
			  hw->vendor_id, hw->device_id, hw->subsys_vendor_id,
			  hw->subsys_device_id);
}

int
ifcvf_hw_init(struct ifcvf_hw *hw, const struct ifcvf_io *io)
{
	struct cap_walk walk = { 0 };
	int ret;

	memset(hw, 0, sizeof(*hw));
	hw->io = *io;
	hw->config_vector = IFCVF_MSI_NO_VECTOR;

	ret = hw_read_ids(hw);
	if (ret == 0)
		ret = hw_walk_caps(hw, &walk);
	if (ret == 0)
		ret = hw_check_required_caps(walk.found);
	if (ret == 0)
		ret = hw_read_queue_layout(hw);
	if (ret < 0)
		return ret;
	hw_detect_lm(hw, walk.virtio_in_bar4);
	hw->dev_features = ifcvf_hw_get_features(hw);
	IFCVF_LOG(DEBUG, "%u queues, features 0x%" PRIx64 ", notify multiplier %u",
		  hw->nr_vring, hw->dev_features, hw->notify_off_multiplier);
	return 0;
}

/* Status and features. */

uint8_t
ifcvf_hw_get_status(struct ifcvf_hw *hw)
{
	return hw_common_read(hw, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void
hw_add_status(struct ifcvf_hw *hw, uint8_t bits)
{
	hw_common_write(hw, VIRTIO_PCI_COMMON_STATUS, 1,
			ifcvf_hw_get_status(hw) | bits);
}

int
ifcvf_hw_reset(struct ifcvf_hw *hw)
{
	unsigned int waited;

	hw_common_write(hw, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	for (waited = 0; ifcvf_hw_get_status(hw) != 0; waited++) {
		if (waited >= IFCVF_RESET_TIMEOUT_MS) {
			IFCVF_LOG(ERR, "device did not reset within %u ms",
				  IFCVF_RESET_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		ifcvf_msleep(1);
	}
	return 0;
}

uint64_t
ifcvf_hw_get_features(struct ifcvf_hw *hw)
{
	uint64_t lo, hi;

	hw_common_write(hw, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	lo = hw_common_read(hw, VIRTIO_PCI_COMMON_DF, 4);
	hw_common_write(hw, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	hi = hw_common_read(hw, VIRTIO_PCI_COMMON_DF, 4);
	return hi << 32 | lo;
}

static int
hw_check_status(struct ifcvf_hw *hw, const char *step)
{
	uint8_t status = ifcvf_hw_get_status(hw);

	if (status & (VIRTIO_CONFIG_S_FAILED | VIRTIO_CONFIG_S_NEEDS_RESET)) {
		IFCVF_LOG(ERR, "device status 0x%x after %s", status, step);
		return -EIO;
	}
	return 0;
}

/*
 * DRIVER_OK read back: a device that dropped it, failed or is gone (all
 * ones) did not start. NEEDS_RESET is no failed start: a device that
 * finds a malformed ring sets it as soon as it runs, before this read or
 * after as its timing goes; it is the guest's ring, and the config
 * interrupt reports it.
 */
static int
hw_check_started(struct ifcvf_hw *hw)
{
	uint8_t status = ifcvf_hw_get_status(hw);

	if (status == 0xff || (status & VIRTIO_CONFIG_S_FAILED) ||
	    !(status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		IFCVF_LOG(ERR, "device status 0x%x after DRIVER_OK", status);
		return -EIO;
	}
	return 0;
}

/* The name of feature bit @b for this device's type, NULL if unknown. */
static const char *
hw_feature_name(const struct ifcvf_hw *hw, unsigned int b)
{
	static const char *const transport[64] = {
		[VIRTIO_F_NOTIFY_ON_EMPTY] = "NOTIFY_ON_EMPTY",
		[VIRTIO_F_ANY_LAYOUT] = "ANY_LAYOUT",
		[VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
		[VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
		[VIRTIO_F_VERSION_1] = "VERSION_1",
		[VIRTIO_F_ACCESS_PLATFORM] = "ACCESS_PLATFORM",
		[VIRTIO_F_RING_PACKED] = "RING_PACKED",
	};
	static const char *const net[64] = {
		[VIRTIO_NET_F_CSUM] = "CSUM",
		[VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
		[VIRTIO_NET_F_MTU] = "MTU",
		[VIRTIO_NET_F_MAC] = "MAC",
		[VIRTIO_NET_F_GUEST_TSO4] = "GUEST_TSO4",
		[VIRTIO_NET_F_GUEST_TSO6] = "GUEST_TSO6",
		[VIRTIO_NET_F_HOST_TSO4] = "HOST_TSO4",
		[VIRTIO_NET_F_HOST_TSO6] = "HOST_TSO6",
		[VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
		[VIRTIO_NET_F_STATUS] = "STATUS",
		[VIRTIO_NET_F_CTRL_VQ] = "CTRL_VQ",
		[VIRTIO_NET_F_GUEST_ANNOUNCE] = "GUEST_ANNOUNCE",
		[VIRTIO_NET_F_MQ] = "MQ",
	};
	static const char *const blk[64] = {
		[VIRTIO_BLK_F_SIZE_MAX] = "SIZE_MAX",
		[VIRTIO_BLK_F_SEG_MAX] = "SEG_MAX",
		[VIRTIO_BLK_F_GEOMETRY] = "GEOMETRY",
		[VIRTIO_BLK_F_RO] = "RO",
		[VIRTIO_BLK_F_BLK_SIZE] = "BLK_SIZE",
		[VIRTIO_BLK_F_FLUSH] = "FLUSH",
		[VIRTIO_BLK_F_TOPOLOGY] = "TOPOLOGY",
		[VIRTIO_BLK_F_CONFIG_WCE] = "CONFIG_WCE",
		[VIRTIO_BLK_F_MQ] = "MQ",
		[VIRTIO_BLK_F_DISCARD] = "DISCARD",
		[VIRTIO_BLK_F_WRITE_ZEROES] = "WRITE_ZEROES",
	};

	if (transport[b] != NULL)
		return transport[b];
	return hw->dev_type == IFCVF_DEV_BLK ? blk[b] : net[b];
}

/*
 * The names of the set bits of @features that a refusal is about, into
 * @buf: "VERSION_1 MRG_RXBUF ... bit40".
 */
static const char *
hw_feature_names(const struct ifcvf_hw *hw, uint64_t features, char *buf,
		 size_t len)
{
	const char *name;
	size_t n = 0;
	unsigned int b;

	buf[0] = '\0';
	for (b = 0; b < 64 && n < len; b++) {
		if (!(features & (1ULL << b)))
			continue;
		name = hw_feature_name(hw, b);
		if (name != NULL)
			n += snprintf(buf + n, len - n, "%s%s",
				      n > 0 ? " " : "", name);
		else
			n += snprintf(buf + n, len - n, "%sbit%u",
				      n > 0 ? " " : "", b);
	}
	return buf;
}

/*
 * The features are written as they are, with or without VERSION_1: a
 * legacy (virtio 0.95) frontend's set is the device's too. vhost-user
 * gives every ring address explicitly, so the legacy ring layout needs
 * nothing of the device; the net header length follows the features
 * (10 bytes without VERSION_1 and MRG_RXBUF, else 12) on the device side.
 */
int
ifcvf_hw_negotiate(struct ifcvf_hw *hw, uint64_t wanted)
{
	uint64_t features = wanted & ifcvf_hw_get_features(hw);
	char names[512];

	hw_add_status(hw, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	hw_add_status(hw, VIRTIO_CONFIG_S_DRIVER);
	hw_common_write(hw, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	hw_common_write(hw, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	hw_common_write(hw, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	hw_common_write(hw, VIRTIO_PCI_COMMON_GF, 4,
			(uint32_t)(features >> 32));
	hw_add_status(hw, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(ifcvf_hw_get_status(hw) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		IFCVF_LOG(ERR, "device refused FEATURES_OK for features 0x%"
			  PRIx64 " (%s)%s", features,
			  hw_feature_names(hw, features, names, sizeof(names)),
			  (features & (1ULL << VIRTIO_F_VERSION_1)) ? "" :
			  ": a legacy (virtio 0.95) set, without VERSION_1");
		return -EIO;
	}
	hw->features = features;
	return hw_check_status(hw, "feature negotiation");
}

/* Queues. */

uint16_t
ifcvf_hw_queue_size_max(struct ifcvf_hw *hw, uint16_t qid)
{
	hw_common_write(hw, VIRTIO_PCI_COMMON_Q_SELECT, 2, qid);
	return hw_common_read(hw, VIRTIO_PCI_COMMON_Q_SIZE, 2);
}

/* Leaves queue @qid selected. */
static int
hw_check_vring(struct ifcvf_hw *hw, uint16_t qid, const struct ifcvf_vring *vr)
{
	uint16_t max = ifcvf_hw_queue_size_max(hw, qid);

	if (vr->size == 0 || (vr->size & (vr->size - 1)) != 0 ||
	    vr->size > max) {
		IFCVF_LOG(ERR, "queue %u: size %u is not a power of two <= %u",
			  qid, vr->size, max);
		return -EINVAL;
	}
	return 0;
}

static int
hw_set_vector(struct ifcvf_hw *hw, uint32_t reg, uint16_t vector)
{
	hw_common_write(hw, reg, 2, vector);
	if (vector != IFCVF_MSI_NO_VECTOR &&
	    hw_common_read(hw, reg, 2) == IFCVF_MSI_NO_VECTOR) {
		IFCVF_LOG(ERR, "device refused MSI-X vector %u", vector);
		return -EIO;
	}
	return 0;
}

int
ifcvf_hw_queue_enable(struct ifcvf_hw *hw, uint16_t qid,
		      const struct ifcvf_vring *vr)
{
	int ret;

	if (qid >= hw->nr_vring)
		return -EINVAL;
	ret = hw_check_vring(hw, qid, vr);	/* selects qid */
	if (ret < 0)
		return ret;
	hw_common_write(hw, VIRTIO_PCI_COMMON_Q_SIZE, 2, vr->size);
	ret = hw_set_vector(hw, VIRTIO_PCI_COMMON_Q_MSIX, vr->vector);
	if (ret < 0)
		return ret;
	hw_common_write64(hw, VIRTIO_PCI_COMMON_Q_DESCLO, vr->desc);
	hw_common_write64(hw, VIRTIO_PCI_COMMON_Q_AVAILLO, vr->avail);
	hw_common_write64(hw, VIRTIO_PCI_COMMON_Q_USEDLO, vr->used);
	if (hw->has_lm)
		ifcvf_hw_ring_state_restore(hw, qid, vr);
	hw_common_write(hw, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	if (hw_common_read(hw, VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 1) {
		IFCVF_LOG(ERR, "queue %u did not enable", qid);
		return -EIO;
	}
	return 0;
}

int
ifcvf_hw_queue_disable(struct ifcvf_hw *hw, uint16_t qid,
		       struct ifcvf_vring *vr)
{
	unsigned int waited;

	if (qid >= hw->nr_vring)
		return -EINVAL;
	hw_common_write(hw, VIRTIO_PCI_COMMON_Q_SELECT, 2, qid);
	hw_common_write(hw, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	/* The device saves the ring state once the queue has stopped. */
	for (waited = 0; hw_common_read(hw, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
	     waited++) {
		if (waited >= IFCVF_QUEUE_DISABLE_TIMEOUT_MS) {
			IFCVF_LOG(ERR, "queue %u did not stop within %u ms",
				  qid, IFCVF_QUEUE_DISABLE_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		ifcvf_msleep(1);
	}
	return hw->has_lm ? ifcvf_hw_ring_state_save(hw, qid, vr) : 0;
}

/* Queues (blk) or queue pairs (net) up to the highest one enabled. */
static uint16_t
hw_active_mq(const struct ifcvf_hw *hw, const struct ifcvf_vring *vrings)
{
	uint16_t q, n = 0;

	for (q = 0; q < hw->nr_vring; q++)
		if (vrings[q].enable)
			n = hw->dev_type == IFCVF_DEV_BLK ? q + 1 : q / 2 + 1;
	return n;
}

static int
hw_start_queues(struct ifcvf_hw *hw, const struct ifcvf_vring *vrings)
{
	uint16_t q;
	int ret;

	ifcvf_hw_set_mq(hw, vrings);
	for (q = 0; q < hw->nr_vring; q++) {
		if (!vrings[q].enable)
			continue;
		ret = ifcvf_hw_queue_enable(hw, q, &vrings[q]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int
ifcvf_hw_start(struct ifcvf_hw *hw, uint64_t features,
	       const struct ifcvf_vring *vrings)
{
	int ret;

	ret = ifcvf_hw_reset(hw);
	if (ret < 0)
		return ret;
	ret = ifcvf_hw_negotiate(hw, features);
	if (ret == 0)
		ret = hw_set_vector(hw, VIRTIO_PCI_COMMON_MSIX,
				    hw->config_vector);
	if (ret == 0)
		ret = hw_start_queues(hw, vrings);
	if (ret == 0) {
		hw_add_status(hw, VIRTIO_CONFIG_S_DRIVER_OK);
		ret = hw_check_started(hw);
	}
	if (ret < 0)
		ifcvf_hw_reset(hw);
	return ret;
}

int
ifcvf_hw_stop(struct ifcvf_hw *hw, struct ifcvf_vring *vrings,
	      uint64_t *lost)
{
	int ret = 0, r;
	uint16_t q;

	if (lost != NULL)
		*lost = 0;

	hw_common_write(hw, VIRTIO_PCI_COMMON_MSIX, 2, IFCVF_MSI_NO_VECTOR);
	/*
	 * Only an IFCVF stops one queue (and saves its ring state): virtio
	 * 1.0 forbids writing 0 to queue_enable, the reset stops them all.
	 */
	for (q = 0; q < hw->nr_vring && hw->has_lm; q++) {
		hw_common_write(hw, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		if (!hw_common_read(hw, VIRTIO_PCI_COMMON_Q_ENABLE, 2))
			continue;
		r = ifcvf_hw_queue_disable(hw, q, &vrings[q]);
		if (r < 0 && lost != NULL)
			*lost |= 1ULL << q;
		if (r < 0 && ret == 0)
			ret = r;
	}
	r = ifcvf_hw_reset(hw);
	return ret < 0 ? ret : r;
}

/* The LM block. */

void
ifcvf_hw_set_mq(struct ifcvf_hw *hw, const struct ifcvf_vring *vrings)
{
	if (hw->has_lm)
		hw_lm_write(hw, IFCVF_LM_MQ_OFFSET, hw_active_mq(hw, vrings));
}

int
ifcvf_hw_ring_state_save(struct ifcvf_hw *hw, uint16_t qid,
			 struct ifcvf_vring *vr)
{
	uint32_t state;

	if (!hw->has_lm)
		return -ENOTSUP;
	if (qid >= hw->nr_vring)
		return -EINVAL;
	state = hw_lm_read(hw, hw_lm_ring_state_off(hw, qid));
	vr->last_avail_idx = (uint16_t)state;
	vr->last_used_idx = (uint16_t)(state >> 16);
	return 0;
}

int
ifcvf_hw_ring_state_restore(struct ifcvf_hw *hw, uint16_t qid,
			    const struct ifcvf_vring *vr)
{
	if (!hw->has_lm)
		return -ENOTSUP;
	if (qid >= hw->nr_vring)
		return -EINVAL;
	hw_lm_write(hw, hw_lm_ring_state_off(hw, qid),
		    vr->last_avail_idx | (uint32_t)vr->last_used_idx << 16);
	return 0;
}

int
ifcvf_hw_log_enable(struct ifcvf_hw *hw, uint64_t base, uint64_t size)
{
	uint64_t end = base + size;

	if (!hw->has_lm)
		return -ENOTSUP;
	if (size == 0 || end < base)
		return -EINVAL;
	hw_lm_write(hw, IFCVF_LM_BASE_ADDR_LOW, (uint32_t)base);
	hw_lm_write(hw, IFCVF_LM_BASE_ADDR_HIGH, (uint32_t)(base >> 32));
	hw_lm_write(hw, IFCVF_LM_END_ADDR_LOW, (uint32_t)end);
	hw_lm_write(hw, IFCVF_LM_END_ADDR_HIGH, (uint32_t)(end >> 32));
	hw_lm_write(hw, IFCVF_LM_LOGGING_CTRL, IFCVF_LM_LOGGING_ON_VF);
	return 0;
}

int
ifcvf_hw_log_disable(struct ifcvf_hw *hw)
{
	if (!hw->has_lm)
		return -ENOTSUP;
	hw_lm_write(hw, IFCVF_LM_LOGGING_CTRL, IFCVF_LM_LOGGING_OFF);
	/*
	 * A read flushes the posted write: the caller may unmap the log
	 * once this returns, with the device running.
	 */
	hw_lm_read(hw, IFCVF_LM_LOGGING_CTRL);
	return 0;
}

/* Doorbells, ISR, device config. */

uint64_t
ifcvf_hw_notify_offset(const struct ifcvf_hw *hw, uint16_t qid)
{
	return hw->notify.off +
	       (uint64_t)hw->notify_off[qid] * hw->notify_off_multiplier;
}

static bool
hw_region_in_page(const struct ifcvf_region *r, uint8_t bar, uint64_t page,
		  uint64_t page_size)
{
	return r->len != 0 && r->bar == bar && r->off < page + page_size &&
	       page < (uint64_t)r->off + r->len;
}

bool
ifcvf_hw_doorbell_page_own(const struct ifcvf_hw *hw, uint16_t qid,
			   uint64_t page_size)
{
	uint64_t off = ifcvf_hw_notify_offset(hw, qid), page;
	uint8_t bar = hw->notify.bar;
	uint16_t q;

	if (page_size == 0 || off % page_size != 0 ||
	    off + page_size > hw->io.bar_len[bar])
		return false;
	page = off;
	for (q = 0; q < hw->nr_vring; q++)
		if (q != qid &&
		    ifcvf_hw_notify_offset(hw, q) / page_size == page / page_size)
			return false;
	return !hw_region_in_page(&hw->common, bar, page, page_size) &&
	       !hw_region_in_page(&hw->isr, bar, page, page_size) &&
	       !hw_region_in_page(&hw->device, bar, page, page_size) &&
	       !(hw->has_lm && bar == IFCVF_LM_BAR);
}

void
ifcvf_hw_notify(struct ifcvf_hw *hw, uint16_t qid)
{
	hw->io.ops->write(hw->io.ctx, hw->notify.bar,
			  ifcvf_hw_notify_offset(hw, qid), 2, qid);
}

uint8_t
ifcvf_hw_read_isr(struct ifcvf_hw *hw)
{
	return hw_region_read(hw, &hw->isr, 0, 1);
}

/* Run @read_once until config_generation reads the same around it. */
static int
hw_read_in_one_generation(struct ifcvf_hw *hw,
			  void (*read_once)(struct ifcvf_hw *hw, void *cfg),
			  void *cfg)
{
	unsigned int tries;
	uint8_t gen;

	for (tries = 0; tries < CFG_GENERATION_TRIES; tries++) {
		gen = hw_common_read(hw, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
		read_once(hw, cfg);
		if (gen == hw_common_read(hw, VIRTIO_PCI_COMMON_CFGGENERATION,
					  1))
			return 0;
	}
	IFCVF_LOG(ERR, "device config kept changing over %u reads", tries);
	return -EAGAIN;
}

static void
hw_read_net_config_once(struct ifcvf_hw *hw, void *arg)
{
	struct ifcvf_net_config *cfg = arg;
	unsigned int i;

	for (i = 0; i < RTE_DIM(cfg->mac); i++)
		cfg->mac[i] = hw_region_read(hw, &hw->device, i, 1);
	cfg->status = hw_region_read(hw, &hw->device, 6, 2);
	cfg->max_virtqueue_pairs = hw_region_read(hw, &hw->device, 8, 2);
}

int
ifcvf_hw_read_net_config(struct ifcvf_hw *hw, struct ifcvf_net_config *cfg)
{
	return hw_read_in_one_generation(hw, hw_read_net_config_once, cfg);
}

/* A field of struct virtio_blk_config and the feature that guards it. */
struct blk_field {
	const char *name;
	uint8_t off;
	uint8_t width;		/* natural width; capacity is two words */
	int8_t feature;		/* -1: always there */
};

#define BLK_FIELD(f, w, feat) \
	{ #f, offsetof(struct virtio_blk_config, f), w, feat }

static const struct blk_field blk_fields[] = {
	BLK_FIELD(capacity, 4, -1),
	{ "capacity", offsetof(struct virtio_blk_config, capacity) + 4, 4, -1 },
	BLK_FIELD(size_max, 4, VIRTIO_BLK_F_SIZE_MAX),
	BLK_FIELD(seg_max, 4, VIRTIO_BLK_F_SEG_MAX),
	BLK_FIELD(geometry.cylinders, 2, VIRTIO_BLK_F_GEOMETRY),
	BLK_FIELD(geometry.heads, 1, VIRTIO_BLK_F_GEOMETRY),
	BLK_FIELD(geometry.sectors, 1, VIRTIO_BLK_F_GEOMETRY),
	BLK_FIELD(blk_size, 4, VIRTIO_BLK_F_BLK_SIZE),
	BLK_FIELD(physical_block_exp, 1, VIRTIO_BLK_F_TOPOLOGY),
	BLK_FIELD(alignment_offset, 1, VIRTIO_BLK_F_TOPOLOGY),
	BLK_FIELD(min_io_size, 2, VIRTIO_BLK_F_TOPOLOGY),
	BLK_FIELD(opt_io_size, 4, VIRTIO_BLK_F_TOPOLOGY),
	BLK_FIELD(wce, 1, VIRTIO_BLK_F_CONFIG_WCE),
	BLK_FIELD(num_queues, 2, VIRTIO_BLK_F_MQ),
	BLK_FIELD(max_discard_sectors, 4, VIRTIO_BLK_F_DISCARD),
	BLK_FIELD(max_discard_seg, 4, VIRTIO_BLK_F_DISCARD),
	BLK_FIELD(discard_sector_alignment, 4, VIRTIO_BLK_F_DISCARD),
	BLK_FIELD(max_write_zeroes_sectors, 4, VIRTIO_BLK_F_WRITE_ZEROES),
	BLK_FIELD(max_write_zeroes_seg, 4, VIRTIO_BLK_F_WRITE_ZEROES),
	BLK_FIELD(write_zeroes_may_unmap, 1, VIRTIO_BLK_F_WRITE_ZEROES),
};

static bool
hw_blk_field_offered(const struct ifcvf_hw *hw, const struct blk_field *f)
{
	return f->feature < 0 || (hw->dev_features & (1ULL << f->feature));
}

/* Every field the device's features promise lies in its device region. */
static int
hw_check_blk_region(const struct ifcvf_hw *hw)
{
	const struct blk_field *f;
	unsigned int i;

	for (i = 0; i < RTE_DIM(blk_fields); i++) {
		f = &blk_fields[i];
		if (hw_blk_field_offered(hw, f) &&
		    (uint32_t)f->off + f->width > hw->device.len) {
			IFCVF_LOG(ERR, "blk config field %s (0x%x) beyond the device region (0x%x)",
				  f->name, f->off, hw->device.len);
			return -EINVAL;
		}
	}
	return 0;
}

static void
hw_read_blk_config_once(struct ifcvf_hw *hw, void *arg)
{
	struct ifcvf_blk_config *cfg = arg;
	const struct blk_field *f;
	unsigned int i, b;
	uint32_t v;

	memset(cfg->raw, 0, sizeof(cfg->raw));
	for (i = 0; i < RTE_DIM(blk_fields); i++) {
		f = &blk_fields[i];
		if (!hw_blk_field_offered(hw, f))
			continue;
		v = hw_region_read(hw, &hw->device, f->off, f->width);
		for (b = 0; b < f->width; b++)
			cfg->raw[f->off + b] = (uint8_t)(v >> (8 * b));
	}
}

static uint64_t
hw_blk_raw_get(const struct ifcvf_blk_config *cfg, size_t off, unsigned int n)
{
	uint64_t v = 0;
	unsigned int b;

	for (b = 0; b < n; b++)
		v |= (uint64_t)cfg->raw[off + b] << (8 * b);
	return v;
}

#define BLK_RAW(cfg, f) hw_blk_raw_get(cfg, \
	offsetof(struct virtio_blk_config, f), \
	RTE_SIZEOF_FIELD(struct virtio_blk_config, f))

static void
hw_parse_blk_config(const struct ifcvf_hw *hw, struct ifcvf_blk_config *cfg)
{
	cfg->capacity = BLK_RAW(cfg, capacity);
	cfg->size_max = BLK_RAW(cfg, size_max);
	cfg->seg_max = BLK_RAW(cfg, seg_max);
	cfg->blk_size = BLK_RAW(cfg, blk_size);
	cfg->num_queues = (hw->dev_features & (1ULL << VIRTIO_BLK_F_MQ)) ?
			  BLK_RAW(cfg, num_queues) : 1;
	cfg->max_discard_sectors = BLK_RAW(cfg, max_discard_sectors);
	cfg->max_write_zeroes_sectors = BLK_RAW(cfg, max_write_zeroes_sectors);
}

static int
hw_blk_config_bad(const char *what, uint64_t val)
{
	IFCVF_LOG(ERR, "blk config: %s %" PRIu64 " is invalid", what, val);
	return -EINVAL;
}

static int
hw_check_blk_config(const struct ifcvf_hw *hw,
		    const struct ifcvf_blk_config *cfg)
{
	uint64_t f = hw->dev_features;

	if (cfg->capacity > UINT64_MAX >> BLK_SECTOR_SHIFT)
		return hw_blk_config_bad("capacity", cfg->capacity);
	if ((f & (1ULL << VIRTIO_BLK_F_BLK_SIZE)) &&
	    (cfg->blk_size < BLK_SIZE_MIN || cfg->blk_size > BLK_SIZE_MAX ||
	     (cfg->blk_size & (cfg->blk_size - 1)) != 0))
		return hw_blk_config_bad("blk_size", cfg->blk_size);
	if ((f & (1ULL << VIRTIO_BLK_F_SEG_MAX)) && cfg->seg_max == 0)
		return hw_blk_config_bad("seg_max", cfg->seg_max);
	if ((f & (1ULL << VIRTIO_BLK_F_SIZE_MAX)) && cfg->size_max == 0)
		return hw_blk_config_bad("size_max", cfg->size_max);
	if (cfg->num_queues == 0 || cfg->num_queues > hw->nr_vring)
		return hw_blk_config_bad("num_queues", cfg->num_queues);
	return 0;
}

int
ifcvf_hw_read_blk_config(struct ifcvf_hw *hw, struct ifcvf_blk_config *cfg)
{
	int ret;

	if (hw->dev_type != IFCVF_DEV_BLK)
		return -ENOTSUP;
	ret = hw_check_blk_region(hw);
	if (ret == 0)
		ret = hw_read_in_one_generation(hw, hw_read_blk_config_once,
						cfg);
	if (ret < 0)
		return ret;
	hw_parse_blk_config(hw, cfg);
	return hw_check_blk_config(hw, cfg);
}
