#include "respond/twin.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/sysio.h"

/* Newer than the build's headers (Debian 12: Linux 6.1 UAPI); the numbers
 * are the kernel's (include/uapi/asm-generic/socket.h, linux/in.h). The
 * running kernel refuses what it doesn't know, and such an option is then
 * simply not there to carry. */
#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef SO_RESERVE_MEM
#define SO_RESERVE_MEM 73
#endif
#ifndef SO_TXREHASH
#define SO_TXREHASH 74
#endif
#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* How an option is carried. */
enum {
	O_V6 = 1,   /* AF_INET6 sockets only */
	O_HALF = 2, /* a buffer size: the kernel doubles what is set */
};

struct opt {
	int level, name;
	const char *text;
	unsigned flags;
	int force; /* O_HALF: the CAP_NET_ADMIN variant past [rw]mem_max */
};

#define OPT(l, n) {l, n, #n, 0, 0}
#define OPT6(n) {IPPROTO_IPV6, n, #n, O_V6, 0}

/* Every option getsockopt(2) reads back that a listener or the connections
 * it accepts inherit (sk_clone_lock copies the socket), in an order where
 * none undoes another: buffer sizes before SO_BUF_LOCK, SO_LOCK_FILTER last.
 * Read-only ones (SO_TYPE, SO_COOKIE...) and per-connection state (TCP_INFO,
 * TCP_TIMESTAMP) are left out. socket(7), ip(7), ipv6(7), tcp(7). */
static const struct opt opts[] = {
	OPT(SOL_SOCKET, SO_REUSEADDR),
	OPT(SOL_SOCKET, SO_REUSEPORT),
	OPT(SOL_SOCKET, SO_BINDTODEVICE),
	OPT(SOL_SOCKET, SO_KEEPALIVE),
	OPT(SOL_SOCKET, SO_PRIORITY),
	OPT(SOL_SOCKET, SO_LINGER),
	OPT(SOL_SOCKET, SO_RCVLOWAT),
	OPT(SOL_SOCKET, SO_MARK),
	OPT(SOL_SOCKET, SO_DEBUG),
	OPT(SOL_SOCKET, SO_DONTROUTE),
	OPT(SOL_SOCKET, SO_BROADCAST),
	OPT(SOL_SOCKET, SO_OOBINLINE),
	OPT(SOL_SOCKET, SO_NO_CHECK),
	OPT(SOL_SOCKET, SO_PASSCRED),
	OPT(SOL_SOCKET, SO_PASSSEC),
	OPT(SOL_SOCKET, SO_PASSPIDFD),
	OPT(SOL_SOCKET, SO_RCVTIMEO),
	OPT(SOL_SOCKET, SO_SNDTIMEO),
	OPT(SOL_SOCKET, SO_TIMESTAMP),
	OPT(SOL_SOCKET, SO_TIMESTAMPNS),
	OPT(SOL_SOCKET, SO_TIMESTAMPING),
	OPT(SOL_SOCKET, SO_TIMESTAMP_NEW),
	OPT(SOL_SOCKET, SO_TIMESTAMPNS_NEW),
	OPT(SOL_SOCKET, SO_TIMESTAMPING_NEW),
	OPT(SOL_SOCKET, SO_RXQ_OVFL),
	OPT(SOL_SOCKET, SO_WIFI_STATUS),
	OPT(SOL_SOCKET, SO_PEEK_OFF),
	OPT(SOL_SOCKET, SO_NOFCS),
	OPT(SOL_SOCKET, SO_SELECT_ERR_QUEUE),
	OPT(SOL_SOCKET, SO_BUSY_POLL),
	OPT(SOL_SOCKET, SO_PREFER_BUSY_POLL),
	OPT(SOL_SOCKET, SO_BUSY_POLL_BUDGET),
	OPT(SOL_SOCKET, SO_MAX_PACING_RATE),
	OPT(SOL_SOCKET, SO_INCOMING_CPU),
	OPT(SOL_SOCKET, SO_ZEROCOPY),
	OPT(SOL_SOCKET, SO_TXTIME),
	OPT(SOL_SOCKET, SO_TXREHASH),
	OPT(SOL_SOCKET, SO_RCVMARK),
	OPT(SOL_SOCKET, SO_RESERVE_MEM),
	{SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", O_HALF, SO_SNDBUFFORCE},
	{SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", O_HALF, SO_RCVBUFFORCE},
	OPT(SOL_SOCKET, SO_BUF_LOCK),
	OPT(IPPROTO_IP, IP_TOS),
	OPT(IPPROTO_IP, IP_TTL),
	OPT(IPPROTO_IP, IP_OPTIONS),
	OPT(IPPROTO_IP, IP_FREEBIND),
	OPT(IPPROTO_IP, IP_TRANSPARENT),
	OPT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT),
	OPT(IPPROTO_IP, IP_LOCAL_PORT_RANGE),
	OPT(IPPROTO_IP, IP_MTU_DISCOVER),
	OPT(IPPROTO_IP, IP_RECVERR),
	OPT(IPPROTO_IP, IP_MINTTL),
	OPT(IPPROTO_IP, IP_NODEFRAG),
	OPT(IPPROTO_IP, IP_PKTINFO),
	OPT(IPPROTO_IP, IP_RECVTOS),
	OPT(IPPROTO_IP, IP_RECVTTL),
	OPT(IPPROTO_IP, IP_RECVOPTS),
	OPT(IPPROTO_IP, IP_RETOPTS),
	OPT(IPPROTO_IP, IP_PASSSEC),
	OPT(IPPROTO_IP, IP_UNICAST_IF),
	OPT6(IPV6_V6ONLY),
	OPT6(IPV6_TCLASS),
	OPT6(IPV6_UNICAST_HOPS),
	OPT6(IPV6_FREEBIND),
	OPT6(IPV6_TRANSPARENT),
	OPT6(IPV6_MTU_DISCOVER),
	OPT6(IPV6_RECVERR),
	OPT6(IPV6_MINHOPCOUNT),
	OPT6(IPV6_AUTOFLOWLABEL),
	OPT6(IPV6_DONTFRAG),
	OPT6(IPV6_ADDR_PREFERENCES),
	OPT6(IPV6_RECVPKTINFO),
	OPT6(IPV6_RECVTCLASS),
	OPT6(IPV6_RECVHOPLIMIT),
	OPT6(IPV6_FLOWINFO_SEND),
	OPT6(IPV6_UNICAST_IF),
	OPT(IPPROTO_TCP, TCP_NODELAY),
	OPT(IPPROTO_TCP, TCP_MAXSEG),
	OPT(IPPROTO_TCP, TCP_CORK),
	OPT(IPPROTO_TCP, TCP_KEEPIDLE),
	OPT(IPPROTO_TCP, TCP_KEEPINTVL),
	OPT(IPPROTO_TCP, TCP_KEEPCNT),
	OPT(IPPROTO_TCP, TCP_SYNCNT),
	OPT(IPPROTO_TCP, TCP_LINGER2),
	OPT(IPPROTO_TCP, TCP_DEFER_ACCEPT),
	OPT(IPPROTO_TCP, TCP_WINDOW_CLAMP),
	OPT(IPPROTO_TCP, TCP_QUICKACK),
	OPT(IPPROTO_TCP, TCP_CONGESTION),
	OPT(IPPROTO_TCP, TCP_USER_TIMEOUT),
	OPT(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS),
	OPT(IPPROTO_TCP, TCP_NOTSENT_LOWAT),
	OPT(IPPROTO_TCP, TCP_FASTOPEN),
	OPT(IPPROTO_TCP, TCP_FASTOPEN_KEY),
	OPT(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE),
	OPT(IPPROTO_TCP, TCP_SAVE_SYN),
	OPT(IPPROTO_TCP, TCP_INQ),
	OPT(IPPROTO_TCP, TCP_TX_DELAY),
	OPT(SOL_SOCKET, SO_LOCK_FILTER),
};

/* Big enough for every option above (TCP_FASTOPEN_KEY: 32 bytes,
 * IP_OPTIONS: 40). */
struct val {
	socklen_t len;
	unsigned char b[64];
};

static int get(int fd, const struct opt *o, struct val *v)
{
	v->len = sizeof(v->b);
	memset(v->b, 0, sizeof(v->b));
	return getsockopt(fd, o->level, o->name, v->b, &v->len) < 0 ? -errno : 0;
}

static bool same(const struct val *a, const struct val *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* One option onto the twin. The kernel stores twice the buffer size it is
 * given (sock_setsockopt, "the kernel doubles this value", socket(7)):
 * half the value read gives the same value back. */
static int set(int twin, const struct opt *o, const struct val *v)
{
	if (o->flags & O_HALF) {
		int half;
		memcpy(&half, v->b, sizeof(half));
		half /= 2;
		if (setsockopt(twin, o->level, o->name, &half, sizeof(half)) == 0) {
			struct val back;
			if (get(twin, o, &back) == 0 && same(&back, v))
				return 0;
		}
		return setsockopt(twin, o->level, o->force, &half, sizeof(half)) < 0 ? -errno : 0;
	}
	return setsockopt(twin, o->level, o->name, v->b, v->len) < 0 ? -errno : 0;
}

/* The options, twice: set what differs from a fresh socket, then read
 * everything back (setting one may move another). */
static int carry_opts(int fd, int twin, int family, struct bw_buf *why)
{
	struct val want, have;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			const struct opt *o = &opts[i];
			int r;
			if ((o->flags & O_V6) && family != AF_INET6)
				continue;
			if (get(fd, o, &want) < 0)
				continue; /* not there (kernel, family): nothing to carry */
			r = get(twin, o, &have);
			if (r == 0 && same(&want, &have))
				continue;
			if (pass == 0)
				r = set(twin, o, &want);
			if (pass == 1 || r < 0) {
				bw_buf_printf(why, "%s could not be carried (%s)", o->text,
					      r < 0 ? strerror(-r) : "reads back different");
				return -ECANCELED;
			}
		}
	}
	return 0;
}

/* A classic filter (SO_ATTACH_FILTER) is read back with SO_GET_FILTER and
 * attached to the twin; an eBPF one (SO_ATTACH_BPF) has no original
 * program to read (sk_get_filter: -EACCES) and refuses the remap. */
static int carry_filter(int fd, int twin, struct bw_buf *why)
{
	socklen_t n = 0, m;
	struct sock_filter *f;
	struct sock_fprog prog;
	size_t size;
	int r = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &n) < 0) {
		if (errno == EACCES) {
			bw_buf_puts(why, "an eBPF socket filter (SO_ATTACH_BPF) can't be read back");
			return -ECANCELED;
		}
		return 0; /* no SO_GET_FILTER here: nothing was attached through it */
	}
	if (n == 0)
		return 0;
	/* Up to BPF_MAXINSNS (4096) instructions, 32 KiB: not on the stack. */
	size = (size_t)n * sizeof(*f);
	f = mmap(NULL, size * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED)
		return -errno;
	m = n;
	prog = (struct sock_fprog){.len = (unsigned short)n, .filter = f};
	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, f, &m) < 0 || m != n ||
	    setsockopt(twin, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    getsockopt(twin, SOL_SOCKET, SO_GET_FILTER, f + n, &m) < 0 || m != n ||
	    memcmp(f, f + n, size) != 0) {
		bw_buf_puts(why, "the classic socket filter (SO_ATTACH_FILTER) could not be carried");
		r = -ECANCELED;
	}
	munmap(f, size * 2);
	return r;
}

/* File status flags, the SIGIO/SIGURG owner and signal (fcntl(2)). */
static int carry_file(int fd, int twin, struct bw_buf *why)
{
	struct f_owner_ex own, twin_own;
	int fl = fcntl(fd, F_GETFL), sig = fcntl(fd, F_GETSIG);
	if (fl < 0 || sig < 0)
		return -errno;
	if (fcntl(fd, F_GETOWN_EX, &own) < 0)
		return -errno;
	if ((own.pid != 0 && fcntl(twin, F_SETOWN_EX, &own) < 0) ||
	    (sig != 0 && fcntl(twin, F_SETSIG, sig) < 0) || fcntl(twin, F_SETFL, fl) < 0 ||
	    fcntl(twin, F_GETFL) != fl || fcntl(twin, F_GETSIG) != sig ||
	    fcntl(twin, F_GETOWN_EX, &twin_own) < 0 || twin_own.pid != own.pid ||
	    (own.pid != 0 && twin_own.type != own.type)) {
		bw_buf_puts(why, "the file status flags, owner or signal (fcntl) could not be carried");
		return -ECANCELED;
	}
	return 0;
}

static uint64_t inode_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* fdinfo of an epoll set: "tfd: %8d events: %8x data: %16llx  pos:%lli
 * ino:%lx sdev:%x" per watched file (fs/eventpoll.c ep_show_fdinfo). */
struct epoll_scan {
	int fd, epfd;
	uint64_t inode;
	struct bw_twin_plan *plan;
	bool too_many;
};

static int epoll_lines(const char *p, size_t n, void *ctx)
{
	struct epoll_scan *es = ctx;
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char line[160];
		size_t l = (size_t)((nl ? nl : end) - p);
		int tfd;
		unsigned events;
		unsigned long long data;
		unsigned long ino;
		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = '\0';
			/* NOLINTNEXTLINE(cert-err34-c): fixed kernel format, fields checked by count */
			if (sscanf(line, "tfd: %d events: %x data: %llx pos:%*d ino:%lx", &tfd, &events,
				   &data, &ino) == 4 &&
			    tfd == es->fd && ino == es->inode) {
				struct bw_twin_plan *pl = es->plan;
				if (pl->n_epoll == BW_TWIN_EPOLL_MAX) {
					es->too_many = true;
				} else {
					pl->epoll[pl->n_epoll].epfd = es->epfd;
					pl->epoll[pl->n_epoll].events = events;
					pl->epoll[pl->n_epoll].data = data;
					pl->n_epoll++;
				}
			}
		}
		p += l + 1;
	}
	return 0;
}

struct fd_scan {
	int dirfd;
	pid_t home;  /* the process whose socket it is (0: this one) */
	int home_fd; /* its fd number there */
	pid_t pid;   /* the process being scanned (0: this one) */
	struct bw_twin_plan *plan;
	struct bw_buf *why;
	int res;
};

static void proc_path(char *buf, size_t size, pid_t pid, const char *what)
{
	if (pid)
		snprintf(buf, size, "/proc/%d/%s", (int)pid, what);
	else
		snprintf(buf, size, "/proc/self/%s", what);
}

/* One entry of a /proc/<pid>/fd: another fd on the same socket refuses the
 * remap; in the socket's own process, an epoll set is searched for
 * registrations of its fd. */
static int fd_entry(const char *name, void *ctx)
{
	struct fd_scan *sc = ctx;
	char link[64], want[40];
	bool home = sc->pid == sc->home;
	ssize_t n;
	int other;

	if (name[0] < '0' || name[0] > '9')
		return 0;
	other = atoi(name);
	if (home && other == sc->home_fd)
		return 0;
	n = readlinkat(sc->dirfd, name, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)sc->plan->inode);
	if (strcmp(link, want) == 0) {
		if (home)
			bw_buf_printf(sc->why, "fd %d shares the socket (dup'ed)", other);
		else
			bw_buf_printf(sc->why, "pid %d (fd %d) shares the socket", (int)sc->pid, other);
		sc->res = -ECANCELED;
		return 1;
	}
	if (home && strcmp(link, "anon_inode:[eventpoll]") == 0) {
		char path[64], what[32], buf[512];
		struct epoll_scan es = {sc->home_fd, other, sc->plan->inode, sc->plan, false};
		snprintf(what, sizeof(what), "fdinfo/%d", other);
		proc_path(path, sizeof(path), sc->pid, what);
		bw_read_lines_at(AT_FDCWD, path, buf, sizeof(buf), epoll_lines, &es);
		if (es.too_many) {
			bw_buf_printf(sc->why, "more than %d epoll registrations", BW_TWIN_EPOLL_MAX);
			sc->res = -ECANCELED;
			return 1;
		}
		if (sc->home && sc->plan->n_epoll) {
			/* epoll keys an entry by (file, fd number in the caller of
			 * epoll_ctl): only the program itself could re-make it. */
			bw_buf_printf(sc->why, "epoll fd %d of pid %d watches the socket", other,
				      (int)sc->home);
			sc->res = -ECANCELED;
			return 1;
		}
	}
	return 0;
}

/* The fd table of pid (0: this process); -ECANCELED when it could not be
 * read and must be (the socket's own process). */
static int scan_pid(struct fd_scan *sc, pid_t pid)
{
	char path[40];
	int r;
	proc_path(path, sizeof(path), pid, "fd");
	sc->pid = pid;
	sc->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sc->dirfd < 0)
		r = -errno;
	else {
		r = bw_dir_each(sc->dirfd, fd_entry, sc);
		close(sc->dirfd);
	}
	if (sc->res < 0)
		return sc->res;
	if (r < 0 && pid == sc->home) {
		bw_buf_printf(sc->why, "%s could not be read: other descriptors and epoll sets on the"
				       " socket can't be checked", path);
		return sc->res = -ECANCELED;
	}
	return 0;
}

static int child_pids(const char *p, size_t n, void *ctx)
{
	struct fd_scan *sc = ctx;
	const char *end = p + n;
	while (p < end && sc->res == 0) {
		char *next;
		long pid = strtol(p, &next, 10);
		if (next == p)
			break;
		if (pid > 0)
			scan_pid(sc, (pid_t)pid);
		p = next;
		while (p < end && (*p == ' ' || *p == '\n'))
			p++;
	}
	return sc->res;
}

/* Another process holding the socket: the parent (for this process) and
 * the children (what fork(2) shares, e.g. a pre-fork server) are looked
 * at, where their fd tables are readable. A supervised program's parent
 * is the supervisor, whose duplicate is meant. */
static int scan_relatives(struct fd_scan *sc)
{
	char buf[256], path[64], what[40];
	pid_t home = sc->home ? sc->home : getpid();
	if (!sc->home && getppid() > 1 && scan_pid(sc, getppid()) < 0)
		return sc->res;
	snprintf(what, sizeof(what), "task/%d/children", (int)home);
	proc_path(path, sizeof(path), sc->home, what);
	bw_read_lines_at(AT_FDCWD, path, buf, sizeof(buf), child_pids, sc);
	return sc->res;
}

int bw_twin_check(int fd, pid_t owner_pid, int owner_fd, struct bw_twin_plan *plan,
		  struct bw_buf *why)
{
	struct fd_scan sc = {.home = owner_pid, .home_fd = owner_pid ? owner_fd : fd,
			     .plan = plan, .why = why};
	int reuseport = 0;
	socklen_t ol = sizeof(reuseport);

	memset(plan, 0, sizeof(*plan));
	plan->inode = inode_of(fd);
	if (!plan->inode)
		return -EBADF;
	/* A reuseport program (SO_ATTACH_REUSEPORT_CBPF/EBPF) can't be read
	 * back, nor even seen without detaching it: any SO_REUSEPORT socket
	 * might carry one. */
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, &ol) == 0 && reuseport) {
		bw_buf_puts(why, "SO_REUSEPORT is set, and a reuseport BPF program"
				 " (SO_ATTACH_REUSEPORT_*) on it can't be read back");
		return -ECANCELED;
	}
	if (scan_pid(&sc, owner_pid) < 0 || scan_relatives(&sc) < 0)
		return sc.res;
	for (size_t i = 0; i < plan->n_epoll; i++) {
		/* A disarmed EPOLLONESHOT entry shows no events; EPOLL_CTL_ADD
		 * would arm it for EPOLLERR|EPOLLHUP. */
		if (!(plan->epoll[i].events & ~(uint32_t)(EPOLLONESHOT | EPOLLET | EPOLLWAKEUP |
							   EPOLLEXCLUSIVE))) {
			bw_buf_printf(why, "epoll fd %d holds a disarmed EPOLLONESHOT registration",
				      plan->epoll[i].epfd);
			return -ECANCELED;
		}
	}
	return 0;
}

static int epoll_add(const struct bw_twin_plan *plan, size_t i, int fd)
{
	struct epoll_event ev = {.events = plan->epoll[i].events, .data.u64 = plan->epoll[i].data};
	return epoll_ctl(plan->epoll[i].epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* dup3 twin over fd, moving the epoll registrations: epoll keys them by
 * (file, fd number), so the old file's entries are deleted and the twin's
 * added. On a failure the old socket goes back as it was. */
static int swap(int fd, int twin, const struct bw_twin_plan *plan, struct bw_buf *why)
{
	int fdfl = fcntl(fd, F_GETFD), keep, e;
	int cloexec = fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0;
	size_t i, added = 0;

	keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (keep < 0)
		return -errno;
	for (i = 0; i < plan->n_epoll; i++)
		epoll_ctl(plan->epoll[i].epfd, EPOLL_CTL_DEL, fd, NULL);
	if (dup3(twin, fd, cloexec) < 0) {
		e = errno;
		goto undo;
	}
	for (; added < plan->n_epoll; added++)
		if ((e = -epoll_add(plan, added, fd)) != 0)
			break;
	if (added == plan->n_epoll) {
		close(keep);
		return 0;
	}
	bw_buf_printf(why, "re-adding it to epoll fd %d failed (%s)", plan->epoll[added].epfd,
		      strerror(e));
	for (i = 0; i < added; i++)
		epoll_ctl(plan->epoll[i].epfd, EPOLL_CTL_DEL, fd, NULL);
	dup3(keep, fd, cloexec);
	e = ECANCELED;
undo:
	for (i = 0; i < plan->n_epoll; i++)
		epoll_add(plan, i, fd);
	close(keep);
	return -e;
}

int bw_twin_listen(int fd, const struct bw_twin_plan *plan, const struct sockaddr *sa,
		   socklen_t len, int backlog, const struct bw_twin_ops *ops, struct bw_buf *why)
{
	int type, proto = 0, twin, r;
	socklen_t ol = sizeof(int);
	sa_family_t fam;

	memcpy(&fam, sa, sizeof(fam));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) < 0)
		return -errno;
	ol = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &ol) < 0)
		proto = 0;
	twin = ops->socket(fam, type | SOCK_CLOEXEC, proto, ops->ctx);
	if (twin < 0)
		return twin;
	/* Everything before bind(): SO_BINDTODEVICE, IP_FREEBIND,
	 * IPV6_V6ONLY and SO_REUSE* decide what the bind may take. */
	r = carry_filter(fd, twin, why);
	if (r == 0)
		r = carry_opts(fd, twin, fam, why);
	if (r == 0)
		r = carry_file(fd, twin, why);
	if (r == 0)
		r = ops->bind(twin, sa, len, ops->ctx);
	if (r == 0)
		r = ops->listen(twin, backlog, ops->ctx);
	if (r == 0)
		r = swap(fd, twin, plan, why);
	close(twin);
	return r;
}
