/* Robust futexes: a thread that exits holding a robust pthread mutex
 * leaves it FUTEX_OWNER_DIED, and the next locker (one already waiting in
 * the kernel, or a later one) gets EOWNERDEAD; then robust lists built by
 * hand check the kernel's walk exactly as Linux's exit_robust_list does
 * it: words of other owners untouched, FUTEX_WAITERS kept and a waiter
 * woken, list_op_pending handled, the 2048-entry limit, a circular list,
 * and a fault that stops the walk. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHECK_NAME "robust"
#include "check.h"
#include "futex_wait.h"

/* ---- glibc's robust mutexes -------------------------------------------- */

static pthread_mutex_t m;
static volatile int holding;

static uint32_t *lock_word(void)
{
	return (uint32_t *)&m; /* __data.__lock is the first field */
}

static void *die_holding(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m);
	return NULL;
}

static void *die_holding_with_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m);
	holding = 1;
	/* Exit only once the main thread waits in the kernel. */
	for (int i = 0; i < 5000 && !(__atomic_load_n(lock_word(), __ATOMIC_SEQ_CST) & FUTEX_WAITERS);
	     i++)
		sleep_ms(1);
	sleep_ms(20);
	return NULL;
}

static void pthread_robust(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m, &a);

	pthread_t t;
	pthread_create(&t, NULL, die_holding, NULL);
	pthread_join(t, NULL);
	uint32_t word = *lock_word();
	int r = pthread_mutex_lock(&m);
	int c = pthread_mutex_consistent(&m);
	int u = pthread_mutex_unlock(&m);
	int again = pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	printf("robust: owner exited: word %#x, lock %s, consistent %d, unlock %d, relock %d\n", word,
	       r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r), c, u, again);
	expect("dead owner's word", word, FUTEX_OWNER_DIED);
	expect("lock after owner died", r, EOWNERDEAD);
	expect("consistent", c, 0);
	expect("relock", again, 0);

	/* The next locker already waits in the kernel when the owner dies. */
	holding = 0;
	pthread_create(&t, NULL, die_holding_with_waiter, NULL);
	while (!holding)
		sleep_ms(1);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	r = pthread_mutex_timedlock(&m, &until);
	word = *lock_word();
	pthread_join(t, NULL);
	c = pthread_mutex_consistent(&m);
	pthread_mutex_unlock(&m);
	printf("robust: waiter woken: lock %s, consistent %d\n",
	       r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r), c);
	expect("waiter's lock", r, EOWNERDEAD);
	expect("waiter holds it", word & FUTEX_TID_MASK, syscall(SYS_gettid));
	expect("waiter's consistent", c, 0);
}

/* ---- robust lists built by hand ---------------------------------------- */

struct entry {
	struct entry *next;
	uint32_t word; /* futex_offset 8 */
};

static struct robust_list_head head;
static struct entry e[4], pending, extra;
static struct entry *many;
static uint32_t waited;

/* Links `n` entries after `head` and makes it the calling thread's list,
 * with `op` as list_op_pending. */
static void use_list(struct entry *const *list, int n, struct entry *op)
{
	head.list.next = n ? (struct robust_list *)list[0] : &head.list;
	for (int i = 0; i < n; i++)
		list[i]->next = i + 1 < n ? list[i + 1] : (struct entry *)&head;
	head.futex_offset = offsetof(struct entry, word);
	head.list_op_pending = (struct robust_list *)op;
	syscall(SYS_set_robust_list, &head, sizeof(head));
}

static uint32_t tid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

/* Four entries: mine, another owner's, mine with a waiter, mine already
 * marked dead; a pending one of mine off the list. */
static void *raw_list(void *arg)
{
	(void)arg;
	uint32_t me = tid();
	e[0].word = me;
	e[1].word = 12345;
	e[2].word = me | FUTEX_WAITERS;
	e[3].word = me | FUTEX_OWNER_DIED;
	pending.word = me;
	struct entry *list[] = { &e[0], &e[1], &e[2], &e[3] };
	use_list(list, 4, &pending);
	__atomic_store_n(&waited, 1, __ATOMIC_SEQ_CST);
	wait_queued(&e[2].word);
	return NULL;
}

/* An empty list and a pending entry whose word has no owner: a waiter on
 * it is woken, the word left alone. */
static void *pending_released(void *arg)
{
	(void)arg;
	pending.word = 0;
	use_list(NULL, 0, &pending);
	__atomic_store_n(&waited, 1, __ATOMIC_SEQ_CST);
	wait_queued(&pending.word);
	return NULL;
}

#define MANY 2100

/* 2100 entries of mine: the walk stops after 2048, then the pending one. */
static void *long_list(void *arg)
{
	(void)arg;
	uint32_t me = tid();
	static struct entry *list[MANY];
	for (int i = 0; i < MANY; i++) {
		many[i].word = me;
		list[i] = &many[i];
	}
	extra.word = me;
	use_list(list, MANY, &extra);
	return NULL;
}

/* One entry pointing at itself: the walk ends at the limit. */
static void *circular(void *arg)
{
	(void)arg;
	uint32_t me = tid();
	e[0].word = me;
	struct entry *list[] = { &e[0] };
	use_list(list, 1, &pending);
	e[0].next = &e[0];
	pending.word = me;
	return NULL;
}

/* Two entries, the second's next pointing at unmapped memory: both are
 * handled, then the walk stops and the pending one is left. */
static void *faulting(void *arg)
{
	(void)arg;
	uint32_t me = tid();
	e[0].word = me;
	e[1].word = me;
	pending.word = me;
	struct entry *list[] = { &e[0], &e[1] };
	use_list(list, 2, &pending);
	e[1].next = (struct entry *)16;
	return NULL;
}

/* The first entry's word on a read-only page: the kernel cannot mark it,
 * so the walk stops there. */
static struct entry *ro;
static void *read_only(void *arg)
{
	(void)arg;
	uint32_t me = tid();
	ro->word = me;
	e[1].word = me;
	pending.word = me;
	struct entry *list[] = { ro, &e[1] };
	use_list(list, 2, &pending);
	mprotect(ro, 4096, PROT_READ);
	return NULL;
}

static void run(void *(*fn)(void *))
{
	pthread_t t;
	pthread_create(&t, NULL, fn, NULL);
	pthread_join(t, NULL);
}

static void raw_lists(void)
{
	pthread_t t;
	waited = 0;
	pthread_create(&t, NULL, raw_list, NULL);
	while (!__atomic_load_n(&waited, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	struct timespec ten = { 10, 0 };
	long w = futex(&e[2].word, FUTEX_WAIT, e[2].word, &ten, NULL, 0);
	pthread_join(t, NULL);
	printf("robust: list: %#x %#x %#x %#x, pending %#x, waiter %ld\n", e[0].word, e[1].word,
	       e[2].word, e[3].word, pending.word, w);
	expect("mine", e[0].word, FUTEX_OWNER_DIED);
	expect("another owner's", e[1].word, 12345);
	expect("mine with waiters", e[2].word, FUTEX_OWNER_DIED | FUTEX_WAITERS);
	expect("mine already dead", e[3].word, FUTEX_OWNER_DIED);
	expect("pending", pending.word, FUTEX_OWNER_DIED);
	expect("waiter woken", w, 0);

	waited = 0;
	pthread_create(&t, NULL, pending_released, NULL);
	while (!__atomic_load_n(&waited, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	w = futex(&pending.word, FUTEX_WAIT, 0, &ten, NULL, 0);
	pthread_join(t, NULL);
	printf("robust: released pending: word %#x, waiter %ld\n", pending.word, w);
	expect("released pending word", pending.word, 0);
	expect("released pending waiter", w, 0);

	many = calloc(MANY, sizeof(*many));
	run(long_list);
	int dead = 0, left = 0;
	for (int i = 0; i < MANY; i++) {
		dead += many[i].word == FUTEX_OWNER_DIED;
		left += many[i].word != FUTEX_OWNER_DIED && (many[i].word & FUTEX_TID_MASK) != 0;
	}
	printf("robust: %d-entry list: %d marked, %d left, pending %#x\n", MANY, dead, left,
	       extra.word);
	expect("marked up to the limit", dead, 2048);
	expect("left past the limit", left, MANY - 2048);
	expect("pending after the limit", extra.word, FUTEX_OWNER_DIED);
	expect("first 2048 marked", many[2047].word, FUTEX_OWNER_DIED);
	expect("2049th left", many[2048].word & FUTEX_OWNER_DIED, 0);

	run(circular);
	printf("robust: circular list: %#x, pending %#x\n", e[0].word, pending.word);
	expect("circular entry", e[0].word, FUTEX_OWNER_DIED);
	expect("circular pending", pending.word, FUTEX_OWNER_DIED);

	run(faulting);
	printf("robust: faulting list: %#x %#x, pending %s\n", e[0].word, e[1].word,
	       pending.word & FUTEX_OWNER_DIED ? "marked" : "left");
	expect("before the fault 0", e[0].word, FUTEX_OWNER_DIED);
	expect("before the fault 1", e[1].word, FUTEX_OWNER_DIED);
	expect("pending after a fault", pending.word & FUTEX_OWNER_DIED, 0);

	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	run(read_only);
	printf("robust: read-only word: %s, next %s, pending %s\n",
	       ro->word & FUTEX_OWNER_DIED ? "marked" : "left",
	       e[1].word & FUTEX_OWNER_DIED ? "marked" : "left",
	       pending.word & FUTEX_OWNER_DIED ? "marked" : "left");
	expect("read-only word", ro->word & FUTEX_OWNER_DIED, 0);
	expect("after the read-only word", e[1].word & FUTEX_OWNER_DIED, 0);
	expect("pending after the read-only word", pending.word & FUTEX_OWNER_DIED, 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_robust();
	raw_lists();
	return check_summary();
}
