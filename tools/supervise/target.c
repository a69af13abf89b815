#include "supervise/target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/sysio.h"

#define CAP_NET_BIND_SERVICE_BIT 10
/* Signal sig's bit in a /proc/<pid>/status mask. */
#define BIT(sig) (1ull << ((sig) - 1))

const char *bw_status_field(const char *status, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return p + n + 1;
	return NULL;
}

static int read_status(const char *path, char *buf, size_t size)
{
	ssize_t n = bw_read_file_at(AT_FDCWD, path, buf, size);
	return n < 0 ? (int)n : 0;
}

/* A hex mask field ("SigPnd", "CapEff") of a status text; false if absent. */
static bool mask_field(const char *status, const char *name, unsigned long long *ret)
{
	const char *v = bw_status_field(status, name);
	if (!v)
		return false;
	*ret = strtoull(v, NULL, 16);
	return true;
}

static bool same_file(int fd, const struct stat *b)
{
	struct stat a;
	return fstat(fd, &a) == 0 && a.st_dev == b->st_dev && a.st_ino == b->st_ino;
}

int bw_target_bind_service(pid_t pid)
{
	char path[64], buf[4096];
	unsigned long long capeff;
	unsigned long euid;
	const char *v;
	struct stat own;
	int net, ns, r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((r = read_status(path, buf, sizeof(buf))) < 0)
		return r;
	if (!mask_field(buf, "CapEff", &capeff) || !(v = bw_status_field(buf, "Uid")) ||
	    sscanf(v, "%*u %lu", &euid) != 1)
		return -EPROTO;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat(path, &own) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	net = open(path, O_RDONLY | O_CLOEXEC);
	if (net < 0)
		return -errno;
	ns = ioctl(net, NS_GET_USERNS);
	r = ns < 0 ? -errno : 0;
	close(net);
	if (r < 0)
		return r;
	/* cap_capable(): in its own namespace its effective set decides; in
	 * a child namespace owned by its euid, it holds every capability. */
	for (;;) {
		uid_t owner;
		int parent;
		if (same_file(ns, &own)) {
			r = (int)((capeff >> CAP_NET_BIND_SERVICE_BIT) & 1);
			break;
		}
		parent = ioctl(ns, NS_GET_PARENT);
		if (parent < 0) {
			/* The top (or the edge of our view): never met its own. */
			r = errno == EPERM ? 0 : -errno;
			break;
		}
		if (same_file(parent, &own) && ioctl(ns, NS_GET_OWNER_UID, &owner) == 0 &&
		    owner == (uid_t)euid) {
			close(parent);
			r = 1;
			break;
		}
		close(ns);
		ns = parent;
	}
	close(ns);
	return r;
}

int bw_target_unpriv_start(void)
{
	char buf[32];
	ssize_t n = bw_read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_unprivileged_port_start", buf,
				    sizeof(buf));
	if (n <= 0)
		return n < 0 ? (int)n : -EPROTO;
	return atoi(buf);
}

/* bw_target_signal_waiting's answer for the signals set that wait: 1 when
 * one has a handler, else 2 (stops only). */
static int kind(unsigned long long set, unsigned long long caught)
{
	return (set & caught) ? 1 : 2;
}

/* Whether a thread of pid other than tid is in a group stop ('T' in its
 * /proc stat): another thread took a stop signal and the stop waits for
 * tid to join it (do_signal_stop() flags every thread, JOBCTL_STOP_PENDING,
 * which no mask shows). */
static bool other_stopped(pid_t pid, pid_t tid)
{
	char path[96];
	struct dirent *d;
	bool stopped = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!stopped && (d = readdir(dir))) {
		int fd;
		if (d->d_name[0] == '.' || atoi(d->d_name) == tid)
			continue;
		fd = bw_target_stat_open(pid, atoi(d->d_name));
		if (fd < 0)
			continue;
		stopped = bw_target_task_state(fd) == 'T';
		close(fd);
	}
	closedir(dir);
	return stopped;
}

int bw_target_signal_waiting(pid_t pid, pid_t tid)
{
	char path[96], buf[4096];
	unsigned long long pnd, shd, blk, cgt, ign, acts, stops, waiting;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if ((r = read_status(path, buf, sizeof(buf))) < 0)
		return r;
	if (!mask_field(buf, "SigPnd", &pnd) || !mask_field(buf, "ShdPnd", &shd) ||
	    !mask_field(buf, "SigBlk", &blk) || !mask_field(buf, "SigCgt", &cgt) ||
	    !mask_field(buf, "SigIgn", &ign))
		return -EPROTO;
	/* What it acts on: a handler, or a stop (SIGSTOP; SIGTSTP, SIGTTIN,
	 * SIGTTOU left at their default), which also waits for the call. */
	stops = BIT(SIGSTOP) | ((BIT(SIGTSTP) | BIT(SIGTTIN) | BIT(SIGTTOU)) & ~cgt & ~ign);
	acts = cgt | stops;
	/* A process-directed signal (ShdPnd) counts too, even when another
	 * thread does not block it: complete_signal() wakes one thread that
	 * wants it (wants_signal(): the leader first), and only that one; when
	 * it picked tid, which can't take it in its killable wait, no other
	 * thread is told, and the signal waits for the end of our wait. One
	 * that another thread was woken for is gone by the next look; a look
	 * in between only restarts the call once. */
	waiting = (pnd | shd) & ~blk & acts;
	if (waiting)
		return kind(waiting, cgt);
	return other_stopped(pid, tid) ? 2 : 0;
}

int bw_target_stat_open(pid_t pid, pid_t tid)
{
	char path[96];
	int fd;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int bw_target_task_state(int fd)
{
	char buf[512];
	const char *paren;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold anything, ')' included. */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || !paren[2])
		return -EPROTO;
	return (unsigned char)paren[2];
}

/* The "0::/path" line of a /proc/<pid>/cgroup into path; -errno. */
static int v2_path(const char *file, char *path, size_t size)
{
	char buf[4096];
	const char *p;
	size_t n;
	ssize_t r = bw_read_file_at(AT_FDCWD, file, buf, sizeof(buf));
	if (r < 0)
		return (int)r;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "0::", 3) == 0)
			break;
	if (!p || !*p)
		return -ENOENT;
	p += 3;
	n = strcspn(p, "\n");
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(path, p, n);
	path[n] = '\0';
	return 0;
}

/* Where cgroup2 is mounted here and the cgroup path its root shows. */
static int v2_mount(char *dir, size_t dsize, char *root, size_t rsize)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int r = -ENOENT;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mroot[1024], mpoint[1024];
		const char *dash = strstr(line, " - ");
		/* Mount points with spaces are octal-escaped: no %s surprise. */
		if (!dash || strncmp(dash, " - cgroup2 ", 11) != 0 ||
		    sscanf(line, "%*d %*d %*s %1023s %1023s", mroot, mpoint) != 2)
			continue;
		if (strlen(mpoint) >= dsize || strlen(mroot) >= rsize) {
			r = -ENAMETOOLONG;
			continue;
		}
		snprintf(dir, dsize, "%s", mpoint);
		snprintf(root, rsize, "%s", mroot);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int bw_target_cgroup_fd(pid_t pid)
{
	char file[64], cg[1024], dir[1024], root[1024], full[3072];
	const char *rel;
	size_t rl;
	int r, fd;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	if ((r = v2_path(file, cg, sizeof(cg))) < 0 || (r = v2_mount(dir, sizeof(dir), root,
								    sizeof(root))) < 0)
		return r;
	/* Paths in /proc/<pid>/cgroup are relative to our cgroup namespace's
	 * root, which is what a mount made in it shows as its root. */
	rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if (rl && (strncmp(cg, root, rl) != 0 || (cg[rl] != '/' && cg[rl] != '\0')))
		return -ENOENT;
	rel = cg + rl;
	snprintf(full, sizeof(full), "%s%s", dir, rel);
	fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

bool bw_target_other_cgroup(pid_t pid)
{
	char file[64], a[1024], b[1024];
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	if (v2_path(file, a, sizeof(a)) < 0 || v2_path("/proc/self/cgroup", b, sizeof(b)) < 0)
		return false;
	return strcmp(a, b) != 0;
}

int bw_target_path(pid_t pid, const char *path)
{
	struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
			       .resolve = RESOLVE_NO_MAGICLINKS};
	char dir[64];
	int dfd, fd;

	snprintf(dir, sizeof(dir), "/proc/%d/%s", (int)pid, path[0] == '/' ? "root" : "cwd");
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (path[0] == '/')
		how.resolve |= RESOLVE_IN_ROOT;
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) /* before Linux 5.6 */
		fd = openat(dfd, path[0] == '/' ? path + 1 : path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fd = fd < 0 ? -errno : fd;
	close(dfd);
	return fd;
}

int bw_target_user_path(pid_t pid, const char *path, const struct stat *st, char *buf,
			size_t size)
{
	const char *base = path[0] == '/' ? "root" : "cwd", *sep = path[0] == '/' ? "" : "/";
	char proc[64], link[PATH_MAX];
	struct stat now;
	ssize_t n;
	int len;

	snprintf(proc, sizeof(proc), "/proc/%d/%s", (int)pid, base);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n > 0) {
		char cand[PATH_MAX + 128];
		link[n] = '\0';
		len = snprintf(cand, sizeof(cand), "%s%s%s", strcmp(link, "/") == 0 ? "" : link, sep,
			       path);
		if (len > 0 && (size_t)len < sizeof(cand) && lstat(cand, &now) == 0 &&
		    now.st_dev == st->st_dev && now.st_ino == st->st_ino) {
			if ((size_t)len >= size)
				return -ENAMETOOLONG;
			memcpy(buf, cand, (size_t)len + 1);
			return 0;
		}
	}
	len = snprintf(buf, size, "%s%s%s", proc, path[0] == '/' ? "" : "/", path);
	if (len < 0 || (size_t)len >= size) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int bw_reopen_regular(int fd)
{
	char self[64];
	struct stat st;
	int r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	/* The same inode again, now readable: no path to swap meanwhile. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	r = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	return r < 0 ? -errno : r;
}
