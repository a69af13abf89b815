/* bindwatch wait: returns as soon as a bind() to an address would succeed
 * (holder gone, TIME-WAIT expired, socket file removed), or fails at a
 * timeout. For restart scripts and CI. See bindwatch(1). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "basic/fmt.h"
#include "diagnose/diagnose.h"
#include "basic/sysio.h"
#include "lookup/socktab.h"

/* Re-check this often with nothing to wake us (no events, or events that
 * can't come: TIME-WAIT expiry, unix names), in milliseconds. */
#define POLL_MS 100
#define EVENTS_RECHECK_MS 1000
/* And never more often than this, however many events come (a busy
 * server closing connections on the port sends one per connection). */
#define MIN_RECHECK_MS 20

static const char wait_usage[] =
	"usage: bindwatch wait [--timeout S] [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME\n"
	"\n"
	"Waits until a bind() to the address would succeed, as a program binding it\n"
	"without SO_REUSEADDR would see it (tcp unless udp is given; a bare PORT\n"
	"means every local address, IPv4 and IPv6). Exit 0 as soon as it would,\n"
	"1 at the timeout, 2 on a usage error.\n"
	"\n"
	"  -t, --timeout S   give up after S seconds (default: wait forever)\n"
	"  -q, --quiet       print nothing\n"
	"  -h, --help        this text\n";

/* The directory a unix path's file is created in ("." for a bare name). */
static void unix_dir(const struct bw_addr *a, char *dir, size_t size)
{
	const char *slash = strrchr(a->path, '/');
	if (!slash)
		snprintf(dir, size, ".");
	else
		snprintf(dir, size, "%.*s", slash == a->path ? 1 : (int)(slash - a->path), a->path);
}

bool bw_cli_unix_taken(const struct bw_conflict *c)
{
	return c->cause == BW_CAUSE_UNIX_STALE || c->cause == BW_CAUSE_UNIX_UNVERIFIED ||
	       c->cause == BW_CAUSE_UNIX_NOT_SOCKET;
}

int bw_cli_never(const char *cmd, const struct bw_addr *a, const char *what, int err)
{
	if (a->family == AF_UNIX && (err == ENOENT || err == ENOTDIR)) {
		char dir[BW_UNIX_PATH_MAX + 2];
		unix_dir(a, dir, sizeof(dir));
		bw_cli_error("%s: a bind to %s can never succeed here: its directory %s %s", cmd,
			     what, dir, err == ENOENT ? "does not exist" : "is not a directory");
		return 2;
	}
	return bw_cli_never_binds(cmd, what, -err);
}

int bw_cli_bind_would_succeed(const struct bw_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r, type = a->proto == BW_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int family = a->family, dev_if = (int)a->dev_if;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_UNIX && !a->abstract) {
		struct stat st;
		char dir[BW_UNIX_PATH_MAX + 2];
		if (lstat(a->path, &st) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
		/* bind(2) creates the file, not its directory (ENOENT), and
		 * needs a directory there (ENOTDIR): unix_bind_bsd(). */
		unix_dir(a, dir, sizeof(dir));
		if (stat(dir, &st) < 0)
			return -errno;
		return S_ISDIR(st.st_mode) ? 1 : -ENOTDIR;
	}
	if (family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path + 1, a->path, a->path_len);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + a->path_len);
		type = bw_unix_type(a->proto);
	} else if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		len = sizeof(*sin);
	} else {
		/* AF_INET6, or a bare port: [::] dual-stack covers both families. */
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		if (family == AF_INET6)
			memcpy(&sin6->sin6_addr, a->ip, 16);
		len = sizeof(*sin6);
		family = AF_INET6;
	}
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && a->family == AF_UNSPEC) {
		/* No IPv6 here: the IPv4 wildcard is every local address. */
		struct bw_addr v4 = *a;
		v4.family = AF_INET;
		return bw_cli_bind_would_succeed(&v4);
	}
	if (fd < 0)
		return -errno;
	if (a->family == AF_UNSPEC) {
		int off = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	if (a->dev_if && family == AF_INET6 && bw_addr_is_linklocal(a)) {
		/* The scope id binds it to the device (__inet6_bind()). */
		((struct sockaddr_in6 *)&ss)->sin6_scope_id = a->dev_if;
	} else if (a->dev_if && setsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &dev_if,
					   sizeof(dev_if)) < 0) {
		/* SO_BINDTODEVICE needs CAP_NET_RAW. A device only ever takes
		 * conflicts away (inet_bind_conflict() skips sockets of other
		 * devices): a bind without it that succeeds says yes; one that
		 * fails says nothing (0: taken as held). */
		r = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 1 : 0;
		close(fd);
		return r;
	}
	r = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 1 : errno == EADDRINUSE ? 0 : -errno;
	close(fd);
	return r;
}

/* Something to wake us before the next re-check: sock_diag destroy events
 * for TCP/UDP, inotify on the directory of a unix path; -1 when neither is
 * available. *how names it for the user. */
static int open_watch(const struct bw_addr *a, const char **how)
{
	int fd;
	*how = "polling every 100 ms";
	if (a->family == AF_UNIX) {
		char dir[BW_UNIX_PATH_MAX + 2];
		if (a->abstract)
			return -1;
		unix_dir(a, dir, sizeof(dir));
		fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (fd < 0)
			return -1;
		if (inotify_add_watch(fd, dir, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
			close(fd);
			return -1;
		}
		*how = "watching its directory with inotify";
		return fd;
	}
	/* A specific IPv6 address (not v4-mapped) is held by IPv6 sockets
	 * only; [::] and every IPv4 address also by the other family. */
	fd = bw_sockdiag_watch_destroy(a->proto == BW_PROTO_UDP ? BW_PROTO_UDP : BW_PROTO_TCP,
				       a->family == AF_INET6 && !bw_addr_is_wildcard(a) &&
						       !bw_addr_is_v4mapped(a)
					       ? AF_INET6 : AF_UNSPEC);
	if (fd < 0)
		return -1;
	*how = "watching sock_diag socket-destroy events";
	return fd;
}

/* Reads what woke us; whether it could be the address freeing: a
 * destroyed socket on its port, or a change in the unix path's directory
 * (not filtered by name: the rate bound keeps that cheap). Our own test
 * bind's socket, destroyed at every re-check, has no port and is no reason. */
static bool drain_watch(int fd, const struct bw_addr *a)
{
	if (a->family != AF_UNIX)
		return bw_sockdiag_watch_drain(fd, a->port) != 0;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	while (read(fd, buf, sizeof(buf)) > 0)
		any = true;
	return any;
}

/* On timeout: who still holds it, in one line. */
static void say_holder(const char *cmd, const struct bw_addr *a, const char *what)
{
	struct bw_conflict *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->want = *a;
	c->observer = getpid();
	c->scan_workers = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	c->event = "lookup";
	c->call = "wait";
	bw_diagnose(c, "/proc", 0, 0);
	if (c->n_holders && c->holders[0].pid > 0)
		/* The cause's name only: its hint would name the pid again. */
		fprintf(stderr, "bindwatch: %s: %s still in use (pid %d, %s): %s\n", cmd, what,
			(int)c->holders[0].pid, c->holders[0].have_proc ? c->holders[0].proc.comm : "?",
			bw_cause_name(c->cause));
	else
		fprintf(stderr, "bindwatch: %s: %s still in use: %s: %s\n", cmd, what,
			bw_cause_name(c->cause), c->hint);
	free(c);
}

int bw_cli_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct bw_addr want;
	char what[BW_ADDR_TEXT_MAX + 16];
	const char *how;
	uint64_t start, deadline = 0;
	bool quiet = false;
	int opt, fd, r;
	/* "wait", or "free" waiting after its command: the lines name it. */
	const char *cmd = argv[0];

	optind = 0; /* 0, not 1: glibc then forgets the "+" order main() scanned with */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":t:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 't': {
			double s;
			if (bw_cli_parse_seconds(cmd, optarg, &s) < 0)
				return 2;
			deadline = (uint64_t)(s * 1e9) + 1;
			break;
		}
		case 'q': quiet = true; break;
		case 'h': fputs(wait_usage, stdout); return 0;
		default: return bw_cli_bad_option(cmd, opt, argv);
		}
	}
	if (argc - optind < 1)
		return bw_cli_error("%s: needs an address: [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|"
				    "SERVICE|PATH|@NAME", cmd);
	if (bw_cli_parse_target(cmd, argc - optind, argv + optind, &want) < 0)
		return 2;
	if (want.family != AF_UNIX && want.proto == BW_PROTO_UNKNOWN)
		want.proto = BW_PROTO_TCP;
	bw_cli_load_settings();
	bw_addr_format_proto(&want, what, sizeof(what));
	start = bw_now_ns();
	if (deadline)
		deadline += start - 1;
	/* An address that can never be bound is an error before any wait. */
	r = bw_cli_bind_would_succeed(&want);
	if (r < 0)
		return bw_cli_never(cmd, &want, what, -r);
	fd = open_watch(&want, &how);
	if (!quiet) {
		char limit[64] = "no timeout";
		if (deadline)
			snprintf(limit, sizeof(limit), "timeout %.3gs", (double)(deadline - start) / 1e9);
		fprintf(stderr, "bindwatch: %s: waiting until a bind to %s would succeed (%s; %s)\n",
			cmd, what, how, limit);
	}
	for (;;) {
		uint64_t now, checked, next;
		r = bw_cli_bind_would_succeed(&want);
		if (r != 0)
			break;
		checked = now = bw_now_ns();
		if (deadline && now >= deadline)
			break;
		next = now + (uint64_t)(fd >= 0 ? EVENTS_RECHECK_MS : POLL_MS) * 1000000u;
		if (deadline && deadline < next)
			next = deadline;
		/* Sleep until the next re-check is due or an event that could
		 * be the holder going comes, and at least MIN_RECHECK_MS. */
		while ((now = bw_now_ns()) < next) {
			int ms = (int)((next - now + 999999) / 1000000);
			if (fd >= 0) {
				struct pollfd p = {.fd = fd, .events = POLLIN};
				if (poll(&p, 1, ms) > 0 && drain_watch(fd, &want))
					break;
			} else {
				struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
				nanosleep(&ts, NULL);
			}
		}
		now = bw_now_ns();
		if (now - checked < (uint64_t)MIN_RECHECK_MS * 1000000u) {
			uint64_t left = (uint64_t)MIN_RECHECK_MS * 1000000u - (now - checked);
			struct timespec ts = {0, (long)left};
			nanosleep(&ts, NULL);
		}
	}
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return bw_cli_never(cmd, &want, what, -r);
	if (r == 0) {
		if (!quiet)
			say_holder(cmd, &want, what);
		return 1;
	}
	if (!quiet)
		fprintf(stderr, "bindwatch: %s: %s is free (after %.1fs)\n", cmd, what,
			(double)(bw_now_ns() - start) / 1e9);
	return 0;
}
