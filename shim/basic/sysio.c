#include "basic/sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

ssize_t bw_read_retry(int fd, void *buf, size_t n)
{
	ssize_t r;
	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

ssize_t bw_read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
	size_t have = 0;
	int fd;
	if (size == 0)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (have < size - 1) {
		ssize_t n = bw_read_retry(fd, buf + have, size - 1 - have);
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	return (ssize_t)have;
}

int bw_read_lines_at(int dirfd, const char *path, char *buf, size_t size, bw_lines_cb cb,
		     void *ctx)
{
	size_t have = 0;
	bool skipping = false; /* inside a line longer than buf */
	int fd, r = 0;

	if (size == 0)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = bw_read_retry(fd, buf + have, size - have);
		const char *nl;
		size_t used;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			if (have && !skipping)
				r = cb(buf, have, ctx);
			break;
		}
		have += (size_t)n;
		if (skipping) {
			nl = memchr(buf, '\n', have);
			if (!nl) {
				have = 0;
				continue;
			}
			used = (size_t)(nl - buf) + 1;
			memmove(buf, buf + used, have - used);
			have -= used;
			skipping = false;
		}
		nl = have ? memrchr(buf, '\n', have) : NULL;
		if (!nl) {
			if (have == size) {
				have = 0;
				skipping = true;
			}
			continue;
		}
		used = (size_t)(nl - buf) + 1;
		r = cb(buf, used, ctx);
		if (r)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(fd);
	return r;
}

int bw_append_file(const char *path, const char *buf, size_t n)
{
	/* O_NONBLOCK: a FIFO planted at the path fails with ENXIO (no reader)
	 * or is refused below, instead of blocking the program's bind(). */
	int fd = open(path,
		      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
		      0600);
	struct stat st;
	int r;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		r = 0; /* /dev/null: records discarded on purpose */
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if (st.st_uid != geteuid())
		r = -EPERM;
	else
		r = bw_write_all(fd, buf, n);
	close(fd);
	return r;
}

int bw_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int bw_copy_from_user(void *dst, const void *src, size_t n)
{
	int p[2], r = 0;
	ssize_t w;
	if (n > 4096)
		return -EINVAL;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	do
		w = write(p[1], src, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		r = -errno;
	else if ((size_t)w != n || bw_read_retry(p[0], dst, n) != (ssize_t)n)
		r = -EIO;
	close(p[0]);
	close(p[1]);
	return r;
}

long bw_getdents64(int fd, void *buf, size_t n)
{
	long r;
	do
		r = syscall(SYS_getdents64, fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

uint64_t bw_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bw_dir_each(int dirfd, int (*cb)(const char *name, void *ctx), void *ctx)
{
	char buf[1024] __attribute__((aligned(8)));
	long n;
	while ((n = bw_getdents64(dirfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			const struct bw_dirent64 *d = (const void *)(buf + off);
			int r = cb(d->d_name, ctx);
			if (r)
				return r;
			off += d->d_reclen;
		}
	}
	return n < 0 ? (int)n : 0;
}

unsigned bw_tty_columns(int fd)
{
	struct winsize ws;
	/* ioctl is in systemd's @system-service set. */
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}
