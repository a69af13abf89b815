/* fmt: bounded string building into caller-owned memory. Never allocates,
 * never fails loudly: output past the end is dropped and 'truncated' set. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct bw_buf {
	char *p;
	size_t size;
	size_t len;
	bool truncated;
};

#define BW_BUF_INIT(ptr, sz) {.p = (ptr), .size = (sz), .len = 0, .truncated = false}

void bw_buf_puts(struct bw_buf *b, const char *s);
void bw_buf_putn(struct bw_buf *b, const char *s, size_t n);
void bw_buf_printf(struct bw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies n bytes for a text report: printable ASCII and well-formed UTF-8
 * characters as they are ("café"); control bytes, NULs, DEL, '"', '\\',
 * bytes that are not well-formed UTF-8, and characters that print nothing
 * or reorder text (C1 controls, bidi and zero-width formatting) as \xNN
 * per byte, so a hostile command line can't forge report lines, colours or
 * the end of a quoted field. */
void bw_buf_escape(struct bw_buf *b, const char *s, size_t n);
/* A JSON string literal (with the quotes), always valid JSON: well-formed
 * UTF-8 is kept as it is ("café" stays "café"); controls are \u00NN; a
 * byte that is not part of well-formed UTF-8 is \udcNN, a lone surrogate
 * no character can be (Python: json.loads(s).encode("utf-8",
 * "surrogateescape") gives the bytes back). */
void bw_buf_json_str(struct bw_buf *b, const char *s, size_t n);

/* The last component of a path ("/usr/lib/libc.so.6" -> "libc.so.6"); the
 * path itself when it has no '/'. */
const char *bw_base_name(const char *path);

/* "2026-11-25T10:02:11Z". Own calendar math: gmtime_r takes glibc's tz lock. */
void bw_buf_rfc3339(struct bw_buf *b, time_t t);
/* "3h12m", "45s", "2d3h": a short age. */
void bw_buf_age(struct bw_buf *b, int64_t seconds);

/* Strict decimal parse of a whole string into [lo, hi]; 0 or -EINVAL/-ERANGE. */
int bw_parse_long(const char *s, long lo, long hi, long *ret);
