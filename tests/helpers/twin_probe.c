/* twin_probe: a listen()-time conflict for the remap's twin socket
 * (BINDWATCH_REMAP='*=next'). Socket a is set up by MODE, bound with
 * SO_REUSEADDR to a port that a holder (also SO_REUSEADDR) then listens on,
 * so a's listen() fails with EADDRINUSE and the shim swaps in a twin. A
 * reference socket r gets the same set-up and listens normally on a free
 * port. Every readable option, file flag, owner, signal and filter of a and
 * r is compared. Prints one line:
 *   listen=0 moved=1 same_fd=1 diffs=0          (a faithful remap)
 *   listen=-1 errno=98 same_socket=1            (a refused one)
 * and "diff NAME a=HEX r=HEX" for each difference. Modes: see setup().
 * "autotune": both listeners accept one connection that carries 64 MiB;
 * prints the accepted sockets' SO_RCVBUF and SO_BUF_LOCK. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif

static int family = AF_INET;
static const char *mode;

static void die(const char *what)
{
	perror(what);
	exit(70);
}

static void setint(int fd, int level, int name, int v)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)) < 0)
		die("setsockopt");
}

static socklen_t addr(struct sockaddr_storage *ss, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons((unsigned short)port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s4->sin_port = htons((unsigned short)port);
	return sizeof(*s4);
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static int ebpf_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = -1},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

static int epfd = -1;
static pid_t child = -1;

/* The option set-up named by mode, on a fresh socket fd. */
static void setup(int fd)
{
	static struct sock_filter accept_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)};
	struct sock_fprog prog = {1, accept_all};
	if (!strcmp(mode, "plain") || !strcmp(mode, "autotune") || !strncmp(mode, "refuse-", 7) ||
	    !strcmp(mode, "epoll"))
		; /* set up elsewhere, or nothing */
	else if (!strcmp(mode, "bindtodevice"))
		setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0 ? die("bindtodevice") : (void)0;
	else if (!strcmp(mode, "async")) {
		if (fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETSIG, SIGUSR1) < 0 ||
		    fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
			die("fcntl");
	} else if (!strcmp(mode, "setown_ex")) {
		struct f_owner_ex o = {F_OWNER_TID, (pid_t)syscall(SYS_gettid)};
		if (fcntl(fd, F_SETOWN_EX, &o) < 0)
			die("F_SETOWN_EX");
	} else if (!strcmp(mode, "tos"))
		setint(fd, IPPROTO_IP, IP_TOS, 0x10);
	else if (!strcmp(mode, "tclass"))
		setint(fd, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
	else if (!strcmp(mode, "priority"))
		setint(fd, SOL_SOCKET, SO_PRIORITY, 5);
	else if (!strcmp(mode, "maxseg"))
		setint(fd, IPPROTO_TCP, TCP_MAXSEG, 1200);
	else if (!strcmp(mode, "nodelay"))
		setint(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	else if (!strcmp(mode, "keepalive")) {
		setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
		setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, 77);
		setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, 11);
		setint(fd, IPPROTO_TCP, TCP_KEEPCNT, 4);
	} else if (!strcmp(mode, "linger")) {
		struct linger l = {1, 7};
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
			die("linger");
	} else if (!strcmp(mode, "rcvlowat"))
		setint(fd, SOL_SOCKET, SO_RCVLOWAT, 100);
	else if (!strcmp(mode, "mark"))
		setint(fd, SOL_SOCKET, SO_MARK, 42);
	else if (!strcmp(mode, "freebind"))
		setint(fd, IPPROTO_IP, IP_FREEBIND, 1);
	else if (!strcmp(mode, "transparent"))
		setint(fd, IPPROTO_IP, IP_TRANSPARENT, 1);
	else if (!strcmp(mode, "defer_accept"))
		setint(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
	else if (!strcmp(mode, "fastopen"))
		setint(fd, IPPROTO_TCP, TCP_FASTOPEN, 16);
	else if (!strcmp(mode, "user_timeout"))
		setint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
	else if (!strcmp(mode, "v6only"))
		setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	else if (!strcmp(mode, "nonblock"))
		fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? die("nonblock") : (void)0;
	else if (!strcmp(mode, "cloexec"))
		fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? die("cloexec") : (void)0;
	else if (!strcmp(mode, "rcvbuf"))
		setint(fd, SOL_SOCKET, SO_RCVBUF, 100000);
	else if (!strcmp(mode, "sndbuf"))
		setint(fd, SOL_SOCKET, SO_SNDBUF, 60000);
	else if (!strcmp(mode, "rcvtimeo")) {
		struct timeval tv = {1, 500000};
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			die("rcvtimeo");
	} else if (!strcmp(mode, "congestion")) {
		if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) < 0)
			die("congestion");
	} else if (!strcmp(mode, "filter") || !strcmp(mode, "filter_lock")) {
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
			die("filter");
		if (!strcmp(mode, "filter_lock"))
			setint(fd, SOL_SOCKET, SO_LOCK_FILTER, 1);
	} else if (!strcmp(mode, "timestampns"))
		setint(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	else if (!strcmp(mode, "notsent_lowat"))
		setint(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 16384);
	else if (!strcmp(mode, "window_clamp"))
		setint(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, 20000);
	else {
		fprintf(stderr, "unknown mode %s\n", mode);
		exit(64);
	}
}

struct dumped {
	int level, name;
	const char *text;
};
#define D(l, n) {l, n, #n}
/* The oracle: everything compared between the remapped and the reference
 * socket (independent of the shim's own list). */
static const struct dumped dump[] = {
	D(SOL_SOCKET, SO_TYPE), D(SOL_SOCKET, SO_PROTOCOL), D(SOL_SOCKET, SO_DOMAIN),
	D(SOL_SOCKET, SO_ACCEPTCONN), D(SOL_SOCKET, SO_REUSEADDR), D(SOL_SOCKET, SO_REUSEPORT),
	D(SOL_SOCKET, SO_BINDTODEVICE), D(SOL_SOCKET, SO_KEEPALIVE), D(SOL_SOCKET, SO_PRIORITY),
	D(SOL_SOCKET, SO_LINGER), D(SOL_SOCKET, SO_RCVLOWAT), D(SOL_SOCKET, SO_SNDLOWAT),
	D(SOL_SOCKET, SO_MARK), D(SOL_SOCKET, SO_RCVBUF), D(SOL_SOCKET, SO_SNDBUF),
	D(SOL_SOCKET, SO_BUF_LOCK), D(SOL_SOCKET, SO_RCVTIMEO), D(SOL_SOCKET, SO_SNDTIMEO),
	D(SOL_SOCKET, SO_TIMESTAMP), D(SOL_SOCKET, SO_TIMESTAMPNS), D(SOL_SOCKET, SO_OOBINLINE),
	D(SOL_SOCKET, SO_LOCK_FILTER), D(SOL_SOCKET, SO_PASSCRED), D(SOL_SOCKET, SO_DONTROUTE),
	D(SOL_SOCKET, SO_BROADCAST), D(SOL_SOCKET, SO_INCOMING_CPU), D(SOL_SOCKET, SO_ZEROCOPY),
	D(IPPROTO_IP, IP_TOS), D(IPPROTO_IP, IP_TTL), D(IPPROTO_IP, IP_FREEBIND),
	D(IPPROTO_IP, IP_TRANSPARENT), D(IPPROTO_IP, IP_MTU_DISCOVER), D(IPPROTO_IP, IP_RECVERR),
	D(IPPROTO_TCP, TCP_NODELAY), D(IPPROTO_TCP, TCP_MAXSEG), D(IPPROTO_TCP, TCP_CORK),
	D(IPPROTO_TCP, TCP_KEEPIDLE), D(IPPROTO_TCP, TCP_KEEPINTVL), D(IPPROTO_TCP, TCP_KEEPCNT),
	D(IPPROTO_TCP, TCP_SYNCNT), D(IPPROTO_TCP, TCP_LINGER2), D(IPPROTO_TCP, TCP_DEFER_ACCEPT),
	D(IPPROTO_TCP, TCP_WINDOW_CLAMP), D(IPPROTO_TCP, TCP_CONGESTION),
	D(IPPROTO_TCP, TCP_USER_TIMEOUT), D(IPPROTO_TCP, TCP_NOTSENT_LOWAT),
	D(IPPROTO_TCP, TCP_FASTOPEN), D(IPPROTO_TCP, TCP_SAVE_SYN),
};
static const struct dumped dump6[] = {
	D(IPPROTO_IPV6, IPV6_V6ONLY), D(IPPROTO_IPV6, IPV6_TCLASS),
	D(IPPROTO_IPV6, IPV6_UNICAST_HOPS), D(IPPROTO_IPV6, IPV6_MTU_DISCOVER),
};

static int cmp_bytes(const char *name, const void *a, size_t al, const void *r, size_t rl)
{
	if (al == rl && memcmp(a, r, al) == 0)
		return 0;
	printf("diff %s a=", name);
	for (size_t i = 0; i < al; i++)
		printf("%02x", ((const unsigned char *)a)[i]);
	printf(" r=");
	for (size_t i = 0; i < rl; i++)
		printf("%02x", ((const unsigned char *)r)[i]);
	printf("\n");
	return 1;
}

static int cmp_opts(int a, int r, const struct dumped *d, size_t n)
{
	int diffs = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char va[64] = {0}, vr[64] = {0};
		socklen_t la = sizeof(va), lr = sizeof(vr);
		int ea = getsockopt(a, d[i].level, d[i].name, va, &la) < 0 ? errno : 0;
		int er = getsockopt(r, d[i].level, d[i].name, vr, &lr) < 0 ? errno : 0;
		if (ea || er) {
			diffs += cmp_bytes(d[i].text, &ea, sizeof(ea), &er, sizeof(er));
			continue;
		}
		diffs += cmp_bytes(d[i].text, va, la, vr, lr);
	}
	return diffs;
}

static int compare(int a, int r)
{
	int diffs = cmp_opts(a, r, dump, sizeof(dump) / sizeof(dump[0]));
	int ia[3] = {fcntl(a, F_GETFL), fcntl(a, F_GETFD), fcntl(a, F_GETSIG)};
	int ir[3] = {fcntl(r, F_GETFL), fcntl(r, F_GETFD), fcntl(r, F_GETSIG)};
	struct f_owner_ex oa = {0}, orr = {0};
	unsigned char fa[256] = {0}, fr[256] = {0};
	socklen_t la = 32, lr = 32;
	if (family == AF_INET6)
		diffs += cmp_opts(a, r, dump6, sizeof(dump6) / sizeof(dump6[0]));
	diffs += cmp_bytes("F_GETFL/F_GETFD/F_GETSIG", ia, sizeof(ia), ir, sizeof(ir));
	fcntl(a, F_GETOWN_EX, &oa);
	fcntl(r, F_GETOWN_EX, &orr);
	diffs += cmp_bytes("F_GETOWN_EX", &oa, sizeof(oa), &orr, sizeof(orr));
	if (getsockopt(a, SOL_SOCKET, SO_GET_FILTER, fa, &la) < 0)
		la = 0;
	if (getsockopt(r, SOL_SOCKET, SO_GET_FILTER, fr, &lr) < 0)
		lr = 0;
	diffs += cmp_bytes("SO_GET_FILTER", fa, la * 8, fr, lr * 8);
	return diffs;
}

static int new_socket(void)
{
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	return fd;
}

/* Accepts one connection on l that carries 64 MiB; prints its buffer. */
static void transfer(int l, const char *name)
{
	static char buf[65536];
	struct sockaddr_storage ss;
	socklen_t sl = addr(&ss, port_of(l));
	int c = socket(family, SOCK_STREAM, 0), s, v = 0, lock = 0;
	long left = 64L << 20;
	socklen_t ol = sizeof(v);
	pid_t pid;
	fcntl(l, F_SETFL, fcntl(l, F_GETFL) & ~O_NONBLOCK);
	if (connect(c, (struct sockaddr *)&ss, sl) < 0)
		die("connect");
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept");
	pid = fork();
	if (pid == 0) {
		while (left > 0) {
			ssize_t w = write(c, buf, sizeof(buf));
			if (w <= 0)
				_exit(1);
			left -= w;
		}
		_exit(0);
	}
	close(c);
	while (left > 0) {
		ssize_t n = read(s, buf, sizeof(buf));
		if (n <= 0)
			die("read");
		left -= n;
	}
	getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &ol);
	ol = sizeof(lock);
	getsockopt(s, SOL_SOCKET, SO_BUF_LOCK, &lock, &ol);
	printf("%s_rcvbuf=%d %s_buf_lock=%d\n", name, v, name, lock);
	close(s);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct stat before, after;
	int h, a, r, port, fd_a, lr, e, diffs;

	if (argc < 2)
		return 64;
	mode = argv[1];
	if (argc > 2 && !strcmp(argv[2], "-6"))
		family = AF_INET6;
	h = new_socket();
	sl = addr(&ss, 0);
	if (bind(h, (struct sockaddr *)&ss, sl) < 0)
		die("bind holder");
	port = port_of(h);
	a = new_socket();
	setup(a);
	if (!strcmp(mode, "refuse-ebpf")) {
		int prog = ebpf_prog();
		if (prog < 0)
			die("BPF_PROG_LOAD");
		if (setsockopt(a, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0)
			die("SO_ATTACH_BPF");
	} else if (!strcmp(mode, "refuse-dup")) {
		if (dup(a) < 0)
			die("dup");
	} else if (!strcmp(mode, "refuse-fork")) {
		/* A pre-fork server: a child holds the same socket. */
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			pause();
			_exit(0);
		}
	} else if (!strcmp(mode, "refuse-reuseport")) {
		setint(a, SOL_SOCKET, SO_REUSEPORT, 1);
	} else if (!strcmp(mode, "epoll") || !strcmp(mode, "refuse-oneshot")) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xdeadbeefcafeULL};
		epfd = epoll_create1(EPOLL_CLOEXEC);
		if (!strcmp(mode, "refuse-oneshot"))
			ev.events |= EPOLLONESHOT;
		if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, a, &ev) < 0)
			die("epoll");
		/* An unconnected socket polls EPOLLHUP: a oneshot entry fires
		 * and is disarmed. */
		if (!strcmp(mode, "refuse-oneshot") && epoll_wait(epfd, &ev, 1, 1000) != 1)
			die("epoll_wait");
	}
	sl = addr(&ss, port);
	if (bind(a, (struct sockaddr *)&ss, sl) < 0)
		die("bind a");
	if (listen(h, 16) < 0)
		die("listen holder");
	fd_a = a;
	fstat(a, &before);
	errno = 0;
	lr = listen(a, 16);
	e = errno;
	fstat(a, &after);
	if (child > 0)
		kill(child, SIGKILL);
	if (lr < 0) {
		printf("listen=-1 errno=%d same_socket=%d\n", e,
		       before.st_ino == after.st_ino && port_of(a) == port);
		return 0;
	}
	if (!strcmp(mode, "epoll")) {
		struct epoll_event ev;
		int c = socket(family, SOCK_STREAM, 0), n;
		sl = addr(&ss, port_of(a));
		if (connect(c, (struct sockaddr *)&ss, sl) < 0)
			die("connect");
		n = epoll_wait(epfd, &ev, 1, 5000);
		printf("epoll_wait=%d data=%llx accept=%d\n", n, n == 1 ? (unsigned long long)ev.data.u64 : 0ULL,
		       accept(a, NULL, NULL) >= 0);
		return 0;
	}
	r = socket(family, SOCK_STREAM, 0);
	if (r < 0)
		die("socket");
	setint(r, SOL_SOCKET, SO_REUSEADDR, 1);
	setup(r);
	sl = addr(&ss, 0);
	if (bind(r, (struct sockaddr *)&ss, sl) < 0 || listen(r, 16) < 0)
		die("reference");
	if (!strcmp(mode, "autotune")) {
		transfer(a, "remapped");
		transfer(r, "normal");
		return 0;
	}
	diffs = compare(a, r);
	printf("listen=0 moved=%d same_fd=%d diffs=%d\n", port_of(a) != port, a == fd_a, diffs);
	return 0;
}
