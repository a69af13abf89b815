#include "basic/fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bw_buf_putn(struct bw_buf *b, const char *s, size_t n)
{
	size_t room;
	if (b->size == 0) {
		b->truncated |= n > 0;
		return;
	}
	room = b->size - 1 - b->len;
	if (n > room) {
		n = room;
		b->truncated = true;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void bw_buf_puts(struct bw_buf *b, const char *s)
{
	bw_buf_putn(b, s, strlen(s));
}

void bw_buf_printf(struct bw_buf *b, const char *fmt, ...)
{
	size_t room = b->size ? b->size - b->len : 0;
	va_list ap;
	int n;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive, ap is started */
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		if (room)
			b->len = b->size - 1;
		b->truncated |= n > 0 || room == 0;
	} else {
		b->len += (size_t)n;
	}
}

static const char hexdig[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes left), 0 if
 * there is none: shortest form, no surrogates, at most U+10FFFF (RFC 3629
 * section 4). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Code points that print nothing or move other text, though well-formed:
 * C1 controls, zero-width and bidirectional formatting characters (a
 * command line could reorder what a report shows; CVE-2021-42574), the
 * line and paragraph separators, the byte order mark. No locale here
 * (iswprint(3) would need one): a fixed list. */
static bool invisible(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

/* The code point of the well-formed sequence of l bytes at s. */
static unsigned utf8_cp(const unsigned char *s, size_t l)
{
	static const unsigned char lead_mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
	unsigned cp = s[0] & lead_mask[l];
	for (size_t i = 1; i < l; i++)
		cp = cp << 6 | (s[i] & 0x3fu);
	return cp;
}

void bw_buf_escape(struct bw_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t l = c >= 0x80 ? utf8_len(u + i, n - i) : 1;
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			bw_buf_putn(b, s + i, 1);
			i++;
		} else if (l > 1 && !invisible(utf8_cp(u + i, l))) {
			/* Whole characters only: a cut one is not UTF-8. */
			if (b->size == 0 || b->size - 1 - b->len < l) {
				b->truncated = true;
				if (b->size)
					b->p[b->len] = '\0';
				return;
			}
			bw_buf_putn(b, s + i, l);
			i += l;
		} else {
			char e[4] = {'\\', 'x', hexdig[c >> 4], hexdig[c & 15]};
			/* Whole escapes only: a cut one ("\\x0") reads as other bytes. */
			if (b->size == 0 || b->size - 1 - b->len < sizeof(e)) {
				b->truncated = true;
				if (b->size)
					b->p[b->len] = '\0';
				return;
			}
			bw_buf_putn(b, e, 4);
			i++;
		}
	}
}

void bw_buf_json_str(struct bw_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	bw_buf_putn(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t l;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			bw_buf_putn(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
			bw_buf_putn(b, e, 6);
			i++;
		} else if ((l = utf8_len(u + i, n - i)) > 0) {
			bw_buf_putn(b, s + i, l);
			i += l;
		} else {
			/* A byte that is not UTF-8: a lone low surrogate U+DC80..U+DCFF,
			 * which no character can be (PEP 383 "surrogateescape"). */
			char e[6] = {'\\', 'u', 'd', 'c', hexdig[c >> 4], hexdig[c & 15]};
			bw_buf_putn(b, e, 6);
			i++;
		}
	}
	bw_buf_putn(b, "\"", 1);
}

const char *bw_base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Howard Hinnant's days-from-civil inverse (public domain algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void bw_buf_rfc3339(struct bw_buf *b, time_t t)
{
	int64_t days = (int64_t)t / 86400, secs = (int64_t)t % 86400, y;
	unsigned m, d;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	bw_buf_printf(b, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
		      (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

void bw_buf_age(struct bw_buf *b, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		bw_buf_printf(b, "%llds", (long long)s);
	else if (s < 3600)
		bw_buf_printf(b, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		bw_buf_printf(b, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
	else
		bw_buf_printf(b, "%lldd%02lldh", (long long)(s / 86400), (long long)(s / 3600 % 24));
}

int bw_parse_long(const char *s, long lo, long hi, long *ret)
{
	char *end;
	long v;
	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < lo || v > hi)
		return -ERANGE;
	*ret = v;
	return 0;
}
