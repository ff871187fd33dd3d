/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The VF's interrupts: each vector routed to where it belongs (a queue's
 * to the guest's call eventfd, or to the relay for a shadow-ring queue;
 * the config vector to the relay), and the config interrupt served.
 */

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "ifcvf_vdpa.h"

/* Where queue @q's vector goes: the guest, the relay, or nowhere. */
static int
irq_queue_fd(const struct ifcvf_queue *q)
{
	if (q->sh.on)
		return q->sh.irq.fd;
	/* A disabled queue's call fd may be closed already. */
	return q->ifc->vring[q->qid].enable ? q->vring.callfd : -1;
}

/*
 * Every vector to where it belongs now. Vhost closes a call fd it
 * replaces right after the queue is disabled, so this runs at every
 * queue start: a vector never stays on a replaced fd.
 */
int
ifcvf_irq_route(struct ifcvf_internal *ifc)
{
	int fds[IFCVF_MAX_QUEUES + 1];
	uint16_t qid;

	fds[IFCVF_CONFIG_VECTOR] = ifc->cfg.fd;
	uint16_t n = ifc->nr_vring + 1;
	int ret;

	for (qid = 0; qid < ifc->nr_vring; qid++)
		fds[IFCVF_QUEUE_VECTOR(qid)] = irq_queue_fd(&ifc->q[qid]);
	ret = ifc->bus->set_irqs(ifc, fds, n);
	if (ret == 0) {
		memcpy(ifc->irq_route, fds, sizeof(fds[0]) * n);
		ifc->nr_irq_route = n;
	}
	return ret;
}

void
ifcvf_irq_unroute(struct ifcvf_internal *ifc)
{
	ifc->bus->set_irqs(ifc, NULL, 0);
	ifc->nr_irq_route = 0;
}

/* A net device's new config: the link went up or down. */
static void
irq_net_config_changed(struct ifcvf_internal *ifc)
{
	struct ifcvf_net_config cfg;

	if (ifcvf_hw_read_net_config(&ifc->hw, &cfg) == 0)
		IFCVF_LOG(INFO, "%s: config changed, link %s",
			  ifc->rte_dev->name,
			  cfg.status & VIRTIO_NET_S_LINK_UP ? "up" : "down");
}

/*
 * The device's config interrupt: a link change or a new capacity, or a
 * device that stopped and needs a reset (a queue on a malformed ring).
 * Registers only: the relay never takes ifc->lock (ifc->vid is set
 * before the interrupt is routed and kept until it is no more).
 */
static void
irq_config_changed(struct ifcvf_relay_src *src)
{
	struct ifcvf_internal *ifc = container_of(src, struct ifcvf_internal,
						  cfg);
	uint8_t status = ifcvf_hw_get_status(&ifc->hw);

	ifcvf_hw_read_isr(&ifc->hw);
	if (status & VIRTIO_CONFIG_S_NEEDS_RESET) {
		IFCVF_LOG(ERR, "%s: the device stopped and needs a reset (status 0x%x): a malformed ring?",
			  ifc->rte_dev->name, status);
		ifcvf_error(ifc, IFCVF_ERR_NEEDS_RESET);
	}
	if (ifcvf_is_blk(ifc))
		ifcvf_blk_config_changed(ifc);
	else
		irq_net_config_changed(ifc);
}

int
ifcvf_irq_config_start(struct ifcvf_internal *ifc)
{
	int ret;

	ifc->cfg.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ifc->cfg.fd < 0)
		return -errno;
	ifc->cfg.handler = irq_config_changed;
	ret = ifcvf_relay_add(&ifc->cfg);
	if (ret < 0) {
		close(ifc->cfg.fd);
		ifc->cfg.fd = -1;
	}
	return ret;
}

void
ifcvf_irq_config_stop(struct ifcvf_internal *ifc)
{
	if (ifc->cfg.fd < 0)
		return;
	ifcvf_relay_del(&ifc->cfg);
	close(ifc->cfg.fd);
	ifc->cfg.fd = -1;
}
