#include "diagnose/diagnose.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "basic/fmt.h"
#include "basic/sysio.h"
#include "diagnose/remedy.h"
#include "lookup/cgroup.h"
#include "lookup/netdev.h"
#include "lookup/netns.h"
#include "lookup/users.h"


/* Lookups outside the shim's system-call set, installed by the bindwatch
 * process only (diagnose/foreign.c); both NULL inside a host. */
static struct bw_diag_extras extras;
static bool bpf_allowed = true;

/* The device the socket is bound to (sk_bound_dev_if), unless a
 * link-local address's scope id named it already: SO_BINDTOIFINDEX
 * (Linux 5.0), and its name by SO_BINDTODEVICE (socket(7)); both read the
 * caller's own socket. A failed bind() keeps the device it set. */
static void bound_device(int fd, struct bw_addr *want)
{
	int ifindex = 0;
	socklen_t ol = sizeof(ifindex);
	char name[sizeof(want->dev)];

	if (!want->dev_if && getsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, &ol) == 0 &&
	    ifindex > 0)
		want->dev_if = (uint32_t)ifindex;
	if (!want->dev_if)
		return;
	ol = sizeof(name);
	memset(name, 0, sizeof(name));
	if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, &ol) == 0 && name[0] &&
	    ifindex == (int)want->dev_if)
		memcpy(want->dev, name, sizeof(name) - 1);
}

int bw_diag_describe_socket(int fd, const struct sockaddr *sa, socklen_t len,
			    struct bw_addr *want, bool *v6only_out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int type = 0, v6only = 0;
	socklen_t ol = sizeof(type);
	int r;

	*v6only_out = false;
	if (sa) {
		r = bw_addr_from_sockaddr(sa, len, want);
	} else {
		/* listen(): the address is whatever the socket is bound to. */
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
			return -errno;
		r = bw_addr_from_sockaddr((struct sockaddr *)&ss, sl, want);
	}
	if (r < 0)
		return r;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) < 0)
		type = 0;
	if (want->family == AF_UNIX)
		want->proto = bw_unix_proto(type);
	else
		want->proto = type == SOCK_DGRAM ? BW_PROTO_UDP
			      : type == SOCK_STREAM ? BW_PROTO_TCP : BW_PROTO_UNKNOWN;
	if (want->family == AF_INET6) {
		ol = sizeof(v6only);
		if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) == 0)
			*v6only_out = v6only != 0;
	}
	if (want->family == AF_INET || want->family == AF_INET6)
		bound_device(fd, want);
	return 0;
}

/* 1/0 for a boolean socket option, -1 if it can't be read. */
static signed char bool_opt(int fd, int name)
{
	int v = 0;
	socklen_t l = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, name, &v, &l) == 0 ? v != 0 : -1;
}

int bw_diag_from_fd(struct bw_conflict *c, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		c->own_inode = st.st_ino;
		/* The socket inode's owner is sock_i_uid(), what SO_REUSEPORT compares. */
		c->want_uid = st.st_uid;
		c->have_want_uid = true;
	}
	c->want_reuseaddr = bool_opt(fd, SO_REUSEADDR);
	c->want_reuseport = bool_opt(fd, SO_REUSEPORT);
	return bw_diag_describe_socket(fd, sa, len, &c->want, &c->want_v6only);
}

void bw_diag_trace_socket(struct bw_trace_event *t, int fd, const struct sockaddr *sa,
			  socklen_t len)
{
	bool v6only = false;
	bw_diag_describe_socket(fd, sa, len, &t->addr, &v6only);
	if (bool_opt(fd, SO_REUSEADDR) == 1)
		t->options |= BW_OPT_REUSEADDR;
	if (bool_opt(fd, SO_REUSEPORT) == 1)
		t->options |= BW_OPT_REUSEPORT;
	if (t->addr.family == AF_INET6 && v6only)
		t->options |= BW_OPT_V6ONLY;
}

/* The holder's SO_REUSEADDR/SO_REUSEPORT, read on a duplicate of its fd
 * (extras.pidfd_getfd: the bindwatch process only; it needs ptrace access,
 * i.e. our own uid or root). In our own process the fd is ours. Otherwise
 * they stay unknown (-1) and the hint says so. */
static void peek_options(struct bw_holder *h, pid_t self_pid)
{
	struct stat st;
	int dup;
	h->reuseaddr = h->reuseport = -1;
	if (h->pid <= 0 || h->fd < 0 || h->sock.local.family == AF_UNIX)
		return;
	if (h->pid == self_pid) {
		h->reuseaddr = bool_opt(h->fd, SO_REUSEADDR);
		h->reuseport = bool_opt(h->fd, SO_REUSEPORT);
		return;
	}
	if (!extras.pidfd_getfd || (dup = extras.pidfd_getfd(h->pid, h->fd)) < 0)
		return;
	/* The fd may have been reused since the scan: only trust the same socket. */
	if (fstat(dup, &st) == 0 && st.st_ino == h->sock.inode) {
		h->reuseaddr = bool_opt(dup, SO_REUSEADDR);
		h->reuseport = bool_opt(dup, SO_REUSEPORT);
	}
	close(dup);
}

/* Lower is shown first and kept when the table is full. */
static int holder_rank(const struct bw_sock *s)
{
	if (s->listening)
		return 0;
	if (s->inode != 0 && (s->state == BW_TCP_CLOSE || s->local.proto == BW_PROTO_UDP))
		return 1;
	if (s->inode != 0)
		return 2;
	return 3; /* TIME_WAIT and other orphans */
}

/* A socket left out (the table is full) still counts toward a kept one of
 * its kind, so a report can say "300 TIME-WAIT" in one line. */
static void count_similar(struct bw_conflict *c, const struct bw_sock *s, size_t n, size_t skip)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (i != skip && bw_sock_same_kind(&c->holders[i].sock, s)) {
			c->holders[i].similar += n;
			return;
		}
}

static struct bw_holder *keep(struct bw_conflict *c, const struct bw_sock *s, enum bw_overlap ov)
{
	struct bw_holder *h;
	int rank = holder_rank(s);
	c->n_matching++;
	if (c->n_holders < BW_HOLDERS_MAX) {
		h = &c->holders[c->n_holders++];
	} else {
		size_t worst = 0;
		for (size_t i = 1; i < c->n_holders; i++)
			if (holder_rank(&c->holders[i].sock) > holder_rank(&c->holders[worst].sock))
				worst = i;
		if (holder_rank(&c->holders[worst].sock) <= rank) {
			count_similar(c, s, 1, BW_HOLDERS_MAX);
			return NULL;
		}
		h = &c->holders[worst];
		count_similar(c, &h->sock, 1 + h->similar, worst);
	}
	memset(h, 0, sizeof(*h));
	h->sock = *s;
	h->overlap = ov;
	h->fd = -1;
	h->blocks = true;
	h->reuseaddr = h->reuseport = -1;
	return h;
}

static bool same_unix_name(const struct bw_addr *want, const struct bw_addr *have)
{
	if (want->abstract != have->abstract)
		return false;
	/* The kernel prints abstract NULs as '@' (unix_seq_show()), so compare
	 * abstract names with NULs treated as '@'. */
	if (want->path_len != have->path_len)
		return false;
	for (size_t i = 0; i < want->path_len; i++) {
		char w = want->path[i] ? want->path[i] : '@';
		if (w != have->path[i])
			return false;
	}
	return true;
}

/* A socket bound to the wanted unix address: by the file it is bound to
 * when the table names it (a path spelled differently, or a name left by a
 * socket whose file was since replaced, is judged right), else by name. */
static bool holds_unix(const struct bw_conflict *c, const struct bw_sock *s)
{
	if (s->local.family != AF_UNIX)
		return false;
	if (s->vfs_ino != 0 && !c->want.abstract && c->unix_file != BW_UNIX_FILE_NA &&
	    c->unix_file != BW_UNIX_FILE_MISSING)
		return c->unix_file == BW_UNIX_FILE_SOCKET &&
		       s->vfs_ino == (uint32_t)c->unix_ino &&
		       s->vfs_dev == ((major(c->unix_dev) << 20) | minor(c->unix_dev));
	return s->local.path_len > 0 && same_unix_name(&c->want, &s->local);
}

void bw_diag_consider(struct bw_conflict *c, const struct bw_sock *s)
{
	if (c->own_inode && s->inode == c->own_inode)
		return;
	if (c->want.family == AF_UNIX) {
		if (s->local.family == AF_UNIX && !c->want.abstract &&
		    ((s->vfs_ino != 0 && c->unix_file == BW_UNIX_FILE_SOCKET &&
		      s->vfs_ino == (uint32_t)c->unix_ino) ||
		     (s->local.path_len > 0 && same_unix_name(&c->want, &s->local))))
			c->unix_in_use = true;
		if (holds_unix(c, s))
			keep(c, s, BW_OVERLAP_EXACT);
		return;
	}
	if (s->local.port != c->want.port)
		return;
	if (c->want.proto != BW_PROTO_UNKNOWN && s->local.proto != c->want.proto)
		return;
	if (c->want.family == AF_UNSPEC) {
		/* A bare port (bindwatch who): every socket on it; with a device
		 * ("*%lo:P"), those not bound to another one (bindrules.h). */
		enum bw_overlap ov = bw_overlap(&c->want, c->want_v6only, &s->local, s->v6only);
		if (c->want.dev_if && s->local.dev_if && s->local.dev_if != c->want.dev_if)
			return;
		if (ov != BW_OVERLAP_NONE)
			keep(c, s, ov);
		return;
	}
	/* The kernel's rules decide, with the holder's SO_REUSE* unknown for
	 * now (taken as off, which blocks); bw_diagnose revisits the verdict
	 * once the owner is known. */
	struct bw_bind_sock b, hs;
	struct bw_bind_verdict v;
	struct bw_holder *h;
	bw_remedy_binder(c, &b);
	bw_remedy_sock(c, s, -1, -1, &hs);
	bw_bind_check(&b, &hs, &v);
	if (v.conflict && (h = keep(c, s, v.overlap)) != NULL)
		h->assumed = v.assumed;
}

/* The verdict again with what the owner scan learnt (the holder's
 * SO_REUSE*); holders that turn out not to block are dropped, unless
 * none would be left (then the rules missed something: keep them all). */
static void revisit(struct bw_conflict *c)
{
	size_t n = 0, blocking = 0;
	if (!(c->want.family == AF_INET || c->want.family == AF_INET6) || c->want.port == 0)
		return;
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_holder *h = &c->holders[i];
		struct bw_bind_sock b, hs;
		struct bw_bind_verdict v;
		bw_remedy_binder(c, &b);
		bw_remedy_holder_sock(c, h, &hs);
		bw_bind_check(&b, &hs, &v);
		h->blocks = v.conflict;
		h->assumed = v.assumed;
		blocking += v.conflict;
	}
	if (blocking == 0)
		return;
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].blocks)
			c->holders[n++] = c->holders[i];
	c->n_matching -= c->n_holders - n;
	c->n_holders = n;
}

/* readlinkat <proc_root>/<pid>/exe into buf; "" when unreadable (another
 * user's process without privilege). */
static void exe_of(const char *proc_root, pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
	n = readlinkat(AT_FDCWD, path, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* A service manager is known by its executable, never by its name (a
 * daemon may call itself anything, and systemd-resolved is no manager):
 * systemd as pid 1 or as a user manager (systemd --user),
 * systemd-socket-activate, inetd, xinetd. When the executable can't be
 * read (pid 1 of another user), its argv[0]. */
static bool is_manager(const char *proc_root, const struct bw_holder *h)
{
	char exe[256];
	const char *name, *args;
	exe_of(proc_root, h->pid, exe, sizeof(exe));
	if (!exe[0] && h->have_proc && h->proc.cmdline_len) {
		/* argv[0]: the command line up to its first space. */
		size_t n = strcspn(h->proc.cmdline, " ");
		if (n >= sizeof(exe))
			n = sizeof(exe) - 1;
		memcpy(exe, h->proc.cmdline, n);
		exe[n] = '\0';
	}
	if (!exe[0])
		return false;
	name = bw_base_name(exe);
	args = h->have_proc ? h->proc.cmdline : "";
	if (strcmp(name, "systemd") == 0)
		return h->pid == 1 || strstr(args, " --user") != NULL;
	return strcmp(name, "systemd-socket-activate") == 0 || strcmp(name, "inetd") == 0 ||
	       strcmp(name, "xinetd") == 0;
}

static bool same_ns(const char *proc_root, pid_t a, pid_t b)
{
	char pa[64], pb[64];
	struct stat sa, sb;
	snprintf(pa, sizeof(pa), "%s/%d/ns/pid", proc_root, (int)a);
	snprintf(pb, sizeof(pb), "%s/%d/ns/pid", proc_root, (int)b);
	if (stat(pa, &sa) < 0 || stat(pb, &sb) < 0)
		return true; /* can't tell */
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Another instance of the same program: the same executable file
 * (bw_proc_exe_id) run with the same arguments (one interpreter runs
 * many programs). */
static bool same_program(const char *proc_root, const struct bw_holder *h, pid_t me)
{
	struct bw_proc me_proc;
	dev_t d1, d2;
	ino_t i1, i2;
	if (!h->have_proc || bw_proc_exe_id(proc_root, h->pid, &d1, &i1) < 0 ||
	    bw_proc_exe_id(proc_root, me, &d2, &i2) < 0 || d1 != d2 || i1 != i2)
		return false;
	return bw_proc_info(proc_root, me, &me_proc) == 0 &&
	       me_proc.cmdline_len == h->proc.cmdline_len &&
	       memcmp(me_proc.cmdline, h->proc.cmdline, me_proc.cmdline_len) == 0;
}

/* Who the holder is to the caller, as far as the rules' remedies care. */
static void holder_identity(struct bw_conflict *c, struct bw_holder *h, const char *proc_root,
			    pid_t self_pid)
{
	pid_t me = c->pid ? c->pid : self_pid;
	if (h->pid <= 0)
		return;
	h->manager = is_manager(proc_root, h);
	h->same_program = c->pid && (h->pid == c->pid || same_program(proc_root, h, c->pid));
	if (me > 0)
		h->other_pidns = !same_ns(proc_root, h->pid, me);
}

static int consider_cb(const struct bw_sock *s, void *ctx)
{
	bw_diag_consider(ctx, s);
	return 0;
}

struct range_count {
	struct bw_conflict *c;
	int lo, hi;
	unsigned char used[65536 / 8];
};

/* A socket on a port of the range takes it (bound only, listening or
 * connected alike); its owner is looked up like a holder's, so that the
 * report names the processes that hold the most. */
static int count_cb(const struct bw_sock *s, void *ctx)
{
	struct range_count *rc = ctx;
	int p = s->local.port;
	if (p < rc->lo || p > rc->hi)
		return 0;
	rc->used[p / 8] |= (unsigned char)(1u << (p % 8));
	if (s->inode != 0)
		keep(rc->c, s, BW_OVERLAP_EXACT);
	return 0;
}

static int read_table_with(struct bw_conflict *c, const char *proc_root, int family,
			   enum bw_proto proto, int port, bw_sock_cb cb, void *ctx);

/* Ports of net.ipv4.ip_local_port_range in use, counted from the whole
 * table: sock_diag lists TCP sockets bound but not connected too (Linux
 * 6.8+), which /proc/net/tcp leaves out. */
static void ephemeral_usage(struct bw_conflict *c, const char *proc_root)
{
	struct range_count rc;
	char path[256], buf[64];
	enum bw_proto proto = c->want.proto == BW_PROTO_UDP ? BW_PROTO_UDP : BW_PROTO_TCP;

	snprintf(path, sizeof(path), "%s/sys/net/ipv4/ip_local_port_range", proc_root);
	if (bw_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%d %d", &c->port_lo, &c->port_hi) != 2)
		return;
	memset(&rc, 0, sizeof(rc));
	rc.c = c;
	rc.lo = c->port_lo < 0 ? 0 : c->port_lo;
	rc.hi = c->port_hi > 65535 ? 65535 : c->port_hi;
	read_table_with(c, proc_root, AF_INET, proto, -1, count_cb, &rc);
	read_table_with(c, proc_root, AF_INET6, proto, -1, count_cb, &rc);
	c->ports_in_use = 0;
	for (int p = rc.lo; p <= rc.hi; p++)
		if (rc.used[p / 8] & (1u << (p % 8)))
			c->ports_in_use++;
}

/* A relative unix path is the caller's, from its cwd: made absolute for
 * whoever reads the report, who runs elsewhere (getcwd(2) into a fixed
 * buffer allocates nothing). Left "" when it does not fit. */
static void unix_user_path(struct bw_conflict *c)
{
	char cwd[BW_FREE_ARG_MAX];
	int n;
	if (c->want.path[0] == '/' || c->unix_user_path[0] || !getcwd(cwd, sizeof(cwd)) ||
	    cwd[0] != '/')
		return;
	n = snprintf(c->unix_user_path, sizeof(c->unix_user_path), "%s/%s",
		     strcmp(cwd, "/") == 0 ? "" : cwd, c->want.path);
	if (n < 0 || (size_t)n >= sizeof(c->unix_user_path))
		c->unix_user_path[0] = '\0';
}

/* What is at a unix path: nothing, a socket file (its inode and device
 * are what a bound socket's VFS attribute names) or something else. Only
 * looked at: never connect()ed to, which a one-client server would take as
 * its client. */
static void stat_unix_path(struct bw_conflict *c)
{
	struct stat st;
	/* Already looked at by the caller: the supervisor resolves the path
	 * in the program's root and cwd, which are not ours. */
	if (c->want.abstract || c->want.path_len == 0 || c->unix_file != BW_UNIX_FILE_NA)
		return;
	if (lstat(c->want.path, &st) < 0) {
		c->unix_file = BW_UNIX_FILE_MISSING;
		return;
	}
	if (!S_ISSOCK(st.st_mode)) {
		c->unix_file = BW_UNIX_FILE_OTHER;
		c->unix_mode = st.st_mode & S_IFMT;
		return;
	}
	c->unix_file = BW_UNIX_FILE_SOCKET;
	c->unix_ino = st.st_ino;
	c->unix_dev = st.st_dev;
	c->unix_ctime = st.st_ctim;
	unix_user_path(c);
}

struct abstract_query {
	struct bw_addr want;
	bool found;
};

static int abstract_cb(const struct bw_sock *s, void *ctx)
{
	struct abstract_query *q = ctx;
	if (s->local.family == AF_UNIX && same_unix_name(&q->want, &s->local))
		q->found = true;
	return 0;
}

int bw_diag_unix_abstract_taken(const struct sockaddr *sa, socklen_t len)
{
	struct abstract_query q = {.found = false};
	int r = bw_addr_from_sockaddr(sa, len, &q.want);
	if (r < 0)
		return r;
	if (q.want.family != AF_UNIX || !q.want.abstract)
		return -EINVAL;
	r = bw_sockdiag_query(AF_UNIX, BW_PROTO_UNKNOWN, -1, abstract_cb, &q);
	if (r < 0) {
		q.found = false;
		r = bw_socktab_read("/proc", AF_UNIX, BW_PROTO_UNKNOWN, abstract_cb, &q);
	}
	return r < 0 ? r : q.found;
}

struct port_query {
	const struct bw_addr *want;
	bool want_v6only, want_reuseaddr;
	uint64_t own_inode;
	bool found;
};

static int port_cb(const struct bw_sock *s, void *ctx)
{
	struct port_query *q = ctx;
	if (s->local.port != q->want->port || (q->own_inode && s->inode == q->own_inode))
		return 0;
	if (q->want->proto == BW_PROTO_TCP && s->state == BW_TCP_TIME_WAIT && q->want_reuseaddr)
		return 0;
	if (bw_overlap(q->want, q->want_v6only, &s->local, s->v6only) != BW_OVERLAP_NONE)
		q->found = true;
	return q->found;
}

int bw_diag_port_in_use(const struct bw_addr *want, bool want_v6only, bool want_reuseaddr,
			uint64_t own_inode)
{
	static const int families[] = {AF_INET, AF_INET6};
	struct port_query q = {want, want_v6only, want_reuseaddr, own_inode, false};
	enum bw_proto proto = want->proto == BW_PROTO_UDP ? BW_PROTO_UDP : BW_PROTO_TCP;

	if ((want->family != AF_INET && want->family != AF_INET6) || want->port == 0)
		return -EINVAL;
	/* Both families: dual-stack sockets collide across them. */
	for (size_t i = 0; i < 2 && !q.found; i++) {
		int r = bw_sockdiag_query(families[i], proto, want->port, port_cb, &q);
		if (r < 0 && !q.found)
			r = bw_socktab_read("/proc", families[i], proto, port_cb, &q);
		if (r < 0 && r != -ENOENT && !q.found) /* no IPv6 in this kernel: fine */
			return r;
	}
	return q.found;
}

/* One table through cb: sock_diag first (port >= 0: only that port),
 * /proc/net as the fallback. */
static int read_table_with(struct bw_conflict *c, const char *proc_root, int family,
			   enum bw_proto proto, int port, bw_sock_cb cb, void *ctx)
{
	size_t n_holders = c->n_holders, n_matching = c->n_matching;
	int r = bw_sockdiag_query(family, proto, port, cb, ctx);
	if (r == 0)
		return 0;
	/* Drop anything a half-finished dump delivered, then reread. */
	c->n_holders = n_holders;
	c->n_matching = n_matching;
	c->table_from_proc = true;
	return bw_socktab_read(proc_root, family, proto, cb, ctx);
}

static int read_table(struct bw_conflict *c, const char *proc_root, int family,
		      enum bw_proto proto)
{
	int port = family == AF_UNIX || c->want.family == AF_UNIX ? -1 : c->want.port;
	return read_table_with(c, proc_root, family, proto, port, consider_cb, c);
}

/* The path's socket file, which no socket of our network namespace owns,
 * in every other namespace (conflict.h, unix_netns_*): by the file where
 * extras.netns_unix_query can enter it, else by name from its
 * /proc/<pid>/net/unix (any user may read it; openat/read: shim-safe),
 * which is sure only for a namespace with no named socket at all.
 * The namespace list lives in c->scratch until the owner scan. */
struct by_name {
	struct bw_conflict *c;
	size_t named;
};

/* A namespace's /proc/<pid>/net/unix: a socket bound to a file always
 * keeps the name it bound (unix_seq_show prints it, renamed or unlinked
 * since), so a namespace whose sockets have no names at all (a fresh
 * container's, a test's) has none bound to ours: searched for sure. An
 * '@' name counts too: a relative path may start with '@'. */
static int by_name_cb(const struct bw_sock *s, void *ctx)
{
	struct by_name *q = ctx;
	q->named += s->local.family == AF_UNIX && s->local.path_len > 0;
	bw_diag_consider(q->c, s);
	return 0;
}

static void search_other_netns(struct bw_conflict *c, const char *proc_root)
{
	struct by_name q = {.c = c};
	struct bw_netns *ns = (struct bw_netns *)(void *)c->scratch;
	size_t max = sizeof(c->scratch) / sizeof(*ns), unseen = 0;
	int n = bw_netns_list(proc_root, ns, max, &unseen);

	if (n < 0)
		return; /* not searched: unix_unverified */
	c->unix_netns_searched = true;
	c->unix_netns_other = (unsigned)n;
	c->unix_netns_unseen = unseen > UINT_MAX ? UINT_MAX : (unsigned)unseen;
	c->unix_netns_by_name = (size_t)n > max ? (unsigned)((size_t)n - max) : 0;
	for (size_t i = 0; i < (size_t)n && i < max; i++) {
		char root[96];
		if (extras.netns_unix_query && c->unix_vfs_checked &&
		    strcmp(proc_root, "/proc") == 0 &&
		    extras.netns_unix_query(ns[i].pid, consider_cb, c) == 0)
			continue;
		snprintf(root, sizeof(root), "%s/%d", proc_root, (int)ns[i].pid);
		q.named = 0;
		if (bw_socktab_read(root, AF_UNIX, BW_PROTO_UNKNOWN, by_name_cb, &q) < 0 ||
		    q.named > 0)
			c->unix_netns_by_name++;
	}
}

static void read_tables(struct bw_conflict *c, const char *proc_root)
{
	static const enum bw_proto protos[] = {BW_PROTO_TCP, BW_PROTO_UDP};
	int r;
	if (c->want.family == AF_UNIX) {
		stat_unix_path(c);
		r = read_table(c, proc_root, AF_UNIX, BW_PROTO_UNKNOWN);
		if (r < 0)
			c->table_errno = -r;
		c->unix_vfs_checked = r == 0 && !c->table_from_proc &&
				      c->unix_file == BW_UNIX_FILE_SOCKET &&
				      c->n_matching <= c->n_holders;
		if (c->unix_file == BW_UNIX_FILE_SOCKET && !c->want.abstract && !bw_unix_owned(c))
			search_other_netns(c, proc_root);
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		if (c->want.proto != BW_PROTO_UNKNOWN && c->want.proto != protos[i])
			continue;
		/* Both families: dual-stack sockets collide across them. */
		r = read_table(c, proc_root, AF_INET, protos[i]);
		if (r < 0)
			c->table_errno = -r;
		r = read_table(c, proc_root, AF_INET6, protos[i]);
		if (r < 0 && r != -ENOENT) /* no IPv6 in this kernel: fine */
			c->table_errno = -r;
	}
}

/* Every systemd service and container has a cgroup of its own, and
 * sock_diag gives the socket's: the processes of that cgroup are read
 * first (all of them, for every holder), so a service's holder costs that
 * service's processes, not the machine's. The root cgroup (every process
 * nobody placed) narrows nothing and is skipped. The pid list lives in
 * c->scratch; *ret_n_pids is its length when exactly one cgroup was read
 * (else 0). Returns how many sockets have a holder. */
static size_t find_in_cgroups(struct bw_conflict *c, struct bw_owner_query *q, pid_t self_pid,
			      uint64_t deadline_ns, size_t *ret_n_pids)
{
	uint64_t root_id = bw_cgroup_root_id(), done[BW_HOLDERS_MAX];
	pid_t keep_pid[BW_OWNER_MAX] = {0};
	int keep_fd[BW_OWNER_MAX] = {0};
	size_t n_done = 0, found = 0;
	pid_t *pids = (pid_t *)(void *)c->scratch;
	size_t max = sizeof(c->scratch) / sizeof(pid_t);

	*ret_n_pids = 0;
	for (size_t i = 0; i < c->n_holders && i < q->n; i++) {
		const struct bw_holder *h = &c->holders[i];
		size_t k;
		int n;
		if (!h->sock.cgroup_id || h->sock.cgroup_id == root_id || !h->sock_cgroup[0] ||
		    !h->sock.inode)
			continue;
		for (k = 0; k < n_done && done[k] != h->sock.cgroup_id; k++)
			;
		if (k < n_done)
			continue;
		done[n_done++] = h->sock.cgroup_id;
		n = bw_cgroup_procs(h->sock_cgroup, pids, max);
		*ret_n_pids = n_done == 1 && n > 0 ? (size_t)n : 0;
		if (n <= 0)
			continue;
		/* Each scan starts its pid[]/fd[] afresh; the hits accumulate. */
		bw_owner_find_pids("/proc", self_pid, pids, (size_t)n, q, deadline_ns, &c->scan,
				   c->scan_workers);
		for (k = 0; k < q->n; k++)
			if (q->pid[k] && !keep_pid[k]) {
				keep_pid[k] = q->pid[k];
				keep_fd[k] = q->fd[k];
			}
	}
	for (size_t k = 0; k < q->n; k++) {
		q->pid[k] = keep_pid[k];
		q->fd[k] = keep_pid[k] ? keep_fd[k] : -1;
		found += keep_pid[k] != 0;
	}
	return found;
}

/* A service manager hands its sockets to the services it starts (socket
 * activation): a holder of that kind sends the search on to every process. */
static bool passed_on(const struct bw_owner_query *q)
{
	for (size_t k = 0; k < q->n; k++) {
		char comm[BW_COMM_MAX];
		if (!q->pid[k])
			continue;
		bw_proc_comm(q->pid[k], comm, sizeof(comm));
		if (strcmp(comm, "systemd") == 0)
			return true;
	}
	return false;
}

/* The socket's cgroup by path and its uid by name: they name the unit or
 * container and the user even when the process is not visible. */
static void socket_identity(struct bw_conflict *c)
{
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_holder *h = &c->holders[i];
		if (h->sock.cgroup_id)
			bw_cgroup_path(h->sock.cgroup_id, h->sock_cgroup, sizeof(h->sock_cgroup));
		if (h->sock.inode)
			bw_user_name(h->sock.uid, h->sock_user, sizeof(h->sock_user));
	}
}

/* Every process holding each socket. First the socket's cgroup: when its
 * processes hold every socket (and no service manager holds one), the
 * holders' descendants are searched too, in whichever cgroup they run now
 * (fork() copies the fds; systemd-run --scope or a cgroup.procs write
 * moves the child), and that answer stands: a process elsewhere that got
 * the socket over a unix socket (SCM_RIGHTS) is not looked for unless
 * c->scan_all (the report says so). Otherwise the BPF iterator answers for
 * every task at once; when it could not place some socket (a pid in
 * another namespace, no privilege, old kernel), the /proc scan looks for
 * all of them again (a (pid, fd) found twice is kept once). */
static void find_owners(struct bw_conflict *c, struct bw_owner_query *q, const char *proc_root,
			pid_t self_pid, uint64_t deadline_ns)
{
	size_t want = 0, n_pids = 0;

	for (size_t i = 0; i < q->n; i++)
		want += q->inode[i] != 0;
	if (strcmp(proc_root, "/proc") == 0 &&
	    find_in_cgroups(c, q, self_pid, deadline_ns, &n_pids) == want && !passed_on(q)) {
		bool partial = false;
		pid_t keep_pid[BW_OWNER_MAX];
		int keep_fd[BW_OWNER_MAX];
		memcpy(keep_pid, q->pid, sizeof(keep_pid));
		memcpy(keep_fd, q->fd, sizeof(keep_fd));
		bw_owner_find_descendants("/proc", (const pid_t *)(const void *)c->scratch, n_pids,
					  q, deadline_ns, &c->scan, c->scan_workers, &partial);
		c->scan.descendants_partial = partial;
		if (!c->scan_all || c->scan.budget_exhausted) {
			c->scan.via_cgroup = true;
			return;
		}
		/* who --all: every other process too; the first holders stay. */
		bw_owner_find_parallel(proc_root, self_pid, q, deadline_ns, &c->scan,
				       c->scan_workers);
		memcpy(q->pid, keep_pid, sizeof(keep_pid));
		memcpy(q->fd, keep_fd, sizeof(keep_fd));
		return;
	}
	if (extras.owner_find && bpf_allowed && strcmp(proc_root, "/proc") == 0 && geteuid() == 0) {
		long r = extras.owner_find(q);
		if (r >= 0) {
			c->scan.via_bpf = true;
			if ((size_t)r == want)
				return;
		}
	}
	bw_owner_find_parallel(proc_root, self_pid, q, deadline_ns, &c->scan, c->scan_workers);
}

/* The unit or container of the process whose cgroup(7) file is path
 * (cgroup v2's "0::" line) into *m; all empty when unreadable. */
static void cgroup_manager(const char *path, struct bw_manager *m, char *cg, size_t size)
{
	const char *p;
	ssize_t n;
	memset(m, 0, sizeof(*m));
	/* cg: the caller's scratch, not 1 KiB of stack: with cgroup v1
	 * controllers mounted too (a hybrid host) the file has a line per
	 * controller, the "0::" line last, past the first kilobyte. */
	n = bw_read_file_at(AT_FDCWD, path, cg, size - 1);
	if (n <= 0)
		return;
	cg[n] = '\0';
	p = strncmp(cg, "0::", 3) == 0 ? cg : strstr(cg, "\n0::");
	if (!p)
		return;
	p += p == cg ? 3 : 4;
	cg[(size_t)(p - cg) + strcspn(p, "\n")] = '\0';
	bw_manager_from_cgroup(m, p);
}

/* The caller's own container, so a unit in it needs no `docker exec`. */
static void own_container(char *buf, size_t size, char *scratch, size_t scratch_size)
{
	struct bw_manager m;
	cgroup_manager("/proc/self/cgroup", &m, scratch, scratch_size);
	snprintf(buf, size, "%s", m.id[0] ? m.id : m.outer_id);
}

void bw_diag_use_settings(const struct bw_settings *s)
{
	bw_sockdiag_disabled = !s->netlink;
	bpf_allowed = s->bpf;
}

void bw_diag_use_extras(const struct bw_diag_extras *x)
{
	extras = *x;
}

/* An Accept=yes connection: pid 1 accepted it (the socket's cgroup is
 * its own), the instance NAME@...service that got it is the unit that
 * holds it; named from the first of its processes that runs in one. */
static void accept_instance(const struct bw_conflict *c, struct bw_holder *h)
{
	size_t n = strcspn(h->mgr.accept_units, "*");
	if (!h->mgr.accept_units[0] || h->mgr.unit[0])
		return;
	for (size_t j = 0; j < h->n_procs; j++) {
		int k = c->hprocs[h->first_proc + j].proc;
		const char *unit = k >= 0 && c->procs[k].have_proc ? c->procs[k].proc.unit : "";
		if (strncmp(unit, h->mgr.accept_units, n) == 0 && strstr(unit, ".service")) {
			snprintf(h->mgr.unit, sizeof(h->mgr.unit), "%s", unit);
			return;
		}
	}
}

/* Whether m is the container bindwatch itself runs in (own: its id, or
 * ""): a failing process under a systemd inside that container has a unit
 * for its manager, yet stopping the container would stop it too. */
static bool in_own_container(const struct bw_manager *m, const char *own)
{
	return own[0] && m->id[0] && strcmp(m->id, own) == 0 &&
	       (m->kind == BW_MGR_DOCKER || m->kind == BW_MGR_PODMAN || m->kind == BW_MGR_CONTAINER);
}

/* Which holder processes run in the failing process's own service unit or
 * container (failing: its manager, none for `who`): stopping that would
 * stop the failing process too (freecmd.c kills them instead). */
static void procs_sharing(struct bw_conflict *c, const struct bw_manager *failing,
			  const char *own)
{
	struct bw_manager m;
	for (size_t i = 0; i < c->n_procs; i++) {
		struct bw_process *p = &c->procs[i];
		p->shares_mgr = false;
		if (!p->have_proc || failing->kind == BW_MGR_NONE)
			continue;
		memset(&m, 0, sizeof(m));
		bw_manager_from_cgroup(&m, p->proc.cgroup);
		if (own[0] && strcmp(m.outer_id, own) == 0)
			m.outer_id[0] = '\0'; /* as bw_manager_identify does */
		p->shares_mgr = bw_manager_same(&m, failing) || in_own_container(&m, own);
	}
}

/* Names for the devices the wanted address and the holders are bound to
 * (sock_diag gives the index only), as the report shows them. */
static void name_devices(struct bw_conflict *c)
{
	if (c->want.dev_if && !c->want.dev[0])
		bw_netdev_name(c->want.dev_if, c->want.dev, sizeof(c->want.dev));
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_addr *a = &c->holders[i].sock.local;
		if (!a->dev_if || a->dev[0])
			continue;
		if (a->dev_if == c->want.dev_if && c->want.dev[0])
			memcpy(a->dev, c->want.dev, sizeof(a->dev));
		else
			bw_netdev_name(a->dev_if, a->dev, sizeof(a->dev));
	}
}

void bw_diag_find_holders(struct bw_conflict *c, const char *proc_root, pid_t self_pid,
			  uint64_t deadline_ns)
{
	struct bw_owner_query q;
	struct bw_manager failing = {.kind = BW_MGR_NONE};
	char own[72] = "";

	name_devices(c);
	memset(&q, 0, sizeof(q));
	for (size_t i = 0; i < c->n_holders; i++) {
		q.inode[q.n] = c->holders[i].sock.inode;
		q.uid[q.n] = c->holders[i].sock.uid;
		q.n++;
	}
	/* Every process that has a holder socket open, not just the first. */
	q.hits = c->hits;
	q.hits_cap = BW_HITS_MAX;
	q.ignore = c->observer;
	if (strcmp(proc_root, "/proc") == 0)
		socket_identity(c);
	if (q.n > 0)
		find_owners(c, &q, proc_root, self_pid, deadline_ns);
	c->n_hits = q.n_hits;
	c->hprocs_dropped = q.hits_dropped;
	bw_relation_fill(c, proc_root);
	if (c->n_holders) {
		own_container(own, sizeof(own), c->scratch, sizeof(c->scratch));
		/* The failing process's own unit or container (for `who`,
		 * bindwatch's own: run inside a container it has no engine to
		 * ask, and stopping that would stop it too): a holder in it is
		 * not freed by stopping that. */
		char path[300];
		if (c->pid > 0)
			snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, (int)c->pid);
		else
			snprintf(path, sizeof(path), "/proc/self/cgroup");
		cgroup_manager(path, &failing, c->scratch, sizeof(c->scratch));
		if (own[0] && strcmp(failing.outer_id, own) == 0)
			failing.outer_id[0] = '\0'; /* as bw_manager_identify does */
		procs_sharing(c, &failing, own);
	}
	for (size_t i = 0; i < c->n_holders && i < q.n; i++) {
		struct bw_holder *h = &c->holders[i];
		if (h->n_procs == 0 && q.pid[i] > 0) {
			/* Its hits did not fit: the first holder found, at least. */
			h->pid = q.pid[i];
			h->fd = q.fd[i];
			h->have_proc = bw_proc_info(proc_root, h->pid, &h->proc) == 0;
		}
		/* root's fds are closed to other users, docker-proxy's command
		 * line is not: it says which address it publishes. */
		if (h->pid == 0 && h->sock.inode && h->sock.uid == 0 && h->sock.listening &&
		    geteuid() != 0 && (h->pid = bw_manager_find_proxy(proc_root, &h->sock)) > 0) {
			h->fd = -1;
			h->have_proc = bw_proc_info(proc_root, h->pid, &h->proc) == 0;
		}
		peek_options(h, self_pid);
		holder_identity(c, h, proc_root, self_pid);
		if (h->sock.inode)
			bw_manager_identify(&h->mgr, h->have_proc ? &h->proc : NULL, h->sock_cgroup,
					    &h->sock, own, c->scratch, sizeof(c->scratch));
		accept_instance(c, h);
		h->shares_mgr = h->sock.inode &&
				(bw_manager_same(&h->mgr, &failing) || in_own_container(&h->mgr, own));
	}
}

void bw_diagnose(struct bw_conflict *c, const char *proc_root, pid_t self_pid,
		 uint64_t deadline_ns)
{
	c->n_holders = c->n_matching = 0;
	if (c->want.family == AF_INET || c->want.family == AF_INET6 ||
	    c->want.family == AF_UNSPEC || c->want.family == AF_UNIX) {
		if ((c->want.family == AF_INET || c->want.family == AF_INET6) && c->want.port == 0)
			ephemeral_usage(c, proc_root);
		else
			read_tables(c, proc_root);
	}
	bw_diag_find_holders(c, proc_root, self_pid, deadline_ns);
	if (c->pid > 0) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%d", proc_root, (int)c->pid);
		if (stat(path, &st) == 0) {
			c->uid = st.st_uid;
			c->have_uid = true;
		}
	}
	c->caller_uid = c->have_uid ? c->uid : geteuid();
	bw_diag_settle(c);
}

void bw_diag_settle(struct bw_conflict *c)
{
	revisit(c);
	bw_classify(c);
	bw_relation_hint(c);
}
