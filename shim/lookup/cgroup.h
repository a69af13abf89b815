/* cgroup: the cgroup v2 hierarchy through its mount (cgroups(7)): the path
 * of a socket's cgroup from the id sock_diag gives (INET_DIAG_CGROUP_ID,
 * Linux 5.7), and the processes in a cgroup (cgroup.procs). Readable by any
 * user; raw openat/getdents64 into fixed buffers, no allocation, no locks:
 * safe on the diagnosis path. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroup2 mount point into buf: /sys/fs/cgroup on a unified host,
 * /sys/fs/cgroup/unified on a hybrid one (statfs(2) f_type
 * CGROUP2_SUPER_MAGIC). 0, or -ENOENT when there is none. */
int bw_cgroup_mount(char *buf, size_t size);

/* The path of the cgroup with id id, relative to the cgroup2 mount and
 * starting with '/' ("/system.slice/nginx.service"), as /proc/<pid>/cgroup
 * prints it. A cgroup's id is the kernfs node id of its directory, which
 * getdents64 reports as d_ino (kernel/cgroup/cgroup.c cgroup_id(),
 * fs/kernfs/dir.c kernfs_fop_readdir()); ids only grow, so a directory
 * whose id is above the wanted one is not entered. 0, -ENOENT (no such
 * cgroup), -ENAMETOOLONG (path longer than size) or another -errno. */
int bw_cgroup_path(uint64_t id, char *path, size_t size);

/* The id of the cgroup2 root (1 on Linux: the root cgroup holds every
 * process nobody placed elsewhere, so its id narrows nothing), or 0. */
uint64_t bw_cgroup_root_id(void);

/* Up to max pids of the processes in cgroup path (cgroup.procs, as from
 * bw_cgroup_path) into pids. Returns how many, or -errno. */
int bw_cgroup_procs(const char *path, pid_t *pids, size_t max);
