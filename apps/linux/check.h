/* The checks the test programs of this folder count. Define CHECK_NAME
 * (the program's name, the prefix of its lines) before including: expect()
 * compares one value with the wanted one and prints a FAIL line naming it,
 * check_summary() prints "NAME: N checks, M failed" and gives the exit
 * status. The scenarios parse both lines. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>

static int checks, failed;

/* A failed check shows both values in decimal and hexadecimal: futex
 * words read best in hex, results and errnos in decimal. */
static inline void expect(const char *what, long got, long want)
{
	checks++;
	if (got != want) {
		failed++;
		printf(CHECK_NAME ": FAIL %s: got %ld (%#lx), want %ld (%#lx)\n", what, got,
		       (unsigned long)got, want, (unsigned long)want);
	}
}

static inline int check_summary(void)
{
	printf(CHECK_NAME ": %d checks, %d failed\n", checks, failed);
	return failed ? 1 : 0;
}

#endif
