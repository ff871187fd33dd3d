/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * A stress benchmark: one dpdk-vdpa (vdpa_proc) serving one simulated VF
 * with QPS queue pairs on a looped wire, and cycle after cycle of our own
 * frontend (vu_guest) on it:
 *
 *   connect, negotiate, SET_MEM_TABLE, 1 to QPS queue pairs of 256, 512
 *   or 1024 entries, DRIVER_OK, FRAMES frames over the wire on every
 *   pair (checked intact and in order), then GET_VRING_BASE and a close
 *   (or, every third cycle, a bare hang-up);
 *   every 7th cycle dirty logging goes on (SET_LOG_BASE, LOG_ALL) before
 *   more frames and the disconnect;
 *   every 50th cycle the frontend is a forked child, killed with SIGKILL
 *   while its frames flow.
 *
 * dpdk-vdpa's open fds, threads and RSS (/proc/<pid>) and the mappings
 * its simulated IOMMU holds (telemetry) are sampled after a warm-up of
 * WARMUP cycles and at the end, and printed side by side; after each
 * close (the VF's telemetry counts them) the IOMMU must be empty. The
 * run fails when a cycle fails (its traffic, or no close counted),
 * dpdk-vdpa dies, fds, threads or mappings grew, or RSS grew by more than
 * RSS_BOUND_KB. A failed cycle does not stop the run (MAX_CONSEC in a
 * row do): the first MAX_SHOWN are described, with the cycle before.
 *
 *   bench_stress [-q] [-n cycles] [-p pairs] [-s] [builddir]
 *
 * -q: 500 cycles (default 10000); -p: that many pairs in every cycle;
 * -s: the VF in SW live-migration mode. builddir defaults to the one this
 * program was built in. Environment: IFCVF_TEST_KEEP_LOG=1 keeps
 * dpdk-vdpa's log (kept anyway on a failure).
 *
 * The vdpa_proc log helpers read the whole log at every call, 20 ms
 * apart: too slow for 10,000 cycles of a growing log. This program reads
 * the log incrementally (struct log_scan), polls it every millisecond,
 * and gives a flow up as soon as the driver logs that the device stopped
 * (flow_run), not at its timeout; it counts the driver's errors there.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vdpa_proc.h"
#include "vu_guest.h"

#define QPS		4	/* VU_GUEST_MAX_QUEUES / 2 */
#define FRAMES		16	/* per pair and cycle */
#define WARMUP		50	/* cycles before the start sample */
#define KILL_EVERY	50
#define LOG_EVERY	7
#define HANGUP_EVERY	3
#define MEM_LEN		(48ULL << 20)	/* 8 queues of 1024 */
#define TRAFFIC_MS	3000
#define CLOSE_MS	5000
#define RSS_BOUND_KB	(32 * 1024)
#define RESET_MSG	"needs a reset"
#define MAX_SHOWN	10	/* failures described */
#define MAX_CONSEC	20	/* failed cycles in a row: stop */

/*
 * vu_guest's default features and MQ: without VIRTIO_NET_F_MQ, vhost
 * drops every queue past the first pair at the next SET_FEATURES (the
 * one that turns LOG_ALL on).
 */
#define FEATURES ( \
	(1ULL << VIRTIO_F_VERSION_1) | \
	(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
	(1ULL << VIRTIO_NET_F_MQ) | \
	(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
	(1ULL << VIRTIO_NET_F_MAC) | \
	(1ULL << VU_F_PROTOCOL_FEATURES))

/* ---- dpdk-vdpa's log, read as it grows ---- */

struct log_scan {
	int fd;
	char line[1024];	/* the line being read */
	size_t len;
	unsigned int errors;	/* the driver's failures (see log_errors) */
	unsigned int resets;	/* "needs a reset": the device stopped */
};

static const char *const log_errors[] = {
	"configuration failed", "restart failed", RESET_MSG,
	"cannot unmap", "DMA map of region",
};

static void
log_line(struct log_scan *s, const char *l)
{
	unsigned int i;

	if (strstr(l, RESET_MSG) != NULL)
		s->resets++;
	for (i = 0; i < sizeof(log_errors) / sizeof(log_errors[0]); i++)
		if (strstr(l, log_errors[i]) != NULL && s->errors++ < MAX_SHOWN)
			fprintf(stderr, "dpdk-vdpa: %s", l);
}

/* Take what the log gained since the last call. */
static void
log_poll(struct log_scan *s)
{
	char buf[8192];
	ssize_t n, i;

	while ((n = read(s->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (s->len < sizeof(s->line) - 2)
				s->line[s->len++] = buf[i];
			if (buf[i] != '\n')
				continue;
			s->line[s->len] = '\0';
			log_line(s, s->line);
			s->len = 0;
		}
	}
}

/* ---- dpdk-vdpa's resources ---- */

struct res {
	long fds;
	long threads;
	long rss_kb;
	long maps;	/* the simulated IOMMU's mappings */
};

static long
count_dir(pid_t pid, const char *sub)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static long
rss_kb(pid_t pid)
{
	char path[64], l[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f != NULL && fgets(l, sizeof(l), f) != NULL)
		if (strncmp(l, "VmRSS:", 6) == 0)
			kb = strtol(l + 6, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

/*
 * vhost tears a connection down in its own thread after the hang-up:
 * sample until fds and threads hold still for 100 ms (at most 2 s).
 */
static void
res_sample(const struct vdpa_proc *v, struct res *r)
{
	pid_t pid = v->pid;
	int64_t end = vdrv_now_ms() + 2000;
	long fds = -2, threads = -2;
	int still = 0;

	while (still < 5 && vdrv_now_ms() < end) {
		usleep(20 * 1000);
		r->fds = count_dir(pid, "fd");
		r->threads = count_dir(pid, "task");
		still = r->fds == fds && r->threads == threads ? still + 1 : 0;
		fds = r->fds;
		threads = r->threads;
	}
	r->rss_kb = rss_kb(pid);
	r->maps = vdpa_proc_tel_int(v, VDPA_PROC_SIM0_INFO, "iommu_mappings");
}

/* ---- One cycle ---- */

struct plan {
	unsigned int i;
	uint16_t pairs;
	uint16_t qsize;
	bool kill;
	bool log;
	bool hangup;		/* close without GET_VRING_BASE */
};

struct stress {
	struct vdpa_proc v;
	const char *build_dir;	/* the argument, or this program's */
	struct log_scan log;
	bool sw;
	uint16_t fixed_pairs;	/* -p: every cycle; 0: 1 to QPS */
	unsigned int cycles;	/* asked for, warm-up included */
	unsigned int done;
	unsigned int failed;
	unsigned int failed_reset;	/* ... with the device stopped */
	unsigned int consec;	/* failed in a row */
	unsigned int kills;
	unsigned int logged;
	unsigned int hangups;
	struct plan prev;	/* the cycle before */
	uint64_t frames;
	long closes;		/* the VF's, as its telemetry counts them */
	unsigned int closes_held;	/* closes after which IOMMU mappings stayed */
};

static void
plan_cycle(const struct stress *s, unsigned int i, struct plan *p)
{
	static const uint16_t sizes[] = { 256, 512, 1024 };

	p->i = i;
	p->pairs = 1 + i % QPS;
	p->qsize = sizes[(i / QPS) % 3];
	p->kill = i % KILL_EVERY == KILL_EVERY / 2;
	if (p->kill)	/* kills on every pair count too */
		p->pairs = 1 + (i / KILL_EVERY) % QPS;
	if (s->fixed_pairs != 0)
		p->pairs = s->fixed_pairs;
	p->log = !p->kill && i % LOG_EVERY == 3;
	p->hangup = !p->kill && i % HANGUP_EVERY == 1;
}

static int
guest_up(struct stress *s, const struct plan *p, struct vu_guest *g)
{
	const struct vu_guest_params gp = {
		.nr_pairs = p->pairs,
		.queue_size = p->qsize,
		.mem_len = MEM_LEN,
		.features = FEATURES,
	};
	int ret;

	ret = vu_guest_connect(g, s->v.sock, &gp);
	if (ret < 0)
		return ret;
	if (g->max_pairs != QPS) {
		fprintf(stderr, "GET_QUEUE_NUM: %lu, want %u\n",
			(unsigned long)g->max_pairs, QPS);
		ret = -EPROTO;
	}
	if (ret == 0)
		ret = vu_guest_queues_init(g);
	if (ret == 0)
		ret = vu_guest_set_mem_table(g, g->nr_mem);
	if (ret == 0)
		ret = vu_guest_start(g);
	if (ret < 0)
		vu_guest_fini(g);
	return ret;
}

/*
 * vu_flow_run() that gives up as soon as the driver logs that the device
 * stopped (-ENODEV), not after the timeout.
 */
static int
flow_run(struct stress *s, struct vdrv_flow *f, int ms)
{
	int64_t end = vdrv_now_ms() + ms;
	unsigned int resets = s->log.resets;

	vdrv_flow_prime(f);
	while (!vdrv_flow_done(f) && f->err == 0) {
		if (vdrv_flow_step(f) != 0)
			continue;
		log_poll(&s->log);
		if (s->log.resets != resets)
			return -ENODEV;
		if (vdrv_now_ms() >= end)
			return -ETIMEDOUT;
		vu_guest_wait_irq(f->rx_owner, 1);
	}
	vu_guest_poll_irqs(f->tx_owner);
	vu_guest_poll_irqs(f->rx_owner);
	if (f->err != 0 && s->failed < MAX_SHOWN)
		vdrv_flow_dump(f);
	return f->err;
}

/* @frames frames on every pair, each pair a stream of its own. */
static int
traffic(struct stress *s, struct vu_guest *g, uint32_t stream,
	uint32_t frames)
{
	struct vdrv_flow f;
	uint16_t pair;
	int ret;

	for (pair = 0; pair < g->nr_queues / 2; pair++) {
		vu_flow_init(&f, g, pair, g, pair, stream + pair, frames);
		ret = flow_run(s, &f, TRAFFIC_MS);
		if (ret == 0 && f.rcvd != frames)
			ret = -EIO;
		if (ret != 0 && s->failed < MAX_SHOWN)
			fprintf(stderr, "pair %u: %u of %u frames: %s\n", pair,
				f.rcvd, frames, strerror(-ret));
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* LOG_ALL on, more frames: the RX used rings must be logged dirty. */
static int
traffic_logging(struct stress *s, struct vu_guest *g, uint32_t stream)
{
	uint16_t q;
	int ret;

	ret = vu_guest_set_log(g, 0);
	if (ret == 0)
		ret = vu_guest_log_all(g, true);
	if (ret == 0)
		ret = vu_guest_sync(g);
	if (ret == 0)
		ret = traffic(s, g, stream, FRAMES);
	for (q = 0; q < g->nr_queues && ret == 0; q += 2)
		if (!vu_guest_log_test(g, g->vq[q].used_gpa)) {
			fprintf(stderr, "queue %u: used ring not logged\n", q);
			ret = -EIO;
		}
	return ret;
}

/* Connect, traffic, (logging,) disconnect: one close. */
static int
cycle_clean(struct stress *s, const struct plan *p)
{
	uint32_t stream = p->i * QPS * 2;
	struct vu_guest g;
	int ret;

	ret = guest_up(s, p, &g);
	if (ret < 0)
		return ret;
	ret = traffic(s, &g, stream, FRAMES);
	if (ret == 0 && p->log)
		ret = traffic_logging(s, &g, stream + QPS);
	if (ret == 0 && !p->hangup)
		ret = vu_guest_stop(&g, NULL);
	if (ret == 0)
		s->frames += (uint64_t)FRAMES * p->pairs * (p->log ? 2 : 1);
	vu_guest_fini(&g);
	return ret;
}

/*
 * The child of a kill cycle: up, FRAMES frames on every pair, then say
 * so on @wfd ('T'; 'F': failed, 'R': the device stopped) and send frames
 * until killed. It reads the log on a file offset of its own.
 */
static void __attribute__((noreturn))
kill_child(struct stress *s, const struct plan *p, int wfd)
{
	off_t off = lseek(s->log.fd, 0, SEEK_CUR);
	struct vdrv_flow f;
	struct vu_guest g;
	char c = 'F';
	int ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	s->log.fd = open(s->v.log, O_RDONLY | O_CLOEXEC);
	lseek(s->log.fd, off, SEEK_SET);
	ret = guest_up(s, p, &g);
	if (ret == 0)
		ret = traffic(s, &g, p->i * QPS * 2, FRAMES);
	if (ret == 0)
		c = 'T';
	else if (ret == -ENODEV)
		c = 'R';
	if (write(wfd, &c, 1) != 1 || c != 'T')
		_exit(1);
	vu_flow_init(&f, &g, p->pairs - 1, &g, p->pairs - 1, 1, UINT32_MAX);
	vu_flow_run(&f, 60 * 1000);
	_exit(2);
}

/* Wait up to @ms for the child's word on @rfd. */
static char
child_word(int rfd, int ms)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	char c = 0;

	if (poll(&pfd, 1, ms) == 1 && read(rfd, &c, 1) != 1)
		c = 0;
	return c;
}

/* A forked frontend, SIGKILLed mid-traffic: one close. */
static int
cycle_kill(struct stress *s, const struct plan *p)
{
	int pfd[2], st;
	pid_t pid;
	char c;

	if (pipe(pfd) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(pfd[0]);
		kill_child(s, p, pfd[1]);
	}
	close(pfd[1]);
	c = child_word(pfd[0], 3 * TRAFFIC_MS);
	close(pfd[0]);
	if (c == 'T')	/* let it post a few frames more */
		usleep((p->i * 37) % 2000);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (c == 'R')
		return -ENODEV;
	if (c != 'T') {
		fprintf(stderr, "the frontend to kill did not get its frames through\n");
		return -EIO;
	}
	s->frames += (uint64_t)FRAMES * p->pairs;
	return 0;
}

static const char *
plan_end(const struct plan *p)
{
	return p->kill ? "SIGKILLed" : p->hangup ? "hung up" :
	       "GET_VRING_BASE, close";
}

static void
cycle_fail(struct stress *s, const struct plan *p, const char *what, int ret)
{
	const struct plan *b = &s->prev;

	s->failed_reset += ret == -ENODEV;
	if (s->failed++ >= MAX_SHOWN)
		return;
	fprintf(stderr, "FAIL cycle %u (%u pair%s of %u entries%s, %s; "
		"cycle %u before it: %u pair%s of %u, %s): %s: %s\n",
		p->i, p->pairs, p->pairs > 1 ? "s" : "", p->qsize,
		p->log ? ", logging" : "", plan_end(p), b->i, b->pairs,
		b->pairs > 1 ? "s" : "", b->qsize, plan_end(b), what,
		ret == -ENODEV ? "the driver says the device stopped and "
		"needs a reset" : strerror(-ret));
	if (s->failed == 1)
		vdpa_proc_log_tail(&s->v, 12);
}

/*
 * Wait up to @ms until the VF was closed @closes times in all, then check
 * that its simulated IOMMU holds nothing: the VF is stopped.
 */
static int
close_wait(struct stress *s, long closes, int ms)
{
	int64_t end = vdrv_now_ms() + ms;
	long n;

	while ((n = vdpa_proc_closes(&s->v)) < closes) {
		log_poll(&s->log);
		if (vdrv_now_ms() >= end)
			return -ETIMEDOUT;
		usleep(1000);
	}
	/* What the driver logged during the cycle counts for this one. */
	log_poll(&s->log);
	s->closes = n;
	if (vdpa_proc_tel_int(&s->v, VDPA_PROC_SIM0_INFO,
			      "iommu_mappings") != 0)
		s->closes_held++;
	return 0;
}

/* One cycle; the VF must be closed at its end. */
static int
cycle_run(struct stress *s, unsigned int i)
{
	long closes = s->closes + 1;
	struct plan p;
	int ret, r;

	plan_cycle(s, i, &p);
	ret = p.kill ? cycle_kill(s, &p) : cycle_clean(s, &p);
	if (ret < 0) {
		cycle_fail(s, &p, "traffic", ret);
		/* A failed configuration may have counted no close. */
		closes = vdpa_proc_closes(&s->v);
		if (closes < s->closes)
			closes = s->closes;
	}
	s->kills += p.kill;
	s->logged += p.log;
	s->hangups += p.hangup;
	r = close_wait(s, closes, CLOSE_MS);
	if (r < 0 && ret == 0)
		cycle_fail(s, &p, "no close counted", r);
	s->consec = ret < 0 || r < 0 ? s->consec + 1 : 0;
	s->done++;
	s->prev = p;
	return ret < 0 ? ret : r;
}

/* ---- The run ---- */

static void
res_row(const char *what, long a, long b)
{
	printf("  %-16s %10ld %10ld %+10ld\n", what, a, b, b - a);
}

/* Print the table; 0 when nothing grew (RSS: by RSS_BOUND_KB at most). */
static int
res_report(const struct res *a, const struct res *b)
{
	int ret = 0;

	printf("  %-16s %10s %10s %10s\n", "dpdk-vdpa", "start", "end", "diff");
	res_row("open fds", a->fds, b->fds);
	res_row("threads", a->threads, b->threads);
	res_row("RSS (KiB)", a->rss_kb, b->rss_kb);
	res_row("IOMMU mappings", a->maps, b->maps);
	if (b->fds > a->fds || b->threads > a->threads || b->maps > a->maps) {
		printf("FAIL: fds, threads or IOMMU mappings grew\n");
		ret = -1;
	}
	if (b->rss_kb - a->rss_kb > RSS_BOUND_KB) {
		printf("FAIL: RSS grew by more than %d MiB\n",
		       RSS_BOUND_KB / 1024);
		ret = -1;
	}
	return ret;
}

static void
summary(const struct stress *s, double secs, double measured)
{
	unsigned int n = s->done > WARMUP ? s->done - WARMUP : 0;

	printf("  %u cycles (%u warm-up): %u killed, %u logging, %u hang-ups; "
	       "%llu frames through\n", s->done,
	       s->done < WARMUP ? s->done : WARMUP, s->kills, s->logged,
	       s->hangups, (unsigned long long)s->frames);
	printf("  closes: %u, %u of them with IOMMU mappings held; "
	       "driver errors logged: %u\n", (unsigned int)s->closes,
	       s->closes_held, s->log.errors);
	printf("  %.1f s in all, %.0f cycles/s after the warm-up "
	       "(a shared machine: timings are noisy)\n",
	       secs, measured > 0 ? n / measured : 0.0);
	if (s->failed > 0)
		printf("FAIL: %u cycles failed, %u of them because the device "
		       "stopped (\"%s\" in the driver's log)\n", s->failed,
		       s->failed_reset, RESET_MSG);
}

/* Cycles @from .. @to - 1; stop at a dead dpdk-vdpa or MAX_CONSEC. */
static int
cycles(struct stress *s, unsigned int from, unsigned int to)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		cycle_run(s, i);
		if (!vdpa_proc_alive(&s->v)) {
			printf("FAIL: dpdk-vdpa died at cycle %u\n", i);
			vdpa_proc_log_tail(&s->v, 40);
			return -1;
		}
		if (s->consec >= MAX_CONSEC) {
			printf("FAIL: %u cycles in a row failed, stopping at "
			       "cycle %u\n", s->consec, i);
			return -1;
		}
	}
	return 0;
}

static int
stress_run(struct stress *s, int64_t t0)
{
	unsigned int warm = s->cycles < WARMUP ? s->cycles : WARMUP;
	struct res a = { 0 }, b = { 0 };
	int64_t t1 = 0, t2;
	char pairs[16];
	int ret;

	if (s->fixed_pairs != 0)
		snprintf(pairs, sizeof(pairs), "%u", s->fixed_pairs);
	else
		snprintf(pairs, sizeof(pairs), "1 to %u", QPS);
	printf("bench_stress: one VF (%s mode, qp=%u, wire=loop), %u cycles "
	       "on %s pairs\n", s->sw ? "SW" : "HW", QPS, s->cycles, pairs);
	fflush(stdout);
	ret = cycles(s, 0, warm);
	if (ret == 0) {
		res_sample(&s->v, &a);
		t1 = vdrv_now_ms();
		ret = cycles(s, warm, s->cycles);
	}
	t2 = vdrv_now_ms();
	if (ret == 0) {
		res_sample(&s->v, &b);
		ret = res_report(&a, &b);
	}
	summary(s, (t2 - t0) / 1000.0, t1 > 0 ? (t2 - t1) / 1000.0 : 0);
	return s->failed > 0 ? -1 : ret;
}

/* dpdk-vdpa's EAL arguments besides the runner's: vhost's warnings only. */
static const char *const stress_eal_args[] = {
	"--log-level=lib.vhost.*:warning", NULL
};

static int
stress_start(struct stress *s)
{
	char devargs[64];
	int ret;

	ret = vdpa_proc_init(&s->v, "bench_stress", "vf");
	if (ret < 0)
		return ret;
	snprintf(devargs, sizeof(devargs), "qp=%u,wire=loop%s", QPS,
		 s->sw ? ",sw-live-migration=1" : "");
	ret = vdpa_proc_start(&s->v, devargs);
	if (ret < 0)
		return ret;
	s->log.fd = open(s->v.log, O_RDONLY | O_CLOEXEC);
	return s->log.fd < 0 ? -errno : 0;
}

/* The build folder: this program's folder (app/test-vdpa/bench) up. */
static const char *
default_build_dir(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	unsigned int up;
	char *p;

	if (n <= 0)
		return ".";
	path[n] = '\0';
	for (up = 0; up < 4 && (p = strrchr(path, '/')) != NULL; up++)
		*p = '\0';
	return path;
}

static int
parse_args(struct stress *s, int argc, char **argv)
{
	int opt;

	s->cycles = 10000;
	while ((opt = getopt(argc, argv, "qn:p:s")) != -1) {
		switch (opt) {
		case 'q':
			s->cycles = 500;
			break;
		case 'n':
			s->cycles = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			s->fixed_pairs = strtoul(optarg, NULL, 0);
			if (s->fixed_pairs < 1 || s->fixed_pairs > QPS)
				return -1;
			break;
		case 's':
			s->sw = true;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc - 1 || s->cycles == 0)
		return -1;
	s->build_dir = optind < argc ? argv[optind] : default_build_dir();
	return 0;
}

int
main(int argc, char **argv)
{
	static struct stress s = {
		.log = { .fd = -1 },
	};
	int64_t t0 = vdrv_now_ms();
	int ret;

	if (parse_args(&s, argc, argv) < 0) {
		fprintf(stderr, "usage: %s [-q] [-n cycles] [-p pairs] [-s] [builddir]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	vdpa_proc_setup(&s.v, s.build_dir, stress_eal_args);
	ret = stress_start(&s);
	if (ret < 0)
		fprintf(stderr, "cannot start dpdk-vdpa: %s\n", strerror(-ret));
	else
		ret = stress_run(&s, t0);
	if (ret == 0 && vdpa_proc_quit(&s.v) < 0)
		ret = -1;
	if (ret < 0)
		s.v.keep = true;
	if (s.log.fd >= 0)
		close(s.log.fd);
	vdpa_proc_cleanup(&s.v);
	printf("%s\n", ret == 0 ? "ok" : "FAIL");
	return ret == 0 ? 0 : 1;
}
