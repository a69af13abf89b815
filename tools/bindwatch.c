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

#include "cli.h"
#include "config.h"
#include "diagnose/diagnose.h"
#include "basic/fmt.h"
#include "policy/policy.h"
#include "report/report.h"
#include "supervise/supervise.h"

static const char usage_text[] =
	"usage: bindwatch [OPTIONS] -- COMMAND [ARGS...]\n"
	"       bindwatch who [-tux46Ha] [--json] [ADDRESS]\n"
	"       bindwatch wait [--timeout S] [-q] ADDRESS\n"
	"       bindwatch free [--yes] [--dry-run] [--timeout S] ADDRESS\n"
	"  ADDRESS: [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME\n"
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

/* One line per mistake (cli.h). */
static int usage_error(const char *fmt, const char *arg)
{
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, arg);
	return bw_cli_error("%s (see 'bindwatch --help')", msg);
}

/* The shim: $BINDWATCH_SHIM; else, for the CLI of a build tree (this very
 * binary is <build>/tools/bindwatch, compared by name: an installed CLI
 * never looks into a build tree), <build>/shim/libbindwatch.so; else the
 * installed path. */
static int find_shim(char *out, size_t size)
{
	const char *env = getenv("BINDWATCH_SHIM");
	char self[PATH_MAX];
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
		if (slash && (*slash = '\0', strcmp(self, BW_BUILD_ROOT "/tools") == 0)) {
			snprintf(out, size, "%s", BW_BUILD_ROOT "/shim/libbindwatch.so");
			return access(out, R_OK) == 0 ? 0 : -errno;
		}
	}
	snprintf(out, size, "%s", BW_SHIM_INSTALLED);
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

/* Prepends entry to the list in variable var (sep between entries). */
static int env_prepend(const char *var, const char *entry, const char *sep)
{
	const char *old = getenv(var);
	size_t len = strlen(entry) + (old ? strlen(old) : 0) + strlen(sep) + 1;
	char *v = malloc(len);
	if (!v)
		return -ENOMEM;
	snprintf(v, len, "%s%s%s", entry, old && *old ? sep : "", old && *old ? old : "");
	setenv(var, v, 1);
	free(v);
	return 0;
}

/* LD_PRELOAD for the shim at path. ld.so splits LD_PRELOAD at spaces and
 * colons with no escape (ld.so(8)): a path holding either (a build
 * directory "my builds/") goes in as the bare name, found through its
 * directory put first in LD_LIBRARY_PATH (split at ':' and ';' only). A
 * sanitized shim needs its runtime first in the list. */
static int set_preload(const char *path)
{
	const char *san = BW_SANITIZER_PRELOAD;
	const char *slash = strrchr(path, '/');
	char entry[PATH_MAX + 256];

	if (strpbrk(path, " :")) {
		char dir[PATH_MAX];
		int r;
		if (!slash || strpbrk(slash, " :;") || (size_t)(slash - path) >= sizeof(dir))
			return -EINVAL;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		if (strpbrk(dir, ":;"))
			return -EINVAL;
		r = env_prepend("LD_LIBRARY_PATH", dir, ":");
		if (r < 0)
			return r;
		path = slash + 1;
	}
	snprintf(entry, sizeof(entry), "%s%s%s", san, *san ? " " : "", path);
	return env_prepend("LD_PRELOAD", entry, " ");
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
	char shim[PATH_MAX];
	int r, kind;

	if (argc < 1)
		return usage_error("%s", "no command given: bindwatch [OPTIONS] -- COMMAND, or"
					 " bindwatch who|wait|free ADDRESS");
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
	r = set_preload(shim);
	if (r < 0) {
		fprintf(stderr, "bindwatch: cannot preload '%s': %s\n", shim,
			r == -EINVAL ? "ld.so can't take a path with ':' or ';' in a directory name"
				     : strerror(-r));
		return 127;
	}
	execvp(argv[0], argv);
	r = errno;
	/* A mistyped subcommand ("bindwatch whoo 80") lands here as a command. */
	fprintf(stderr, "bindwatch: cannot run '%s': %s%s\n", argv[0], strerror(r),
		r == ENOENT && !strchr(argv[0], '/')
			? " (not in PATH; bindwatch's own subcommands are who, wait and free)"
			: "");
	return r == ENOENT ? 127 : 126;
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
	int opt, li;
	long v;

	bool json = false;
	const char *run_only = NULL;

	opterr = 0; /* our own one-line messages (bw_cli_bad_option) */
	while ((li = -1, opt = getopt_long(argc, argv, "+:hV", opts, &li)) != -1) {
		if (li >= 0 && opt != 'j' && opt != 'h' && opt != 'V')
			run_only = opts[li].name;
		switch (opt) {
		case 'l':
			if (!one_of(optarg, "stderr", "syslog", NULL) && optarg[0] != '/')
				return usage_error("--log '%s': expected stderr, syslog or an absolute path",
						   optarg);
			envs[n++] = (struct env_opt){"BINDWATCH_LOG", optarg};
			break;
		case 'j':
			json = true;
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
			 * the command runs, in one line: the column, the text
			 * there and what was expected. */
			static struct bw_policy pol;
			struct bw_policy_error err;
			if (bw_policy_parse(optarg, &pol, &err) < 0) {
				return bw_cli_error("--remap '%s': column %zu: %s (found '%.16s'; rules:"
						    " MATCH=ACTION[|ACTION...][,...], see"
						    " libbindwatch(7))", optarg, err.column, err.msg,
						    optarg + (err.column > 0 ? err.column - 1 : 0));
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
			if (optind < argc)
				return usage_error("--version takes nothing after it, got '%s'",
						   argv[optind]);
			printf("bindwatch %s\n", BW_VERSION);
			return 0;
		default:
			return bw_cli_bad_option(NULL, opt, argv);
		}
		if (n == sizeof(envs) / sizeof(envs[0]))
			return usage_error("%s", "too many options");
	}
	/* `bindwatch [OPTIONS] who|wait ...` is the subcommand; after "--" the
	 * word is a command to run (`bindwatch -- who` is coreutils' who). */
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0 &&
	    (strcmp(argv[optind], "who") == 0 || strcmp(argv[optind], "wait") == 0 ||
	     strcmp(argv[optind], "free") == 0)) {
		bool is_who = argv[optind][1] == 'h';
		if (run_only || (json && !is_who))
			return bw_cli_error("--%s applies when bindwatch runs a COMMAND, not to '%s'"
					    " (to run a program named %s: bindwatch [OPTIONS] -- %s ...)",
					    run_only ? run_only : "json", argv[optind], argv[optind],
					    argv[optind]);
		if (argv[optind][0] == 'f')
			return bw_cli_free(argc - optind, argv + optind);
		return is_who ? bw_cli_who(argc - optind, argv + optind, json)
			      : bw_cli_wait(argc - optind, argv + optind);
	}
	return run(argc - optind, argv + optind, envs, n, supervise);
}
