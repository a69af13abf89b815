/* The address words shared by `who`, `wait` and `free` (cli.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fmt.h"
#include "diagnose/diagnose.h"
#include "cli.h"

static void verror(const char *fmt, va_list ap)
{
	char line[1024];
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive, ap is started */
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "bindwatch: %s\n", line);
}

int bw_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	return 2;
}

int bw_cli_bad_option(const char *cmd, int opt, char *const *argv)
{
	const char *word = argv[optind - 1];
	char shortopt[3] = {'-', (char)optopt, '\0'};

	/* optopt is the short option getopt choked on; 0 for a long one,
	 * which is then the word just consumed. */
	if (optopt && strncmp(word, "--", 2) != 0)
		word = shortopt;
	return bw_cli_error("%s%s%s '%s' (see 'bindwatch%s%s --help')", cmd ? cmd : "",
			    cmd ? ": " : "",
			    opt == ':' ? "missing value for option" : "unknown option", word,
			    cmd ? " " : "", cmd ? cmd : "");
}

/* bw_cli_error for the address words: -EINVAL instead of the exit status. */
static int __attribute__((format(printf, 1, 2))) bad_target(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int proto_word(const char *w, enum bw_proto *proto, bool *unix_only)
{
	*unix_only = false;
	if (strcmp(w, "tcp") == 0)
		*proto = BW_PROTO_TCP;
	else if (strcmp(w, "udp") == 0)
		*proto = BW_PROTO_UDP;
	else if (strcmp(w, "unix") == 0)
		*unix_only = true;
	else
		return -EINVAL;
	return 0;
}

/* "NAME" or "ADDR:NAME" with NAME from the services database: rewritten to
 * the numeric form into out. 0, or -ENOENT (not a service here). */
static int service_port(const char *s, enum bw_proto proto, char *out, size_t size)
{
	const char *colon = strrchr(s, ':'), *name = colon ? colon + 1 : s;
	struct servent se, *res = NULL;
	char buf[1024];

	if (!*name || (name[0] >= '0' && name[0] <= '9') || s[0] == '[')
		return -ENOENT;
	/* getservbyname_r: the CLI may use NSS (the shim never does). */
	if (getservbyname_r(name, proto == BW_PROTO_TCP ? "tcp" : proto == BW_PROTO_UDP ? "udp" : NULL,
			    &se, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	snprintf(out, size, "%.*s%s%d", colon ? (int)(colon - s) : 0, s, colon ? ":" : "",
		 ntohs((uint16_t)res->s_port));
	return 0;
}

int bw_cli_parse_target(const char *cmd, int n, char *const *argv, struct bw_addr *ret)
{
	static const char accepted[] = "expected PORT (1-65535), ADDR:PORT, [V6]:PORT (either"
				       " with %DEV after the address, as ss prints it), a service"
				       " name (http), /PATH or @NAME";
	enum bw_proto proto = BW_PROTO_UNKNOWN;
	bool unix_only = false;
	const char *word;
	struct bw_addr a;

	if (n == 2) {
		struct bw_addr first;
		char numeric[INET6_ADDRSTRLEN + 16];
		/* Two addresses ("who 80 81") are one too many, not a bad
		 * protocol word. */
		if (proto_word(argv[0], &proto, &unix_only) < 0 &&
		    (bw_addr_parse(argv[0], &first) == 0 ||
		     service_port(argv[0], BW_PROTO_UNKNOWN, numeric, sizeof(numeric)) == 0))
			return bad_target("%s: one address expected, got two ('%s' and '%s'); accepted:"
					  " [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME",
					  cmd, argv[0], argv[1]);
		if (proto_word(argv[0], &proto, &unix_only) < 0)
			return bad_target("%s: '%s': expected tcp, udp or unix before the address",
					  cmd, argv[0]);
		argv++;
		n--;
	}
	if (n != 1)
		return bad_target("%s: one address expected, got %d words; accepted: [tcp|udp|unix]"
				  " PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME", cmd,
				  n + (proto != BW_PROTO_UNKNOWN || unix_only ? 1 : 0));
	word = argv[0];
	if (proto == BW_PROTO_UNKNOWN && !unix_only && proto_word(word, &proto, &unix_only) == 0)
		return bad_target("%s: '%s' needs an address after it: %s %s", cmd, word, word,
				  unix_only ? "/PATH|./PATH|@NAME" : "PORT|ADDR:PORT|[V6]:PORT|SERVICE");
	if (bw_addr_parse(word, &a) < 0) {
		char numeric[INET6_ADDRSTRLEN + 16];
		if (unix_only || service_port(word, proto, numeric, sizeof(numeric)) < 0 ||
		    bw_addr_parse(numeric, &a) < 0)
			return bad_target("%s: '%s': %s", cmd, word,
					    unix_only ? "unix needs a /PATH, ./PATH or @NAME" : accepted);
	}
	if (a.family == AF_UNIX && proto != BW_PROTO_UNKNOWN)
		return bad_target("%s: '%s' is a unix socket name, not a %s address", cmd, word,
				    bw_proto_name(proto));
	if (a.family != AF_UNIX && unix_only)
		return bad_target("%s: '%s': unix needs a /PATH, ./PATH or @NAME", cmd, word);
	if (a.family != AF_UNIX && a.port == 0)
		return bad_target("%s: '%s': port 0 is never held (bind() to port 0 takes a free"
				    " port); expected 1-65535", cmd, word);
	if (a.family == AF_UNIX && a.path_len == 0)
		return bad_target("%s: '%s': an empty unix name", cmd, word);
	if (a.family != AF_UNIX)
		a.proto = proto;
	/* ADDR%DEV: the device by name, as ip-link(8) lists them (ss(8)
	 * prints them so), through libc's if_nametoindex(). */
	if (a.dev[0] && (a.dev_if = if_nametoindex(a.dev)) == 0)
		return bad_target("%s: '%s': no network device '%s' here; expected one of the names"
				  " 'ip link' lists", cmd, word, a.dev);
	*ret = a;
	return 0;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

int bw_cli_never_binds(const char *cmd, const char *what, int err)
{
	FILE *f;
	int start = -1;

	if (err != -EACCES)
		return bw_cli_error("%s: a bind to %s can never succeed here: %s", cmd, what,
				    strerror(-err));
	f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
	if (f) {
		if (fscanf(f, "%d", &start) != 1)
			start = -1;
		fclose(f);
	}
	if (start < 0)
		return bw_cli_error("%s: a bind to %s can never succeed here: %s (a privileged"
				    " port: needs CAP_NET_BIND_SERVICE)", cmd, what, strerror(-err));
	return bw_cli_error("%s: a bind to %s can never succeed here: %s (ports below"
			    " net.ipv4.ip_unprivileged_port_start=%d need CAP_NET_BIND_SERVICE)",
			    cmd, what, strerror(-err), start);
}

int bw_cli_never_bindable(const char *cmd, const struct bw_addr *want)
{
	struct bw_addr probe = *want;
	char what[BW_ADDR_TEXT_MAX + 16];
	int r;

	if (want->family == AF_UNIX)
		return 0;
	/* An address no bind can get here (not local, a privileged port for
	 * this user): nothing can hold it, so say why, as wait does. */
	if (probe.proto == BW_PROTO_UNKNOWN)
		probe.proto = BW_PROTO_TCP;
	r = bw_cli_bind_would_succeed(&probe);
	if (r >= 0)
		return 0;
	bw_addr_format_proto(&probe, what, sizeof(what));
	bw_cli_never_binds(cmd, what, r);
	return -EINVAL;
}

void bw_cli_load_settings(void)
{
	static struct bw_settings set;
	bw_settings_load(&set, env_get, false);
	for (size_t i = 0; i < set.n_warnings; i++)
		fputs(set.warnings[i], stderr);
	bw_diag_use_settings(&set);
	bw_diag_allow_foreign(); /* not a host process: BPF and pidfd_getfd are fine here */
}

int bw_cli_parse_seconds(const char *cmd, const char *s, double *ret)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 31536000)) {
		bw_cli_error("%s: --timeout '%s': expected seconds (0-31536000, decimals allowed)", cmd,
			     s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}
