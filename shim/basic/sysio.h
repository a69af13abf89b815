/* sysio: the few raw I/O helpers every module shares; no allocation, no
 * locks, EINTR handled, so they are safe on the diagnosis path. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

ssize_t bw_read_retry(int fd, void *buf, size_t n);
/* Reads a whole small file (relative to dirfd) into buf, NUL-terminated;
 * returns bytes read or -errno. */
ssize_t bw_read_file_at(int dirfd, const char *path, char *buf, size_t size);
/* Streams the file at path (relative to dirfd) through buf: cb gets it in
 * pieces of whole lines (the last may lack its '\n' at end of file), as many
 * as fit in buf; a line longer than buf is skipped whole. Stops at the first
 * non-zero cb result and returns it; else 0, or -errno if the file can't be
 * opened or read. For files of any length (/proc/net tables, /proc/stat on
 * a many-CPU machine) with a fixed buffer. */
typedef int (*bw_lines_cb)(const char *lines, size_t n, void *ctx);
int bw_read_lines_at(int dirfd, const char *path, char *buf, size_t size, bw_lines_cb cb,
		     void *ctx);
/* Appends buf to the file at path with one write(2) where the kernel
 * allows, opened for this record only (a daemon that closes every fd can't
 * lose it) with O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC, and written only if it is
 * a regular file owned by the effective uid (or created now, mode 0600);
 * /dev/null is accepted and nothing is written.
 * 0, or -ELOOP (a symlink), -ENXIO or -EINVAL (a FIFO, a device: not a
 * regular file), -EPERM (another owner), another -errno. */
int bw_append_file(const char *path, const char *buf, size_t n);
/* Writes all of buf in as few write(2) calls as the kernel allows (one for
 * any regular file, pipe <= PIPE_BUF or tty); 0 or -errno. */
int bw_write_all(int fd, const void *buf, size_t n);
/* Copies n (<= 4096) bytes from src, a pointer the caller was handed and
 * the kernel has not validated, through a pipe: a bad src is -EFAULT, never
 * a fault in our code (process_vm_readv(2) is outside systemd's
 * @system-service set). 0 or -errno. */
int bw_copy_from_user(void *dst, const void *src, size_t n);

/* The kernel's record layout for getdents64(2). */
struct bw_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};
/* getdents64(2) on a directory fd into buf (records of struct bw_dirent64):
 * bytes read, 0 at the end, or -errno. readdir() would allocate its DIR. */
long bw_getdents64(int fd, void *buf, size_t n);

/* CLOCK_MONOTONIC in nanoseconds (deadlines, rate-limit windows). */
uint64_t bw_now_ns(void);

/* Calls cb with each entry name of the open directory dirfd (getdents64,
 * a 1 KiB buffer on the stack, no allocation) until cb returns non-zero,
 * which is then returned; 0 at the end, or -errno. */
int bw_dir_each(int dirfd, int (*cb)(const char *name, void *ctx), void *ctx);

/* The width of the terminal on fd (TIOCGWINSZ, tty_ioctl(4)); 0 when fd
 * is not a terminal or it reports no width. */
unsigned bw_tty_columns(int fd);
