/* testcause: CAUSE_IS(c, "listener") checks the cause a diagnosis came to,
 * and prints the hint when it is not the one expected. */
#pragma once
#include <stdio.h>
#include <string.h>

#include "diagnose/cause.h"
#include "check.h"
#include "diagnose/conflict.h"

static void cause_is(const struct bw_conflict *c, const char *want, int line)
{
	check_count++;
	if (strcmp(bw_cause_name(c->cause), want) != 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: FAILED: cause %s, expected %s (hint: %s)\n", __FILE__, line,
			bw_cause_name(c->cause), want, c->hint);
	}
}
#define CAUSE_IS(c, want) cause_is(c, want, __LINE__)
