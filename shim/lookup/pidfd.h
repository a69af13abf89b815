/* pidfd: a duplicate of another process's descriptor (pidfd_open(2) +
 * pidfd_getfd(2), Linux 5.6; needs ptrace access to it: our own uid or
 * CAP_SYS_PTRACE). pidfd_getfd is outside systemd's @system-service set,
 * so only the bindwatch process calls bw_pidfd_getfd (see
 * diagnose/foreign.c), never the shim inside a host. bw_pidfd_ppid needs
 * only pidfd_open and ioctl (both in the set) and no privilege. */
#pragma once
#include <sys/types.h>

/* A new descriptor (O_CLOEXEC) for descriptor fd of process pid, or -errno. */
int bw_pidfd_getfd(pid_t pid, int fd);

/* The parent of pid (in our pid namespace) through pidfd_open(2) and the
 * PIDFD_GET_INFO ioctl (Linux 6.13): no text to format, about a third of
 * what reading /proc/<pid>/stat costs. 0, -EOPNOTSUPP (older kernel: read
 * stat instead), -ESRCH (gone) or another -errno. */
int bw_pidfd_ppid(pid_t pid, pid_t *ret_ppid);
