/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_stat.h"

/* Whether thread @tid (a /proc/self/task entry) is named @name. */
static int
thread_named(const char *tid, const char *name)
{
	char path[320], comm[32];
	int match = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/comm", tid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) != NULL) {
		comm[strcspn(comm, "\n")] = '\0';
		match = strcmp(comm, name) == 0;
	}
	fclose(f);
	return match;
}

/* Walk the threads: count those named @name, stop at the first if @first. */
static unsigned int
thread_walk(const char *name, int first, pid_t *tid, unsigned int *all)
{
	DIR *d = opendir("/proc/self/task");
	unsigned int n = 0, total = 0;
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		total++;
		if (!thread_named(e->d_name, name))
			continue;
		n++;
		if (tid != NULL)
			*tid = atoi(e->d_name);
		if (first)
			break;
	}
	if (d != NULL)
		closedir(d);
	if (all != NULL)
		*all = total;
	return n;
}

pid_t
thread_find(const char *name)
{
	pid_t tid = 0;

	thread_walk(name, 1, &tid, NULL);
	return tid;
}

unsigned int
thread_count(const char *name, unsigned int *all)
{
	return thread_walk(name, 0, NULL, all);
}

uint64_t
thread_cpu_ns(pid_t tid)
{
	uint64_t ns = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%" SCNu64, &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

uint64_t
thread_sleeps(pid_t tid)
{
	uint64_t n = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "voluntary_ctxt_switches: %" SCNu64, &n) == 1)
			break;
	fclose(f);
	return n;
}
