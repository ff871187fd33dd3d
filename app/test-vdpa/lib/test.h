/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_TEST_H
#define IFCVF_TEST_H

/*
 * The case runner of every C test. A case is a function that returns 0 or
 * fails through CHECK(); a suite is a table of cases, and test_main() runs
 * those its arguments name:
 *
 *   <prog> [args...] [<case>...|all|list]
 *
 * with no case named, or "all", every case; a name may be a shell pattern
 * ('*_hw'); "list" prints the names. It prints one line per case, "ok  "
 * or "FAIL", the suite, the case and its time, then "N passed, N
 * failed"; the exit code is 0 if none failed, 1 if one did, 2 if an
 * argument names no case.
 * A suite whose cases need a setting each (devargs, a mode) runs them
 * through its @run, which gets the case and finds its setting in @param.
 */

#include <fnmatch.h>
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
	const void *param;	/* the suite's setting of this case */
};

#define TEST_CASE(f) { .name = #f, .fn = f }

struct test_suite {
	const char *name;
	const struct test_case *cases;
	unsigned int nr_cases;
	/* Runs case @c (its set-up around c->fn); NULL: c->fn() alone. */
	int (*run)(const struct test_case *c);
};

/* "all" is the pattern of every name. */
static inline const char *
test_pattern(const char *arg)
{
	return strcmp(arg, "all") == 0 ? "*" : arg;
}

/* No case named (all), or named or matched by a pattern. */
static inline bool
test_selected(const struct test_case *c, int argc, char **argv)
{
	int i;

	if (argc == 0)
		return true;
	for (i = 0; i < argc; i++)
		if (fnmatch(test_pattern(argv[i]), c->name, 0) == 0)
			return true;
	return false;
}

/* Each of @argv matches a case of @s; else says which does not. */
static inline bool
test_known(const struct test_suite *s, int argc, char **argv)
{
	unsigned int j;
	int i;

	for (i = 0; i < argc; i++) {
		for (j = 0; j < s->nr_cases; j++)
			if (fnmatch(test_pattern(argv[i]), s->cases[j].name,
				    0) == 0)
				break;
		if (j == s->nr_cases) {
			fprintf(stderr, "%s: no case %s (list: every case)\n",
				s->name, argv[i]);
			return false;
		}
	}
	return true;
}

static inline int
test_run_one(const struct test_suite *s, const struct test_case *c)
{
	uint64_t start = test_now_ms();
	int rc;

	rc = s->run != NULL ? s->run(c) : c->fn();
	printf("%s %s/%s (%.1f s)\n", rc == 0 ? "ok  " : "FAIL", s->name,
	       c->name, (test_now_ms() - start) / 1000.0);
	fflush(stdout);
	return rc;
}

/* Run the cases @argv names (none: all) of @s; the exit code. */
static inline int
test_main(const struct test_suite *s, int argc, char **argv)
{
	unsigned int i, passed = 0, failed = 0;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		for (i = 0; i < s->nr_cases; i++)
			printf("%s\n", s->cases[i].name);
		return 0;
	}
	if (!test_known(s, argc, argv))
		return 2;
	for (i = 0; i < s->nr_cases; i++) {
		if (!test_selected(&s->cases[i], argc, argv))
			continue;
		if (test_run_one(s, &s->cases[i]) == 0)
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	if (passed + failed == 0) {
		fprintf(stderr, "%s: no case ran\n", s->name);
		return 2;
	}
	return failed == 0 ? 0 : 1;
}

/* A suite of plain cases, its main(). */
#define TEST_MAIN(suite, table) \
int \
main(int argc, char **argv) \
{ \
	static const struct test_suite test_suite_ = { \
		.name = suite, .cases = table, \
		.nr_cases = sizeof(table) / sizeof(table[0]), \
	}; \
	return test_main(&test_suite_, argc - 1, argv + 1); \
}

#endif /* IFCVF_TEST_H */
