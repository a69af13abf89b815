#include "supervise/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diagnose/diagnose.h"
#include "stack/elfsym.h"
#include "report/emit.h"
#include "respond/failure.h"
#include "lookup/procinfo.h"
#include "report/ratelimit.h"
#include "respond/remap.h"
#include "report/report.h"
#include "policy/settings.h"
#include "supervise/syscallsite.h"
#include "basic/sysio.h"

#if defined(__x86_64__)
#define BW_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BW_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define EXIT_SETUP 125
#define STACK_WINDOW ((size_t)BW_FP_WINDOW_WORDS * 8)
#define MAPS_MAX (4u << 20)
#define CAP_NET_BIND_SERVICE_BIT 10

/* Everything one notification needs that is too big for the stack. */
struct arena {
	struct bw_failure_arena f;
	uint64_t stack[BW_FP_WINDOW_WORDS];
};

struct sup {
	struct bw_settings s;
	int nfd;                      /* the seccomp listener */
	struct seccomp_notif_sizes sizes;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct arena *a;
	bool bind_cap;                /* we may bind ports below unpriv_start */
	int own_netns;                /* to come back after a diagnosis in the caller's */
	int unpriv_start;             /* our netns' net.ipv4.ip_unprivileged_port_start */
};

/* One intercepted call. tid is the calling thread (the notification's
 * pid, in our pid namespace); pid its process. */
struct call {
	const struct seccomp_notif *req;
	pid_t tid, pid;
	int nr, fd;                   /* the call and the caller's fd number */
	int pidfd, dup;               /* dup: our copy of its socket (same open file) */
	struct sockaddr_storage ss;   /* bind: the address, read from its memory */
	socklen_t len;
	int backlog;
	bool in_netns;                /* we are in its network namespace now */
};

enum verdict { V_CONTINUE, V_ANSWER, V_GONE };

/* glibc 2.36 has wrappers; the raw calls also build with older ones. */
static int sys_pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

/* PIDFD_THREAD (Linux 6.9): a pidfd for one thread, whose fd table
 * pidfd_getfd() then uses (a thread need not share its leader's). */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static int sys_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static const char *env(const char *name)
{
	return getenv(name);
}

static void emit(struct sup *sv, const char *buf, size_t n)
{
	bw_emit(&sv->s, buf, n);
}

/* ---- /proc helpers ---------------------------------------------------- */

static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return bw_read_file_at(AT_FDCWD, path, buf, size);
}

/* The value after "Name:" in /proc/<pid>/status, or NULL. */
static const char *status_field(const char *status, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return p + n + 1;
	return NULL;
}

static pid_t tgid_of(pid_t tid)
{
	char buf[2048];
	const char *v;
	if (read_proc(tid, "status", buf, sizeof(buf)) < 0 || !(v = status_field(buf, "Tgid")))
		return -1;
	return (pid_t)strtol(v, NULL, 10);
}

static bool has_cap(pid_t pid, int bit)
{
	char buf[2048];
	const char *v;
	if (read_proc(pid, "status", buf, sizeof(buf)) < 0 || !(v = status_field(buf, "CapEff")))
		return false;
	return (strtoull(v, NULL, 16) >> bit) & 1;
}

/* Whether pid shares our namespace 'ns' ("net", "user"). */
static bool same_ns(pid_t pid, const char *ns)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	if (stat(path, &a) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* A whole /proc file of unknown size (maps), malloc()ed; NULL on failure. */
static char *read_all(pid_t pid, const char *what)
{
	char path[64];
	size_t have = 0, cap = 16384;
	char *buf = malloc(cap), *nb;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n;
		if (cap - have < 4096) {
			if (cap >= MAPS_MAX || !(nb = realloc(buf, cap * 2)))
				break;
			buf = nb;
			cap *= 2;
		}
		n = bw_read_retry(fd, buf + have, cap - have - 1);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	return buf;
}

/* Bytes of the target's memory; how many were read (0 on failure). */
static size_t peek(pid_t tid, uint64_t addr, void *buf, size_t n)
{
	/* NOLINTNEXTLINE(performance-no-int-to-ptr): an address in the target */
	struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
	ssize_t r = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	return r < 0 ? 0 : (size_t)r;
}

/* ---- the stack -------------------------------------------------------- */

struct stack_ctx {
	pid_t pid, tid;
	const char *maps;
	struct { uint64_t start; int fd; } mods[8];
	size_t n_mods;
	uint64_t callee, callee_start;   /* the last calls() lookup */
};

static bool is_return(uint64_t addr, void *ctx)
{
	struct stack_ctx *sc = ctx;
	struct bw_map m;
	uint8_t before[8];
	if (addr < 8 || bw_maps_find(sc->maps, addr, &m) < 0 || !m.exec || addr - 8 < m.start)
		return false;
	return peek(sc->tid, addr - 8, before, 8) == 8 && bw_call_precedes(before);
}

/* The mapped file itself: map_files names exactly what is mapped (even
 * deleted or replaced since), but needs CAP_CHECKPOINT_RESTORE; the path
 * through the process's root is the fallback. Cached per mapping. */
static int module_fd(struct stack_ctx *sc, const struct bw_map *m)
{
	char path[PATH_MAX];
	int fd;
	for (size_t i = 0; i < sc->n_mods; i++)
		if (sc->mods[i].start == m->start)
			return sc->mods[i].fd;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)sc->pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && m->path[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)sc->pid, m->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (sc->n_mods < sizeof(sc->mods) / sizeof(sc->mods[0]))
		sc->mods[sc->n_mods++] = (typeof(sc->mods[0])){m->start, fd};
	else if (fd >= 0) {
		close(sc->mods[0].fd);
		sc->mods[0].start = m->start;
		sc->mods[0].fd = fd;
	}
	return fd;
}

/* Where the function holding addr starts (a runtime address), from its
 * module's symbols; 0 when unknown. */
static uint64_t function_start(struct stack_ctx *sc, uint64_t addr)
{
	struct bw_map m;
	uint64_t vaddr, value;
	char name[16];
	int fd;
	if (bw_maps_find(sc->maps, addr, &m) < 0 || (fd = module_fd(sc, &m)) < 0 ||
	    bw_elf_offset_to_vaddr(fd, addr - m.start + m.offset, &vaddr) < 0 ||
	    bw_elf_symbol(fd, vaddr, name, sizeof(name), &value) < 0)
		return 0;
	return addr - (vaddr - value);
}

/* Only a direct call can be checked: x86-64 call rel32, aarch64 BL. */
static int calls(uint64_t ret, uint64_t callee, void *ctx)
{
	struct stack_ctx *sc = ctx;
	uint64_t target;
#if defined(__aarch64__)
	uint32_t insn;
	if (peek(sc->tid, ret - 4, &insn, 4) != 4 || (insn & 0xfc000000u) != 0x94000000u)
		return 0;
	target = ret - 4 + (uint64_t)((int64_t)((int32_t)(insn << 6) >> 6) * 4);
#else
	uint8_t b[5];
	int32_t rel;
	if (peek(sc->tid, ret - 5, b, 5) != 5 || b[0] != 0xe8)
		return 0;
	memcpy(&rel, b + 1, sizeof(rel));
	target = ret + (uint64_t)(int64_t)rel;
#endif
	if (sc->callee != callee) {
		sc->callee = callee;
		sc->callee_start = function_start(sc, callee - 1);
	}
	if (!sc->callee_start)
		return 0;
	return target == sc->callee_start ? 1 : -1;
}

/* Symbol and module of pc. Looked up at pc - 1: a return address may lie
 * past the end of the calling function, and the system call's pc follows
 * the syscall instruction. module_offset is the link-time address of pc
 * (what addr2line -e MODULE takes); the file offset when the ELF can't be
 * read. */
static void describe(struct stack_ctx *sc, struct bw_frame *f, uint64_t pc)
{
	struct bw_map m;
	uint64_t look = pc - 1, vlook, value;
	int fd;

	memset(f, 0, sizeof(*f));
	f->pc = (uintptr_t)pc;
	if (pc == 0 || bw_maps_find(sc->maps, look, &m) < 0)
		return;
	snprintf(f->module, sizeof(f->module), "%s", m.path);
	f->module_offset = (uintptr_t)(pc - m.start + m.offset);
	fd = module_fd(sc, &m);
	if (fd < 0 || bw_elf_offset_to_vaddr(fd, look - m.start + m.offset, &vlook) < 0)
		return;
	f->module_offset = (uintptr_t)(vlook + 1);
	if (bw_elf_symbol(fd, vlook, f->symbol, sizeof(f->symbol), &value) == 0)
		f->offset = (uintptr_t)(vlook + 1 - value);
}

/* The calling thread's stack, best effort: the system call's pc from
 * /proc/<tid>/syscall, then the return addresses a frame-pointer walk
 * finds on a copy of its stack (see bw_fp_scan). */
static size_t capture_stack(struct sup *sv, const struct call *k, struct bw_frame *frames,
			    size_t max)
{
	struct stack_ctx sc = {.pid = k->pid, .tid = k->tid};
	struct bw_syscall_site site;
	uint64_t pcs[BW_STACK_DEPTH_MAX];
	struct bw_map m;
	char buf[512], what[64];
	size_t n = 0;

	if (max == 0)
		return 0;
	if (max > BW_STACK_DEPTH_MAX)
		max = BW_STACK_DEPTH_MAX;
	snprintf(what, sizeof(what), "task/%d/syscall", (int)k->tid);
	if (read_proc(k->pid, what, buf, sizeof(buf)) < 0)
		return 0;
	if (bw_syscall_parse(buf, &site) < 0 || site.pc == 0)
		return 0;
	sc.maps = read_all(k->pid, "maps");
	if (!sc.maps)
		return 0;
	pcs[n++] = site.pc;
	if (site.sp % 8 == 0 && bw_maps_find(sc.maps, site.sp, &m) == 0) {
		size_t want = m.end - site.sp < STACK_WINDOW ? (size_t)(m.end - site.sp) : STACK_WINDOW;
		size_t got = peek(k->tid, site.sp, sv->a->stack, want) / 8;
		struct bw_fp_ops ops = {is_return, calls, &sc};
		n += bw_fp_scan(sv->a->stack, got, site.sp, site.pc, &ops, pcs + n, max - n);
	}
	for (size_t i = 0; i < n; i++)
		describe(&sc, &frames[i], pcs[i]);
	for (size_t i = 0; i < sc.n_mods; i++)
		if (sc.mods[i].fd >= 0)
			close(sc.mods[i].fd);
	free((char *)sc.maps);
	return n;
}

/* ---- reports and remaps ----------------------------------------------- */

static int real_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return bind(fd, sa, len);
}

static int real_listen(int fd, int backlog)
{
	return listen(fd, backlog);
}

static const struct bw_remap_ops real_ops = {.bind = real_bind, .listen = real_listen};

/* Appends to the remap's note (shown when it failed). */
static void note(struct bw_remap *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct bw_remap *m, const char *fmt, ...)
{
	size_t used = strlen(m->note);
	va_list ap;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 false positive */
	vsnprintf(m->note + used, sizeof(m->note) - used, fmt, ap);
	va_end(ap);
}

/* O_CLOEXEC of the caller's fd, from /proc/<pid>/fdinfo ("flags:" octal). */
static unsigned fd_cloexec(const struct call *k)
{
	char what[64], buf[1024];
	const char *v;
	snprintf(what, sizeof(what), "fdinfo/%d", k->fd);
	if (read_proc(k->pid, what, buf, sizeof(buf)) < 0 || !(v = status_field(buf, "flags")))
		return 0;
	return (strtoul(v, NULL, 8) & O_CLOEXEC) ? O_CLOEXEC : 0;
}

/* listen(): bw_remap_listen builds a twin socket at the new port and
 * dup3()s it over the fd it is given, which here is only our duplicate.
 * SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD then puts the
 * twin at the caller's fd number, as dup2() there would (Linux 5.9,
 * seccomp_unotify(2)). The twin is created here: in the caller's network
 * namespace (enter_netns) or not at all, and given the original socket's
 * owner (fchown on a socket sets sk_uid, net/socket.c sockfs_setattr). */
static int remap_listen(struct sup *sv, struct call *k, const struct bw_rule *rule,
			struct bw_conflict *c)
{
	struct seccomp_notif_addfd add = {0};
	struct bw_remap_ops ops = real_ops;
	struct stat st;
	bool have_st;
	int r;

	if (!k->in_netns) {
		c->remap.attempted = true;
		c->remap.from_port = c->want.port;
		snprintf(c->remap.rule, sizeof(c->remap.rule), "%s", rule->text);
		note(&c->remap, "%s",
		     "a listen()-time remap needs to enter the program's network namespace"
		     " (CAP_SYS_ADMIN); ");
		return -EADDRINUSE;
	}
	add.newfd_flags = fd_cloexec(k);
	have_st = fstat(k->dup, &st) == 0;
	ops.owner_pid = k->pid;
	ops.owner_fd = k->fd;
	r = bw_remap_listen(rule, &ops, k->dup, k->backlog, c, &c->remap);
	if (r < 0)
		return r;
	if (have_st && fchown(k->dup, st.st_uid, st.st_gid) < 0) {
		/* Not root: the twin stays ours, which is the same user. */
	}
	add.id = k->req->id;
	add.flags = SECCOMP_ADDFD_FLAG_SETFD;
	add.srcfd = (uint32_t)k->dup;
	add.newfd = (uint32_t)k->fd;
	if (ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
		int e = errno;
		c->remap.ok = false;
		note(&c->remap, "could not install the new socket in the program (errno %d); ", e);
		return -e;
	}
	return 0;
}

/* The socket tables (sock_diag, /proc/self/net) are those of the reader's
 * network namespace: the diagnosis runs in the caller's, and so does a
 * twin socket for a listen()-time remap. setns(2) needs CAP_SYS_ADMIN
 * there; without it the caller must share ours. 1 when we moved. */
static int enter_netns(struct sup *sv, struct call *k)
{
	char path[64];
	int fd, r;
	k->in_netns = same_ns(k->pid, "net");
	if (k->in_netns || sv->own_netns < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)k->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	if (r < 0)
		return -errno;
	k->in_netns = true;
	return 1;
}

static void leave_netns(struct sup *sv, int entered)
{
	/* Back into a namespace we were in: only a vanished fd could fail. */
	if (entered == 1 && setns(sv->own_netns, CLONE_NEWNET) < 0)
		perror("bindwatch: --supervise: returning to our network namespace");
}

/* The call in hand, for the callbacks of the shared failure path. */
struct failing {
	struct sup *sv;
	struct call *k;
};

static void failing_stack(struct bw_conflict *c, void *ctx)
{
	struct failing *f = ctx;
	c->n_frames = capture_stack(f->sv, f->k, c->frames, (size_t)f->sv->s.stack_depth);
	if (!c->n_frames)
		c->stack_missing = "the target's registers or stack could not be read";
}

static int failing_enter(void *ctx)
{
	struct failing *f = ctx;
	return enter_netns(f->sv, f->k);
}

static void failing_leave(void *ctx, int entered)
{
	struct failing *f = ctx;
	leave_netns(f->sv, entered);
}

/* A remap by rule, made on our copy of the caller's socket. */
static int failing_fix(struct bw_conflict *c, const struct bw_rule *rule, void *ctx)
{
	struct failing *f = ctx;
	struct call *k = f->k;
	if (!rule)
		return -c->err;
	return k->nr == SYS_bind ? bw_remap_bind(rule, &real_ops, k->dup,
						 (const struct sockaddr *)&k->ss, k->len, c,
						 &c->remap)
				 : remap_listen(f->sv, k, rule, c);
}

static void failing_emit(const char *buf, size_t n, void *ctx)
{
	struct failing *f = ctx;
	emit(f->sv, buf, n);
}

static const struct bw_failure_ops failing_ops = {
	.capture_stack = failing_stack,
	.enter = failing_enter,
	.leave = failing_leave,
	.fix = failing_fix,
	.emit = failing_emit,
};

/* The failure path, shared with the shim (shim/respond/failure.c). 0 when a remap
 * made the call succeed, else -err. */
static int conflict(struct sup *sv, struct call *k, int err)
{
	struct failing f = {sv, k};
	const struct sockaddr *sa = k->nr == SYS_bind ? (const struct sockaddr *)&k->ss : NULL;

	bw_failure_begin(&sv->a->f, sa ? "bind" : "listen", k->pid, k->fd, err);
	return bw_failure_handle(&sv->a->f, &sv->s, k->dup, sa, k->len, &failing_ops, &f);
}

/* BINDWATCH_TRACE=all: one line per successful call. The frame is the
 * wrapper's caller when the walk found it, else the system call site. */
static void trace(struct sup *sv, const struct call *k, const struct sockaddr *sa, socklen_t len)
{
	struct bw_trace_event *t = &sv->a->f.t;
	struct bw_frame frames[2];
	size_t n;
	char line[2048];

	if (sv->s.trace != BW_TRACE_ALL)
		return;
	memset(t, 0, sizeof(*t));
	bw_diag_trace_socket(t, k->dup, sa, len);
	t->call = k->nr == SYS_bind ? "bind" : "listen";
	t->pid = k->pid;
	bw_proc_comm(k->pid, t->comm, sizeof(t->comm));
	t->fd = k->fd;
	t->time = time(NULL);
	n = capture_stack(sv, k, frames, 2);
	if (n > 0) {
		t->have_frame = true;
		t->frame = frames[n - 1];
	}
	emit(sv, line, bw_report_trace(sv->s.format, t, line, sizeof(line)));
}

/* BINDWATCH_REMAP_MODE=always: a fixed rule moves the bind even without a
 * conflict (as in the shim). true when it did. */
static bool bind_always(struct sup *sv, struct call *k)
{
	const struct sockaddr *sa = (const struct sockaddr *)&k->ss;
	struct failing f = {sv, k};
	struct sockaddr_storage moved;
	const struct bw_rule *rule;
	struct bw_addr want;
	int to;

	if (!bw_failure_always_target(&sv->s, k->dup, sa, k->len, &want, &rule, &moved, &to) ||
	    bind(k->dup, (const struct sockaddr *)&moved, k->len) < 0)
		return false;
	bw_failure_begin(&sv->a->f, "bind", k->pid, k->fd, 0);
	bw_failure_moved(&sv->a->f, &sv->s, rule, &want, to, &failing_ops, &f);
	trace(sv, k, (const struct sockaddr *)&moved, k->len);
	return true;
}

/* ---- one notification ------------------------------------------------- */

/* bind() checks CAP_NET_BIND_SERVICE of the *calling* task for ports below
 * ip_unprivileged_port_start (net/ipv4/af_inet.c __inet_bind, and
 * net/ipv6/af_inet6.c): made by us, it would check ours. When we could
 * pass where the program could not, the kernel makes the call itself. */
static bool needs_its_creds(struct sup *sv, const struct call *k)
{
	uint16_t port;
	int limit;
	if (k->len < offsetof(struct sockaddr_in, sin_port) + sizeof(port) || !sv->bind_cap)
		return false;
	/* sin_port and sin6_port share the offset. */
	memcpy(&port, (const char *)&k->ss + offsetof(struct sockaddr_in, sin_port), sizeof(port));
	port = ntohs(port);
	limit = same_ns(k->pid, "net") ? sv->unpriv_start : 65536;
	if (port == 0 || port >= limit)
		return false;
	return !(same_ns(k->pid, "user") && has_cap(k->pid, CAP_NET_BIND_SERVICE_BIT));
}

static int do_bind(struct sup *sv, struct call *k)
{
	const struct sockaddr *sa = (const struct sockaddr *)&k->ss;
	int e;
	if (bind_always(sv, k))
		return 0;
	if (bind(k->dup, sa, k->len) == 0) {
		trace(sv, k, sa, k->len);
		return 0;
	}
	e = errno;
	return e == EADDRINUSE ? conflict(sv, k, e) : -e;
}

static int do_listen(struct sup *sv, struct call *k)
{
	int e;
	if (listen(k->dup, k->backlog) == 0) {
		trace(sv, k, NULL, 0);
		return 0;
	}
	e = errno;
	return e == EADDRINUSE ? conflict(sv, k, e) : -e;
}

/* Decides one notification. V_CONTINUE lets the kernel run the call as the
 * program made it (whatever we cannot do faithfully: other families, a
 * socket or an address we could not fetch); V_GONE: the caller is gone. */
static enum verdict handle(struct sup *sv, struct call *k, struct seccomp_notif_resp *resp)
{
	enum verdict v = V_CONTINUE;
	int domain = 0, r;
	socklen_t ol = sizeof(domain);

	/* BINDWATCH_TRACE=off silences reports (bw_emit), not a remap. */
	if (sv->s.disable || (sv->s.trace == BW_TRACE_OFF && !sv->s.remap))
		goto out;
	k->pid = tgid_of(k->tid);
	if (k->pid <= 0)
		goto out;
	/* The calling thread's own fd table; before Linux 6.9, its leader's. */
	k->pidfd = sys_pidfd_open(k->tid, PIDFD_THREAD);
	if (k->pidfd < 0)
		k->pidfd = sys_pidfd_open(k->pid, 0);
	if (k->pidfd < 0)
		goto out;
	k->dup = sys_pidfd_getfd(k->pidfd, k->fd);
	if (k->dup < 0)
		goto out;
	/* AF_UNIX bind resolves the path in the caller's root, cwd and
	 * credentials, and AF_UNIX listen records the caller as the peer
	 * (SO_PEERCRED): neither can be done from here. */
	if (getsockopt(k->dup, SOL_SOCKET, SO_DOMAIN, &domain, &ol) < 0 ||
	    (domain != AF_INET && domain != AF_INET6))
		goto out;
	if (k->nr == SYS_bind) {
		int len = (int)(uint32_t)k->req->data.args[2];
		if (len < 0 || (size_t)len > sizeof(k->ss))
			goto out; /* EINVAL, from the kernel */
		k->len = (socklen_t)len;
		if (peek(k->tid, k->req->data.args[1], &k->ss, k->len) != k->len)
			goto out; /* EFAULT, from the kernel */
	} else {
		k->backlog = (int)k->req->data.args[1];
	}
	/* What we read is only the caller's if it still waits in this very
	 * call (seccomp_unotify(2), "Caveats"). */
	if (ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &k->req->id) < 0) {
		v = V_GONE;
		goto out;
	}
	if (k->nr == SYS_bind && needs_its_creds(sv, k))
		goto out;
	v = V_ANSWER;
	r = k->nr == SYS_bind ? do_bind(sv, k) : do_listen(sv, k);
	resp->error = r < 0 ? r : 0;
	resp->val = r < 0 ? -1 : 0;
out:
	if (k->dup >= 0)
		close(k->dup);
	if (k->pidfd >= 0)
		close(k->pidfd);
	if (v == V_CONTINUE) {
		resp->error = 0;
		resp->val = 0;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	}
	return v;
}

/* Receives and answers one notification. -errno only when the listener
 * itself fails; a caller that vanished midway is no error (ENOENT from
 * RECV, ID_VALID or SEND: it was killed or its call interrupted). */
static int serve_one(struct sup *sv)
{
	struct call k = {.pidfd = -1, .dup = -1};
	memset(sv->req, 0, sv->sizes.seccomp_notif);
	if (ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_RECV, sv->req) < 0)
		return errno == ENOENT || errno == EINTR ? 0 : -errno;
	memset(sv->resp, 0, sv->sizes.seccomp_notif_resp);
	sv->resp->id = sv->req->id;
	k.req = sv->req;
	k.tid = (pid_t)sv->req->pid;
	k.nr = sv->req->data.nr;
	k.fd = (int)sv->req->data.args[0];
	if (handle(sv, &k, sv->resp) == V_GONE)
		return 0;
	if (ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_SEND, sv->resp) < 0 && errno != ENOENT)
		return errno == EINTR ? 0 : -errno;
	return 0;
}

/* ---- the child -------------------------------------------------------- */

static int install_filter(void)
{
#ifdef BW_AUDIT_ARCH
	/* Another ABI (i386, x32 on x86-64) has other numbers: let it be. */
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BW_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bind, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_listen, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	int fd;
	/* Unprivileged filters need no_new_privs (seccomp(2)): setuid and
	 * file capabilities no longer raise privileges in COMMAND. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			  &prog);
	return fd < 0 ? -errno : fd;
#else
	return -ENOSYS;
#endif
}

/* Sends fd (or, when fd < 0, just the error) over the socketpair. */
static void send_fd(int sock, int fd)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	int err = fd < 0 ? -fd : 0;
	struct iovec iov = {&err, sizeof(err)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	memset(&u, 0, sizeof(u));
	if (fd >= 0) {
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		u.h.cmsg_level = SOL_SOCKET;
		u.h.cmsg_type = SCM_RIGHTS;
		u.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&u.h), &fd, sizeof(int));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* The listener fd, or -errno (the child's, or ours). */
static int recv_fd(int sock)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	int err = 0, fd = -1;
	struct iovec iov = {&err, sizeof(err)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != sizeof(err))
		return -EPROTO;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(h), sizeof(int));
	if (err)
		return fd >= 0 ? (close(fd), -err) : -err;
	return fd >= 0 ? fd : -EPROTO;
}

static _Noreturn void child(int sock, char **argv, const sigset_t *mask)
{
	int fd, e;
	sigprocmask(SIG_SETMASK, mask, NULL);
	fd = install_filter();
	send_fd(sock, fd);
	if (fd < 0)
		_exit(EXIT_SETUP);
	close(fd);
	close(sock);
	execvp(argv[0], argv);
	e = errno;
	fprintf(stderr, "bindwatch: cannot run '%s': %s\n", argv[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* ---- the loop --------------------------------------------------------- */

static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_SETUP;
}

static void flush_one(const char *desc, unsigned count, void *ctx)
{
	struct sup *sv = ctx;
	char line[BW_REPEAT_LINE_MAX];
	emit(sv, line, bw_report_repeats(sv->s.format, desc, count, line, sizeof(line)));
}

static int setup(struct sup *sv)
{
	char buf[32];
	sv->nfd = -1;
	sv->own_netns = -1;
	bw_emit_capture_stderr();
	bw_settings_load(&sv->s, env, false);
	sv->s.color = sv->s.color && sv->s.dest == BW_DEST_STDERR && isatty(2);
	for (size_t i = 0; i < sv->s.n_warnings; i++)
		bw_write_all(2, sv->s.warnings[i], strlen(sv->s.warnings[i]));
	bw_diag_use_settings(&sv->s);
	bw_diag_allow_foreign(); /* the supervisor is not the host: BPF and pidfd_getfd are fine */
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sv->sizes) < 0)
		return -errno;
	/* The kernel's structs may have grown past our headers' (seccomp(2)). */
	if (sv->sizes.seccomp_notif < sizeof(struct seccomp_notif))
		sv->sizes.seccomp_notif = sizeof(struct seccomp_notif);
	if (sv->sizes.seccomp_notif_resp < sizeof(struct seccomp_notif_resp))
		sv->sizes.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
	sv->req = calloc(1, sv->sizes.seccomp_notif);
	sv->resp = calloc(1, sv->sizes.seccomp_notif_resp);
	sv->a = calloc(1, sizeof(*sv->a));
	if (!sv->req || !sv->resp || !sv->a)
		return -ENOMEM;
	sv->bind_cap = has_cap(getpid(), CAP_NET_BIND_SERVICE_BIT);
	sv->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	sv->unpriv_start = 1024;
	if (bw_read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_unprivileged_port_start", buf,
			    sizeof(buf)) > 0)
		sv->unpriv_start = atoi(buf);
	return 0;
}

static void announce(const char *cmd, int kind)
{
	fprintf(stderr,
		"bindwatch: %s %s: LD_PRELOAD cannot see its bind()/listen(); supervising it with"
		" seccomp (--supervise)\n",
		cmd, (kind & BW_ELF_GO) ? "is a Go program" : "is statically linked");
}

/* Signals someone sent us (not the terminal: it signals the whole process
 * group, COMMAND included) go on to COMMAND. */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

int bw_supervise(char **argv, int auto_kind)
{
	struct sup sv = {0};
	sigset_t fwd, old;
	int sp[2], pidfd = -1, sigfd = -1, st = 0, r, status = EXIT_SETUP;
	bool reaped = false, listening = true;
	pid_t pid;

	r = setup(&sv);
	if (r < 0) {
		fprintf(stderr, "bindwatch: --supervise: seccomp user notification unavailable: %s\n",
			strerror(-r));
		goto done;
	}
	if (auto_kind > 0)
		announce(argv[0], auto_kind);
	sigemptyset(&fwd);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&fwd, forwarded[i]);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		perror("bindwatch: socketpair");
		goto done;
	}
	fflush(NULL);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	pid = fork();
	if (pid < 0) {
		perror("bindwatch: fork");
		close(sp[0]);
		close(sp[1]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto done;
	}
	if (pid == 0) {
		close(sp[0]);
		child(sp[1], argv, &old);
	}
	close(sp[1]);
	sv.nfd = recv_fd(sp[0]);
	close(sp[0]);
	pidfd = sys_pidfd_open(pid, 0);
	sigfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	if (sv.nfd < 0 || pidfd < 0 || sigfd < 0) {
		r = sv.nfd < 0 ? sv.nfd : -errno;
		fprintf(stderr, "bindwatch: --supervise: cannot install the seccomp filter: %s%s\n",
			strerror(-r),
			r == -EBUSY ? " (another seccomp supervisor already watches this process)" : "");
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		status = EXIT_SETUP;
		goto done;
	}

	/* Until every task that holds the filter is gone: the listener then
	 * polls POLLHUP (Linux 5.8). Our own child counts until reaped. */
	while (!reaped || listening) {
		struct pollfd p[3] = {{listening ? sv.nfd : -1, POLLIN, 0},
				      {reaped ? -1 : pidfd, POLLIN, 0},
				      {sigfd, POLLIN, 0}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("bindwatch: poll");
			break;
		}
		if (p[1].revents) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid || (w < 0 && errno == ECHILD)) {
				reaped = true;
				status = w == pid ? exit_status(st) : EXIT_SETUP;
			}
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_code <= 0) {
				if (!reaped)
					syscall(SYS_pidfd_send_signal, pidfd, (int)si.ssi_signo, NULL, 0);
				else
					break; /* only its descendants are left: stop when asked */
			}
		}
		if (p[0].revents & POLLIN) {
			r = serve_one(&sv);
			if (r < 0) {
				fprintf(stderr, "bindwatch: --supervise: the seccomp listener failed: %s;"
						" no longer watching\n",
					strerror(-r));
				close(sv.nfd);
				sv.nfd = -1;
				listening = false;
			}
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			listening = false;
		}
	}
	if (!reaped) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		status = exit_status(st);
	}
	if (!sv.s.disable)
		bw_ratelimit_flush(flush_one, &sv);
done:
	if (sv.nfd >= 0)
		close(sv.nfd);
	if (pidfd >= 0)
		close(pidfd);
	if (sigfd >= 0)
		close(sigfd);
	if (sv.own_netns >= 0)
		close(sv.own_netns);
	free(sv.req);
	free(sv.resp);
	free(sv.a);
	return status;
}

int bw_command_path(const char *cmd, char *file, size_t size)
{
	const char *path = getenv("PATH"), *colon;
	struct stat st;

	if (!cmd || !*cmd)
		return -ENOENT;
	if (strchr(cmd, '/')) {
		snprintf(file, size, "%s", cmd);
		return 0;
	}
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p = colon + 1) {
		size_t dl;
		colon = strchrnul(p, ':');
		dl = (size_t)(colon - p);
		if (dl == 0)
			snprintf(file, size, "%s", cmd);
		else
			snprintf(file, size, "%.*s/%s", (int)dl, p, cmd);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
			return 0;
		if (!*colon)
			return -ENOENT;
	}
}

int bw_command_kind(const char *cmd)
{
	char file[PATH_MAX];
	int fd, r;

	r = bw_command_path(cmd, file, sizeof(file));
	if (r < 0)
		return r;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = bw_elf_kind(fd);
	close(fd);
	return r;
}
