/* The file descriptor table: dup, dup3, fcntl, close, the fd checks of
 * the other fd calls, and RLIMIT_NOFILE, each result and errno compared
 * with Linux's. Prints a line per group and the number of failed checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#define CHECK_NAME "fds"
#include "check.h"

/* One call: its result and errno against the expected ones (want_errno
 * only matters when want is -1). */
static void report(const char *what, long r, int e, long want, int want_errno)
{
	checks++;
	if (r != want || (want == -1 && e != want_errno)) {
		failed++;
		printf("fds: FAIL %s: got %ld (errno %d), want %ld (errno %d)\n", what, r, e, want,
		       want_errno);
	}
}

#define CHECK(what, call, want, want_errno)                          \
	do {                                                         \
		errno = 0;                                           \
		long r_ = (long)(call);                              \
		report(what, r_, errno, (long)(want), (want_errno)); \
	} while (0)

static long dup3_(int oldfd, int newfd, int flags)
{
	return syscall(SYS_dup3, oldfd, newfd, flags);
}

static long say(int fd, const char *s)
{
	return write(fd, s, strlen(s));
}

static int nofile(rlim_t cur, rlim_t max)
{
	struct rlimit r = { cur, max };
	return setrlimit(RLIMIT_NOFILE, &r);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct rlimit stack, files;
	getrlimit(RLIMIT_STACK, &stack);
	getrlimit(RLIMIT_NOFILE, &files);
	printf("fds: RLIMIT_STACK %llu/%s, RLIMIT_NOFILE %llu/%llu\n",
	       (unsigned long long)stack.rlim_cur, stack.rlim_max == RLIM_INFINITY ? "unlimited" : "?",
	       (unsigned long long)files.rlim_cur, (unsigned long long)files.rlim_max);

	/* The fds a program starts with. */
	CHECK("F_GETFL 0", fcntl(0, F_GETFL), O_RDONLY, 0);
	CHECK("F_GETFL 1", fcntl(1, F_GETFL), O_WRONLY, 0);
	CHECK("F_GETFL 2", fcntl(2, F_GETFL), O_WRONLY, 0);
	CHECK("F_GETFD 1", fcntl(1, F_GETFD), 0, 0);
	CHECK("F_GETFD closed", fcntl(3, F_GETFD), -1, EBADF);
	CHECK("F_GETFL closed", fcntl(-1, F_GETFL), -1, EBADF);

	/* dup and dup3. */
	CHECK("dup 1", dup(1), 3, 0);
	CHECK("write 3", say(3, "fds: written through fd 3\n"), 26, 0);
	CHECK("F_GETFD dup", fcntl(3, F_GETFD), 0, 0);
	CHECK("dup3 cloexec", dup3_(1, 10, O_CLOEXEC), 10, 0);
	CHECK("F_GETFD 10", fcntl(10, F_GETFD), FD_CLOEXEC, 0);
	CHECK("F_SETFD 10", fcntl(10, F_SETFD, 0), 0, 0);
	CHECK("F_GETFD 10 cleared", fcntl(10, F_GETFD), 0, 0);
	CHECK("FIOCLEX", ioctl(10, FIOCLEX), 0, 0);
	CHECK("F_GETFD FIOCLEX", fcntl(10, F_GETFD), FD_CLOEXEC, 0);
	CHECK("FIONCLEX", ioctl(10, FIONCLEX), 0, 0);
	CHECK("F_GETFD FIONCLEX", fcntl(10, F_GETFD), 0, 0);
	CHECK("dup3 same fd", dup3_(1, 1, 0), -1, EINVAL);
	CHECK("dup3 same closed fd", dup3_(50, 50, 0), -1, EINVAL);
	CHECK("dup3 flags", dup3_(1, 5, O_NONBLOCK), -1, EINVAL);
	CHECK("dup3 closed", dup3_(77, 5, 0), -1, EBADF);
	CHECK("dup3 past limit", dup3_(1, 1024, 0), -1, EBADF);
	CHECK("dup3 past limit, closed old", dup3_(77, 1 << 30, 0), -1, EBADF);
	CHECK("dup closed", dup(42), -1, EBADF);
	CHECK("dup2 same", dup2(1, 1), 1, 0);
	CHECK("dup2 same closed", dup2(42, 42), -1, EBADF);
	printf("fds: dup 3, dup3 10, errors EINVAL EINVAL EBADF EBADF\n");

	/* fcntl. */
	CHECK("F_DUPFD 3", fcntl(1, F_DUPFD, 3), 4, 0);
	CHECK("F_DUPFD_CLOEXEC 100", fcntl(1, F_DUPFD_CLOEXEC, 100), 100, 0);
	CHECK("F_GETFD 100", fcntl(100, F_GETFD), FD_CLOEXEC, 0);
	CHECK("F_DUPFD at limit", fcntl(1, F_DUPFD, 1024), -1, EINVAL);
	CHECK("F_DUPFD negative", fcntl(1, F_DUPFD, -1), -1, EINVAL);
	CHECK("fcntl unknown", fcntl(1, 9999, 0), -1, EINVAL);
	CHECK("fcntl closed", fcntl(50, F_GETFL), -1, EBADF);
	CHECK("F_SETFL", fcntl(3, F_SETFL, O_APPEND | O_NONBLOCK | O_RDWR), 0, 0);
	CHECK("F_GETFL shared", fcntl(1, F_GETFL), O_WRONLY | O_APPEND | O_NONBLOCK, 0);
	CHECK("F_GETFL other", fcntl(2, F_GETFL), O_WRONLY, 0);
	CHECK("F_SETFL O_DIRECT", fcntl(1, F_SETFL, O_DIRECT), -1, EINVAL);
	CHECK("F_SETFL clear", fcntl(1, F_SETFL, 0), 0, 0);
	CHECK("F_GETFL cleared", fcntl(3, F_GETFL), O_WRONLY, 0);
	int on = 1;
	CHECK("FIONBIO", ioctl(2, FIONBIO, &on), 0, 0);
	CHECK("F_GETFL FIONBIO", fcntl(2, F_GETFL), O_WRONLY | O_NONBLOCK, 0);
	on = 0;
	CHECK("FIONBIO off", ioctl(2, FIONBIO, &on), 0, 0);
	CHECK("FIONBIO fault", ioctl(2, FIONBIO, (int *)16), -1, EFAULT);
	CHECK("TCGETS", ioctl(2, TCGETS, &(struct termios){ 0 }), -1, ENOTTY);
	printf("fds: F_DUPFD 4, F_DUPFD_CLOEXEC 100, F_SETFL shared by dup'd fds\n");

	/* close, and every fd call on the closed fd. */
	struct stat st;
	struct pollfd pfd = { 2, POLLOUT, 0 };
	struct iovec iov = { "x", 1 };
	char c;
	CHECK("close 2", close(2), 0, 0);
	CHECK("write closed", write(2, "x", 1), -1, EBADF);
	CHECK("writev closed", writev(2, &iov, 1), -1, EBADF);
	CHECK("read closed", read(2, &c, 1), -1, EBADF);
	CHECK("readv closed", readv(2, &iov, 1), -1, EBADF);
	CHECK("ioctl closed", ioctl(2, TCGETS, &(struct termios){ 0 }), -1, EBADF);
	CHECK("fstat closed", fstat(2, &st), -1, EBADF);
	CHECK("newfstatat closed", fstatat(2, "", &st, AT_EMPTY_PATH), -1, EBADF);
	CHECK("ppoll closed", poll(&pfd, 1, 0), 1, 0);
	CHECK("ppoll POLLNVAL", pfd.revents, POLLNVAL, 0);
	CHECK("close closed", close(2), -1, EBADF);
	CHECK("close never open", close(1000), -1, EBADF);
	CHECK("read write-only", read(1, &c, 1), -1, EBADF);
	CHECK("write read-only", write(0, "x", 1), -1, EBADF);
	CHECK("dup into 2", dup(1), 2, 0);
	CHECK("fstat reopened", fstat(2, &st), 0, 0);
	CHECK("fstat is a chardev", S_ISCHR(st.st_mode), 1, 0);
	CHECK("write reopened", say(2, "fds: written through fd 2 after close and dup\n"), 46, 0);
	CHECK("close 0", close(0), 0, 0);
	CHECK("read closed 0", read(0, &c, 1), -1, EBADF);
	pfd.fd = 0;
	pfd.events = POLLIN;
	CHECK("ppoll closed 0", poll(&pfd, 1, 0), 1, 0);
	CHECK("ppoll closed 0 POLLNVAL", pfd.revents, POLLNVAL, 0);

	/* RLIMIT_NOFILE: open now are 1 2 3 4 10 100. */
	CHECK("lower limit", nofile(16, 4096), 0, 0);
	int n = 0, last = -1, fd;
	errno = 0;
	while ((fd = dup(1)) >= 0 && n < 100) {
		last = fd;
		n++;
	}
	int e = errno;
	report("EMFILE", fd, e, -1, EMFILE);
	printf("fds: %d dups under RLIMIT_NOFILE 16 (fd 0 first, last %d), then %s\n", n, last,
	       e == EMFILE ? "EMFILE" : strerror(e));
	CHECK("dups", n, 11, 0);
	CHECK("F_DUPFD at lowered limit", fcntl(1, F_DUPFD, 16), -1, EINVAL);
	CHECK("dup3 at lowered limit", dup3_(1, 16, 0), -1, EBADF);
	CHECK("fd above the limit still open", say(100, "fds: written through fd 100 above the limit\n"),
	      44, 0);
	struct pollfd many[17];
	for (int i = 0; i < 17; i++)
		many[i] = (struct pollfd){ -1, POLLIN, 0 };
	CHECK("ppoll nfds at limit", poll(many, 16, 0), 0, 0);
	CHECK("ppoll nfds past limit", poll(many, 17, 0), -1, EINVAL);
	CHECK("soft above hard", nofile(64, 32), -1, EINVAL);
	CHECK("hard above nr_open", nofile(64, (1 << 20) + 1), -1, EPERM);
	CHECK("raise hard (root)", nofile(64, 8192), 0, 0);
	for (fd = 0; fd < 16; fd++)
		if (fd != 1 && fd != 2 && fd != 3)
			close(fd);
	CHECK("lowest free after closes", dup(1), 0, 0);

	/* Past the table's first 64 slots. */
	CHECK("raise soft", nofile(2000, 8192), 0, 0);
	CHECK("dup3 1500", dup3_(1, 1500, 0), 1500, 0);
	CHECK("write 1500", say(1500, "fds: written through fd 1500\n"), 29, 0);
	CHECK("F_DUPFD 1000", fcntl(1, F_DUPFD, 1000), 1000, 0);
	CHECK("F_DUPFD 1000 again", fcntl(1, F_DUPFD, 1000), 1001, 0);
	CHECK("close 1500", close(1500), 0, 0);
	CHECK("write closed 1500", write(1500, "x", 1), -1, EBADF);
	getrlimit(RLIMIT_NOFILE, &files);
	printf("fds: RLIMIT_NOFILE now %llu/%llu\n", (unsigned long long)files.rlim_cur,
	       (unsigned long long)files.rlim_max);

	printf("fds: %d checks, %d failed\n", checks, failed);
	return failed == 0 && files.rlim_cur == 2000 && files.rlim_max == 8192 ? 0 : 1;
}
