/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef THREAD_STAT_H
#define THREAD_STAT_H

/*
 * This process's threads as the kernel counts them, for the relay's unit
 * test and the benchmarks: found by name, their CPU time, how many.
 */

#include <stdint.h>
#include <sys/types.h>

#define RELAY_THREAD_NAME	"dpdk-ifcvf-rly"

/* The id of the first thread named @name (0: none). */
pid_t thread_find(const char *name);
/* Threads named @name, and all threads of the process (@all, may be NULL). */
unsigned int thread_count(const char *name, unsigned int *all);
/* CPU time thread @tid has used so far, nanoseconds (schedstat). */
uint64_t thread_cpu_ns(pid_t tid);
/* Times thread @tid went to sleep so far (voluntary context switches). */
uint64_t thread_sleeps(pid_t tid);

#endif /* THREAD_STAT_H */
