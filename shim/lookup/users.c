#include "lookup/users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "basic/sysio.h"

int bw_user_name_from(const char *passwd, uid_t uid, char *buf, size_t size)
{
	const char *line = passwd;
	if (size)
		buf[0] = '\0';
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		const char *c1 = strchr(line, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1 && c2 && (!nl || c2 < nl)) {
			char *end;
			unsigned long v = strtoul(c2 + 1, &end, 10);
			/* Digits only: strtoul() alone would skip whitespace (a '\n'
			 * too, running into the next line) and take a sign. */
			if (c2[1] >= '0' && c2[1] <= '9' && *end == ':' && v == uid) {
				size_t n = (size_t)(c1 - line);
				if (n >= size)
					n = size - 1;
				memcpy(buf, line, n);
				buf[n] = '\0';
				return 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int bw_user_name(uid_t uid, char *buf, size_t size)
{
	char passwd[16384];
	if (size)
		buf[0] = '\0';
	if (bw_read_file_at(AT_FDCWD, "/etc/passwd", passwd, sizeof(passwd)) < 0)
		return -ENOENT;
	return bw_user_name_from(passwd, uid, buf, size);
}
