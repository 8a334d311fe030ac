/* nanosleep and clock_gettime: a 20 ms sleep takes at least 20 ms of
 * CLOCK_MONOTONIC, and CLOCK_REALTIME advances too. */
#include <stdio.h>
#include <time.h>

static long long ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
	long long m0 = ns(CLOCK_MONOTONIC), r0 = ns(CLOCK_REALTIME);
	struct timespec d = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	if (nanosleep(&d, NULL) != 0) {
		printf("clock: nanosleep failed\n");
		return 1;
	}
	long long slept = ns(CLOCK_MONOTONIC) - m0, real = ns(CLOCK_REALTIME) - r0;
	printf("clock: slept %lld us monotonic, %lld us realtime\n", slept / 1000, real / 1000);
	return slept >= 20000000 && real > 0 ? 0 : 1;
}
