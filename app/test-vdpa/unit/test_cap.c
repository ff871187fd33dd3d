/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The HW layer's config-space walker against hand-made config spaces,
 * good and hostile. The fake device is plain memory: a 256-byte config
 * space and BARs whose registers are storage, so the walker's reads
 * are all that happens; every config read is bounds-checked here.
 */

#include <errno.h>
#include <stdlib.h>

#include <stddef.h>

#include <linux/pci_regs.h>
#include <rte_common.h>
#include <rte_log.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_pci.h>

#include "ifcvf_hw.h"
#include "test.h"

#define FAKE_BAR_SIZE	0x4000

struct fake_dev {
	uint8_t cfg[256];
	uint8_t bar[IFCVF_PCI_MAX_BAR][FAKE_BAR_SIZE];
	uint64_t bar_len[IFCVF_PCI_MAX_BAR];
	unsigned int oob_reads;	/* config reads outside config space */
	int cfg_error;		/* make every config read fail */
	unsigned int gen_bumps;	/* config_generation reads that change it */
	uint8_t next_cap;	/* where add_cap() puts the next one */
	uint8_t *last_next;	/* the next pointer to link it from */
};

static struct fake_dev dev;
static uint8_t notify_pos;	/* the notify capability of build_*() */
static uint8_t device_pos;	/* the device capability of build_ifcvf() */

#define FAKE_DEVICE_OFF	0x2000	/* build_ifcvf()'s device region in BAR0 */

static uint32_t
fake_read(void *ctx, uint8_t bar, uint64_t off, uint8_t width)
{
	struct fake_dev *d = ctx;
	uint32_t v = 0;

	if (bar < IFCVF_PCI_MAX_BAR && off + width <= FAKE_BAR_SIZE)
		memcpy(&v, &d->bar[bar][off], width);
	/* A device whose config changes under the reader (common at 0). */
	if (bar == 0 && off == VIRTIO_PCI_COMMON_CFGGENERATION &&
	    d->gen_bumps > 0) {
		d->gen_bumps--;
		d->bar[0][off]++;
	}
	return v;
}

static void
fake_write(void *ctx, uint8_t bar, uint64_t off, uint8_t width, uint32_t val)
{
	struct fake_dev *d = ctx;

	if (bar < IFCVF_PCI_MAX_BAR && off + width <= FAKE_BAR_SIZE)
		memcpy(&d->bar[bar][off], &val, width);
}

static int
fake_cfg_read(void *ctx, void *buf, uint32_t len, uint32_t off)
{
	struct fake_dev *d = ctx;

	if (d->cfg_error)
		return d->cfg_error;
	if ((uint64_t)off + len > sizeof(d->cfg)) {
		d->oob_reads++;
		return -EINVAL;
	}
	memcpy(buf, &d->cfg[off], len);
	return 0;
}

static const struct ifcvf_io_ops fake_ops = {
	.read = fake_read,
	.write = fake_write,
	.cfg_read = fake_cfg_read,
};

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* An empty device with the given IDs and a capability list starting at 0x40. */
static void
fake_reset(uint16_t subsys_vendor, uint16_t subsys_device)
{
	memset(&dev, 0, sizeof(dev));
	put16(&dev.cfg[PCI_VENDOR_ID], IFCVF_VENDOR_ID);
	put16(&dev.cfg[PCI_DEVICE_ID], IFCVF_NET_MODERN_DEVICE_ID);
	put16(&dev.cfg[PCI_SUBSYSTEM_VENDOR_ID], subsys_vendor);
	put16(&dev.cfg[PCI_SUBSYSTEM_ID], subsys_device);
	put16(&dev.cfg[PCI_STATUS], PCI_STATUS_CAP_LIST);
	dev.next_cap = 0x40;
	dev.last_next = &dev.cfg[PCI_CAPABILITY_LIST];
}

/* Append a capability of @len bytes; returns its position. */
static uint8_t
add_cap(uint8_t id, uint8_t len)
{
	uint8_t pos = dev.next_cap;

	dev.cfg[pos] = id;
	dev.cfg[pos + 1] = 0;
	dev.cfg[pos + 2] = len;
	*dev.last_next = pos;
	dev.last_next = &dev.cfg[pos + 1];
	dev.next_cap = (uint8_t)(pos + ((len + 3) & ~3));
	return pos;
}

static uint8_t
add_virtio_cap(uint8_t type, uint8_t bar, uint32_t off, uint32_t len)
{
	uint8_t cap_len = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;
	uint8_t pos = add_cap(PCI_CAP_ID_VNDR, cap_len);

	dev.cfg[pos + 3] = type;
	dev.cfg[pos + 4] = bar;
	put32(&dev.cfg[pos + 8], off);
	put32(&dev.cfg[pos + 12], len);
	return pos;
}

static void
set_num_queues(uint8_t bar, uint32_t common_off, uint16_t n)
{
	put16(&dev.bar[bar][common_off + VIRTIO_PCI_COMMON_NUMQ], n);
}

/* IFCVF-like: everything in BAR0, the LM block in BAR4. */
static void
build_ifcvf(void)
{
	fake_reset(IFCVF_SUBSYS_VENDOR_ID, IFCVF_SUBSYS_DEVICE_ID);
	dev.bar_len[0] = FAKE_BAR_SIZE;
	dev.bar_len[1] = 0x1000;
	dev.bar_len[4] = 0x1000;
	add_cap(PCI_CAP_ID_MSIX, 12);
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 0, 0, 0x38);
	notify_pos = add_virtio_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, 0, 0x3000, 0x100);
	put32(&dev.cfg[notify_pos + 16], 4);
	add_virtio_cap(VIRTIO_PCI_CAP_ISR_CFG, 0, 0x1000, 4);
	device_pos = add_virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, 0,
				    FAKE_DEVICE_OFF, 0x10);
	set_num_queues(0, 0, 4);
}

/* QEMU's virtio-net-pci: every structure in BAR4. */
static void
build_qemu(void)
{
	uint8_t pos;

	fake_reset(0x1af4, 0x1100);
	dev.bar_len[1] = 0x1000;
	dev.bar_len[4] = FAKE_BAR_SIZE;
	add_cap(PCI_CAP_ID_MSIX, 12);
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 4, 0, 0x1000);
	add_virtio_cap(VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 0x1000);
	add_virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
	pos = add_virtio_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000);
	put32(&dev.cfg[pos + 16], 4);
	add_virtio_cap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
	set_num_queues(4, 0, 2);
}

static int
init(struct ifcvf_hw *hw)
{
	struct ifcvf_io io = { .ops = &fake_ops, .ctx = &dev };

	memcpy(io.bar_len, dev.bar_len, sizeof(io.bar_len));
	return ifcvf_hw_init(hw, &io);
}

static struct ifcvf_hw hw;

static int
test_ifcvf_layout(void)
{
	build_ifcvf();
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.profile, IFCVF_PROFILE_IFCVF);
	CHECK(hw.has_lm);
	CHECK_EQ(hw.common.bar, 0);
	CHECK_EQ(hw.common.off, 0);
	CHECK_EQ(hw.notify.off, 0x3000);
	CHECK_EQ(hw.notify_off_multiplier, 4);
	CHECK_EQ(hw.isr.off, 0x1000);
	CHECK_EQ(hw.device.off, 0x2000);
	CHECK_EQ(hw.nr_vring, 4);
	CHECK_EQ(dev.oob_reads, 0);
	return 0;
}

static int
test_qemu_layout(void)
{
	build_qemu();
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.profile, IFCVF_PROFILE_VIRTIO);
	CHECK(!hw.has_lm);
	CHECK_EQ(hw.common.bar, 4);
	CHECK_EQ(hw.notify.bar, 4);
	CHECK_EQ(hw.notify.off, 0x3000);
	CHECK_EQ(hw.nr_vring, 2);
	return 0;
}

/* IFCVF's IDs, but a virtio structure in BAR4: not an LM block. */
static int
test_ifcvf_ids_virtio_in_bar4(void)
{
	build_qemu();
	put16(&dev.cfg[PCI_SUBSYSTEM_VENDOR_ID], IFCVF_SUBSYS_VENDOR_ID);
	put16(&dev.cfg[PCI_SUBSYSTEM_ID], IFCVF_SUBSYS_DEVICE_ID);
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.profile, IFCVF_PROFILE_IFCVF);
	CHECK(!hw.has_lm);
	return 0;
}

static int
test_ifcvf_without_bar4(void)
{
	build_ifcvf();
	dev.bar_len[4] = 0;
	CHECK_EQ(init(&hw), 0);
	CHECK(!hw.has_lm);
	dev.bar_len[4] = 0x20;	/* too small for the ring-state registers */
	CHECK_EQ(init(&hw), 0);
	CHECK(!hw.has_lm);
	return 0;
}

static int
test_first_cap_wins(void)
{
	build_ifcvf();
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 0, 0x800, 0x38);
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.common.off, 0);
	return 0;
}

static int
test_no_cap_list(void)
{
	build_ifcvf();
	put16(&dev.cfg[PCI_STATUS], 0);
	CHECK_EQ(init(&hw), -ENODEV);
	return 0;
}

static int
test_cap_loop(void)
{
	build_ifcvf();
	*dev.last_next = dev.cfg[PCI_CAPABILITY_LIST];	/* back to the head */
	CHECK_EQ(init(&hw), -ELOOP);
	CHECK_EQ(dev.oob_reads, 0);
	return 0;
}

static int
test_cap_self_loop(void)
{
	fake_reset(IFCVF_SUBSYS_VENDOR_ID, IFCVF_SUBSYS_DEVICE_ID);
	dev.cfg[PCI_CAPABILITY_LIST] = 0x40;
	dev.cfg[0x40] = PCI_CAP_ID_MSIX;
	dev.cfg[0x41] = 0x40;
	CHECK_EQ(init(&hw), -ELOOP);
	return 0;
}

static int
test_cap_pointer_out_of_range(void)
{
	static const uint8_t bad[] = { 0x10, 0x3c, 0x42, 0xfd, 0xff };
	unsigned int i;

	for (i = 0; i < RTE_DIM(bad); i++) {
		build_ifcvf();
		*dev.last_next = bad[i];
		CHECK_EQ(init(&hw), -EINVAL);
		CHECK_EQ(dev.oob_reads, 0);
	}
	return 0;
}

/* A vendor capability at the very end whose length runs past 256. */
static int
test_cap_length_past_end(void)
{
	build_ifcvf();
	*dev.last_next = 0xf8;
	dev.cfg[0xf8] = PCI_CAP_ID_VNDR;
	dev.cfg[0xfa] = 16;
	CHECK_EQ(init(&hw), -EINVAL);
	CHECK_EQ(dev.oob_reads, 0);
	return 0;
}

static int
test_cap_length_too_short(void)
{
	uint8_t pos;

	build_ifcvf();
	pos = add_virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, 0, 0, 0x10);
	dev.cfg[pos + 2] = 8;
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

static int
test_bar_index_out_of_range(void)
{
	static const uint8_t bars[] = { 6, 7, 0xff };
	unsigned int i;

	for (i = 0; i < RTE_DIM(bars); i++) {
		fake_reset(0x1af4, 0x1100);
		dev.bar_len[0] = FAKE_BAR_SIZE;
		add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, bars[i], 0, 0x38);
		CHECK_EQ(init(&hw), -EINVAL);
	}
	return 0;
}

static int
test_bar_absent(void)
{
	build_ifcvf();
	dev.bar_len[0] = 0;
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

static int
test_region_beyond_bar(void)
{
	fake_reset(0x1af4, 0x1100);
	dev.bar_len[0] = FAKE_BAR_SIZE;
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 0, FAKE_BAR_SIZE - 0x10, 0x38);
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

/* offset + length wraps around 32 bits. */
static int
test_region_wraps(void)
{
	fake_reset(0x1af4, 0x1100);
	dev.bar_len[0] = FAKE_BAR_SIZE;
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 0, 0xfffffff0, 0x38);
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

static int
test_common_too_small(void)
{
	fake_reset(0x1af4, 0x1100);
	dev.bar_len[0] = FAKE_BAR_SIZE;
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 0, 0, 0x20);
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

static int
test_missing_common(void)
{
	uint8_t pos;

	fake_reset(0x1af4, 0x1100);
	dev.bar_len[0] = FAKE_BAR_SIZE;
	pos = add_virtio_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, 0, 0x3000, 0x100);
	put32(&dev.cfg[pos + 16], 4);
	add_virtio_cap(VIRTIO_PCI_CAP_ISR_CFG, 0, 0x1000, 4);
	add_virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, 0, 0x2000, 0x10);
	CHECK_EQ(init(&hw), -ENODEV);
	return 0;
}

static int
test_missing_notify(void)
{
	fake_reset(0x1af4, 0x1100);
	dev.bar_len[0] = FAKE_BAR_SIZE;
	add_virtio_cap(VIRTIO_PCI_CAP_COMMON_CFG, 0, 0, 0x38);
	add_virtio_cap(VIRTIO_PCI_CAP_ISR_CFG, 0, 0x1000, 4);
	add_virtio_cap(VIRTIO_PCI_CAP_DEVICE_CFG, 0, 0x2000, 0x10);
	CHECK_EQ(init(&hw), -ENODEV);
	return 0;
}

/* A notify capability of 16 bytes has no notify_off_multiplier. */
static int
test_notify_without_multiplier(void)
{
	build_ifcvf();
	dev.cfg[notify_pos + 2] = 16;
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

/* queue_notify_off * multiplier beyond the notify region. */
static int
test_doorbell_beyond_notify(void)
{
	build_ifcvf();
	put16(&dev.bar[0][VIRTIO_PCI_COMMON_Q_NOFF], 0x40);
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

static int
test_queue_counts(void)
{
	build_ifcvf();
	set_num_queues(0, 0, 0);
	CHECK_EQ(init(&hw), -ENODEV);
	set_num_queues(0, 0, 5);	/* two pairs and a control queue */
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.nr_vring, 4);
	set_num_queues(0, 0, 200);
	put32(&dev.cfg[notify_pos + 12], 0x1000);	/* room for 64 doorbells */
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.nr_vring, IFCVF_MAX_QUEUES);
	return 0;
}

static int
test_cfg_read_error(void)
{
	build_ifcvf();
	dev.cfg_error = -EIO;
	CHECK_EQ(init(&hw), -EIO);
	return 0;
}

/* Random config spaces: whatever they hold, no read leaves config space. */
static int
test_random_cfg(void)
{
	unsigned int i, j;

	/* Most of these are refused, each with an error: keep them quiet. */
	rte_log_set_level_pattern("pmd.vdpa.ifcvf*", RTE_LOG_CRIT);
	srand(1);
	for (i = 0; i < 20000; i++) {
		build_ifcvf();
		for (j = 0x40; j < sizeof(dev.cfg); j++)
			if (rand() % 4 == 0)
				dev.cfg[j] = (uint8_t)rand();
		init(&hw);
		CHECK_EQ(dev.oob_reads, 0);
	}
	rte_log_set_level_pattern("pmd.vdpa.ifcvf*", RTE_LOG_NOTICE);
	return 0;
}

/* IFCVF's block VF: build_ifcvf() with blk IDs, a 60-byte config, 3 queues. */
static void
build_blk(uint16_t device_id)
{
	build_ifcvf();
	put16(&dev.cfg[PCI_DEVICE_ID], device_id);
	put16(&dev.cfg[PCI_SUBSYSTEM_ID], IFCVF_SUBSYS_BLK_DEVICE_ID);
	put32(&dev.cfg[device_pos + 12], IFCVF_BLK_CFG_LEN);
	set_num_queues(0, 0, 3);
}

/* The fake's device features: DF reads the same word for both selects. */
static void
set_blk_features(uint32_t features)
{
	put32(&dev.bar[0][VIRTIO_PCI_COMMON_DF], features);
}

#define BLK_CFG(f) (&dev.bar[0][FAKE_DEVICE_OFF + \
			       offsetof(struct virtio_blk_config, f)])

/* Good values for every field build_blk()'s features offer. */
static void
fill_blk_config(void)
{
	set_blk_features(1u << VIRTIO_BLK_F_SIZE_MAX |
			 1u << VIRTIO_BLK_F_SEG_MAX |
			 1u << VIRTIO_BLK_F_BLK_SIZE |
			 1u << VIRTIO_BLK_F_FLUSH | 1u << VIRTIO_BLK_F_MQ |
			 1u << VIRTIO_BLK_F_DISCARD);
	put32(BLK_CFG(capacity), 0x89abcdef);
	put32(BLK_CFG(capacity) + 4, 0x1);
	put32(BLK_CFG(size_max), 65536);
	put32(BLK_CFG(seg_max), 126);
	put32(BLK_CFG(blk_size), 4096);
	put16(BLK_CFG(num_queues), 2);
	put32(BLK_CFG(max_discard_sectors), 2048);
	/* Not offered (no WRITE_ZEROES): must not be read. */
	put32(BLK_CFG(max_write_zeroes_sectors), 77);
}

static int
test_blk_ids(void)
{
	static const uint16_t ids[] = {
		IFCVF_BLK_MODERN_DEVICE_ID, IFCVF_BLK_TRANSITIONAL_DEVICE_ID,
	};
	unsigned int i;

	for (i = 0; i < RTE_DIM(ids); i++) {
		build_blk(ids[i]);
		CHECK_EQ(init(&hw), 0);
		CHECK_EQ(hw.dev_type, IFCVF_DEV_BLK);
		CHECK_EQ(hw.profile, IFCVF_PROFILE_IFCVF);
		CHECK(hw.has_lm);
		CHECK_EQ(hw.nr_vring, 3);	/* not rounded to pairs */
	}
	/* A blk ID with the net subsystem ID is no IFCVF. */
	build_blk(IFCVF_BLK_MODERN_DEVICE_ID);
	put16(&dev.cfg[PCI_SUBSYSTEM_ID], IFCVF_SUBSYS_DEVICE_ID);
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.dev_type, IFCVF_DEV_BLK);
	CHECK_EQ(hw.profile, IFCVF_PROFILE_VIRTIO);
	/* The net IDs stay net. */
	build_ifcvf();
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(hw.dev_type, IFCVF_DEV_NET);
	return 0;
}

/* A blk queue has a 0x40-byte ring-state block of its own in BAR4. */
static int
test_blk_lm_layout(void)
{
	build_blk(IFCVF_BLK_MODERN_DEVICE_ID);
	dev.bar_len[4] = 0x800;
	set_num_queues(0, 0, 32);
	put32(&dev.cfg[notify_pos + 12], 0x1000);
	CHECK_EQ(init(&hw), 0);
	CHECK(hw.has_lm);	/* 0x20 + 31 * 0x40 + 4 <= 0x800 */
	set_num_queues(0, 0, 33);
	CHECK_EQ(init(&hw), 0);
	CHECK(!hw.has_lm);	/* queue 32's register is past it */
	return 0;
}

static int
test_blk_config(void)
{
	struct ifcvf_blk_config cfg;

	build_blk(IFCVF_BLK_MODERN_DEVICE_ID);
	fill_blk_config();
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), 0);
	CHECK_EQ(cfg.capacity, 0x189abcdefULL);
	CHECK_EQ(cfg.size_max, 65536);
	CHECK_EQ(cfg.seg_max, 126);
	CHECK_EQ(cfg.blk_size, 4096);
	CHECK_EQ(cfg.num_queues, 2);
	CHECK_EQ(cfg.max_discard_sectors, 2048);
	CHECK_EQ(cfg.max_write_zeroes_sectors, 0);
	/* The image is the device's bytes, unoffered fields zero. */
	CHECK(memcmp(cfg.raw, BLK_CFG(capacity),
		     offsetof(struct virtio_blk_config,
			      max_write_zeroes_sectors)) == 0);
	CHECK_EQ(cfg.raw[offsetof(struct virtio_blk_config,
				  max_write_zeroes_sectors)], 0);

	/* Without MQ there is one queue, whatever num_queues holds. */
	set_blk_features(1u << VIRTIO_BLK_F_FLUSH);
	put16(BLK_CFG(num_queues), 0);
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), 0);
	CHECK_EQ(cfg.num_queues, 1);
	CHECK_EQ(cfg.blk_size, 0);

	/* Not a block device. */
	build_ifcvf();
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), -ENOTSUP);
	return 0;
}

/* One bad field at a time: each is refused. */
static int
test_blk_config_hostile(void)
{
	static const struct {
		size_t off;
		uint32_t val;
	} bad[] = {
		{ offsetof(struct virtio_blk_config, blk_size), 1000 },
		{ offsetof(struct virtio_blk_config, blk_size), 256 },
		{ offsetof(struct virtio_blk_config, blk_size), 1u << 20 },
		{ offsetof(struct virtio_blk_config, seg_max), 0 },
		{ offsetof(struct virtio_blk_config, size_max), 0 },
		{ offsetof(struct virtio_blk_config, num_queues), 0 },
		{ offsetof(struct virtio_blk_config, num_queues), 4 },
		{ offsetof(struct virtio_blk_config, capacity) + 4, 1u << 23 },
	};
	struct ifcvf_blk_config cfg;
	unsigned int i;

	rte_log_set_level_pattern("pmd.vdpa.ifcvf*", RTE_LOG_CRIT);
	for (i = 0; i < RTE_DIM(bad); i++) {
		build_blk(IFCVF_BLK_MODERN_DEVICE_ID);
		fill_blk_config();
		if (bad[i].off == offsetof(struct virtio_blk_config, num_queues))
			put16(&dev.bar[0][FAKE_DEVICE_OFF + bad[i].off],
			      bad[i].val);
		else
			put32(&dev.bar[0][FAKE_DEVICE_OFF + bad[i].off],
			      bad[i].val);
		CHECK_EQ(init(&hw), 0);
		CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), -EINVAL);
	}
	rte_log_set_level_pattern("pmd.vdpa.ifcvf*", RTE_LOG_NOTICE);
	return 0;
}

/* A device region shorter than the fields its features promise. */
static int
test_blk_config_short_region(void)
{
	struct ifcvf_blk_config cfg;

	build_blk(IFCVF_BLK_MODERN_DEVICE_ID);
	fill_blk_config();
	/* Up to num_queues: DISCARD's fields are missing. */
	put32(&dev.cfg[device_pos + 12],
	      offsetof(struct virtio_blk_config, max_discard_sectors));
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), -EINVAL);
	set_blk_features(1u << VIRTIO_BLK_F_MQ);
	CHECK_EQ(init(&hw), 0);
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), 0);
	/* Below capacity: the walk refuses the region. */
	put32(&dev.cfg[device_pos + 12], 4);
	CHECK_EQ(init(&hw), -EINVAL);
	return 0;
}

/* A config that changes while read is read again, and given up on. */
static int
test_blk_config_generation(void)
{
	struct ifcvf_blk_config cfg;

	build_blk(IFCVF_BLK_MODERN_DEVICE_ID);
	fill_blk_config();
	CHECK_EQ(init(&hw), 0);
	dev.gen_bumps = 3;
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), 0);
	CHECK_EQ(dev.gen_bumps, 0);
	CHECK_EQ(cfg.capacity, 0x189abcdefULL);
	dev.gen_bumps = 1000;
	CHECK_EQ(ifcvf_hw_read_blk_config(&hw, &cfg), -EAGAIN);
	return 0;
}

static const struct test_case cases[] = {
	TEST_CASE(test_ifcvf_layout),
	TEST_CASE(test_qemu_layout),
	TEST_CASE(test_ifcvf_ids_virtio_in_bar4),
	TEST_CASE(test_ifcvf_without_bar4),
	TEST_CASE(test_first_cap_wins),
	TEST_CASE(test_no_cap_list),
	TEST_CASE(test_cap_loop),
	TEST_CASE(test_cap_self_loop),
	TEST_CASE(test_cap_pointer_out_of_range),
	TEST_CASE(test_cap_length_past_end),
	TEST_CASE(test_cap_length_too_short),
	TEST_CASE(test_bar_index_out_of_range),
	TEST_CASE(test_bar_absent),
	TEST_CASE(test_region_beyond_bar),
	TEST_CASE(test_region_wraps),
	TEST_CASE(test_common_too_small),
	TEST_CASE(test_missing_common),
	TEST_CASE(test_missing_notify),
	TEST_CASE(test_notify_without_multiplier),
	TEST_CASE(test_doorbell_beyond_notify),
	TEST_CASE(test_queue_counts),
	TEST_CASE(test_cfg_read_error),
	TEST_CASE(test_random_cfg),
	TEST_CASE(test_blk_ids),
	TEST_CASE(test_blk_lm_layout),
	TEST_CASE(test_blk_config),
	TEST_CASE(test_blk_config_hostile),
	TEST_CASE(test_blk_config_short_region),
	TEST_CASE(test_blk_config_generation),
};

TEST_MAIN("cap", cases)
