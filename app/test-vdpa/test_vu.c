/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * End-to-end tests with our own vhost-user frontend (vu_guest.h) against
 * DPDK's dpdk-vdpa example serving a simulated VF through the driver:
 * traffic on a looped wire, then hostile frontends. Every case starts its
 * own dpdk-vdpa (stdin a fifo we hold open, a unique file prefix) and
 * stops it in every path; every wait is bounded.
 *
 *   test_vu <builddir> <case>|all|list
 *
 * Environment: TEST_VU_KEEP_LOG=1 keeps dpdk-vdpa's log, TEST_VU_GDB=1
 * runs it under gdb (a backtrace of every thread lands in the log).
 *
 * The driver's log says "closed, IOMMU holds N mappings" each time it
 * tears a configuration down: every such N must be 0.
 */

#define _GNU_SOURCE	/* memfd_create() */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "test.h"
#include "vu_guest.h"

#define CLOSED_MSG	"closed, IOMMU holds "
#define CLOSED_ZERO	"closed, IOMMU holds 0 mappings"
#define CONFIGURED_MSG	"configured, 2 queues"
#define CONF_FAILED_MSG	"configuration failed"
#define KEEP_LOG	getenv("TEST_VU_KEEP_LOG")
#define WAIT_MS		5000
#define TRAFFIC_MS	10000
#define IFCVF_MAX_QSIZE	4096	/* the simulated IFCVF's queue size max */

static const char *build_dir;

/* ---- dpdk-vdpa as a child ---- */

struct vdpa_proc {
	pid_t pid;
	int stdin_fd;		/* the fifo's write side, held open */
	char dir[128];
	char log[192];
	char sock[192];
	char prefix[64];	/* EAL file prefix */
};

static struct vdpa_proc vdpa = { .pid = -1, .stdin_fd = -1 };

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	usleep(ms * 1000);
}

static char *
log_text(void)
{
	FILE *f = fopen(vdpa.log, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	if (f == NULL)
		return strdup("");
	m = open_memstream(&buf, &len);
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(m);
	fclose(f);
	return buf;
}

static unsigned int
log_count(const char *needle)
{
	char *text = log_text(), *p = text;
	unsigned int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(text);
	return n;
}

/* Wait until @needle appears @count times; returns the count seen. */
static unsigned int
log_wait(const char *needle, unsigned int count, int ms)
{
	int64_t end = now_ms() + ms;
	unsigned int n;

	while ((n = log_count(needle)) < count && now_ms() < end)
		sleep_ms(20);
	return n;
}

static void
log_tail(unsigned int lines)
{
	char *text = log_text();
	size_t len = strlen(text);
	char *p = text + len;

	while (p > text && lines > 0) {
		p--;
		if (*p == '\n' && p + 1 < text + len)
			lines--;
	}
	fprintf(stderr, "---- dpdk-vdpa log tail (%s) ----\n%s\n----\n",
		vdpa.log, p);
	free(text);
}

static bool
vdpa_alive(void)
{
	int st;

	if (vdpa.pid <= 0)
		return false;
	if (waitpid(vdpa.pid, &st, WNOHANG) == 0)
		return true;
	if (WIFSIGNALED(st))
		fprintf(stderr, "dpdk-vdpa killed by signal %d (%s)\n",
			WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		fprintf(stderr, "dpdk-vdpa exited with %d\n", WEXITSTATUS(st));
	vdpa.pid = -1;
	return false;
}

static void
child_exec(const char *fifo, const char *vdev, const char *prefix)
{
	char prog[256], plugin[256], iface[192], fp[96], vd[128];
	int in, out;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	in = open(fifo, O_RDONLY);
	out = open(vdpa.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out, 1);
	dup2(out, 2);
	snprintf(prog, sizeof(prog), "%s/app/test-vdpa/dpdk-vdpa", build_dir);
	/*
	 * EAL refuses a -d path below a world-writable folder (a clone in
	 * /tmp): a bare name, found through LD_LIBRARY_PATH.
	 */
	snprintf(plugin, sizeof(plugin), "%s/drivers/vdpa/ifc", build_dir);
	setenv("LD_LIBRARY_PATH", plugin, 1);
	snprintf(plugin, sizeof(plugin), "librte_vdpa_ifc.so");
	snprintf(iface, sizeof(iface), "%s/sock", vdpa.dir);
	snprintf(fp, sizeof(fp), "--file-prefix=%s", prefix);
	snprintf(vd, sizeof(vd), "vdpa_ifcvf_sim0,%s", vdev);
	if (getenv("TEST_VU_GDB") != NULL)
		/* Debugging aid: a backtrace of every thread in the log. */
		execlp("gdb", "gdb", "-batch", "-ex", "run", "-ex",
		       "thread apply all bt", "--args", prog, "-l", "0",
		       "--no-pci", "--no-huge", "-m", "256", fp, "-d", plugin,
		       "--log-level=pmd.vdpa.ifcvf*:info",
		       "--log-level=lib.vhost.config:debug", "--vdev", vd,
		       "--", "--iface", iface, (char *)NULL);
	execl(prog, prog, "-l", "0", "--no-pci", "--no-huge", "-m", "256", fp,
	      "-d", plugin, "--log-level=pmd.vdpa.ifcvf*:info",
	      "--log-level=lib.vhost.config:debug", "--vdev", vd, "--",
	      "--iface", iface, (char *)NULL);
	_exit(127);
}

static void
vdpa_kill(void)
{
	if (vdpa.pid > 0) {
		kill(vdpa.pid, SIGKILL);
		waitpid(vdpa.pid, NULL, 0);
	}
	vdpa.pid = -1;
	if (vdpa.stdin_fd >= 0)
		close(vdpa.stdin_fd);
	vdpa.stdin_fd = -1;
}

/* Start dpdk-vdpa with one simulated VF (@vdev: its devargs). */
static int
vdpa_start(const char *name, const char *vdev)
{
	char fifo[192];
	struct stat sb;
	int64_t end;

	snprintf(vdpa.dir, sizeof(vdpa.dir), "/tmp/test_vu.XXXXXX");
	if (mkdtemp(vdpa.dir) == NULL)
		return -errno;
	snprintf(vdpa.log, sizeof(vdpa.log), "%s/vdpa.log", vdpa.dir);
	snprintf(vdpa.sock, sizeof(vdpa.sock), "%s/sock0", vdpa.dir);
	snprintf(fifo, sizeof(fifo), "%s/stdin", vdpa.dir);
	snprintf(vdpa.prefix, sizeof(vdpa.prefix), "tvu%d_%.20s",
		 (int)getpid(), name);
	if (mkfifo(fifo, 0600) < 0)
		return -errno;
	/* Read-write: opening cannot block, and the child never sees EOF. */
	vdpa.stdin_fd = open(fifo, O_RDWR | O_CLOEXEC);
	if (vdpa.stdin_fd < 0)
		return -errno;
	vdpa.pid = fork();
	if (vdpa.pid < 0)
		return -errno;
	if (vdpa.pid == 0)
		child_exec(fifo, vdev, vdpa.prefix);
	end = now_ms() + 15000;
	while (stat(vdpa.sock, &sb) != 0) {
		if (!vdpa_alive() || now_ms() >= end) {
			fprintf(stderr, "dpdk-vdpa: no socket %s\n", vdpa.sock);
			log_tail(30);
			vdpa_kill();
			return -ETIMEDOUT;
		}
		sleep_ms(20);
	}
	return 0;
}

/* Ask dpdk-vdpa to quit; 0 if it exits with 0 in time. */
static int
vdpa_quit(void)
{
	int64_t end = now_ms() + 10000;
	int st = 0;
	pid_t r;

	if (write(vdpa.stdin_fd, "q\n", 2) != 2)
		fprintf(stderr, "cannot write to dpdk-vdpa's stdin\n");
	while ((r = waitpid(vdpa.pid, &st, WNOHANG)) == 0 && now_ms() < end)
		sleep_ms(20);
	if (r == 0) {
		fprintf(stderr, "dpdk-vdpa did not quit in 10 s\n");
		vdpa_kill();
		return -1;
	}
	vdpa.pid = -1;
	close(vdpa.stdin_fd);
	vdpa.stdin_fd = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "dpdk-vdpa ended with status 0x%x\n", st);
		return -1;
	}
	return 0;
}

/* EAL's runtime folder of the file prefix (files only, no subfolders). */
static void
remove_runtime_dir(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[256], path[512];
	struct dirent *e;
	DIR *d;

	if (getuid() == 0 || xdg == NULL)
		snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", vdpa.prefix);
	else
		snprintf(dir, sizeof(dir), "%s/dpdk/%s", xdg, vdpa.prefix);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
vdpa_cleanup(void)
{
	char path[256];

	vdpa_kill();
	if (vdpa.prefix[0] != '\0')
		remove_runtime_dir();
	vdpa.prefix[0] = '\0';
	if (vdpa.dir[0] == '\0')
		return;
	if (KEEP_LOG != NULL) {
		fprintf(stderr, "log kept: %s\n", vdpa.log);
		return;
	}
	snprintf(path, sizeof(path), "%s/stdin", vdpa.dir);
	unlink(path);
	unlink(vdpa.sock);
	unlink(vdpa.log);
	rmdir(vdpa.dir);
	vdpa.dir[0] = '\0';
}

/* ---- Checks on the driver's log ---- */

/* Every close so far left no mapping; at least @min closes seen. */
static int
check_closes(unsigned int min)
{
	unsigned int all, zero;

	all = log_wait(CLOSED_MSG, min, WAIT_MS);
	zero = log_count(CLOSED_ZERO);
	if (all < min || zero != all) {
		fprintf(stderr, "closes: %u seen (want >= %u), %u with 0 mappings\n",
			all, min, zero);
		return -1;
	}
	return 0;
}

/* ---- Guest helpers ---- */

static const struct vu_guest_params def_params;

#define NO_EVENT_IDX_FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))

static const struct vu_guest_params no_event_idx = {
	.features = NO_EVENT_IDX_FEATURES,
};

/* Connect, lay out the queues, send region 0. */
static int
guest_open(struct vu_guest *g, const struct vu_guest_params *p)
{
	int ret = vu_guest_connect(g, vdpa.sock, p);

	if (ret == 0)
		ret = vu_guest_queues_init(g);
	if (ret == 0)
		ret = vu_guest_set_mem_table(g, g->nr_mem);
	return ret;
}

/*
 * Describe queue @qid with @size and ring addresses @a (NULL: its own),
 * REPLY_ACK result in *@num_ret.
 */
static int
queue_setup_with(struct vu_guest *g, uint16_t qid, uint32_t size,
		 const struct vu_vring_addr *a, int *num_ret)
{
	struct vu_vring_addr own;
	int ret;

	if (a == NULL) {
		vu_guest_vring_addr(g, qid, &own);
		a = &own;
	}
	ret = vu_set_vring_num(&g->c, qid, size);
	if (num_ret != NULL)
		*num_ret = ret;
	else if (ret < 0)
		return ret;
	if (ret < 0 && ret != -EREMOTEIO)
		return ret;
	ret = vu_set_vring_addr(&g->c, a);
	if (ret == 0)
		ret = vu_set_vring_base(&g->c, qid, 0);
	if (ret == 0)
		ret = vu_set_vring_call(&g->c, qid, g->callfd[qid]);
	if (ret == 0)
		ret = vu_set_vring_enable(&g->c, qid, true);
	if (ret == 0)
		ret = vu_set_vring_kick(&g->c, qid, g->kickfd[qid]);
	return ret;
}

static int
set_driver_ok(struct vu_guest *g)
{
	if (!(g->protocol & (1ULL << VU_PF_STATUS)))
		return 0;
	return vu_set_status(&g->c, VIRTIO_CONFIG_S_ACKNOWLEDGE |
			     VIRTIO_CONFIG_S_DRIVER |
			     VIRTIO_CONFIG_S_FEATURES_OK |
			     VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Frames over the looped wire (TX pair 0 to RX pair 0), then
 * GET_VRING_BASE: the indices handed back must be the used indices the
 * guest saw, and the close must leave no mapping.
 */
static int
traffic_then_stop(struct vu_guest *g, uint32_t stream, uint32_t frames,
		  unsigned int closes_before)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vu_flow f;

	vu_flow_init(&f, g, 0, g, 0, stream, frames);
	CHECK_EQ(vu_flow_run(&f, TRAFFIC_MS), 0);
	CHECK_EQ(f.sent, frames);
	CHECK_EQ(f.rcvd, frames);
	CHECK_EQ(vu_guest_stop(g, bases), 0);
	CHECK_EQ(bases[0], g->vq[0].last_used_idx);
	CHECK_EQ(bases[0], g->vq[0].used->idx);
	CHECK_EQ(bases[1], g->vq[1].last_used_idx);
	CHECK_EQ(bases[1], g->vq[1].avail_idx);
	CHECK_EQ(check_closes(closes_before + 1), 0);
	return 0;
}

/* ---- Cases ---- */

static int
case_loop_traffic(void)
{
	struct vu_guest g;
	int ret;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	CHECK(g.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	CHECK(g.protocol & (1ULL << VU_PF_REPLY_ACK));
	CHECK_EQ(vu_guest_start(&g), 0);
	CHECK_EQ(log_wait(CONFIGURED_MSG, 1, WAIT_MS), 1);
	ret = traffic_then_stop(&g, 1, 3000, 0);
	if (ret == 0) {
		printf("  loop: 3000 frames, tx base %u rx base %u, "
		       "%lu rx irqs, %lu tx irqs\n", g.vq[1].avail_idx,
		       g.vq[0].last_used_idx, (unsigned long)g.irqs[0],
		       (unsigned long)g.irqs[1]);
		if (g.irqs[0] == 0)
			ret = -1, fprintf(stderr, "no RX interrupt seen\n");
	}
	vu_guest_fini(&g);
	return ret;
}

/* After a refusal: fix queue 0's rings, then traffic must flow. */
static int
recover_q0(struct vu_guest *g, unsigned int closes_before)
{
	struct vu_vring_addr a;

	vu_guest_vring_addr(g, 0, &a);
	CHECK_EQ(vu_set_vring_num(&g->c, 0, g->vq[0].size), 0);
	CHECK_EQ(vu_set_vring_addr(&g->c, &a), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	CHECK_EQ(log_wait(CONFIGURED_MSG, 1, WAIT_MS), 1);
	return traffic_then_stop(g, 7, 500, closes_before);
}

/* Queue 1 normal, queue 0 with rings at @a; then DRIVER_OK and a sync. */
static int
start_with_q0(struct vu_guest *g, const struct vu_vring_addr *a)
{
	CHECK_EQ(queue_setup_with(g, 1, g->vq[1].size, NULL, NULL), 0);
	CHECK_EQ(queue_setup_with(g, 0, g->vq[0].size, a, NULL), 0);
	CHECK_EQ(set_driver_ok(g), 0);
	CHECK_EQ(vu_guest_sync(g), 0);
	return 0;
}

static int
refused_by_vhost(const char *vhost_msg)
{
	/* vhost leaves the queue not ready: the driver is never asked. */
	sleep_ms(200);
	CHECK(log_count(vhost_msg) > 0);
	CHECK_EQ(log_count(CONFIGURED_MSG), 0);
	CHECK_EQ(log_count(CONF_FAILED_MSG), 0);
	CHECK(vdpa_alive());
	return 0;
}

static int
refused_by_driver(const char *driver_msg)
{
	CHECK(log_wait(driver_msg, 1, WAIT_MS) >= 1);
	CHECK_EQ(log_count(CONFIGURED_MSG), 0);
	/*
	 * A refused configuration logs no close: what it mapped shows in
	 * the count of the next close, after the recovery.
	 */
	CHECK_EQ(check_closes(0), 0);
	CHECK(vdpa_alive());
	return 0;
}

/* Ring addresses in no memory region at all. */
static int
case_ring_outside(void)
{
	struct vu_vring_addr a;
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	vu_guest_vring_addr(&g, 0, &a);
	a.desc = (uintptr_t)g.mem[0].host + g.mem[0].len + (64 << 10);
	a.used = (uintptr_t)g.mem[0].host - (64 << 10);
	if (start_with_q0(&g, &a) == 0 &&
	    refused_by_vhost("failed to map desc ring") == 0)
		ret = recover_q0(&g, log_count(CLOSED_MSG));
	vu_guest_fini(&g);
	return ret;
}

/*
 * An avail ring whose last field (used_event) lies past the end of its
 * region. Without EVENT_IDX vhost does not check that field; the device
 * may still read it, so the driver must refuse.
 */
static int
case_ring_tail_outside(void)
{
	struct vu_vring_addr a;
	struct vu_guest g;
	uint64_t avail_len;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &no_event_idx), 0);
	CHECK(!(g.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)));
	avail_len = 4 + 2ULL * g.vq[0].size;	/* without used_event */
	vu_guest_vring_addr(&g, 0, &a);
	a.avail = (uintptr_t)g.mem[0].host + g.mem[0].len - avail_len;
	if (start_with_q0(&g, &a) == 0 &&
	    refused_by_driver("ring outside guest memory") == 0)
		ret = recover_q0(&g, log_count(CLOSED_MSG));
	vu_guest_fini(&g);
	return ret;
}

/*
 * Regions 0 and 1 adjacent in guest-physical and frontend address space,
 * with different memfds, so that a ring can straddle them.
 */
static int
adjacent_regions(struct vu_guest *g, uint64_t len)
{
	uint8_t *base;
	int fd[2], i;

	vdrv_mem_fini(&g->mem[0]);
	g->nr_mem = 0;
	base = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	for (i = 0; i < 2; i++) {
		fd[i] = memfd_create("test-vu-adjacent", MFD_CLOEXEC);
		if (fd[i] < 0 || ftruncate(fd[i], (off_t)len) < 0 ||
		    mmap(base + i * len, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd[i], 0) == MAP_FAILED)
			return -errno;
		g->mem[i] = (struct vdrv_mem){
			.host = base + i * len,
			.gpa = VU_GUEST_GPA + i * len,
			.len = len,
			.fd = fd[i],
		};
	}
	g->nr_mem = 2;
	return 0;
}

static int
case_ring_straddle(void)
{
	const uint64_t len = 4ULL << 20;
	struct vu_vring_addr a;
	struct vu_guest g;
	uint64_t used_len;
	uint8_t *end0;
	int ret = -1;

	CHECK_EQ(vu_guest_connect(&g, vdpa.sock, &no_event_idx), 0);
	if (adjacent_regions(&g, len) < 0 || vu_guest_queues_init(&g) < 0 ||
	    vu_guest_set_mem_table(&g, 2) < 0)
		goto out;
	end0 = g.mem[0].host + len;
	/* 1: the descriptor table straddles: vhost cannot map it. */
	vu_guest_vring_addr(&g, 0, &a);
	a.desc = (uintptr_t)end0 - 2048;
	if (start_with_q0(&g, &a) < 0 ||
	    refused_by_vhost("failed to map desc ring") < 0)
		goto out;
	/*
	 * 2: only the used ring's avail_event straddles: vhost, without
	 * EVENT_IDX, does not look at it; the driver must refuse.
	 */
	used_len = 4 + 8ULL * g.vq[0].size;
	vu_guest_vring_addr(&g, 0, &a);
	a.used = (uintptr_t)end0 - used_len;
	if (vu_set_vring_addr(&g.c, &a) < 0 || vu_guest_sync(&g) < 0 ||
	    refused_by_driver("ring outside guest memory") < 0)
		goto out;
	ret = recover_q0(&g, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/* Two regions overlapping in guest-physical space. */
static int
case_overlap_regions(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(vu_guest_connect(&g, vdpa.sock, &def_params), 0);
	/* Region 1 lies inside region 0's guest-physical range. */
	if (vu_guest_add_region(&g, VU_GUEST_GPA + g.mem[0].len / 2,
				1 << 20) != 1 ||
	    vu_guest_queues_init(&g) < 0 ||
	    vu_guest_set_mem_table(&g, 2) < 0 ||
	    start_with_q0(&g, NULL) < 0 ||
	    refused_by_driver("overlap in guest physical space") < 0)
		goto out;
	/* Move region 1 out of the way: the same rings must now run. */
	g.mem[1].gpa = VU_GUEST_GPA + g.mem[0].len;
	if (vu_guest_set_mem_table(&g, 2) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1) {
		fprintf(stderr, "not configured after the fixed table\n");
		goto out;
	}
	ret = traffic_then_stop(&g, 3, 500, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * Queue 0 sized @size. @vhost_refuses: vhost's ack is a failure (and
 * @vhost_msg is in its log); the frontend carries on regardless, as a
 * hostile one would. Either way the driver must refuse with @driver_msg.
 */
static int
qsize_case(uint32_t size, bool vhost_refuses, const char *vhost_msg,
	   const char *driver_msg)
{
	struct vu_guest g;
	int num_ret = 0;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (queue_setup_with(&g, 1, g.vq[1].size, NULL, NULL) < 0 ||
	    queue_setup_with(&g, 0, size, NULL, &num_ret) < 0 ||
	    set_driver_ok(&g) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (num_ret != (vhost_refuses ? -EREMOTEIO : 0)) {
		fprintf(stderr, "SET_VRING_NUM %u: ack %d\n", size, num_ret);
		goto out;
	}
	if (vhost_msg != NULL && log_count(vhost_msg) == 0) {
		fprintf(stderr, "vhost did not say \"%s\"\n", vhost_msg);
		goto out;
	}
	if (refused_by_driver(driver_msg) < 0)
		goto out;
	ret = recover_q0(&g, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

static int
case_qsize_0(void)
{
	/* vhost fails to allocate for 0 entries, but keeps size 0. */
	return qsize_case(0, true, "processing VHOST_USER_SET_VRING_NUM failed",
			  "queue 0: size 0 is not a power of two");
}

static int
case_qsize_3(void)
{
	return qsize_case(3, true, "invalid virtqueue size 3",
			  "queue 0: size 3 is not a power of two");
}

static int
case_qsize_65536(void)
{
	/* vhost refuses before storing it: the queue keeps size 0. */
	return qsize_case(65536, true, "invalid virtqueue size 65536",
			  "queue 0: size 0 is not a power of two");
}

static int
case_qsize_too_large(void)
{
	char msg[96];

	/* A valid virtio size, larger than the device's maximum. */
	snprintf(msg, sizeof(msg), "size %u is not a power of two <= %u",
		 2 * IFCVF_MAX_QSIZE, IFCVF_MAX_QSIZE);
	return qsize_case(2 * IFCVF_MAX_QSIZE, false, NULL, msg);
}

/*
 * A region added while traffic runs: vhost closes and reconfigures the
 * device; nothing of the old table may stay mapped, and frames laid out
 * in the new region must go through.
 */
static int
case_mem_update(void)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vu_guest g;
	struct vu_flow f;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (vu_guest_start(&g) < 0 ||
	    log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1)
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 1, 1000);
	if (vu_flow_run(&f, TRAFFIC_MS) < 0)
		goto out;
	if (vu_guest_add_region(&g, VU_GUEST_GPA + g.mem[0].len,
				4 << 20) != 1 ||
	    vu_guest_set_mem_table(&g, 2) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	if (log_wait(CONFIGURED_MSG, 2, WAIT_MS) != 2 || check_closes(1) < 0) {
		fprintf(stderr, "no close and reconfiguration seen\n");
		goto out;
	}
	/* TX frames from the new region, received in region 0. */
	vu_flow_init(&f, &g, 0, &g, 0, 2, 1000);
	f.tx_mem = &g.mem[1];
	if (vu_flow_run(&f, TRAFFIC_MS) < 0 || vu_guest_stop(&g, bases) < 0)
		goto out;
	if (bases[0] != g.vq[0].last_used_idx || bases[0] != 2000 ||
	    bases[1] != g.vq[1].avail_idx || bases[1] != 2000) {
		fprintf(stderr, "bases %u %u, guest saw %u %u\n", bases[0],
			bases[1], g.vq[0].last_used_idx, g.vq[1].avail_idx);
		goto out;
	}
	ret = check_closes(2);
out:
	vu_guest_fini(&g);
	return ret;
}

/* The frontend hangs up right after its last SET_VRING_KICK. */
static int
case_disconnect_after_kick(void)
{
	static const struct vu_guest_params no_status = {
		.protocol = (1ULL << VU_PF_REPLY_ACK) | (1ULL << VU_PF_MQ),
	};
	struct vu_guest g;
	uint64_t v = 1;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &no_status), 0);
	if (vu_guest_queue_setup(&g, 0, true) < 0 ||
	    vu_guest_queue_setup(&g, 1, false) < 0)
		goto out;
	/* The kick that makes the device ready, no ack awaited. */
	if (vu_send(&g.c, VU_SET_VRING_KICK, VU_VERSION, &v, sizeof(v),
		    &g.kickfd[1], 1) < 0)
		goto out;
	vu_close(&g.c);
	if (log_wait(CLOSED_MSG, 1, WAIT_MS) < 1 || check_closes(1) < 0) {
		fprintf(stderr, "no clean close after the hang-up\n");
		goto out;
	}
	printf("  configured %u time(s) before the hang-up was seen\n",
	       log_count(CONFIGURED_MSG));
	if (!vdpa_alive())
		goto out;
	vu_guest_fini(&g);
	/* A new frontend on the same socket gets a working device. */
	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (vu_guest_start(&g) == 0)
		ret = traffic_then_stop(&g, 5, 500, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * The frontend's dirty-log messages: SET_LOG_BASE with a memfd, LOG_ALL
 * on while traffic runs, then off. A smoke test of the protocol: the
 * proof that no dirty page is missed is the migration suite's.
 */
static int
case_log_smoke(void)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vu_guest g;
	struct vu_flow f;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (!(g.dev_features & (1ULL << VU_F_LOG_ALL)) ||
	    !(g.protocol & (1ULL << VU_PF_LOG_SHMFD))) {
		fprintf(stderr, "LOG_ALL or LOG_SHMFD not offered\n");
		goto out;
	}
	if (vu_guest_start(&g) < 0 ||
	    log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1 ||
	    vu_guest_set_log(&g, 0) < 0 || vu_guest_log_all(&g, true) < 0 ||
	    vu_guest_sync(&g) < 0)
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 1, 1000);
	if (vu_flow_run(&f, TRAFFIC_MS) < 0)
		goto out;
	printf("  log: %lu dirty pages after 1000 frames; rx used ring %s\n",
	       (unsigned long)vu_guest_log_count(&g),
	       vu_guest_log_test(&g, g.vq[0].used_gpa) ? "logged" : "NOT logged");
	if (!vu_guest_log_test(&g, g.vq[0].used_gpa) ||
	    !vu_guest_log_test(&g, g.vq[0].slot[0].buf_gpa))
		goto out;
	if (vu_guest_log_all(&g, false) < 0 || vu_guest_sync(&g) < 0)
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 2, 1000);
	if (vu_flow_run(&f, TRAFFIC_MS) < 0 || vu_guest_stop(&g, bases) < 0)
		goto out;
	if (bases[0] != 2000 || bases[1] != 2000) {
		fprintf(stderr, "bases %u %u, want 2000\n", bases[0], bases[1]);
		goto out;
	}
	ret = check_closes(1);
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * A dirty log declared larger than its memfd, with guest memory high
 * enough that the device's log writes land past the file's end. vhost's
 * mmap succeeds; a write there is a SIGBUS. The driver must not let the
 * device (or its relay) write there: dpdk-vdpa must survive.
 */
static int
log_short_case(void)
{
	static const struct vu_guest_params high = {
		.gpa = 1ULL << 30,	/* bitmap bytes from 32 KiB on */
	};
	struct vu_guest g;
	struct vu_flow f;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &high), 0);
	if (vu_guest_start(&g) < 0 ||
	    log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1 ||
	    vu_guest_set_log_ext(&g, 64 << 10, 4096) < 0)
		goto out;
	/* The driver may refuse LOG_ALL: that is a correct answer. */
	ret = vu_guest_log_all(&g, true);
	printf("  LOG_ALL with a short log: %s\n",
	       ret == 0 ? "accepted" : strerror(-ret));
	ret = -1;
	if (!vdpa_alive() || vu_guest_sync(&g) < 0)
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 1, 500);
	vu_flow_run(&f, 3000);
	if (!vdpa_alive()) {
		fprintf(stderr, "dpdk-vdpa died while logging into a short log\n");
		goto out;
	}
	if (log_wait("is not all backed by memory", 1, WAIT_MS) != 1) {
		fprintf(stderr, "the driver did not refuse the short log\n");
		goto out;
	}
	vu_guest_stop(&g, NULL);
	ret = vdpa_alive() ? check_closes(1) : -1;
out:
	vu_guest_fini(&g);
	return ret;
}

static int
case_log_short(void)
{
	return log_short_case();
}

/* Queues disabled and enabled again while the device runs. */
static int
case_queue_toggle(void)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vu_guest g;
	struct vu_flow f;
	uint16_t q;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (vu_guest_start(&g) < 0 ||
	    log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1)
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 1, 1000);
	if (vu_flow_run(&f, TRAFFIC_MS) < 0)
		goto out;
	for (q = 0; q < 2; q++)
		if (vu_set_vring_enable(&g.c, q, false) < 0)
			goto out;
	for (q = 0; q < 2; q++)
		if (vu_set_vring_enable(&g.c, q, true) < 0)
			goto out;
	if (vu_guest_sync(&g) < 0 || !vdpa_alive())
		goto out;
	vu_flow_init(&f, &g, 0, &g, 0, 2, 1000);
	if (vu_flow_run(&f, TRAFFIC_MS) < 0 || vu_guest_stop(&g, bases) < 0)
		goto out;
	if (bases[0] != 2000 || bases[1] != 2000) {
		fprintf(stderr, "bases %u %u, want 2000\n", bases[0], bases[1]);
		goto out;
	}
	ret = check_closes(1);
out:
	vu_guest_fini(&g);
	return ret;
}

/* More queues than GET_QUEUE_NUM allows (3 pairs on a 1-pair VF). */
static int
case_too_many_queues(void)
{
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(vu_guest_connect(&g, vdpa.sock, &def_params), 0);
	CHECK_EQ(g.max_pairs, 1);
	g.nr_queues = 6;
	if (vu_guest_queues_init(&g) < 0 || vu_guest_set_mem_table(&g, 1) < 0 ||
	    vu_guest_start(&g) < 0 ||
	    refused_by_driver("frontend has 6 queues, the device 2") < 0)
		goto out;
	/* That connection cannot shrink: a new one must get a device. */
	vu_guest_fini(&g);
	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (vu_guest_start(&g) < 0 ||
	    log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1)
		goto out;
	ret = traffic_then_stop(&g, 4, 500, log_count(CLOSED_MSG));
out:
	vu_guest_fini(&g);
	return ret;
}

/*
 * SET_VRING_BASE far from the ring's real avail index: the device sees
 * more entries than the ring holds and must stop that queue, not run off.
 * dpdk-vdpa must survive and the close still release everything.
 */
static int
case_bad_vring_base(void)
{
	uint32_t bases[VU_GUEST_MAX_QUEUES];
	struct vu_guest g;
	int ret = -1;

	CHECK_EQ(guest_open(&g, &def_params), 0);
	if (queue_setup_with(&g, 0, g.vq[0].size, NULL, NULL) < 0 ||
	    vu_set_vring_num(&g.c, 1, g.vq[1].size) < 0)
		goto out;
	/*
	 * Queue 1 by hand, with a base 0x8000 ahead of avail->idx 0. vhost
	 * resets a base that differs from used->idx: make them agree.
	 */
	{
		struct vu_vring_addr a;

		g.vq[1].used->idx = 0x8000;

		vu_guest_vring_addr(&g, 1, &a);
		if (vu_set_vring_addr(&g.c, &a) < 0 ||
		    vu_set_vring_base(&g.c, 1, 0x8000) < 0 ||
		    vu_set_vring_call(&g.c, 1, g.callfd[1]) < 0 ||
		    vu_set_vring_enable(&g.c, 1, true) < 0 ||
		    vu_set_vring_kick(&g.c, 1, g.kickfd[1]) < 0 ||
		    set_driver_ok(&g) < 0 || vu_guest_sync(&g) < 0)
			goto out;
	}
	if (log_wait(CONFIGURED_MSG, 1, WAIT_MS) != 1)
		goto out;
	/* A frame and a kick on the corrupt queue. */
	vdrv_frame_fill(g.vq[1].slot[0].buf, VDRV_FRAME_MIN, 9, 0);
	vu_guest_kick(&g, 1);
	sleep_ms(200);
	if (!vdpa_alive() || vu_guest_stop(&g, bases) < 0)
		goto out;
	/* Nothing consumed: the queue stopped where the frontend put it. */
	if (bases[0] != 0 || bases[1] != 0x8000) {
		fprintf(stderr, "bases %u %u, want 0 and 32768\n", bases[0],
			bases[1]);
		goto out;
	}
	if (log_count("IFCVF: ") - log_count("IFCVF: sim_") -
	    log_count(CONFIGURED_MSG) == 0)
		printf("  NOTE: the device stopped queue 1 (NEEDS_RESET) and "
		       "the driver logged nothing about it\n");
	ret = check_closes(1);
out:
	vu_guest_fini(&g);
	return ret;
}

/* ---- Runner ---- */

struct vu_case {
	const char *name;
	const char *vdev;
	int (*fn)(void);
	bool by_name_only;	/* not in "all": a known driver bug */
};

static const struct vu_case cases[] = {
	{ "loop_traffic", "wire=loop", case_loop_traffic, false },
	{ "ring_outside", "wire=loop", case_ring_outside, false },
	{ "ring_tail_outside", "wire=loop", case_ring_tail_outside, false },
	{ "ring_straddle", "wire=loop", case_ring_straddle, false },
	{ "overlap_regions", "wire=loop", case_overlap_regions, false },
	{ "qsize_0", "wire=loop", case_qsize_0, false },
	{ "qsize_3", "wire=loop", case_qsize_3, false },
	{ "qsize_65536", "wire=loop", case_qsize_65536, false },
	{ "qsize_too_large", "wire=loop", case_qsize_too_large, false },
	{ "mem_update", "wire=loop", case_mem_update, false },
	{ "disconnect_after_kick", "wire=loop", case_disconnect_after_kick, false },
	{ "queue_toggle", "wire=loop", case_queue_toggle, false },
	{ "too_many_queues", "wire=loop", case_too_many_queues, false },
	{ "bad_vring_base", "wire=loop", case_bad_vring_base, false },
	{ "log_smoke", "wire=loop", case_log_smoke, false },
	{ "log_smoke_sw", "wire=loop,sw-live-migration=1", case_log_smoke, false },
	/* SIGBUS in dpdk-vdpa today (HW: the device, SW: the relay). */
	{ "log_short", "wire=loop", case_log_short, true },
	{ "log_short_sw", "wire=loop,sw-live-migration=1", case_log_short,
	  true },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static int
run_case(const struct vu_case *c)
{
	int64_t t0 = now_ms();
	int ret;

	ret = vdpa_start(c->name, c->vdev);
	if (ret == 0) {
		ret = c->fn();
		if (ret == 0 && !vdpa_alive()) {
			fprintf(stderr, "dpdk-vdpa died\n");
			ret = -1;
		}
		if (ret == 0)
			ret = vdpa_quit();
		if (ret != 0)
			log_tail(40);
	}
	vdpa_cleanup();
	printf("%s vu/%s (%.1f s)\n", ret == 0 ? "ok  " : "FAIL", c->name,
	       (now_ms() - t0) / 1000.0);
	fflush(stdout);
	return ret;
}

int
main(int argc, char **argv)
{
	unsigned int i, failed = 0, ran = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s <builddir> <case>|all|list\n",
			argv[0]);
		return 2;
	}
	build_dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < NR_CASES; i++) {
		if (strcmp(argv[2], "list") == 0) {
			printf("%s%s\n", cases[i].name,
			       cases[i].by_name_only ? " (by name only)" : "");
			continue;
		}
		if (strcmp(argv[2], cases[i].name) != 0 &&
		    (strcmp(argv[2], "all") != 0 || cases[i].by_name_only))
			continue;
		ran++;
		if (run_case(&cases[i]) != 0)
			failed++;
	}
	if (strcmp(argv[2], "list") == 0)
		return 0;
	if (ran == 0) {
		fprintf(stderr, "no case %s\n", argv[2]);
		return 2;
	}
	printf("%u passed, %u failed\n", ran - failed, failed);
	return failed == 0 ? 0 : 1;
}
