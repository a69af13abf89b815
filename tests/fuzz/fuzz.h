/* fuzz: what the libFuzzer targets share: an invariant check that aborts
 * with a message (libFuzzer then saves the input as a crash), a cursor that
 * takes typed values off the front of the input, and the checks every
 * target runs on a parsed address. Header-only: each target is built from
 * its own .c plus the shim modules it needs (tools/fuzz). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "basic/addr.h"
#include "../unit/quote.h"

/* For the targets' own checking code: its branches are no news about the
 * shim, and instrumented per-byte loops would take most of the run time.
 * noinline: inlined into an instrumented caller, it would be instrumented. */
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage"), noinline))

/* Aborts (a crash for libFuzzer) when an invariant does not hold. */
#define FUZZ_CHECK(cond, ...)                                                           \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, \
				#cond);                                                 \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
			abort();                                                        \
		}                                                                       \
	} while (0)

/* Writes n bytes of s to stderr, quoted, non-printable bytes as \xNN. */
FUZZ_NOCOV static inline void fuzz_dump(const char *label, const char *s, size_t n)
{
	fprintf(stderr, "%s (%zu bytes): ", label, n);
	quote_bytes(stderr, s, n);
	fputc('\n', stderr);
}

/* FUZZ_CHECK that first dumps the record it is about. */
#define FUZZ_CHECK_REC(cond, rec, len, ...)                  \
	do {                                                 \
		if (!(cond))                                 \
			fuzz_dump("record", (rec), (len));   \
		FUZZ_CHECK(cond, __VA_ARGS__);               \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;
	if (in->n) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return (uint64_t)fuzz_u32(in) << 32 | fuzz_u32(in);
}

static inline bool fuzz_bool(struct fuzz_in *in)
{
	return fuzz_u8(in) & 1;
}

/* Up to max bytes into dst (NUL-terminated: dst holds max + 1), the length
 * taken from the input first. Returns the length. */
static inline size_t fuzz_bytes(struct fuzz_in *in, char *dst, size_t max)
{
	size_t n = fuzz_u8(in);
	if (max > 255)
		n = n << 8 | fuzz_u8(in);
	if (n > max)
		n %= max + 1;
	if (n > in->n)
		n = in->n;
	memcpy(dst, in->p, n);
	dst[n] = '\0';
	in->p += n;
	in->n -= n;
	return n;
}

/* A C string of up to max bytes: like fuzz_bytes but stops at a NUL, as
 * strings the shim fills from the kernel never hold one. */
static inline size_t fuzz_str(struct fuzz_in *in, char *dst, size_t max)
{
	fuzz_bytes(in, dst, max);
	return strlen(dst);
}

/* A heap copy of exactly n bytes (ASan sees any read past the end), plus a
 * NUL at [n] when nul is true. */
static inline char *fuzz_dup(const uint8_t *p, size_t n, bool nul)
{
	char *d = malloc(n + (nul ? 1 : 0)); /* malloc(0): ASan flags any access */
	if (!d && n + nul)
		abort();
	if (n)
		memcpy(d, p, n);
	if (nul)
		d[n] = '\0';
	return d;
}

/* A formatted result of length len in a buffer of size: in bounds and
 * NUL-terminated at len with no earlier NUL. */
FUZZ_NOCOV static inline void fuzz_check_terminated(const char *what, const char *buf, size_t size, size_t len)
{
	if (size == 0) {
		FUZZ_CHECK(len == 0, "%s: length %zu for a 0-byte buffer", what, len);
		return;
	}
	FUZZ_CHECK(len < size, "%s: length %zu in a %zu-byte buffer", what, len, size);
	FUZZ_CHECK(buf[len] == '\0', "%s: not NUL-terminated at %zu", what, len);
	FUZZ_CHECK(strlen(buf) == len, "%s: NUL at %zu before the length %zu", what, strlen(buf), len);
}

/* A bw_addr as any parser may hand it on: the unix path NUL-terminated
 * within its array; then bw_addr_format / _format_ip into exact-size heap
 * buffers of several sizes, each result a prefix of the full rendering. */
static inline void fuzz_check_addr(const struct bw_addr *a)
{
	static const size_t sizes[] = {0, 1, 2, 7, 16, 40};
	char full[512], ip[64];
	size_t n, m;

	if (a->family == AF_UNIX) {
		FUZZ_CHECK(a->path_len <= BW_UNIX_PATH_MAX, "path_len %zu", a->path_len);
		FUZZ_CHECK(a->path[a->path_len] == '\0', "unix path not terminated at %zu",
			   a->path_len);
	}
	(void)bw_proto_name(a->proto);
	(void)bw_family_name(a->family);
	(void)bw_addr_is_wildcard(a);
	(void)bw_addr_is_v4mapped(a);
	n = bw_addr_format(a, full, sizeof(full));
	fuzz_check_terminated("bw_addr_format", full, sizeof(full), n);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *b = malloc(sizes[i]); /* exact size: ASan sees a write past the end */
		if (!b && sizes[i])
			abort();
		m = bw_addr_format(a, b, sizes[i]);
		fuzz_check_terminated("bw_addr_format (small)", b, sizes[i], m);
		if (sizes[i])
			FUZZ_CHECK(memcmp(b, full, m) == 0, "truncated format is not a prefix of \"%s\"",
				   full);
		free(b);
	}
	m = bw_addr_format_ip(a, ip, sizeof(ip));
	fuzz_check_terminated("bw_addr_format_ip", ip, sizeof(ip), m);
}
