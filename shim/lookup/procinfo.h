/* procinfo: what /proc says about one process (comm, command line, uids,
 * parent, start time, cgroup), read into fixed buffers. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define BW_CMDLINE_MAX 512
#define BW_COMM_MAX 64
#define BW_CGROUP_MAX 256
#define BW_USER_MAX 64

struct bw_proc {
	pid_t pid;
	pid_t ppid;
	uid_t uid;                 /* effective uid */
	bool have_uid;
	char comm[BW_COMM_MAX];
	char cmdline[BW_CMDLINE_MAX];  /* args joined by spaces; raw bytes, escape when printing */
	size_t cmdline_len;
	bool cmdline_truncated;
	time_t start;              /* wall-clock start time, 0 if unknown */
	char cgroup[BW_CGROUP_MAX];    /* v2 path ("0::/system.slice/x.service"), or "" */
	char unit[96];                 /* systemd unit from the cgroup path, or "" */
	char container[72];            /* container id from the cgroup path, or "" */
	bool listen_fds;               /* LISTEN_FDS=N with LISTEN_PID its own pid: socket-activated */
	int n_listen_fds;              /* that N: its fds 3..3+N-1 came from the manager */
	char user[BW_USER_MAX];        /* name, or "" if uid not in passwd */
	/* pid 1 of a pid namespace below the reader's (NSpid: more than one
	 * field, the last 1), and whether it has a SIGTERM handler (SigCgt):
	 * from an ancestor namespace the kernel delivers it only the signals
	 * it has a handler for, and SIGKILL/SIGSTOP (pid_namespaces(7)). */
	bool ns_init;
	bool catches_term;
};

/* Fills *ret for pid; returns 0 or -errno (-ENOENT: gone). Missing fields
 * (e.g. cmdline of a zombie) are left empty. */
int bw_proc_info(const char *proc_root, pid_t pid, struct bw_proc *ret);

/* Parses the text of /proc/<pid>/stat. comm may contain spaces and ')'. */
int bw_proc_parse_stat(const char *buf, char *comm, size_t comm_size, pid_t *ppid,
		       unsigned long long *starttime);

/* "a\0b\0c\0" -> "a b c" in place semantics over a copy; returns length. */
size_t bw_proc_join_cmdline(const char *raw, size_t n, char *out, size_t size);

/* Derives the systemd unit ("nginx.service", "session-2.scope") and a
 * container id (docker/podman/containerd: 64 hex digits) from a cgroup
 * path. Either may come out empty. */
void bw_proc_cgroup_identity(const char *cgroup, char *unit, size_t unit_size, char *container,
			     size_t container_size);

/* Boot time (seconds since the epoch) from <proc_root>/stat's btime. */
time_t bw_proc_boot_time(const char *proc_root);

/* Field number 'field' (proc(5) numbering, >= 4) of a /proc/<pid>/stat
 * text as a number. 0 or -EINVAL. */
int bw_proc_stat_field(const char *buf, int field, unsigned long long *ret);

/* The parent pid of pid from <proc_root>/<pid>/stat. 0 or -errno. */
int bw_proc_ppid(const char *proc_root, pid_t pid, pid_t *ret_ppid);

/* The parent of pid (in our pid namespace) through pidfd_open(2) and the
 * PIDFD_GET_INFO ioctl (Linux 6.13; both in @system-service, no privilege
 * needed): no text to format, about a third of what reading
 * /proc/<pid>/stat costs. 0, -ESRCH (gone), or another -errno (an older
 * kernel: ENOSYS, ENOTTY, EINVAL; a seccomp filter): read stat instead. */
int bw_proc_ppid_pidfd(pid_t pid, pid_t *ret_ppid);

/* startstack (field 28) of pid: where its main stack begins. A fork()ed
 * child keeps its parent's; execve() maps a new one (randomised by ASLR).
 * 0 when hidden (the kernel shows it only with ptrace read access). */
unsigned long long bw_proc_startstack(const char *proc_root, pid_t pid);

/* Device and inode of the file pid executes (stat() through
 * <proc_root>/<pid>/exe; needs ptrace read access: our uid, or root).
 * 0 or -errno. */
int bw_proc_exe_id(const char *proc_root, pid_t pid, dev_t *ret_dev, ino_t *ret_ino);

/* /proc/<pid>/comm without its '\n' into buf ("" when unreadable). */
void bw_proc_comm(pid_t pid, char *buf, size_t size);
