/* Syscall restart after a signal, Linux's rules on arm64: a futex wait
 * without timeout restarts after an SA_RESTART handler and fails with
 * EINTR after one without; a wait with a timeout, nanosleep, an absolute
 * clock_nanosleep and ppoll fail with EINTR after any handler; an
 * ignored signal never interrupts; a sleep interrupted with no handler
 * run restarts (ppoll with its time left, nanosleep through
 * restart_syscall, whose number is then left in x8). The signals come
 * from another thread with tgkill. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHECK_NAME "restart"
#include "check.h"
#include "futex_wait.h"

static volatile int handled;
static pid_t main_tid;
static uint32_t word;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

static void handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void kick(int sig)
{
	syscall(SYS_tgkill, getpid(), main_tid, sig);
}

/* What the helper thread does for a case. */
enum plan {
	SIGNAL_QUEUED,		/* signal the waiter once it is queued */
	SIGNAL_QUEUED_WAKE,	/* and once the handler ran, wake it until it is woken */
	IGNORED_QUEUED_WAKE,	/* send ignored signals, check it still waits, wake it */
	SIGNAL_LATER,		/* signal after 50 ms */
	IGNORED_LATER,		/* send an ignored signal after 20 ms */
};

static enum plan plan;
static long woken, still_queued;

static void *helper(void *arg)
{
	(void)arg;
	switch (plan) {
	case SIGNAL_QUEUED:
	case SIGNAL_QUEUED_WAKE:
		wait_queued(&word);
		kick(SIGUSR1);
		if (plan == SIGNAL_QUEUED)
			break;
		for (int i = 0; i < 5000 && !handled; i++)
			sleep_ms(1);
		for (int i = 0; i < 5000 && woken == 0; i++) {
			woken = futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0);
			if (woken == 0)
				sleep_ms(1);
		}
		break;
	case IGNORED_QUEUED_WAKE:
		wait_queued(&word);
		kick(SIGUSR2);
		kick(SIGWINCH);
		sleep_ms(20);
		still_queued = wait_queued(&word);
		woken = futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0);
		break;
	case SIGNAL_LATER:
		sleep_ms(50);
		kick(SIGUSR1);
		break;
	case IGNORED_LATER:
		sleep_ms(20);
		kick(SIGUSR2);
		break;
	}
	return NULL;
}

static pthread_t helper_thread;

static void start(enum plan p)
{
	plan = p;
	handled = 0;
	woken = 0;
	still_queued = 0;
	word = 0;
	pthread_create(&helper_thread, NULL, helper, NULL);
}

static void finish(void)
{
	pthread_join(helper_thread, NULL);
}

/* The result of a raw syscall: -errno or the value. */
static long raw(long r)
{
	return r == -1 ? -errno : r;
}

static void futex_cases(void)
{
	handle(SIGUSR1, on_signal, SA_RESTART);
	start(SIGNAL_QUEUED_WAKE);
	long r = raw(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0));
	finish();
	printf("restart: futex wait, SA_RESTART handler: %ld, handler ran %d, woken %ld\n", r,
	       handled, woken);
	expect("futex SA_RESTART result", r, 0);
	expect("futex SA_RESTART handler", handled, 1);
	expect("futex SA_RESTART woken", woken, 1);

	handle(SIGUSR1, on_signal, 0);
	start(SIGNAL_QUEUED);
	r = raw(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0));
	finish();
	printf("restart: futex wait, handler without SA_RESTART: %s, handler ran %d\n",
	       r == -EINTR ? "EINTR" : strerror((int)-r), handled);
	expect("futex no SA_RESTART result", r, -EINTR);
	expect("futex no SA_RESTART handler", handled, 1);

	handle(SIGUSR2, SIG_IGN, 0);
	signal(SIGWINCH, SIG_DFL);
	start(IGNORED_QUEUED_WAKE);
	r = raw(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0));
	finish();
	printf("restart: futex wait, ignored SIGUSR2 and SIGWINCH: %ld, still waiting %ld, woken %ld\n",
	       r, still_queued, woken);
	expect("futex ignored result", r, 0);
	expect("futex ignored still queued", still_queued, 1);
	expect("futex ignored woken", woken, 1);

	handle(SIGUSR1, on_signal, SA_RESTART);
	start(SIGNAL_QUEUED);
	struct timespec ten = { 10, 0 };
	r = raw(futex(&word, FUTEX_WAIT, 0, &ten, NULL, 0));
	finish();
	printf("restart: futex wait with timeout, SA_RESTART handler: %s, handler ran %d\n",
	       r == -EINTR ? "EINTR" : strerror((int)-r), handled);
	expect("futex timeout result", r, -EINTR);
	expect("futex timeout handler", handled, 1);
}

static void sleep_cases(void)
{
	handle(SIGUSR1, on_signal, SA_RESTART);
	/* The signal must come while the thread sleeps: one that comes
	 * before (a slow start) lets the sleep run its course; try again. */
	long r = 0;
	struct timespec req = { 2, 0 }, rem = { 0, 0 };
	for (int tries = 0; tries < 5 && r == 0; tries++) {
		start(SIGNAL_LATER);
		r = raw(syscall(SYS_nanosleep, &req, &rem));
		finish();
	}
	int rem_ok = rem.tv_sec < 2 && (rem.tv_sec > 0 || rem.tv_nsec > 0);
	printf("restart: nanosleep, SA_RESTART handler: %s, handler ran %d, time left in (0, 2 s) %d\n",
	       r == -EINTR ? "EINTR" : strerror((int)-r), handled, rem_ok);
	expect("nanosleep result", r, -EINTR);
	expect("nanosleep handler", handled, 1);
	expect("nanosleep rem", rem_ok, 1);

	r = 0;
	for (int tries = 0; tries < 5 && r == 0; tries++) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 2;
		start(SIGNAL_LATER);
		r = raw(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
		finish();
	}
	printf("restart: clock_nanosleep TIMER_ABSTIME, SA_RESTART handler: %s, handler ran %d\n",
	       r == -EINTR ? "EINTR" : strerror((int)-r), handled);
	expect("abstime result", r, -EINTR);
	expect("abstime handler", handled, 1);

	/* ppoll: SIGUSR1 blocked but for ppoll's own mask, so it can only
	 * come during the call. */
	sigset_t usr1, none, now;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	start(SIGNAL_LATER);
	struct timespec tmo = { 5, 0 };
	r = raw(syscall(SYS_ppoll, NULL, 0, &tmo, &none, 8));
	finish();
	int left_ok = tmo.tv_sec < 5 && (tmo.tv_sec > 0 || tmo.tv_nsec > 0);
	printf("restart: ppoll, SA_RESTART handler: %s, handler ran %d, time left in (0, 5 s) %d\n",
	       r == -EINTR ? "EINTR" : strerror((int)-r), handled, left_ok);
	expect("ppoll result", r, -EINTR);
	expect("ppoll handler", handled, 1);
	expect("ppoll time left", left_ok, 1);

	/* An ignored signal pending while blocked, unblocked by ppoll's mask:
	 * it ends the first wait, no handler runs, ppoll restarts with the
	 * time left and sleeps it out. */
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	handle(SIGUSR2, SIG_IGN, 0);
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	kick(SIGUSR2);
	sigset_t pending;
	sigpending(&pending);
	int was_pending = sigismember(&pending, SIGUSR2);
	tmo = (struct timespec){ 0, 50 * 1000000 };
	long long t0 = now_ns();
	r = raw(syscall(SYS_ppoll, NULL, 0, &tmo, &none, 8));
	long long took = now_ns() - t0;
	sigpending(&pending);
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("restart: ppoll, ignored signal pending: %ld after %s50 ms, was pending %d, "
	       "now pending %d, blocked again %d\n",
	       r, took >= 50000000 ? ">= " : "< ", was_pending, sigismember(&pending, SIGUSR2),
	       sigismember(&now, SIGUSR2));
	expect("ppoll ignored result", r, 0);
	expect("ppoll ignored slept", took >= 50000000, 1);
	expect("ppoll ignored was pending", was_pending, 1);
	expect("ppoll ignored consumed", sigismember(&pending, SIGUSR2), 0);
	expect("ppoll ignored mask back", sigismember(&now, SIGUSR2), 1);
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	sigprocmask(SIG_UNBLOCK, &usr2, NULL);

	/* An ignored signal is dropped: the sleep does not notice. */
	start(IGNORED_LATER);
	req = (struct timespec){ 0, 100 * 1000000 };
	t0 = now_ns();
	r = raw(syscall(SYS_nanosleep, &req, NULL));
	took = now_ns() - t0;
	finish();
	printf("restart: nanosleep, ignored signal: %ld after %s100 ms\n", r,
	       took >= 100000000 ? ">= " : "< ");
	expect("nanosleep ignored result", r, 0);
	expect("nanosleep ignored slept", took >= 100000000, 1);
}

/* ---- restart_syscall ---------------------------------------------------- */

static volatile int ignore_now;

/* Sends SIGUSR1 to the sleeper, then at once makes it ignored: when the
 * sleeper's CPU gets to the signal after the change, no handler runs and
 * the sleep continues through restart_syscall. */
static void *race_helper(void *arg)
{
	(void)arg;
	cpu_set_t cpu;
	CPU_ZERO(&cpu);
	CPU_SET(2, &cpu);
	sched_setaffinity(0, sizeof(cpu), &cpu);
	sleep_ms(50);
	kick(SIGUSR1);
	signal(SIGUSR1, SIG_IGN);
	return NULL;
}

/* nanosleep with the number in x8 read back after the call. */
static long nanosleep_x8(const struct timespec *req, struct timespec *rem, long *x8_after)
{
	register long x0 __asm__("x0") = (long)req;
	register long x1 __asm__("x1") = (long)rem;
	register long x8 __asm__("x8") = SYS_nanosleep;
	__asm__ volatile("svc #0" : "+r"(x0), "+r"(x8) : "r"(x1) : "memory");
	*x8_after = x8;
	return x0;
}

static void restart_block_cases(void)
{
	cpu_set_t cpu;
	CPU_ZERO(&cpu);
	CPU_SET(1, &cpu);
	sched_setaffinity(0, sizeof(cpu), &cpu);
	int restarted = 0, interrupted = 0, wrong = 0;
	long x8 = 0;
	for (int tries = 0; tries < 20 && !restarted; tries++) {
		handle(SIGUSR1, on_signal, SA_RESTART);
		handled = 0;
		pthread_t t;
		pthread_create(&t, NULL, race_helper, NULL);
		struct timespec req = { 0, 200 * 1000000 }, rem = { 0, 0 };
		long long t0 = now_ns();
		long r = nanosleep_x8(&req, &rem, &x8);
		long long took = now_ns() - t0;
		pthread_join(t, NULL);
		if (handled) {
			/* The handler won the race: EINTR with the time left. */
			interrupted++;
			wrong += r != -EINTR || x8 != SYS_nanosleep;
		} else {
			restarted++;
			wrong += r != 0 || took < 200000000 || x8 != SYS_restart_syscall;
		}
	}
	printf("restart: nanosleep, signal then ignored: restarted through restart_syscall %s "
	       "(x8 %ld), %d wrong results\n",
	       restarted ? "yes" : "no", restarted ? x8 : -1L, wrong);
	expect("restart_syscall seen", restarted > 0, 1);
	expect("restart_syscall results", wrong, 0);
	(void)interrupted;

	/* After a sleep that ran its course there is nothing to restart. */
	struct timespec tiny = { 0, 1 };
	nanosleep(&tiny, NULL);
	long r = raw(syscall(SYS_restart_syscall));
	printf("restart: restart_syscall with nothing to restart: %s\n",
	       r == -EINTR ? "EINTR" : strerror((int)-r));
	expect("restart_syscall alone", r, -EINTR);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	main_tid = (pid_t)syscall(SYS_gettid);
	futex_cases();
	sleep_cases();
	restart_block_cases();
	return check_summary();
}
