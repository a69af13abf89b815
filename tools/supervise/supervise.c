#include "supervise/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */
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
#include <sys/un.h>
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
#include "supervise/target.h"
#include "basic/sysio.h"

#if defined(__x86_64__)
#define BW_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BW_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define EXIT_SETUP 125
#define STACK_WINDOW ((size_t)BW_FP_WINDOW_WORDS * 8)
#define MAPS_MAX (4u << 20)
/* The kernel's own "restart this call, whatever the handler's SA_RESTART"
 * (include/linux/errno.h; never seen by programs: the signal code restarts
 * the call, arch_do_signal_or_restart()). */
#define BW_ERESTARTNOINTR 513

/* A call that did not end where it began: its thread makes it again.
 * done: it succeeded but the answer could not be given (the caller's wait
 * was interrupted, on a kernel without WAIT_KILLABLE_RECV); else we had
 * the kernel restart it during its wait:N, whose record so far is rec
 * (malloc()ed); stopped: for a stop only (no handler runs in between, see
 * repeats). What identifies the restart: the thread's registers at
 * the system call (restored by rt_sigreturn(2): the same pc, arguments
 * and stack pointer), the socket and the address read from its memory. */
struct restart {
	pid_t tid;                    /* 0: a free slot */
	bool done, stopped;
	struct seccomp_data data;
	uint64_t sp, ino;
	int backlog;
	socklen_t len;
	struct sockaddr_storage ss;
	struct timespec wait_start;   /* when its wait:N began */
	long wait_ms;                 /* how long that wait lasts in all */
	struct bw_conflict *rec;
};
#define RESTARTS_MAX 16
/* Calls waiting in a wait:N at once; one more fails its wait at once. */
#define HELD_MAX 64

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
	int own_netns;                /* to come back after a diagnosis in the caller's */
	pid_t child;                  /* COMMAND */
	int pidfd, sigfd;             /* COMMAND's pidfd; signals to forward */
	bool reaped, stop;
	int stop_self;                /* a stop signal to stop us with, or 0 */
	/* Calls we had the kernel restart (a signal to handle, see
	 * watch), one per thread: a restart resumes the wait where it
	 * was (repeats). */
	struct restart restarts[RESTARTS_MAX];
	/* Calls in a wait:N, answered later (struct held). */
	struct held *held[HELD_MAX];
	size_t n_held;
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
	uint64_t ino;                 /* its socket's inode */
	bool in_netns;                /* we are in its network namespace now */
	bool restart_stop;            /* restarted for a stop alone (watch) */
	bool held;                    /* its wait:N goes on, unanswered (sup_pause) */
	long retry_ms;                /* ... its next attempt in so many ms */
	int wait_tries;               /* attempts of its wait:N made while held */
	long waited_ms;               /* a restarted call's wait so far */
	long wait_ms;                 /* the longest wait:N of its rule, in ms */
	struct bw_conflict *resumed;  /* a restarted call's record so far */
	int statfd;                   /* its thread's /proc stat (watch); -1 unopened */
	struct timespec wait_start;   /* when its wait:N began (valid once waited) */
	bool wait_started;
	int bind_service;             /* bw_target_bind_service, cached; 2: not yet */
};

/* A call in its wait:N, whose notification stays unanswered while we
 * serve the others (sup_pause, tend): its socket copy, pidfd and stat
 * descriptor stay open in k; rec is its record so far (malloc()ed). */
struct held {
	struct seccomp_notif req;     /* what k.req points to */
	struct call k;
	struct bw_conflict *rec;
	struct timespec next;         /* its next attempt */
};

enum verdict { V_CONTINUE, V_ANSWER, V_GONE, V_HELD };

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

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* ---- /proc helpers ---------------------------------------------------- */

static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return bw_read_file_at(AT_FDCWD, path, buf, size);
}

static pid_t tgid_of(pid_t tid)
{
	char buf[2048];
	const char *v;
	if (read_proc(tid, "status", buf, sizeof(buf)) < 0 || !(v = bw_status_field(buf, "Tgid")))
		return -1;
	return (pid_t)strtol(v, NULL, 10);
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
 * in the process's root is the fallback. The program controls both (a
 * mapped device, a path replaced by a FIFO since): each is looked at with
 * O_PATH first and read only if it is a regular file, without blocking
 * (bw_reopen_regular). Cached per mapping. */
static int module_fd(struct stack_ctx *sc, const struct bw_map *m)
{
	char path[64];
	int fd, at;
	for (size_t i = 0; i < sc->n_mods; i++)
		if (sc->mods[i].start == m->start)
			return sc->mods[i].fd;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)sc->pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	at = open(path, O_PATH | O_CLOEXEC);
	if (at < 0 && m->path[0] == '/')
		at = bw_target_path(sc->pid, m->path);
	fd = at < 0 ? at : bw_reopen_regular(at);
	if (at >= 0)
		close(at);
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

/* ---- passing descriptors ---------------------------------------------- */

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

/* ---- acting for the caller --------------------------------------------- */

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

/* Whether the caller still waits in this very call: checked immediately
 * before anything we do for it that changes state, so that a caller that
 * was killed (or, without SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, had its
 * wait interrupted) gets nothing done in its name (seccomp_unotify(2),
 * "Caveats"). */
static bool still_waiting(const struct sup *sv, const struct call *k)
{
	uint64_t id = k->req->id;
	return ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* The port of an AF_INET/AF_INET6 address (sin_port and sin6_port share
 * the offset), or 0. */
static int sa_port(const struct sockaddr *sa, socklen_t len)
{
	uint16_t port;
	sa_family_t fam;
	if (len < offsetof(struct sockaddr_in, sin_port) + sizeof(port))
		return 0;
	memcpy(&fam, sa, sizeof(fam));
	if (fam != AF_INET && fam != AF_INET6)
		return 0;
	memcpy(&port, (const char *)sa + offsetof(struct sockaddr_in, sin_port), sizeof(port));
	return ntohs(port);
}

/* bind() checks CAP_NET_BIND_SERVICE of the *calling* task for ports below
 * ip_unprivileged_port_start (net/ipv4/af_inet.c __inet_bind, and
 * net/ipv6/af_inet6.c): a bind we make would check ours. 0 when the
 * caller itself may bind port, -EACCES when it may not, and also when
 * that can't be told (its namespace not enterable, its status unreadable):
 * a remap is refused rather than made with our privileges. */
static int its_port(struct sup *sv, struct call *k, int port)
{
	bool was = k->in_netns;
	int entered, start;

	if (port <= 0)
		return 0;
	/* The sysctl is per network namespace: read it in the caller's. */
	entered = was ? 0 : enter_netns(sv, k);
	start = entered >= 0 && k->in_netns ? bw_target_unpriv_start() : -EPERM;
	leave_netns(sv, entered);
	k->in_netns = was;
	if (start >= 0 && port >= start)
		return 0;
	if (k->bind_service == 2)
		k->bind_service = bw_target_bind_service(k->pid);
	return k->bind_service == 1 ? 0 : -EACCES;
}

static int real_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return bind(fd, sa, len);
}

static int real_listen(int fd, int backlog)
{
	return listen(fd, backlog);
}

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
	if (read_proc(k->pid, what, buf, sizeof(buf)) < 0 || !(v = bw_status_field(buf, "flags")))
		return 0;
	return (strtoul(v, NULL, 8) & O_CLOEXEC) ? O_CLOEXEC : 0;
}

/* listen(): bw_remap_listen builds a twin socket at the new port and
 * dup3()s it over the fd it is given, which here is only our duplicate.
 * SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SETFD then puts the
 * twin at the caller's fd number, as dup2() there would (Linux 5.9,
 * seccomp_unotify(2)). The twin is created in the caller's network
 * namespace (enter_netns) and cgroup (sup_socket) or not at all, and given
 * the original socket's owner (fchown on a socket sets sk_uid,
 * net/socket.c sockfs_setattr). */
static int remap_listen(struct sup *sv, struct call *k, const struct bw_rule *rule,
			const struct bw_remap_ops *ops, struct bw_conflict *c)
{
	struct seccomp_notif_addfd add = {0};
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
	r = bw_remap_listen(rule, ops, k->dup, k->backlog, c, &c->remap);
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

/* The call in hand, for the callbacks of the shared failure path. */
struct failing {
	struct sup *sv;
	struct call *k;
	struct bw_conflict *c;
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

/* bw_remap_ops.before: each bind or listen of a remap is made only while
 * the caller still waits, and a bind only to a port the caller could
 * bind itself. */
static int sup_before(int fd, const struct sockaddr *sa, socklen_t len, void *ctx)
{
	struct failing *f = ctx;
	(void)fd;
	if (!still_waiting(f->sv, f->k))
		return -ESRCH;
	return sa ? its_port(f->sv, f->k, sa_port(sa, len)) : 0;
}

/* A socket records its creator's cgroup (v2) when it is made
 * (cgroup_sk_alloc()): cgroup-bpf programs and the socket's accounting
 * follow it. The twin of a listen()-time remap is made by a short-lived
 * child started directly in the caller's cgroup (clone3(2)
 * CLONE_INTO_CGROUP, Linux 5.7), in our current network namespace (the
 * caller's, by now), and handed back over a socketpair. -errno when that
 * cannot be done: the remap is then refused, with the reason. */
static int sup_socket(int domain, int type, int protocol, void *ctx)
{
	struct failing *f = ctx;
	struct clone_args args = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD};
	int sp[2], cg, fd, e;
	pid_t pid;

	if (!bw_target_other_cgroup(f->k->pid)) {
		fd = socket(domain, type, protocol);
		return fd < 0 ? -errno : fd;
	}
	cg = bw_target_cgroup_fd(f->k->pid);
	if (cg < 0) {
		e = cg;
		goto refuse;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		e = -errno;
		close(cg);
		goto refuse;
	}
	args.cgroup = (uint64_t)cg;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		fd = socket(domain, type, protocol);
		send_fd(sp[1], fd < 0 ? -errno : fd);
		_exit(0);
	}
	e = pid < 0 ? -errno : 0;
	close(cg);
	close(sp[1]);
	fd = pid < 0 ? e : recv_fd(sp[0]);
	close(sp[0]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (fd >= 0)
		return fd;
	e = fd;
refuse:
	note(&f->c->remap,
	     "refused: the new socket must be made in the program's cgroup, which failed (%s); ",
	     strerror(-e));
	return e;
}

/* Job control: the stop signals a terminal sends (SIGTSTP on Ctrl-Z,
 * SIGTTIN, SIGTTOU) and SIGCONT. */
static bool job_control(int sig)
{
	return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU || sig == SIGCONT;
}

/* Signals someone sent us go on to COMMAND; once it is reaped (only its
 * descendants are left), a signal tells us to stop. Job control as a
 * shell's own child would see it: a stop signal sent to us goes on to
 * COMMAND, then stops us too, with that signal, so that whoever started
 * us (a shell: its job) sees us stopped (stop_self, once the call in hand
 * is answered and the held ones have seen the signal: tend); SIGCONT
 * continues us (the kernel) and COMMAND. */
static void forward_signals(struct sup *sv)
{
	struct signalfd_siginfo si;
	while (read(sv->sigfd, &si, sizeof(si)) == sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig != SIGCONT && job_control(sig))
			sv->stop_self = sig;
		/* From the kernel (a terminal signals the whole process group,
		 * COMMAND included), or our own SIGPIPE (a write to a closed
		 * pipe, SI_USER from ourselves: pipe_write()): not ours to
		 * pass on. */
		if (si.ssi_code > 0 || (pid_t)si.ssi_pid == getpid())
			continue;
		if (!sv->reaped)
			syscall(SYS_pidfd_send_signal, sv->pidfd, sig, NULL, 0);
		else if (!job_control(sig) && sig != SIGWINCH && sig != SIGURG)
			sv->stop = true; /* not those ignored by default (signal(7)) */
	}
}

/* Stops us with the stop signal forward_signals saw, as its default
 * action would have (it is blocked, for the signalfd): raised, then
 * unblocked alone; we stop there until SIGCONT. In an orphaned process
 * group the kernel discards it, as it would natively. */
static void stop_self(struct sup *sv)
{
	sigset_t one;
	int sig = sv->stop_self;
	sv->stop_self = 0;
	sigemptyset(&one);
	sigaddset(&one, sig);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	sigprocmask(SIG_BLOCK, &one, NULL);
}

/* How often, in ms, a wait:N looks for a signal sent straight to the
 * caller. Nothing tells us of one: signalfd(2) and pidfds see only our
 * own signals or its exit, and the listener polls nothing for it. But the
 * kernel shows it: once we have taken its call, the caller sleeps
 * interruptibly in seccomp_do_user_notification() (kernel/seccomp.c); a
 * signal wakes it (signal_wake_up()), and with WAIT_KILLABLE_RECV it goes
 * back to sleep killable only, state 'D' instead of 'S'. So the state in
 * its /proc stat is read each period (pread on a kept descriptor, a few
 * us), and only a thread no longer in 'S' gets the full look at its
 * pending and blocked sets (bw_target_signal_waiting). The handler runs
 * within about this period (tools/bench/sigdelay). */
#define SIGNAL_POLL_MS 2

/* Whether the caller of a call in its wait:N can wait on. The caller
 * waits killable only (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV): a fatal
 * signal ends it at once, but a handler (or a stop) could run only after
 * our answer. So when such a signal waits for this thread, the call ends
 * with the kernel's ERESTARTNOINTR: the handler runs (or the thread stops)
 * and the same call is made again, as if the signal had come just before
 * it (with or without SA_RESTART: arch_do_signal_or_restart()); its
 * restart resumes this wait (repeats). 0 to wait on; -EINTR then
 * (k->restart_stop: for a stop alone), -ESRCH when the caller no longer
 * waits. */
static int watch(struct sup *sv, struct call *k)
{
	int r;

	if (k->statfd == -1)
		k->statfd = bw_target_stat_open(k->pid, k->tid);
	/* Still asleep as we took it: nothing happened to it. Else (or when
	 * the state can't be read) the full look: killed, or a signal to
	 * take. */
	if (k->statfd >= 0 && bw_target_task_state(k->statfd) == 'S')
		return 0;
	if (!still_waiting(sv, k))
		return -ESRCH;
	r = bw_target_signal_waiting(k->pid, k->tid);
	if (r != 1 && r != 2)
		return 0;
	k->restart_stop = r == 2;
	return -EINTR;
}

/* bw_remap_ops.pause, between the attempts of wait:N: we do not wait here.
 * The call is held (k->held): its notification stays unanswered while we
 * serve every other one, and tend() makes its next attempts, watches its
 * thread every SIGNAL_POLL_MS and answers it in the end. Its deadline
 * counts from the first attempt (wait_start), also across restarts.
 * -EINPROGRESS then; with HELD_MAX calls held already, 1: this wait ends
 * at once, as if its time were up. */
static int sup_pause(long ms, void *ctx)
{
	struct failing *f = ctx;
	struct sup *sv = f->sv;
	struct call *k = f->k;

	if (!k->wait_started) {
		clock_gettime(CLOCK_MONOTONIC, &k->wait_start);
		k->wait_start.tv_sec -= k->waited_ms / 1000;
		k->wait_start.tv_nsec -= (k->waited_ms % 1000) * 1000000L;
		if (k->wait_start.tv_nsec < 0) {
			k->wait_start.tv_nsec += 1000000000L;
			k->wait_start.tv_sec--;
		}
		k->wait_started = true;
	}
	if (sv->n_held >= HELD_MAX) {
		note(&f->c->remap, "wait: not waited: %d other calls wait already; ", HELD_MAX);
		return 1;
	}
	k->held = true;
	k->retry_ms = ms;
	return -EINPROGRESS;
}

/* A remap by rule, made on our copy of the caller's socket. */
static int failing_fix(struct bw_conflict *c, const struct bw_rule *rule, void *ctx)
{
	struct failing *f = ctx;
	struct call *k = f->k;
	int r;
	struct bw_remap_ops ops = {.bind = real_bind, .listen = real_listen,
				   .before = sup_before, .socket = sup_socket,
				   .pause = sup_pause, .waited_ms = k->waited_ms, .ctx = f,
				   .owner_pid = k->pid, .owner_fd = k->fd};
	f->c = c;
	if (!rule)
		return -c->err;
	for (size_t i = 0; i < rule->n_actions; i++)
		if (rule->actions[i].kind == BW_ACT_WAIT && rule->actions[i].a * 1000L > k->wait_ms)
			k->wait_ms = rule->actions[i].a * 1000L;
	r = k->nr == SYS_bind ? bw_remap_bind(rule, &ops, k->dup, (const struct sockaddr *)&k->ss,
					      k->len, c, &c->remap)
			      : remap_listen(f->sv, k, rule, &ops, c);
	/* Those its wait made before count too: while we held it (tend), or,
	 * for a restarted or continued call, the record so far (which counts
	 * its held attempts already). */
	if (c->remap.attempted)
		c->remap.attempts += k->resumed ? k->resumed->remap.attempts : k->wait_tries;
	k->wait_tries = 0;
	/* The program ended (killed) during the wait: it sees no error at
	 * all, so the report says nothing of a remap. */
	if (r < 0 && !k->held && !still_waiting(f->sv, k))
		c->remap.attempted = false;
	return r;
}

/* A call we hold is not over: it reports when it is. */
static void failing_emit(const char *buf, size_t n, void *ctx)
{
	struct failing *f = ctx;
	if (!f->k->held)
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
	struct failing f = {sv, k, NULL};
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
	struct failing f = {sv, k, NULL};
	struct sockaddr_storage moved;
	const struct bw_rule *rule;
	struct bw_addr want;
	int to;

	/* Where the caller may not bind, the move is not made. */
	if (!bw_failure_always_target(&sv->s, k->dup, sa, k->len, &want, &rule, &moved, &to) ||
	    its_port(sv, k, to) < 0 || !still_waiting(sv, k) ||
	    bind(k->dup, (const struct sockaddr *)&moved, k->len) < 0)
		return false;
	bw_failure_begin(&sv->a->f, "bind", k->pid, k->fd, 0);
	bw_failure_moved(&sv->a->f, &sv->s, rule, &want, to, &failing_ops, &f);
	trace(sv, k, (const struct sockaddr *)&moved, k->len);
	return true;
}

/* ---- one notification ------------------------------------------------- */

/* For a port the program may not bind (or when that can't be told), the
 * kernel makes the call itself, with its credentials (its_port). */
static bool needs_its_creds(struct sup *sv, struct call *k)
{
	return its_port(sv, k, sa_port((const struct sockaddr *)&k->ss, k->len)) < 0;
}

/* The restart of a call interrupted in its wait:N made the call at last:
 * the wait succeeded, and its record (the diagnosis made when the call
 * first failed) is completed, written to the port file and reported as
 * an uninterrupted wait's would have been. */
static void resumed_ok(struct sup *sv, struct call *k)
{
	struct bw_conflict *c = &sv->a->f.c;
	struct failing f = {sv, k, NULL};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (!k->resumed)
		return;
	*c = *k->resumed;
	c->remap.ok = true;
	c->remap.action = BW_ACT_WAIT;
	c->remap.attempts++;
	c->remap.to_port = getsockname(k->dup, (struct sockaddr *)&ss, &sl) == 0
				   ? sa_port((const struct sockaddr *)&ss, sl)
				   : c->remap.from_port;
	bw_failure_finish(&sv->a->f, &sv->s, &failing_ops, &f);
}

static int do_bind(struct sup *sv, struct call *k)
{
	const struct sockaddr *sa = (const struct sockaddr *)&k->ss;
	int e;
	if (bind_always(sv, k))
		return 0;
	if (!still_waiting(sv, k))
		return -ESRCH;
	if (bind(k->dup, sa, k->len) == 0) {
		if (k->resumed)
			resumed_ok(sv, k);
		else
			trace(sv, k, sa, k->len);
		return 0;
	}
	e = errno;
	return e == EADDRINUSE ? conflict(sv, k, e) : -e;
}

static int do_listen(struct sup *sv, struct call *k)
{
	int e;
	if (!still_waiting(sv, k))
		return -ESRCH;
	if (listen(k->dup, k->backlog) == 0) {
		if (k->resumed)
			resumed_ok(sv, k);
		else
			trace(sv, k, NULL, 0);
		return 0;
	}
	e = errno;
	return e == EADDRINUSE ? conflict(sv, k, e) : -e;
}

/* AF_UNIX bind creates the socket file with the caller's root, cwd,
 * credentials and umask, and SO_PEERCRED of a unix listener names the
 * caller: we can't make the call for it, the kernel does (CONTINUE). It
 * fails with EADDRINUSE exactly when something exists at the path
 * (unix_bind_bsd(): mknod's EEXIST), or, for an abstract name, when a
 * socket of its network namespace is bound to it: when we find that just
 * before, the conflict is diagnosed and reported as the shim would (no
 * BINDWATCH_UNIX_STALE=unlink here: the file is the program's to remove). */
static void unix_bind(struct sup *sv, struct call *k)
{
	const struct sockaddr *sa = (const struct sockaddr *)&k->ss;
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	struct bw_conflict *c = &sv->a->f.c;
	struct failing f = {sv, k, NULL};
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct stat st = {0};
	int r;

	if (k->len <= off || k->len > sizeof(struct sockaddr_un))
		return; /* autobind, or EINVAL from the kernel */
	memcpy(path, (const char *)sa + off, k->len - off);
	path[k->len - off] = '\0';
	if (path[0] == '\0') {
		int entered = enter_netns(sv, k);
		r = entered >= 0 && k->in_netns ? bw_diag_unix_abstract_taken(sa, k->len) : -EPERM;
		leave_netns(sv, entered);
		k->in_netns = false;
		if (r != 1)
			return;
	} else {
		int fd = bw_target_path(k->pid, path);
		if (fd < 0)
			return;
		r = fstat(fd, &st);
		close(fd);
		if (r < 0)
			return;
	}
	bw_failure_begin(&sv->a->f, "bind", k->pid, k->fd, EADDRINUSE);
	if (path[0] != '\0') {
		c->unix_file = S_ISSOCK(st.st_mode) ? BW_UNIX_FILE_SOCKET : BW_UNIX_FILE_OTHER;
		c->unix_ino = st.st_ino;
		c->unix_dev = st.st_dev;
		c->unix_ctime = st.st_ctim;
		/* "to free it" must name the file for the user, not for the
		 * program (its cwd and root are not ours). */
		if (bw_target_user_path(k->pid, path, &st, c->unix_user_path,
					sizeof(c->unix_user_path)) < 0)
			c->unix_user_path[0] = '\0';
	}
	bw_failure_handle(&sv->a->f, &sv->s, k->dup, sa, k->len, &failing_ops, &f);
}

/* The calling thread's stack pointer at the system call (0 when unknown).
 * A notification can reach us before its thread is asleep: /proc then
 * says "running" (task_current_syscall()) for the moment it takes. */
static uint64_t call_sp(const struct call *k)
{
	struct bw_syscall_site site = {0};
	char buf[512], what[64];
	int r = -EAGAIN;
	snprintf(what, sizeof(what), "task/%d/syscall", (int)k->tid);
	for (int i = 0; i < 100 && r == -EAGAIN; i++) {
		if (i)
			nanosleep(&(struct timespec){0, 100000}, NULL);
		r = read_proc(k->pid, what, buf, sizeof(buf)) < 0 ? -ESRCH
								 : bw_syscall_parse(buf, &site);
	}
	return r < 0 ? 0 : site.sp;
}

static void forget(struct restart *r)
{
	free(r->rec);
	memset(r, 0, sizeof(*r));
}

/* A malloc()ed copy of the record in the arena, or NULL. */
static struct bw_conflict *record_copy(const struct sup *sv)
{
	struct bw_conflict *c = malloc(sizeof(*c));
	if (c)
		*c = sv->a->f.c;
	return c;
}

/* Remembers k for its thread's next call (struct restart): done, or
 * restarted during its wait:N, whose record so far is rec (malloc()ed,
 * ours now). One slot per thread; when all are taken, the oldest wait
 * goes. */
static void remember(struct sup *sv, const struct call *k, bool done, struct bw_conflict *rec)
{
	struct restart *r = NULL;
	for (size_t i = 0; i < RESTARTS_MAX && !r; i++)
		if (sv->restarts[i].tid == k->tid || sv->restarts[i].tid == 0)
			r = &sv->restarts[i];
	for (size_t i = 0; i < RESTARTS_MAX && !r; i++)
		if (i == 0 || sv->restarts[i].wait_start.tv_sec < r->wait_start.tv_sec)
			r = &sv->restarts[i];
	forget(r);
	r->tid = k->tid;
	r->done = done;
	r->stopped = k->restart_stop;
	r->data = k->req->data;
	r->sp = call_sp(k);
	r->ino = k->ino;
	r->backlog = k->backlog;
	r->len = k->len;
	memcpy(&r->ss, &k->ss, k->len);
	r->wait_start = k->wait_start;
	r->wait_ms = k->wait_ms;
	r->rec = rec;
}

/* The remembered call k is the restart of, or NULL. A restart is, as the
 * kernel makes it (arch_do_signal_or_restart(): the same registers, pc
 * moved back to the system call instruction), the very next call of the
 * same thread, with the same pc, arguments, stack pointer, socket and
 * address; and, for a wait:N interrupted by a handler, before that wait
 * would have ended. Anything else (the program siglongjmp()ed out of its
 * handler and called again later, or from elsewhere) is a new call, with a
 * wait of its own. After a stop alone no code of the program ran in
 * between: its restart keeps the wait's deadline however late it comes.
 * Either way the thread's memory is spent. */
static struct restart *repeats(struct sup *sv, const struct call *k)
{
	struct restart *r = NULL;
	bool same;
	for (size_t i = 0; i < RESTARTS_MAX && !r; i++)
		if (sv->restarts[i].tid == k->tid)
			r = &sv->restarts[i];
	if (!r)
		return NULL;
	same = memcmp(&r->data, &k->req->data, sizeof(r->data)) == 0 && r->ino == k->ino &&
	       (k->nr == SYS_bind ? r->len == k->len && memcmp(&r->ss, &k->ss, k->len) == 0
				  : r->backlog == k->backlog) &&
	       (r->sp == 0 || r->sp == call_sp(k)) &&
	       (r->done || r->stopped || ms_since(&r->wait_start) < r->wait_ms);
	if (!same)
		forget(r);
	return same ? r : NULL;
}

/* Closes what a call holds open. */
static void call_close(struct call *k)
{
	free(k->resumed);
	k->resumed = NULL;
	if (k->statfd >= 0)
		close(k->statfd);
	if (k->dup >= 0)
		close(k->dup);
	if (k->pidfd >= 0)
		close(k->pidfd);
	k->statfd = k->dup = k->pidfd = -1;
}

static struct timespec ms_later(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_nsec -= 1000000000L;
		t.tv_sec++;
	}
	return t;
}

/* Holds k, whose wait:N goes on (sup_pause), with the record so far from
 * the arena: its descriptors move to the table. 0, or -ENOMEM (k is then
 * not held). */
static int hold(struct sup *sv, struct call *k)
{
	struct held *h = calloc(1, sizeof(*h));
	if (!h || !(h->rec = record_copy(sv))) {
		free(h);
		return -ENOMEM;
	}
	h->req = *k->req;
	h->k = *k;
	h->k.req = &h->req;
	h->k.resumed = NULL;
	h->k.held = false;
	h->k.wait_tries = 1; /* the attempt before sup_pause */
	h->next = ms_later(k->retry_ms);
	sv->held[sv->n_held++] = h;
	k->statfd = k->dup = k->pidfd = -1;
	return 0;
}

/* Sends sv->resp, k's answer. A success the caller can no longer take
 * (its wait interrupted, before Linux 6.0) answers its restart
 * (remember). -errno only when the listener itself fails. */
static int answer(struct sup *sv, const struct call *k)
{
	if (ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_SEND, sv->resp) == 0)
		return 0;
	if (errno == ENOENT && sv->resp->error == 0 &&
	    !(sv->resp->flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE))
		remember(sv, k, true, NULL);
	else if (errno != ENOENT && errno != EINTR)
		return -errno;
	return 0;
}

/* sv->resp, cleared, for k's notification: r as bind()/listen() return it. */
static void respond(struct sup *sv, const struct call *k, int r)
{
	memset(sv->resp, 0, sv->sizes.seccomp_notif_resp);
	sv->resp->id = k->req->id;
	sv->resp->error = r < 0 ? r : 0;
	sv->resp->val = r < 0 ? -1 : 0;
}

/* The caller of a held call is gone (killed, or its wait interrupted
 * before Linux 6.0): the conflict is reported, and no remap, as the
 * program saw no result of one. 0. */
static int gone(struct sup *sv, struct held *h)
{
	struct failing f = {sv, &h->k, NULL};
	if (h->rec) {
		sv->a->f.c = *h->rec;
		sv->a->f.c.remap.attempted = false;
		bw_failure_finish(&sv->a->f, &sv->s, &failing_ops, &f);
	}
	return 0;
}

/* One turn of a held call, each time round the loop: its thread is
 * watched (a signal ends the call with the restart code, see watch),
 * and when its next attempt is due, that is made; it is answered once
 * the address is free or its wait is over (then as a restarted call
 * resumes it, through the whole failure path: the last attempt, the
 * rule's next action, the report). 1 while it waits on, 0 when done
 * with it (answered, or its caller gone), -errno when the listener
 * fails. */
static int tend(struct sup *sv, struct held *h)
{
	struct call *k = &h->k;
	struct timespec now;
	long waited;
	int r = watch(sv, k);

	if (r == -ESRCH)
		return gone(sv, h);
	if (r == -EINTR) {
		respond(sv, k, -BW_ERESTARTNOINTR);
		remember(sv, k, false, h->rec);
		h->rec = NULL;
		return answer(sv, k);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < h->next.tv_sec ||
	    (now.tv_sec == h->next.tv_sec && now.tv_nsec < h->next.tv_nsec))
		return 1;
	waited = ms_since(&k->wait_start);
	if (waited < k->wait_ms) {
		if (!still_waiting(sv, k))
			return gone(sv, h);
		r = k->nr == SYS_bind ? bind(k->dup, (const struct sockaddr *)&k->ss, k->len)
				      : listen(k->dup, k->backlog);
		if (r < 0 && errno == EADDRINUSE) {
			h->rec->remap.attempts++;
			k->wait_tries++;
			h->next = ms_later(k->retry_ms);
			return 1;
		}
		if (r == 0) {
			k->resumed = h->rec;
			h->rec = NULL;
			resumed_ok(sv, k);
			respond(sv, k, 0);
			return answer(sv, k);
		}
	}
	k->waited_ms = waited;
	k->resumed = h->rec;
	h->rec = NULL;
	r = k->nr == SYS_bind ? do_bind(sv, k) : do_listen(sv, k);
	free(k->resumed);
	k->resumed = NULL;
	if (r == -ESRCH && !still_waiting(sv, k))
		return 0;
	if (k->held) {
		/* Another wait:N of its rule. */
		k->held = false;
		if ((h->rec = record_copy(sv))) {
			k->wait_tries = 1;
			h->next = ms_later(k->retry_ms);
			return 1;
		}
	}
	respond(sv, k, r);
	return answer(sv, k);
}

static void release(struct sup *sv, size_t i)
{
	struct held *h = sv->held[i];
	call_close(&h->k);
	free(h->rec);
	free(h);
	sv->held[i] = sv->held[--sv->n_held];
	sv->held[sv->n_held] = NULL;
}

/* Every held call's turn (tend). -errno when the listener fails. */
static int tend_all(struct sup *sv)
{
	for (size_t i = 0; i < sv->n_held;) {
		int r = tend(sv, sv->held[i]);
		if (r == 1) {
			i++;
			continue;
		}
		release(sv, i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The poll(2) timeout while calls are held: the nearest attempt due, at
 * most SIGNAL_POLL_MS (their threads are watched that often); -1 when
 * none is. */
static int held_timeout(const struct sup *sv)
{
	long ms = SIGNAL_POLL_MS;
	if (!sv->n_held)
		return -1;
	for (size_t i = 0; i < sv->n_held; i++) {
		long left = -ms_since(&sv->held[i]->next);
		if (left < ms)
			ms = left < 0 ? 0 : left;
	}
	return (int)ms;
}

/* We stop while calls are held (asked to, with COMMAND reaped): each
 * fails with EADDRINUSE, its record reported as it stands. */
static void fail_held(struct sup *sv)
{
	while (sv->n_held) {
		struct held *h = sv->held[0];
		struct failing f = {sv, &h->k, NULL};
		if (h->rec && still_waiting(sv, &h->k)) {
			sv->a->f.c = *h->rec;
			bw_failure_finish(&sv->a->f, &sv->s, &failing_ops, &f);
			respond(sv, &h->k, -EADDRINUSE);
			answer(sv, &h->k);
		}
		release(sv, 0);
	}
}

/* Decides one notification. V_CONTINUE lets the kernel run the call as the
 * program made it (whatever we cannot do faithfully: other families, a
 * socket or an address we could not fetch); V_GONE: the caller is gone;
 * V_HELD: its wait:N goes on (struct held). */
static enum verdict handle(struct sup *sv, struct call *k, struct seccomp_notif_resp *resp)
{
	enum verdict v = V_CONTINUE;
	struct restart *again;
	int domain = 0, r;
	socklen_t ol = sizeof(domain);
	struct stat st;

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
	if (getsockopt(k->dup, SOL_SOCKET, SO_DOMAIN, &domain, &ol) < 0 ||
	    (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX) ||
	    (domain == AF_UNIX && k->nr != SYS_bind))
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
	if (!still_waiting(sv, k)) {
		v = V_GONE;
		goto out;
	}
	if (fstat(k->dup, &st) == 0)
		k->ino = st.st_ino;
	if (domain == AF_UNIX) {
		unix_bind(sv, k);
		goto out; /* the kernel makes it */
	}
	if ((again = repeats(sv, k))) {
		bool done = again->done;
		k->waited_ms = ms_since(&again->wait_start);
		k->resumed = again->rec;
		again->rec = NULL;
		forget(again);
		if (done) {
			/* Made already: this is the call it answers. */
			v = V_ANSWER;
			goto out;
		}
	}
	if (k->nr == SYS_bind && needs_its_creds(sv, k)) {
		/* The port asked for is not the program's to bind, but an
		 * always-mode move may take it to one that is, as the shim
		 * moves before the kernel looks (bind_always checks the
		 * new port); otherwise the kernel answers. */
		if (!bind_always(sv, k))
			goto out;
		r = 0;
	} else {
		r = k->nr == SYS_bind ? do_bind(sv, k) : do_listen(sv, k);
	}
	v = V_ANSWER;
	if (r == -ESRCH && !still_waiting(sv, k)) {
		v = V_GONE;
	} else if (k->held && hold(sv, k) == 0) {
		v = V_HELD;
	} else {
		if (k->held) {
			/* Not held after all (no memory): its wait ends here. */
			struct failing f = {sv, k, NULL};
			k->held = false;
			bw_failure_finish(&sv->a->f, &sv->s, &failing_ops, &f);
		}
		resp->error = r < 0 ? r : 0;
		resp->val = r < 0 ? -1 : 0;
	}
out:
	call_close(k);
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
	struct call k = {.pidfd = -1, .dup = -1, .statfd = -1, .bind_service = 2};
	memset(sv->req, 0, sv->sizes.seccomp_notif);
	if (ioctl(sv->nfd, SECCOMP_IOCTL_NOTIF_RECV, sv->req) < 0)
		return errno == ENOENT || errno == EINTR ? 0 : -errno;
	memset(sv->resp, 0, sv->sizes.seccomp_notif_resp);
	sv->resp->id = sv->req->id;
	k.req = sv->req;
	k.tid = (pid_t)sv->req->pid;
	k.nr = sv->req->data.nr;
	k.fd = (int)sv->req->data.args[0];
	switch (handle(sv, &k, sv->resp)) {
	case V_GONE:
	case V_HELD:
		return 0;
	default:
		return answer(sv, &k);
	}
}

/* ---- the child -------------------------------------------------------- */

/* bind and listen of the native ABI go to us, everything else passes. Not
 * libseccomp: Debian 12's 2.5 cannot ask for WAIT_KILLABLE_RECV (2.6 can:
 * SCMP_FLTATR_CTL_WAITKILL), and the whole filter is eight instructions. */
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
	/* WAIT_KILLABLE_RECV (Linux 6.0): once we have taken a call, only a
	 * fatal signal ends the caller's wait, so what we did in its name is
	 * what it is told (see watch); older kernels refuse the flag. */
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
			  &prog);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	return fd < 0 ? -errno : fd;
#else
	return -ENOSYS;
#endif
}

static void announce(const char *cmd, int kind)
{
	fprintf(stderr,
		"bindwatch: %s %s: LD_PRELOAD cannot see its bind()/listen(); supervising it with"
		" seccomp (--supervise)\n",
		cmd, (kind & BW_ELF_GO) ? "is a Go program" : "is statically linked");
}

/* The why of a filter that could not be installed, after strerror. */
static const char *install_hint(int err)
{
	return err == EBUSY ? " (another seccomp supervisor already watches this process)" : "";
}

/* Installs the filter, hands the listener to the parent and runs COMMAND.
 * auto_kind > 0 (supervision chosen for a static or Go program): one line
 * says so, or, when the filter cannot be installed, that COMMAND runs
 * unwatched; the program runs either way. */
static _Noreturn void child(int sock, char **argv, const sigset_t *mask, int auto_kind)
{
	int fd, e;
	sigprocmask(SIG_SETMASK, mask, NULL);
	fd = install_filter();
	send_fd(sock, fd);
	if (fd < 0 && auto_kind <= 0)
		_exit(EXIT_SETUP);
	if (fd < 0)
		fprintf(stderr,
			"bindwatch: %s: cannot supervise it (seccomp filter: %s%s); running it"
			" unwatched\n",
			argv[0], strerror(-fd), install_hint(-fd));
	else if (auto_kind > 0)
		announce(argv[0], auto_kind);
	if (fd >= 0)
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

/* no_bpf: bpf(2) is denied here (probe_supervision), the owner search
 * reads /proc as with BINDWATCH_BPF=0. */
static int setup(struct sup *sv, bool no_bpf)
{
	sv->nfd = -1;
	sv->own_netns = -1;
	sv->pidfd = -1;
	sv->sigfd = -1;
	bw_emit_capture_stderr();
	bw_settings_load(&sv->s, env, false);
	sv->s.color = sv->s.color && sv->s.dest == BW_DEST_STDERR && isatty(2);
	for (size_t i = 0; i < sv->s.n_warnings; i++)
		bw_write_all(2, sv->s.warnings[i], strlen(sv->s.warnings[i]));
	if (no_bpf)
		sv->s.bpf = false;
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
	sv->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return 0;
}

/* The system calls the supervisor needs that an outer seccomp filter may
 * deny (Docker's default profile, systemd's SystemCallFilter=: seccomp(2)
 * and pidfd_getfd(2) are outside @system-service), in the order the probe
 * tries them. */
enum probe_step {
	PROBE_SIZES,     /* seccomp(SECCOMP_GET_NOTIF_SIZES) */
	PROBE_PIDFD,     /* pidfd_open */
	PROBE_GETFD,     /* pidfd_getfd */
	PROBE_READV,     /* process_vm_readv */
	PROBE_FILTER,    /* prctl(PR_SET_NO_NEW_PRIVS) + seccomp(SET_MODE_FILTER) */
	PROBE_ID_VALID,  /* the listener's ioctls, each on a notification that */
	PROBE_RECV,      /* does not exist: the kernel's own answer (ENOENT, or */
	PROBE_SEND,      /* EINVAL for a RECV buffer that is not zeroed) shows */
	PROBE_ADDFD,     /* the call reached seccomp */
	PROBE_BPF,       /* bpf(2): optional, the owner search falls back to /proc */
	PROBE_DONE,
};

static const char *const probe_names[] = {
	[PROBE_SIZES] = "seccomp",
	[PROBE_PIDFD] = "pidfd_open",
	[PROBE_GETFD] = "pidfd_getfd",
	[PROBE_READV] = "process_vm_readv",
	[PROBE_FILTER] = "seccomp filter",
	[PROBE_ID_VALID] = "ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)",
	[PROBE_RECV] = "ioctl(SECCOMP_IOCTL_NOTIF_RECV)",
	[PROBE_SEND] = "ioctl(SECCOMP_IOCTL_NOTIF_SEND)",
	[PROBE_ADDFD] = "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)",
	[PROBE_BPF] = "bpf",
	[PROBE_DONE] = "",
};

/* What the probe found: the first step that failed (PROBE_DONE: none, or
 * only the optional bpf), its errno or the signal that killed the probe. */
struct probe {
	enum probe_step step;
	int err, sig;
	bool no_bpf;
};

/* The probe's own steps, in the forked child: one byte on fd before each,
 * so that the parent knows which one a SIGSYS ended. 0 or the errno. */
static int probe_steps(int out)
{
	struct seccomp_notif_sizes sizes;
	unsigned char buf[512] = {1}; /* RECV wants it zeroed: EINVAL */
	struct seccomp_notif_resp *resp = (void *)buf;
	struct seccomp_notif_addfd add = {0};
	uint64_t id = ~(uint64_t)0; /* no such notification */
	struct iovec local, remote;
	int pfd, fd, nfd, self = 0x5eed, copy = 0;
	unsigned char step;

#define STEP(s) (step = (s), bw_write_all(out, &step, 1))
	STEP(PROBE_SIZES);
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return errno;
	if (sizes.seccomp_notif > sizeof(buf) || sizes.seccomp_notif_resp > sizeof(buf))
		return EOVERFLOW;
	STEP(PROBE_PIDFD);
	pfd = sys_pidfd_open(getpid(), 0);
	if (pfd < 0)
		return errno;
	STEP(PROBE_GETFD);
	fd = sys_pidfd_getfd(pfd, pfd);
	if (fd < 0)
		return errno;
	STEP(PROBE_READV);
	local = (struct iovec){&copy, sizeof(copy)};
	remote = (struct iovec){&self, sizeof(self)};
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof(self))
		return errno ? errno : EIO;
	STEP(PROBE_FILTER);
	nfd = install_filter();
	if (nfd < 0)
		return -nfd;
	STEP(PROBE_ID_VALID);
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 || errno != ENOENT)
		return errno ? errno : EPROTO;
	STEP(PROBE_RECV);
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, buf) == 0 || errno != EINVAL)
		return errno ? errno : EPROTO;
	STEP(PROBE_SEND);
	memset(buf, 0, sizeof(buf));
	resp->id = id;
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp) == 0 || errno != ENOENT)
		return errno ? errno : EPROTO;
	STEP(PROBE_ADDFD);
	add.id = id;
	add.srcfd = (uint32_t)fd;
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &add) >= 0 || errno != ENOENT)
		return errno ? errno : EPROTO;
	/* Any answer but death will do: the owner search copes with EPERM. */
	STEP(PROBE_BPF);
	syscall(SYS_bpf, -1, NULL, 0);
	STEP(PROBE_DONE);
#undef STEP
	return 0;
}

/* Whether we can supervise here at all, tried in a child of ours (it has
 * our seccomp filters, and a SIGSYS kills only it): every system call the
 * supervisor makes that an outer filter may deny with an errno or kill
 * with SIGSYS, before the first of them runs in this process. Without
 * them no call can be watched, and a filter of ours whose listener fails
 * would leave COMMAND's binds answered ENOSYS (the kernel's answer once
 * the listener is gone, seccomp_do_user_notification()). 0 (*pr->step
 * PROBE_DONE), or -errno with *pr saying what denies what. */
static int probe_supervision(struct probe *pr)
{
	unsigned char steps[16];
	ssize_t n;
	int st = 0, fds[2];
	pid_t pid;

	*pr = (struct probe){.step = PROBE_DONE};
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return -e;
	}
	if (pid == 0) {
		close(fds[0]);
		_exit(probe_steps(fds[1]) & 0xff);
	}
	close(fds[1]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			close(fds[0]);
			return -errno;
		}
	n = read(fds[0], steps, sizeof(steps));
	close(fds[0]);
	if (n > 0)
		pr->step = steps[n - 1];
	if (WIFSIGNALED(st))
		pr->sig = WTERMSIG(st);
	else
		pr->err = WEXITSTATUS(st);
	if (n <= 0 || pr->step > PROBE_DONE)
		pr->step = PROBE_SIZES; /* cannot happen: blame the first */
	if (pr->step == PROBE_BPF) {
		/* Optional: the BPF owner search stays off. */
		pr->no_bpf = true;
		pr->step = PROBE_DONE;
	}
	if (pr->step == PROBE_DONE)
		return 0;
	if (!pr->sig && !pr->err)
		pr->err = EPROTO;
	return pr->sig ? -ENOSYS : -pr->err;
}

/* Why the probe failed, in a static string or buf. */
static const char *probe_why(const struct probe *pr, char *buf, size_t size)
{
	if (pr->sig == SIGSYS)
		return "a seccomp filter kills the caller with SIGSYS"
		       " (systemd's SystemCallFilter= by default)";
	if (pr->sig) {
		snprintf(buf, size, "the probe died of signal %d", pr->sig);
		return buf;
	}
	if (pr->step == PROBE_GETFD && pr->err == EPERM)
		return "Operation not permitted (seccomp: Docker's default profile needs"
		       " --cap-add SYS_PTRACE)";
	snprintf(buf, size, "%s%s", strerror(pr->err),
		 pr->step == PROBE_FILTER ? install_hint(pr->err) : "");
	return buf;
}

/* Says why we cannot supervise: for an automatic choice, that COMMAND
 * runs unwatched; for --supervise, what failed. */
static void probe_notice(const struct probe *pr, const char *cmd, bool automatic)
{
	char buf[128];
	const char *why = probe_why(pr, buf, sizeof(buf));

	if (pr->step == PROBE_FILTER && !pr->sig) {
		if (automatic)
			fprintf(stderr,
				"bindwatch: %s: cannot supervise it (seccomp filter: %s); running it"
				" unwatched\n",
				cmd, why);
		else
			fprintf(stderr, "bindwatch: --supervise: cannot install the seccomp filter: %s\n",
				why);
	} else if (pr->step == PROBE_SIZES && !pr->sig) {
		if (automatic)
			fprintf(stderr,
				"bindwatch: %s: cannot supervise it (seccomp user notification"
				" unavailable: %s); running it unwatched\n",
				cmd, why);
		else
			fprintf(stderr,
				"bindwatch: --supervise: seccomp user notification unavailable: %s\n",
				why);
	} else if (automatic) {
		fprintf(stderr,
			"bindwatch: %s: cannot supervise it (%s is denied here: %s); running it"
			" unwatched\n",
			cmd, probe_names[pr->step], why);
	} else {
		fprintf(stderr, "bindwatch: --supervise: %s is denied here: %s\n",
			probe_names[pr->step], why);
	}
}

/* Runs COMMAND as is, in our place; the exit status when it cannot. */
static int run_unwatched(char **argv)
{
	int e;
	fflush(NULL);
	execvp(argv[0], argv);
	e = errno;
	fprintf(stderr, "bindwatch: cannot run '%s': %s\n", argv[0], strerror(e));
	return e == ENOENT ? 127 : 126;
}

/* Signals someone sent us go on to COMMAND (forward_signals), as tini and
 * dumb-init pass them: every one that can be caught (SIGWINCH, SIGALRM,
 * SIGPWR, real-time signals...), except those we need ourselves: SIGCHLD
 * (COMMAND's exit; its pidfd) and the faults of our own code (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGTRAP: blocked, the kernel would deliver them
 * past a sanitizer's or debugger's handler, force_sig_info_to_task()).
 * glibc's sigfillset leaves out its internal SIGCANCEL and SIGSETXID. */
static void forwarded_set(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGKILL);
	sigdelset(set, SIGSTOP);
	sigdelset(set, SIGCHLD);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGTRAP);
}

int bw_supervise(char **argv, int auto_kind)
{
	struct sup sv = {0};
	sigset_t fwd, old;
	int sp[2], st = 0, r, status = EXIT_SETUP;
	struct probe pr;
	bool listening = true;
	pid_t pid;

	/* Before any of them runs here: a SIGSYS would kill us. */
	r = probe_supervision(&pr);
	if (r < 0) {
		probe_notice(&pr, argv[0], auto_kind > 0);
		if (auto_kind > 0)
			status = run_unwatched(argv); /* chosen for the user: runs anyway */
		goto done;
	}
	r = setup(&sv, pr.no_bpf);
	if (r < 0) {
		fprintf(stderr, "bindwatch: --supervise: seccomp user notification unavailable: %s\n",
			strerror(-r));
		goto done;
	}
	forwarded_set(&fwd);
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
		child(sp[1], argv, &old, auto_kind);
	}
	sv.child = pid;
	close(sp[1]);
	sv.nfd = recv_fd(sp[0]);
	close(sp[0]);
	sv.pidfd = sys_pidfd_open(pid, 0);
	sv.sigfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	if ((sv.nfd < 0 && auto_kind <= 0) || sv.pidfd < 0 || sv.sigfd < 0) {
		r = sv.nfd < 0 ? sv.nfd : -errno;
		fprintf(stderr, "bindwatch: --supervise: cannot install the seccomp filter: %s%s\n",
			strerror(-r), install_hint(-r));
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		status = EXIT_SETUP;
		goto done;
	}
	/* Automatic and refused: the child said so and runs COMMAND as is. */
	listening = sv.nfd >= 0;

	/* Until every task that holds the filter is gone: the listener then
	 * polls POLLHUP (Linux 5.8). Our own child counts until reaped. */
	while ((!sv.reaped || listening) && !sv.stop) {
		struct pollfd p[3] = {{listening ? sv.nfd : -1, POLLIN, 0},
				      {sv.reaped ? -1 : sv.pidfd, POLLIN, 0},
				      {sv.sigfd, POLLIN, 0}};
		if (poll(p, 3, held_timeout(&sv)) < 0) {
			if (errno == EINTR)
				continue;
			perror("bindwatch: poll");
			break;
		}
		if (p[1].revents) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid || (w < 0 && errno == ECHILD)) {
				sv.reaped = true;
				status = w == pid ? exit_status(st) : EXIT_SETUP;
			}
		}
		if (p[2].revents & POLLIN)
			forward_signals(&sv);
		if (sv.stop)
			break; /* only its descendants are left: stop when asked */
		if (p[0].revents & POLLIN)
			r = serve_one(&sv);
		else
			r = 0;
		/* Waits go on while others are served. */
		if (r >= 0)
			r = tend_all(&sv);
		if (r < 0) {
			fprintf(stderr, "bindwatch: --supervise: the seccomp listener failed: %s;"
					" no longer watching\n",
				strerror(-r));
			close(sv.nfd);
			sv.nfd = -1;
			listening = false;
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			listening = false;
		}
		if (sv.stop_self)
			stop_self(&sv);
	}
	if (sv.stop && sv.nfd >= 0)
		fail_held(&sv);
	if (!sv.reaped) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		status = exit_status(st);
	}
	if (!sv.s.disable)
		bw_ratelimit_flush(flush_one, &sv);
done:
	if (sv.nfd >= 0)
		close(sv.nfd);
	if (sv.pidfd >= 0)
		close(sv.pidfd);
	if (sv.sigfd >= 0)
		close(sv.sigfd);
	if (sv.own_netns >= 0)
		close(sv.own_netns);
	for (size_t i = 0; i < RESTARTS_MAX; i++)
		forget(&sv.restarts[i]);
	while (sv.n_held)
		release(&sv, 0);
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
	/* Only a regular file is read (a FIFO would block us). */
	r = open(file, O_PATH | O_CLOEXEC);
	if (r < 0)
		return -errno;
	fd = bw_reopen_regular(r);
	close(r);
	if (fd < 0)
		return fd;
	r = bw_elf_kind(fd);
	close(fd);
	return r;
}
