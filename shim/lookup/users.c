#include "lookup/users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "basic/sysio.h"

/* bw_user_name_from over n bytes of passwd text (no NUL needed). */
static int lookup_n(const char *passwd, size_t len, uid_t uid, char *buf, size_t size)
{
	const char *line = passwd, *end = passwd + len;
	while (line < end && *line) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl ? nl : end;
		const char *c1 = memchr(line, ':', (size_t)(eol - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c1 && c2 && c2 + 1 < eol && c2[1] >= '0' && c2[1] <= '9') {
			/* Digits only, then ':': no sign, no whitespace, no
			 * running into the next line. */
			unsigned long long v = 0;
			const char *d = c2 + 1;
			while (d < eol && *d >= '0' && *d <= '9' && v <= 0xffffffffull)
				v = v * 10 + (unsigned)(*d++ - '0');
			if (d < eol && *d == ':' && v == uid) {
				size_t n = (size_t)(c1 - line);
				if (n >= size)
					n = size - 1;
				memcpy(buf, line, n);
				buf[n] = '\0';
				return 0;
			}
		}
		line = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

int bw_user_name_from(const char *passwd, uid_t uid, char *buf, size_t size)
{
	if (size)
		buf[0] = '\0';
	if (!passwd || size == 0)
		return -ENOENT;
	return lookup_n(passwd, strlen(passwd), uid, buf, size);
}

struct user_query {
	uid_t uid;
	char *buf;
	size_t size;
};

static int lines_cb(const char *lines, size_t n, void *ctx)
{
	struct user_query *q = ctx;
	return lookup_n(lines, n, q->uid, q->buf, q->size) == 0 ? 1 : 0;
}

int bw_user_name(uid_t uid, char *buf, size_t size)
{
	/* The whole file, whatever its length, through a small fixed buffer
	 * (the failure path's stack budget); a line longer than it (no real
	 * passwd entry is) is skipped. */
	char chunk[1024];
	struct user_query q = {uid, buf, size};
	if (size)
		buf[0] = '\0';
	if (size == 0)
		return -ENOENT;
	return bw_read_lines_at(AT_FDCWD, "/etc/passwd", chunk, sizeof(chunk), lines_cb, &q) == 1
		       ? 0
		       : -ENOENT;
}
