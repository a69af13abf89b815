/* pidfd: a duplicate of another process's descriptor (pidfd_open(2) +
 * pidfd_getfd(2), Linux 5.6; needs ptrace access to it: our own uid or
 * CAP_SYS_PTRACE). pidfd_getfd is outside systemd's @system-service set,
 * so only the bindwatch process calls this (see diagnose/foreign.c), never
 * the shim inside a host. */
#pragma once
#include <sys/types.h>

/* A new descriptor (O_CLOEXEC) for descriptor fd of process pid, or -errno. */
int bw_pidfd_getfd(pid_t pid, int fd);
