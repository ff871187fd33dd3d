/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vdpa_proc.h"
#include "vring_drv.h"

#define MAX_ARGS	48
#define START_MS	15000
#define QUIT_MS		10000

void
vdpa_proc_setup(struct vdpa_proc *v, const char *build_dir,
		const char *const *eal_args)
{
	v->build_dir = build_dir;
	v->eal_args = eal_args;
	v->gdb = getenv("IFCVF_TEST_GDB") != NULL;
	v->keep = getenv("IFCVF_TEST_KEEP_LOG") != NULL;
	signal(SIGPIPE, SIG_IGN);
}

int
vdpa_proc_init(struct vdpa_proc *v, const char *tag, const char *name)
{
	v->pid = -1;
	v->stdin_fd = -1;
	v->prefix[0] = '\0';
	snprintf(v->dir, sizeof(v->dir), "/tmp/%s.XXXXXX", tag);
	if (mkdtemp(v->dir) == NULL) {
		v->dir[0] = '\0';
		return -errno;
	}
	snprintf(v->log, sizeof(v->log), "%s/vdpa.log", v->dir);
	snprintf(v->sock, sizeof(v->sock), "%s/sock0", v->dir);
	snprintf(v->prefix, sizeof(v->prefix), "%s%d_%.20s", tag,
		 (int)getpid(), name);
	return 0;
}

/* The child: stdin from @fifo, stdout and stderr to the log, exec. */
static void
child_exec(const struct vdpa_proc *v, const char *fifo, const char *devargs)
{
	char prog[256], libdir[512], iface[192], fp[96], vdev[512];
	const char *preload = getenv("IFCVF_SAN_PRELOAD");
	const char *argv[MAX_ARGS];
	unsigned int n = 0, i;
	int in, out;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	in = open(fifo, O_RDONLY);
	out = open(v->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out, 1);
	dup2(out, 2);
	snprintf(prog, sizeof(prog), "%s/app/test-vdpa/dpdk-vdpa",
		 v->build_dir);
	/*
	 * EAL refuses a -d path below a world-writable folder (a clone in
	 * /tmp): a bare name, found through LD_LIBRARY_PATH.
	 */
	snprintf(libdir, sizeof(libdir),
		 "%s/drivers/vdpa/ifc:%s/drivers/vdpa/ifc_sim", v->build_dir,
		 v->build_dir);
	setenv("LD_LIBRARY_PATH", libdir, 1);
	/*
	 * The sanitizer build (meson test sets it): dpdk-vdpa, unsanitized,
	 * loads a sanitized plugin only with the runtimes preloaded.
	 */
	if (preload != NULL && preload[0] != '\0')
		setenv("LD_PRELOAD", preload, 1);
	/* dpdk-vdpa adds "sock<N>" to the --iface prefix. */
	snprintf(iface, sizeof(iface), "%s/sock", v->dir);
	snprintf(fp, sizeof(fp), "--file-prefix=%s", v->prefix);
	snprintf(vdev, sizeof(vdev), "vdpa_ifcvf_sim0,%s", devargs);
	if (v->gdb) {
		/* Debugging aid: a backtrace of every thread in the log. */
		argv[n++] = "gdb";
		argv[n++] = "-batch";
		argv[n++] = "-ex";
		argv[n++] = "run";
		argv[n++] = "-ex";
		argv[n++] = "thread apply all bt";
		argv[n++] = "--args";
	}
	argv[n++] = prog;
	argv[n++] = "-l";
	argv[n++] = "0";
	argv[n++] = "--no-pci";
	argv[n++] = "--no-huge";
	argv[n++] = "-m";
	argv[n++] = "256";
	argv[n++] = fp;
	/* The driver, then the simulator's plugin, which needs it. */
	argv[n++] = "-d";
	argv[n++] = "librte_vdpa_ifc.so";
	argv[n++] = "-d";
	argv[n++] = "librte_vdpa_ifc_sim.so";
	argv[n++] = "--log-level=pmd.vdpa.ifcvf*:info";
	for (i = 0; v->eal_args != NULL && v->eal_args[i] != NULL; i++)
		if (n < MAX_ARGS - 6)
			argv[n++] = v->eal_args[i];
	argv[n++] = "--vdev";
	argv[n++] = vdev;
	argv[n++] = "--";
	argv[n++] = "--iface";
	argv[n++] = iface;
	argv[n] = NULL;
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

int
vdpa_proc_start(struct vdpa_proc *v, const char *devargs)
{
	char fifo[192];
	struct stat sb;
	int64_t end;

	snprintf(fifo, sizeof(fifo), "%s/stdin", v->dir);
	if (mkfifo(fifo, 0600) < 0)
		return -errno;
	/* Read-write: opening cannot block, and the child never sees EOF. */
	v->stdin_fd = open(fifo, O_RDWR | O_CLOEXEC);
	if (v->stdin_fd < 0)
		return -errno;
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0)
		child_exec(v, fifo, devargs);
	end = vdrv_now_ms() + START_MS;
	while (stat(v->sock, &sb) != 0) {
		if (!vdpa_proc_alive(v) || vdrv_now_ms() >= end) {
			fprintf(stderr, "dpdk-vdpa: no socket %s\n", v->sock);
			vdpa_proc_log_tail(v, 30);
			vdpa_proc_kill(v);
			return -ETIMEDOUT;
		}
		usleep(20 * 1000);
	}
	return 0;
}

bool
vdpa_proc_alive(struct vdpa_proc *v)
{
	int st;

	if (v->pid <= 0)
		return false;
	if (waitpid(v->pid, &st, WNOHANG) == 0)
		return true;
	if (WIFSIGNALED(st))
		fprintf(stderr, "dpdk-vdpa killed by signal %d (%s)\n",
			WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		fprintf(stderr, "dpdk-vdpa exited with %d\n", WEXITSTATUS(st));
	v->pid = -1;
	return false;
}

void
vdpa_proc_kill(struct vdpa_proc *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
	}
	v->pid = -1;
	if (v->stdin_fd >= 0)
		close(v->stdin_fd);
	v->stdin_fd = -1;
}

int
vdpa_proc_quit(struct vdpa_proc *v)
{
	int64_t end = vdrv_now_ms() + QUIT_MS;
	int st = 0;
	pid_t r;

	if (write(v->stdin_fd, "q\n", 2) != 2)
		fprintf(stderr, "cannot write to dpdk-vdpa's stdin\n");
	while ((r = waitpid(v->pid, &st, WNOHANG)) == 0 &&
	       vdrv_now_ms() < end)
		usleep(20 * 1000);
	if (r == 0) {
		fprintf(stderr, "dpdk-vdpa did not quit in %d s\n",
			QUIT_MS / 1000);
		vdpa_proc_kill(v);
		return -1;
	}
	v->pid = -1;
	vdpa_proc_kill(v);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "dpdk-vdpa ended with status 0x%x\n", st);
		return -1;
	}
	return 0;
}

void
vdpa_rmdir_files(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d;

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

/* EAL's runtime folder of file prefix @prefix. */
static void
runtime_dir(const char *prefix, char *dir, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (getuid() == 0 || xdg == NULL)
		snprintf(dir, len, "/var/run/dpdk/%s", prefix);
	else
		snprintf(dir, len, "%s/dpdk/%s", xdg, prefix);
}

void
vdpa_remove_runtime_dir(const char *prefix)
{
	char dir[256];

	runtime_dir(prefix, dir, sizeof(dir));
	vdpa_rmdir_files(dir);
}

int
vdpa_proc_telemetry(const struct vdpa_proc *v, const char *cmd, char *out,
		    size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	char dir[256];
	ssize_t n = -1;
	int fd, ret;

	runtime_dir(v->prefix, dir, sizeof(dir));
	if (strlen(dir) + sizeof("/dpdk_telemetry.v2") > sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, dir, strlen(dir));
	strcat(sa.sun_path, "/dpdk_telemetry.v2");
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The server greets first (its version), then answers the command. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    read(fd, out, len - 1) > 0 &&
	    write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd))
		n = read(fd, out, len - 1);
	ret = n > 0 ? 0 : (errno != 0 ? -errno : -EIO);
	if (n > 0)
		out[n] = '\0';
	close(fd);
	return ret;
}

/* The number "@key": of a telemetry reply, -1 if it has none. */
static long
reply_int(const char *reply, const char *key)
{
	char k[48];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(reply, k);
	return p != NULL ? strtol(p + strlen(k), NULL, 10) : -1;
}

long
vdpa_proc_tel_int(const struct vdpa_proc *v, const char *cmd,
		  const char *key)
{
	char reply[2048];

	if (vdpa_proc_telemetry(v, cmd, reply, sizeof(reply)) < 0)
		return -1;
	return reply_int(reply, key);
}

bool
vdpa_proc_tel_has(const struct vdpa_proc *v, const char *cmd,
		  const char *text)
{
	char reply[2048];

	return vdpa_proc_telemetry(v, cmd, reply, sizeof(reply)) == 0 &&
	       strstr(reply, text) != NULL;
}

void
vdpa_proc_cleanup(struct vdpa_proc *v)
{
	vdpa_proc_kill(v);
	if (v->prefix[0] != '\0')
		vdpa_remove_runtime_dir(v->prefix);
	v->prefix[0] = '\0';
	if (v->dir[0] == '\0')
		return;
	if (v->keep) {
		fprintf(stderr, "kept: %s\n", v->dir);
		return;
	}
	vdpa_rmdir_files(v->dir);
	v->dir[0] = '\0';
}

int
vdpa_proc_run(struct vdpa_proc *v, const char *devargs, int (*fn)(void))
{
	int ret = -1;

	if (v->dir[0] != '\0')
		ret = vdpa_proc_start(v, devargs);
	if (ret == 0) {
		ret = fn();
		if (ret == 0 && !vdpa_proc_alive(v)) {
			fprintf(stderr, "dpdk-vdpa died\n");
			ret = -1;
		}
		if (ret == 0)
			ret = vdpa_proc_quit(v);
		if (ret != 0)
			vdpa_proc_log_tail(v, 40);
	}
	vdpa_proc_cleanup(v);
	return ret;
}

/* ---- The log ---- */

static char *
log_text(const struct vdpa_proc *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *m;
	int ch;

	f = fopen(v->log, "r");
	m = open_memstream(&buf, &len);
	while (f != NULL && (ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(m);
	if (f != NULL)
		fclose(f);
	return buf;
}

static unsigned int
text_count(const char *text, const char *needle)
{
	const char *p = text;
	unsigned int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

unsigned int
vdpa_proc_log_count(const struct vdpa_proc *v, const char *needle)
{
	char *text = log_text(v);
	unsigned int n = text_count(text, needle);

	free(text);
	return n;
}

unsigned int
vdpa_proc_log_wait(const struct vdpa_proc *v, const char *needle,
		   unsigned int count, int ms)
{
	int64_t end = vdrv_now_ms() + ms;
	unsigned int n;

	while ((n = vdpa_proc_log_count(v, needle)) < count &&
	       vdrv_now_ms() < end)
		usleep(20 * 1000);
	return n;
}

void
vdpa_proc_log_tail(const struct vdpa_proc *v, unsigned int lines)
{
	char *text = log_text(v);
	size_t len = strlen(text);
	char *p = text + len;

	while (p > text && lines > 0) {
		p--;
		if (*p == '\n' && p + 1 < text + len)
			lines--;
	}
	fprintf(stderr, "---- dpdk-vdpa log tail (%s) ----\n%s\n----\n",
		v->log, p);
	free(text);
}

long
vdpa_proc_configures(const struct vdpa_proc *v)
{
	return vdpa_proc_tel_int(v, VDPA_PROC_VF0_INFO, "configures");
}

long
vdpa_proc_closes(const struct vdpa_proc *v)
{
	return vdpa_proc_tel_int(v, VDPA_PROC_VF0_INFO, "closes");
}

/* The sum of the numbers of the "errors" object of an info reply. */
static long
errors_sum(const char *reply)
{
	const char *p = strstr(reply, "\"errors\":{");
	long sum = 0;

	if (p == NULL)
		return -1;
	for (p = strchr(p, '{'); *p != '}' && *p != '\0'; p++)
		if (*p == ':')
			sum += strtol(p + 1, NULL, 10);
	return sum;
}

long
vdpa_proc_wait_error(const struct vdpa_proc *v, const char *name, long min,
		     int ms)
{
	int64_t end = vdrv_now_ms() + ms;
	char reply[2048];
	long n;

	for (;;) {
		if (vdpa_proc_telemetry(v, VDPA_PROC_VF0_INFO, reply,
					sizeof(reply)) < 0)
			n = -1;
		else
			n = name != NULL ? reply_int(reply, name) :
					   errors_sum(reply);
		if (name == NULL || n >= min || vdrv_now_ms() >= end)
			return n;
		usleep(5000);
	}
}

/* The first VF as one telemetry reply shows it. */
struct vf0_view {
	long configures, closes, queues, windows;
	bool running, stopped;
};

static int
vf0_view(const struct vdpa_proc *v, struct vf0_view *w)
{
	char reply[2048];

	if (vdpa_proc_telemetry(v, VDPA_PROC_VF0_INFO, reply,
				sizeof(reply)) < 0)
		return -1;
	w->configures = reply_int(reply, "configures");
	w->closes = reply_int(reply, "closes");
	w->queues = reply_int(reply, "queues");
	w->windows = reply_int(reply, "dma_windows");
	w->running = strstr(reply, "\"state\":\"running\"") != NULL;
	w->stopped = strstr(reply, "\"state\":\"stopped\"") != NULL;
	return w->configures >= 0 && w->closes >= 0 && w->windows >= 0 &&
	       (w->running || w->stopped) ? 0 : -1;
}

long
vdpa_proc_wait_configures(const struct vdpa_proc *v, long n, long queues,
			  int ms)
{
	int64_t end = vdrv_now_ms() + ms;
	struct vf0_view w;

	for (;;) {
		if (vf0_view(v, &w) == 0 && w.configures >= n && w.running &&
		    (queues < 0 || w.queues == queues))
			return w.configures;
		if (vdrv_now_ms() >= end)
			return -1;
		usleep(5000);
	}
}

int
vdpa_proc_check_closes(const struct vdpa_proc *v, long min, int ms)
{
	int64_t end = vdrv_now_ms() + ms;
	struct vf0_view w = { .closes = -1, .windows = -1 };
	long maps = -1;

	for (;;) {
		/* The IOMMU read between two equal views: a VF at rest. */
		if (vf0_view(v, &w) == 0 && w.closes >= min) {
			struct vf0_view again;

			maps = vdpa_proc_tel_int(v, VDPA_PROC_SIM0_INFO,
						 "iommu_mappings");
			if (vf0_view(v, &again) == 0 &&
			    again.closes == w.closes &&
			    again.configures == w.configures &&
			    again.stopped == w.stopped && maps >= 0 &&
			    maps == w.windows && (!w.stopped || maps == 0))
				return 0;
		}
		if (vdrv_now_ms() >= end)
			break;
		usleep(5000);
	}
	fprintf(stderr, "%ld closes (%ld wanted); the IOMMU holds %ld mappings, the %s VF %ld DMA windows\n",
		w.closes, min, maps, w.stopped ? "stopped" : "running",
		w.windows);
	return -1;
}
