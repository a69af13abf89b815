#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diagnose/diagnose.h"
#include "report/emit.h"
#include "respond/failure.h"
#include "lookup/procinfo.h"
#include "report/ratelimit.h"
#include "onstack.h"
#include "real.h"
#include "respond/remap.h"
#include "report/report.h"
#include "policy/settings.h"
#include "lookup/socktab.h"
#include "basic/sysio.h"
#include "stack/unwind.h"

/* FLAG_REMAP: a failure may turn into success, so the hook must keep the
 * caller's errno from before the call (the fast path doesn't read it).
 * FLAG_WARN: settings warnings wait for the first bind() or listen(), so a
 * program that never binds (`x=$(date 2>&1)`) prints nothing; cleared once
 * they are out. */
enum { FLAG_TRACE = 1, FLAG_ALWAYS = 2, FLAG_REMAP = 4, FLAG_WARN = 8 };
int bw_hook_flags;

static struct bw_settings settings;
static atomic_int state; /* 0 not loaded, 1 loading, 2 ready */

/* A thread already inside our failure path (e.g. a signal handler that
 * binds while we diagnose) gets a plain pass-through, never recursion.
 * initial-exec: no lazy TLS allocation inside a preloaded library. */
static __thread int busy __attribute__((tls_model("initial-exec")));

static const char *env(const char *name)
{
	return secure_getenv(name);
}

void bw_hook_init(void)
{
	int expected = 0, flags = 0;
	if (!atomic_compare_exchange_strong(&state, &expected, 1))
		return;
	bw_emit_capture_stderr();
	bw_settings_load(&settings, env, getauxval(AT_SECURE) != 0);
	settings.color = settings.color && settings.dest == BW_DEST_STDERR && isatty(2);
	bw_diag_use_settings(&settings);
	if (!settings.disable) {
		if (settings.stack || settings.trace == BW_TRACE_ALL)
			bw_unwind_init();
		flags = (settings.trace == BW_TRACE_ALL ? FLAG_TRACE : 0) |
			(settings.remap && settings.remap_always ? FLAG_ALWAYS : 0) |
			(settings.remap || settings.unix_stale_unlink ? FLAG_REMAP : 0);
	}
	if (settings.n_warnings)
		flags |= FLAG_WARN;
	__atomic_store_n(&bw_hook_flags, flags, __ATOMIC_RELAXED);
	atomic_store(&state, 2);
}

static void warn_once(void);

static int flags_now(void)
{
	return __atomic_load_n(&bw_hook_flags, __ATOMIC_RELAXED);
}

/* The settings, loaded on first use when no constructor did yet (another
 * library's constructor may bind before ours ran). false only while
 * another thread is still loading them (state 1): this path takes no
 * lock, so that one failure passes through unreported instead of waiting. */
static bool ready(void)
{
	if (atomic_load_explicit(&state, memory_order_acquire) != 2)
		bw_hook_init();
	return atomic_load_explicit(&state, memory_order_acquire) == 2;
}

/* Whether a failure is handled (after ready()): BINDWATCH_TRACE=off
 * silences the reports (bw_emit drops them), not a remap or a stale-file
 * removal. */
static bool active(void)
{
	return !settings.disable &&
	       (settings.trace != BW_TRACE_OFF || settings.remap || settings.unix_stale_unlink);
}

/* The failure path's own stack (onstack.h): mapped with the arena as
 * [guard page][stack][struct bw_failure_arena], so an overflow faults on
 * the guard instead of writing over anything. The path's peak is about
 * 50 KiB (socket table and directory buffers, the unwinder). */
#define BW_ARENA_STACK ((size_t)256 * 1024)

struct arena_call {
	int (*fn)(struct bw_failure_arena *a, void *ctx);
	struct bw_failure_arena *a;
	void *ctx;
};

static int arena_entry(void *p)
{
	struct arena_call *call = p;
	return call->fn(call->a, call->ctx);
}

/* Runs fn(a fresh zeroed arena, ctx) on the arena's stack and returns
 * its result in *ret; false when the mapping failed (fn did not run).
 * mmap, not malloc: async-signal-safe and independent of the host's
 * allocator state (we may have interrupted malloc itself). */
static bool with_arena(int (*fn)(struct bw_failure_arena *a, void *ctx), void *ctx, int *ret)
{
	size_t page = (size_t)getauxval(AT_PAGESZ);
	size_t size, total;
	struct arena_call call = {.fn = fn, .ctx = ctx};
	char *m;

	if (page == 0)
		page = 4096;
	size = (sizeof(struct bw_failure_arena) + page - 1) / page * page;
	total = page + BW_ARENA_STACK + size;
	m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return false;
	mprotect(m, page, PROT_NONE); /* the guard; without it we still run */
	call.a = (struct bw_failure_arena *)(m + page + BW_ARENA_STACK);
	*ret = bw_on_stack(arena_entry, &call, m + page + BW_ARENA_STACK);
	munmap(m, total);
	return true;
}

static int warn_on_arena(struct bw_failure_arena *a, void *ctx)
{
	(void)a;
	(void)ctx;
	for (size_t i = 0; i < settings.n_warnings; i++)
		bw_emit_warning(settings.warnings[i], strlen(settings.warnings[i]));
	return 0;
}

/* The settings warnings, once per process, at its first bind() or listen()
 * (a forked child shares its parent's "once"; an exec'd program is a new
 * process); on the arena's stack, as the syslog datagram is built on the
 * stack. */
static void warn_once(void)
{
	static atomic_int done;
	int saved = errno, ignored;
	if (atomic_exchange(&done, 1))
		return;
	__atomic_fetch_and(&bw_hook_flags, ~FLAG_WARN, __ATOMIC_RELAXED);
	with_arena(warn_on_arena, NULL, &ignored);
	errno = saved;
}

static void emit(const char *buf, size_t n, void *ctx)
{
	(void)ctx;
	bw_emit(&settings, buf, n);
}

/* BINDWATCH_UNIX_STALE=unlink: remove a socket file that no socket is
 * bound to (ours, never through a symlink) and retry once. "Stale" must be
 * certain: sock_diag matched every socket by the file it is bound to
 * (c->unix_vfs_checked), in every network namespace (unix_unverified when
 * another could only be searched by name, as always from in here: setns
 * is not ours to call), and the file is still the one it judged. */
static int unlink_stale(struct bw_conflict *c, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct stat st;
	if (!settings.unix_stale_unlink ||
	    (c->cause != BW_CAUSE_UNIX_STALE && c->cause != BW_CAUSE_UNIX_UNVERIFIED) ||
	    c->unix_file != BW_UNIX_FILE_SOCKET || c->want.abstract)
		return -EADDRINUSE;
	c->remap.attempted = true;
	snprintf(c->remap.rule, sizeof(c->remap.rule), "BINDWATCH_UNIX_STALE=unlink");
	if (c->cause == BW_CAUSE_UNIX_UNVERIFIED) {
		snprintf(c->remap.note, sizeof(c->remap.note),
			 "not removed: another network namespace could not be searched by the"
			 " file, and a socket there may be bound to it; ");
		return -EADDRINUSE;
	}
	if (!c->unix_vfs_checked) {
		snprintf(c->remap.note, sizeof(c->remap.note),
			 "not removed: without sock_diag (BINDWATCH_NETLINK=0 or unavailable)"
			 " bindwatch can't tell whether a socket is still bound to the file; ");
		return -EADDRINUSE;
	}
	if (lstat(c->want.path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(c->remap.note, sizeof(c->remap.note),
			 "not removed: not a socket file owned by this user; ");
		return -EADDRINUSE;
	}
	if (c->unix_in_use) {
		snprintf(c->remap.note, sizeof(c->remap.note),
			 "not removed: a socket still carries this name or is bound to a file"
			 " with its inode; ");
		return -EADDRINUSE;
	}
	if (st.st_ino != c->unix_ino || st.st_dev != c->unix_dev ||
	    st.st_ctim.tv_sec != c->unix_ctime.tv_sec ||
	    st.st_ctim.tv_nsec != c->unix_ctime.tv_nsec) {
		snprintf(c->remap.note, sizeof(c->remap.note),
			 "not removed: the file was replaced while it was checked; ");
		return -EADDRINUSE;
	}
	if (unlink(c->want.path) < 0) {
		snprintf(c->remap.note, sizeof(c->remap.note), "unlink failed (errno %d); ", errno);
		return -EADDRINUSE;
	}
	c->remap.attempts = 1;
	if (bw_real_bind()(fd, sa, len) < 0) {
		snprintf(c->remap.note, sizeof(c->remap.note),
			 "removed the stale file, but the retry failed (errno %d); ", errno);
		return -errno;
	}
	c->remap.ok = true;
	c->remap.unlinked = true;
	snprintf(c->remap.note, sizeof(c->remap.note), "removed the stale socket file");
	return 0;
}

/* The failing call, for the callbacks of the shared failure path. */
struct failing {
	const char *call;          /* "bind" or "listen" */
	int fd;
	const struct sockaddr *sa; /* NULL: listen */
	socklen_t len;
	int backlog;
	int err;
};

static int conflict(const char *call, int fd, const struct sockaddr *sa, socklen_t len,
		    int backlog, int err);

static void capture_stack(struct bw_conflict *c, void *ctx)
{
	(void)ctx;
	c->n_frames = bw_unwind_capture(c->frames, (size_t)settings.stack_depth,
					(const void *)conflict, &c->stack_missing);
}

/* A remap by rule on the caller's own fd, or the stale socket file removed. */
static int fix(struct bw_conflict *c, const struct bw_rule *rule, void *ctx)
{
	const struct failing *k = ctx;
	struct bw_remap_ops real_ops = {0}; /* owner 0: the socket is ours */
	if (rule) {
		real_ops.bind = bw_real_bind();
		real_ops.listen = bw_real_listen();
		return k->sa ? bw_remap_bind(rule, &real_ops, k->fd, k->sa, k->len, c, &c->remap)
			     : bw_remap_listen(rule, &real_ops, k->fd, k->backlog, c, &c->remap);
	}
	if (k->sa)
		return unlink_stale(c, k->fd, k->sa, k->len);
	return -c->err;
}

static const struct bw_failure_ops ops = {
	.capture_stack = capture_stack,
	.fix = fix,
	.emit = emit,
};

static int conflict_on_arena(struct bw_failure_arena *a, void *ctx)
{
	struct failing *k = ctx;
	bw_failure_begin(a, k->call, getpid(), k->fd, k->err);
	return bw_failure_handle(a, &settings, k->fd, k->sa, k->len, &ops, k);
}

/* The failure path shared by bind and listen. Returns 0 when a remap made
 * the call succeed. */
static int conflict(const char *call, int fd, const struct sockaddr *sa, socklen_t len,
		    int backlog, int err)
{
	struct failing k = {call, fd, sa, len, backlog, err};
	int res;

	if (busy || !active())
		return -err;
	busy = 1;
	if (!with_arena(conflict_on_arena, &k, &res))
		res = -err;
	busy = 0;
	return res;
}

/* What the caller sees: success with its own errno after a remap, else
 * exactly the failure (r, and the errno the real call set). */
static int outcome(const char *call, int fd, const struct sockaddr *sa, socklen_t len,
		   int backlog, int r, int entry_errno)
{
	int err = errno;
	if (!ready()) {
		errno = err; /* the load may have touched it */
		return r;
	}
	if (flags_now() & FLAG_WARN)
		warn_once();
	if (conflict(call, fd, sa, len, backlog, err) == 0) {
		errno = entry_errno;
		return 0;
	}
	errno = err;
	return r;
}

int bw_hook_bind_failed(int fd, const struct sockaddr *sa, socklen_t len, int r, int entry_errno)
{
	return outcome("bind", fd, sa, len, 0, r, entry_errno);
}

int bw_hook_listen_failed(int fd, int backlog, int r, int entry_errno)
{
	return outcome("listen", fd, NULL, 0, backlog, r, entry_errno);
}

/* A successful call, for the trace record. */
struct traced {
	const char *call;
	int fd;
	const struct sockaddr *sa;
	socklen_t len;
	int r;
};

static int trace_on_arena(struct bw_failure_arena *a, void *ctx)
{
	const struct traced *k = ctx;
	struct bw_trace_event *t = &a->t;
	bw_diag_trace_socket(t, k->fd, k->sa, k->len);
	t->call = k->call;
	t->pid = getpid();
	bw_proc_comm(t->pid, t->comm, sizeof(t->comm));
	t->fd = k->fd;
	t->result = k->r;
	t->time = time(NULL);
	t->have_frame = bw_unwind_capture(&t->frame, 1, (const void *)trace_on_arena, NULL) == 1;
	emit(a->report, bw_report_trace(settings.format, t, a->report, sizeof(a->report)), NULL);
	return 0;
}

/* BINDWATCH_TRACE=all: one line per successful call. */
static void trace(const char *call, int fd, const struct sockaddr *sa, socklen_t len, int r)
{
	struct traced k = {call, fd, sa, len, r};
	int ignored;

	if (busy || !(flags_now() & FLAG_TRACE))
		return;
	busy = 1;
	with_arena(trace_on_arena, &k, &ignored);
	busy = 0;
}

/* An always-mode move, for its record. */
struct moved {
	const struct bw_rule *rule;
	const struct bw_addr *want;
	int fd, to;
};

static int moved_on_arena(struct bw_failure_arena *a, void *ctx)
{
	const struct moved *k = ctx;
	bw_failure_begin(a, "bind", getpid(), k->fd, 0);
	bw_failure_moved(a, &settings, k->rule, k->want, k->to, &ops, NULL);
	return 0;
}

/* BINDWATCH_REMAP_MODE=always: a fixed rule (PORT, +N) moves the bind even
 * without a conflict, and the move is reported. Returns true when it did. */
static bool bind_always(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage moved, asked;
	const struct bw_rule *rule;
	struct bw_addr want;
	struct moved k;
	int to, ignored;

	/* The kernel has not looked at sa yet: read it the way it would (a bad
	 * pointer is EFAULT from the real bind, never a SIGSEGV here). */
	if (!(flags_now() & FLAG_ALWAYS) || busy || len == 0 || len > sizeof(asked) ||
	    bw_copy_from_user(&asked, sa, len) < 0)
		return false;
	sa = (const struct sockaddr *)&asked;
	if (!bw_failure_always_target(&settings, fd, sa, len, &want, &rule, &moved, &to) ||
	    bw_real_bind()(fd, (const struct sockaddr *)&moved, len) < 0)
		return false; /* no rule, or its target is taken: bind as asked */
	k = (struct moved){rule, &want, fd, to};
	busy = 1;
	with_arena(moved_on_arena, &k, &ignored);
	busy = 0;
	trace("bind", fd, (const struct sockaddr *)&moved, len, 0);
	return true;
}

int bw_hook_bind_slow(int fd, const struct sockaddr *sa, socklen_t len, int entry_errno)
{
	int r;
	if (flags_now() & FLAG_WARN)
		warn_once();
	if (bind_always(fd, sa, len)) {
		errno = entry_errno;
		return 0;
	}
	r = bw_real_bind()(fd, sa, len);
	if (r == 0) {
		/* The trace line must not show in the caller's errno. */
		trace("bind", fd, sa, len, 0);
		errno = entry_errno;
		return 0;
	}
	if (errno != EADDRINUSE)
		return r;
	return bw_hook_bind_failed(fd, sa, len, r, entry_errno);
}

int bw_hook_listen_slow(int fd, int backlog, int entry_errno)
{
	int r;
	if (flags_now() & FLAG_WARN)
		warn_once();
	r = bw_real_listen()(fd, backlog);
	if (r == 0) {
		trace("listen", fd, NULL, 0, 0);
		errno = entry_errno;
		return 0;
	}
	if (errno != EADDRINUSE)
		return r;
	return bw_hook_listen_failed(fd, backlog, r, entry_errno);
}

static void flush_one(const char *desc, unsigned count, void *ctx)
{
	char line[BW_REPEAT_LINE_MAX];
	(void)ctx;
	emit(line, bw_report_repeats(settings.format, desc, count, line, sizeof(line)), NULL);
}

void bw_hook_fini(void)
{
	if (atomic_load(&state) == 2 && !settings.disable)
		bw_ratelimit_flush(flush_one, NULL);
}
