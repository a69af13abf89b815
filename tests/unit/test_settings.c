/* settings: BINDWATCH_* through a fake getenv reading a static table:
 * defaults, every valid spelling, and bad values, each of which must give
 * exactly one warning naming the variable and what it accepts, and keep
 * the default. */
#include <limits.h>
#include <string.h>

#include "check.h"
#include "policy/settings.h"

#define ENV_MAX 16

static struct {
	const char *name;
	const char *value;
} env[ENV_MAX];
static size_t n_env;

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < n_env; i++)
		if (strcmp(env[i].name, name) == 0)
			return env[i].value;
	return NULL;
}

static void setenv1(const char *name, const char *value)
{
	n_env = 0;
	if (name) {
		env[0].name = name;
		env[0].value = value;
		n_env = 1;
	}
}

static struct bw_settings S;

static struct bw_settings *load(const char *name, const char *value, bool secure)
{
	setenv1(name, value);
	memset(&S, 0x5a, sizeof(S));
	bw_settings_load(&S, fake_getenv, secure);
	return &S;
}

/* Every setting at its default, except the one variable 'except' sets. */
static void is_default(const struct bw_settings *s, const char *except, int line)
{
	static const char *const names[] = {
		"BINDWATCH_DISABLE", "BINDWATCH_FORMAT", "BINDWATCH_LOG", "BINDWATCH_STACK",
		"BINDWATCH_STACK_DEPTH", "BINDWATCH_SCAN_MS", "BINDWATCH_RATELIMIT", "BINDWATCH_TRACE",
		"NO_COLOR", "BINDWATCH_REMAP", "BINDWATCH_REMAP_MODE", "BINDWATCH_PORT_FILE",
		"BINDWATCH_UNIX_STALE", "BINDWATCH_NETLINK",
	};
	const bool same[] = {
		!s->disable,
		s->format == BW_FORMAT_TEXT,
		s->dest == BW_DEST_STDERR && s->log_path[0] == '\0',
		s->stack,
		s->stack_depth == BW_STACK_DEPTH_DEFAULT,
		s->scan_ms == 1000,
		s->ratelimit_s == 10,
		s->trace == BW_TRACE_CONFLICTS,
		s->color,
		!s->remap,
		!s->remap_always,
		s->port_file[0] == '\0',
		!s->unix_stale_unlink,
		s->netlink,
	};
	check_count++;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		if (same[i] || (except && strcmp(except, names[i]) == 0))
			continue;
		check_failures++;
		fprintf(stderr, "%s:%d: FAILED: %s is not at its default (setting only %s)\n",
			__FILE__, line, names[i], except ? except : "nothing");
	}
}
#define IS_DEFAULT(s, except) is_default(s, except, __LINE__)

static void test_defaults(void)
{
	struct bw_settings *s = load(NULL, NULL, false);
	IS_DEFAULT(s, NULL);
	CHECK_EQ_INT(s->n_warnings, 0);
	CHECK(!s->secure);
	s = load(NULL, NULL, true);
	IS_DEFAULT(s, NULL);
	CHECK(s->secure);
	CHECK_EQ_INT(s->n_warnings, 0);
}

static void test_valid(void)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	struct bw_settings *s;
	char path[PATH_MAX];

	for (size_t i = 0; i < 4; i++) {
		s = load("BINDWATCH_DISABLE", yes[i], false);
		CHECK(s->disable);
		CHECK_EQ_INT(s->n_warnings, 0);
		IS_DEFAULT(s, "BINDWATCH_DISABLE");
		s = load("BINDWATCH_DISABLE", no[i], false);
		CHECK(!s->disable);
		s = load("BINDWATCH_STACK", no[i], false);
		CHECK(!s->stack);
		CHECK_EQ_INT(s->n_warnings, 0);
		IS_DEFAULT(s, "BINDWATCH_STACK");
		s = load("BINDWATCH_STACK", yes[i], false);
		CHECK(s->stack);
	}

	s = load("BINDWATCH_FORMAT", "json", false);
	CHECK_EQ_INT(s->format, BW_FORMAT_JSON);
	IS_DEFAULT(s, "BINDWATCH_FORMAT");
	s = load("BINDWATCH_FORMAT", "text", false);
	CHECK_EQ_INT(s->format, BW_FORMAT_TEXT);
	CHECK_EQ_INT(s->n_warnings, 0);

	s = load("BINDWATCH_LOG", "syslog", false);
	CHECK_EQ_INT(s->dest, BW_DEST_SYSLOG);
	IS_DEFAULT(s, "BINDWATCH_LOG");
	s = load("BINDWATCH_LOG", "stderr", false);
	CHECK_EQ_INT(s->dest, BW_DEST_STDERR);
	s = load("BINDWATCH_LOG", "/var/log/bindwatch.log", false);
	CHECK_EQ_INT(s->dest, BW_DEST_FILE);
	CHECK_STREQ(s->log_path, "/var/log/bindwatch.log");
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "BINDWATCH_LOG");
	/* The longest path that fits. */
	memset(path, 'l', sizeof(path));
	path[0] = '/';
	path[PATH_MAX - 1] = '\0';
	s = load("BINDWATCH_LOG", path, false);
	CHECK_EQ_INT(s->dest, BW_DEST_FILE);
	CHECK_STREQ(s->log_path, path);
	/* syslog stays allowed in secure mode. */
	s = load("BINDWATCH_LOG", "syslog", true);
	CHECK_EQ_INT(s->dest, BW_DEST_SYSLOG);
	CHECK_EQ_INT(s->n_warnings, 0);

	s = load("BINDWATCH_STACK_DEPTH", "1", false);
	CHECK_EQ_INT(s->stack_depth, 1);
	s = load("BINDWATCH_STACK_DEPTH", "64", false);
	CHECK_EQ_INT(s->stack_depth, BW_STACK_DEPTH_MAX);
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "BINDWATCH_STACK_DEPTH");
	s = load("BINDWATCH_SCAN_MS", "0", false);
	CHECK_EQ_INT(s->scan_ms, 0);
	s = load("BINDWATCH_SCAN_MS", "60000", false);
	CHECK_EQ_INT(s->scan_ms, 60000);
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "BINDWATCH_SCAN_MS");

	static const struct {
		const char *value;
		enum bw_trace trace;
	} traces[] = {{"conflicts", BW_TRACE_CONFLICTS}, {"all", BW_TRACE_ALL}, {"off", BW_TRACE_OFF}};
	for (size_t i = 0; i < 3; i++) {
		s = load("BINDWATCH_TRACE", traces[i].value, false);
		CHECK_EQ_INT(s->trace, traces[i].trace);
		CHECK_EQ_INT(s->n_warnings, 0);
		IS_DEFAULT(s, "BINDWATCH_TRACE");
	}
	s = load("BINDWATCH_RATELIMIT", "0", false);
	CHECK_EQ_INT(s->ratelimit_s, 0);
	s = load("BINDWATCH_RATELIMIT", "86400", false);
	CHECK_EQ_INT(s->ratelimit_s, 86400);
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "BINDWATCH_RATELIMIT");
	/* no-color.org: "when present and not an empty string". */
	s = load("NO_COLOR", "1", false);
	CHECK(!s->color);
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "NO_COLOR");
	s = load("NO_COLOR", "", false);
	CHECK(s->color);
	CHECK_EQ_INT(s->n_warnings, 0);
	s = load("TERM", "dumb", false); /* a terminal without capabilities */
	CHECK(!s->color);
	CHECK_EQ_INT(s->n_warnings, 0);
	s = load("TERM", "xterm-256color", false);
	CHECK(s->color);
	s = load("BINDWATCH_NETLINK", "0", false);
	CHECK(!s->netlink);
	IS_DEFAULT(s, "BINDWATCH_NETLINK");
	s = load("BINDWATCH_REMAP", "8080=8081", false);
	CHECK(s->remap);
	CHECK_EQ_INT(s->policy.n_rules, 1);
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "BINDWATCH_REMAP");
	s = load("BINDWATCH_REMAP_MODE", "always", false);
	CHECK(s->remap_always);
	IS_DEFAULT(s, "BINDWATCH_REMAP_MODE");
	s = load("BINDWATCH_REMAP_MODE", "conflict", false);
	CHECK(!s->remap_always);
	CHECK_EQ_INT(s->n_warnings, 0);
	s = load("BINDWATCH_PORT_FILE", "/run/ports", false);
	CHECK_STREQ(s->port_file, "/run/ports");
	CHECK_EQ_INT(s->n_warnings, 0);
	IS_DEFAULT(s, "BINDWATCH_PORT_FILE");
	s = load("BINDWATCH_UNIX_STALE", "unlink", false);
	CHECK(s->unix_stale_unlink);
	IS_DEFAULT(s, "BINDWATCH_UNIX_STALE");
	s = load("BINDWATCH_UNIX_STALE", "keep", false);
	CHECK(!s->unix_stale_unlink);
	CHECK_EQ_INT(s->n_warnings, 0);

	/* Several at once. */
	n_env = 3;
	env[0].name = "BINDWATCH_FORMAT";
	env[0].value = "json";
	env[1].name = "BINDWATCH_STACK_DEPTH";
	env[1].value = "8";
	env[2].name = "BINDWATCH_LOG";
	env[2].value = "syslog";
	bw_settings_load(&S, fake_getenv, false);
	CHECK_EQ_INT(S.format, BW_FORMAT_JSON);
	CHECK_EQ_INT(S.stack_depth, 8);
	CHECK_EQ_INT(S.dest, BW_DEST_SYSLOG);
	CHECK_EQ_INT(S.n_warnings, 0);
}

struct var {
	const char *name;
	const char *accepts; /* a fragment the warning must show */
};

static const struct var vars[] = {
	{"BINDWATCH_DISABLE", "0|1|yes|no|true|false|on|off"},
	{"BINDWATCH_STACK", "0|1|yes|no|true|false|on|off"},
	{"BINDWATCH_NETLINK", "0|1|yes|no|true|false|on|off"},
	{"BINDWATCH_STACK_DEPTH", "1..64"},
	{"BINDWATCH_SCAN_MS", "0..60000"},
	{"BINDWATCH_RATELIMIT", "0..86400"},
	{"BINDWATCH_FORMAT", "text|json"},
	{"BINDWATCH_TRACE", "conflicts|all|off"},
	{"BINDWATCH_REMAP_MODE", "conflict|always"},
	{"BINDWATCH_UNIX_STALE", "keep|unlink"},
	{"BINDWATCH_LOG", "stderr|syslog"},
	{"BINDWATCH_PORT_FILE", "an absolute path"},
	/* The policy parser says where and what it expected instead. */
	{"BINDWATCH_REMAP", "is invalid at column"},
};
#define N_VARS (sizeof(vars) / sizeof(vars[0]))

/* One bad value: one warning, naming the variable and what it accepts,
 * one line ending in '\n', and every setting at its default. */
static void bad(const struct var *v, const char *value, bool secure, int line)
{
	struct bw_settings *s = load(v->name, value, secure);
	const char *w = s->warnings[0];
	size_t len = strnlen(w, BW_WARN_LEN);
	bool ok = s->n_warnings == 1 && len < BW_WARN_LEN && strstr(w, v->name) &&
		  strstr(w, v->accepts) && strncmp(w, "bindwatch: warning: ", 20) == 0 &&
		  len > 0 && w[len - 1] == '\n' && memchr(w, '\n', len - 1) == NULL;
	for (size_t i = 0; ok && i < len; i++)
		if (((unsigned char)w[i] < 0x20 && w[i] != '\n') || (unsigned char)w[i] >= 0x7f)
			ok = false;
	check_count++;
	if (!ok) {
		check_failures++;
		fprintf(stderr, "%s:%d: FAILED: %s=", __FILE__, line, v->name);
		check_print_bytes(value, strnlen(value, 12));
		fprintf(stderr, "%s: %zu warnings, first ", strlen(value) > 12 ? "..." : "",
			s->n_warnings);
		check_print_bytes(w, s->n_warnings ? len : 0);
		fputc('\n', stderr);
	}
	is_default(s, NULL, line);
}
#define BAD(v, value) bad(v, value, false, __LINE__)

static void test_bad(void)
{
	static char long_plain[1001], long_ctl[1001], long_high[1001], huge_path[PATH_MAX + 10];

	memset(long_plain, 'z', 1000);
	memset(long_ctl, '\x1b', 1000);
	memset(long_high, '\xff', 1000);
	memset(huge_path, 'h', sizeof(huge_path) - 1);
	huge_path[0] = '/';

	for (size_t i = 0; i < N_VARS; i++) {
		const struct var *v = &vars[i];
		BAD(v, "garbage");
		BAD(v, "");
		BAD(v, "99999999999999999999999");
		BAD(v, "-1");
		BAD(v, " 1");
		BAD(v, "1 ");
		BAD(v, "0x10");
		BAD(v, long_plain);
		BAD(v, long_ctl);
		BAD(v, long_high);
		BAD(v, "\x1b[31mred\n\r");
	}
	BAD(&vars[0], "2");
	BAD(&vars[0], "YES");
	BAD(&vars[1], "enable");
	BAD(&vars[3], "0");
	BAD(&vars[3], "65");
	BAD(&vars[3], "2147483648");
	BAD(&vars[3], "-2147483648");
	BAD(&vars[4], "60001");
	BAD(&vars[4], "1.5");
	BAD(&vars[5], "86401");
	BAD(&vars[6], "JSON");
	BAD(&vars[6], "xml");
	BAD(&vars[7], "none");
	BAD(&vars[10], "relative/path.log");
	BAD(&vars[10], "./bindwatch.log");
	BAD(&vars[10], "file");
	BAD(&vars[10], huge_path);
	BAD(&vars[11], "ports.txt");
	BAD(&vars[11], huge_path);
	BAD(&vars[12], "8080");
	BAD(&vars[12], "8080=");
	BAD(&vars[12], "=8081");
}

static void test_secure(void)
{
	static const struct var secure_log = {"BINDWATCH_LOG", "file paths are ignored"};
	struct bw_settings *s;

	/* A setuid host must not append to a path its caller chose. */
	bad(&secure_log, "/tmp/x.log", true, __LINE__);
	bad(&secure_log, "/etc/shadow", true, __LINE__);
	s = load("BINDWATCH_LOG", "/tmp/x.log", true);
	CHECK_EQ_INT(s->dest, BW_DEST_STDERR);
	CHECK_STREQ(s->log_path, "");
	/* No remapping in secure mode either: said, not silently dropped. */
	{
		static const struct var secure_remap = {"BINDWATCH_REMAP", "secure-execution"};
		bad(&secure_remap, "8080=8081", true, __LINE__);
		s = load("BINDWATCH_REMAP", "8080=8081", true);
		CHECK(!s->remap);
	}
	s = load("BINDWATCH_UNIX_STALE", "unlink", true);
	CHECK(!s->unix_stale_unlink);
	s = load("BINDWATCH_PORT_FILE", "/tmp/ports", true);
	CHECK_STREQ(s->port_file, "");
	/* With a long or hostile path the warning still says why. */
	{
		static char p[1001];
		memset(p, '\x01', 1000);
		p[0] = '/';
		bad(&secure_log, p, true, __LINE__);
	}
}

/* Many bad variables at once: one warning each, up to BW_WARN_MAX. */
static void test_many(void)
{
	n_env = N_VARS < ENV_MAX ? N_VARS : ENV_MAX;
	for (size_t i = 0; i < n_env; i++) {
		env[i].name = vars[i].name;
		env[i].value = "bogus";
	}
	bw_settings_load(&S, fake_getenv, false);
	CHECK_EQ_INT(S.n_warnings, n_env);
	for (size_t i = 0; i < S.n_warnings && i < n_env; i++)
		CHECK(strstr(S.warnings[i], "bogus") != NULL);
	IS_DEFAULT(&S, NULL);
}

int main(void)
{
	test_defaults();
	test_valid();
	test_bad();
	test_secure();
	test_many();
	return check_done("settings");
}
