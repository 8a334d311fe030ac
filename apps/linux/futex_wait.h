/* What the futex test programs of this folder share: the raw futex call
 * (glibc has no wrapper), a millisecond sleep, and a way to know that a
 * thread is blocked in the kernel on a word before acting on it. */
#ifndef FUTEX_WAIT_H
#define FUTEX_WAIT_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long futex(uint32_t *w, int op, uint32_t val, const struct timespec *t,
			 uint32_t *w2, uint32_t val3)
{
	return syscall(SYS_futex, w, op, val, t, w2, val3);
}

static inline void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

/* Whether a thread waits in the kernel on `w`: a requeue of one waiter
 * onto the same word counts it without waking it (the timeout argument
 * is the requeue limit, 1). Polls up to 5 s. */
static inline int wait_queued(uint32_t *w)
{
	for (int i = 0; i < 5000; i++) {
		if (futex(w, FUTEX_CMP_REQUEUE, 0, (const struct timespec *)1, w,
			  __atomic_load_n(w, __ATOMIC_SEQ_CST)) == 1)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

#endif
