/* The rseq entries of the auxiliary vector, and the registration glibc
 * made with them before main. */
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/rseq.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif
#ifndef AT_RSEQ_ALIGN
#define AT_RSEQ_ALIGN 28
#endif

int main(void)
{
	unsigned long size = getauxval(AT_RSEQ_FEATURE_SIZE);
	unsigned long align = getauxval(AT_RSEQ_ALIGN);
	printf("auxv: AT_RSEQ_FEATURE_SIZE=%lu AT_RSEQ_ALIGN=%lu AT_PAGESZ=%lu\n",
	       size, align, getauxval(AT_PAGESZ));
	printf("auxv: glibc rseq area %u bytes, platform %s\n", __rseq_size,
	       (const char *)getauxval(AT_PLATFORM));
	return size == 33 && align == 64 ? 0 : 1;
}
