/* netns: the network namespaces of the processes under a /proc, each
 * known by its own unix socket table, and the unix sockets of one of them.
 * A path-bound unix socket is reached through the file system, not the
 * network namespace (unix(7)): a socket in any namespace can own a file. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lookup/socktab.h"

/* One network namespace: a process in it. */
struct bw_netns {
	dev_t dev;   /* stat() of <proc_root>/<pid>/net/unix: procfs gives each */
	ino_t ino;   /* namespace's table an inode of its own, and any user may stat it */
	pid_t pid;
};

/* Every network namespace other than the reader's (<proc_root>/self) that
 * some process under proc_root is in, one pid each, into v[0..max); openat,
 * getdents64 and stat only (shim-safe: one stat per process). Returns how
 * many there are (more than max: counted, not stored), or -errno when
 * proc_root can't be read. *ret_unseen: processes whose table could not be
 * looked at (hidepid=1, a race is ENOENT and not counted), so namespaces
 * may exist beyond those counted. */
int bw_netns_list(const char *proc_root, struct bw_netns *v, size_t max, size_t *ret_unseen);

/* Calls cb for every unix socket of pid's network namespace from sock_diag
 * with UDIAG_SHOW_VFS (the bound file's device and inode), asked from
 * inside that namespace: setns(2) on a thread of its own, so the caller's
 * namespace never changes. Needs CAP_SYS_ADMIN over the namespace
 * (-EPERM otherwise). setns is outside the shim's system calls: for the
 * bindwatch process only (bw_diag_allow_foreign). Returns cb's non-zero
 * value, 0, or -errno. */
int bw_netns_unix_query(pid_t pid, bw_sock_cb cb, void *ctx);
