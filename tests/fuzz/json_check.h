/* json_check: a small strict JSON validator (RFC 8259 grammar) for the fuzz
 * targets: json_check(s, n) is true when s[0..n) is exactly one JSON value,
 * optionally followed by one '\n', and every byte is printable ASCII or part
 * of well-formed UTF-8 in a string (what bw_buf_json_str promises). Nesting is limited to 32 levels; duplicate keys
 * are not looked for (tests/unit/jsoncheck.py does that). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifndef FUZZ_NOCOV
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage"), noinline))
#endif

struct json_cur {
	const char *p, *end;
	int depth;
};

FUZZ_NOCOV static inline bool json_value(struct json_cur *c);

FUZZ_NOCOV static inline void json_ws(struct json_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

FUZZ_NOCOV static inline bool json_lit(struct json_cur *c, const char *w)
{
	for (; *w; w++, c->p++)
		if (c->p >= c->end || *c->p != *w)
			return false;
	return true;
}

FUZZ_NOCOV static inline bool json_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

FUZZ_NOCOV static inline bool json_string(struct json_cur *c)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p++;
		if (ch == '"')
			return true;
		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (ch >= 0x80) {
			/* Well-formed UTF-8 only (RFC 3629 table 3-7 ranges). */
			int more = ch >= 0xc2 && ch <= 0xdf ? 1 : ch >= 0xe0 && ch <= 0xef ? 2
				 : ch >= 0xf0 && ch <= 0xf4 ? 3 : -1;
			unsigned char lo = ch == 0xe0 ? 0xa0 : ch == 0xf0 ? 0x90 : 0x80;
			unsigned char hi = ch == 0xed ? 0x9f : ch == 0xf4 ? 0x8f : 0xbf;
			if (more < 0)
				return false;
			for (int i = 0; i < more; i++, lo = 0x80, hi = 0xbf) {
				unsigned char cc;
				if (c->p >= c->end)
					return false;
				cc = (unsigned char)*c->p++;
				if (cc < lo || cc > hi)
					return false;
			}
			continue;
		}
		if (ch != '\\')
			continue;
		if (c->p >= c->end)
			return false;
		ch = (unsigned char)*c->p++;
		if (ch == 'u') {
			for (int i = 0; i < 4; i++)
				if (c->p >= c->end || !json_hex(*c->p++))
					return false;
		} else if (!strchr("\"\\/bfnrt", ch) || ch == '\0') {
			return false;
		}
	}
	return false;
}

FUZZ_NOCOV static inline bool json_digits(struct json_cur *c)
{
	const char *s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s;
}

FUZZ_NOCOV static inline bool json_number(struct json_cur *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (!json_digits(c))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!json_digits(c))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!json_digits(c))
			return false;
	}
	return true;
}

/* open: '[' or '{'; members are values or "key": value pairs. */
FUZZ_NOCOV static inline bool json_container(struct json_cur *c, char open)
{
	char close = open == '[' ? ']' : '}';
	if (++c->depth > 32)
		return false;
	c->p++;
	json_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return true;
	}
	for (;;) {
		json_ws(c);
		if (open == '{') {
			if (!json_string(c))
				return false;
			json_ws(c);
			if (c->p >= c->end || *c->p++ != ':')
				return false;
		}
		if (!json_value(c))
			return false;
		json_ws(c);
		if (c->p >= c->end)
			return false;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p++ != close)
			return false;
		c->depth--;
		return true;
	}
}

FUZZ_NOCOV static inline bool json_value(struct json_cur *c)
{
	json_ws(c);
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{':
	case '[':
		return json_container(c, *c->p);
	case '"':
		return json_string(c);
	case 't':
		return json_lit(c, "true");
	case 'f':
		return json_lit(c, "false");
	case 'n':
		return json_lit(c, "null");
	default:
		return json_number(c);
	}
}

FUZZ_NOCOV static inline bool json_check(const char *s, size_t n)
{
	struct json_cur c = {s, s + n, 0};
	if (!json_value(&c))
		return false;
	if (c.p < c.end && *c.p == '\n')
		c.p++;
	return c.p == c.end;
}
