/* poll as a sleep (how Linux's rseq selftests inject delays), the console
 * fds' readiness, and ppoll's signal mask: in force while it waits, the
 * caller's back once the handler has run. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

static volatile int handled;
static pthread_t main_thread;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void *sender(void *arg)
{
	struct timespec t = { 0, 20 * 1000 * 1000 };
	(void)arg;
	nanosleep(&t, NULL);
	pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

static long ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

int main(void)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int slept = poll(NULL, 0, 30);
	long ms = ms_since(&start);
	printf("poll: sleep = %d after %s30 ms\n", slept, ms >= 30 ? ">= " : "< ");

	struct pollfd fds[3] = { { 1, POLLOUT, 0 }, { 42, POLLIN, 0 }, { -1, POLLIN, 0 } };
	int ready = poll(fds, 3, 0);
	printf("poll: %d ready, revents %#x %#x %#x\n", ready, fds[0].revents, fds[1].revents,
	       fds[2].revents);

	sigset_t usr1, wait_mask, now;
	signal(SIGUSR1, on_usr1);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	main_thread = pthread_self();
	pthread_t t;
	pthread_create(&t, NULL, sender, NULL);
	sigemptyset(&wait_mask);
	struct timespec tmo = { 5, 0 };
	errno = 0;
	int r = ppoll(NULL, 0, &tmo, &wait_mask);
	int e = errno;
	sigprocmask(SIG_BLOCK, NULL, &now);
	pthread_join(t, NULL);
	printf("ppoll: %d (%s), handler ran %d, SIGUSR1 blocked again %d\n", r,
	       e == EINTR ? "EINTR" : "not EINTR", handled, sigismember(&now, SIGUSR1));
	return slept == 0 && ms >= 30 && ready == 2 && fds[0].revents == POLLOUT &&
			       fds[1].revents == POLLNVAL && fds[2].revents == 0 && r == -1 && e == EINTR &&
			       handled == 1 && sigismember(&now, SIGUSR1) == 1
		       ? 0
		       : 1;
}
