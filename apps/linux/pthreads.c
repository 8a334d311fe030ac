/* pthread create/join, a mutex and a condition variable on 4 CPUs: each
 * thread adds to a shared counter under the mutex, then all meet at a
 * condvar barrier; the sum must be exact. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 8
#define ROUNDS 100000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static long counter;
static int finished;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	if (++finished == THREADS)
		pthread_cond_broadcast(&all_done);
	while (finished < THREADS)
		pthread_cond_wait(&all_done, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
			printf("pthreads: create %d failed\n", i);
			return 1;
		}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("pthreads: %ld of %ld increments\n", counter, (long)THREADS * ROUNDS);
	return counter == (long)THREADS * ROUNDS ? 0 : 1;
}
