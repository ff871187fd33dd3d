/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The HW layer against the simulated IFCVF, in both profiles: feature
 * negotiation, queue programming with 1 and 32 pairs, ring state, the
 * logging registers, and the device's failure modes.
 */

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include <rte_log.h>

#include "ifcvf_hw.h"
#include "ifcvf_sim.h"
#include "test.h"

#define GUEST_BASE	0x100000000ULL
#define QUEUE_STRIDE	0x4000		/* desc, avail, used of one queue */
#define GUEST_SIZE	(IFCVF_MAX_QUEUES * QUEUE_STRIDE)

static struct ifcvf_hw hw;
/* The rings the tests give the HW layer to program (fill_vrings()). */
static struct ifcvf_vring vrings[IFCVF_MAX_QUEUES];
/* Zeroed rings for every queue, mapped at GUEST_BASE in each device. */
static void *guest_mem;

static struct ifcvf_sim *
sim_new(enum ifcvf_sim_profile profile, uint16_t pairs)
{
	struct ifcvf_sim_params p = {
		.name = "hw",
		.profile = profile,
		.nr_queue_pairs = pairs,
		.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x2a },
	};
	struct ifcvf_sim *sim = ifcvf_sim_create(&p);
	struct ifcvf_io io;

	if (sim == NULL)
		return NULL;
	memset(guest_mem, 0, GUEST_SIZE);
	if (ifcvf_sim_dma_map(sim, (uint64_t)guest_mem, GUEST_BASE,
			      GUEST_SIZE) != 0) {
		ifcvf_sim_destroy(sim);
		return NULL;
	}
	ifcvf_sim_get_io(sim, &io);
	if (ifcvf_hw_init(&hw, &io) != 0) {
		ifcvf_sim_destroy(sim);
		return NULL;
	}
	return sim;
}

/*
 * Distinct, recognisable ring addresses for the first @nr queues, enabled;
 * the others neither enabled nor given a vector.
 */
static void
fill_vrings(uint16_t nr, uint16_t size)
{
	uint16_t q;

	memset(vrings, 0, sizeof(vrings));
	for (q = 0; q < IFCVF_MAX_QUEUES; q++)
		vrings[q].vector = IFCVF_MSI_NO_VECTOR;
	for (q = 0; q < nr; q++) {
		struct ifcvf_vring *vr = &vrings[q];

		vr->desc = GUEST_BASE + q * QUEUE_STRIDE;
		vr->avail = vr->desc + 0x1000;
		vr->used = vr->desc + 0x2000;
		vr->size = size;
		vr->vector = q;
		vr->enable = true;
	}
}

/* The rings of @vr, where they lie in guest memory. */
static struct vring
guest_vring(const struct ifcvf_vring *vr)
{
	struct vring r = {
		.num = vr->size,
		.desc = (void *)((char *)guest_mem + (vr->desc - GUEST_BASE)),
		.avail = (void *)((char *)guest_mem + (vr->avail - GUEST_BASE)),
		.used = (void *)((char *)guest_mem + (vr->used - GUEST_BASE)),
	};

	return r;
}

static uint32_t
lm_reg(struct ifcvf_sim *sim, uint32_t off)
{
	return ifcvf_sim_io_ops.read(sim, IFCVF_LM_BAR, off, 4);
}

static int
test_init_profiles(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 2);

	CHECK(sim != NULL);
	CHECK_EQ(hw.profile, IFCVF_PROFILE_IFCVF);
	CHECK(hw.has_lm);
	CHECK_EQ(hw.nr_vring, 4);
	CHECK_EQ(hw.subsys_vendor_id, IFCVF_SUBSYS_VENDOR_ID);
	CHECK_EQ(hw.dev_features,
		 ifcvf_sim_default_features(IFCVF_SIM_PROFILE_IFCVF));
	ifcvf_sim_destroy(sim);

	sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 3);
	CHECK(sim != NULL);
	CHECK_EQ(hw.profile, IFCVF_PROFILE_VIRTIO);
	CHECK(!hw.has_lm);
	CHECK_EQ(hw.nr_vring, 6);
	CHECK_EQ(hw.common.bar, 4);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_negotiate(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) |
			(1ULL << VIRTIO_NET_F_MAC) |
			(1ULL << VIRTIO_F_RING_PACKED);	/* not offered */

	CHECK(sim != NULL);
	CHECK_EQ(ifcvf_hw_reset(&hw), 0);
	CHECK_EQ(ifcvf_hw_negotiate(&hw, want), 0);
	CHECK_EQ(hw.features, want & ~(1ULL << VIRTIO_F_RING_PACKED));
	CHECK_EQ(ifcvf_sim_get_state(sim).driver_features, hw.features);
	CHECK(ifcvf_hw_get_status(&hw) & VIRTIO_CONFIG_S_FEATURES_OK);

	/* A legacy set (no VERSION_1) is written as it is, and accepted. */
	CHECK_EQ(ifcvf_hw_reset(&hw), 0);
	CHECK_EQ(ifcvf_hw_negotiate(&hw, (1ULL << VIRTIO_NET_F_MAC) |
				    (1ULL << VIRTIO_F_ACCESS_PLATFORM)), 0);
	CHECK_EQ(hw.features, (1ULL << VIRTIO_NET_F_MAC) |
			      (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	CHECK_EQ(ifcvf_sim_get_state(sim).driver_features, hw.features);
	CHECK(ifcvf_hw_get_status(&hw) & VIRTIO_CONFIG_S_FEATURES_OK);
	ifcvf_sim_destroy(sim);
	return 0;
}

/*
 * Write the driver features (@lo, @hi) straight to @sim's common config
 * and set FEATURES_OK; whether the device kept it.
 */
static bool
sim_features_ok(struct ifcvf_sim *sim, uint32_t lo, uint32_t hi)
{
	const struct ifcvf_io_ops *ops = &ifcvf_sim_io_ops;
	uint8_t bar = hw.common.bar;
	uint32_t base = hw.common.off;

	ops->write(sim, bar, base + VIRTIO_PCI_COMMON_STATUS, 1,
		   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	ops->write(sim, bar, base + VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	ops->write(sim, bar, base + VIRTIO_PCI_COMMON_GF, 4, lo);
	ops->write(sim, bar, base + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	ops->write(sim, bar, base + VIRTIO_PCI_COMMON_GF, 4, hi);
	ops->write(sim, bar, base + VIRTIO_PCI_COMMON_STATUS, 1,
		   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK);
	return (ifcvf_hw_get_status(&hw) & VIRTIO_CONFIG_S_FEATURES_OK) != 0;
}

/*
 * A legacy set through the modern interface, as QEMU's virtio-net-pci
 * takes it: FEATURES_OK kept without validation, bits not offered dropped
 * (the virtio profile, see sim_features_ok() in sim_dev.c); refused for
 * such bits on the IFCVF profile.
 */
static int
test_negotiate_legacy_modern(void)
{
	uint64_t want = (1ULL << VIRTIO_NET_F_MAC) |
			(1ULL << VIRTIO_NET_F_MRG_RXBUF);
	uint32_t packed = 1u << (VIRTIO_F_RING_PACKED - 32);
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 1);

	CHECK(sim != NULL);
	CHECK(sim_features_ok(sim, (uint32_t)want, packed));
	CHECK_EQ(ifcvf_sim_get_state(sim).driver_features, want);
	ifcvf_sim_destroy(sim);

	/* The IFCVF profile refuses a bit it does not offer, legacy or not. */
	sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);
	CHECK(sim != NULL);
	CHECK(!sim_features_ok(sim, (uint32_t)want, packed));
	ifcvf_sim_destroy(sim);
	return 0;
}

/* The device itself refuses FEATURES_OK for bits it does not offer. */
static int
test_sim_refuses_features(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 1);

	CHECK(sim != NULL);
	CHECK(!sim_features_ok(sim, 0, 1u << (VIRTIO_F_VERSION_1 - 32) |
					1u << (VIRTIO_F_RING_PACKED - 32)));
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
check_queues_programmed(struct ifcvf_sim *sim, uint16_t nr)
{
	struct ifcvf_sim_queue_info info;
	uint16_t q;

	for (q = 0; q < nr; q++) {
		CHECK_EQ(ifcvf_sim_queue_info(sim, q, &info), 0);
		CHECK(info.enabled);
		CHECK_EQ(info.desc, vrings[q].desc);
		CHECK_EQ(info.avail, vrings[q].avail);
		CHECK_EQ(info.used, vrings[q].used);
		CHECK_EQ(info.size, vrings[q].size);
		CHECK_EQ(info.vector, q);
	}
	return 0;
}

static int
start_and_check(enum ifcvf_sim_profile profile, uint16_t pairs)
{
	struct ifcvf_sim *sim = sim_new(profile, pairs);
	struct ifcvf_sim_queue_info info;
	uint16_t q;

	CHECK(sim != NULL);
	fill_vrings(2 * pairs, 256);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	CHECK(ifcvf_sim_get_state(sim).status & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(check_queues_programmed(sim, 2 * pairs), 0);
	if (hw.has_lm)
		CHECK_EQ(lm_reg(sim, IFCVF_LM_MQ_OFFSET), pairs);

	CHECK_EQ(ifcvf_hw_stop(&hw, vrings, NULL), 0);
	CHECK_EQ(ifcvf_sim_get_state(sim).status, 0);
	for (q = 0; q < 2 * pairs; q++) {
		CHECK_EQ(ifcvf_sim_queue_info(sim, q, &info), 0);
		CHECK(!info.enabled);
	}
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_queues_1_pair(void)
{
	CHECK_EQ(start_and_check(IFCVF_SIM_PROFILE_IFCVF, 1), 0);
	return start_and_check(IFCVF_SIM_PROFILE_VIRTIO, 1);
}

static int
test_queues_32_pairs(void)
{
	CHECK_EQ(start_and_check(IFCVF_SIM_PROFILE_IFCVF, 32), 0);
	return start_and_check(IFCVF_SIM_PROFILE_VIRTIO, 32);
}

/* Only the queues marked enable are programmed. */
static int
test_partial_queues(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 4);
	struct ifcvf_sim_queue_info info;

	CHECK(sim != NULL);
	fill_vrings(4, 128);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	CHECK_EQ(lm_reg(sim, IFCVF_LM_MQ_OFFSET), 2);
	CHECK_EQ(ifcvf_sim_queue_info(sim, 3, &info), 0);
	CHECK(info.enabled);
	CHECK_EQ(ifcvf_sim_queue_info(sim, 4, &info), 0);
	CHECK(!info.enabled);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_bad_queue_size(void)
{
	static const uint16_t sizes[] = { 0, 3, 100, 8192 };
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 1);
	unsigned int i;

	CHECK(sim != NULL);
	for (i = 0; i < RTE_DIM(sizes); i++) {
		fill_vrings(2, 256);
		vrings[1].size = sizes[i];
		CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -EINVAL);
		/* A failed start leaves the device reset. */
		CHECK_EQ(ifcvf_sim_get_state(sim).status, 0);
	}
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_bad_vector(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);

	CHECK(sim != NULL);
	fill_vrings(2, 256);
	vrings[0].vector = ifcvf_sim_nr_vectors(sim);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -EIO);
	fill_vrings(2, 256);
	hw.config_vector = 1000;
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -EIO);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_ring_state(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 2);
	struct ifcvf_sim_queue_info info;
	struct vring r;
	uint16_t q;

	CHECK(sim != NULL);
	fill_vrings(4, 256);
	for (q = 0; q < 4; q++) {
		vrings[q].last_avail_idx = 1000 + q;
		vrings[q].last_used_idx = 900 + q;
		/*
		 * The guest's rings agree, nothing new to take: else the
		 * device, once started, finds the guest's avail index more
		 * than a ring from its own and stops the queue as malformed.
		 */
		r = guest_vring(&vrings[q]);
		r.avail->idx = 1000 + q;
		r.used->idx = 900 + q;
	}
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	for (q = 0; q < 4; q++) {
		CHECK_EQ(ifcvf_sim_queue_info(sim, q, &info), 0);
		CHECK_EQ(info.last_avail_idx, 1000 + q);
		CHECK_EQ(info.last_used_idx, 900 + q);
		CHECK_EQ(lm_reg(sim, IFCVF_LM_RING_STATE(q)),
			 (uint32_t)(1000 + q) | (uint32_t)(900 + q) << 16);
		vrings[q].last_avail_idx = 0;
		vrings[q].last_used_idx = 0;
	}
	CHECK_EQ(ifcvf_hw_stop(&hw, vrings, NULL), 0);
	for (q = 0; q < 4; q++) {
		CHECK_EQ(vrings[q].last_avail_idx, 1000 + q);
		CHECK_EQ(vrings[q].last_used_idx, 900 + q);
	}
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_virtio_profile_has_no_lm(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 1);

	CHECK(sim != NULL);
	CHECK_EQ(ifcvf_hw_log_enable(&hw, 1ULL << 40, 4096), -ENOTSUP);
	CHECK_EQ(ifcvf_hw_log_disable(&hw), -ENOTSUP);
	CHECK_EQ(ifcvf_hw_ring_state_save(&hw, 0, &vrings[0]), -ENOTSUP);
	CHECK_EQ(ifcvf_hw_ring_state_restore(&hw, 0, &vrings[0]), -ENOTSUP);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_logging_registers(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);
	uint64_t base = 0x123400000000ULL, size = 0x5000;

	CHECK(sim != NULL);
	CHECK_EQ(lm_reg(sim, IFCVF_LM_LOGGING_CTRL), IFCVF_LM_LOGGING_OFF);
	CHECK_EQ(ifcvf_hw_log_enable(&hw, base, size), 0);
	CHECK_EQ(lm_reg(sim, IFCVF_LM_BASE_ADDR_LOW), (uint32_t)base);
	CHECK_EQ(lm_reg(sim, IFCVF_LM_BASE_ADDR_HIGH), (uint32_t)(base >> 32));
	CHECK_EQ(lm_reg(sim, IFCVF_LM_END_ADDR_LOW), (uint32_t)(base + size));
	CHECK_EQ(lm_reg(sim, IFCVF_LM_END_ADDR_HIGH),
		 (uint32_t)((base + size) >> 32));
	CHECK_EQ(lm_reg(sim, IFCVF_LM_LOGGING_CTRL), IFCVF_LM_LOGGING_ON_VF);
	/* A virtio reset does not touch the LM block. */
	CHECK_EQ(ifcvf_hw_reset(&hw), 0);
	CHECK_EQ(lm_reg(sim, IFCVF_LM_LOGGING_CTRL), IFCVF_LM_LOGGING_ON_VF);
	CHECK_EQ(ifcvf_hw_log_disable(&hw), 0);
	CHECK_EQ(lm_reg(sim, IFCVF_LM_LOGGING_CTRL), IFCVF_LM_LOGGING_OFF);
	CHECK_EQ(ifcvf_hw_log_enable(&hw, base, 0), -EINVAL);
	CHECK_EQ(ifcvf_hw_log_enable(&hw, UINT64_MAX - 10, 4096), -EINVAL);
	ifcvf_sim_destroy(sim);
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
test_reset_timeout(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);
	double t0, took;

	CHECK(sim != NULL);
	fill_vrings(2, 256);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	ifcvf_sim_set_fault(sim, IFCVF_SIM_FAULT_RESET_STUCK, true);
	t0 = now_s();
	CHECK_EQ(ifcvf_hw_reset(&hw), -ETIMEDOUT);
	took = now_s() - t0;
	CHECK(took >= IFCVF_RESET_TIMEOUT_MS / 1000.0 * 0.9);
	CHECK(took < IFCVF_RESET_TIMEOUT_MS / 1000.0 * 3);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -ETIMEDOUT);
	ifcvf_sim_set_fault(sim, IFCVF_SIM_FAULT_RESET_STUCK, false);
	CHECK_EQ(ifcvf_hw_reset(&hw), 0);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_queue_enable_fault(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);

	CHECK(sim != NULL);
	fill_vrings(2, 256);
	ifcvf_sim_set_fault(sim, IFCVF_SIM_FAULT_QUEUE_ENABLE, true);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -EIO);
	CHECK_EQ(ifcvf_sim_get_state(sim).status, 0);
	ifcvf_sim_set_fault(sim, IFCVF_SIM_FAULT_QUEUE_ENABLE, false);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_status_faults(void)
{
	static const enum ifcvf_sim_fault faults[] = {
		IFCVF_SIM_FAULT_FAILED, IFCVF_SIM_FAULT_NEEDS_RESET,
		IFCVF_SIM_FAULT_DRIVER_OK,
	};
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 1);
	unsigned int i;

	CHECK(sim != NULL);
	for (i = 0; i < RTE_DIM(faults); i++) {
		fill_vrings(2, 256);
		ifcvf_sim_set_fault(sim, faults[i], true);
		CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -EIO);
		/* Reset after the failure; DRIVER_OK was never taken. */
		CHECK_EQ(ifcvf_sim_get_state(sim).status, 0);
		CHECK_EQ(ifcvf_sim_get_state(sim).starts, 0);
		ifcvf_sim_set_fault(sim, faults[i], false);
	}
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	ifcvf_sim_destroy(sim);
	return 0;
}

static struct ifcvf_io_ops hooked_ops;

/* hw on @sim again, its register writes through @write. */
static int
hw_init_hooked(struct ifcvf_sim *sim,
	       void (*write)(void *ctx, uint8_t bar, uint64_t off,
			     uint8_t width, uint32_t val))
{
	struct ifcvf_io io;

	hooked_ops = ifcvf_sim_io_ops;
	hooked_ops.write = write;
	ifcvf_sim_get_io(sim, &io);
	io.ops = &hooked_ops;
	return ifcvf_hw_init(&hw, &io);
}

/* A device that finishes what a register write started before the next. */
static void
fast_write(void *ctx, uint8_t bar, uint64_t off, uint8_t width, uint32_t val)
{
	ifcvf_sim_io_ops.write(ctx, bar, off, width, val);
	ifcvf_sim_quiesce(ctx);
}

/* A device that reads FAILED from the moment DRIVER_OK is written. */
static void
fail_at_driver_ok(void *ctx, uint8_t bar, uint64_t off, uint8_t width,
		  uint32_t val)
{
	ifcvf_sim_io_ops.write(ctx, bar, off, width, val);
	if (bar == hw.common.bar &&
	    off == hw.common.off + VIRTIO_PCI_COMMON_STATUS &&
	    (val & VIRTIO_CONFIG_S_DRIVER_OK))
		ifcvf_sim_set_fault(ctx, IFCVF_SIM_FAULT_FAILED, true);
}

/* FAILED read back after DRIVER_OK: the start fails, the device is reset. */
static int
test_failed_at_driver_ok(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);

	CHECK(sim != NULL);
	CHECK_EQ(hw_init_hooked(sim, fail_at_driver_ok), 0);
	fill_vrings(2, 256);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), -EIO);
	CHECK_EQ(ifcvf_sim_get_state(sim).status, 0);
	CHECK_EQ(ifcvf_sim_get_state(sim).starts, 1);
	ifcvf_sim_set_fault(sim, IFCVF_SIM_FAULT_FAILED, false);
	CHECK_EQ(hw_init_hooked(sim, ifcvf_sim_io_ops.write), 0);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	ifcvf_sim_destroy(sim);
	return 0;
}

/*
 * A ring the device finds malformed the moment it runs (queue 1's base a
 * half ring ahead of avail->idx) stops the device with NEEDS_RESET; the
 * start itself succeeded, however fast the device is, and the stop hands
 * back the ring state the driver set.
 */
static int
test_start_malformed_ring(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 1);
	struct ifcvf_sim_queue_info info;

	CHECK(sim != NULL);
	CHECK_EQ(hw_init_hooked(sim, fast_write), 0);
	fill_vrings(2, 256);
	vrings[1].last_avail_idx = 0x8000;
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	CHECK(ifcvf_hw_get_status(&hw) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(ifcvf_sim_queue_info(sim, 0, &info), 0);
	CHECK(!info.broken);
	CHECK_EQ(ifcvf_sim_queue_info(sim, 1, &info), 0);
	CHECK(info.broken);
	vrings[1].last_avail_idx = 0;
	CHECK_EQ(ifcvf_hw_stop(&hw, vrings, NULL), 0);
	CHECK_EQ(vrings[1].last_avail_idx, 0x8000);
	CHECK_EQ(vrings[1].last_used_idx, 0);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_notify(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_VIRTIO, 4);
	struct ifcvf_sim_queue_stats st;
	uint16_t q;

	CHECK(sim != NULL);
	fill_vrings(8, 256);
	CHECK_EQ(ifcvf_hw_start(&hw, hw.dev_features, vrings), 0);
	for (q = 0; q < 8; q++) {
		CHECK(ifcvf_hw_notify_offset(&hw, q) + 2 <=
		      hw.notify.off + hw.notify.len);
		ifcvf_hw_notify(&hw, q);
		ifcvf_hw_notify(&hw, q);
	}
	for (q = 0; q < 8; q++) {
		CHECK_EQ(ifcvf_sim_queue_stats(sim, q, &st), 0);
		CHECK_EQ(st.kicks, 2);
	}
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_net_config(void)
{
	struct ifcvf_sim *sim = sim_new(IFCVF_SIM_PROFILE_IFCVF, 5);
	struct ifcvf_net_config cfg;

	CHECK(sim != NULL);
	CHECK_EQ(ifcvf_hw_read_net_config(&hw, &cfg), 0);
	CHECK_EQ(cfg.mac[0], 0x02);
	CHECK_EQ(cfg.mac[5], 0x2a);
	CHECK_EQ(cfg.max_virtqueue_pairs, 5);
	CHECK_EQ(cfg.status & VIRTIO_NET_S_LINK_UP, VIRTIO_NET_S_LINK_UP);
	ifcvf_sim_set_link(sim, false);
	CHECK_EQ(ifcvf_hw_read_net_config(&hw, &cfg), 0);
	CHECK_EQ(cfg.status & VIRTIO_NET_S_LINK_UP, 0);
	ifcvf_sim_destroy(sim);
	return 0;
}

static int
test_bad_sim_params(void)
{
	struct ifcvf_sim_params p = {
		.name = "bad",
		.profile = IFCVF_SIM_PROFILE_IFCVF,
	};

	p.nr_queue_pairs = 0;
	CHECK(ifcvf_sim_create(&p) == NULL);
	p.nr_queue_pairs = 33;
	CHECK(ifcvf_sim_create(&p) == NULL);
	p.nr_queue_pairs = 1;
	p.max_queue_size = 1000;
	CHECK(ifcvf_sim_create(&p) == NULL);
	return 0;
}

static const struct test_case cases[] = {
	TEST_CASE(test_init_profiles),
	TEST_CASE(test_negotiate),
	TEST_CASE(test_negotiate_legacy_modern),
	TEST_CASE(test_sim_refuses_features),
	TEST_CASE(test_queues_1_pair),
	TEST_CASE(test_queues_32_pairs),
	TEST_CASE(test_partial_queues),
	TEST_CASE(test_bad_queue_size),
	TEST_CASE(test_bad_vector),
	TEST_CASE(test_ring_state),
	TEST_CASE(test_virtio_profile_has_no_lm),
	TEST_CASE(test_logging_registers),
	TEST_CASE(test_reset_timeout),
	TEST_CASE(test_queue_enable_fault),
	TEST_CASE(test_status_faults),
	TEST_CASE(test_failed_at_driver_ok),
	TEST_CASE(test_start_malformed_ring),
	TEST_CASE(test_notify),
	TEST_CASE(test_net_config),
	TEST_CASE(test_bad_sim_params),
};

static const struct test_suite suite = {
	.name = "hw", .cases = cases, .nr_cases = RTE_DIM(cases),
};

int
main(int argc, char **argv)
{
	guest_mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guest_mem == MAP_FAILED)
		return 1;
	return test_main(&suite, argc - 1, argv + 1);
}
