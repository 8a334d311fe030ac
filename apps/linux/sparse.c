/* A 512 MiB malloc (more than QEMU virt's RAM) touched one byte per page
 * over its first 64 MiB and at its last page: only touched pages need
 * memory, as with Linux's demand paging. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	size_t size = 512UL << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = malloc(size);
	if (!p) {
		printf("sparse: malloc(512 MiB) failed\n");
		return 1;
	}
	size_t touched = 0;
	for (size_t off = 0; off < (64UL << 20); off += page, touched++)
		p[off] = (unsigned char)touched;
	p[size - 1] = 0x5a;
	for (size_t off = 0, i = 0; off < (64UL << 20); off += page, i++)
		if (p[off] != (unsigned char)i) {
			printf("sparse: page %zu lost its byte\n", i);
			return 1;
		}
	printf("sparse: touched %zu pages of a 512 MiB allocation\n", touched + 1);
	free(p);
	return 0;
}
