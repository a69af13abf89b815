/* fuzz_settings: bw_settings_load with every BINDWATCH_* variable taken from
 * the input, once as a normal process and once in secure-execution mode.
 * Input: two bytes saying which variables are set (bit i: names[i], first
 * byte bits 0-7, second byte bits 8-14), then their values in that order,
 * separated by NULs (a set variable past the end of the input is "").
 * Checks: every field in its documented range, at most BW_WARN_MAX
 * warnings, each one terminated, naming its variable and ending its line;
 * secure mode never takes a file, a remap rule or an unlink; a value the
 * strict parsers accept is the value used; only BINDWATCH_* and NO_COLOR
 * are looked up. */
#include <errno.h>

#include "basic/fmt.h"
#include "fuzz.h"
#include "policy_check.h"
#include "policy/settings.h"

static const char *const names[] = {
	"BINDWATCH_LOG", "BINDWATCH_FORMAT", "BINDWATCH_STACK", "BINDWATCH_STACK_DEPTH",
	"BINDWATCH_SCAN_MS", "BINDWATCH_DISABLE", "BINDWATCH_RATELIMIT", "BINDWATCH_TRACE",
	"BINDWATCH_REMAP", "BINDWATCH_REMAP_MODE", "BINDWATCH_PORT_FILE", "BINDWATCH_UNIX_STALE",
	"BINDWATCH_NETLINK", "BINDWATCH_BPF", "NO_COLOR", "TERM",
};
#define N_VARS (sizeof(names) / sizeof(names[0]))

/* The environment of one run: heap copies, exact size. */
static char *values[N_VARS];

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < N_VARS; i++)
		if (strcmp(name, names[i]) == 0)
			return values[i];
	FUZZ_CHECK(false, "looked up %s, which is no BINDWATCH_* variable", name);
	return NULL;
}

static const char *value_of(const char *name)
{
	return fake_getenv(name);
}

static void check_int(const char *name, long lo, long hi, long def, int got)
{
	const char *v = value_of(name);
	long n;
	if (v && bw_parse_long(v, lo, hi, &n) == 0)
		FUZZ_CHECK(got == n, "%s=%s gave %d", name, v, got);
	else
		FUZZ_CHECK(got == def, "%s unset or invalid gave %d, not the default %ld", name, got,
			   def);
}

static void check(const struct bw_settings *s, bool secure)
{
	const char *v;

	FUZZ_CHECK(s->secure == secure, "secure flag not kept");
	FUZZ_CHECK(s->n_warnings <= BW_WARN_MAX, "%zu warnings", s->n_warnings);
	for (size_t i = 0; i < s->n_warnings; i++) {
		const char *w = s->warnings[i];
		size_t n = strnlen(w, BW_WARN_LEN);
		FUZZ_CHECK(n < BW_WARN_LEN, "warning %zu not terminated", i);
		FUZZ_CHECK(strncmp(w, "bindwatch: warning: BINDWATCH_", 30) == 0,
			   "warning %zu does not name its variable: %s", i, w);
		/* The hook writes each warning as it is: it must end its line. */
		FUZZ_CHECK(n > 0 && w[n - 1] == '\n', "warning %zu does not end in a newline: %s", i,
			   w);
		FUZZ_CHECK(!memchr(w, '\n', n ? n - 1 : 0) && !strchr(w, '\033'),
			   "warning %zu holds a raw newline or escape: %s", i, w);
	}
	FUZZ_CHECK(s->format == BW_FORMAT_TEXT || s->format == BW_FORMAT_JSON, "format %d", s->format);
	FUZZ_CHECK(s->dest == BW_DEST_STDERR || s->dest == BW_DEST_SYSLOG || s->dest == BW_DEST_FILE,
		   "dest %d", s->dest);
	FUZZ_CHECK(s->trace == BW_TRACE_CONFLICTS || s->trace == BW_TRACE_ALL ||
			   s->trace == BW_TRACE_OFF, "trace %d", s->trace);
	FUZZ_CHECK(strnlen(s->log_path, sizeof(s->log_path)) < sizeof(s->log_path), "log_path");
	FUZZ_CHECK(strnlen(s->port_file, sizeof(s->port_file)) < sizeof(s->port_file), "port_file");
	FUZZ_CHECK(s->dest != BW_DEST_FILE || s->log_path[0] == '/', "log file %s", s->log_path);
	FUZZ_CHECK(!s->port_file[0] || s->port_file[0] == '/', "port file %s", s->port_file);
	check_int("BINDWATCH_STACK_DEPTH", 1, BW_STACK_DEPTH_MAX, BW_STACK_DEPTH_DEFAULT,
		  s->stack_depth);
	check_int("BINDWATCH_SCAN_MS", 0, 60000, 1000, s->scan_ms);
	check_int("BINDWATCH_RATELIMIT", 0, 86400, 10, s->ratelimit_s);
	/* no-color.org: NO_COLOR set to a non-empty string turns colour off. */
	FUZZ_CHECK(s->color == (value_of("NO_COLOR") == NULL || !value_of("NO_COLOR")[0]),
		   "color");
	if (secure) {
		FUZZ_CHECK(s->dest != BW_DEST_FILE && !s->log_path[0], "secure mode logs to a file");
		FUZZ_CHECK(!s->remap && !s->port_file[0] && !s->unix_stale_unlink,
			   "secure mode remaps, writes a port file or unlinks");
	}
	v = value_of("BINDWATCH_REMAP");
	if (!secure && v) {
		static struct bw_policy pol;
		bool ok = bw_policy_parse(v, &pol, NULL) == 0;
		FUZZ_CHECK(s->remap == ok, "remap %d for a policy that %s", s->remap,
			   ok ? "parses" : "does not parse");
	} else {
		FUZZ_CHECK(!s->remap, "remap without BINDWATCH_REMAP (or in secure mode)");
	}
	if (s->remap)
		fuzz_check_policy(&s->policy);
	v = value_of("BINDWATCH_LOG");
	if (v && (strcmp(v, "syslog") == 0))
		FUZZ_CHECK(s->dest == BW_DEST_SYSLOG, "BINDWATCH_LOG=syslog ignored");
	if (!v || strcmp(v, "stderr") == 0)
		FUZZ_CHECK(s->dest == BW_DEST_STDERR, "dest %d without a BINDWATCH_LOG", s->dest);
	v = value_of("BINDWATCH_FORMAT");
	FUZZ_CHECK(s->format == (v && strcmp(v, "json") == 0 ? BW_FORMAT_JSON : BW_FORMAT_TEXT),
		   "format %d", s->format);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bw_settings s;
	unsigned mask = 0;
	size_t off = 0;

	if (size >= 2) {
		mask = data[0] | (unsigned)data[1] << 8;
		off = 2;
	}
	for (size_t i = 0; i < N_VARS; i++) {
		const uint8_t *end;
		size_t n;
		values[i] = NULL;
		if (!(mask & 1u << i))
			continue;
		end = memchr(data + off, '\0', size - off);
		n = end ? (size_t)(end - (data + off)) : size - off;
		values[i] = fuzz_dup(data + off, n, true);
		off += end ? n + 1 : n;
	}

	for (int secure = 0; secure <= 1; secure++) {
		memset(&s, 0xa5, sizeof(s));
		bw_settings_load(&s, fake_getenv, secure);
		check(&s, secure);
	}

	/* bw_settings_path on each value, into buffers of a few sizes. */
	for (size_t i = 0; i < N_VARS; i++) {
		static const size_t sizes[] = {1, 2, 16, 4096};
		if (!values[i])
			continue;
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			char *out = malloc(sizes[k]);
			size_t before = s.n_warnings;
			bool ok;
			if (!out)
				abort();
			ok = bw_settings_path(&s, names[i], values[i], out, sizes[k]);
			if (ok)
				FUZZ_CHECK(values[i][0] == '/' && strlen(values[i]) < sizes[k] &&
						   strcmp(out, values[i]) == 0,
					   "accepted path %s into %zu bytes", values[i], sizes[k]);
			else
				FUZZ_CHECK(s.n_warnings == before + 1 || before == BW_WARN_MAX,
					   "rejected path %s without a warning", values[i]);
			free(out);
		}
	}
	for (size_t i = 0; i < N_VARS; i++)
		free(values[i]);
	return 0;
}
