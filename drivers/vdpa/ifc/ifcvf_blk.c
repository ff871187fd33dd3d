/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * What a block VF needs beyond a network one: its requests in flight
 * drained before a queue stops, its config space read for the frontend
 * (GET_CONFIG) and a capacity change told to it.
 */

#include <inttypes.h>
#include <string.h>

#include <rte_vhost.h>

#include "ifcvf_vdpa.h"

/* The largest config a vhost-user message carries (VHOST_USER_GET_CONFIG). */
#define IFCVF_VHOST_CONFIG_MAX	256
/* How long a block device's stop waits for its requests in flight. */
#define IFCVF_BLK_DRAIN_TIMEOUT_MS	1000

/* Requests queue @qid's device has taken and not completed. */
static uint16_t
blk_in_flight(struct ifcvf_internal *ifc, uint16_t qid)
{
	struct ifcvf_vring *vr = &ifc->vring[qid];

	if (ifcvf_hw_ring_state_save(&ifc->hw, qid, vr) < 0)
		return 0;
	return (uint16_t)(vr->last_avail_idx - vr->last_used_idx);
}

/*
 * A block device's requests in flight are lost when a queue stops: wait
 * (bounded by *@waited, shared by the queues of one stop) until queue
 * @qid completed what it took. A queue still busy at the deadline has its
 * ring state taken from its used ring, so that the next device (after a
 * migration: the destination's) carries out its unfinished requests
 * again. Without ring-state registers that is how the state is read
 * anyway.
 */
void
ifcvf_blk_drain_queue(struct ifcvf_internal *ifc, uint16_t qid,
		      unsigned int *waited)
{
	uint16_t left;

	while ((left = blk_in_flight(ifc, qid)) != 0 &&
	       *waited < IFCVF_BLK_DRAIN_TIMEOUT_MS) {
		ifcvf_hw_notify(&ifc->hw, qid);
		ifcvf_msleep(1);
		(*waited)++;
	}
	if (left == 0)
		return;
	IFCVF_LOG(ERR, "%s: queue %u: %u requests still in flight after %u ms: they will be carried out again",
		  ifc->rte_dev->name, qid, left, IFCVF_BLK_DRAIN_TIMEOUT_MS);
	ifc->nr_drain_abandoned += left;
	ifc->q[qid].state_lost = true;
}

/* Every running queue of a block device, before a reset. */
void
ifcvf_blk_drain(struct ifcvf_internal *ifc)
{
	unsigned int waited = 0;
	uint16_t qid;

	/* A queue whose requests a stop gave up on already: not again. */
	for (qid = 0; qid < ifc->nr_vring && ifc->hw.has_lm; qid++)
		if ((ifc->vring[qid].enable || ifc->q[qid].parked) &&
		    !ifc->q[qid].state_lost)
			ifcvf_blk_drain_queue(ifc, qid, &waited);
}

/*
 * A block device's new config (a capacity change): the frontend is told
 * and reads it (GET_CONFIG). No reply is awaited: the relay serves every
 * VF and does not wait on a frontend.
 */
void
ifcvf_blk_config_changed(struct ifcvf_internal *ifc)
{
	struct ifcvf_blk_config cfg;

	if (ifcvf_hw_read_blk_config(&ifc->hw, &cfg) < 0)
		return;
	IFCVF_LOG(INFO, "%s: config changed, capacity %" PRIu64 " sectors",
		  ifc->rte_dev->name, cfg.capacity);
	if (rte_vhost_backend_config_change(ifc->vid, false) < 0)
		IFCVF_LOG(ERR, "%s: the frontend could not be told of the change",
			  ifc->rte_dev->name);
}

/*
 * A block device's config space for the frontend (VHOST_USER_GET_CONFIG):
 * read from the device in one config generation, its fields checked;
 * what lies past virtio_blk_config's fields the driver knows reads 0.
 * vhost hands the frontend's size as it came: bounded here by what its
 * message holds.
 */
int
ifcvf_blk_get_config(int vid, uint8_t *config, uint32_t size)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);
	struct ifcvf_blk_config cfg;

	if (ifc == NULL)
		return -1;
	if (size == 0 || size > IFCVF_VHOST_CONFIG_MAX) {
		IFCVF_LOG(ERR, "%s: GET_CONFIG of %u bytes refused: size out of 1..%u",
			  ifc->rte_dev->name, size, IFCVF_VHOST_CONFIG_MAX);
		ifcvf_error(ifc, IFCVF_ERR_CONFIG);
		return -1;
	}
	if (ifcvf_hw_read_blk_config(&ifc->hw, &cfg) < 0)
		return -1;
	memset(config, 0, size);
	memcpy(config, cfg.raw, RTE_MIN(size, (uint32_t)sizeof(cfg.raw)));
	return 0;
}

/* The config space is the device's: a frontend writes none of it. */
int
ifcvf_blk_set_config(int vid, uint8_t *config __rte_unused,
		     uint32_t offset, uint32_t size, uint32_t flags __rte_unused)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);

	if (ifc == NULL)
		return -1;
	IFCVF_LOG(ERR, "%s: SET_CONFIG of %u bytes at %u refused: the config space is read-only",
		  ifc->rte_dev->name, size, offset);
	ifcvf_error(ifc, IFCVF_ERR_CONFIG);
	return -1;
}
