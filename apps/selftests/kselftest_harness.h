/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A non-forking kselftest harness: the part of the kselftest_harness.h API
 * that Linux's rseq selftests use (legacy_check.c, slice_test.c), for a
 * kernel that has no fork(). Each test runs in the test program's own
 * process, one after another, in a thread of its own: fixture setup, the
 * test body, teardown. The output is kselftest's TAP, and the exit status
 * is KSFT_FAIL (1) when a test failed, 0 otherwise.
 *
 * Written for rseq-os from the harness's documented interface; the test
 * sources compile unchanged against it (the build puts this folder's rseq/
 * on the include path, so their `#include "../kselftest_harness.h"` finds
 * this file as it finds Linux's one level above rseq/).
 *
 * Where Linux's harness forks a child per test, this one starts a thread
 * per test and joins it before the next: each test begins with a thread's
 * fresh state (no rseq registration, the process's CPU affinity, its own
 * TLS), which is what the rseq tests' setup relies on (slice_test's
 * registers rseq and pins itself to a CPU in every variant). What a fork
 * would also isolate is shared: memory, signal handlers, file descriptors.
 *
 * What is here:
 *   FIXTURE(f) { members };            the data each test of f gets as `self`
 *   FIXTURE_DATA(f)                     that struct's type
 *   FIXTURE_VARIANT(f) { members };     per-variant constants, `variant`
 *   FIXTURE_VARIANT_ADD(f, v) { init }; one variant: every TEST_F of f runs
 *                                       once per variant ("f.v.test")
 *   FIXTURE_SETUP(f) { }, FIXTURE_TEARDOWN(f) { }
 *   TEST_F(f, name) { }                 a test with f's setup and teardown
 *   TEST(name) { }                      a test without a fixture
 *   ASSERT_{EQ,NE,LT,LE,GT,GE}(expected, seen), ASSERT_{TRUE,FALSE}(c):
 *                                       on failure, log and end the test
 *   EXPECT_* likewise:                  on failure, log and go on
 *   TH_LOG(fmt, ...)                    a "# " line naming the test
 *   SKIP(statement, fmt, ...)           mark the test skipped, log the
 *                                       reason, then run statement (return)
 *   TEST_HARNESS_MAIN                   main(): run every test
 *
 * Semantics that differ from a forking harness, since a test is a thread
 * and not a process: a test that crashes ends the program (the later tests
 * do not run); an ASSERT_* failure leaves the test with longjmp(), so it
 * must be reached from the test's own thread; there is no per-test timeout.
 * Setup that fails or skips ends the test without its body and without
 * teardown; teardown runs after every body whose setup completed, whatever
 * the body did. ASSERT_* cannot be followed by a TH_LOG() clause: log
 * first.
 */
#ifndef RSEQ_OS_KSELFTEST_HARNESS_H
#define RSEQ_OS_KSELFTEST_HARNESS_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state of the running test; test bodies see it as `_metadata`. */
struct __test_metadata {
	const char *name;	/* "fixture.variant.test" */
	int failed;
	int skipped;
	char skip_reason[256];
	/* Where an ASSERT_* failure or a setup that bailed out returns to. */
	jmp_buf bail;
};

struct __harness_fixture;

/* One FIXTURE_VARIANT_ADD. */
struct __harness_variant {
	const char *name;
	const void *data;
	struct __harness_variant *next;
};

/* One TEST_F (or TEST): runs setup, body and teardown for a variant. */
struct __harness_test {
	const char *name;
	void (*run)(struct __test_metadata *, const void *variant);
	struct __harness_test *next;
};

/* One FIXTURE: its variants and tests, in the order they were written. */
struct __harness_fixture {
	const char *name;
	struct __harness_variant *variants, **variants_tail;
	struct __harness_test *tests, **tests_tail;
	struct __harness_fixture *next;
};

static struct __harness_fixture *__harness_fixtures;
static struct __harness_fixture **__harness_fixtures_tail = &__harness_fixtures;

/* Links a fixture into the list when its first variant or test registers. */
static inline void __harness_link(struct __harness_fixture *f)
{
	if (f->tests_tail)
		return;
	f->variants_tail = &f->variants;
	f->tests_tail = &f->tests;
	*__harness_fixtures_tail = f;
	__harness_fixtures_tail = &f->next;
}

static inline void __harness_add_variant(struct __harness_fixture *f,
					 struct __harness_variant *v)
{
	__harness_link(f);
	*f->variants_tail = v;
	f->variants_tail = &v->next;
}

static inline void __harness_add_test(struct __harness_fixture *f,
				      struct __harness_test *t)
{
	__harness_link(f);
	*f->tests_tail = t;
	f->tests_tail = &t->next;
}

/*
 * Registration runs before main(), as constructors, in the order the
 * variants and tests are written; so fixtures come in the order of their
 * first variant or test.
 */
#define __HARNESS_CTOR	__attribute__((constructor))

#define FIXTURE_DATA(fixture) struct __harness_data_##fixture
#define FIXTURE_VARIANT(fixture) struct __harness_variant_data_##fixture

#define FIXTURE(fixture)							\
	FIXTURE_VARIANT(fixture);						\
	static struct __harness_fixture __attribute__((unused))		\
		__harness_fixture_##fixture = {					\
		.name = #fixture,						\
	};									\
	FIXTURE_DATA(fixture)

#define FIXTURE_SETUP(fixture)							\
	static void __attribute__((unused)) __harness_setup_##fixture(	\
		struct __test_metadata __attribute__((unused)) *_metadata,	\
		FIXTURE_DATA(fixture) __attribute__((unused)) *self,		\
		const FIXTURE_VARIANT(fixture) __attribute__((unused)) *variant)

#define FIXTURE_TEARDOWN(fixture)						\
	static void __attribute__((unused)) __harness_teardown_##fixture(	\
		struct __test_metadata __attribute__((unused)) *_metadata,	\
		FIXTURE_DATA(fixture) __attribute__((unused)) *self,		\
		const FIXTURE_VARIANT(fixture) __attribute__((unused)) *variant)

/*
 * The variant's constant is declared first (a tentative definition), so
 * that its registration can point at it; the user's initializer completes
 * the definition.
 */
#define FIXTURE_VARIANT_ADD(fixture, vname)					\
	static const FIXTURE_VARIANT(fixture)					\
		__harness_variant_##fixture##_##vname;				\
	static struct __harness_variant __harness_v_##fixture##_##vname = {	\
		.name = #vname,							\
		.data = &__harness_variant_##fixture##_##vname,			\
	};									\
	static void __HARNESS_CTOR					\
	__harness_register_##fixture##_##vname(void)				\
	{									\
		__harness_add_variant(&__harness_fixture_##fixture,		\
				      &__harness_v_##fixture##_##vname);		\
	}									\
	static const FIXTURE_VARIANT(fixture)					\
		__harness_variant_##fixture##_##vname =

static inline void __harness_bail(struct __test_metadata *m)
{
	longjmp(m->bail, 1);
}

/*
 * Runs one test: setup, then (if setup neither failed nor skipped) the body
 * and teardown. `self` is static rather than on this frame, so its members
 * keep what setup and the body stored when an assertion longjmp()s here.
 */
#define TEST_F(fixture, test)							\
	static void __harness_body_##fixture##_##test(				\
		struct __test_metadata *_metadata,				\
		FIXTURE_DATA(fixture) *self,					\
		const FIXTURE_VARIANT(fixture) *variant);			\
	static void __harness_run_##fixture##_##test(				\
		struct __test_metadata *m, const void *variant)			\
	{									\
		static FIXTURE_DATA(fixture) self;				\
		static volatile int setup_done;					\
										\
		memset(&self, 0, sizeof(self));					\
		setup_done = 0;							\
		if (setjmp(m->bail) == 0) {					\
			__harness_setup_##fixture(m, &self, variant);		\
			if (!m->failed && !m->skipped) {			\
				setup_done = 1;					\
				__harness_body_##fixture##_##test(m, &self,	\
								  variant);	\
			}							\
		}								\
		if (setup_done && setjmp(m->bail) == 0)				\
			__harness_teardown_##fixture(m, &self, variant);	\
	}									\
	static struct __harness_test __harness_t_##fixture##_##test = {	\
		.name = #test,							\
		.run = __harness_run_##fixture##_##test,			\
	};									\
	static void __HARNESS_CTOR					\
	__harness_register_##fixture##_##test(void)				\
	{									\
		__harness_add_test(&__harness_fixture_##fixture,		\
				   &__harness_t_##fixture##_##test);		\
	}									\
	static void __harness_body_##fixture##_##test(				\
		struct __test_metadata __attribute__((unused)) *_metadata,	\
		FIXTURE_DATA(fixture) __attribute__((unused)) *self,		\
		const FIXTURE_VARIANT(fixture) __attribute__((unused)) *variant)

/* A test without a fixture: the implicit fixture "global", no setup. */
FIXTURE(global) {
	char unused;
};
FIXTURE_SETUP(global) { }
FIXTURE_TEARDOWN(global) { }
#define TEST(test) TEST_F(global, test)

/* "# file:line:test: message" */
static inline void __attribute__((format(printf, 4, 5)))
__harness_log(const struct __test_metadata *m, const char *file, int line,
	      const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d:%s:", file, line, m->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		putchar('\n');
}

#define TH_LOG(fmt, ...)							\
	__harness_log(_metadata, __FILE__, __LINE__, fmt, ##__VA_ARGS__)

static inline void __attribute__((format(printf, 2, 3)))
__harness_skip(struct __test_metadata *m, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	m->skipped = 1;
	va_start(ap, fmt);
	vsnprintf(m->skip_reason, sizeof(m->skip_reason), fmt, ap);
	va_end(ap);
	n = strlen(m->skip_reason);
	while (n > 0 && m->skip_reason[n - 1] == '\n')
		m->skip_reason[--n] = '\0';
}

#define SKIP(statement, fmt, ...)						\
	do {									\
		__harness_skip(_metadata, fmt, ##__VA_ARGS__);			\
		statement;							\
	} while (0)

/*
 * One comparison. Both sides are evaluated once, in their own types, and
 * compared with the operator; the log shows each as the integer it is (a
 * pointer as its address).
 */
#define __HARNESS_CMP(expected, seen, op, fatal)				\
	do {									\
		__typeof__(expected) __exp = (expected);			\
		__typeof__(seen) __seen = (seen);				\
		if (!(__exp op __seen)) {					\
			__harness_log(_metadata, __FILE__, __LINE__,		\
				      "Expected %s (%lld) %s %s (%lld)",	\
				      #expected,				\
				      (long long)(uintptr_t)__exp, #op,		\
				      #seen,					\
				      (long long)(uintptr_t)__seen);		\
			_metadata->failed = 1;					\
			if (fatal)						\
				__harness_bail(_metadata);			\
		}								\
	} while (0)

#define __HARNESS_BOOL(cond, want, fatal)					\
	do {									\
		if (!(cond) != !(want)) {					\
			__harness_log(_metadata, __FILE__, __LINE__,		\
				      "Expected %s to be %s", #cond,		\
				      (want) ? "true" : "false");		\
			_metadata->failed = 1;					\
			if (fatal)						\
				__harness_bail(_metadata);			\
		}								\
	} while (0)

#define ASSERT_EQ(expected, seen) __HARNESS_CMP(expected, seen, ==, 1)
#define ASSERT_NE(expected, seen) __HARNESS_CMP(expected, seen, !=, 1)
#define ASSERT_LT(expected, seen) __HARNESS_CMP(expected, seen, <, 1)
#define ASSERT_LE(expected, seen) __HARNESS_CMP(expected, seen, <=, 1)
#define ASSERT_GT(expected, seen) __HARNESS_CMP(expected, seen, >, 1)
#define ASSERT_GE(expected, seen) __HARNESS_CMP(expected, seen, >=, 1)
#define ASSERT_TRUE(cond) __HARNESS_BOOL(cond, 1, 1)
#define ASSERT_FALSE(cond) __HARNESS_BOOL(cond, 0, 1)
#define EXPECT_EQ(expected, seen) __HARNESS_CMP(expected, seen, ==, 0)
#define EXPECT_NE(expected, seen) __HARNESS_CMP(expected, seen, !=, 0)
#define EXPECT_LT(expected, seen) __HARNESS_CMP(expected, seen, <, 0)
#define EXPECT_LE(expected, seen) __HARNESS_CMP(expected, seen, <=, 0)
#define EXPECT_GT(expected, seen) __HARNESS_CMP(expected, seen, >, 0)
#define EXPECT_GE(expected, seen) __HARNESS_CMP(expected, seen, >=, 0)
#define EXPECT_TRUE(cond) __HARNESS_BOOL(cond, 1, 0)
#define EXPECT_FALSE(cond) __HARNESS_BOOL(cond, 0, 0)

/* How many tests a fixture contributes: each test once per variant. */
static inline unsigned int __harness_count(const struct __harness_fixture *f)
{
	unsigned int tests = 0, variants = 0;
	const struct __harness_test *t;
	const struct __harness_variant *v;

	for (t = f->tests; t; t = t->next)
		tests++;
	for (v = f->variants; v; v = v->next)
		variants++;
	return tests * (variants ? variants : 1);
}

/* What a test's thread runs. */
struct __harness_call {
	struct __test_metadata *m;
	const struct __harness_test *t;
	const void *variant;
};

static inline void *__harness_thread(void *arg)
{
	struct __harness_call *c = arg;

	c->t->run(c->m, c->variant);
	return NULL;
}

/* Runs the test in a new thread and waits for it; 0 if none could start. */
static inline int __harness_in_thread(struct __test_metadata *m,
				      const struct __harness_test *t,
				      const void *variant)
{
	struct __harness_call c = { .m = m, .t = t, .variant = variant };
	pthread_t thread;

	if (pthread_create(&thread, NULL, __harness_thread, &c))
		return 0;
	pthread_join(thread, NULL);
	return 1;
}

enum __harness_result { __HARNESS_FAIL, __HARNESS_PASS, __HARNESS_SKIP };

/* Runs one test and prints its TAP lines. */
static inline enum __harness_result __harness_run_one(unsigned int number, const char *fixture,
				    const struct __harness_variant *v,
				    const struct __harness_test *t)
{
	struct __test_metadata m;
	char name[256];

	memset(&m, 0, sizeof(m));
	if (v)
		snprintf(name, sizeof(name), "%s.%s.%s", fixture, v->name,
			 t->name);
	else
		snprintf(name, sizeof(name), "%s.%s", fixture, t->name);
	m.name = name;
	printf("#  RUN           %s ...\n", name);
	fflush(stdout);
	if (!__harness_in_thread(&m, t, v ? v->data : NULL)) {
		printf("# %s: cannot start the test's thread\n", name);
		m.failed = 1;
	}
	if (m.failed) {
		printf("#          FAIL  %s\n", name);
		printf("not ok %u %s\n", number, name);
		return __HARNESS_FAIL;
	}
	if (m.skipped) {
		printf("#      SKIP      %s\n", m.skip_reason);
		printf("#            OK  %s\n", name);
		printf("ok %u %s # SKIP %s\n", number, name, m.skip_reason);
		return __HARNESS_SKIP;
	}
	printf("#            OK  %s\n", name);
	printf("ok %u %s\n", number, name);
	return __HARNESS_PASS;
}

/* main(): every test of every fixture, in the order they were written. */
static inline int __harness_main(int argc, char **argv)
{
	const struct __harness_fixture *f;
	unsigned int total = 0, cases = 0, number = 0;
	unsigned int pass = 0, fail = 0, skip = 0;

	if (argc > 1) {
		fprintf(stderr, "%s: this harness takes no options\n", argv[0]);
		return 1;
	}
	/* Line buffered, so a crash still shows the last complete line. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (f = __harness_fixtures; f; f = f->next) {
		unsigned int n = __harness_count(f);

		total += n;
		if (n)
			cases++;
	}
	printf("TAP version 13\n");
	printf("1..%u\n", total);
	printf("# Starting %u tests from %u test cases.\n", total, cases);
	for (f = __harness_fixtures; f; f = f->next) {
		const struct __harness_variant *v = f->variants;

		do {
			const struct __harness_test *t;

			for (t = f->tests; t; t = t->next) {
				switch (__harness_run_one(++number, f->name,
							  v, t)) {
				case __HARNESS_FAIL:
					fail++;
					break;
				case __HARNESS_PASS:
					pass++;
					break;
				case __HARNESS_SKIP:
					skip++;
					break;
				}
			}
			v = v ? v->next : NULL;
		} while (v);
	}
	printf("# %s: %u / %u tests passed.\n", fail ? "FAILED" : "PASSED",
	       pass + skip, total);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       pass, fail, skip);
	return fail ? 1 : 0;
}

#define TEST_HARNESS_MAIN							\
	int main(int argc, char **argv)						\
	{									\
		return __harness_main(argc, argv);				\
	}

#endif
