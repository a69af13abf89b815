/* fuzz_fmt: the bounded string building every report goes through.
 * Input: the first byte sizes a small output buffer (0..255), the next
 * eight are a time_t, the next sixteen two bounds for bw_parse_long, the
 * rest is the string.
 * Checks: bw_buf_escape output is printable ASCII and unescapes to the
 * input; bw_buf_json_str output is one valid JSON string (UTF-8 kept,
 * other bytes \udcNN) that decodes to the input; in a small buffer each is a terminated prefix of the full
 * rendering with 'truncated' set exactly when something was dropped;
 * bw_buf_rfc3339 agrees with gmtime_r for years 1970..9999 and stays in
 * bounds for any time_t; bw_parse_long accepts exactly the strict decimal
 * strings within [lo, hi] and leaves *ret alone otherwise. */
#include <errno.h>
#include <limits.h>
#include <time.h>

#include "basic/fmt.h"
#include "fuzz.h"
#include "json_check.h"

FUZZ_NOCOV static int hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Renders with fn into a big buffer and into an exact-size small one. */
static size_t render(void (*fn)(struct bw_buf *, const char *, size_t), const char *s, size_t n,
		     char *full, size_t full_size, size_t small_size)
{
	struct bw_buf b = BW_BUF_INIT(full, full_size), sb;
	char *small = malloc(small_size);
	if (!small && small_size)
		abort();
	/* A bw_buf holds a string once something was put: start from "". */
	full[0] = '\0';
	if (small_size)
		small[0] = '\0';
	fn(&b, s, n);
	FUZZ_CHECK(!b.truncated, "%zu bytes overflowed %zu", n, full_size);
	fuzz_check_terminated("full", full, full_size, b.len);
	sb = (struct bw_buf)BW_BUF_INIT(small, small_size);
	fn(&sb, s, n);
	if (small_size) {
		fuzz_check_terminated("small", small, small_size, sb.len);
		FUZZ_CHECK(memcmp(small, full, sb.len) == 0, "truncated output is not a prefix");
		FUZZ_CHECK(sb.truncated == (b.len > small_size - 1), "truncated %d for %zu of %zu",
			   sb.truncated, b.len, small_size);
		/* A cut escape is dropped whole, so up to 3 bytes less. */
		FUZZ_CHECK(sb.len <= (b.len < small_size - 1 ? b.len : small_size - 1) &&
				   sb.len + 3 >= (b.len < small_size - 1 ? b.len : small_size - 1),
			   "length %zu", sb.len);
	} else {
		FUZZ_CHECK(sb.len == 0, "wrote %zu bytes into nothing", sb.len);
	}
	free(small);
	return b.len;
}

FUZZ_NOCOV static void check_escape(const char *s, size_t n, size_t small)
{
	size_t size = 4 * n + 1, len, j = 0;
	char *full = malloc(size);
	if (!full)
		abort();
	len = render(bw_buf_escape, s, n, full, size, small);
	/* No control byte; bytes above 0x7f only in well-formed UTF-8 (kept
	 * as it is, libbindwatch(7)): lead byte, then its continuations. */
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)full[i];
		size_t more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
		FUZZ_CHECK(c >= 0x20 && c != 0x7f && (c < 0x80 || more > 0) && c < 0xf5,
			   "byte 0x%02x in escaped output", c);
		FUZZ_CHECK(i + more < len, "UTF-8 sequence cut at %zu", i);
		for (size_t k = 1; k <= more; k++)
			FUZZ_CHECK(((unsigned char)full[i + k] & 0xc0) == 0x80,
				   "bad UTF-8 continuation at %zu", i + k);
		i += 1 + more;
	}
	/* Unescape: \xNN or a literal byte. */
	for (size_t i = 0; i < len; j++) {
		char c = full[i];
		if (c == '\\') {
			FUZZ_CHECK(i + 3 < len && full[i + 1] == 'x' && hexv(full[i + 2]) >= 0 &&
					   hexv(full[i + 3]) >= 0, "bad escape at %zu", i);
			c = (char)(hexv(full[i + 2]) << 4 | hexv(full[i + 3]));
			i += 4;
		} else {
			i++;
		}
		FUZZ_CHECK(j < n && c == s[j], "escaped output differs from the input at byte %zu", j);
	}
	FUZZ_CHECK(j == n, "escaped output holds %zu bytes of %zu", j, n);
	free(full);
}

FUZZ_NOCOV static void check_json(const char *s, size_t n, size_t small)
{
	size_t size = 6 * n + 3, len, j = 0;
	char *full = malloc(size);
	if (!full)
		abort();
	len = render(bw_buf_json_str, s, n, full, size, small);
	FUZZ_CHECK(json_check(full, len), "not a JSON string: %s", full);
	for (size_t i = 1; i + 1 < len; j++) {
		char c = full[i];
		if (c == '\\' && full[i + 1] == 'u') {
			/* \u00NN: a control; \udcNN: byte NN, not UTF-8 */
			c = (char)(hexv(full[i + 4]) << 4 | hexv(full[i + 5]));
			FUZZ_CHECK((full[i + 2] == '0' && full[i + 3] == '0') ||
					   (full[i + 2] == 'd' && full[i + 3] == 'c' && (unsigned char)c >= 0x80),
				   "\\u neither a control nor a non-UTF-8 byte");
			i += 6;
		} else if (c == '\\') {
			c = full[i + 1];
			i += 2;
		} else {
			i++;
		}
		FUZZ_CHECK(j < n && c == s[j], "JSON string differs from the input at byte %zu", j);
	}
	FUZZ_CHECK(j == n, "JSON string holds %zu bytes of %zu", j, n);
	free(full);
}

static void check_time(int64_t t, size_t small)
{
	char out[64], ref[64], *sm = malloc(small);
	struct bw_buf b = BW_BUF_INIT(out, sizeof(out)), sb = BW_BUF_INIT(sm, small);
	struct tm tm;

	if (!sm && small)
		abort();
	if (small)
		sm[0] = '\0';
	bw_buf_rfc3339(&b, (time_t)t);
	fuzz_check_terminated("rfc3339", out, sizeof(out), b.len);
	bw_buf_rfc3339(&sb, (time_t)t);
	if (small)
		fuzz_check_terminated("rfc3339 (small)", sm, small, sb.len);
	if (t >= 0 && t <= 253402300799LL) {
		time_t tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%SZ", &tm);
		FUZZ_CHECK(strcmp(out, ref) == 0, "%lld: %s, gmtime_r says %s", (long long)t, out, ref);
	}
	b = (struct bw_buf)BW_BUF_INIT(out, sizeof(out));
	bw_buf_age(&b, t);
	fuzz_check_terminated("age", out, sizeof(out), b.len);
	sb = (struct bw_buf)BW_BUF_INIT(sm, small);
	bw_buf_age(&sb, t);
	if (small)
		fuzz_check_terminated("age (small)", sm, small, sb.len);
	free(sm);
}

FUZZ_NOCOV static void check_parse_long(const char *s, long lo, long hi)
{
	long v = 0x5a5a, ref;
	char *end;
	bool strict;
	int r = bw_parse_long(s, lo, hi, &v);

	errno = 0;
	ref = strtol(s, &end, 10);
	strict = (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) && end != s && *end == '\0';
	if (!strict) {
		FUZZ_CHECK(r == -EINVAL, "\"%s\": %d, expected -EINVAL", s, r);
	} else if (errno == ERANGE || ref < lo || ref > hi) {
		FUZZ_CHECK(r == -ERANGE, "\"%s\" in [%ld, %ld]: %d, expected -ERANGE", s, lo, hi, r);
	} else {
		FUZZ_CHECK(r == 0 && v == ref, "\"%s\": %d, %ld", s, r, v);
		return;
	}
	FUZZ_CHECK(v == 0x5a5a, "*ret written on failure");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	size_t small = fuzz_u8(&in);
	int64_t t = (int64_t)fuzz_u64(&in);
	long lo = (long)fuzz_u64(&in), hi = (long)fuzz_u64(&in);
	char *s = fuzz_dup(in.p, in.n, true);

	check_escape(s, in.n, small);
	check_json(s, in.n, small);
	check_time(t, small);
	check_parse_long(s, lo, hi);
	check_parse_long(s, LONG_MIN, LONG_MAX);
	check_parse_long(s, 0, 65535);
	free(s);
	return 0;
}
