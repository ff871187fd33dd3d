/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_TEST_H
#define IFCVF_TEST_H

/*
 * A minimal harness for the unit suites: each case is a function that
 * returns 0 or fails through CHECK(); test_run() runs the cases, prints
 * one line per case and a closing "N passed, N failed", and gives the
 * process exit code.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: %s: check failed: %s\n", \
			__FILE__, __LINE__, __func__, #cond); \
		return -1; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long check_a_ = (long long)(a); \
	long long check_b_ = (long long)(b); \
	if (check_a_ != check_b_) { \
		fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n", \
			__FILE__, __LINE__, __func__, #a, #b, \
			check_a_, check_b_); \
		return -1; \
	} \
} while (0)

static inline uint64_t
test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll @cond every 200 us for at most @ms; evaluates to its last value. */
#define WAIT_FOR(cond, ms) __extension__ ({ \
	uint64_t wf_deadline_ = test_now_ms() + (ms); \
	bool wf_ok_; \
	while (!(wf_ok_ = (cond)) && test_now_ms() < wf_deadline_) \
		usleep(200); \
	wf_ok_; \
})

struct test_case {
	const char *name;
	int (*fn)(void);
};

#define TEST_CASE(f) { #f, f }

static inline int
test_run(const char *suite, const struct test_case *cases, unsigned int n)
{
	unsigned int i, passed = 0, failed = 0;

	for (i = 0; i < n; i++) {
		int rc = cases[i].fn();

		printf("%s %s/%s\n", rc == 0 ? "ok  " : "FAIL", suite,
		       cases[i].name);
		fflush(stdout);
		if (rc == 0)
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

#define TEST_MAIN(suite, cases) \
int \
main(void) \
{ \
	return test_run(suite, cases, sizeof(cases) / sizeof(cases[0])); \
}

#endif /* IFCVF_TEST_H */
