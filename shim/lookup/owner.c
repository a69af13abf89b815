#include "lookup/owner.h"
#include "basic/sysio.h"
#include "lookup/procinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool parse_uint(const char *s, unsigned long *ret)
{
	unsigned long v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000000ul)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*ret = v;
	return true;
}

/* State shared by the scanning threads (one in the shim). */
struct scan {
	const char *proc_root;
	pid_t first;
	struct bw_owner_query *q;
	uint64_t deadline_ns;
	unsigned workers;
	atomic_size_t left;
	atomic_size_t found;
	atomic_bool out_of_time;
	atomic_uint procs_scanned, procs_unreadable, fds_checked;
	bool all;                 /* q->hits: every holder, not the first */
	size_t hits_base;         /* q->hits[0..hits_base) came from earlier scans */
	atomic_size_t next_hit;   /* next free q->hits slot (may pass hits_cap) */
	const pid_t *pids;        /* only these processes (a cgroup's), not all of /proc */
	size_t n_pids;
};

/* Claims inode slot i for (pid, fd) unless another thread got there first. */
static void claim(struct scan *sc, size_t i, pid_t pid, int fd)
{
	pid_t zero = 0;
	if (__atomic_compare_exchange_n(&sc->q->pid[i], &zero, pid, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		sc->q->fd[i] = fd;
		atomic_fetch_sub(&sc->left, 1);
		atomic_fetch_add(&sc->found, 1);
	}
}

bool bw_owner_hit_known(const struct bw_owner_query *q, size_t upto, size_t slot, pid_t pid,
			int fd)
{
	for (size_t k = 0; k < upto; k++)
		if (q->hits[k].pid == pid && q->hits[k].fd == fd && q->hits[k].slot == slot)
			return true;
	return false;
}

/* Appends (pid, fd) for inode slot i unless an earlier scan already has
 * it (this scan visits each process once, so only those can repeat). */
static void add_hit(struct scan *sc, size_t i, pid_t pid, int fd)
{
	struct bw_owner_query *q = sc->q;
	size_t k;
	if (bw_owner_hit_known(q, sc->hits_base, i, pid, fd))
		return;
	k = atomic_fetch_add(&sc->next_hit, 1);
	if (k < q->hits_cap)
		q->hits[k] = (struct bw_owner_hit){.slot = (uint32_t)i, .pid = pid, .fd = fd};
}

/* The link /proc/<pid>/fd/N ("socket:[N]" for a socket, the inode the
 * socket tables print), read with readlinkat(): proc makes the text itself
 * and never touches the target, where stat() would follow the link into
 * its filesystem (a FUSE daemon that is the program itself, a dead NFS
 * mount: nfs_weak_revalidate() runs for a walk that ends on a procfs link,
 * AT_STATX_DONT_SYNC or not; a lookup that never returns). Following it
 * costs the same as reading it (tools/bench/fdscan.c). *ret_ino is the
 * socket inode, 0 when the fd is no socket; -ENOENT when no such fd;
 * -EACCES when the link may not be read (the fd directory lists for root
 * even without CAP_SYS_PTRACE, its links need ptrace_may_access()). */
static int fd_socket_inode(int fdd, const char *name, unsigned long *ret_ino)
{
	char link[40];
	ssize_t n = readlinkat(fdd, name, link, sizeof(link) - 1);
	*ret_ino = 0;
	if (n < 0)
		return -errno;
	if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
		return 0;
	link[n - 1] = '\0';
	if (!parse_uint(link + 8, ret_ino))
		*ret_ino = 0;
	return 0;
}

/* Records fd of pid when its socket inode is a wanted one. */
static void match_fd(struct scan *sc, pid_t pid, int fd, unsigned long ino)
{
	if (ino == 0)
		return;
	for (size_t i = 0; i < sc->q->n; i++) {
		if (sc->q->inode[i] != ino)
			continue;
		if (sc->all)
			add_hit(sc, i, pid, fd);
		if (__atomic_load_n(&sc->q->pid[i], __ATOMIC_ACQUIRE) == 0)
			claim(sc, i, pid, fd);
	}
}

static bool denied(int r)
{
	return r == -EACCES || r == -EPERM;
}

/* Misses in a row after which probing gives way to getdents64: a failed
 * lookup costs as much as a found link (~1.5 us), a listed fd ~0.8 us. */
#define PROBE_MISSES 8

/* The fds of one process by number, 0, 1, 2... until all 'open' of them
 * (stat() of /proc/<pid>/fd counts them since Linux 6.2: fs/proc/fd.c
 * proc_fd_getattr()) were read: no getdents64, whose per-fd work
 * (proc_fill_cache(): a dcache lookup per fd) costs a quarter of the scan.
 * fds are handed out lowest first (open(2)), so tables are dense; after
 * PROBE_MISSES misses in a row the rest is left to the listing. Returns
 * the first fd number not probed, -1 when every fd was read, -2 when the
 * links may not be read (denied). */
static int probe_fds(struct scan *sc, int fdd, pid_t pid, long open, unsigned *checked)
{
	unsigned misses = 0;
	long seen = 0;
	int fd;
	for (fd = 0; seen < open && atomic_load(&sc->left) > 0; fd++) {
		char name[12];
		unsigned long ino;
		if (misses == PROBE_MISSES)
			return fd;
		snprintf(name, sizeof(name), "%d", fd);
		int r = fd_socket_inode(fdd, name, &ino);
		if (r == -ENOENT) {
			misses++;
			continue;
		}
		if (denied(r))
			return -2;
		misses = 0;
		seen++;
		(*checked)++;
		match_fd(sc, pid, fd, ino);
	}
	return -1;
}

/* Checks every fd of one process. */
static void scan_pid(struct scan *sc, int proc_fd, const char *pidname, pid_t pid)
{
	char path[32], dents[8192];
	bool real_proc = strcmp(sc->proc_root, "/proc") == 0;
	unsigned checked = 0;
	struct stat st;
	int fdd;
	long n;

	if (sc->q->ignore > 0 && pid == sc->q->ignore)
		return;
	snprintf(path, sizeof(path), "%s/fd", pidname);
	fdd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdd < 0) {
		if (errno == EACCES || errno == EPERM)
			atomic_fetch_add(&sc->procs_unreadable, 1);
		return;
	}
	atomic_fetch_add(&sc->procs_scanned, 1);
	/* A fixture tree's directory size is no fd count; st_size 0: a
	 * kernel before 6.2 (or no fd open). */
	if (real_proc && fstat(fdd, &st) == 0 && st.st_size > 0) {
		int next = probe_fds(sc, fdd, pid, (long)st.st_size, &checked);
		if (next == -2)
			goto unreadable;
		/* The listing goes on after fd next: proc_readfd_common()
		 * reads position p as fd p - 2 (after "." and ".."). */
		if (next < 0 || lseek(fdd, (off_t)next + 2, SEEK_SET) < 0)
			goto done;
	}
	while (atomic_load(&sc->left) > 0 && (n = bw_getdents64(fdd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n;) {
			struct bw_dirent64 *d = (struct bw_dirent64 *)(dents + off);
			unsigned long fdnum;
			unsigned long ino;
			int r;
			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			checked++;
			r = fd_socket_inode(fdd, d->d_name, &ino);
			if (denied(r))
				goto unreadable;
			if (r < 0 || ino == 0)
				continue;
			match_fd(sc, pid, parse_uint(d->d_name, &fdnum) ? (int)fdnum : -1, ino);
		}
		/* proc lists every open fd until a record no longer fits
		 * (fs/proc/fd.c proc_readfd_common(): dir_emit() fails); an fd's
		 * record is at most 32 bytes (19 + 10 digits + NUL, 8-aligned),
		 * so a batch that left room for two was the last: no getdents64
		 * just to be told the end. Other file systems (test fixtures)
		 * promise no such thing. */
		if (real_proc && (size_t)n + 64 <= sizeof(dents))
			break;
	}
done:
	atomic_fetch_add(&sc->fds_checked, checked);
	close(fdd);
	return;
unreadable:
	/* None of its links will read: an unreadable process, as one whose
	 * fd directory would not open. */
	atomic_fetch_sub(&sc->procs_scanned, 1);
	atomic_fetch_add(&sc->procs_unreadable, 1);
	atomic_fetch_add(&sc->fds_checked, checked);
	close(fdd);
}

static bool wanted_uid(struct scan *sc, uid_t uid)
{
	for (size_t i = 0; i < sc->q->n; i++)
		if (sc->q->inode[i] && sc->q->uid[i] == uid &&
		    (sc->all || __atomic_load_n(&sc->q->pid[i], __ATOMIC_ACQUIRE) == 0))
			return true;
	return false;
}

/* One worker: every workers-th process of /proc, in two passes. Pass 0
 * visits only processes running as a wanted socket's uid (the holder is
 * almost always one of them: daemons run under their own uid); pass 1
 * the rest. /proc/<pid> is owned by the process's euid. */
static void scan_worker(void *ctx, unsigned id)
{
	struct scan *sc = ctx;
	char dents[16384];
	int proc_fd = open(sc->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return;
	for (size_t i = id; sc->pids && i < sc->n_pids && atomic_load(&sc->left) > 0;
	     i += sc->workers) {
		char name[24];
		/* cgroup.procs shows 0 for a process outside our pid namespace. */
		if (sc->pids[i] <= 0 || sc->pids[i] == sc->first)
			continue;
		snprintf(name, sizeof(name), "%d", (int)sc->pids[i]);
		scan_pid(sc, proc_fd, name, sc->pids[i]);
		if (sc->deadline_ns && bw_now_ns() > sc->deadline_ns) {
			atomic_store(&sc->out_of_time, true);
			break;
		}
		if (atomic_load(&sc->out_of_time))
			break;
	}
	for (int pass = 0; !sc->pids && pass <= 1 && atomic_load(&sc->left) > 0; pass++) {
		long n;
		lseek(proc_fd, 0, SEEK_SET);
		while (atomic_load(&sc->left) > 0 && (n = bw_getdents64(proc_fd, dents, sizeof(dents))) > 0) {
			for (long off = 0; off < n && atomic_load(&sc->left) > 0;) {
				struct bw_dirent64 *d = (struct bw_dirent64 *)(dents + off);
				unsigned long pid;
				struct stat sb;
				off += d->d_reclen;
				/* Shares by pid, not by place in the listing: processes
				 * that come and go between the workers' reads of /proc
				 * would shift the places and drop some from every share. */
				if (!parse_uint(d->d_name, &pid) || (pid_t)pid == sc->first ||
				    pid % sc->workers != id)
					continue;
				if (fstatat(proc_fd, d->d_name, &sb, 0) < 0)
					continue;
				if (wanted_uid(sc, sb.st_uid) != (pass == 0))
					continue;
				scan_pid(sc, proc_fd, d->d_name, (pid_t)pid);
				if (sc->deadline_ns && bw_now_ns() > sc->deadline_ns) {
					atomic_store(&sc->out_of_time, true);
					goto done;
				}
				if (atomic_load(&sc->out_of_time))
					goto done;
			}
		}
	}
done:
	close(proc_fd);
}

/* One share of a pass split over threads: pass(ctx, id). */
struct split_arg {
	void (*pass)(void *ctx, unsigned id);
	void *ctx;
	unsigned id;
};

static void *split_main(void *p)
{
	struct split_arg *a = p;
	a->pass(a->ctx, a->id);
	return NULL;
}

/* Runs pass(ctx, id) for every id below *workers (at most 8), id 0 on this
 * thread, and returns when all are done. Each pass takes the processes
 * whose pid % *workers is its id, so when a thread can't be started the
 * started ones are joined, *workers becomes 1 and this thread covers
 * everything. The shim calls with *workers == 1: no thread is made. */
static void split_run(unsigned *workers, void (*pass)(void *ctx, unsigned id), void *ctx)
{
	pthread_t tids[8];
	struct split_arg args[8];
	unsigned started = 0;
	if (*workers > 8)
		*workers = 8;
	for (unsigned w = 1; w < *workers; w++) {
		args[w] = (struct split_arg){pass, ctx, w};
		if (pthread_create(&tids[w], NULL, split_main, &args[w]) != 0)
			break;
		started++;
	}
	if (started + 1 < *workers) {
		for (unsigned w = 1; w <= started; w++)
			pthread_join(tids[w], NULL);
		started = 0;
		*workers = 1;
	}
	pass(ctx, 0);
	for (unsigned w = 1; w <= started; w++)
		pthread_join(tids[w], NULL);
}

static size_t find(const struct scan *sc_in, struct bw_owner_stats *stats);

size_t bw_owner_find_parallel(const char *proc_root, pid_t first, struct bw_owner_query *q,
			      uint64_t deadline_ns, struct bw_owner_stats *stats, unsigned workers)
{
	struct scan sc = {.proc_root = proc_root, .first = first, .q = q,
			  .deadline_ns = deadline_ns, .workers = workers ? workers : 1};
	return find(&sc, stats);
}

size_t bw_owner_find_pids(const char *proc_root, pid_t first, const pid_t *pids, size_t n_pids,
			  struct bw_owner_query *q, uint64_t deadline_ns,
			  struct bw_owner_stats *stats, unsigned workers)
{
	struct scan sc = {.proc_root = proc_root, .first = first, .q = q,
			  .deadline_ns = deadline_ns, .workers = workers ? workers : 1,
			  .pids = pids, .n_pids = n_pids};
	return find(&sc, stats);
}

static size_t find(const struct scan *sc_in, struct bw_owner_stats *stats)
{
	struct scan sc = *sc_in;
	struct bw_owner_query *q = sc.q;
	const char *proc_root = sc.proc_root;
	pid_t first = sc.first;
	size_t left = 0;

	for (size_t i = 0; i < q->n; i++) {
		q->pid[i] = 0;
		q->fd[i] = -1;
		if (q->inode[i] != 0)
			left++;
	}
	/* Looking for every holder, finding one of each is no reason to stop. */
	sc.all = q->hits != NULL;
	if (sc.all) {
		if (q->n_hits > q->hits_cap)
			q->n_hits = q->hits_cap;
		sc.hits_base = q->n_hits;
		atomic_store(&sc.next_hit, q->n_hits);
		if (left > 0)
			left = SIZE_MAX / 2;
	}
	atomic_store(&sc.left, left);
	if (first > 0 && left > 0) {
		int proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (proc_fd >= 0) {
			char name[24];
			snprintf(name, sizeof(name), "%d", (int)first);
			scan_pid(&sc, proc_fd, name, first);
			close(proc_fd);
		}
	}
	if (atomic_load(&sc.left) > 0)
		split_run(&sc.workers, scan_worker, &sc);
	if (sc.all) {
		size_t next = atomic_load(&sc.next_hit);
		q->n_hits = next < q->hits_cap ? next : q->hits_cap;
		q->hits_dropped += next - q->n_hits;
	}
	if (stats) {
		/* This scan's counts; via_bpf is the caller's to keep. */
		stats->procs_scanned = atomic_load(&sc.procs_scanned);
		stats->procs_unreadable = atomic_load(&sc.procs_unreadable);
		stats->fds_checked = atomic_load(&sc.fds_checked);
		stats->budget_exhausted = atomic_load(&sc.out_of_time);
	}
	return atomic_load(&sc.found);
}

size_t bw_owner_find(const char *proc_root, pid_t first, struct bw_owner_query *q,
		     uint64_t deadline_ns, struct bw_owner_stats *stats)
{
	return bw_owner_find_parallel(proc_root, first, q, deadline_ns, stats, 1);
}

static bool has_pid(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/* The parent of process name in the proc directory proc_fd: through a
 * pidfd while *use_pidfd (the real /proc: our pid namespace), else proc(5)
 * stat field 4; *use_pidfd drops at the first pidfd failure other than
 * "gone". 0 or -errno. */
static int ppid_at(int proc_fd, const char *name, pid_t pid, bool *use_pidfd, pid_t *ret)
{
	char path[40], buf[1024];
	unsigned long long v;
	ssize_t n;
	if (*use_pidfd) {
		int r = bw_proc_ppid_pidfd(pid, ret);
		if (r == 0 || r == -ESRCH)
			return r;
		/* An older kernel, a seccomp filter, valgrind (ENOSYS): stat. */
		*use_pidfd = false;
	}
	snprintf(path, sizeof(path), "%s/stat", name);
	n = bw_read_file_at(proc_fd, path, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	if (bw_proc_stat_field(buf, 4, &v) < 0)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

/* The family: the processes whose children are looked for. A pass reads
 * it while its workers append to it (a child seen late, or not at all by
 * another worker this pass, is caught by the next pass: passes repeat
 * until one adds nobody). */
struct family {
	struct scan *sc;
	const pid_t *skip;
	size_t n_skip;
	pid_t pid[BW_OWNER_FAMILY_MAX];
	atomic_size_t n;      /* may pass BW_OWNER_FAMILY_MAX: the rest did not fit */
	atomic_bool added, full;
	unsigned workers;
};

static bool in_family(struct family *f, pid_t pid)
{
	size_t n = atomic_load(&f->n);
	if (n > BW_OWNER_FAMILY_MAX)
		n = BW_OWNER_FAMILY_MAX;
	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n(&f->pid[i], __ATOMIC_ACQUIRE) == pid)
			return true;
	return false;
}

/* One pass of one worker over every workers-th process of /proc. */
static void family_pass(void *ctx, unsigned id)
{
	struct family *f = ctx;
	struct scan *sc = f->sc;
	bool use_pidfd = strcmp(sc->proc_root, "/proc") == 0;
	char dents[8192];
	long n;
	int proc_fd = open(sc->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0) {
		atomic_store(&f->full, true);
		return;
	}
	while (!atomic_load(&sc->out_of_time) &&
	       (n = bw_getdents64(proc_fd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n;) {
			struct bw_dirent64 *d = (struct bw_dirent64 *)(dents + off);
			unsigned long v;
			pid_t pid, ppid = 0;
			size_t slot;
			off += d->d_reclen;
			/* Shares by pid, as scan_worker's. */
			if (!parse_uint(d->d_name, &v) || v % f->workers != id)
				continue;
			pid = (pid_t)v;
			if (in_family(f, pid) ||
			    ppid_at(proc_fd, d->d_name, pid, &use_pidfd, &ppid) < 0 ||
			    !in_family(f, ppid))
				continue;
			slot = atomic_fetch_add(&f->n, 1);
			if (slot >= BW_OWNER_FAMILY_MAX) {
				atomic_store(&f->full, true);
				continue;
			}
			__atomic_store_n(&f->pid[slot], pid, __ATOMIC_RELEASE);
			atomic_store(&f->added, true);
			if (!has_pid(f->skip, f->n_skip, pid))
				scan_pid(sc, proc_fd, d->d_name, pid);
			if (sc->deadline_ns && bw_now_ns() > sc->deadline_ns) {
				atomic_store(&sc->out_of_time, true);
				break;
			}
		}
	}
	close(proc_fd);
}


size_t bw_owner_find_descendants(const char *proc_root, const pid_t *skip, size_t n_skip,
				 struct bw_owner_query *q, uint64_t deadline_ns,
				 struct bw_owner_stats *stats, unsigned workers,
				 bool *ret_partial)
{
	struct scan sc = {.proc_root = proc_root, .q = q, .deadline_ns = deadline_ns, .workers = 1,
			  .all = true};
	struct family f = {.sc = &sc, .skip = skip, .n_skip = n_skip};
	size_t before = q->n_hits, n0 = 0;
	bool partial;

	*ret_partial = false;
	if (!q->hits)
		return 0;
	for (size_t k = 0; k < q->n_hits && k < q->hits_cap; k++)
		if (!has_pid(f.pid, n0, q->hits[k].pid) && n0 < BW_OWNER_FAMILY_MAX)
			f.pid[n0++] = q->hits[k].pid;
	if (n0 == 0)
		return 0;
	atomic_store(&f.n, n0);
	f.workers = workers < 1 ? 1 : workers > 8 ? 8 : workers;
	sc.hits_base = q->n_hits;
	atomic_store(&sc.next_hit, q->n_hits);
	atomic_store(&sc.left, SIZE_MAX / 2);
	/* Pass after pass until one adds nobody: a grandchild's parent may
	 * join the family after the grandchild was looked at. */
	for (int pass = 0; pass < 8; pass++) {
		atomic_store(&f.added, false);
		split_run(&f.workers, family_pass, &f);
		if (!atomic_load(&f.added) || atomic_load(&sc.out_of_time))
			break;
		if (pass == 7)
			atomic_store(&f.full, true);
	}
	partial = atomic_load(&f.full) || atomic_load(&sc.out_of_time);
	{
		size_t next = atomic_load(&sc.next_hit);
		q->n_hits = next < q->hits_cap ? next : q->hits_cap;
		q->hits_dropped += next - q->n_hits;
	}
	if (stats) {
		stats->procs_scanned += atomic_load(&sc.procs_scanned);
		stats->procs_unreadable += atomic_load(&sc.procs_unreadable);
		stats->fds_checked += atomic_load(&sc.fds_checked);
		stats->budget_exhausted = stats->budget_exhausted || atomic_load(&sc.out_of_time);
	}
	*ret_partial = partial;
	return q->n_hits - before;
}
