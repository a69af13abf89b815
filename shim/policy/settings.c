#include "policy/settings.h"

#include <stdio.h>
#include <string.h>

#include "basic/fmt.h"

/* The bad value, escaped, in at most 40 output characters (an escaped
 * byte takes four), so the rest of the warning always fits its line. */
static void put_value(struct bw_buf *b, const char *val)
{
	size_t i = 0, shown = 0;
	for (; val[i]; i++) {
		unsigned char ch = (unsigned char)val[i];
		size_t cost = ch < 0x20 || ch >= 0x7f || ch == '\\' ? 4 : 1;
		if (shown + cost > 40)
			break;
		shown += cost;
	}
	bw_buf_escape(b, val, i);
	if (val[i])
		bw_buf_puts(b, "...");
}

/* A warning line always ends in '\n', even if cut. */
static void end_line(struct bw_buf *b)
{
	if (b->truncated && b->size >= 2) {
		b->p[b->size - 2] = '\n';
		b->p[b->size - 1] = '\0';
	}
}

/* A warning is "bindwatch: warning: VAR=<value> ...why...\n" in the next
 * free slot: warn_begin writes up to the value (false when every slot is
 * taken), the caller the rest, warn_end closes the line. */
static bool warn_begin(struct bw_settings *s, struct bw_buf *b, const char *var, const char *val)
{
	if (s->n_warnings >= BW_WARN_MAX)
		return false;
	*b = (struct bw_buf)BW_BUF_INIT(s->warnings[s->n_warnings], BW_WARN_LEN);
	bw_buf_printf(b, "bindwatch: warning: %s=", var);
	put_value(b, val);
	return true;
}

static void warn_end(struct bw_settings *s, struct bw_buf *b)
{
	end_line(b);
	s->n_warnings++;
}

static void warn(struct bw_settings *s, const char *var, const char *val, const char *accepts,
		 const char *def)
{
	struct bw_buf b;
	if (!warn_begin(s, &b, var, val))
		return;
	bw_buf_printf(&b, " is invalid (accepted: %s); using %s\n", accepts, def);
	warn_end(s, &b);
}

/* Returns 1/0 for the usual boolean spellings, -1 otherwise. */
static int parse_bool(const char *v)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0)
			return 1;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

static void get_bool(struct bw_settings *s, bw_getenv_fn get, const char *var, bool *out)
{
	const char *v = get(var);
	int b;
	if (!v)
		return;
	b = parse_bool(v);
	if (b < 0)
		warn(s, var, v, "0|1|yes|no|true|false|on|off", *out ? "1" : "0");
	else
		*out = b;
}

static void get_int(struct bw_settings *s, bw_getenv_fn get, const char *var, long lo, long hi,
		    int *out)
{
	const char *v = get(var);
	char accepts[64], def[24];
	long n;
	if (!v)
		return;
	if (bw_parse_long(v, lo, hi, &n) == 0) {
		*out = (int)n;
		return;
	}
	snprintf(accepts, sizeof(accepts), "an integer %ld..%ld", lo, hi);
	snprintf(def, sizeof(def), "%d", *out);
	warn(s, var, v, accepts, def);
}

bool bw_settings_path(struct bw_settings *s, const char *var, const char *val, char *out,
		      size_t size)
{
	size_t n = strlen(val);
	if (val[0] != '/' || n >= size) {
		warn(s, var, val, "an absolute path", "none");
		return false;
	}
	memcpy(out, val, n + 1);
	return true;
}

/* Remapping moves the program and touches the filesystem: never in a
 * secure-execution (setuid/setcap) process. */
static void load_remap(struct bw_settings *s, bw_getenv_fn get)
{
	const char *v = get("BINDWATCH_REMAP");
	struct bw_policy_error err;

	if (v) {
		if (s->secure) {
			warn(s, "BINDWATCH_REMAP", v, "nothing in secure-execution mode", "no remap");
		} else if (bw_policy_parse(v, &s->policy, &err) == 0) {
			s->remap = true;
		} else {
			struct bw_buf b;
			if (warn_begin(s, &b, "BINDWATCH_REMAP", v)) {
				bw_buf_printf(&b, " is invalid at column %zu: %s; remapping nothing\n",
					      err.column, err.msg);
				warn_end(s, &b);
			}
		}
	}
	v = get("BINDWATCH_REMAP_MODE");
	if (v) {
		if (strcmp(v, "always") == 0)
			s->remap_always = true;
		else if (strcmp(v, "conflict") != 0)
			warn(s, "BINDWATCH_REMAP_MODE", v, "conflict|always", "conflict");
	}
	v = get("BINDWATCH_PORT_FILE");
	if (v && s->secure)
		warn(s, "BINDWATCH_PORT_FILE", v, "nothing in secure-execution mode", "none");
	else if (v)
		bw_settings_path(s, "BINDWATCH_PORT_FILE", v, s->port_file, sizeof(s->port_file));
	v = get("BINDWATCH_UNIX_STALE");
	if (v) {
		if (strcmp(v, "unlink") == 0 && s->secure)
			warn(s, "BINDWATCH_UNIX_STALE", v, "keep in secure-execution mode", "keep");
		else if (strcmp(v, "unlink") == 0)
			s->unix_stale_unlink = true;
		else if (strcmp(v, "keep") != 0)
			warn(s, "BINDWATCH_UNIX_STALE", v, "keep|unlink", "keep");
	}
}

void bw_settings_load(struct bw_settings *s, bw_getenv_fn get, bool secure)
{
	const char *v;

	memset(s, 0, sizeof(*s));
	s->format = BW_FORMAT_TEXT;
	s->dest = BW_DEST_STDERR;
	s->stack = true;
	s->stack_depth = BW_STACK_DEPTH_DEFAULT;
	s->scan_ms = 1000;
	s->secure = secure;
	s->ratelimit_s = 10;
	s->trace = BW_TRACE_CONFLICTS;
	/* https://no-color.org ("when present and not an empty string": an
	 * empty NO_COLOR keeps colour), and a terminal that says it can't
	 * (TERM=dumb, terminfo's name for no capabilities); the hook adds
	 * isatty(). */
	v = get("NO_COLOR");
	s->color = !(v && *v);
	v = get("TERM");
	s->color = s->color && !(v && strcmp(v, "dumb") == 0);

	get_bool(s, get, "BINDWATCH_DISABLE", &s->disable);
	get_bool(s, get, "BINDWATCH_STACK", &s->stack);
	s->netlink = true;
	get_bool(s, get, "BINDWATCH_NETLINK", &s->netlink);
	s->bpf = true;
	get_bool(s, get, "BINDWATCH_BPF", &s->bpf);
	get_int(s, get, "BINDWATCH_STACK_DEPTH", 1, BW_STACK_DEPTH_MAX, &s->stack_depth);
	v = get("BINDWATCH_STACK_DEPTH");
	s->text_stack_lines = v && *v ? 0 : BW_TEXT_STACK_LINES;
	get_int(s, get, "BINDWATCH_SCAN_MS", 0, 60000, &s->scan_ms);

	v = get("BINDWATCH_FORMAT");
	if (v) {
		if (strcmp(v, "text") == 0)
			s->format = BW_FORMAT_TEXT;
		else if (strcmp(v, "json") == 0)
			s->format = BW_FORMAT_JSON;
		else
			warn(s, "BINDWATCH_FORMAT", v, "text|json", "text");
	}

	get_int(s, get, "BINDWATCH_RATELIMIT", 0, 86400, &s->ratelimit_s);

	v = get("BINDWATCH_TRACE");
	if (v) {
		if (strcmp(v, "conflicts") == 0)
			s->trace = BW_TRACE_CONFLICTS;
		else if (strcmp(v, "all") == 0)
			s->trace = BW_TRACE_ALL;
		else if (strcmp(v, "off") == 0)
			s->trace = BW_TRACE_OFF;
		else
			warn(s, "BINDWATCH_TRACE", v, "conflicts|all|off", "conflicts");
	}

	load_remap(s, get);

	v = get("BINDWATCH_LOG");
	if (v) {
		if (strcmp(v, "stderr") == 0) {
			s->dest = BW_DEST_STDERR;
		} else if (strcmp(v, "syslog") == 0) {
			s->dest = BW_DEST_SYSLOG;
		} else if (v[0] == '/' && strlen(v) < sizeof(s->log_path)) {
			if (secure) {
				/* A setuid host must not append to a path its caller chose. */
				warn(s, "BINDWATCH_LOG", v, "stderr|syslog (file paths are ignored in secure-execution mode)", "stderr");
			} else {
				s->dest = BW_DEST_FILE;
				memcpy(s->log_path, v, strlen(v) + 1);
			}
		} else {
			warn(s, "BINDWATCH_LOG", v, "stderr|syslog|an absolute file path", "stderr");
		}
	}
}
