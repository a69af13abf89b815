#include "lookup/users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/sysio.h"

/* Field 'field' (0 the name, 5 the home directory: passwd(5)) of uid's
 * line in n bytes of passwd text (no NUL needed). */
static int lookup_n(const char *passwd, size_t len, uid_t uid, int field, char *buf,
		    size_t size)
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
				const char *f = line, *fe;
				size_t n;
				for (int i = 0; i < field && f; i++) {
					f = memchr(f, ':', (size_t)(eol - f));
					f = f ? f + 1 : NULL;
				}
				if (!f)
					return -ENOENT;
				fe = memchr(f, ':', (size_t)(eol - f));
				n = (size_t)((fe ? fe : eol) - f);
				if (n >= size)
					n = size - 1;
				memcpy(buf, f, n);
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
	return lookup_n(passwd, strlen(passwd), uid, 0, buf, size);
}

struct user_query {
	uid_t uid;
	int field;
	char *buf;
	size_t size;
};

static int lines_cb(const char *lines, size_t n, void *ctx)
{
	struct user_query *q = ctx;
	return lookup_n(lines, n, q->uid, q->field, q->buf, q->size) == 0 ? 1 : 0;
}

/* Field 'field' of uid's line in the passwd file at path. */
static int lookup_file(const char *path, uid_t uid, int field, char *buf, size_t size)
{
	/* The whole file, whatever its length, through a small fixed buffer
	 * (the failure path's stack budget); a line longer than it (no real
	 * passwd entry is) is skipped. */
	char chunk[1024];
	struct user_query q = {uid, field, buf, size};
	if (size)
		buf[0] = '\0';
	if (size == 0)
		return -ENOENT;
	return bw_read_lines_at(AT_FDCWD, path, chunk, sizeof(chunk), lines_cb, &q) == 1 ? 0
											  : -ENOENT;
}

int bw_user_name(uid_t uid, char *buf, size_t size)
{
	return lookup_file("/etc/passwd", uid, 0, buf, size);
}

int bw_user_home_at(const char *root, uid_t uid, char *buf, size_t size)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	return lookup_file(path, uid, 5, buf, size);
}
