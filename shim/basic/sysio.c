#include "basic/sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
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
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	int r;
	if (fd < 0)
		return -errno;
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

unsigned bw_tty_columns(int fd)
{
	struct winsize ws;
	/* ioctl is in systemd's @system-service set. */
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}
