/* bindwatch: run a command under libbindwatch.so, or ask who holds an
 * address ("bindwatch who PORT"). See bindwatch(1). */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "diagnose/diagnose.h"
#include "basic/fmt.h"
#include "policy/policy.h"
#include "report/report.h"
#include "supervise/supervise.h"

static const char usage_text[] =
	"usage: bindwatch [OPTIONS] -- COMMAND [ARGS...]\n"
	"       bindwatch who [--json] [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|PATH|@NAME\n"
	"\n"
	"Runs COMMAND with libbindwatch.so preloaded: a bind()/listen() that fails\n"
	"with EADDRINUSE is reported (holder, cause, stack); the program's own\n"
	"behaviour is unchanged.\n"
	"\n"
	"  --log DEST        stderr (default), syslog, or an absolute file path\n"
	"  --json            one JSON object per report\n"
	"  --no-stack        omit the stack trace\n"
	"  --stack-depth N   at most N frames (1-64, default 32)\n"
	"  --remap RULES     remap policy, e.g. '8080=next' (see libbindwatch(7))\n"
	"  --remap-mode M    conflict (default) or always\n"
	"  --port-file FILE  append 'proto addr from to pid' for every remap\n"
	"  --unix-stale A    keep (default) or unlink stale AF_UNIX socket files\n"
	"  --trace MODE      conflicts (default), all (log every bind/listen), off\n"
	"  --ratelimit SECS  fold identical conflicts within SECS (default 10, 0 = off)\n"
	"  --supervise       watch bind()/listen() through seccomp instead of LD_PRELOAD\n"
	"                    (automatic for static and Go programs)\n"
	"  -h, --help        this text\n"
	"  -V, --version     version\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "bindwatch: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'bindwatch --help'.\n");
	return 2;
}

/* The shim: $BINDWATCH_SHIM, else next to a build-tree CLI
 * (<build>/tools/bindwatch -> <build>/shim/libbindwatch.so), else the
 * installed path. */
static int find_shim(char *out, size_t size)
{
	const char *env = getenv("BINDWATCH_SHIM");
	char self[PATH_MAX - 64];
	ssize_t n;

	if (env && *env) {
		if (access(env, R_OK) != 0)
			return -errno;
		snprintf(out, size, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(out, size, "%s/../shim/libbindwatch.so", self);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
	snprintf(out, size, "%s", BW_SHIM_INSTALLED);
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

/* Options that map one-to-one onto a BINDWATCH_* variable. */
struct env_opt {
	const char *var;
	const char *val;
};

/* The loader ignores LD_PRELOAD (any name with a '/') in a program that
 * runs in secure-execution mode (ld.so(8), AT_SECURE in getauxval(3)): the
 * kernel sets it when execve() changes the effective uid or gid (a
 * set-user-ID or set-group-ID file not on a nosuid mount) or, for a
 * caller whose real uid is not 0, grants file capabilities
 * (security/commoncap.c, cap_bprm_creds_from_file()). One line says so
 * and what to do instead; nothing else changes. */
static void secure_exec_notice(const char *cmd)
{
	char file[PATH_MAX], what[160], instead[160];
	struct statvfs vfs;
	struct stat st;

	if (bw_command_path(cmd, file, sizeof(file)) < 0 || stat(file, &st) < 0 ||
	    (statvfs(file, &vfs) == 0 && (vfs.f_flag & ST_NOSUID)))
		return;
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid()) {
		snprintf(what, sizeof(what), "is set-user-ID (owner uid %u)", (unsigned)st.st_uid);
		snprintf(instead, sizeof(instead), "run it as uid %u", (unsigned)st.st_uid);
	} else if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
		   st.st_gid != getgid()) {
		const struct group *g = getgrgid(st.st_gid);
		snprintf(what, sizeof(what), "is set-group-ID (group %s, gid %u)", g ? g->gr_name : "?",
			 (unsigned)st.st_gid);
		snprintf(instead, sizeof(instead), "run it with real gid %u (setpriv --regid %u)",
			 (unsigned)st.st_gid, (unsigned)st.st_gid);
	} else if (getuid() != 0 && getxattr(file, "security.capability", NULL, 0) > 0) {
		snprintf(what, sizeof(what), "has file capabilities (security.capability)");
		snprintf(instead, sizeof(instead), "run it as root");
	} else {
		return;
	}
	fprintf(stderr,
		"bindwatch: %s %s: the loader ignores LD_PRELOAD there (secure execution), so its"
		" bind()/listen() go unwatched; use --supervise (it then runs without that"
		" privilege), or %s\n",
		file, what, instead);
}

static int run(int argc, char **argv, const struct env_opt *envs, size_t n_envs,
	       bool supervise)
{
	char shim[PATH_MAX], *preload;
	const char *old = getenv("LD_PRELOAD"), *san = BW_SANITIZER_PRELOAD;
	size_t len;
	int r, kind;

	if (argc < 1)
		return usage_error("%s", "no command given");
	for (size_t i = 0; i < n_envs; i++)
		setenv(envs[i].var, envs[i].val, 1);
	/* LD_PRELOAD never reaches a static program, nor Go's own system calls. */
	if (supervise)
		return bw_supervise(argv, 0);
	kind = bw_command_kind(argv[0]);
	if (kind > 0)
		return bw_supervise(argv, kind);
	secure_exec_notice(argv[0]);
	r = find_shim(shim, sizeof(shim));
	if (r < 0) {
		fprintf(stderr, "bindwatch: cannot find libbindwatch.so (%s): %s\n", shim,
			strerror(-r));
		return 127;
	}
	len = strlen(san) + strlen(shim) + (old ? strlen(old) : 0) + 3;
	preload = malloc(len);
	if (!preload) {
		perror("bindwatch");
		return 127;
	}
	/* A sanitized shim needs its runtime first in the list. */
	snprintf(preload, len, "%s%s%s%s%s", san, *san ? " " : "", shim, old && *old ? " " : "",
		 old ? old : "");
	setenv("LD_PRELOAD", preload, 1);
	free(preload);
	execvp(argv[0], argv);
	r = errno;
	fprintf(stderr, "bindwatch: cannot run '%s': %s\n", argv[0], strerror(r));
	return r == ENOENT ? 127 : 126;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

static int who(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	bool json = false;
	enum bw_proto proto = BW_PROTO_UNKNOWN;
	bool want_unix = false;
	const size_t out_size = (size_t)256 * 1024;
	struct bw_conflict *c = NULL;
	char *out = NULL;
	size_t n;
	int opt, found;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'h')
			return fputs(usage_text, stdout), 0;
		else
			return usage_error("%s", "bad option for 'who'");
	}
	argc -= optind;
	argv += optind;
	if (argc == 2) {
		if (strcmp(argv[0], "tcp") == 0)
			proto = BW_PROTO_TCP;
		else if (strcmp(argv[0], "udp") == 0)
			proto = BW_PROTO_UDP;
		else if (strcmp(argv[0], "unix") == 0)
			want_unix = true;
		else
			return usage_error("'%s': expected tcp, udp or unix", argv[0]);
		argc--;
		argv++;
	}
	if (argc != 1)
		return usage_error("%s", "'who' takes one address: PORT, ADDR:PORT, [V6]:PORT, PATH or @NAME");
	/* The lookup honours the same switches as the shim. */
	static struct bw_settings set;
	bw_settings_load(&set, env_get, false);
	for (size_t i = 0; i < set.n_warnings; i++)
		fputs(set.warnings[i], stderr);
	bw_diag_use_settings(&set);
	bw_diag_allow_foreign(); /* not a host process: BPF and pidfd_getfd are fine here */
	c = calloc(1, sizeof(*c));
	out = malloc(out_size);
	if (!c || !out) {
		perror("bindwatch");
		found = 2;
		goto out;
	}
	if (bw_addr_parse(argv[0], &c->want) < 0) {
		found = usage_error("'%s': expected PORT (0-65535), ADDR:PORT, [V6]:PORT, /PATH or @NAME",
				    argv[0]);
		goto out;
	}
	if (want_unix && c->want.family != AF_UNIX) {
		found = usage_error("'%s': unix needs a /PATH or @NAME", argv[0]);
		goto out;
	}
	if (c->want.family != AF_UNIX)
		c->want.proto = proto;
	c->scan_workers = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	c->event = "lookup";
	c->call = "who";
	c->time = time(NULL);
	bw_diagnose(c, "/proc", 0, 0);
	n = json ? bw_report_json(c, out, out_size) : bw_report_table(c, out, out_size);
	fwrite(out, 1, n, stdout);
	found = c->n_holders > 0 || c->cause == BW_CAUSE_UNIX_STALE ? 0 : 1;
out:
	free(out);
	free(c);
	return found;
}

static bool one_of(const char *v, const char *a, const char *b, const char *c)
{
	return strcmp(v, a) == 0 || strcmp(v, b) == 0 || (c && strcmp(v, c) == 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"log", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		{"no-stack", no_argument, NULL, 's'},
		{"stack-depth", required_argument, NULL, 'd'},
		{"remap", required_argument, NULL, 'r'},
		{"remap-mode", required_argument, NULL, 'm'},
		{"port-file", required_argument, NULL, 'p'},
		{"unix-stale", required_argument, NULL, 'u'},
		{"trace", required_argument, NULL, 't'},
		{"ratelimit", required_argument, NULL, 'R'},
		{"supervise", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct env_opt envs[16];
	size_t n = 0;
	bool supervise = false;
	int opt;
	long v;

	if (argc > 1 && strcmp(argv[1], "who") == 0)
		return who(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (!one_of(optarg, "stderr", "syslog", NULL) && optarg[0] != '/')
				return usage_error("--log '%s': expected stderr, syslog or an absolute path",
						   optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_LOG", optarg};
			break;
		case 'j':
			envs[n++] = (struct env_opt){"BINDWATCH_FORMAT", "json"};
			break;
		case 's':
			envs[n++] = (struct env_opt){"BINDWATCH_STACK", "0"};
			break;
		case 'd':
			if (bw_parse_long(optarg, 1, BW_STACK_DEPTH_MAX, &v) < 0)
				return usage_error("--stack-depth '%s': expected an integer 1-64", optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_STACK_DEPTH", optarg};
			break;
		case 'r': {
			/* The same parser as the shim: a bad rule stops us before
			 * the command runs, with the column and what was expected. */
			static struct bw_policy pol;
			struct bw_policy_error err;
			if (bw_policy_parse(optarg, &pol, &err) < 0) {
				fprintf(stderr, "bindwatch: --remap '%s': column %zu: %s\n", optarg,
					err.column, err.msg);
				fprintf(stderr, "bindwatch: %*s^\n", (int)(err.column + 8), "");
				return 2;
			}
			envs[n++] = (struct env_opt){"BINDWATCH_REMAP", optarg};
			break;
		}
		case 'm':
			if (!one_of(optarg, "conflict", "always", NULL))
				return usage_error("--remap-mode '%s': expected conflict or always", optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_REMAP_MODE", optarg};
			break;
		case 'p':
			if (optarg[0] != '/')
				return usage_error("--port-file '%s': expected an absolute path", optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_PORT_FILE", optarg};
			break;
		case 'u':
			if (!one_of(optarg, "keep", "unlink", NULL))
				return usage_error("--unix-stale '%s': expected keep or unlink", optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_UNIX_STALE", optarg};
			break;
		case 't':
			if (!one_of(optarg, "conflicts", "all", "off"))
				return usage_error("--trace '%s': expected conflicts, all or off", optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_TRACE", optarg};
			break;
		case 'R':
			if (bw_parse_long(optarg, 0, 86400, &v) < 0)
				return usage_error("--ratelimit '%s': expected seconds 0-86400", optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_RATELIMIT", optarg};
			break;
		case 'S':
			supervise = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("bindwatch %s\n", BW_VERSION);
			return 0;
		default:
			return usage_error("%s", "unknown option");
		}
		if (n == sizeof(envs) / sizeof(envs[0]))
			return usage_error("%s", "too many options");
	}
	return run(argc - optind, argv + optind, envs, n, supervise);
}
