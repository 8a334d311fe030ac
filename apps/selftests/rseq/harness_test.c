// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The harness's own test: every behaviour the rseq selftests rely on, and
 * the failures they could meet. It includes the harness as they do, one
 * level up. xtask compiles it for the host and compares its whole output
 * and exit status (xtask/src/selftests/mod.rs,
 * `the_harness_runs_each_test_in_a_fresh_thread`).
 */
#include <stdio.h>
#include <unistd.h>

#include "../kselftest_harness.h"

static int teardowns;

FIXTURE(counter)
{
	int value;
};

FIXTURE_VARIANT(counter)
{
	int step;
};

FIXTURE_VARIANT_ADD(counter, one)
{
	.step = 1,
};

FIXTURE_VARIANT_ADD(counter, ten)
{
	.step = 10,
};

FIXTURE_SETUP(counter)
{
	/* Each test starts from zeroed data. */
	ASSERT_EQ(self->value, 0);
	self->value = variant->step;
}

FIXTURE_TEARDOWN(counter)
{
	teardowns++;
	printf("# teardown %d value %d\n", teardowns, self->value);
}

TEST_F(counter, adds)
{
	self->value += variant->step;
	ASSERT_EQ(self->value, 2 * variant->step);
	EXPECT_NE(self, NULL);
}

TEST_F(counter, assert_ends_the_body)
{
	self->value = 7;
	ASSERT_GT(variant->step, 5);
	printf("# after a failed ASSERT: must not print for step 1\n");
}

FIXTURE(skipped)
{
	int unused;
};

FIXTURE_SETUP(skipped)
{
	SKIP(return, "not supported here (%d)\n", 42);
}

FIXTURE_TEARDOWN(skipped)
{
	printf("# teardown of a skipped setup: must not print\n");
}

TEST_F(skipped, never_runs)
{
	printf("# body of a skipped setup: must not print\n");
}

FIXTURE(broken)
{
	int unused;
};

FIXTURE_SETUP(broken)
{
	ASSERT_TRUE(getpid() < 0);
}

FIXTURE_TEARDOWN(broken)
{
	printf("# teardown of a failed setup: must not print\n");
}

TEST_F(broken, never_runs)
{
	printf("# body of a failed setup: must not print\n");
}

TEST(expect_goes_on)
{
	EXPECT_EQ(1, 2);
	TH_LOG("still running after %s", "EXPECT_EQ");
	EXPECT_FALSE(0);
}

TEST(plain)
{
	ASSERT_LE(1, 1);
	ASSERT_FALSE(0);
}

/* Each test starts in a new thread: thread-local state is fresh. */
static __thread int used;

TEST(fresh_thread_first)
{
	ASSERT_EQ(used, 0);
	used = 1;
}

TEST(fresh_thread_second)
{
	ASSERT_EQ(used, 0);
	used = 1;
}

TEST(skip_in_body)
{
	SKIP(return, "skipped by the body");
	printf("# after SKIP: must not print\n");
}

TEST_HARNESS_MAIN
