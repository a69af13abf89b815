/* target: what the supervisor must know about the process it acts for,
 * from /proc and nsfs, to act as the kernel would for that process and not
 * as bindwatch: may it bind a privileged port, is a signal waiting that
 * only the thread in the supervised call can take, which cgroup (v2) does
 * it live in. pid is a process (tgid), tid one of its threads. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The value after "Name:" in the text of a /proc/<pid>/status, or NULL. */
const char *bw_status_field(const char *status, const char *name);

/* Whether pid's credentials pass ns_capable(netns->user_ns,
 * CAP_NET_BIND_SERVICE) for its own network namespace, as
 * __inet_bind()/__inet6_bind() check before binding a port below
 * net.ipv4.ip_unprivileged_port_start: cap_capable()'s walk from the
 * namespace's owner up to pid's user namespace (kernel/capability.c,
 * security/commoncap.c). 1 yes, 0 no, -errno when it can't be told. */
int bw_target_bind_service(pid_t pid);

/* net.ipv4.ip_unprivileged_port_start of pid's network namespace, read
 * through /proc/sys (which shows the reader's namespace: the caller must
 * share pid's, or have entered it). -errno when unreadable. */
int bw_target_unpriv_start(void);

/* 1 when thread tid of pid has a signal pending that it catches and does
 * not block, for itself or for the process (a process-directed one: the
 * kernel may have picked tid to take it, complete_signal(), and then tells
 * no other thread): tid runs the handler as soon as its system call
 * returns. 2 when only stops wait so (SIGSTOP; SIGTSTP, SIGTTIN, SIGTTOU
 * at their default action), or another thread of pid is stopped already
 * (a group stop that waits for tid): tid stops there, and no handler runs
 * before its call is made again. 0 otherwise, -errno when /proc can't be
 * read. */
int bw_target_signal_waiting(pid_t pid, pid_t tid);

/* A descriptor of /proc/<pid>/task/<tid>/stat, for bw_target_task_state;
 * -errno. */
int bw_target_stat_open(pid_t pid, pid_t tid);

/* The scheduler state letter of the thread whose stat fd is (proc(5),
 * /proc/pid/stat field 3: 'S' sleeping, 'D' uninterruptible or killable
 * only, ...), read afresh (pread at 0); -errno. */
int bw_target_task_state(int fd);

/* An O_RDONLY|O_DIRECTORY descriptor of pid's cgroup in the cgroup v2
 * hierarchy (the one a socket records at creation, cgroup_sk_alloc()),
 * found through our mount of cgroup2 (/proc/self/mountinfo); -errno:
 * -ENOENT when no cgroup2 is mounted here. */
int bw_target_cgroup_fd(pid_t pid);

/* Whether pid's cgroup (v2) differs from ours. */
bool bw_target_other_cgroup(pid_t pid);

/* An O_PATH descriptor of path as pid would reach it: an absolute path in
 * its root, a relative one from its cwd, the last component not followed
 * (openat2(2) RESOLVE_IN_ROOT keeps absolute symlinks and ".." inside its
 * root). Opening O_PATH runs no open() of a device or FIFO. -errno. */
int bw_target_path(pid_t pid, const char *path);

/* path (of a unix socket file st, as pid reaches it: from its root or
 * cwd) as we reach it, into buf: through pid's cwd or root as we see them
 * (readlink /proc/<pid>/cwd, /root), when that names the very file st;
 * else (another mount namespace, a directory gone) /proc/<pid>/root/PATH
 * or /proc/<pid>/cwd/PATH, valid while pid lives. -ENAMETOOLONG when it
 * does not fit. */
int bw_target_user_path(pid_t pid, const char *path, const struct stat *st, char *buf,
			size_t size);

/* A descriptor for reading the regular file fd (O_PATH or not) refers to,
 * O_RDONLY|O_NONBLOCK|O_NOCTTY: -EPERM when it is not a regular file
 * (a FIFO would block us, a device's open() could act). -errno. */
int bw_reopen_regular(int fd);
