/* check: the few assertion macros the unit tests share. A failed check
 * prints file:line, the expression and both values, counts the failure and
 * carries on; check_done() reports and gives main() its exit status. */
#pragma once
#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quote.h"

static unsigned check_count, check_failures;

/* Prints s (n bytes) with non-printable bytes as \xNN, in quotes. */
static inline void check_print_bytes(const char *s, size_t n)
{
	if (!s) {
		fputs("(null)", stderr);
		return;
	}
	quote_bytes(stderr, s, n);
}

static inline void check_print_str(const char *s)
{
	check_print_bytes(s, s ? strlen(s) : 0);
}

static inline void check_fail_at(const char *file, int line, const char *what)
{
	check_failures++;
	fprintf(stderr, "%s:%d: FAILED: %s", file, line, what);
}

#define CHECK(cond)                                                                         \
	do {                                                                                \
		check_count++;                                                              \
		if (!(cond)) {                                                              \
			check_fail_at(__FILE__, __LINE__, "CHECK(" #cond ")");            \
			fputc('\n', stderr);                                                \
		}                                                                           \
	} while (0)

#define CHECK_EQ_INT(actual, expected)                                                      \
	do {                                                                                \
		long long chk_a_ = (long long)(actual), chk_e_ = (long long)(expected);    \
		check_count++;                                                              \
		if (chk_a_ != chk_e_) {                                                     \
			check_fail_at(__FILE__, __LINE__, #actual " == " #expected);        \
			fprintf(stderr, ": got %lld, expected %lld\n", chk_a_, chk_e_);    \
		}                                                                           \
	} while (0)

#define CHECK_STREQ(actual, expected)                                                       \
	do {                                                                                \
		const char *chk_a_ = (actual), *chk_e_ = (expected);                        \
		check_count++;                                                              \
		if (!chk_a_ || !chk_e_ || strcmp(chk_a_, chk_e_) != 0) {                    \
			check_fail_at(__FILE__, __LINE__, #actual " == " #expected);        \
			fputs(": got ", stderr);                                            \
			check_print_str(chk_a_);                                            \
			fputs(", expected ", stderr);                                       \
			check_print_str(chk_e_);                                            \
			fputc('\n', stderr);                                                \
		}                                                                           \
	} while (0)

/* n bytes of actual equal n bytes of expected. */
#define CHECK_MEMEQ(actual, expected, n)                                                    \
	do {                                                                                \
		const char *chk_a_ = (const char *)(actual), *chk_e_ = (const char *)(expected); \
		size_t chk_n_ = (n);                                                        \
		check_count++;                                                              \
		if (memcmp(chk_a_, chk_e_, chk_n_) != 0) {                                  \
			check_fail_at(__FILE__, __LINE__, #actual " == " #expected);        \
			fputs(": got ", stderr);                                            \
			check_print_bytes(chk_a_, chk_n_);                                  \
			fputs(", expected ", stderr);                                       \
			check_print_bytes(chk_e_, chk_n_);                                  \
			fputc('\n', stderr);                                                \
		}                                                                           \
	} while (0)

/* haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle)                                                    \
	do {                                                                                \
		const char *chk_h_ = (haystack), *chk_n_ = (needle);                        \
		check_count++;                                                              \
		if (!chk_h_ || !chk_n_ || !strstr(chk_h_, chk_n_)) {                        \
			check_fail_at(__FILE__, __LINE__, #haystack " contains " #needle);  \
			fputs(": ", stderr);                                                \
			check_print_str(chk_h_);                                            \
			fputs(" lacks ", stderr);                                           \
			check_print_str(chk_n_);                                            \
			fputc('\n', stderr);                                                \
		}                                                                           \
	} while (0)

#define CHECK_NOT_CONTAINS(haystack, needle)                                                \
	do {                                                                                \
		const char *chk_h_ = (haystack), *chk_n_ = (needle);                        \
		check_count++;                                                              \
		if (!chk_h_ || !chk_n_ || strstr(chk_h_, chk_n_)) {                         \
			check_fail_at(__FILE__, __LINE__, #haystack " lacks " #needle);     \
			fputs(": ", stderr);                                                \
			check_print_str(chk_h_);                                            \
			fputc('\n', stderr);                                                \
		}                                                                           \
	} while (0)

/* Prints a one-line summary; returns main()'s exit status. */
static inline int check_done(const char *name)
{
	printf("%s: %u checks, %u failed\n", name, check_count, check_failures);
	return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* $BW_FIXTURES/rel, or exits with a clear message (skip code 77 would hide
 * a misconfigured build, so this fails instead). */
static inline const char *check_fixture(char *buf, size_t size, const char *rel)
{
	const char *dir = getenv("BW_FIXTURES");
	if (!dir || !*dir) {
		fprintf(stderr, "BW_FIXTURES is not set: run through meson test\n");
		exit(EXIT_FAILURE);
	}
	snprintf(buf, size, "%s/%s", dir, rel);
	return buf;
}

/* The captured proc tree, tests/fixtures/procroot. */
static inline const char *check_procroot(void)
{
	static char buf[4096];
	return check_fixture(buf, sizeof(buf), "procroot");
}

static inline int check_rm_one(const char *path, const struct stat *sb, int flag,
			       struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf dir: a throwaway tree a test built. */
static inline void check_rm_rf(const char *dir)
{
	nftw(dir, check_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
