/* users: uid -> name from passwd text, tests/fixtures/passwd (with
 * malformed lines mixed in) and inline corner cases. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>

#include "check.h"
#include "basic/sysio.h"
#include "lookup/users.h"

static char passwd[8192];

static void name_is(const char *text, uid_t uid, const char *want)
{
	char buf[64];
	int r;
	memset(buf, 'X', sizeof(buf));
	r = bw_user_name_from(text, uid, buf, sizeof(buf));
	CHECK_EQ_INT(r, want ? 0 : -ENOENT);
	CHECK_STREQ(buf, want ? want : "");
	if ((want ? 0 : -ENOENT) != r)
		fprintf(stderr, "  (uid %u)\n", (unsigned)uid);
}

static void test_fixture(void)
{
	char path[4096];
	char buf[8];

	check_fixture(path, sizeof(path), "passwd");
	CHECK(bw_read_file_at(AT_FDCWD, path, passwd, sizeof(passwd)) > 0);

	name_is(passwd, 0, "root");
	name_is(passwd, 1, "daemon");
	name_is(passwd, 33, "www-data");
	name_is(passwd, 1000, "trailing");
	name_is(passwd, 65534, "nobody");
	name_is(passwd, 777, "lastline");
	name_is(passwd, 888, "nonl");               /* last line, no newline */
	name_is(passwd, 4294967294u, "bigid");
	name_is(passwd, 2000, "averyveryverylongusernamethatkeepsgoing");

	/* Missing, and uids that only malformed lines or other fields carry. */
	name_is(passwd, 12345, NULL);
	name_is(passwd, 5, NULL);     /* "broken": uid field is not a number, gid is 5 */
	name_is(passwd, 100, NULL);   /* only ever a gid */
	name_is(passwd, 4294967295u, NULL);

	/* A name longer than the buffer is cut and NUL-terminated. */
	memset(buf, 'X', sizeof(buf));
	CHECK_EQ_INT(bw_user_name_from(passwd, 2000, buf, sizeof(buf)), 0);
	CHECK_STREQ(buf, "averyve");
}

static void test_inline(void)
{
	name_is("", 0, NULL);
	name_is(NULL, 0, NULL);
	name_is("\n\n\n", 0, NULL);
	name_is(":::\n", 0, NULL);
	/* A line without colons must not borrow fields from the next line. */
	name_is("garbage\nx:y\nz:7:8:9\n", 7, NULL);
	name_is("garbage\nx:y\nz:7:8:9\n", 8, "z");
	name_is("a:x:5", 5, NULL);                  /* no field after the uid */
	name_is("neg:x:-1:1::/:/bin/sh\n", 4294967295u, NULL);
	name_is("wrap:x:4294967296:0::/:/bin/sh\n", 0, NULL);
	name_is("e:x::0::/:/bin/sh\n", 0, NULL);    /* empty uid field */
	name_is("first:x:9:9::/:/bin/sh\nsecond:x:9:9::/:/bin/sh\n", 9, "first");
	name_is("crlf:x:3:3::/:/bin/sh\r\n", 3, "crlf");
}

static void test_system(void)
{
	char buf[64];
	CHECK_EQ_INT(bw_user_name(0, buf, sizeof(buf)), 0);
	CHECK_STREQ(buf, "root");
	CHECK_EQ_INT(bw_user_name(3999999999u, buf, sizeof(buf)), -ENOENT);
	CHECK_STREQ(buf, "");
}

int main(void)
{
	test_fixture();
	test_inline();
	test_system();
	return check_done("users");
}
