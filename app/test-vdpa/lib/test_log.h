/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_TEST_LOG_H
#define IFCVF_TEST_LOG_H

/*
 * The driver's log, captured for the unit cases that check what it said:
 * log_capture(), then the call, then log_release() for the text (echoed
 * to stderr; the caller frees it).
 */

#include <stdio.h>
#include <stdlib.h>

#include <rte_log.h>

static char *test_log_buf;
static size_t test_log_len;
static FILE *test_log_file;

static inline void
log_capture(void)
{
	free(test_log_buf);
	test_log_buf = NULL;
	test_log_file = open_memstream(&test_log_buf, &test_log_len);
	rte_openlog_stream(test_log_file);
}

static inline char *
log_release(void)
{
	char *text;

	rte_openlog_stream(stderr);
	fclose(test_log_file);
	text = test_log_buf;
	test_log_buf = NULL;
	fprintf(stderr, "%s", text);
	return text;
}

#endif /* IFCVF_TEST_LOG_H */
