/* json: paths, wildcards, escapes, Docker's own layout, and malformed or
 * truncated input (which must end the walk, never read past the end). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "basic/json.h"

static const char docker[] =
	"{\"State\":{\"Running\":true,\"Pid\":14644},\"ID\":\"7825ad8b\","
	"\"Config\":{\"Image\":\"busybox:local\",\"Env\":[\"A=1\",\"B=2\"]},"
	"\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"IPAddress\":\"172.17.0.2\"},"
	"\"other\":{\"IPAddress\":\"10.0.0.5\"}},"
	"\"Ports\":{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"18080\"}],"
	"\"53/udp\":null}},\"Name\":\"/web\"}";

static void get_is(const char *json, const char *path, int want_r, const char *want)
{
	char out[64];
	int r = bw_json_get(json, strlen(json), path, out, sizeof(out));
	CHECK_EQ_INT(r, want_r);
	CHECK_STREQ(out, want);
}

struct collect {
	char seen[256];
};

static int collect_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct collect *c = ctx;
	strncat(c->seen, hit->val, hit->len);
	for (size_t i = 0; i < hit->n_wild; i++) {
		strcat(c->seen, "@");
		strncat(c->seen, hit->wild[i], hit->wild_len[i]);
	}
	strcat(c->seen, ";");
	return 0;
}

static void test_paths(void)
{
	struct collect c = {""};
	get_is(docker, "Name", 4, "/web");
	get_is(docker, "Config.Image", 13, "busybox:local");
	get_is(docker, "State.Running", 4, "true");
	get_is(docker, "State.Pid", 5, "14644");
	get_is(docker, "State.Missing", -ENOENT, "");
	get_is(docker, "Config.Image.Deeper", -ENOENT, "");
	get_is(docker, "Config.Env.*", 3, "A=1");
	CHECK_EQ_INT(bw_json_each(docker, strlen(docker), "NetworkSettings.Networks.*.IPAddress",
				  collect_cb, &c), 0);
	CHECK_STREQ(c.seen, "\"172.17.0.2\"@\"bridge\";\"10.0.0.5\"@\"other\";");
	c.seen[0] = '\0';
	CHECK_EQ_INT(bw_json_each(docker, strlen(docker), "NetworkSettings.Ports.*.*.HostPort",
				  collect_cb, &c), 0);
	CHECK_STREQ(c.seen, "\"18080\"@\"80/tcp\"@;");
	/* A key containing '/' is addressed as is. */
	get_is(docker, "NetworkSettings.Ports.80/tcp.*.HostIp", 9, "127.0.0.1");
}

static void test_strings(void)
{
	char out[32];
	CHECK_EQ_INT(bw_json_string("\"a\\\"b\\\\c\\/d\\n\"", 14, out, sizeof(out)), 8);
	CHECK_STREQ(out, "a\"b\\c/d\n");
	CHECK_EQ_INT(bw_json_string("\"\\u0041\\u00e9\"", 14, out, sizeof(out)), 2);
	CHECK_STREQ(out, "A?");
	CHECK_EQ_INT(bw_json_string("nope", 4, out, sizeof(out)), -EINVAL);
	memset(out, 'X', sizeof(out));
	CHECK_EQ_INT(bw_json_string("\"bad\\q\"", 7, out, sizeof(out)), -EINVAL);
	CHECK_STREQ(out, "bad"); /* terminated where it stopped (found by fuzz_json) */
	/* Cut to the buffer, always terminated. */
	CHECK_EQ_INT(bw_json_string("\"abcdef\"", 8, out, 4), 3);
	CHECK_STREQ(out, "abc");
	/* Keys compare by their raw text: an escaped key is not "Name". */
	get_is("{\"Na\\u006de\":\"x\",\"Name\":\"y\"}", "Name", 1, "y");
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "[1,2", "{\"a\" 1}",
		"{\"a\":\"x", "{\"a\":\"\x01\"}", "{1:2}", "}", "{\"a\":[}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[8];
		CHECK(bw_json_get(bad[i], strlen(bad[i]), "a", out, sizeof(out)) < 0 ||
		      strcmp(out, "1") == 0);
	}
	/* Every prefix of a real file is handled: found before the cut, or an
	 * error; never a read past n (ASan watches). */
	for (size_t n = 0; n < sizeof(docker) - 1; n++) {
		char out[64];
		int r = bw_json_get(docker, n, "Name", out, sizeof(out));
		CHECK(r == -EINVAL || r == -ENOENT || (r == 4 && strcmp(out, "/web") == 0));
	}
	/* Nesting deeper than the cap is refused, not recursed into. */
	{
		char deep[200];
		memset(deep, '[', 100);
		memset(deep + 100, ']', 100);
		CHECK_EQ_INT(bw_json_get(deep, sizeof(deep), "x", (char[8]){0}, 8), -EINVAL);
	}
}

int main(void)
{
	test_paths();
	test_strings();
	test_malformed();
	return check_done("json");
}
