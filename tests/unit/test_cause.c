/* cause: conflicts built by hand (want address, holders fed through
 * bw_diag_consider, holder processes filled in as the owner scan would),
 * classified, and checked for the cause name and the hint's key facts. */
#include <sys/stat.h>
#include <errno.h>
#include <string.h>

#include "diagnose/cause.h"
#include "check.h"
#include "testaddr.h"
#include "testcause.h"
#include "diagnose/conflict.h"
#include "diagnose/diagnose.h"
#include "diagnose/freecmd.h"

#define SELF_PID 1000

static struct bw_conflict C;


/* A fresh bind() conflict of pid SELF_PID on 'want'. */
static struct bw_conflict *conflict(const char *want, enum bw_proto proto)
{
	memset(&C, 0, sizeof(C));
	C.event = "bind_conflict";
	C.call = "bind";
	C.pid = SELF_PID;
	strcpy(C.comm, "myserver");
	C.fd = 5;
	C.time = 1700000000;
	C.want = A(want);
	C.want.proto = proto;
	C.err = EADDRINUSE;
	return &C;
}

struct sock_spec {
	const char *addr;
	enum bw_proto proto;
	int state;
	uint64_t inode;
	uint32_t uid;
	long timer_ms;
};

/* Feeds one socket through bw_diag_consider; returns the holder it became
 * (NULL if it was not kept). */
static struct bw_holder *sock(struct bw_conflict *c, struct sock_spec sp)
{
	struct bw_sock s;
	size_t before = c->n_holders;
	memset(&s, 0, sizeof(s));
	s.local = A(sp.addr);
	s.local.proto = sp.proto;
	s.remote.family = s.local.family;
	s.remote.proto = sp.proto;
	s.state = sp.state;
	s.inode = sp.inode;
	s.uid = sp.uid;
	s.timer_ms = sp.timer_ms;
	s.timer = sp.timer_ms ? 3 : 0;
	s.listening = (sp.proto == BW_PROTO_TCP && sp.state == BW_TCP_LISTEN) ||
		      (s.local.family == AF_UNIX && sp.state == BW_TCP_LISTEN);
	if (s.local.family == AF_UNIX)
		s.state = sp.state == BW_TCP_LISTEN ? 1 : sp.state;
	bw_diag_consider(c, &s);
	return c->n_holders > before ? &c->holders[c->n_holders - 1] : NULL;
}

/* What the owner scan and bw_proc_info would have found. */
static void owned(struct bw_holder *h, pid_t pid, int fd, const char *comm)
{
	if (!h)
		return;
	h->pid = pid;
	h->fd = fd;
	if (comm) {
		h->have_proc = true;
		h->proc.pid = pid;
		snprintf(h->proc.comm, sizeof(h->proc.comm), "%s", comm);
		snprintf(h->proc.cmdline, sizeof(h->proc.cmdline), "/usr/bin/%s", comm);
		h->proc.cmdline_len = strlen(h->proc.cmdline);
		/* What diagnose.c finds from the executable: /usr/bin/systemd
		 * is a service manager (as pid 1 or systemd --user). */
		h->manager = strcmp(comm, "systemd") == 0;
	}
}

#define LISTEN_TCP(addr, inode) \
	((struct sock_spec){addr, BW_PROTO_TCP, BW_TCP_LISTEN, inode, 0, 0})
#define TIME_WAIT(addr, ms) ((struct sock_spec){addr, BW_PROTO_TCP, BW_TCP_TIME_WAIT, 0, 0, ms})


static void test_listener(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 3, "nginx");
	CHECK_EQ_INT(c->n_holders, 1);
	bw_classify(c);
	CAUSE_IS(c, "listener");
	CHECK_EQ_INT(c->holders[0].cause, BW_CAUSE_LISTENER);
	CHECK_CONTAINS(c->hint, "pid 2000 (nginx)");
	CHECK_CONTAINS(c->hint, "another process");

	/* `who 8080`: a bare port is no bind for the kernel's rules; a holder
	 * with SO_REUSEADDR is a listener, not a reuseaddr_mismatch. */
	c = conflict("8080", BW_PROTO_UNKNOWN);
	c->pid = 0;
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 3, "nginx");
	c->holders[0].reuseaddr = 1;
	bw_classify(c);
	CAUSE_IS(c, "listener");

	/* Without a /proc record the pid alone is named. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 3, NULL);
	bw_classify(c);
	CAUSE_IS(c, "listener");
	CHECK_CONTAINS(c->hint, "pid 2000");
}

static void test_self(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), SELF_PID, 7, "myserver");
	bw_classify(c);
	CAUSE_IS(c, "self");
	CHECK_CONTAINS(c->hint, "fd 7");
	CHECK_CONTAINS(c->hint, "this process");

	/* The CLI's lookup has no pid of its own: nothing is "self". */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	c->pid = 0;
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 7, "x");
	bw_classify(c);
	CAUSE_IS(c, "listener");

	/* A unix path this process already bound. */
	c = conflict("/run/me.sock", BW_PROTO_UNIX_STREAM);
	owned(sock(c, (struct sock_spec){"/run/me.sock", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 300, 0, 0}),
	      SELF_PID, 9, "myserver");
	bw_classify(c);
	CAUSE_IS(c, "self");
	CHECK_CONTAINS(c->hint, "fd 9");
}

static void test_time_wait(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	sock(c, TIME_WAIT("127.0.0.1:8080", 42000));
	sock(c, TIME_WAIT("127.0.0.1:8080", 59500));
	/* A FIN_WAIT2 orphan (no inode either) counts the same. */
	sock(c, ((struct sock_spec){"127.0.0.1:8080", BW_PROTO_TCP, BW_TCP_FIN_WAIT2, 0, 0, 1000}));
	CHECK_EQ_INT(c->n_holders, 3);
	bw_classify(c);
	CAUSE_IS(c, "time_wait");
	for (size_t i = 0; i < c->n_holders; i++)
		CHECK_EQ_INT(c->holders[i].cause, BW_CAUSE_TIME_WAIT);
	CHECK_CONTAINS(c->hint, "60s"); /* the longest, rounded up */
	CHECK_CONTAINS(c->hint, "SO_REUSEADDR");
	CHECK_CONTAINS(c->hint, "tcp_tw_recycle");
	CHECK_CONTAINS(c->hint, "TIME-WAIT");

	/* Only inode-0 TCP sockets are TIME_WAIT: a live socket in the same
	 * state number with an inode is someone's socket. */
	c = conflict("0.0.0.0:5353", BW_PROTO_UDP);
	owned(sock(c, ((struct sock_spec){"0.0.0.0:5353", BW_PROTO_UDP, BW_TCP_TIME_WAIT, 444, 0, 0})),
	      2000, 4, "avahi");
	bw_classify(c);
	CAUSE_IS(c, "listener");
}

static void test_wildcard(void)
{
	/* We want the wildcard; someone holds a specific address. */
	struct bw_conflict *c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 3, "nginx");
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].overlap, BW_OVERLAP_WILDCARD);
	bw_classify(c);
	CAUSE_IS(c, "wildcard_overlap");
	CHECK_CONTAINS(c->hint, "this bind is to the wildcard address");
	CHECK_CONTAINS(c->hint, "127.0.0.1:8080");
	CHECK_CONTAINS(c->hint, "pid 2000 (nginx)");

	/* We want a specific address; someone holds the wildcard. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 2000, 3, "nginx");
	bw_classify(c);
	CAUSE_IS(c, "wildcard_overlap");
	CHECK_CONTAINS(c->hint, "the wildcard 0.0.0.0:8080 held by pid 2000 (nginx)");

	/* Same for IPv6. */
	c = conflict("[::1]:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("[::]:8080", 100)), 2000, 3, "nginx");
	bw_classify(c);
	CAUSE_IS(c, "wildcard_overlap");
	CHECK_CONTAINS(c->hint, "[::]:8080");
}

static void test_dual_stack(void)
{
	struct bw_conflict *c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("[::]:8080", 100)), 2000, 3, "java");
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].overlap, BW_OVERLAP_DUAL_STACK);
	bw_classify(c);
	CAUSE_IS(c, "dual_stack");
	CHECK_CONTAINS(c->hint, "[::]:8080");
	CHECK_CONTAINS(c->hint, "IPV6_V6ONLY");
	CHECK_CONTAINS(c->hint, "pid 2000 (java)");

	/* The other way round: our [::] (V6ONLY off) against an IPv4 holder. */
	c = conflict("[::]:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 3, "java");
	bw_classify(c);
	CAUSE_IS(c, "dual_stack");

	/* With V6ONLY set on ours, the IPv4 socket is no holder at all. */
	c = conflict("[::]:8080", BW_PROTO_TCP);
	c->want_v6only = true;
	CHECK(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)) == NULL);
	bw_classify(c);
	CAUSE_IS(c, "unknown");
}

static void test_not_visible(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	struct bw_holder *h = sock(c, ((struct sock_spec){"127.0.0.1:8080", BW_PROTO_TCP, BW_TCP_LISTEN, 5555, 1001, 0}));
	CHECK(h != NULL);
	bw_classify(c);
	CAUSE_IS(c, "not_visible");
	CHECK_CONTAINS(c->hint, "uid 1001");
	CHECK_CONTAINS(c->hint, "inode 5555");

	/* A unix listener nobody here can see. */
	c = conflict("/run/x.sock", BW_PROTO_UNIX_STREAM);
	sock(c, (struct sock_spec){"/run/x.sock", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 5556, 0, 0});
	c->unix_file = BW_UNIX_FILE_SOCKET;
	bw_classify(c);
	CAUSE_IS(c, "not_visible");
	CHECK_CONTAINS(c->hint, "inode 5556");

	/* A bound unix datagram socket (never "listening") whose process is
	 * not visible: the hint must not name "pid 0" as the holder. */
	c = conflict("/run/log.sock", BW_PROTO_UNIX_DGRAM);
	sock(c, (struct sock_spec){"/run/log.sock", BW_PROTO_UNIX_DGRAM, 1, 5557, 0, 0});
	c->unix_file = BW_UNIX_FILE_SOCKET; /* a bound datagram socket owns its path */
	bw_classify(c);
	CAUSE_IS(c, "not_visible");
	CHECK_NOT_CONTAINS(c->hint, "pid 0");
}

static void test_socket_activation(void)
{
	struct bw_conflict *c = conflict("0.0.0.0:22", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:22", 100)), 1, 50, "systemd");
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");
	CHECK_CONTAINS(c->hint, "pid 1");
	CHECK_CONTAINS(c->hint, "systemctl list-sockets");
	CHECK_CONTAINS(c->hint, "LISTEN_FDS");

	/* pid 1 without a readable record. */
	c = conflict("0.0.0.0:22", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:22", 100)), 1, 50, NULL);
	c->holders[0].manager = true;
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");

	/* A daemon whose name merely starts with "systemd" is an ordinary
	 * holder (issue 10: systemd-resolved was named socket activation). */
	c = conflict("127.0.0.53:53", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.53:53", 100)), 321, 12, "systemd-resolve");
	bw_classify(c);
	CAUSE_IS(c, "listener");
	CHECK_CONTAINS(c->hint, "stop the holder (pid 321)");

	/* A user manager (systemd --user) is socket activation too, but it is
	 * not pid 1... */
	c = conflict("127.0.0.1:8000", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8000", 100)), 1234, 3, "systemd");
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");
	/* ...so the hint must not say pid 1 holds it. */
	CHECK_NOT_CONTAINS(c->hint, "(pid 1)");

	/* A container's pid 1 that is an ordinary program is a listener. */
	c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 1, 3, "python3");
	bw_classify(c);
	CAUSE_IS(c, "listener");

	/* A service that received its socket through LISTEN_FDS. */
	c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 4321, 3, "nginx");
	c->holders[0].proc.listen_fds = true;
	c->holders[0].proc.n_listen_fds = 1; /* fd 3 */
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");
	CHECK_CONTAINS(c->hint, "pid 4321 (nginx) got the socket from its service manager");
	CHECK_CONTAINS(c->hint, "stop the socket unit");

	/* The same from systemd-socket-activate run in a login session: its
	 * cgroup names no unit, so no manager restarts it: kill it. */
	c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 4321, 3, "python3");
	c->holders[0].proc.listen_fds = true;
	c->holders[0].proc.n_listen_fds = 1;
	snprintf(c->holders[0].proc.cgroup, sizeof(c->holders[0].proc.cgroup),
		 "/user.slice/user-1000.slice/session-2.scope");
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");
	CHECK_CONTAINS(c->hint, "got the socket through LISTEN_FDS from the program that started it");
	CHECK_NOT_CONTAINS(c->hint, "socket unit owns");
	bw_free_choose(c);
	CHECK_EQ_INT(c->free_kind, BW_FREE_KILL);
	CHECK_EQ_INT(c->free_pid, 4321);
	/* ...and systemd-socket-activate itself, before it ran the program. */
	c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 4000, 3, "systemd-socket-");
	c->holders[0].manager = true;
	snprintf(c->holders[0].proc.cgroup, sizeof(c->holders[0].proc.cgroup),
		 "/user.slice/user-1000.slice/session-2.scope");
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");
	CHECK_CONTAINS(c->hint, "pid 4000 (systemd-socket-) holds the socket for socket activation"
				" and hands it to the programs it starts; no .socket unit owns it");
	bw_free_choose(c);
	CHECK_EQ_INT(c->free_kind, BW_FREE_KILL);
	CHECK_EQ_INT(c->free_pid, 4000);
}

/* The command that frees it, rendered as the reports show it. */
static void free_is(const struct bw_conflict *c, enum bw_free_kind kind, const char *cmd)
{
	char buf[512];
	bw_free_command(c, buf, sizeof(buf));
	CHECK_EQ_INT(c->free_kind, kind);
	CHECK_STREQ(buf, cmd);
}

static void test_unix(void)
{
	struct bw_conflict *c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	owned(sock(c, (struct sock_spec){"/run/app.sock", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 300, 0, 0}),
	      2000, 4, "appd");
	c->unix_file = BW_UNIX_FILE_SOCKET;
	bw_classify(c);
	CAUSE_IS(c, "unix_live");
	CHECK_CONTAINS(c->hint, "pid 2000 (appd)");

	/* Other names never match. */
	c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	CHECK(sock(c, (struct sock_spec){"/run/app.sock2", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 301, 0, 0}) == NULL);
	CHECK(sock(c, (struct sock_spec){"@/run/app.sock", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 302, 0, 0}) == NULL);
	CHECK(sock(c, (struct sock_spec){"/run/app", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 303, 0, 0}) == NULL);
	CHECK(sock(c, (struct sock_spec){"127.0.0.1:80", BW_PROTO_TCP, BW_TCP_LISTEN, 304, 0, 0}) == NULL);

	/* Stale: the file is a socket, sock_diag shows nothing bound to it
	 * in any network namespace (the others searched by the file). */
	c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_vfs_checked = true;
	c->unix_netns_searched = true;
	c->unix_netns_other = 2;
	bw_classify(c);
	CAUSE_IS(c, "unix_stale");
	CHECK_CONTAINS(c->hint, "no socket in any network namespace is bound to it");
	CHECK_CONTAINS(c->hint, "2 other namespaces searched");
	CHECK_CONTAINS(c->hint, "unlink");
	CHECK(c->n_fixes == 1 && c->fixes[0].kind == BW_FIX_UNLINK);

	/* Another namespace searched only by name, one process unseen, or no
	 * search at all: maybe live; nothing offers to remove it. */
	for (int k = 0; k < 3; k++) {
		c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
		c->unix_file = BW_UNIX_FILE_SOCKET;
		c->unix_vfs_checked = true;
		c->unix_netns_searched = k < 2;
		c->unix_netns_other = 1;
		c->unix_netns_by_name = k == 0;
		c->unix_netns_unseen = k == 1;
		bw_classify(c);
		CAUSE_IS(c, "unix_unverified");
		CHECK_CONTAINS(c->hint, "may own it");
		CHECK_CONTAINS(c->hint, k == 0 ? "searched by name" : k == 1 ? "1 process could not"
											: "were not searched");
		CHECK(c->n_fixes == 0);
		free_is(c, BW_FREE_NONE, "");
		CHECK_CONTAINS(c->free_note, "may belong to a live socket");
	}

	/* Stale although connected leftovers still carry the name. */
	c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	owned(sock(c, (struct sock_spec){"/run/app.sock", BW_PROTO_UNIX_STREAM, 3, 305, 0, 0}), 2000, 4, "appd");
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_vfs_checked = true;
	c->unix_netns_searched = true;
	bw_classify(c);
	CAUSE_IS(c, "unix_stale");

	/* Live: bound, not listening yet; and a bound datagram receiver. */
	c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	owned(sock(c, (struct sock_spec){"/run/app.sock", BW_PROTO_UNIX_STREAM, 1, 307, 0, 0}), 2000, 4, "appd");
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_vfs_checked = true;
	bw_classify(c);
	CAUSE_IS(c, "unix_live");
	c = conflict("/run/app.sock", BW_PROTO_UNIX_DGRAM);
	owned(sock(c, (struct sock_spec){"/run/app.sock", BW_PROTO_UNIX_DGRAM, 3, 308, 0, 0}), 2000, 4, "appd");
	c->unix_file = BW_UNIX_FILE_SOCKET;
	bw_classify(c);
	CAUSE_IS(c, "unix_live");

	/* The path is a regular file, a directory: named, never removed. */
	c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	c->unix_file = BW_UNIX_FILE_OTHER;
	c->unix_mode = S_IFREG;
	bw_classify(c);
	CAUSE_IS(c, "unix_not_socket");
	CHECK_CONTAINS(c->hint, "is a regular file, not a socket");
	CHECK(c->n_fixes == 0);
	free_is(c, BW_FREE_NONE, "");
	c->unix_mode = S_IFDIR;
	bw_classify(c);
	CHECK_CONTAINS(c->hint, "is a directory, not a socket");

	/* A socket file no socket names in /proc/net/unix (no sock_diag):
	 * stale, and the hint says which table was searched. */
	c = conflict("/run/app.sock", BW_PROTO_UNIX_STREAM);
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->table_from_proc = true;
	c->unix_netns_searched = true;
	bw_classify(c);
	CAUSE_IS(c, "unix_stale");
	CHECK_CONTAINS(c->hint, "/proc/net/unix");

	/* Abstract names: the kernel lists NULs as '@'. */
	c = conflict("@x", BW_PROTO_UNIX_STREAM);
	c->want.path[1] = '\0';
	c->want.path[2] = 'y';
	c->want.path[3] = '\0';
	c->want.path_len = 3; /* "x\0y" */
	owned(sock(c, (struct sock_spec){"@x@y", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 306, 0, 0}), 2000, 4, "appd");
	CHECK_EQ_INT(c->n_holders, 1);
	bw_classify(c);
	CAUSE_IS(c, "unix_live");
}

static void test_ephemeral(void)
{
	struct bw_conflict *c = conflict("0.0.0.0:0", BW_PROTO_TCP);
	c->port_lo = 40000;
	c->port_hi = 40001;
	c->ports_in_use = 2;
	bw_classify(c);
	CAUSE_IS(c, "ephemeral_exhausted");
	CHECK_CONTAINS(c->hint, "40000-40001");
	CHECK_CONTAINS(c->hint, "ip_local_port_range");
	CHECK_CONTAINS(c->hint, "2 ports in use");

	/* Port 0 without a known range is not called exhaustion. */
	c = conflict("0.0.0.0:0", BW_PROTO_TCP);
	bw_classify(c);
	CAUSE_IS(c, "unknown");
}

static void test_unknown(void)
{
	/* Read from /proc/net (sock_diag unavailable): a TCP socket bound
	 * but not listening is not listed there, and the hint says so. */
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	c->table_from_proc = true;
	bw_classify(c);
	CAUSE_IS(c, "unknown");
	CHECK_CONTAINS(c->hint, "/proc/net/{tcp,udp}{,6}");
	CHECK_CONTAINS(c->hint, "bound but not listening");
	CHECK_NOT_CONTAINS(c->hint, "errno");

	/* Through sock_diag, which lists bound sockets since Linux 6.8. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	bw_classify(c);
	CAUSE_IS(c, "unknown");
	CHECK_CONTAINS(c->hint, "sock_diag");
	CHECK_CONTAINS(c->hint, "older than 6.8");
	CHECK_NOT_CONTAINS(c->hint, "/proc/net");

	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	c->table_errno = EACCES;
	bw_classify(c);
	CAUSE_IS(c, "unknown");
	CHECK_CONTAINS(c->hint, "errno 13");
}

/* The most actionable holder decides, whatever the order they came in. */
static void test_priority(void)
{
	static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

	for (size_t o = 0; o < 6; o++) {
		struct bw_conflict *c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
		for (size_t k = 0; k < 3; k++) {
			switch (orders[o][k]) {
			case 0:
				sock(c, TIME_WAIT("0.0.0.0:8080", 30000));
				break;
			case 1:
				owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 2000, 3, "other");
				break;
			case 2:
				owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 101)), SELF_PID, 6, "myserver");
				break;
			}
		}
		bw_classify(c);
		CAUSE_IS(c, "self");
		CHECK_CONTAINS(c->hint, "fd 6");
	}

	for (size_t o = 0; o < 2; o++) {
		struct bw_conflict *c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
		if (o)
			sock(c, TIME_WAIT("0.0.0.0:8080", 30000));
		owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 2000, 3, "other");
		if (!o)
			sock(c, TIME_WAIT("0.0.0.0:8080", 30000));
		bw_classify(c);
		CAUSE_IS(c, "listener");
		CHECK_CONTAINS(c->hint, "pid 2000 (other)");
	}

	/* Per-holder causes stay per holder. */
	{
		struct bw_conflict *c = conflict("0.0.0.0:8080", BW_PROTO_TCP);
		sock(c, TIME_WAIT("0.0.0.0:8080", 30000));
		sock(c, LISTEN_TCP("0.0.0.0:8080", 7000)); /* not visible */
		owned(sock(c, LISTEN_TCP("[::]:8080", 7001)), 2001, 3, "java");
		owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 7002)), 2002, 3, "py");
		bw_classify(c);
		CHECK_EQ_INT(c->n_holders, 4);
		/* Kept listeners first, TIME_WAIT last is not promised; look them up. */
		for (size_t i = 0; i < c->n_holders; i++) {
			const struct bw_holder *h = &c->holders[i];
			if (h->sock.inode == 0)
				CHECK_EQ_INT(h->cause, BW_CAUSE_TIME_WAIT);
			else if (h->sock.inode == 7000)
				CHECK_EQ_INT(h->cause, BW_CAUSE_NOT_VISIBLE);
			else if (h->sock.inode == 7001)
				CHECK_EQ_INT(h->cause, BW_CAUSE_DUAL_STACK);
			else
				CHECK_EQ_INT(h->cause, BW_CAUSE_WILDCARD_OVERLAP);
		}
		CAUSE_IS(c, "dual_stack");
	}
}

static void test_names(void)
{
	static const char *const names[] = {
		"unknown", "listener", "self", "time_wait", "wildcard_overlap", "dual_stack",
		"reuseport_mismatch", "unix_live", "unix_stale", "ephemeral_exhausted",
		"socket_activation", "not_visible", "reuseaddr_mismatch", "bound_only",
		"unix_unverified", "unix_not_socket",
	};
	for (int i = 0; i <= BW_CAUSE_UNIX_NOT_SOCKET; i++)
		CHECK_STREQ(bw_cause_name((enum bw_cause)i), names[i]);
	CHECK_STREQ(bw_cause_name((enum bw_cause)99), "unknown");
}

/* A fresh conflict on 127.0.0.1:8080 whose holder (pid 2000, comm) is
 * managed by kind through unit (and socket_unit, "" none). */
static struct bw_holder *managed(const char *comm, enum bw_mgr_kind kind, const char *unit,
				 const char *socket_unit)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	struct bw_holder *h = sock(c, LISTEN_TCP("127.0.0.1:8080", 100));
	owned(h, 2000, 3, comm);
	h->mgr.kind = kind;
	snprintf(h->mgr.unit, sizeof(h->mgr.unit), "%s", unit);
	snprintf(h->mgr.socket_unit, sizeof(h->mgr.socket_unit), "%s", socket_unit);
	return h;
}

static void test_remedy(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	struct bw_holder *h;

	/* A plain process: kill it, by pid. */
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), 2000, 3, "nc");
	bw_classify(c);
	free_is(c, BW_FREE_KILL, "kill 2000");
	CHECK_EQ_INT(c->free_pid, 2000);

	/* A service: its manager would restart a killed process. */
	managed("python3", BW_MGR_SYSTEMD, "web.service", "");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop web.service");
	CHECK_CONTAINS(c->hint, "of unit web.service");
	CHECK_CONTAINS(c->hint, "stop the holder (pid 2000) through its manager: systemctl stop"
				" web.service");

	/* A login session's scope is no service: the process is stopped. */
	managed("nc", BW_MGR_SYSTEMD, "session-2.scope", "");
	bw_classify(c);
	free_is(c, BW_FREE_KILL, "kill 2000");

	/* The user manager: --user for its own user, -M USER@ for another. */
	h = managed("python3", BW_MGR_SYSTEMD_USER, "web.service", "");
	h->mgr.user = 4242;
	c->caller_uid = 4242;
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl --user stop web.service");
	c->caller_uid = 0;
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl --user -M 4242@ stop web.service");

	/* Socket activation: the .socket unit (and the service that has it). */
	managed("systemd", BW_MGR_SYSTEMD, "", "echo.socket")->pid = 1;
	bw_classify(c);
	CAUSE_IS(c, "socket_activation");
	CHECK_CONTAINS(c->hint, "echo.socket");
	free_is(c, BW_FREE_MANAGER, "systemctl stop echo.socket");
	{
		struct bw_holder *svc = managed("python3", BW_MGR_SYSTEMD, "echo.service", "echo.socket");
		svc->proc.listen_fds = true;
		svc->proc.n_listen_fds = svc->fd < 3 ? 1 : svc->fd - 2;
	}
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop echo.socket echo.service");
	/* pid 1 without a unit file that names the address: nothing to run,
	 * and never `kill 1`. */
	managed("systemd", BW_MGR_NONE, "", "")->pid = 1;
	bw_classify(c);
	free_is(c, BW_FREE_NONE, "");
	CHECK_CONTAINS(c->free_note, "list-sockets");

	/* A unit of a systemd running in another container. */
	h = managed("python3", BW_MGR_SYSTEMD, "web.service", "");
	snprintf(h->mgr.outer_id, sizeof(h->mgr.outer_id), "%064d", 7);
	snprintf(h->mgr.outer_name, sizeof(h->mgr.outer_name), "sd");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "docker exec sd systemctl stop web.service");

	/* Containers: by name, else by short id; an orphaned proxy is killed. */
	h = managed("docker-proxy", BW_MGR_DOCKER, "", "");
	h->mgr.proxy = true;
	snprintf(h->mgr.name, sizeof(h->mgr.name), "web");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "docker stop web");
	CHECK_CONTAINS(c->hint, "publishing container web");
	h->mgr.name[0] = '\0';
	snprintf(h->mgr.id, sizeof(h->mgr.id), "7825ad8bb8458644d911b2f2");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "docker stop 7825ad8bb845");
	h->mgr.orphaned = true;
	bw_classify(c);
	free_is(c, BW_FREE_KILL, "kill 2000");
	h->mgr.kind = BW_MGR_PODMAN;
	h->mgr.orphaned = false;
	snprintf(h->mgr.name, sizeof(h->mgr.name), "db");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "podman stop db");

	/* TIME-WAIT: nothing to run, the seconds until it frees itself. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	sock(c, TIME_WAIT("127.0.0.1:8080", 41200));
	bw_classify(c);
	free_is(c, BW_FREE_WAIT, "");
	CHECK_EQ_INT(c->free_in_s, 42);

	/* Not visible, no manager in its cgroup: no command, a reason. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	h = sock(c, ((struct sock_spec){"127.0.0.1:8080", BW_PROTO_TCP, BW_TCP_LISTEN, 100, 1000, 0}));
	snprintf(h->sock_user, sizeof(h->sock_user), "alice");
	bw_classify(c);
	free_is(c, BW_FREE_NONE, "");
	CHECK_CONTAINS(c->free_note, "uid 1000 alice");
	/* ... but with a unit from the socket's cgroup, the unit is stopped. */
	h->mgr.kind = BW_MGR_SYSTEMD;
	snprintf(h->mgr.unit, sizeof(h->mgr.unit), "alice-web.service");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop alice-web.service");

	/* A stale socket file: removed, its path quoted for the shell. */
	c = conflict("/tmp/my app's.sock", BW_PROTO_UNIX_STREAM);
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_vfs_checked = true;
	c->unix_netns_searched = true;
	bw_classify(c);
	CAUSE_IS(c, "unix_stale");
	free_is(c, BW_FREE_REMOVE, "rm -- '/tmp/my app'\\''s.sock'");
	/* As the user reaches it (the front end resolved it)... */
	snprintf(c->unix_user_path, sizeof(c->unix_user_path), "/proc/42/root/tmp/x.sock");
	bw_classify(c);
	free_is(c, BW_FREE_REMOVE, "rm -- /proc/42/root/tmp/x.sock");
	/* ... and never a relative path, valid only in the program's cwd. */
	c = conflict("/x.sock", BW_PROTO_UNIX_STREAM);
	snprintf(c->want.path, sizeof(c->want.path), "run/x.sock");
	c->want.path_len = strlen(c->want.path);
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_vfs_checked = true;
	c->unix_netns_searched = true;
	bw_classify(c);
	CAUSE_IS(c, "unix_stale");
	free_is(c, BW_FREE_NONE, "");
	CHECK_CONTAINS(c->free_note, "relative to the program's working directory");
	/* Control bytes and bytes that are no UTF-8: bash's $'...', whose
	 * \xNN is the byte again. */
	c = conflict("/tmp/nl\nx'\xff.sock", BW_PROTO_UNIX_STREAM);
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_vfs_checked = true;
	c->unix_netns_searched = true;
	bw_classify(c);
	free_is(c, BW_FREE_REMOVE, "rm -- $'/tmp/nl\\x0ax\\'\\xff.sock'");

	/* Its own fd: nothing to kill. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), SELF_PID, 7, "myserver");
	bw_classify(c);
	free_is(c, BW_FREE_NONE, "");
}

/* h's processes as the owner scan and bw_relation_fill leave them: the
 * process to act on first, then the others (pids[], fds[]). */
static void shared(struct bw_conflict *c, struct bw_holder *h, const pid_t *pids, const int *fds,
		   size_t n)
{
	h->first_proc = c->n_hprocs;
	h->n_procs = n;
	for (size_t i = 0; i < n; i++) {
		struct bw_holder_proc *hp = &c->hprocs[c->n_hprocs++];
		memset(hp, 0, sizeof(*hp));
		hp->pid = pids[i];
		hp->fd = fds[i];
		hp->proc = -1;
	}
	h->pid = pids[0];
	h->fd = fds[0];
}

/* Fixes that free the address: every process and socket that blocks is
 * stopped, the caller never; sure fixes before conditional ones. */
static void test_remedy_every_holder(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	struct bw_holder *h;

	/* A pre-fork master (2000) and its workers: all of them go, the
	 * master signalled last. */
	h = sock(c, LISTEN_TCP("127.0.0.1:8080", 100));
	shared(c, h, (const pid_t[]){2000, 2001, 2002}, (const int[]){3, 3, 3}, 3);
	bw_classify(c);
	CHECK_EQ_INT(c->fixes[0].kind, BW_FIX_STOP);
	CHECK_EQ_INT(c->fixes[0].pid, 2000);
	CHECK_EQ_INT(c->fixes[0].n_pids, 3);
	free_is(c, BW_FREE_KILL, "kill 2001 2002 2000");
	CHECK_CONTAINS(c->hint, "stop pid 2000 and the 2 other processes that have its socket open"
				" (pid 2001, pid 2002)");

	/* Two sockets: 0.0.0.0:8080 and an IPv6-only [::]:8080, against a
	 * dual-stack [::]:8080: both block, both go. */
	c = conflict("[::]:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("0.0.0.0:8080", 100)), 2000, 3, "a");
	h = sock(c, LISTEN_TCP("[::]:8080", 101));
	owned(h, 3000, 3, "b");
	h->sock.v6only = true;
	bw_classify(c);
	CHECK_EQ_INT(c->fixes[0].kind, BW_FIX_STOP);
	CHECK_EQ_INT(c->fixes[0].n_pids, 2);
	CHECK_EQ_INT(c->fixes[0].pids[0] + c->fixes[0].pids[1], 5000);
	CHECK(strstr(c->hint, "stop the holders (") != NULL);
	CHECK_EQ_INT(c->free_argc, 3);

	/* Self through a socket its parent (1999) still has: use the fd,
	 * then close it here and in the parent; never stop itself. */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	h = sock(c, LISTEN_TCP("127.0.0.1:8080", 100));
	shared(c, h, (const pid_t[]){SELF_PID, 1999}, (const int[]){7, 3}, 2);
	bw_classify(c);
	CAUSE_IS(c, "self");
	CHECK_EQ_INT(c->n_fixes, 3);
	CHECK_EQ_INT(c->fixes[0].kind, BW_FIX_USE_FD);
	CHECK_EQ_INT(c->fixes[0].fd, 7);
	CHECK_EQ_INT(c->fixes[1].kind, BW_FIX_PORT);
	CHECK_EQ_INT(c->fixes[2].kind, BW_FIX_CLOSE);
	CHECK_EQ_INT(c->fixes[2].target, BW_FIX_HOLDER);
	CHECK_EQ_INT(c->fixes[2].pid, 1999);
	CHECK_EQ_INT(c->fixes[2].own_fd, 7);
	for (size_t i = 0; i < c->n_fixes; i++)
		CHECK(c->fixes[i].kind != BW_FIX_STOP);
	free_is(c, BW_FREE_NONE, "");
	CHECK_CONTAINS(c->free_note, "pid 1999 has a copy too");

	/* Alone with it: close its own fd (caller side). */
	c = conflict("127.0.0.1:8080", BW_PROTO_TCP);
	owned(sock(c, LISTEN_TCP("127.0.0.1:8080", 100)), SELF_PID, 7, "myserver");
	bw_classify(c);
	CHECK_EQ_INT(c->fixes[0].kind, BW_FIX_USE_FD);
	CHECK_EQ_INT(c->fixes[2].kind, BW_FIX_CLOSE);
	CHECK_EQ_INT(c->fixes[2].target, BW_FIX_CALLER);

	/* A unix path it bound itself: use that fd too. */
	c = conflict("/run/me.sock", BW_PROTO_UNIX_STREAM);
	owned(sock(c, (struct sock_spec){"/run/me.sock", BW_PROTO_UNIX_STREAM, BW_TCP_LISTEN, 300, 0, 0}),
	      SELF_PID, 9, "myserver");
	bw_classify(c);
	CHECK_EQ_INT(c->fixes[0].kind, BW_FIX_USE_FD);
	CHECK_EQ_INT(c->fixes[0].fd, 9);
	CHECK_EQ_INT(c->fixes[1].kind, BW_FIX_CLOSE);

	/* UDP 127.0.0.53:53 (SO_REUSEADDR unknown), a bind of 0.0.0.0:53:
	 * the sure address first, SO_REUSEADDR (assumes) last. */
	c = conflict("0.0.0.0:53", BW_PROTO_UDP);
	owned(sock(c, ((struct sock_spec){"127.0.0.53:53", BW_PROTO_UDP, 7, 100, 0, 0})), 2000, 3,
	      "systemd-resolve");
	bw_classify(c);
	CHECK_EQ_INT(c->fixes[0].kind, BW_FIX_ADDRESS);
	CHECK(c->fixes[0].assumes == NULL);
	CHECK(c->fixes[c->n_fixes - 1].assumes != NULL);
	CHECK_EQ_INT(c->fixes[c->n_fixes - 1].name, SO_REUSEADDR);
}

/* Process pid of holder h's processes described as bw_relation_fill and
 * bw_proc_info leave it: its comm and cgroup, the unit and container
 * read from that. */
static struct bw_process *described(struct bw_conflict *c, pid_t pid, const char *comm,
				    const char *cgroup)
{
	struct bw_process *p = &c->procs[c->n_procs];
	memset(p, 0, sizeof(*p));
	p->have_proc = true;
	p->proc.pid = pid;
	snprintf(p->proc.comm, sizeof(p->proc.comm), "%s", comm);
	snprintf(p->proc.cgroup, sizeof(p->proc.cgroup), "%s", cgroup);
	bw_proc_cgroup_identity(cgroup, p->proc.unit, sizeof(p->proc.unit), p->proc.container,
				sizeof(p->proc.container));
	for (size_t i = 0; i < c->n_hprocs; i++)
		if (c->hprocs[i].pid == pid)
			c->hprocs[i].proc = (int)c->n_procs;
	c->n_procs++;
	return p;
}

#define CTR "7825ad8bb8458644d911b2f2a1c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1"

/* A socket whose processes live in several units, containers and plain
 * cgroups (a child moved out of its service: systemd-run --scope, a write
 * to cgroup.procs): each is freed by its own unit or container, units of
 * one manager in one systemctl, managers first, then one kill for the
 * processes under none, the main holder's last; never kill for a process
 * of a service. */
static void test_free_across_cgroups(void)
{
	struct bw_conflict *c;
	struct bw_holder *h;
	size_t at, end, parts;

#define WEB_CONFLICT(...)                                                                    \
	do {                                                                                 \
		c = conflict("127.0.0.1:8080", BW_PROTO_TCP);                                \
		h = sock(c, LISTEN_TCP("127.0.0.1:8080", 100));                              \
		shared(c, h, (const pid_t[]){__VA_ARGS__},                                   \
		       (const int[]){3, 3, 3, 3, 3, 3}, sizeof((const pid_t[]){__VA_ARGS__}) / \
							 sizeof(pid_t));                       \
		owned(h, 2000, 3, "python3");                                                \
		h->mgr.kind = BW_MGR_SYSTEMD;                                                \
		snprintf(h->mgr.unit, sizeof(h->mgr.unit), "web.service");                   \
		described(c, 2000, "python3", "/system.slice/web.service");                  \
	} while (0)

	/* The child moved to a scope: nothing restarts it, so it is killed. */
	WEB_CONFLICT(2000, 2001);
	described(c, 2001, "python3", "/system.slice/run-u7.scope");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop web.service && kill 2001");
	CHECK_EQ_INT(c->free_pid, 0);
	CHECK_STREQ(c->free_note, "");
	/* Parts one by one, as `bindwatch free` runs them. */
	for (at = 0, parts = 0; at < c->free_argc; at = end, parts++) {
		end = bw_free_command_end(c, at);
		CHECK_STREQ(c->free_argv[at], parts ? "kill" : "systemctl");
		CHECK_EQ_INT(end - at, parts ? 2 : 3);
	}
	CHECK_EQ_INT(parts, 2);

	/* Into another service, a worker that stayed, a container's process
	 * and a process in a plain cgroup: one systemctl for both units, the
	 * worker covered by its unit, docker stop by short id, one kill. */
	WEB_CONFLICT(2000, 2001, 2002, 2003, 2004, 2005);
	described(c, 2001, "python3", "/system.slice/run-u7.scope");
	described(c, 2002, "python3", "/system.slice/b.service");
	described(c, 2003, "python3", "/system.slice/web.service");
	described(c, 2004, "python3", "/system.slice/docker-" CTR ".scope");
	described(c, 2005, "python3", "/bindwatch-test/moved");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER,
		"systemctl stop web.service b.service && docker stop 7825ad8bb845 && kill 2001 2005");

	/* The main holder under no manager, its child in a service: the
	 * manager's command first, then the kill, the main holder last. */
	WEB_CONFLICT(2000, 2001, 2002);
	h->mgr.kind = BW_MGR_NONE;
	h->mgr.unit[0] = '\0';
	snprintf(c->procs[0].proc.cgroup, sizeof(c->procs[0].proc.cgroup), "/");
	c->procs[0].proc.unit[0] = '\0';
	described(c, 2001, "python3", "/system.slice/b.service");
	described(c, 2002, "python3", "/");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop b.service && kill 2002 2000");
	CHECK_EQ_INT(c->free_pid, 2000);
	/* The do: line does not say the main holder's manager stops it. */
	CHECK_NOT_CONTAINS(c->hint, "through its manager");

	/* A process in the failing process's own unit is killed, never its
	 * unit stopped (that would stop the failing process too). */
	WEB_CONFLICT(2000, 2001);
	described(c, 2001, "python3", "/system.slice/caller.service")->shares_mgr = true;
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop web.service && kill 2001");

	/* Units of a systemd in another container: through docker exec, the
	 * moved child's unit in the same command. */
	WEB_CONFLICT(2000, 2001);
	snprintf(h->mgr.outer_id, sizeof(h->mgr.outer_id), CTR);
	snprintf(h->mgr.outer_name, sizeof(h->mgr.outer_name), "sd");
	snprintf(h->proc.container, sizeof(h->proc.container), CTR);
	described(c, 2001, "python3", "/docker/" CTR "/system.slice/b.service");
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "docker exec sd systemctl stop web.service b.service");
	/* ... and the caller's own container (bw_manager_identify cleared
	 * the outer id): no docker exec for either. */
	h->mgr.outer_id[0] = h->mgr.outer_name[0] = '\0';
	bw_classify(c);
	free_is(c, BW_FREE_MANAGER, "systemctl stop web.service b.service");
#undef WEB_CONFLICT
}

int main(void)
{
	test_listener();
	test_self();
	test_time_wait();
	test_wildcard();
	test_dual_stack();
	test_not_visible();
	test_socket_activation();
	test_unix();
	test_ephemeral();
	test_unknown();
	test_priority();
	test_names();
	test_remedy();
	test_remedy_every_holder();
	test_free_across_cgroups();
	return check_done("cause");
}
