/* testaddr: A("127.0.0.1:80") -> struct bw_addr, for tables of cases; a
 * malformed test address ends the test program. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/addr.h"

static inline struct bw_addr A(const char *s)
{
	struct bw_addr a;
	memset(&a, 0, sizeof(a));
	if (bw_addr_parse(s, &a) != 0) {
		fprintf(stderr, "bad test address %s\n", s);
		exit(EXIT_FAILURE);
	}
	return a;
}
