/* fuzz_users: bw_user_name_from over /etc/passwd text. Input: the first
 * byte picks the uid looked up (mod 8: 0, 1000, 65534, 4294967294,
 * 4294967295, 5, 888, or the next four bytes), the second sizes the name
 * buffer (1 + b % 64, and the real BW_USER_MAX), the rest is the text (cut
 * at its first NUL, as bw_read_file_at terminates it).
 * Checks: the answer is the one a line-by-line reading gives: the first
 * line (split at '\n') whose third ':'-separated field is a decimal number
 * (digits only) equal to uid; the name is that line's first field,
 * truncated to the exact-size buffer and terminated; "" and -ENOENT
 * otherwise. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "lookup/procinfo.h"
#include "lookup/users.h"

/* [s, e) is a decimal number (digits only) equal to uid. */
FUZZ_NOCOV static bool digits_equal(const char *s, const char *e, uid_t uid)
{
	uint64_t v = 0;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	return v == uid;
}

/* The reference: one line at a time, never looking past its '\n'. */
FUZZ_NOCOV static const char *expected(const char *text, uid_t uid, size_t *name_len)
{
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
		const char *c3 = c2 ? memchr(c2 + 1, ':', n - (size_t)(c2 + 1 - line)) : NULL;
		if (c3 && c3 > c2 + 1 && digits_equal(c2 + 1, c3, uid)) {
			*name_len = (size_t)(c1 - line);
			return line;
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static void lookup(const char *text, uid_t uid, size_t size)
{
	char *buf = malloc(size);
	size_t want_len = 0;
	const char *want = expected(text, uid, &want_len);
	int r;

	if (!buf)
		abort();
	r = bw_user_name_from(text, uid, buf, size);
	FUZZ_CHECK(r == 0 || r == -ENOENT, "returned %d", r);
	FUZZ_CHECK(memchr(buf, '\0', size), "name not terminated in %zu bytes", size);
	FUZZ_CHECK((r == 0) == (want != NULL), "uid %u: %s, but the line-by-line reading says %s",
		   (unsigned)uid, r == 0 ? buf : "not found", want ? "found" : "not found");
	if (want) {
		if (want_len > size - 1)
			want_len = size - 1;
		FUZZ_CHECK(strlen(buf) == want_len && memcmp(buf, want, want_len) == 0,
			   "uid %u: name \"%s\", expected %zu bytes of \"%.*s\"", (unsigned)uid, buf,
			   want_len, (int)want_len, want);
	}
	if (r == 0)
		FUZZ_CHECK(!strchr(buf, ':') && !strchr(buf, '\n'), "name \"%s\" spans fields", buf);
	else
		FUZZ_CHECK(buf[0] == '\0', "name \"%s\" without a match", buf);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uid_t uids[] = {0, 1000, 65534, 4294967294u, 4294967295u, 5, 888};
	struct fuzz_in in = {data, size};
	uint8_t pick = fuzz_u8(&in), sz = fuzz_u8(&in);
	uid_t uid = (pick & 7) < 7 ? uids[pick & 7] : fuzz_u32(&in);
	char *text = fuzz_dup(in.p, in.n, true);

	lookup(text, uid, 1 + sz % 64);
	lookup(text, uid, BW_USER_MAX);
	free(text);
	return 0;
}
