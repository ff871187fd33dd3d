/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The PCI glue's two decisions, without EAL: which devices its ID table
 * matches (by the PCI bus's rule: each field equal or a wildcard), and
 * which devargs give a device to it rather than to net_virtio; and its
 * word when DPDK has no VFIO container left for a VF (the link wraps
 * rte_vfio_container_create with DPDK's slot count).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_log.h>

#include "ifcvf_hw.h"
#include "ifcvf_pci.h"
#include "test.h"
#include "test_log.h"

#define CLASS_NET	0x020000	/* Ethernet controller */

/* The PCI bus's matching rule: every field equal, or a wildcard. */
static bool
field_match(uint16_t want, uint16_t have)
{
	return want == RTE_PCI_ANY_ID || want == have;
}

static bool
table_matches(const struct rte_pci_id *dev)
{
	const struct rte_pci_id *id;

	for (id = ifcvf_pci_ids; id->vendor_id != 0; id++)
		if (field_match(id->vendor_id, dev->vendor_id) &&
		    field_match(id->device_id, dev->device_id) &&
		    field_match(id->subsystem_vendor_id,
				dev->subsystem_vendor_id) &&
		    field_match(id->subsystem_device_id,
				dev->subsystem_device_id) &&
		    (id->class_id == RTE_CLASS_ANY_ID ||
		     id->class_id == dev->class_id))
			return true;
	return false;
}

#define DEV(v, d, sv, sd) { .class_id = CLASS_NET, .vendor_id = (v), \
	.device_id = (d), .subsystem_vendor_id = (sv), \
	.subsystem_device_id = (sd) }

static const struct id_case {
	const char *what;
	struct rte_pci_id dev;
	bool match;
} id_cases[] = {
	{ "IFCVF modern", DEV(0x1af4, 0x1041, 0x8086, 0x001a), true },
	/* As DPDK's IFC driver: the transitional net VF is 0x8086:0x0001. */
	{ "IFCVF transitional", DEV(0x1af4, 0x1000, 0x8086, 0x0001), true },
	{ "QEMU virtio-net-pci", DEV(0x1af4, 0x1041, 0x1af4, 0x1100), true },
	/* A legacy-capable virtio-net that is no IFCVF: net_virtio's. */
	{ "virtio-net transitional", DEV(0x1af4, 0x1000, 0x1af4, 0x0001),
	  false },
	{ "transitional, modern subsystem",
	  DEV(0x1af4, 0x1000, 0x8086, 0x001a), false },
	/* IFCVF's block VFs (subsystem 0x8086:0x0002), and only those. */
	{ "IFCVF blk modern", DEV(0x1af4, 0x1042, 0x8086, 0x0002), true },
	{ "IFCVF blk transitional", DEV(0x1af4, 0x1001, 0x8086, 0x0002),
	  true },
	{ "blk, net subsystem", DEV(0x1af4, 0x1042, 0x8086, 0x001a), false },
	{ "QEMU virtio-blk-pci", DEV(0x1af4, 0x1042, 0x1af4, 0x1100), false },
	{ "other vendor", DEV(0x8086, 0x1041, 0x8086, 0x001a), false },
};

static int
ids_matched(void)
{
	unsigned int i, wrong = 0;

	for (i = 0; i < RTE_DIM(id_cases); i++) {
		const struct id_case *c = &id_cases[i];

		if (table_matches(&c->dev) == c->match)
			continue;
		fprintf(stderr, "%s (%04x:%04x %04x:%04x): %s\n", c->what,
			c->dev.vendor_id, c->dev.device_id,
			c->dev.subsystem_vendor_id, c->dev.subsystem_device_id,
			c->match ? "not matched" : "matched");
		wrong++;
	}
	CHECK_EQ(wrong, 0);
	return 0;
}

/* Every entry is a net or blk device ID of vendor 0x1af4. */
static int
ids_table_shape(void)
{
	const struct rte_pci_id *id;
	unsigned int n = 0;

	for (id = ifcvf_pci_ids; id->vendor_id != 0; id++, n++) {
		CHECK_EQ(id->vendor_id, IFCVF_VENDOR_ID);
		CHECK(id->device_id == IFCVF_NET_MODERN_DEVICE_ID ||
		      id->device_id == IFCVF_NET_TRANSITIONAL_DEVICE_ID ||
		      id->device_id == IFCVF_BLK_MODERN_DEVICE_ID ||
		      id->device_id == IFCVF_BLK_TRANSITIONAL_DEVICE_ID);
	}
	CHECK_EQ(n, 5);
	return 0;
}

/* ifcvf_pci_devargs() of @args; *logged set to what the driver said. */
static int
claim(const char *args, struct ifcvf_pci_args *out, char **logged)
{
	int ret;

	memset(out, 0, sizeof(*out));
	log_capture();
	ret = ifcvf_pci_devargs("0000:00:04.0", args, out);
	*logged = log_release();
	return ret;
}

/* Each of @args is left to another driver, without a word logged. */
static int
expect_not_mine(const char * const args[], unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct ifcvf_pci_args out;
		char *logged;
		int ret = claim(args[i], &out, &logged);
		bool quiet = logged[0] == '\0';

		free(logged);
		if (ret != 0 || !quiet)
			fprintf(stderr, "devargs \"%s\": %d, %s\n",
				args[i] != NULL ? args[i] : "(none)", ret,
				quiet ? "quiet" : "logged");
		CHECK_EQ(ret, 0);
		CHECK(quiet);
	}
	return 0;
}

#define NOT_MINE(...) do { \
	static const char * const args_[] = { __VA_ARGS__ }; \
	CHECK_EQ(expect_not_mine(args_, RTE_DIM(args_)), 0); \
} while (0)

static int
expect_mine(const char *args, bool want_sw_lm)
{
	struct ifcvf_pci_args out;
	char *logged;
	int ret = claim(args, &out, &logged);

	free(logged);
	CHECK_EQ(ret, 1);
	CHECK_EQ(out.sw_lm, want_sw_lm);
	return 0;
}

/* Refused, with a message that holds every one of @words. */
static int
expect_refused(const char *args, const char * const words[])
{
	struct ifcvf_pci_args out;
	char *logged;
	int ret = claim(args, &out, &logged);
	unsigned int i;
	bool named = true;

	for (i = 0; words[i] != NULL; i++)
		if (strstr(logged, words[i]) == NULL) {
			fprintf(stderr, "no \"%s\" in: %s\n", words[i], logged);
			named = false;
		}
	free(logged);
	CHECK(ret < 0);
	CHECK(named);
	return 0;
}

static int
devargs_none(void)
{
	NOT_MINE(NULL, "");
	return 0;
}

static int
devargs_vdpa_1(void)
{
	CHECK_EQ(expect_mine("vdpa=1", false), 0);
	CHECK_EQ(expect_mine("vdpa=1,sw-live-migration=1", true), 0);
	CHECK_EQ(expect_mine("vdpa=0,vdpa=1", false), 0);
	return 0;
}

/* DPDK's device-class devarg: class=vdpa is the same as vdpa=1. */
static int
devargs_class_vdpa(void)
{
	CHECK_EQ(expect_mine("class=vdpa", false), 0);
	CHECK_EQ(expect_mine("class=vdpa,sw-live-migration=1", true), 0);
	CHECK_EQ(expect_mine("class=net,class=vdpa", false), 0);
	/* The class decides, whatever vdpa says. */
	CHECK_EQ(expect_mine("class=vdpa,vdpa=0", false), 0);
	CHECK_EQ(expect_mine("vdpa=1,class=vdpa", false), 0);
	return 0;
}

/* Another class, or none and no vdpa=1: net_virtio's, quietly. */
static int
devargs_class_other(void)
{
	NOT_MINE("class=net", "class=net,vdpa=1", "class=vdpa,class=net",
		 "class=eth", "class=", "class", "class=VDPA",
		 "class=net,speed=10000", "class=net,bogus=1");
	return 0;
}

/* As net_virtio reads it: the last vdpa value, and only "1" is on. */
static int
devargs_vdpa_off(void)
{
	NOT_MINE("vdpa=0", "vdpa", "vdpa=yes", "vdpa=1,vdpa=0");
	return 0;
}

/* net_virtio's own devargs, and any other key, without vdpa=1. */
static int
devargs_net_virtio(void)
{
	NOT_MINE("vectorized=1", "speed=10000,vectorized=0",
		 "vdpa=0,speed=10000", "sw-live-migration=1");
	return 0;
}

/* More pairs than rte_kvargs holds: unparsable, so not ours. */
static int
devargs_malformed(void)
{
	char buf[256] = "vdpa=1";
	const char *args[] = { buf };
	int i;

	for (i = 0; i < 40; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 ",k%d", i);
	CHECK_EQ(expect_not_mine(args, 1), 0);
	return 0;
}

/* Ours, so checked: the unknown key is named with the accepted ones. */
static int
devargs_unknown_key(void)
{
	static const char * const words[] = {
		"\"vectorized\"", "vdpa", "sw-live-migration", NULL,
	};

	return expect_refused("vdpa=1,vectorized=1", words);
}

static int
devargs_bad_value(void)
{
	static const char * const words[] = { "sw-live-migration", NULL };

	return expect_refused("vdpa=1,sw-live-migration=2", words);
}

/* class=vdpa claims it as vdpa=1 does: then an unknown key is refused. */
static int
devargs_class_unknown_key(void)
{
	static const char * const words[] = {
		"\"bogus\"", "class", "vdpa", "sw-live-migration", NULL,
	};

	return expect_refused("class=vdpa,bogus=1", words);
}

/* The relay's devargs: parsed for the process-wide claim. */
static int
devargs_relay(void)
{
	struct ifcvf_pci_args out;
	char *logged;

	CHECK_EQ(claim("vdpa=1", &out, &logged), 1);
	free(logged);
	CHECK(!out.relay.given);
	CHECK_EQ(claim("vdpa=1,relay=poll,relay-core=1", &out, &logged), 1);
	free(logged);
	CHECK(out.relay.given && out.relay.poll && out.relay.pinned);
	CHECK_EQ(out.relay.cpu, 1);
	CHECK_EQ(claim("class=vdpa,relay=epoll", &out, &logged), 1);
	free(logged);
	CHECK(out.relay.given && !out.relay.poll && !out.relay.pinned);
	return 0;
}

static int
devargs_relay_bad(void)
{
	static const char * const mode[] = { "relay=", "epoll", "poll", NULL };
	static const char * const core[] = { "relay-core=", "CPU", NULL };
	static const char * const bad_core[] = {
		"vdpa=1,relay-core=x", "vdpa=1,relay-core=-1",
		"vdpa=1,relay-core=99999", "vdpa=1,relay-core=",
		"vdpa=1,relay-core=1x",
	};
	unsigned int i;

	CHECK_EQ(expect_refused("vdpa=1,relay=busy", mode), 0);
	CHECK_EQ(expect_refused("vdpa=1,relay=", mode), 0);
	for (i = 0; i < RTE_DIM(bad_core); i++)
		CHECK_EQ(expect_refused(bad_core[i], core), 0);
	return 0;
}

/*
 * rte_vfio_container_create as DPDK's: RTE_MAX_VFIO_CONTAINERS slots, one
 * of them the default container's, then -1.
 */
static unsigned int containers = 1;

int __wrap_rte_vfio_container_create(void);

int
__wrap_rte_vfio_container_create(void)
{
	if (containers == RTE_MAX_VFIO_CONTAINERS)
		return -1;
	return 100 + containers++;
}

/* 63 VFs get a container; the 64th is refused, naming the limit. */
static int
vfio_containers_run_out(void)
{
	static const char * const words[] = {
		"0000:00:04.0", "RTE_MAX_VFIO_CONTAINERS", "(64)",
		"at most 63 VFs", NULL,
	};
	char *logged;
	unsigned int i;
	int fd;

	for (i = 0; i < RTE_MAX_VFIO_CONTAINERS - 1; i++)
		CHECK(ifcvf_pci_container_create("0000:00:01.0") >= 0);
	log_capture();
	fd = ifcvf_pci_container_create("0000:00:04.0");
	logged = log_release();
	CHECK(fd < 0);
	for (i = 0; words[i] != NULL; i++)
		if (strstr(logged, words[i]) == NULL) {
			fprintf(stderr, "no \"%s\" in: %s\n", words[i], logged);
			fd = 0;
		}
	free(logged);
	CHECK(fd < 0);
	return 0;
}

static const struct test_case cases[] = {
	TEST_CASE(ids_matched),
	TEST_CASE(ids_table_shape),
	TEST_CASE(devargs_none),
	TEST_CASE(devargs_vdpa_1),
	TEST_CASE(devargs_vdpa_off),
	TEST_CASE(devargs_class_vdpa),
	TEST_CASE(devargs_class_other),
	TEST_CASE(devargs_net_virtio),
	TEST_CASE(devargs_malformed),
	TEST_CASE(devargs_unknown_key),
	TEST_CASE(devargs_bad_value),
	TEST_CASE(devargs_class_unknown_key),
	TEST_CASE(devargs_relay),
	TEST_CASE(devargs_relay_bad),
	TEST_CASE(vfio_containers_run_out),
};

TEST_MAIN("pci", cases)
