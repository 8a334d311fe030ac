/* stdio, argv, the environment and the exit status of a static glibc program. */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("hello from a static Linux program: %s\n", argv[0]);
	for (int i = 1; i < argc; i++)
		printf("argv[%d] = %s\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		printf("env %s\n", *e);
	const char *status = getenv("HELLO_STATUS");
	return status ? atoi(status) : 0;
}
