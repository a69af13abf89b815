/* sysio: the few raw I/O helpers every module shares; no allocation, no
 * locks, EINTR handled, so they are safe on the diagnosis path. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

ssize_t bw_read_retry(int fd, void *buf, size_t n);
/* Reads a whole small file (relative to dirfd) into buf, NUL-terminated;
 * returns bytes read or -errno. */
ssize_t bw_read_file_at(int dirfd, const char *path, char *buf, size_t size);
/* Writes all of buf in as few write(2) calls as the kernel allows (one for
 * any regular file, pipe <= PIPE_BUF or tty); 0 or -errno. */
int bw_write_all(int fd, const void *buf, size_t n);
