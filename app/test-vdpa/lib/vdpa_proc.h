/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef VDPA_PROC_H
#define VDPA_PROC_H

/*
 * DPDK's dpdk-vdpa example as a child process serving one simulated VF
 * through the driver, for the end-to-end tests: stdin a fifo held open
 * (a "q" line makes it quit), a unique EAL file prefix, the log in a
 * private folder, every wait bounded.
 *
 *   vdpa_proc_setup()    a program's settings of every run
 *   vdpa_proc_init()     the folder, its paths and the file prefix
 *   vdpa_proc_start()    fork and exec, wait for the vhost-user socket
 *   vdpa_proc_log_*()    read the log
 *   vdpa_proc_quit()     ask it to quit, check its exit status
 *   vdpa_proc_cleanup()  kill it if still there, remove every file
 *   vdpa_proc_run()      all of the above around one test case
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vdpa_proc {
	/* Set by vdpa_proc_setup() or the caller before vdpa_proc_start(). */
	const char *build_dir;
	const char *const *eal_args;	/* more EAL arguments, NULL-ended */
	bool gdb;		/* under gdb: every thread's backtrace in the log */
	bool keep;		/* cleanup leaves the folder and the log */

	pid_t pid;
	int stdin_fd;		/* the fifo's write side, held open */
	char dir[128];		/* every file of the run: log, socket, fifo */
	char log[192];
	char sock[192];		/* the vhost-user socket of the VF */
	char prefix[64];	/* EAL file prefix */
};

/*
 * The settings every run of a program shares: @build_dir, more EAL
 * arguments (@eal_args), from the environment IFCVF_TEST_GDB (dpdk-vdpa
 * under gdb) and IFCVF_TEST_KEEP_LOG (its folder and log kept). SIGPIPE
 * ignored: a write to a dead dpdk-vdpa fails instead.
 */
void vdpa_proc_setup(struct vdpa_proc *v, const char *build_dir,
		     const char *const *eal_args);
/*
 * A folder /tmp/<tag>.XXXXXX and the file prefix <tag><pid>_<name>; the
 * caller may add files of its own in v->dir (cleanup removes them too).
 */
int vdpa_proc_init(struct vdpa_proc *v, const char *tag, const char *name);
/* Start dpdk-vdpa with one VF, vdpa_ifcvf_sim0 with @devargs. */
int vdpa_proc_start(struct vdpa_proc *v, const char *devargs);
/* Still running? If not, say how it ended. */
bool vdpa_proc_alive(struct vdpa_proc *v);
/* Ask it to quit; 0 if it exits with 0 within 10 s. */
int vdpa_proc_quit(struct vdpa_proc *v);
void vdpa_proc_kill(struct vdpa_proc *v);
void vdpa_proc_cleanup(struct vdpa_proc *v);
/*
 * One test case on its own dpdk-vdpa (after vdpa_proc_init()): start it
 * with @devargs, run @fn, expect dpdk-vdpa alive after it and quitting
 * cleanly; print the log's tail on a failure, clean up. Returns 0 on
 * success.
 */
int vdpa_proc_run(struct vdpa_proc *v, const char *devargs, int (*fn)(void));
/*
 * Send the telemetry command @cmd ("/path,params") to the running
 * dpdk-vdpa and read its JSON reply into @out (@len bytes with the NUL).
 * 0, or a negative errno (5 s at most for each step).
 */
int vdpa_proc_telemetry(const struct vdpa_proc *v, const char *cmd,
			char *out, size_t len);
/* The first simulated VF's telemetry: the driver's, the simulator's. */
#define VDPA_PROC_VF0_INFO	"/vdpa_ifcvf/info,vdpa_ifcvf_sim0"
#define VDPA_PROC_SIM0_INFO	"/vdpa_ifcvf_sim/info,vdpa_ifcvf_sim0"

/*
 * The number @key of the reply to telemetry command @cmd (its first
 * "@key": in it); -1 if there is none.
 */
long vdpa_proc_tel_int(const struct vdpa_proc *v, const char *cmd,
		       const char *key);
/* The reply to @cmd has the JSON text @text ("\"logging\":\"off\""). */
bool vdpa_proc_tel_has(const struct vdpa_proc *v, const char *cmd,
		       const char *text);

/* Remove a folder that holds files only. */
void vdpa_rmdir_files(const char *dir);
/* The same for EAL's runtime folder of @prefix. */
void vdpa_remove_runtime_dir(const char *prefix);

/* ---- The log ---- */

/* Occurrences of @needle in the log. */
unsigned int vdpa_proc_log_count(const struct vdpa_proc *v,
				 const char *needle);
/* Wait up to @ms for @count occurrences; returns the count seen. */
unsigned int vdpa_proc_log_wait(const struct vdpa_proc *v, const char *needle,
				unsigned int count, int ms);
/* Print the last @lines lines of the log to stderr. */
void vdpa_proc_log_tail(const struct vdpa_proc *v, unsigned int lines);
/*
 * The first VF's telemetry: the times the driver configured it
 * (configures) and tore its datapath down (closes); -1 if unknown.
 */
long vdpa_proc_configures(const struct vdpa_proc *v);
long vdpa_proc_closes(const struct vdpa_proc *v);
/*
 * The first VF's error counter @name (telemetry's "errors": "bad_ring",
 * "needs_reset", ...) once it reached @min, or what it was after @ms;
 * -1 if unknown. With @name NULL, the sum of all of them, at once.
 */
long vdpa_proc_wait_error(const struct vdpa_proc *v, const char *name,
			  long min, int ms);
/*
 * Wait up to @ms until the first VF was configured @n times (or more:
 * the count is returned) and runs with @queues queues (any: -1); -1 if
 * it did not.
 */
long vdpa_proc_wait_configures(const struct vdpa_proc *v, long n,
			       long queues, int ms);
/*
 * Wait up to @ms until the first VF was closed at least @min times and
 * its simulated IOMMU holds the VF's DMA windows and nothing else (none
 * once it stopped): no close left a mapping behind. 0, or -1 (said).
 */
int vdpa_proc_check_closes(const struct vdpa_proc *v, long min, int ms);

#endif /* VDPA_PROC_H */
