#include "lookup/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "basic/sysio.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* How deep bw_cgroup_path descends (systemd's trees are 4-6 deep; a
 * container's systemd adds its own below /docker/<id>). */
#define DEPTH_MAX 24

int bw_cgroup_mount(char *buf, size_t size)
{
	static const char *const where[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		struct statfs sf;
		if (statfs(where[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
			snprintf(buf, size, "%s", where[i]);
			return 0;
		}
	}
	if (size)
		buf[0] = '\0';
	return -ENOENT;
}

uint64_t bw_cgroup_root_id(void)
{
	char root[64];
	struct stat st;
	if (bw_cgroup_mount(root, sizeof(root)) < 0 || stat(root, &st) < 0)
		return 0;
	return st.st_ino;
}

/* Appends "/name" to path at len; the new length or -ENAMETOOLONG. */
static int push_name(char *path, size_t size, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len + 1 + n >= size)
		return -ENAMETOOLONG;
	path[len] = '/';
	memcpy(path + len + 1, name, n + 1);
	return (int)(len + 1 + n);
}

int bw_cgroup_path(uint64_t id, char *path, size_t size)
{
	char root[64], dents[2048];
	int fds[DEPTH_MAX];
	size_t lens[DEPTH_MAX];
	int depth = 0, r = -ENOENT;
	struct stat st;

	if (size < 2)
		return -ENAMETOOLONG;
	path[0] = '\0';
	if (id == 0 || bw_cgroup_mount(root, sizeof(root)) < 0)
		return -ENOENT;
	fds[0] = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fds[0] < 0)
		return -errno;
	if (fstat(fds[0], &st) == 0 && st.st_ino == id) {
		close(fds[0]);
		snprintf(path, size, "/");
		return 0;
	}
	lens[0] = 0;
	/* Depth first with one directory fd per level and one buffer: before
	 * descending, the parent's offset is set to the entry after the child
	 * (d_off), so its listing resumes there when we come back up. */
	while (depth >= 0) {
		long n = bw_getdents64(fds[depth], dents, sizeof(dents));
		bool descended = false;
		if (n <= 0) {
			close(fds[depth--]);
			continue;
		}
		for (long off = 0; off < n && !descended;) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			int len, fd;
			off += d->d_reclen;
			if (d->d_type != DT_DIR || d->d_name[0] == '.' || d->d_ino > id)
				continue;
			len = push_name(path, size, lens[depth], d->d_name);
			if (len < 0) {
				r = len;
				continue;
			}
			if (d->d_ino == id) {
				r = 0;
				goto out;
			}
			if (depth + 1 >= DEPTH_MAX)
				continue;
			fd = openat(fds[depth], d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (off < n && lseek(fds[depth], d->d_off, SEEK_SET) < 0) {
				close(fd);
				continue;
			}
			fds[++depth] = fd;
			lens[depth] = (size_t)len;
			descended = true;
		}
	}
out:
	while (depth >= 0)
		close(fds[depth--]);
	if (r < 0)
		path[0] = '\0';
	return r;
}

struct procs_ctx {
	pid_t *pids;
	size_t max, n;
};

static int procs_lines(const char *lines, size_t n, void *ctx)
{
	struct procs_ctx *pc = ctx;
	long v = 0;
	bool digits = false;
	for (size_t i = 0; i < n && pc->n < pc->max; i++) {
		if (lines[i] >= '0' && lines[i] <= '9' && v < 100000000) {
			v = v * 10 + (lines[i] - '0');
			digits = true;
		} else {
			if (digits && v > 0)
				pc->pids[pc->n++] = (pid_t)v;
			v = 0;
			digits = false;
		}
	}
	if (digits && v > 0 && pc->n < pc->max)
		pc->pids[pc->n++] = (pid_t)v;
	return pc->n >= pc->max;
}

int bw_cgroup_procs(const char *path, pid_t *pids, size_t max)
{
	char root[64], file[320], buf[2048];
	struct procs_ctx pc = {pids, max, 0};
	int r;
	if (bw_cgroup_mount(root, sizeof(root)) < 0)
		return -ENOENT;
	if (snprintf(file, sizeof(file), "%s%s/cgroup.procs", root,
		     strcmp(path, "/") == 0 ? "" : path) >= (int)sizeof(file))
		return -ENAMETOOLONG;
	r = bw_read_lines_at(AT_FDCWD, file, buf, sizeof(buf), procs_lines, &pc);
	return r < 0 ? r : (int)pc.n;
}
