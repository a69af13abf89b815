/* fmt: bounded buffers, escaping, the calendar and strict number parsing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "basic/fmt.h"

static void test_truncation(void)
{
	char mem[16];
	struct bw_buf b;

	memset(mem, 'X', sizeof(mem));
	b = (struct bw_buf)BW_BUF_INIT(mem, 8);
	bw_buf_puts(&b, "hello");
	CHECK(!b.truncated);
	CHECK_EQ_INT(b.len, 5);
	CHECK_STREQ(mem, "hello");
	bw_buf_puts(&b, " world");
	CHECK(b.truncated);
	CHECK_EQ_INT(b.len, 7);
	CHECK_STREQ(mem, "hello w");
	CHECK(mem[8] == 'X');
	bw_buf_puts(&b, "more");
	bw_buf_printf(&b, "%d", 12345);
	CHECK(b.truncated);
	CHECK_EQ_INT(b.len, 7);
	CHECK_STREQ(mem, "hello w");
	CHECK(mem[8] == 'X');

	/* printf: exactly fitting is not truncation; one byte more is. */
	memset(mem, 'X', sizeof(mem));
	b = (struct bw_buf)BW_BUF_INIT(mem, 6);
	bw_buf_printf(&b, "%s", "hello");
	CHECK(!b.truncated);
	CHECK_EQ_INT(b.len, 5);
	memset(mem, 'X', sizeof(mem));
	b = (struct bw_buf)BW_BUF_INIT(mem, 5);
	bw_buf_printf(&b, "%s", "hello");
	CHECK(b.truncated);
	CHECK_EQ_INT(b.len, 4);
	CHECK_STREQ(mem, "hell");
	CHECK(mem[5] == 'X');

	/* A one-byte buffer holds only the NUL. */
	memset(mem, 'X', sizeof(mem));
	b = (struct bw_buf)BW_BUF_INIT(mem, 1);
	bw_buf_puts(&b, "a");
	CHECK(b.truncated);
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(mem[0], '\0');
	CHECK(mem[1] == 'X');

	/* A zero-size buffer is never written, and output to it is dropped:
	 * fmt.h says dropped output sets 'truncated'. */
	memset(mem, 'X', sizeof(mem));
	b = (struct bw_buf)BW_BUF_INIT(mem, 0);
	bw_buf_puts(&b, "a");
	bw_buf_printf(&b, "%d", 1);
	CHECK(mem[0] == 'X');
	CHECK_EQ_INT(b.len, 0);
	CHECK(b.truncated);

	/* putn copies embedded NULs as they are. */
	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_putn(&b, "a\0b", 3);
	CHECK_EQ_INT(b.len, 3);
	CHECK_MEMEQ(mem, "a\0b\0", 4);
}

static void test_escape(void)
{
	char mem[128];
	struct bw_buf b = BW_BUF_INIT(mem, sizeof(mem));

	bw_buf_escape(&b, "ok\x01\x1b[1m\\\x7f\xff\n\0z", 13);
	CHECK_STREQ(mem, "ok\\x01\\x1b[1m\\x5c\\x7f\\xff\\x0a\\x00z");
	CHECK(!b.truncated);

	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_escape(&b, "plain text ~!", 13);
	CHECK_STREQ(mem, "plain text ~!");

	/* Well-formed UTF-8 stays; '"' is escaped (it would end cmd="...");
	 * so are a lone continuation byte, an overlong form, a cut sequence,
	 * a C1 control and a bidi override. */
	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_escape(&b, "caf\xc3\xa9 \xe2\x82\xac \"q\" \x80 \xc0\xaf \xc2\x85 \xe2\x80\xae \xe2\x82", 28);
	CHECK_STREQ(mem, "caf\xc3\xa9 \xe2\x82\xac \\x22q\\x22 \\x80 \\xc0\\xaf \\xc2\\x85 \\xe2\\x80\\xae "
			 "\\xe2\\x82");
	CHECK(!b.truncated);
	/* A character that does not fit whole is left out, not cut. */
	b = (struct bw_buf)BW_BUF_INIT(mem, 4);
	bw_buf_escape(&b, "ab\xe2\x82\xac", 5);
	CHECK(b.truncated);
	CHECK_STREQ(mem, "ab");

	/* Truncated escaping leaves no raw control byte and no cut escape. */
	b = (struct bw_buf)BW_BUF_INIT(mem, 6);
	bw_buf_escape(&b, "\x1b\x1b\x1b", 3);
	CHECK(b.truncated);
	CHECK_STREQ(mem, "\\x1b");
	CHECK(strchr(mem, 0x1b) == NULL);
}

static void test_json_str(void)
{
	char mem[256];
	struct bw_buf b = BW_BUF_INIT(mem, sizeof(mem));

	bw_buf_json_str(&b, "a\"b\\c/\n\t\x01\x1f\x7f\xc3\xa9", 13);
	CHECK_STREQ(mem, "\"a\\\"b\\\\c/\\u000a\\u0009\\u0001\\u001f\\u007f\xc3\xa9\"");

	/* Well-formed UTF-8 stays; every other byte is \udcNN: a lone
	 * continuation byte, a truncated sequence, an overlong form, a
	 * surrogate (ED A0 80) and a code point past U+10FFFF (F4 90 80 80). */
	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_json_str(&b, "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80", 13);
	CHECK_STREQ(mem, "\"caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80\"");
	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_json_str(&b, "\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xff", 17);
	CHECK_STREQ(mem, "\"\\udc80|\\udcc3|\\udcc0\\udcaf|\\udced\\udca0\\udc80|"
			 "\\udcf4\\udc90\\udc80\\udc80|\\udcff\"");

	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_json_str(&b, "x\0y", 3);
	CHECK_STREQ(mem, "\"x\\u0000y\"");

	b = (struct bw_buf)BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_json_str(&b, "", 0);
	CHECK_STREQ(mem, "\"\"");
}

static void rfc(time_t t, const char *want)
{
	char mem[64];
	struct bw_buf b = BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_rfc3339(&b, t);
	CHECK_STREQ(mem, want);
	if (strcmp(mem, want) != 0)
		fprintf(stderr, "  (t = %lld)\n", (long long)t);
}

static void test_rfc3339(void)
{
	rfc(0, "1970-01-01T00:00:00Z");
	rfc(951782400, "2000-02-29T00:00:00Z");
	rfc(951868799, "2000-02-29T23:59:59Z");
	rfc(951868800, "2000-03-01T00:00:00Z");
	rfc(-1, "1969-12-31T23:59:59Z");
	rfc(-86400, "1969-12-31T00:00:00Z");
	rfc(-86401, "1969-12-30T23:59:59Z");
	rfc(-2208988800LL, "1900-01-01T00:00:00Z");
	rfc(1700000000, "2023-11-14T22:13:20Z");
	rfc(4107542400LL, "2100-03-01T00:00:00Z"); /* 2100 is not a leap year */
	rfc(253402300799LL, "9999-12-31T23:59:59Z");

	/* Against gmtime_r over a spread of instants, both sides of the epoch. */
	for (long long t = -5000000000LL; t < 5000000000LL; t += 7777777) {
		struct tm tm;
		char want[64];
		time_t tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		rfc(tt, want);
	}
}

static void age(int64_t s, const char *want)
{
	char mem[64];
	struct bw_buf b = BW_BUF_INIT(mem, sizeof(mem));
	bw_buf_age(&b, s);
	CHECK_STREQ(mem, want);
}

static void test_age(void)
{
	age(0, "0s");
	age(45, "45s");
	age(59, "59s");
	age(60, "1m00s");
	age(3599, "59m59s");
	age(3600, "1h00m");
	age(3 * 3600 + 12 * 60 + 5, "3h12m");
	age(86399, "23h59m");
	age(86400, "1d00h");
	age(2 * 86400 + 3 * 3600, "2d03h");
	age(-5, "0s"); /* clock skew: never a negative age */
}

static void plong(const char *s, long lo, long hi, int want_r, long want_v)
{
	long v = -777;
	int r = bw_parse_long(s, lo, hi, &v);
	CHECK_EQ_INT(r, want_r);
	CHECK_EQ_INT(v, want_r == 0 ? want_v : -777); /* untouched on failure */
	if (r != want_r) {
		fprintf(stderr, "  (input ");
		check_print_str(s);
		fprintf(stderr, ")\n");
	}
}

static void test_parse_long(void)
{
	plong("42", 0, 100, 0, 42);
	plong("0", 0, 100, 0, 0);
	plong("100", 0, 100, 0, 100);
	plong("007", 0, 100, 0, 7);
	plong("-5", -10, 10, 0, -5);
	plong("-5", 0, 10, -ERANGE, 0);
	plong("101", 0, 100, -ERANGE, 0);
	plong("9223372036854775807", 0, LONG_MAX, 0, LONG_MAX);
	plong("9223372036854775808", 0, LONG_MAX, -ERANGE, 0);
	plong("99999999999999999999", 0, 100, -ERANGE, 0);
	plong("-99999999999999999999", LONG_MIN, 0, -ERANGE, 0);
	plong("", 0, 100, -EINVAL, 0);
	plong(NULL, 0, 100, -EINVAL, 0);
	plong("12x", 0, 100, -EINVAL, 0);
	plong("x12", 0, 100, -EINVAL, 0);
	plong(" 5", 0, 100, -EINVAL, 0);
	plong("5 ", 0, 100, -EINVAL, 0);
	plong("+5", 0, 100, -EINVAL, 0);
	plong("-", -10, 10, -EINVAL, 0);
	plong("0x10", 0, 100, -EINVAL, 0);
	plong("1e3", 0, 10000, -EINVAL, 0);
}

int main(void)
{
	test_truncation();
	test_escape();
	test_json_str();
	test_rfc3339();
	test_age();
	test_parse_long();
	return check_done("fmt");
}
