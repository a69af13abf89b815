/* early_main: a program with libearly.so as a DT_NEEDED dependency, so
 * libearly's constructor (which binds $EARLY_PORT) runs before any
 * LD_PRELOADed library's constructor. Prints what the constructor got. */
#include <stdio.h>

const char *early_ctor_result(void);

int main(void)
{
	printf("main sees: %s\n", early_ctor_result());
	return 0;
}
