/* bindwatch free: runs the one command that frees an address (stop the
 * unit or container, kill an unmanaged process, remove a stale socket
 * file), after showing it, then waits until a bind there would succeed.
 * See bindwatch(1). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dockerapi.h"
#include "basic/fmt.h"
#include "diagnose/diagnose.h"
#include "diagnose/freecmd.h"
#include "lookup/manager.h"

static const char free_usage[] =
	"usage: bindwatch free [--yes] [--dry-run] [--timeout S] [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME\n"
	"\n"
	"Finds who holds the address and runs the one command that frees it: the\n"
	"manager's (systemctl stop UNIT, docker stop NAME, podman stop NAME), kill PID\n"
	"for a process no manager would restart, rm for a stale socket file; for\n"
	"TIME-WAIT it only waits. Shows the command first and asks on a terminal.\n"
	"Then waits until a bind to the address would succeed. Exit 0 freed, 1 not\n"
	"freed (refused, declined, failed or timed out), 2 on a usage error.\n"
	"\n"
	"  -y, --yes         run it without asking (scripts)\n"
	"  -n, --dry-run     only print the command (exit 0 if there is one)\n"
	"  -t, --timeout S   wait at most S seconds for the address to free (default 10)\n"
	"  -h, --help        this text\n";

/* Whether pid is this process or one of its ancestors (stopping it would
 * stop us, or the shell that runs us). */
static bool own_ancestor(pid_t pid)
{
	pid_t p = getpid();
	for (int depth = 0; p > 0 && depth < 4096; depth++) {
		struct bw_proc pr;
		if (p == pid)
			return true;
		if (p == 1 || bw_proc_info("/proc", p, &pr) < 0)
			break;
		p = pr.ppid;
	}
	return false;
}

static bool in_command(const struct bw_conflict *c, pid_t pid)
{
	for (size_t i = 1; i < c->free_argc; i++)
		if ((pid_t)strtol(c->free_argv[i], NULL, 10) == pid)
			return true;
	return false;
}

/* Whether this process may read pid's fd links (ptrace_may_access():
 * another uid's are closed to us). */
static bool fds_readable(pid_t pid)
{
	char path[48], link[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	return readlink(path, link, sizeof(link)) >= 0 || errno == ENOENT;
}

/* Why a kill command would not free the address, or NULL: a blocking
 * socket whose process is not visible here (nothing to name), or a
 * holder's parent that this user can't see into and that likely holds
 * the socket too: the socket belongs to the parent's uid, not the
 * holder's (a root nginx master whose workers run as nobody: a worker's
 * socket is its master's, and the master respawns killed workers). */
static const char *uncovered(const struct bw_conflict *c, const struct bw_holder *h, char *buf,
			     size_t size)
{
	pid_t pids[BW_FREE_ARGS_MAX];
	int fds[BW_FREE_ARGS_MAX];
	struct bw_free_pids fp;
	char addr[BW_ADDR_TEXT_MAX];
	struct bw_buf b = BW_BUF_INIT(buf, size);

	bw_free_pids(c, pids, fds, BW_FREE_ARGS_MAX, &fp);
	if (c->want.family == AF_UNSPEC) /* a bare port, as it was given */
		snprintf(addr, sizeof(addr), "%u", (unsigned)c->want.port);
	else
		bw_addr_format(&c->want, addr, sizeof(addr));
	if (fp.unseen) {
		bw_buf_printf(&b, "a socket on it has a process bindwatch can't see, which the kill"
				  " would leave holding it: run as root: sudo bindwatch free %s", addr);
		return buf;
	}
	if (fp.more) {
		snprintf(buf, size, "more processes hold it than one command names");
		return buf;
	}
	for (size_t i = 1; h && i < c->free_argc; i++) {
		pid_t pid = (pid_t)strtol(c->free_argv[i], NULL, 10);
		struct bw_proc p, parent;
		if (pid <= 0 || bw_proc_info("/proc", pid, &p) < 0 || !p.have_uid ||
		    p.uid == h->sock.uid || p.ppid <= 1 || in_command(c, p.ppid) ||
		    bw_proc_info("/proc", p.ppid, &parent) < 0 || !parent.have_uid ||
		    parent.uid != h->sock.uid || fds_readable(p.ppid))
			continue;
		bw_buf_printf(&b, "pid %d (%s, uid %u), the parent of pid %d, likely holds it too (the"
				  " socket is uid %u's, pid %d runs as uid %u) and this user can't see"
				  " its fds%s: run as root: sudo bindwatch free %s",
			 (int)p.ppid, parent.comm, (unsigned)parent.uid, (int)pid,
			 (unsigned)h->sock.uid, (int)pid, (unsigned)p.uid,
			 kill(p.ppid, 0) < 0 ? " nor signal it" : "", addr);
		return buf;
	}
	return NULL;
}

/* Whether the command has pid in a kill part. */
static bool killed(const struct bw_conflict *c, pid_t pid)
{
	for (size_t at = 0, end; at < c->free_argc; at = end) {
		end = bw_free_command_end(c, at);
		if (strcmp(c->free_argv[at], "kill") != 0)
			continue;
		for (size_t i = at + 1; i < end; i++)
			if ((pid_t)strtol(c->free_argv[i], NULL, 10) == pid)
				return true;
	}
	return false;
}

/* Why the command must not run, or NULL: never pid 1, never our own
 * ancestor, never the unit or container we run in (the main holder's, or
 * any other blocking process's that a manager command stops), never an
 * unnamed holder. */
static const char *refusal(const struct bw_conflict *c, char *buf, size_t size)
{
	const struct bw_holder *h = c->free_holder >= 0 ? &c->holders[c->free_holder] : NULL;
	struct bw_proc self;
	struct bw_manager own, m;

	switch (c->free_kind) {
	case BW_FREE_NONE:
		snprintf(buf, size, "nothing to run: %s", c->free_note);
		return buf;
	case BW_FREE_KILL:
	case BW_FREE_MANAGER:
		if (c->free_pid == 1)
			return "it would stop pid 1";
		/* kill PID...: the process to act on first and the others that
		 * keep a blocking socket (diagnose/freecmd.c). */
		for (size_t at = 0, end; at < c->free_argc; at = end) {
			end = bw_free_command_end(c, at);
			for (size_t i = at + 1; i < end && strcmp(c->free_argv[at], "kill") == 0; i++) {
				pid_t pid = (pid_t)strtol(c->free_argv[i], NULL, 10);
				if (own_ancestor(pid)) {
					snprintf(buf, size,
						 "pid %d is bindwatch itself or one of its ancestors",
						 (int)pid);
					return buf;
				}
			}
		}
		if (c->free_kind == BW_FREE_KILL)
			return uncovered(c, h, buf, size);
		if (bw_proc_info("/proc", getpid(), &self) < 0)
			return NULL;
		memset(&own, 0, sizeof(own));
		bw_manager_from_cgroup(&own, self.cgroup);
		if (h && !(c->free_pid > 0 && c->free_pid == h->pid) &&
		    ((own.id[0] && strcmp(own.id, h->mgr.id) == 0) ||
		     (own.unit[0] && strcmp(own.unit, h->mgr.unit) == 0 && !h->mgr.outer_id[0]))) {
			snprintf(buf, size, "bindwatch runs in %s itself",
				 own.id[0] ? "that container" : own.unit);
			return buf;
		}
		for (size_t i = 0; i < c->n_procs; i++) {
			const struct bw_process *p = &c->procs[i];
			if (!p->have_proc || killed(c, p->proc.pid))
				continue;
			memset(&m, 0, sizeof(m));
			bw_manager_from_cgroup(&m, p->proc.cgroup);
			if (bw_manager_same(&own, &m)) {
				snprintf(buf, size, "bindwatch runs in %s itself",
					 own.id[0] ? "that container" : own.unit);
				return buf;
			}
		}
		return NULL;
	default:
		return NULL;
	}
}

/* On a terminal: "run it? [y/N]". */
static bool confirmed(void)
{
	char line[16];
	fputs("bindwatch: free: run it? [y/N] ", stderr);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* The processes of a kill command, each pinned by a pidfd (pidfd_open(2))
 * from before the command is shown: a pid named then may be another
 * process by the time the answer comes (the holder ended, its pid was
 * reused), a pidfd never is. */
struct pins {
	int sig;
	size_t n;
	pid_t pid[BW_FREE_ARGS_MAX];
	int fd[BW_FREE_ARGS_MAX];
};

static void unpin(struct pins *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	p->n = 0;
}

/* kill [-KILL] PID...: the signal and the pids of c's command, each pinned
 * (fd -1 when the process is already gone: pinned() then fails). */
static void pin(struct pins *p, const struct bw_conflict *c)
{
	size_t i = 1;

	unpin(p);
	p->sig = SIGTERM;
	if (c->free_kind != BW_FREE_KILL || c->free_argc < 2 || strcmp(c->free_argv[0], "kill") != 0)
		return;
	if (strcmp(c->free_argv[1], "-KILL") == 0) {
		p->sig = SIGKILL;
		i++;
	}
	for (; i < c->free_argc && p->n < BW_FREE_ARGS_MAX; i++, p->n++) {
		p->pid[p->n] = (pid_t)strtol(c->free_argv[i], NULL, 10);
		p->fd[p->n] = pidfd_open(p->pid[p->n], 0);
	}
}

/* Whether every pinned process still lives: then a lookup made after the
 * pins were taken that names the same pids names these processes. */
static bool pinned(const struct pins *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->fd[i] < 0 || pidfd_send_signal(p->fd[i], 0, NULL, 0) < 0)
			return false;
	return true;
}

/* Signals the pinned processes in the command's order (the process to act
 * on last, diagnose/freecmd.c); 0, or -errno of the first that failed with
 * its pid in *ret_pid. */
static int signal_pinned(const struct pins *p, pid_t *ret_pid)
{
	for (size_t i = 0; i < p->n; i++)
		if (pidfd_send_signal(p->fd[i], p->sig, NULL, 0) < 0 && errno != ESRCH) {
			*ret_pid = p->pid[i];
			return -errno;
		}
	return 0;
}

/* A fresh lookup of want, with the command chosen for it; NULL (after
 * saying so) when out of memory. */
static struct bw_conflict *look_up(const struct bw_addr *want)
{
	struct bw_conflict *c = calloc(1, sizeof(*c));
	if (!c) {
		perror("bindwatch");
		return NULL;
	}
	c->want = *want;
	/* Every process, as who --all: a socket passed on (SCM_RIGHTS) to a
	 * process outside the holder's unit or container keeps the address
	 * after that is stopped; the command must cover it. */
	c->scan_all = true;
	c->observer = getpid();
	c->scan_workers = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	c->event = "lookup";
	c->call = "free";
	c->time = time(NULL);
	bw_diagnose(c, "/proc", 0, 0);
	bw_cli_name_containers(c);
	return c;
}

static bool in_use(const struct bw_conflict *c)
{
	return c->n_holders > 0 || bw_cli_unix_taken(c);
}

/* "to free it: ..." for c, the command into cmd. */
static void show(const struct bw_conflict *c, const char *prefix, char *cmd, size_t size)
{
	if (c->free_kind == BW_FREE_WAIT) {
		printf("%sto free it: wait %lds (TIME-WAIT frees itself; nothing to stop)\n", prefix,
		       c->free_in_s);
		cmd[0] = '\0';
	} else {
		bw_free_command(c, cmd, size);
		printf("%sto free it: %s", prefix, cmd);
		if (c->free_kind == BW_FREE_KILL && c->free_note[0])
			printf(" (%s)", c->free_note);
		putchar('\n');
	}
	fflush(stdout);
}

/* "kill -KILL PID...": the processes that hold want NOW (not those a
 * SIGTERM was sent to: a master may have replaced its workers), or "". */
static void next_step(const struct bw_addr *want, char *next, size_t size)
{
	struct bw_conflict *c = look_up(want);
	struct bw_buf b = BW_BUF_INIT(next, size);

	next[0] = '\0';
	if (!c)
		return;
	if (c->free_kind == BW_FREE_KILL && c->free_argc >= 2 && strcmp(c->free_argv[0], "kill") == 0) {
		size_t i = 1;
		if (strcmp(c->free_argv[1], "-KILL") == 0)
			i++;
		bw_buf_puts(&b, "kill -KILL");
		for (; i < c->free_argc; i++)
			bw_buf_printf(&b, " %s", c->free_argv[i]);
	}
	free(c);
}

/* Runs free_argv[at..end) as one command; its exit status, or -errno
 * when it could not start. */
static int run_one(const struct bw_conflict *c, size_t at, size_t end)
{
	char *argv[BW_FREE_ARGS_MAX + 1];
	size_t n = 0;
	int status;
	pid_t pid;

	if (end <= at)
		return -EINVAL;
	for (size_t i = at; i < end; i++)
		argv[n++] = (char *)c->free_argv[i];
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "bindwatch: free: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the command: its parts (joined by " && ") in order, up to the
 * first that fails; that one's status, 0 when all succeeded, -errno when
 * one could not start. A kill after a manager's stop leaves out the
 * processes that ended meanwhile (a container's stop ends every process
 * of its pid namespace, also one moved to another cgroup): kill(1) would
 * fail on them while the address is being freed. */
static int run_command(struct bw_conflict *c)
{
	int r = -EINVAL;
	for (size_t at = 0, end; at < c->free_argc; at = end) {
		end = bw_free_command_end(c, at);
		if (at > 0 && strcmp(c->free_argv[at], "kill") == 0) {
			size_t keep = at + 1;
			for (size_t i = at + 1; i < end; i++)
				if (kill((pid_t)strtol(c->free_argv[i], NULL, 10), 0) == 0 || errno != ESRCH)
					memmove(c->free_argv[keep++], c->free_argv[i], BW_FREE_ARG_MAX);
			if (keep == at + 1)
				continue; /* every one of them has ended */
			end = keep;
		}
		r = run_one(c, at, end);
		if (r != 0)
			return r;
	}
	return r;
}

int bw_cli_free(int argc, char **argv)
{
	static const struct option opts[] = {
		{"yes", no_argument, NULL, 'y'},
		{"dry-run", no_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *timeout = "10";
	char cmd[BW_FREE_ARGS_MAX * (BW_FREE_ARG_MAX + 3)], what[BW_ADDR_TEXT_MAX + 16],
		reason[640];
	bool yes = false, dry = false, sigterm = false;
	struct pins pins = {0};
	struct bw_conflict *c;
	struct bw_addr want;
	int opt, r, words;

	optind = 0; /* as bw_cli_wait: forget main()'s "+" scan */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ynt:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'y': yes = true; break;
		case 'n': dry = true; break;
		case 't': {
			double s;
			if (bw_cli_parse_seconds("free", optarg, &s) < 0)
				return 2;
			timeout = optarg;
			break;
		}
		case 'h': fputs(free_usage, stdout); return 0;
		default: return bw_cli_bad_option("free", opt, argv);
		}
	}
	words = argc - optind;
	if (words < 1)
		return bw_cli_error("free: needs an address: [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|"
				    "SERVICE|PATH|@NAME");
	if (dry && yes)
		return bw_cli_error("free: --yes runs the command and --dry-run only prints it: give"
				    " one of them");
	if (bw_cli_parse_target("free", words, argv + optind, &want) < 0 ||
	    bw_cli_never_bindable("free", &want) < 0)
		return 2;
	bw_cli_load_settings();
	c = look_up(&want);
	if (!c)
		return 1;
	bw_addr_format_proto(&want, what, sizeof(what));
	if (want.family == AF_UNIX && !want.abstract && !in_use(c) &&
	    (r = bw_cli_bind_would_succeed(&want)) < 0) {
		free(c);
		return bw_cli_never("free", &want, what, -r);
	}
	for (int round = 0;; round++) {
		struct bw_conflict *now;
		const char *why;

		if (!in_use(c)) {
			fprintf(stderr, "bindwatch: free: %s is %s\n", what,
				round ? "no longer in use: nothing run" : "not in use");
			unpin(&pins);
			free(c);
			return 0;
		}
		why = refusal(c, reason, sizeof(reason));
		if (why) {
			fprintf(stderr, "bindwatch: free: %s: refused: %s\n", what, why);
			unpin(&pins);
			free(c);
			return 1;
		}
		/* Pinned before it is shown: what is shown is what gets the signal. */
		pin(&pins, c);
		show(c, round ? "bindwatch: free: the holders changed since; " : "", cmd, sizeof(cmd));
		if (dry || c->free_kind == BW_FREE_WAIT)
			break;
		if (!yes && !isatty(STDIN_FILENO)) {
			fprintf(stderr, "bindwatch: free: not run: stdin is no terminal to ask on; pass"
					" --yes to run it\n");
			unpin(&pins);
			free(c);
			return 1;
		}
		if (!yes && !confirmed()) {
			fprintf(stderr, "bindwatch: free: not run\n");
			unpin(&pins);
			free(c);
			return 1;
		}
		/* Look again: the answer may come long after the command was
		 * shown. The same command, its processes still the pinned ones:
		 * run it; else show the new one (and ask again). */
		now = look_up(&want);
		if (!now) {
			unpin(&pins);
			free(c);
			return 1;
		}
		if (in_use(now) && now->free_kind == c->free_kind && !refusal(now, reason, sizeof(reason))) {
			char again[sizeof(cmd)];
			bw_free_command(now, again, sizeof(again));
			if (strcmp(again, cmd) == 0 && (c->free_kind != BW_FREE_KILL || pinned(&pins))) {
				free(now);
				break;
			}
		}
		free(c);
		c = now;
		if (round == 4) {
			fprintf(stderr, "bindwatch: free: not run: the holders of %s changed at every"
					" look\n", what);
			unpin(&pins);
			free(c);
			return 1;
		}
	}
	if (dry) {
		unpin(&pins);
		free(c);
		return 0;
	}
	if (c->free_kind == BW_FREE_KILL && pins.n) {
		pid_t failed = 0;
		/* Through the pidfds: never a process that took a pid since. */
		r = signal_pinned(&pins, &failed);
		if (r < 0) {
			fprintf(stderr, "bindwatch: free: '%s' failed: pid %d: %s\n", cmd, (int)failed,
				strerror(-r));
			unpin(&pins);
			free(c);
			return 1;
		}
		sigterm = pins.sig == SIGTERM;
	} else if (c->free_kind != BW_FREE_WAIT) {
		r = run_command(c);
		if (r != 0) {
			fprintf(stderr, "bindwatch: free: '%s' failed (%s %d)\n", cmd,
				r < 0 ? "errno" : "exit status", r < 0 ? -r : r);
			unpin(&pins);
			free(c);
			return 1;
		}
	}
	unpin(&pins);
	free(c);
	/* The same wait as `bindwatch wait`: until a bind there would succeed. */
	{
		char *wargv[8];
		int n = 0;
		wargv[n++] = "free"; /* bw_cli_wait names its lines after argv[0] */
		wargv[n++] = "--timeout";
		wargv[n++] = (char *)timeout;
		for (int i = optind; i < argc && n < 7; i++)
			wargv[n++] = argv[i];
		wargv[n] = NULL;
		r = bw_cli_wait(n, wargv);
	}
	/* On success wait's own line ("free: WHAT is free (after Ns)") says it. */
	if (r == 1 && sigterm) {
		char next[BW_FREE_ARGS_MAX * (BW_FREE_ARG_MAX + 1) + 16];
		/* kill sends SIGTERM, which a process may catch or ignore: the
		 * next step is SIGKILL, for whoever holds it now. */
		next_step(&want, next, sizeof(next));
		if (next[0])
			fprintf(stderr, "bindwatch: free: SIGTERM did not end it within %ss (the process"
					" catches or ignores it); next: %s\n", timeout, next);
	}
	return r == 0 ? 0 : r == 2 ? 2 : 1;
}
