/* sched_getcpu (read from the rseq area when glibc registered one) on each
 * CPU a thread is pinned to. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>

int main(void)
{
	int n = 0;
	for (int cpu = 0; cpu < 4; cpu++) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			printf("getcpu: cannot pin to cpu %d\n", cpu);
			return 1;
		}
		int got = sched_getcpu();
		printf("getcpu: pinned to %d, sched_getcpu() = %d\n", cpu, got);
		n += got == cpu;
	}
	return n == 4 ? 0 : 1;
}
