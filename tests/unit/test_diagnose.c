/* diagnose: which sockets are kept as holders (bw_diag_consider), whole
 * diagnoses over the fixture proc tree (tables, owners and processes all
 * from tests/fixtures/procroot), and real conflicts made here: a listener,
 * a dual-stack socket, TIME_WAIT, live and stale unix sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testaddr.h"
#include "testcause.h"
#include "diagnose/diagnose.h"
#include "lookup/socktab.h"
#include "basic/sysio.h"

static struct bw_conflict C;


static struct bw_conflict *conflict(const char *want, enum bw_proto proto, pid_t pid)
{
	memset(&C, 0, sizeof(C));
	C.event = pid ? "bind_conflict" : "lookup";
	C.call = pid ? "bind" : "who";
	C.pid = pid;
	C.fd = pid ? 5 : -1;
	C.time = time(NULL);
	C.want = A(want);
	C.want.proto = proto;
	C.err = EADDRINUSE;
	return &C;
}


static struct bw_sock mksock(const char *addr, enum bw_proto proto, int state, uint64_t inode)
{
	struct bw_sock s;
	memset(&s, 0, sizeof(s));
	s.local = A(addr);
	s.local.proto = proto;
	s.state = state;
	s.inode = inode;
	s.listening = proto == BW_PROTO_TCP && state == BW_TCP_LISTEN;
	return s;
}

static void test_consider(void)
{
	struct bw_conflict *c = conflict("127.0.0.1:80", BW_PROTO_TCP, 1000);
	struct bw_sock s;

	s = mksock("127.0.0.1:81", BW_PROTO_TCP, BW_TCP_LISTEN, 1);
	bw_diag_consider(c, &s);                    /* other port */
	s = mksock("127.0.0.1:80", BW_PROTO_UDP, 7, 2);
	bw_diag_consider(c, &s);                    /* other protocol */
	s = mksock("127.0.0.2:80", BW_PROTO_TCP, BW_TCP_LISTEN, 3);
	bw_diag_consider(c, &s);                    /* other address */
	s = mksock("[::1]:80", BW_PROTO_TCP, BW_TCP_LISTEN, 4);
	bw_diag_consider(c, &s);                    /* IPv6, no overlap */
	CHECK_EQ_INT(c->n_holders, 0);
	CHECK_EQ_INT(c->n_matching, 0);
	s = mksock("0.0.0.0:80", BW_PROTO_TCP, BW_TCP_LISTEN, 5);
	bw_diag_consider(c, &s);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].overlap, BW_OVERLAP_WILDCARD);
	CHECK_EQ_INT(c->holders[0].fd, -1);
	CHECK_EQ_INT(c->holders[0].pid, 0);
	CHECK_EQ_INT(c->holders[0].sock.inode, 5);

	/* A bare port with no protocol (bindwatch who 80): TCP and UDP both. */
	c = conflict("80", BW_PROTO_UNKNOWN, 0);
	s = mksock("127.0.0.1:80", BW_PROTO_TCP, BW_TCP_LISTEN, 1);
	bw_diag_consider(c, &s);
	s = mksock("[::]:80", BW_PROTO_UDP, 7, 2);
	bw_diag_consider(c, &s);
	s = mksock("127.0.0.1:8080", BW_PROTO_TCP, BW_TCP_LISTEN, 3);
	bw_diag_consider(c, &s);
	CHECK_EQ_INT(c->n_holders, 2);

	/* Past the cap, listeners push out TIME_WAIT leftovers... */
	c = conflict("127.0.0.1:80", BW_PROTO_TCP, 1000);
	for (int i = 0; i < BW_HOLDERS_MAX + 8; i++) {
		s = mksock("127.0.0.1:80", BW_PROTO_TCP, BW_TCP_TIME_WAIT, 0);
		bw_diag_consider(c, &s);
	}
	s = mksock("127.0.0.1:80", BW_PROTO_TCP, BW_TCP_LISTEN, 99);
	bw_diag_consider(c, &s);
	CHECK_EQ_INT(c->n_holders, BW_HOLDERS_MAX);
	CHECK_EQ_INT(c->n_matching, BW_HOLDERS_MAX + 9);
	{
		bool kept = false;
		for (size_t i = 0; i < c->n_holders; i++)
			kept |= c->holders[i].sock.inode == 99;
		CHECK(kept);
	}
	/* ...but TIME_WAIT never pushes out a listener. */
	c = conflict("127.0.0.1:80", BW_PROTO_TCP, 1000);
	for (int i = 0; i < BW_HOLDERS_MAX; i++) {
		s = mksock("127.0.0.1:80", BW_PROTO_TCP, BW_TCP_LISTEN, 100 + (uint64_t)i);
		bw_diag_consider(c, &s);
	}
	s = mksock("127.0.0.1:80", BW_PROTO_TCP, BW_TCP_TIME_WAIT, 0);
	bw_diag_consider(c, &s);
	CHECK_EQ_INT(c->n_holders, BW_HOLDERS_MAX);
	CHECK_EQ_INT(c->n_matching, BW_HOLDERS_MAX + 1);
	for (size_t i = 0; i < c->n_holders; i++)
		CHECK(c->holders[i].sock.inode != 0);
}

/* The fixture's socket tables name inodes of sockets long gone; owners are
 * found by stat()ing fd links. So the tree diagnosed here is built at run
 * time: the fixture's files (linked), its tables with the inodes of the
 * sockets below replaced by those of socket files made here, and fd links
 * to those files for fake pids 4243 and 4244. */
struct owned_sock {
	int family;
	enum bw_proto proto;
	const char *addr; /* as bw_addr_format prints the local address */
	const char *pid, *fd;
	uint64_t old_inode, new_inode;
};

static struct owned_sock owned[] = {
	{AF_INET, BW_PROTO_TCP, "127.0.0.1:18080", "4243", "3", 0, 0},
	{AF_INET6, BW_PROTO_TCP, "[::]:18081", "4243", "4", 0, 0},
	{AF_INET, BW_PROTO_UDP, "0.0.0.0:18082", "4243", "6", 0, 0},
	{AF_UNIX, BW_PROTO_UNKNOWN, "/tmp/bw-fixture/stream.sock", "4244", "7", 0, 0},
	{AF_UNIX, BW_PROTO_UNKNOWN, "@bw-fixture@x", "4244", "8", 0, 0},
};
#define N_OWNED (sizeof(owned) / sizeof(owned[0]))

static int find_old_inode(const struct bw_sock *s, void *ctx)
{
	struct owned_sock *o = ctx;
	char buf[160];
	bw_addr_format(&s->local, buf, sizeof(buf));
	if (strcmp(buf, o->addr) == 0) {
		o->old_inode = s->inode;
		return 1;
	}
	return 0;
}

static char built[64];

static void build_root(void)
{
	static const char *const tables[] = {"tcp", "tcp6", "udp", "udp6", "unix"};
	static const char *const pids[] = {"4242", "4243", "4244", "4245"};
	static const char *const files[] = {"stat", "cmdline", "status", "cgroup"};
	char p[2048], t[2048], fx[1024], text[16384], out[16384];
	struct stat st;
	int f;

	snprintf(built, sizeof(built), "/tmp/bw-diag-root-XXXXXX");
	if (!mkdtemp(built)) {
		CHECK(!"mkdtemp");
		exit(EXIT_FAILURE);
	}
	check_fixture(fx, sizeof(fx), "procroot");
	for (const char *const *l = (const char *const[]){"stat", "sys", NULL}; *l; l++) {
		snprintf(p, sizeof(p), "%s/%s", built, *l);
		snprintf(t, sizeof(t), "%s/%s", fx, *l);
		CHECK_EQ_INT(symlink(t, p), 0);
	}
	snprintf(p, sizeof(p), "%s/net", built);
	mkdir(p, 0755);
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", built, pids[i]);
		mkdir(p, 0755);
		for (size_t j = 0; j < 4; j++) {
			snprintf(t, sizeof(t), "%s/%s/%s", fx, pids[i], files[j]);
			if (stat(t, &st) < 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s/%s", built, pids[i], files[j]);
			CHECK_EQ_INT(symlink(t, p), 0);
		}
	}
	for (size_t i = 0; i < N_OWNED; i++) {
		struct owned_sock *o = &owned[i];
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bw_socktab_read(fx, o->family, o->proto, find_old_inode, o);
		CHECK(o->old_inode != 0);
		snprintf(un.sun_path, sizeof(un.sun_path), "%s/sock-%zu", built, i);
		CHECK_EQ_INT(bind(s, (struct sockaddr *)&un, sizeof(un)), 0);
		close(s);
		stat(un.sun_path, &st);
		o->new_inode = st.st_ino;
		snprintf(p, sizeof(p), "%s/%s/fd", built, o->pid);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/%s/fd/%s", built, o->pid, o->fd);
		/* A socket's fd link reads "socket:[INODE]", as proc's does. */
		snprintf(t, sizeof(t), "socket:[%lu]", (unsigned long)o->new_inode);
		CHECK_EQ_INT(symlink(t, p), 0);
	}
	snprintf(p, sizeof(p), "%s/4243/fd/0", built);
	CHECK_EQ_INT(symlink("/dev/null", p), 0);
	snprintf(p, sizeof(p), "%s/plain", built);
	f = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(f);
	snprintf(t, sizeof(t), "%s/4243/fd/5", built);
	CHECK_EQ_INT(symlink(p, t), 0);

	/* The tables, inode fields rewritten (whole space-separated tokens). */
	for (size_t i = 0; i < 5; i++) {
		ssize_t n;
		size_t o = 0;
		snprintf(t, sizeof(t), "%s/net/%s", fx, tables[i]);
		n = bw_read_file_at(AT_FDCWD, t, text, sizeof(text));
		CHECK(n > 0);
		for (ssize_t k = 0; k < n && o + 32 < sizeof(out);) {
			size_t run = 0;
			bool bounded = k == 0 || text[k - 1] == ' ';
			while (k + (ssize_t)run < n && text[k + run] >= '0' && text[k + run] <= '9')
				run++;
			if (run && bounded && (k + (ssize_t)run == n || text[k + run] == ' ' || text[k + run] == '\n')) {
				char tok[32];
				uint64_t v;
				snprintf(tok, sizeof(tok), "%.*s", (int)run, text + k);
				v = strtoull(tok, NULL, 10);
				for (size_t j = 0; j < N_OWNED; j++)
					if (owned[j].old_inode == v)
						snprintf(tok, sizeof(tok), "%llu", (unsigned long long)owned[j].new_inode);
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", tok);
				k += (ssize_t)run;
			} else if (run) {
				memcpy(out + o, text + k, run);
				o += run;
				k += (ssize_t)run;
			} else {
				out[o++] = text[k++];
			}
		}
		snprintf(p, sizeof(p), "%s/net/%s", built, tables[i]);
		f = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		CHECK_EQ_INT(write(f, out, o), (long long)o);
		close(f);
	}
}

static void remove_root(void)
{
	check_rm_rf(built);
}

/* Whole diagnoses over tests/fixtures/procroot (see its README). */
static void test_fixture(void)
{
	struct bw_conflict *c;
	const char *fixture = check_procroot();

	/* The tables come from the tree, not from the kernel's sock_diag. */
	bw_sockdiag_disabled = 1;
	build_root();

	/* 127.0.0.1:18080, held by fake pid 4243 ("nginx") on fd 3. */
	c = conflict("127.0.0.1:18080", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].pid, 4243);
	CHECK_EQ_INT(c->holders[0].fd, 3);
	CHECK(c->holders[0].have_proc);
	CHECK_STREQ(c->holders[0].proc.comm, "nginx");
	CHECK_EQ_INT(c->table_errno, 0);
	CAUSE_IS(c, "listener");
	CHECK_CONTAINS(c->hint, "pid 4243 (nginx)");
	CHECK(c->scan.procs_scanned >= 1);

	/* IPv4 0.0.0.0:18081 against the dual-stack [::]:18081 (pid 4243, fd 4). */
	c = conflict("0.0.0.0:18081", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].fd, 4);
	CAUSE_IS(c, "dual_stack");

	/* 127.0.0.1:18084: only the TIME_WAIT leftover, 5998 ticks to go. */
	c = conflict("127.0.0.1:18084", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].pid, 0);
	CAUSE_IS(c, "time_wait");
	CHECK_CONTAINS(c->hint, "60s");

	/* 127.0.0.1:18085 is held by the v4-mapped [::ffff:127.0.0.1]:18085,
	 * whose inode no fixture process has. */
	c = conflict("127.0.0.1:18085", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	/* ::ffff:127.0.0.1 is 127.0.0.1 (one bind2 bucket): never dual-stack. */
	CHECK_EQ_INT(c->holders[0].overlap, BW_OVERLAP_EXACT);
	CAUSE_IS(c, "not_visible");
	CHECK_CONTAINS(c->hint, "uid 0");
	CHECK_EQ_INT(c->scan.procs_scanned, 2);

	/* UDP: 0.0.0.0:18082 is pid 4243's fd 6; nothing on TCP 18082. */
	c = conflict("0.0.0.0:18082", BW_PROTO_UDP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].fd, 6);
	CAUSE_IS(c, "listener");
	c = conflict("0.0.0.0:18082", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 0);
	CAUSE_IS(c, "unknown");

	/* A bare port: every table. */
	c = conflict("18080", BW_PROTO_UNKNOWN, 0);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CAUSE_IS(c, "listener");

	/* Port 0: the fixture's range 18080-18089 has 4 TCP ports in use. */
	c = conflict("0.0.0.0:0", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->port_lo, 18080);
	CHECK_EQ_INT(c->port_hi, 18089);
	CHECK_EQ_INT(c->ports_in_use, 4);
	CAUSE_IS(c, "ephemeral_exhausted");
	CHECK_CONTAINS(c->hint, "18080-18089");

	/* Unix: the abstract "\0bw-fixture\0x", listed as "@bw-fixture@x". */
	c = conflict("@bw-fixture", BW_PROTO_UNIX_STREAM, 1000);
	c->want.path[10] = '\0';
	c->want.path[11] = 'x';
	c->want.path[12] = '\0';
	c->want.path_len = 12;
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].pid, 4244);
	CHECK_EQ_INT(c->holders[0].fd, 8);
	CHECK_EQ_INT(c->unix_file, BW_UNIX_FILE_NA);
	CAUSE_IS(c, "unix_live");
	CHECK_CONTAINS(c->hint, "pid 4244 (sockd)");

	/* The path listener; its file is long gone from this machine. */
	c = conflict("/tmp/bw-fixture/stream.sock", BW_PROTO_UNIX_STREAM, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].fd, 7);
	CAUSE_IS(c, "unix_live");

	/* Nothing anywhere. */
	c = conflict("127.0.0.1:9", BW_PROTO_TCP, 1000);
	bw_diagnose(c, built, 0, 0);
	CHECK_EQ_INT(c->n_holders, 0);
	CAUSE_IS(c, "unknown");

	/* No tables at all: the hint says so. */
	c = conflict("127.0.0.1:9", BW_PROTO_TCP, 1000);
	bw_diagnose(c, "/nonexistent-bw-root", 0, 0);
	CHECK_EQ_INT(c->table_errno, ENOENT);
	CAUSE_IS(c, "unknown");
	CHECK_CONTAINS(c->hint, "errno 2");

	/* The committed tree alone: same tables, but no fd tables to find
	 * owners in, so every live socket is "not visible". */
	c = conflict("127.0.0.1:18080", BW_PROTO_TCP, 1000);
	bw_diagnose(c, fixture, 0, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].pid, 0);
	CAUSE_IS(c, "not_visible");

	remove_root();
	bw_sockdiag_disabled = 0;
}

static void test_describe(void)
{
	struct bw_addr want;
	bool v6only = true;
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(1234)};
	struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/run/seq.sock"};
	socklen_t sl = sizeof(in);
	int one = 1;
	int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int u6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sq = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	/* listen(): the address comes from getsockname. */
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ_INT(bind(t, (struct sockaddr *)&in, sizeof(in)), 0);
	getsockname(t, (struct sockaddr *)&in, &sl);
	CHECK_EQ_INT(bw_diag_describe_socket(t, NULL, 0, &want, &v6only), 0);
	CHECK_EQ_INT(want.family, AF_INET);
	CHECK_EQ_INT(want.proto, BW_PROTO_TCP);
	CHECK_EQ_INT(want.port, ntohs(in.sin_port));
	CHECK(want.port != 0);
	CHECK(!v6only);

	/* bind(): the caller's address, the socket's type and V6ONLY. */
	setsockopt(u6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	CHECK_EQ_INT(bw_diag_describe_socket(u6, (struct sockaddr *)&in6, sizeof(in6), &want, &v6only), 0);
	CHECK_EQ_INT(want.family, AF_INET6);
	CHECK_EQ_INT(want.proto, BW_PROTO_UDP);
	CHECK_EQ_INT(want.port, 1234);
	CHECK(v6only);

	CHECK_EQ_INT(bw_diag_describe_socket(sq, (struct sockaddr *)&un, sizeof(un), &want, &v6only), 0);
	CHECK_EQ_INT(want.proto, BW_PROTO_UNIX_SEQPACKET);
	CHECK_STREQ(want.path, "/run/seq.sock");
	CHECK(!v6only);

	CHECK_EQ_INT(bw_diag_describe_socket(u6, (struct sockaddr *)&in6, 10, &want, &v6only), -EINVAL);
	close(t);
	close(u6);
	close(sq);
	CHECK_EQ_INT(bw_diag_describe_socket(t, NULL, 0, &want, &v6only), -EBADF);
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					: ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int listen_on(int family, const char *ip, bool v6only)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = v6only, one = 1;
	if (family == AF_INET6) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6};
		inet_pton(AF_INET6, ip, &a.sin6_addr);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		CHECK_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET};
		inet_pton(AF_INET, ip, &a.sin_addr);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		CHECK_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	CHECK_EQ_INT(listen(fd, 8), 0);
	return fd;
}

/* Diagnoses 'want' against the live /proc; pid is the failing process (0:
 * a lookup), tried first in the owner scan. */
static struct bw_conflict *live(const char *want, enum bw_proto proto, pid_t pid)
{
	conflict(want, proto, pid);
	bw_diagnose(&C, "/proc", pid, bw_now_ns() + 5000000000ull);
	return &C;
}

static const char *at(const char *ip, uint16_t port)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
	return buf;
}

static void test_live_inet(void)
{
	int l = listen_on(AF_INET, "127.0.0.1", false);
	int d = listen_on(AF_INET6, "::", false);
	uint16_t p = bound_port(l), q = bound_port(d);
	struct bw_conflict *c;

	/* Our own listener, from inside (a double bind)... */
	c = live(at("127.0.0.1", p), BW_PROTO_TCP, getpid());
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].pid, getpid());
	CHECK_EQ_INT(c->holders[0].fd, l);
	CHECK(c->holders[0].have_proc);
	CAUSE_IS(c, "self");
	{
		char fdstr[32];
		snprintf(fdstr, sizeof(fdstr), "fd %d", l);
		CHECK_CONTAINS(c->hint, fdstr);
	}
	/* ...and from outside (bindwatch who). */
	c = live(at("127.0.0.1", p), BW_PROTO_TCP, 0);
	CAUSE_IS(c, "listener");
	CHECK_EQ_INT(c->holders[0].pid, getpid());

	/* 0.0.0.0:q against our dual-stack [::]:q. */
	c = live(at("0.0.0.0", q), BW_PROTO_TCP, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].fd, d);
	CAUSE_IS(c, "dual_stack");
	close(l);
	close(d);
}

/* A real TIME_WAIT: close the accepted socket first, then the client,
 * then the listener (tests/../shared/TESTING.md). */
static void test_live_time_wait(void)
{
	int l = listen_on(AF_INET, "127.0.0.1", false), cl, acc;
	uint16_t p = bound_port(l);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p)};
	struct bw_conflict *c = NULL;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(connect(cl, (struct sockaddr *)&a, sizeof(a)), 0);
	acc = accept(l, NULL, NULL);
	CHECK(acc >= 0);
	close(acc);
	usleep(20000);
	close(cl);
	close(l);
	/* Loopback settles at once; poll briefly anyway (bounded). */
	for (int i = 0; i < 100; i++) {
		c = live(at("127.0.0.1", p), BW_PROTO_TCP, getpid());
		if (c->n_holders == 1 && c->holders[0].sock.state == BW_TCP_TIME_WAIT)
			break;
		usleep(10000);
	}
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].sock.state, BW_TCP_TIME_WAIT);
	CHECK_EQ_INT(c->holders[0].sock.inode, 0);
	CHECK(c->holders[0].sock.timer_ms > 50000 && c->holders[0].sock.timer_ms <= 60000);
	CHECK_EQ_INT(c->holders[0].pid, 0);
	CAUSE_IS(c, "time_wait");
	CHECK_CONTAINS(c->hint, "SO_REUSEADDR");
}

static void test_live_unix(void)
{
	char dir[] = "/tmp/bw-diag-XXXXXX", path[128];
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct bw_conflict *c;
	int l, s, f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}

	/* A live listener of ours. */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/live.sock", dir);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(bind(l, (struct sockaddr *)&un, sizeof(un)), 0);
	CHECK_EQ_INT(listen(l, 8), 0);
	c = live(un.sun_path, BW_PROTO_UNIX_STREAM, getpid());
	CHECK_EQ_INT(c->n_holders, 1);
	CHECK_EQ_INT(c->holders[0].fd, l);
	CHECK_EQ_INT(c->unix_file, BW_UNIX_FILE_SOCKET);
	CAUSE_IS(c, "self");
	c = live(un.sun_path, BW_PROTO_UNIX_STREAM, 0);
	CAUSE_IS(c, "unix_live");
	close(l);
	unlink(un.sun_path);

	/* Stale: bound, closed, never unlinked. */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/stale.sock", dir);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(bind(s, (struct sockaddr *)&un, sizeof(un)), 0);
	close(s);
	c = live(un.sun_path, BW_PROTO_UNIX_STREAM, getpid());
	CHECK_EQ_INT(c->n_holders, 0);
	CHECK_EQ_INT(c->unix_file, BW_UNIX_FILE_SOCKET);
	CHECK(c->unix_vfs_checked);
	CHECK(c->unix_netns_searched);
	/* Another namespace with named sockets (a container) can only be
	 * searched by name from here (no setns without bw_diag_allow_foreign). */
	CAUSE_IS(c, c->unix_netns_by_name || c->unix_netns_unseen ? "unix_unverified" : "unix_stale");
	unlink(un.sun_path);

	/* Bound, not listening yet: it owns the path (found by the file it is
	 * bound to, under another spelling of the path too). */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/early.sock", dir);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(bind(s, (struct sockaddr *)&un, sizeof(un)), 0);
	snprintf(path, sizeof(path), "%s/./early.sock", dir);
	c = live(path, BW_PROTO_UNIX_STREAM, 0);
	CHECK_EQ_INT(c->n_holders, 1);
	CAUSE_IS(c, "unix_live");
	close(s);

	/* Its file replaced by a stale one: the old socket still carries the
	 * name, but nothing is bound to the file now at the path. */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(unlink(un.sun_path), 0);
	CHECK_EQ_INT(bind(s, (struct sockaddr *)&un, sizeof(un)), 0);
	close(s);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(unlink(un.sun_path), 0);
	CHECK_EQ_INT(bind(l, (struct sockaddr *)&un, sizeof(un)), 0);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(unlink(un.sun_path), 0);
	CHECK_EQ_INT(bind(s, (struct sockaddr *)&un, sizeof(un)), 0);
	close(s); /* the file at the path is now s's, stale; l holds the old name */
	c = live(un.sun_path, BW_PROTO_UNIX_STREAM, 0);
	CHECK_EQ_INT(c->n_holders, 0);
	CAUSE_IS(c, c->unix_netns_by_name || c->unix_netns_unseen ? "unix_unverified" : "unix_stale");
	close(l);
	unlink(un.sun_path);

	/* A regular file in the way. */
	snprintf(path, sizeof(path), "%s/file", dir);
	f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(f);
	c = live(path, BW_PROTO_UNIX_STREAM, getpid());
	CHECK_EQ_INT(c->unix_file, BW_UNIX_FILE_OTHER);
	CAUSE_IS(c, "unix_not_socket");
	CHECK_CONTAINS(c->hint, "a regular file");
	CHECK_CONTAINS(c->hint, "not a socket");
	unlink(path);

	/* Nothing there at all. */
	c = live(path, BW_PROTO_UNIX_STREAM, getpid());
	CHECK_EQ_INT(c->unix_file, BW_UNIX_FILE_MISSING);
	CAUSE_IS(c, "unknown");
	rmdir(dir);
}

int main(void)
{
	test_consider();
	test_fixture();
	test_describe();
	test_live_inet();
	test_live_time_wait();
	test_live_unix();
	return check_done("diagnose");
}
