#include "owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

uint64_t bw_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* getdents64 through syscall(): readdir() allocates its DIR. */
static long getdents(int fd, char *buf, size_t n)
{
	return syscall(SYS_getdents64, fd, buf, n);
}

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

/* "socket:[12345]" -> 12345 */
static bool socket_inode(const char *link, ssize_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
		return false;
	for (ssize_t i = 8; i < n - 1; i++) {
		if (link[i] < '0' || link[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(link[i] - '0');
	}
	*ret = v;
	return true;
}

/* Checks every fd of one process; returns how many wanted inodes it held. */
static size_t scan_pid(int proc_fd, const char *pidname, pid_t pid, struct bw_owner_query *q,
		       size_t *left, struct bw_owner_stats *st)
{
	char path[32], dents[8192], link[64];
	size_t hits = 0;
	int fdd;
	long n;

	snprintf(path, sizeof(path), "%s/fd", pidname);
	fdd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdd < 0) {
		if (errno == EACCES || errno == EPERM)
			st->procs_unreadable++;
		return 0;
	}
	st->procs_scanned++;
	while (*left > 0 && (n = getdents(fdd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n && *left > 0;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
			uint64_t ino;
			ssize_t ln;
			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			st->fds_checked++;
			ln = readlinkat(fdd, d->d_name, link, sizeof(link));
			if (ln <= 0 || !socket_inode(link, ln, &ino))
				continue;
			for (size_t i = 0; i < q->n; i++) {
				unsigned long fdnum;
				if (q->inode[i] != ino || q->pid[i] != 0)
					continue;
				q->pid[i] = pid;
				q->fd[i] = parse_uint(d->d_name, &fdnum) ? (int)fdnum : -1;
				(*left)--;
				hits++;
			}
		}
	}
	close(fdd);
	return hits;
}

static bool wanted_uid(const struct bw_owner_query *q, uid_t uid)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->pid[i] == 0 && q->uid[i] == uid)
			return true;
	return false;
}

size_t bw_owner_find(const char *proc_root, pid_t first, struct bw_owner_query *q,
		     uint64_t deadline_ns, struct bw_owner_stats *stats)
{
	struct bw_owner_stats st = {0};
	char dents[16384], name[24];
	size_t left = 0, found = 0;
	int proc_fd;

	for (size_t i = 0; i < q->n; i++) {
		q->pid[i] = 0;
		q->fd[i] = -1;
		if (q->inode[i] != 0)
			left++;
	}
	proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		goto out;
	if (first > 0 && left > 0) {
		snprintf(name, sizeof(name), "%d", (int)first);
		found += scan_pid(proc_fd, name, first, q, &left, &st);
	}
	/* Pass 0 visits only processes running as a wanted socket's uid (the
	 * holder is almost always one of them: daemons run under their own
	 * uid); pass 1 visits the rest. /proc/<pid> is owned by the euid. */
	for (int pass = 0; pass < 2 && left > 0; pass++) {
		long n;
		lseek(proc_fd, 0, SEEK_SET);
		while (left > 0 && (n = getdents(proc_fd, dents, sizeof(dents))) > 0) {
			for (long off = 0; off < n && left > 0;) {
				struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
				unsigned long pid;
				struct stat sb;
				bool pref;
				off += d->d_reclen;
				if (!parse_uint(d->d_name, &pid) || (pid_t)pid == first)
					continue;
				if (fstatat(proc_fd, d->d_name, &sb, 0) < 0)
					continue;
				pref = wanted_uid(q, sb.st_uid);
				if (pref != (pass == 0))
					continue;
				found += scan_pid(proc_fd, d->d_name, (pid_t)pid, q, &left, &st);
				if (deadline_ns && (st.procs_scanned & 15) == 0 &&
				    bw_now_ns() > deadline_ns) {
					st.budget_exhausted = true;
					goto done;
				}
			}
		}
	}
done:
	close(proc_fd);
out:
	if (stats)
		*stats = st;
	return found;
}
