/* Signal handlers: sigaction with SA_SIGINFO, raise, a blocked signal
 * delivered on unblock, and a SIGSEGV handler that jumps back out. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t usr1, usr2;
static sigjmp_buf out;

static void on_usr(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	if (sig == SIGUSR1 && info->si_signo == SIGUSR1)
		usr1++;
	if (sig == SIGUSR2)
		usr2++;
}

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(out, 1);
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_usr, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGSEGV, on_segv);

	raise(SIGUSR1);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR2);
	int pending = usr2;
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	static volatile int *volatile nowhere; /* NULL: page 0 is never mapped */
	volatile int faulted = 0;
	if (sigsetjmp(out, 1) == 0)
		*nowhere = 1;
	else
		faulted = 1;
	printf("signals: usr1=%d usr2=%d (while blocked %d) segv handled=%d\n",
	       (int)usr1, (int)usr2, pending, faulted);
	return usr1 == 1 && usr2 == 1 && pending == 0 && faulted ? 0 : 1;
}
