/* fdscan: a microbenchmark of the per-fd work of an owner search (not a
 * test). Reads every fd of the processes of one cgroup through /proc with
 * one kind of call, on 1..8 workers, and prints the CPU time per fd.
 * Usage: fdscan CGROUP_DIR MODE WORKERS KIND RUNS [HOLDER_PID HOLDER_FD]
 *   MODE  list      getdents64 of /proc/PID/fd only (the listing's cost)
 *         readlink  list, then readlinkat() of each fd (the scan before 6.2 probing)
 *         probe     stat() of /proc/PID/fd for the count, readlinkat() of
 *                   fd 0, 1, 2... until all are read (lookup/owner.c now)
 *         lstat     list, then statx(AT_SYMLINK_NOFOLLOW) of each: the lookup alone
 *         stat      list, then fstatat() through each link
 *         statx     list, then statx(mask 0, AT_STATX_DONT_SYNC) through each link
 *         fdinfo    list, then open+read+close of /proc/PID/fdinfo/N
 *         uring     list, then IORING_OP_STATX (mask 0, DONT_SYNC) of every fd
 *                   of a process in one io_uring_enter()
 *         kcmp      the count as probe, then kcmp(KCMP_FILE) of each fd against
 *                   the holder's socket (taken with pidfd_getfd: needs HOLDER_*)
 *   KIND  thread | unshare (threads, each with its own fd table) | fork
 * Prints, per run: wall time, user and system CPU, and CPU ns per fd; then
 * the fastest wall time and the least CPU, with the fds read and how many
 * were sockets (lstat and fdinfo: fds answered; kcmp: fds that are the
 * holder's socket). */
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 100000
#define KCMP_FILE 0

struct dent {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

struct worker {
	unsigned id;
	unsigned long fds, sockets;
	struct ring ring;
	struct statx stx[1024];
	char names[1024][12];
};

static pid_t pids[MAX_PIDS];
static size_t n_pids;
static const char *mode;
static unsigned n_workers;
static const char *kind;
static int kcmp_ref = -1;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static double cpu_ms(const struct rusage *a, const struct rusage *b, int user)
{
	const struct timeval *x = user ? &a->ru_utime : &a->ru_stime;
	const struct timeval *y = user ? &b->ru_utime : &b->ru_stime;
	return (double)(y->tv_sec - x->tv_sec) * 1e3 + (double)(y->tv_usec - x->tv_usec) / 1e3;
}

static int ring_init(struct ring *r, unsigned entries)
{
	struct io_uring_params p;
	char *sq, *cq;
	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned *)(void *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(void *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(void *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(void *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(void *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(void *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(void *)(cq + p.cq_off.cqes);
	return 0;
}

static void uring_add(struct worker *w, unsigned k, int dirfd, const char *name)
{
	struct ring *r = &w->ring;
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *s = &r->sqes[idx];
	memset(s, 0, sizeof(*s));
	snprintf(w->names[k], sizeof(w->names[k]), "%s", name);
	s->opcode = IORING_OP_STATX;
	s->fd = dirfd;
	s->addr = (uint64_t)(uintptr_t)w->names[k];
	s->len = 0; /* mask */
	s->statx_flags = AT_STATX_DONT_SYNC;
	s->off = (uint64_t)(uintptr_t)&w->stx[k];
	s->user_data = k;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

static void uring_run(struct worker *w, unsigned n)
{
	struct ring *r = &w->ring;
	unsigned head = *r->cq_head, got = 0;
	syscall(__NR_io_uring_enter, r->fd, n, n, IORING_ENTER_GETEVENTS, NULL, 0);
	while (got < n) {
		unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++, got++) {
			const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
			if (c->res == 0 && S_ISSOCK(w->stx[c->user_data].stx_mode))
				w->sockets++;
		}
		__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
		if (got < n)
			syscall(__NR_io_uring_enter, r->fd, 0, n - got, IORING_ENTER_GETEVENTS, NULL, 0);
	}
}

/* One fd by name in the fd directory fdd, as the mode says. */
static void one_fd(struct worker *w, int proc_fd, pid_t pid, int fdd, const char *name,
		   unsigned *queued)
{
	char link[40], path[64], buf[512];
	struct stat st;
	struct statx sx;
	ssize_t n;
	int f;

	w->fds++;
	if (!strcmp(mode, "readlink")) {
		n = readlinkat(fdd, name, link, sizeof(link));
		w->sockets += n > 8 && !memcmp(link, "socket:[", 8);
	} else if (!strcmp(mode, "lstat")) {
		w->sockets += statx(fdd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0, &sx) == 0;
	} else if (!strcmp(mode, "stat")) {
		w->sockets += fstatat(fdd, name, &st, 0) == 0 && S_ISSOCK(st.st_mode);
	} else if (!strcmp(mode, "statx")) {
		w->sockets += statx(fdd, name, AT_STATX_DONT_SYNC, 0, &sx) == 0 &&
			      S_ISSOCK(sx.stx_mode);
	} else if (!strcmp(mode, "fdinfo")) {
		snprintf(path, sizeof(path), "%d/fdinfo/%s", (int)pid, name);
		f = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
		if (f >= 0) {
			n = read(f, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			w->sockets += strstr(buf, "ino:") != NULL;
			close(f);
		}
	} else if (!strcmp(mode, "uring") && *queued < 1024) {
		uring_add(w, (*queued)++, fdd, name);
	}
}

/* fd 0, 1, 2... until count of them answered (probe and kcmp). */
static void by_number(struct worker *w, pid_t pid, int fdd, long count)
{
	long seen = 0;
	for (int fd = 0, misses = 0; seen < count && misses < 64; fd++) {
		char name[12], link[40];
		long r;
		if (!strcmp(mode, "kcmp")) {
			r = syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, kcmp_ref, fd);
			if (r == 0)
				w->sockets++;
		} else {
			snprintf(name, sizeof(name), "%d", fd);
			r = readlinkat(fdd, name, link, sizeof(link));
			if (r > 8 && !memcmp(link, "socket:[", 8))
				w->sockets++;
		}
		if (r < 0) {
			misses++;
			continue;
		}
		misses = 0;
		seen++;
		w->fds++;
	}
}

static void scan_one(struct worker *w, int proc_fd, pid_t pid)
{
	char path[32], dents[8192];
	unsigned queued = 0;
	struct stat st;
	long n;
	int fdd;

	snprintf(path, sizeof(path), "%d/fd", (int)pid);
	fdd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdd < 0)
		return;
	if (!strcmp(mode, "probe") || !strcmp(mode, "kcmp")) {
		if (fstat(fdd, &st) == 0)
			by_number(w, pid, fdd, (long)st.st_size);
		close(fdd);
		return;
	}
	while ((n = syscall(SYS_getdents64, fdd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n;) {
			struct dent *d = (struct dent *)(void *)(dents + off);
			off += d->reclen;
			if (d->name[0] == '.')
				continue;
			if (!strcmp(mode, "list"))
				w->fds++;
			else
				one_fd(w, proc_fd, pid, fdd, d->name, &queued);
		}
		if ((size_t)n + 64 <= sizeof(dents))
			break;
	}
	if (queued)
		uring_run(w, queued);
	close(fdd);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	int proc_fd;
	if (!strcmp(kind, "unshare") && unshare(CLONE_FILES) < 0)
		perror("fdscan: unshare");
	if (!strcmp(mode, "uring") && w->ring.fd == 0 && ring_init(&w->ring, 1024) < 0) {
		perror("fdscan: io_uring_setup");
		exit(1);
	}
	proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = w->id; i < n_pids; i += n_workers)
		scan_one(w, proc_fd, pids[i]);
	close(proc_fd);
	return NULL;
}

/* One run over every process; returns the fds read, *sockets those that were sockets. */
static unsigned long run(struct worker *ws, unsigned long *sockets)
{
	unsigned long fds = 0;
	*sockets = 0;
	for (unsigned i = 0; i < n_workers; i++) {
		ws[i].fds = ws[i].sockets = 0;
		ws[i].id = i;
	}
	if (!strcmp(kind, "fork")) {
		pid_t kids[8];
		int p[2];
		if (pipe(p) < 0)
			exit(1);
		for (unsigned i = 1; i < n_workers; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				unsigned long v[2];
				work(&ws[i]);
				v[0] = ws[i].fds;
				v[1] = ws[i].sockets;
				_exit(write(p[1], v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : 1);
			}
		}
		work(&ws[0]);
		for (unsigned i = 1; i < n_workers; i++) {
			unsigned long v[2];
			if (read(p[0], v, sizeof(v)) == (ssize_t)sizeof(v)) {
				fds += v[0];
				*sockets += v[1];
			}
			waitpid(kids[i], NULL, 0);
		}
		close(p[0]);
		close(p[1]);
	} else {
		pthread_t t[8];
		for (unsigned i = 1; i < n_workers; i++)
			pthread_create(&t[i], NULL, work, &ws[i]);
		work(&ws[0]);
		for (unsigned i = 1; i < n_workers; i++)
			pthread_join(t[i], NULL);
	}
	if (strcmp(kind, "fork")) {
		for (unsigned i = 0; i < n_workers; i++) {
			fds += ws[i].fds;
			*sockets += ws[i].sockets;
		}
	} else {
		fds += ws[0].fds;
		*sockets += ws[0].sockets;
	}
	return fds;
}

int main(int argc, char **argv)
{
	static struct worker ws[8];
	double best_wall = 1e18, best_cpu = 1e18;
	unsigned long best_fds = 0, best_sockets = 0;
	char path[512];
	FILE *f;
	int runs, v;

	if (argc != 6 && argc != 8) {
		fprintf(stderr, "usage: fdscan CGROUP_DIR MODE WORKERS thread|unshare|fork RUNS "
				"[HOLDER_PID HOLDER_FD]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", argv[1]);
	f = fopen(path, "re");
	if (!f) {
		perror(path);
		return 2;
	}
	while (n_pids < MAX_PIDS && fscanf(f, "%d", &v) == 1)
		pids[n_pids++] = v;
	fclose(f);
	mode = argv[2];
	n_workers = (unsigned)atoi(argv[3]);
	if (n_workers < 1 || n_workers > 8)
		n_workers = 1;
	kind = argv[4];
	runs = atoi(argv[5]);
	if (!strcmp(mode, "kcmp")) {
		int pidfd = argc == 8 ? (int)syscall(SYS_pidfd_open, atoi(argv[6]), 0) : -1;
		kcmp_ref = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, atoi(argv[7]), 0) : -1;
		if (kcmp_ref < 0) {
			perror("fdscan: kcmp needs the holder's socket (pidfd_getfd)");
			return 1;
		}
	}
	for (int r = 0; r < runs; r++) {
		struct rusage a, b, ca, cb;
		unsigned long fds, sockets;
		uint64_t t0;
		double wall, user, sys;
		getrusage(RUSAGE_SELF, &a);
		getrusage(RUSAGE_CHILDREN, &ca);
		t0 = now_ns();
		fds = run(ws, &sockets);
		wall = (double)(now_ns() - t0) / 1e6;
		getrusage(RUSAGE_SELF, &b);
		getrusage(RUSAGE_CHILDREN, &cb);
		user = cpu_ms(&a, &b, 1) + cpu_ms(&ca, &cb, 1);
		sys = cpu_ms(&a, &b, 0) + cpu_ms(&ca, &cb, 0);
		printf("%-8s %u %-7s wall %7.1f ms  user %6.1f ms  sys %6.1f ms  %5.0f ns/fd  "
		       "(%lu fds, %lu sockets)\n",
		       mode, n_workers, kind, wall, user, sys, (user + sys) * 1e6 / (double)(fds ? fds : 1),
		       fds, sockets);
		if (wall < best_wall)
			best_wall = wall;
		if (user + sys < best_cpu) {
			best_cpu = user + sys;
			best_fds = fds;
			best_sockets = sockets;
		}
	}
	printf("%-8s %u %-7s fastest %7.1f ms, least CPU %7.1f ms = %5.0f ns/fd (%lu fds, %lu %s)\n",
	       mode, n_workers, kind, best_wall, best_cpu,
	       best_cpu * 1e6 / (double)(best_fds ? best_fds : 1), best_fds, best_sockets,
	       !strcmp(mode, "kcmp")                             ? "the holder's"
	       : !strcmp(mode, "lstat") || !strcmp(mode, "fdinfo") ? "answered"
								  : "sockets");
	return 0;
}
