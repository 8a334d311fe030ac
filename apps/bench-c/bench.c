// SPDX-License-Identifier: MIT
/*
 * The rseq-os benchmark program: one static aarch64 Linux binary that runs
 * unchanged on every rseq-os image and on Linux, so the figures compare
 * kernels, not programs.
 *
 *   bench [REG [NAME...]]    REG: none, v1 or v2 (default: $BENCH_RSEQ,
 *                            else v2); NAMEs: the benchmarks to run, in
 *                            that order (default: all)
 *
 * The rseq registration and the per-CPU increment are Linux's rseq
 * selftests' own code (their rseq.c and rseq.h, compiled with their include
 * flags): v1 is their 32-byte "legacy" registration, v2 their registration
 * of AT_RSEQ_FEATURE_SIZE bytes, none registers nothing. glibc must not
 * have registered (GLIBC_TUNABLES=glibc.pthread.rseq=0), so that the
 * registration is the one asked for.
 *
 * Each benchmark prints one line,
 *   BENCH name=N iters=I ticks=T freq=F ops=O cpu=C [key=value...]
 * T counts CNTVCT_EL0 ticks over the timed region (read with isb; mrs, the
 * same instructions on every kernel: under QEMU -icount shift=0 the counter
 * counts instructions), F is CNTFRQ_EL0, O the operations timed. A
 * benchmark the kernel cannot run prints
 *   BENCH-SKIP name=N why=...
 * instead, and the run ends with
 *   BENCH-DONE reg=R rseq_len=L
 * then, as Linux's /init (pid 1 outside rseq-os), powers the machine off.
 * The exit status is 0, or 1 when a benchmark's own check failed (a line
 * "bench: NAME: FAIL ..." says why).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rseq.h"

#ifndef PR_RSEQ_SLICE_EXTENSION
#define PR_RSEQ_SLICE_EXTENSION 79
#define PR_RSEQ_SLICE_EXTENSION_GET 1
#define PR_RSEQ_SLICE_EXTENSION_SET 2
#define PR_RSEQ_SLICE_EXT_ENABLE 0x01
#endif
#ifndef __NR_rseq_slice_yield
#define __NR_rseq_slice_yield 471
#endif

/* Iteration counts: each benchmark takes ~5-50 ms of emulated time under
 * QEMU -icount shift=0 (1 instruction = 1 ns). */
#define GETPID_ITERS 150000
#define SCHED_YIELD_ITERS 70000
#define PINGPONG_1CPU_ITERS 25000
#define PINGPONG_2CPU_ITERS 5000
#define PERCPU_INC_ITERS 1200000
#define ATOMIC_INC_ITERS 3000000
#define MEMBARRIER_ITERS 2000
/* The slice lock: acquisitions per thread; enough for ~25 ticks at hz=100
 * (two threads, ~4000 instructions per acquisition). */
#define SLICE_LOCK_ITERS 30000
/* Delay-loop iterations inside the lock (about 5 instructions each):
 * ~1500 instructions, inside the default 5 us extension under icount. */
#define SLICE_LOCK_CS_SPINS 300
/* Delay-loop iterations between a release and the next attempt. */
#define SLICE_LOCK_THINK_SPINS 300
#define MEMBARRIER_SPINNERS 3
/* Seconds the program sleeps before the first benchmark, on every kernel:
 * Linux keeps finishing its boot for about two seconds after it starts
 * init, which adds up to 2000 instructions to each syscall measured then.
 * Under -icount sleep=off an idle machine's sleep costs no host time. */
#define SETTLE_SECONDS 5
/* Every timed region starts right after a sleep to a multiple of this
 * many nanoseconds of CLOCK_MONOTONIC, a multiple of the tick period at
 * hz=100 and hz=1000: each benchmark then meets the kernel's ticks at the
 * same points whatever ran before it. Without it, the few hundred
 * instructions by which QEMU's interleaving of the CPUs varies from one
 * boot to the next in the 2-CPU benchmarks shift every later benchmark
 * against the tick, and the slice lock's figure, which counts how many
 * ticks hit a holder inside its section, moved by a whole slice. Under
 * -icount sleep=off the sleep costs no host time. */
#define ALIGN_NS 100000000ull

enum reg { REG_NONE, REG_V1, REG_V2 };
static enum reg reg = REG_V2;
static const char *const reg_names[] = { "none", "v1", "v2" };
static bool failed;

static inline uint64_t now(void)
{
	uint64_t v;

	__asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
	return v;
}

static inline uint64_t freq(void)
{
	uint64_t v;

	__asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(v));
	return v;
}

/* A busy-wait's hint: `yield` lets QEMU's TCG run another vCPU. */
static inline void spin_hint(void)
{
	__asm__ __volatile__("yield" : : : "memory");
}

/* Sleeps to the next multiple of ALIGN_NS: see there. The threads that
 * take part in the next benchmark must be blocked (or not yet started), so
 * that the machine is idle and the sleep ends exactly at its deadline. */
static void tick_align(void)
{
	struct timespec ts;
	uint64_t t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	t = (t / ALIGN_NS + 1) * ALIGN_NS;
	ts.tv_sec = (time_t)(t / 1000000000ull);
	ts.tv_nsec = (long)(t % 1000000000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case ENXIO: return "ENXIO";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case 524: return "ENOTSUPP";
	default: return "E?";
	}
}

/* The CPUs the process may run on (glibc's sysconf reads /sys, which
 * rseq-os has not). */
static int online_cpus(void)
{
	static int n;
	cpu_set_t set;

	if (!n)
		n = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	return n;
}

static void pin(int cpu)
{
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret) {
		printf("bench: FAIL cannot pin a thread to CPU %d: %s\n", cpu, strerror(ret));
		failed = true;
	}
}

/* Registers the calling thread as asked (the selftests' code path). */
static void register_thread(void)
{
	if (reg == REG_NONE)
		return;
	if (__rseq_register_current_thread(true, reg == REG_V1)) {
		printf("bench: FAIL rseq registration (%s): %s\n", reg_names[reg], strerror(errno));
		exit(1);
	}
}

static void unregister_thread(void)
{
	if (reg != REG_NONE && rseq_unregister_current_thread())
		abort();
}

static void print_line(const char *name, uint64_t iters, uint64_t ticks, uint64_t ops,
		       const char *extra)
{
	printf("BENCH name=%s iters=%llu ticks=%llu freq=%llu ops=%llu cpu=%d%s%s\n", name,
	       (unsigned long long)iters, (unsigned long long)ticks,
	       (unsigned long long)freq(), (unsigned long long)ops, sched_getcpu(),
	       extra[0] ? " " : "", extra);
}

/* ---- null syscalls ---- */

static void bench_syscall(const char *name, long nr, uint64_t iters)
{
	uint64_t t0;

	tick_align();
	t0 = now();

	for (uint64_t i = 0; i < iters; i++)
		syscall(nr);
	print_line(name, iters, now() - t0, iters, "");
}

/* ---- threads ---- */

struct peer {
	pthread_t thread;
	int cpu;
	void *(*fn)(void *);
	int index;
};

static int go;
static volatile int stop;
static volatile int ready;

static long futex(int *uaddr, int op, int val)
{
	return syscall(SYS_futex, uaddr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* A peer's start: blocked in the kernel until the main thread's
 * release_peers(), so that the machine can be idle for tick_align(). */
static void wait_go(void)
{
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		futex(&go, FUTEX_WAIT, 0);
}

static void release_peers(void)
{
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	futex(&go, FUTEX_WAKE, INT32_MAX);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	pin(p->cpu);
	register_thread();
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	p->fn(p);
	unregister_thread();
	return NULL;
}

static void start_peer(struct peer *p)
{
	int ret = pthread_create(&p->thread, NULL, peer_main, p);

	if (ret) {
		printf("bench: FAIL pthread_create: %s\n", strerror(ret));
		exit(1);
	}
}

/* Waits until `n` peers are registered and ready, yielding the CPU (the
 * peers may share it). */
static void wait_ready(int n)
{
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < n)
		sched_yield();
}

static void reset_flags(void)
{
	go = 0;
	stop = 0;
	ready = 0;
}

/* ---- 1-CPU yield ping-pong ---- */

/* The thread that ran last: a yield "switched" when the other thread ran
 * in between (both are on one CPU, so that is exactly a context switch to
 * it and back). */
static volatile int last_runner;
static uint64_t switched[2];

static void yield_loop(int me)
{
	uint64_t n = 0;

	for (int i = 0; i < PINGPONG_1CPU_ITERS; i++) {
		sched_yield();
		if (last_runner != me)
			n++;
		last_runner = me;
	}
	switched[me] = n;
}

static void *pingpong_1cpu_peer(void *arg)
{
	(void)arg;
	wait_go();
	yield_loop(1);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void bench_pingpong_1cpu(void)
{
	struct peer p = { .cpu = 0, .fn = pingpong_1cpu_peer };
	char extra[64];
	uint64_t t0, t1;

	reset_flags();
	start_peer(&p);
	wait_ready(1);
	last_runner = 0;
	tick_align();
	t0 = now();
	release_peers();
	yield_loop(0);
	while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
		sched_yield();
	t1 = now();
	pthread_join(p.thread, NULL);
	snprintf(extra, sizeof(extra), "switched=%llu",
		 (unsigned long long)(switched[0] + switched[1]));
	print_line("pingpong_1cpu", PINGPONG_1CPU_ITERS, t1 - t0, 2ull * PINGPONG_1CPU_ITERS,
		   extra);
}

/* ---- 2-CPU futex ping-pong ---- */

static int seq;

/* Waits until `seq` is `want`; wakes the other side after setting it. */
static void seq_wait(int want)
{
	int v;

	while ((v = __atomic_load_n(&seq, __ATOMIC_ACQUIRE)) != want)
		futex(&seq, FUTEX_WAIT, v);
}

static void seq_set(int v)
{
	__atomic_store_n(&seq, v, __ATOMIC_RELEASE);
	futex(&seq, FUTEX_WAKE, 1);
}

static void *pingpong_2cpu_peer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PINGPONG_2CPU_ITERS; i++) {
		seq_wait(2 * i + 1);
		seq_set(2 * i + 2);
	}
	return NULL;
}

static void bench_pingpong_2cpu(void)
{
	struct peer p = { .cpu = 1, .fn = pingpong_2cpu_peer };
	uint64_t t0;

	reset_flags();
	seq = 0;
	start_peer(&p);
	wait_ready(1);
	tick_align();
	t0 = now();
	for (int i = 0; i < PINGPONG_2CPU_ITERS; i++) {
		seq_set(2 * i + 1);
		seq_wait(2 * i + 2);
	}
	print_line("pingpong_2cpu", PINGPONG_2CPU_ITERS, now() - t0, 2ull * PINGPONG_2CPU_ITERS,
		   "");
	pthread_join(p.thread, NULL);
}

/* ---- per-CPU increment against an atomic ---- */

struct percpu_slot {
	intptr_t count;
} __attribute__((aligned(128)));

static struct percpu_slot slots[CPU_SETSIZE];

static void bench_percpu_inc(void)
{
	uint64_t t0, total = 0;

	memset(slots, 0, sizeof(slots));
	tick_align();
	if (reg == REG_NONE) {
		/* No registration: the atomic add on the CPU's slot a program
		 * without rseq would do. */
		int cpu = sched_getcpu();

		t0 = now();
		for (uint64_t i = 0; i < PERCPU_INC_ITERS; i++)
			__atomic_add_fetch(&slots[cpu].count, 1, __ATOMIC_RELAXED);
		print_line("rseq_percpu_inc", PERCPU_INC_ITERS, now() - t0, PERCPU_INC_ITERS,
			   "kind=atomic");
	} else {
		/* param_test's percpu_inc: rseq_addv on cpu_id_start. */
		t0 = now();
		for (uint64_t i = 0; i < PERCPU_INC_ITERS; i++) {
			int ret;

			do {
				int cpu = rseq_cpu_start();

				ret = rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
						&slots[cpu].count, 1, cpu);
			} while (rseq_unlikely(ret));
		}
		print_line("rseq_percpu_inc", PERCPU_INC_ITERS, now() - t0, PERCPU_INC_ITERS,
			   "kind=rseq");
	}
	for (int i = 0; i < CPU_SETSIZE; i++)
		total += slots[i].count;
	if (total != PERCPU_INC_ITERS) {
		printf("bench: rseq_percpu_inc: FAIL sum %llu, expected %d\n",
		       (unsigned long long)total, PERCPU_INC_ITERS);
		failed = true;
	}
}

static void bench_atomic_inc(void)
{
	static uint64_t counter;
	uint64_t t0;

	tick_align();
	t0 = now();

	for (uint64_t i = 0; i < ATOMIC_INC_ITERS; i++)
		__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	print_line("atomic_inc", ATOMIC_INC_ITERS, now() - t0, ATOMIC_INC_ITERS, "");
}

/* ---- membarrier ---- */

static void *spinner(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		spin_hint();
	return NULL;
}

static void bench_membarrier(void)
{
	struct peer p[MEMBARRIER_SPINNERS];
	int ncpu = online_cpus();
	int n = ncpu - 1 < MEMBARRIER_SPINNERS ? ncpu - 1 : MEMBARRIER_SPINNERS;

	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0)) {
		printf("BENCH-SKIP name=membarrier_rseq why=REGISTER_PRIVATE_EXPEDITED_RSEQ:%s\n",
		       errno_name(errno));
		printf("BENCH-SKIP name=membarrier_rseq_cpu why=REGISTER_PRIVATE_EXPEDITED_RSEQ:%s\n",
		       errno_name(errno));
		return;
	}
	reset_flags();
	/* The spinners keep their CPUs busy from their start: align first. */
	tick_align();
	for (int i = 0; i < n; i++) {
		p[i] = (struct peer){ .cpu = i + 1, .fn = spinner };
		start_peer(&p[i]);
	}
	wait_ready(n);
	for (int flag = 0; flag < 2; flag++) {
		const char *name = flag ? "membarrier_rseq_cpu" : "membarrier_rseq";
		char extra[32];
		uint64_t t0 = now();
		long ret = 0;

		for (int i = 0; i < MEMBARRIER_ITERS && !ret; i++)
			ret = flag ? syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
					     MEMBARRIER_CMD_FLAG_CPU, 1)
				   : syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
					     0, 0);
		if (ret) {
			printf("BENCH-SKIP name=%s why=%s\n", name, errno_name(errno));
			continue;
		}
		snprintf(extra, sizeof(extra), "spinners=%d", n);
		print_line(name, MEMBARRIER_ITERS, now() - t0, MEMBARRIER_ITERS, extra);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < n; i++)
		pthread_join(p[i].thread, NULL);
}

/* ---- the time slice extension: two threads, one CPU, one lock ---- */

static int slice_lock_word;
static uint64_t slice_protected;

/* How one thread's extensions went, from what it can observe. */
struct slice_counts {
	uint64_t requests;	/* extension requests (one per attempt) */
	uint64_t granted;	/* request cleared by the kernel: a grant happened */
	uint64_t yielded;	/* rseq_slice_yield() returned 1: ended inside the grant */
	uint64_t waits;		/* attempts that found the lock held */
};

static struct slice_counts slice_counts[2];
static bool slice_ext_on;

static inline void delay(int spins)
{
	for (volatile int i = 0; i < spins; i++)
		;
}

/* Linux's code flow after a section run with a request: if the request is
 * still set no grant happened (clear it); else if granted, yield. */
static inline void slice_end(struct slice_counts *c)
{
	struct rseq_abi *rs = rseq_get_abi();

	if (__atomic_exchange_n(&rs->slice_ctrl.request, 0, __ATOMIC_RELAXED))
		return;
	c->granted++;
	if (RSEQ_READ_ONCE(rs->slice_ctrl.granted) && syscall(__NR_rseq_slice_yield) == 1)
		c->yielded++;
}

static void slice_loop(int me)
{
	struct slice_counts *c = &slice_counts[me];
	struct rseq_abi *rs = slice_ext_on ? rseq_get_abi() : NULL;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < SLICE_LOCK_ITERS; i++) {
		for (;;) {
			if (rs) {
				RSEQ_WRITE_ONCE(rs->slice_ctrl.request, 1);
				rseq_barrier();
				c->requests++;
			}
			if (!__atomic_exchange_n(&slice_lock_word, 1, __ATOMIC_ACQUIRE))
				break;
			if (rs)
				slice_end(c);
			c->waits++;
			/* The holder was preempted: nothing on this CPU frees the
			 * lock until it runs again. */
			while (__atomic_load_n(&slice_lock_word, __ATOMIC_RELAXED))
				spin_hint();
		}
		delay(SLICE_LOCK_CS_SPINS);
		slice_protected++;
		__atomic_store_n(&slice_lock_word, 0, __ATOMIC_RELEASE);
		if (rs)
			slice_end(c);
		delay(SLICE_LOCK_THINK_SPINS);
	}
}

static int slice_enable(bool on)
{
	if (prctl(PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_SET,
		  on ? PR_RSEQ_SLICE_EXT_ENABLE : 0, 0, 0))
		return -errno;
	return 0;
}

static void *slice_peer(void *arg)
{
	(void)arg;
	if (slice_ext_on && slice_enable(true)) {
		printf("bench: slice_lock_ext: FAIL the second thread cannot enable the extension\n");
		failed = true;
	}
	wait_go();
	slice_loop(1);
	if (slice_ext_on)
		slice_enable(false);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void bench_slice_lock(bool ext)
{
	const char *name = ext ? "slice_lock_ext" : "slice_lock_noext";
	struct peer p = { .cpu = 1, .fn = slice_peer };
	struct slice_counts t = { 0 };
	char extra[160];
	uint64_t t0, t1;

	if (ext) {
		int set = slice_enable(true);

		if (set) {
			long get = prctl(PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_GET, 0, 0,
					 0);
			int get_errno = errno;
			long y = syscall(__NR_rseq_slice_yield);
			int y_errno = errno;
			char gets[16], ys[16];

			snprintf(gets, sizeof(gets), "%ld", get);
			snprintf(ys, sizeof(ys), "%ld", y);
			printf("BENCH-SKIP name=%s why=prctl(79,SET)=%s,prctl(79,GET)=%s,"
			       "syscall(471)=%s\n",
			       name, errno_name(-set), get < 0 ? errno_name(get_errno) : gets,
			       y < 0 ? errno_name(y_errno) : ys);
			return;
		}
	}
	slice_ext_on = ext;
	reset_flags();
	slice_protected = 0;
	slice_lock_word = 0;
	/* Both threads on CPU 1: a holder preempted inside the section leaves
	 * the other spinning until its own slice ends. */
	pin(1);
	start_peer(&p);
	wait_ready(1);
	tick_align();
	t0 = now();
	release_peers();
	slice_loop(0);
	while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
		sched_yield();
	t1 = now();
	pthread_join(p.thread, NULL);
	if (ext)
		slice_enable(false);
	pin(0);
	for (int i = 0; i < 2; i++) {
		t.requests += slice_counts[i].requests;
		t.granted += slice_counts[i].granted;
		t.yielded += slice_counts[i].yielded;
		t.waits += slice_counts[i].waits;
	}
	if (ext)
		snprintf(extra, sizeof(extra),
			 "kind=ext waits=%llu requests=%llu granted=%llu yielded=%llu expired=%llu",
			 (unsigned long long)t.waits, (unsigned long long)t.requests,
			 (unsigned long long)t.granted, (unsigned long long)t.yielded,
			 (unsigned long long)(t.granted - t.yielded));
	else
		snprintf(extra, sizeof(extra), "kind=noext waits=%llu", (unsigned long long)t.waits);
	print_line(name, SLICE_LOCK_ITERS, t1 - t0, 2ull * SLICE_LOCK_ITERS, extra);
	if (slice_protected != 2ull * SLICE_LOCK_ITERS) {
		printf("bench: %s: FAIL %llu sections counted, expected %d\n", name,
		       (unsigned long long)slice_protected, 2 * SLICE_LOCK_ITERS);
		failed = true;
	}
}

/* ---- main ---- */

struct bench {
	const char *name;
	void (*run)(void);
};

static void run_getpid(void) { bench_syscall("getpid", SYS_getpid, GETPID_ITERS); }
static void run_gettid(void) { bench_syscall("gettid", SYS_gettid, GETPID_ITERS); }
static void run_sched_yield(void)
{
	bench_syscall("sched_yield", SYS_sched_yield, SCHED_YIELD_ITERS);
}
static void run_slice_noext(void) { bench_slice_lock(false); }
static void run_slice_ext(void) { bench_slice_lock(true); }

static const struct bench benches[] = {
	{ "getpid", run_getpid },
	{ "gettid", run_gettid },
	{ "sched_yield", run_sched_yield },
	{ "pingpong_1cpu", bench_pingpong_1cpu },
	{ "pingpong_2cpu", bench_pingpong_2cpu },
	{ "rseq_percpu_inc", bench_percpu_inc },
	{ "atomic_inc", bench_atomic_inc },
	{ "membarrier", bench_membarrier },
	{ "slice_lock_noext", run_slice_noext },
	{ "slice_lock_ext", run_slice_ext },
};

#define NBENCH (sizeof(benches) / sizeof(benches[0]))

static int finish(int status)
{
	fflush(stdout);
	/* Linux's init must not return: power the machine off instead. */
	if (getpid() == 1 && !getenv("RSEQ_OS")) {
		sync();
		reboot(RB_POWER_OFF);
	}
	return status;
}

static bool parse_reg(const char *s)
{
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, reg_names[i])) {
			reg = i;
			return true;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	extern __attribute__((weak)) unsigned int __rseq_size;
	const char *env = getenv("BENCH_RSEQ");
	int first = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && parse_reg(argv[1]))
		first = 2;
	else if (env && !parse_reg(env)) {
		printf("bench: BENCH_RSEQ=%s: expected none, v1 or v2\n", env);
		return finish(2);
	}
	for (int i = first; i < argc; i++) {
		bool known = false;

		for (size_t b = 0; b < NBENCH; b++)
			known |= !strcmp(argv[i], benches[b].name);
		if (!known) {
			printf("bench: unknown benchmark `%s`\n", argv[i]);
			return finish(2);
		}
	}
	if (&__rseq_size && __rseq_size) {
		printf("bench: FAIL glibc registered rseq (%u bytes): run with "
		       "GLIBC_TUNABLES=glibc.pthread.rseq=0\n", __rseq_size);
		return finish(1);
	}
	online_cpus();
	pin(0);
	register_thread();
	sleep(SETTLE_SECONDS);
	printf("bench: registration %s (%u bytes), %d CPUs, counter %llu Hz\n", reg_names[reg],
	       reg == REG_NONE ? 0 : (reg == REG_V1 ? 32 : rseq_size),
	       online_cpus(), (unsigned long long)freq());
	if (first >= argc) {
		for (size_t b = 0; b < NBENCH; b++)
			benches[b].run();
	}
	for (int i = first; i < argc; i++) {
		for (size_t b = 0; b < NBENCH; b++) {
			if (!strcmp(argv[i], benches[b].name))
				benches[b].run();
		}
	}
	printf("BENCH-DONE reg=%s rseq_len=%u\n", reg_names[reg],
	       reg == REG_NONE ? 0 : (reg == REG_V1 ? 32 : rseq_size));
	return finish(failed ? 1 : 0);
}
