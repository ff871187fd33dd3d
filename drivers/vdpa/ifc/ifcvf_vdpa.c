/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The vDPA ops: what vhost asks of a VF, and the VF list. dev_conf
 * configures the VF for one connection (ifcvf_dp_start), a queue's state
 * or new features reconfigure it (ifcvf_queue.c, ifcvf_dp.c), dev_close
 * stops it and hands the ring state back to vhost.
 */

#include <errno.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_vhost.h>
#include <vdpa_driver.h>

#include "ifcvf_bus_abi.h"
#include "ifcvf_vdpa.h"

/* What the driver adds: the VF cannot send a RARP, the guest can. */
#define IFCVF_VHOST_FEATURES ( \
	(1ULL << VHOST_USER_F_PROTOCOL_FEATURES) | \
	(1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE))
#define IFCVF_BLK_VHOST_FEATURES (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)


#define IFCVF_PROTOCOL_FEATURES ( \
	(1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	(1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_HOST_NOTIFIER) | \
	(1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD) | \
	(1ULL << VHOST_USER_PROTOCOL_F_MQ) | \
	(1ULL << VHOST_USER_PROTOCOL_F_STATUS))
/*
 * A block device's config space is the frontend's to read. DPDK 22.11's
 * vhost configures a blk vDPA device only at a SET_VRING_CALL of the
 * last ring once the device is ready, reading the ring's index from the
 * message after handling it. Hence no STATUS (ready only at DRIVER_OK,
 * after every SET_VRING_CALL) and no REPLY_ACK (the ack overwrites the
 * index with 0): with either, a device of two queues or more is never
 * configured.
 */
#define IFCVF_BLK_PROTOCOL_FEATURES \
	((IFCVF_PROTOCOL_FEATURES & \
	  ~((1ULL << VHOST_USER_PROTOCOL_F_STATUS) | \
	    (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK))) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG))

static TAILQ_HEAD(, ifcvf_internal) ifcvf_list =
	TAILQ_HEAD_INITIALIZER(ifcvf_list);
static pthread_mutex_t ifcvf_list_lock = PTHREAD_MUTEX_INITIALIZER;
/* Held (read) by a telemetry reply on a VF, (write) to unregister one. */
static pthread_rwlock_t ifcvf_use_lock = PTHREAD_RWLOCK_INITIALIZER;

struct ifcvf_internal *
ifcvf_vdpa_get(const char *name)
{
	struct ifcvf_internal *ifc;

	pthread_rwlock_rdlock(&ifcvf_use_lock);
	ifc = ifcvf_vdpa_find(rte_vdpa_find_device_by_name(name));
	if (ifc == NULL)
		pthread_rwlock_unlock(&ifcvf_use_lock);
	return ifc;
}

void
ifcvf_vdpa_put(void)
{
	pthread_rwlock_unlock(&ifcvf_use_lock);
}

void
ifcvf_vdpa_foreach(void (*fn)(struct ifcvf_internal *ifc, void *arg),
		   void *arg)
{
	struct ifcvf_internal *ifc;

	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_FOREACH(ifc, &ifcvf_list, next)
		fn(ifc, arg);
	pthread_mutex_unlock(&ifcvf_list_lock);
}

struct ifcvf_internal *
ifcvf_vdpa_find(struct rte_vdpa_device *vdev)
{
	struct ifcvf_internal *ifc;

	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_FOREACH(ifc, &ifcvf_list, next)
		if (ifc->vdev == vdev)
			break;
	pthread_mutex_unlock(&ifcvf_list_lock);
	return ifc;
}

struct ifcvf_internal *
ifcvf_vdpa_find_by_vid(int vid)
{
	struct ifcvf_internal *ifc;

	ifc = ifcvf_vdpa_find(rte_vhost_get_vdpa_device(vid));
	if (ifc == NULL)
		IFCVF_LOG(ERR, "vid %d is not on an IFCVF device", vid);
	return ifc;
}

/* Without protocol features no SET_VRING_ENABLE comes: all rings run. */
static void
vdpa_enable_implicit_vrings(struct ifcvf_internal *ifc)
{
	uint64_t features = 0;
	uint16_t qid;

	rte_vhost_get_negotiated_features(ifc->vid, &features);
	if (features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))
		return;
	for (qid = 0; qid < ifc->nr_vring; qid++)
		ifc->vring[qid].enable = true;
}

/*
 * A new connection: nothing of the last one's queues survives (vhost
 * calls dev_cleanup when a connection ends).
 */
static void
vdpa_forget_connection(struct ifcvf_internal *ifc)
{
	uint16_t qid;

	for (qid = 0; qid < IFCVF_MAX_QUEUES; qid++) {
		ifc->vring[qid].enable = false;
		ifc->vring[qid].vector = IFCVF_MSI_NO_VECTOR;
		ifc->q[qid].parked = false;
		ifc->q[qid].state_lost = false;
		ifc->q[qid].notifier = false;
		ifc->q[qid].notifier_refused = false;
		memset(&ifc->q[qid].vring, 0, sizeof(ifc->q[qid].vring));
		ifc->q[qid].vring.callfd = -1;
		ifc->q[qid].vring.kickfd = -1;
	}
	ifc->nr_vring = 0;
	ifc->vid = -1;
}

/*
 * The VF serves another connection than @vid (a second socket of the
 * same device): its configuration is refused. Under ifc->lock.
 */
static bool
vdpa_serves_other(const struct ifcvf_internal *ifc, int vid)
{
	return ifc->vid >= 0 && ifc->vid != vid;
}

/* A request (@what) of a connection the VF does not serve: refused. */
static bool
vdpa_refuse_other(struct ifcvf_internal *ifc, int vid, const char *what)
{
	if (!vdpa_serves_other(ifc, vid))
		return false;
	IFCVF_LOG(ERR, "%s: in use by another frontend: %s of connection %d refused",
		  ifc->rte_dev->name, what, vid);
	ifcvf_error(ifc, IFCVF_ERR_OTHER_FRONTEND);
	return true;
}

/* Configure the VF for connection @vid, under ifc->lock. */
static int
vdpa_configure(struct ifcvf_internal *ifc, int vid)
{
	uint16_t nr = rte_vhost_get_vring_num(vid);
	int ret;

	if (nr > ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: frontend has %u queues, the device %u",
			  ifc->rte_dev->name, nr, ifc->hw.nr_vring);
		ifcvf_error(ifc, IFCVF_ERR_QUEUES);
		return -EINVAL;
	}
	if (ifc->configured && ifcvf_is_blk(ifc) && ifc->vid == vid)
		return 0;	/* at its last ring's enable: vdpa_blk_ready() */
	if (ifc->configured || vdpa_serves_other(ifc, vid)) {
		/* Another connection's (a second socket on this VF). */
		IFCVF_LOG(ERR, "%s: in use by another frontend",
			  ifc->rte_dev->name);
		ifcvf_error(ifc, IFCVF_ERR_OTHER_FRONTEND);
		return -EBUSY;
	}
	ifc->vid = vid;
	ifc->nr_vring = IFCVF_MAX_QUEUES;
	ifcvf_queue_shrink(ifc, nr);
	vdpa_enable_implicit_vrings(ifc);
	ret = ifcvf_dp_start(ifc);
	if (ret < 0) {
		IFCVF_LOG(ERR, "%s: configuration failed: %s",
			  ifc->rte_dev->name, strerror(-ret));
		return ret;
	}
	ifcvf_dp_notifiers_sync(ifc);
	IFCVF_LOG(INFO, "%s: configured, %u queues", ifc->rte_dev->name, nr);
	return 0;
}

static int
vdpa_dev_conf(int vid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);
	int ret;

	if (ifc == NULL)
		return -1;
	pthread_mutex_lock(&ifc->lock);
	ret = vdpa_configure(ifc, vid);
	pthread_mutex_unlock(&ifc->lock);
	return ret < 0 ? -1 : 0;
}

/*
 * DPDK 22.11's vhost calls dev_conf for a blk vDPA device only at a
 * SET_VRING_CALL of its last ring once it is ready (ring 0 ready). QEMU
 * 7.2's vhost-user-blk sends its last SET_VRING_CALL before that (when it
 * sets up the guest notifiers), then the rings, then SET_VRING_ENABLE;
 * and a guest may use fewer rings than there are (SeaBIOS runs ring 0 of
 * any number): dev_conf never comes. So the driver configures a blk VF
 * itself when vhost finds ring 0 ready (the set_vring_state it sends
 * then); the other rings join as they get ready. vhost's stops (dev_close
 * at GET_VRING_BASE, dev_cleanup) do not depend on its own dev_conf.
 */
static bool
vdpa_blk_ready(const struct ifcvf_internal *ifc, int vring)
{
	return ifcvf_is_blk(ifc) && vring == 0;
}

static int
vdpa_dev_close(int vid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);

	if (ifc == NULL)
		return -1;
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured && !vdpa_serves_other(ifc, vid)) {
		ifcvf_dp_notifiers_set(ifc, false);
		ifcvf_dp_stop(ifc);
	}
	pthread_mutex_unlock(&ifc->lock);
	return 0;
}

/* The connection ends (or its owner resets): close, and forget it. */
static int
vdpa_dev_cleanup(int vid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);

	if (ifc == NULL)
		return -1;
	vdpa_dev_close(vid);
	pthread_mutex_lock(&ifc->lock);
	if (!vdpa_serves_other(ifc, vid))
		vdpa_forget_connection(ifc);
	pthread_mutex_unlock(&ifc->lock);
	return 0;
}

static int
vdpa_set_vring_state(int vid, int vring, int state)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);
	bool enable = state != 0;
	int ret = 0;

	if (ifc == NULL)
		return -1;
	if (vring < 0 || vring >= ifc->hw.nr_vring) {
		IFCVF_LOG(ERR, "%s: no queue %d", ifc->rte_dev->name, vring);
		return -1;
	}
	pthread_mutex_lock(&ifc->lock);
	if (vdpa_refuse_other(ifc, vid, "a queue state")) {
		pthread_mutex_unlock(&ifc->lock);
		return -1;
	}
	if (!ifc->configured) {
		ifc->vring[vring].enable = enable;
		if (enable && vdpa_blk_ready(ifc, vring))
			ret = vdpa_configure(ifc, vid);
	} else if (enable && !ifc->vring[vring].enable)
		ret = ifcvf_queue_start(ifc, vring);
	else if (!enable && ifc->vring[vring].enable)
		ret = ifcvf_queue_stop(ifc, vring);
	ifcvf_dp_notifiers_sync(ifc);
	pthread_mutex_unlock(&ifc->lock);
	if (ret < 0)
		IFCVF_LOG(ERR, "%s: queue %d %s failed: %s", ifc->rte_dev->name,
			  vring, enable ? "enable" : "disable", strerror(-ret));
	return ret < 0 ? -1 : 0;
}

static int
vdpa_set_features(int vid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);
	uint64_t features = 0;
	bool want;
	int ret = 0;

	if (ifc == NULL)
		return -1;
	rte_vhost_get_negotiated_features(vid, &features);
	want = (features & (1ULL << VHOST_F_LOG_ALL)) != 0;
	pthread_mutex_lock(&ifc->lock);
	if (vdpa_refuse_other(ifc, vid, "features")) {
		pthread_mutex_unlock(&ifc->lock);
		return -1;
	}
	if (ifc->configured && want && ifc->logging && !ifc->mediated &&
	    ifcvf_lm_log_moved(ifc)) {
		/*
		 * The log was handed again (QEMU does, once per queue pair):
		 * the VF must log into vhost's new mapping. The relay of a
		 * mediated VF follows it by itself.
		 */
		ret = ifcvf_dp_restart(ifc, true, -1);
	} else if (ifc->configured && want != ifc->logging) {
		IFCVF_LOG(INFO, "%s: dirty logging %s", ifc->rte_dev->name,
			  want ? "on" : "off (migration cancelled)");
		ret = ifcvf_dp_log_switch(ifc, want);
	}
	ifcvf_dp_notifiers_sync(ifc);
	pthread_mutex_unlock(&ifc->lock);
	return ret < 0 ? -1 : 0;
}

static int
vdpa_get_queue_num(struct rte_vdpa_device *vdev, uint32_t *queue_num)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	/* Queue pairs for net (vhost's MQ), queues for blk (num-queues). */
	*queue_num = ifcvf_is_blk(ifc) ? ifc->hw.nr_vring : ifc->hw.nr_vring / 2;
	return 0;
}

static int
vdpa_get_features(struct rte_vdpa_device *vdev, uint64_t *features)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	*features = (ifc->hw.dev_features & ifcvf_dp_served_features(ifc)) |
		    (ifcvf_is_blk(ifc) ? IFCVF_BLK_VHOST_FEATURES :
		     IFCVF_VHOST_FEATURES);
	/* Dirty pages are logged by the VF, or by the relay. */
	*features |= 1ULL << VHOST_F_LOG_ALL;
	return 0;
}

static int
vdpa_get_protocol_features(struct rte_vdpa_device *vdev, uint64_t *features)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find(vdev);

	if (ifc == NULL)
		return -1;
	*features = ifcvf_is_blk(ifc) ? IFCVF_BLK_PROTOCOL_FEATURES :
		    IFCVF_PROTOCOL_FEATURES;
	return 0;
}

static int
vdpa_get_vfio_group_fd(int vid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);

	if (ifc == NULL || ifc->bus->vfio_group_fd == NULL)
		return -1;
	return ifc->bus->vfio_group_fd(ifc);
}

static int
vdpa_get_vfio_device_fd(int vid)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);

	if (ifc == NULL || ifc->bus->vfio_device_fd == NULL)
		return -1;
	return ifc->bus->vfio_device_fd(ifc);
}

static int
vdpa_get_notify_area(int vid, int qid, uint64_t *offset, uint64_t *size)
{
	struct ifcvf_internal *ifc = ifcvf_vdpa_find_by_vid(vid);

	if (ifc == NULL || qid < 0 || qid >= ifc->hw.nr_vring ||
	    !ifcvf_dp_notifier_ok(ifc, qid))
		return -1;
	return ifc->bus->notify_area(ifc, qid, offset, size);
}

/*
 * The device type: asked while the vDPA device registers, before it is
 * known to the driver's list; hence one ops table per type.
 */
static int
vdpa_get_dev_type_net(struct rte_vdpa_device *vdev __rte_unused,
		      uint32_t *type)
{
	*type = RTE_VHOST_VDPA_DEVICE_TYPE_NET;
	return 0;
}

static int
vdpa_get_dev_type_blk(struct rte_vdpa_device *vdev __rte_unused,
		      uint32_t *type)
{
	*type = RTE_VHOST_VDPA_DEVICE_TYPE_BLK;
	return 0;
}

#define IFCVF_OPS_COMMON \
	.get_queue_num = vdpa_get_queue_num, \
	.get_features = vdpa_get_features, \
	.get_protocol_features = vdpa_get_protocol_features, \
	.dev_conf = vdpa_dev_conf, \
	.dev_close = vdpa_dev_close, \
	.dev_cleanup = vdpa_dev_cleanup, \
	.set_vring_state = vdpa_set_vring_state, \
	.set_features = vdpa_set_features, \
	.get_vfio_group_fd = vdpa_get_vfio_group_fd, \
	.get_vfio_device_fd = vdpa_get_vfio_device_fd, \
	.get_notify_area = vdpa_get_notify_area, \
	.get_stats_names = ifcvf_stats_names, \
	.get_stats = ifcvf_stats_get, \
	.reset_stats = ifcvf_stats_reset

static struct rte_vdpa_dev_ops ifcvf_net_ops = {
	IFCVF_OPS_COMMON,
	.get_dev_type = vdpa_get_dev_type_net,
};

/* A block device's config space is the frontend's to read. */
static struct rte_vdpa_dev_ops ifcvf_blk_ops = {
	IFCVF_OPS_COMMON,
	.get_dev_type = vdpa_get_dev_type_blk,
	.get_config = ifcvf_blk_get_config,
	.set_config = ifcvf_blk_set_config,
};

int
ifcvf_bus_attach(const char *glue, const char *abi)
{
	if (strcmp(abi, IFCVF_BUS_ABI) == 0)
		return 0;
	IFCVF_LOG(ERR, "%s: built with bus interface %s, the driver with %s: load the two of one build",
		  glue, abi, IFCVF_BUS_ABI);
	return -EPROTO;
}

int
ifcvf_bus_register(struct ifcvf_internal *ifc, const struct ifcvf_io *io,
		   const char *abi)
{
	int ret = ifcvf_bus_attach("a bus glue", abi);

	if (ret == 0)
		ret = ifcvf_hw_init(&ifc->hw, io);
	if (ret == 0)
		ret = ifcvf_vdpa_register(ifc);
	return ret;
}

int
ifcvf_vdpa_register(struct ifcvf_internal *ifc)
{
	uint16_t qid;
	int ret;

	ret = ifcvf_relay_claim(ifc->rte_dev->name, &ifc->relay_conf);
	if (ret < 0)
		return ret;
	pthread_mutex_init(&ifc->lock, NULL);
	ifc->vid = -1;
	for (qid = 0; qid < IFCVF_MAX_QUEUES; qid++) {
		ifc->q[qid].ifc = ifc;
		ifc->q[qid].qid = qid;
		ifc->q[qid].kick.fd = -1;
		ifc->q[qid].sh.irq.fd = -1;
	}
	ifc->cfg.fd = -1;
	vdpa_forget_connection(ifc);
	ifc->vdev = rte_vdpa_register_device(ifc->rte_dev, ifcvf_is_blk(ifc) ?
					     &ifcvf_blk_ops : &ifcvf_net_ops);
	if (ifc->vdev == NULL) {
		IFCVF_LOG(ERR, "%s: cannot register the vDPA device",
			  ifc->rte_dev->name);
		pthread_mutex_destroy(&ifc->lock);
		ifcvf_relay_release(&ifc->relay_conf);
		return -EIO;
	}
	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_INSERT_TAIL(&ifcvf_list, ifc, next);
	pthread_mutex_unlock(&ifcvf_list_lock);
	return 0;
}

void
ifcvf_vdpa_unregister(struct ifcvf_internal *ifc)
{
	pthread_rwlock_wrlock(&ifcvf_use_lock);
	pthread_mutex_lock(&ifcvf_list_lock);
	TAILQ_REMOVE(&ifcvf_list, ifc, next);
	pthread_mutex_unlock(&ifcvf_list_lock);
	pthread_rwlock_unlock(&ifcvf_use_lock);
	pthread_mutex_lock(&ifc->lock);
	if (ifc->configured)
		ifcvf_dp_stop(ifc);
	pthread_mutex_unlock(&ifc->lock);
	rte_vdpa_unregister_device(ifc->vdev);
	pthread_mutex_destroy(&ifc->lock);
	ifcvf_relay_release(&ifc->relay_conf);
}
