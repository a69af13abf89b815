/* owner: which process holds a socket inode, found by walking
 * <proc_root>/<pid>/fd with directory fds, getdents64 and readlinkat, into
 * fixed buffers (no allocation, no locks: safe on the diagnosis path). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BW_OWNER_MAX 64 /* inodes looked up at once */
#define BW_OWNER_FAMILY_MAX 512 /* processes followed by bw_owner_find_descendants */

/* One process that has one of the wanted sockets open. */
struct bw_owner_hit {
	uint32_t slot;                /* index into bw_owner_query.inode */
	pid_t pid;
	int fd;
};

struct bw_owner_query {
	size_t n;
	uint64_t inode[BW_OWNER_MAX];
	uint32_t uid[BW_OWNER_MAX];   /* socket owner uid: its processes are tried first */
	pid_t pid[BW_OWNER_MAX];      /* out: 0 when not found */
	int fd[BW_OWNER_MAX];         /* out */
	/* Every holder, not just the first: when hits is set (the caller's
	 * storage, hits_cap entries), the scan visits every process until the
	 * deadline and appends one hit per (pid, fd) holding a wanted inode
	 * (a socket shared after fork() is open in several processes). Hits
	 * past hits_cap are only counted. pid[]/fd[] still name the first. */
	struct bw_owner_hit *hits;
	size_t hits_cap;
	size_t n_hits;                /* in/out: kept hits (earlier ones are kept) */
	size_t hits_dropped;          /* out: found beyond hits_cap */
	/* A process never counted as a holder (0: none): the one that looks,
	 * when it only observes (bindwatch who/free/wait may have inherited
	 * the socket from the shell or program that runs it). */
	pid_t ignore;
};

struct bw_owner_stats {
	unsigned procs_scanned;
	unsigned procs_unreadable;   /* fd table not readable: another user / hidepid */
	unsigned fds_checked;
	bool budget_exhausted;
	bool via_bpf;                /* the BPF task_file iterator answered */
	bool via_cgroup;             /* the processes of the socket's cgroup answered (and its
				      * holders' descendants): no other process was searched */
	bool descendants_partial;    /* not every such descendant was searched */
};

/* Resolves every inode in q; pid 'first' (e.g. the caller itself) is tried
 * before anyone else. Stops as soon as all are found (with q->hits: once
 * every process was visited) or when deadline_ns (CLOCK_MONOTONIC, 0 =
 * none) passes. Returns how many inodes were found. */
size_t bw_owner_find(const char *proc_root, pid_t first, struct bw_owner_query *q,
		     uint64_t deadline_ns, struct bw_owner_stats *stats);

/* The same with 'workers' threads splitting the processes between them
 * (the CLI; the shim never starts threads inside its host). */
size_t bw_owner_find_parallel(const char *proc_root, pid_t first, struct bw_owner_query *q,
			      uint64_t deadline_ns, struct bw_owner_stats *stats, unsigned workers);

/* Only the processes pids (e.g. a cgroup's cgroup.procs, so a service's
 * holder costs that service's processes, not the machine's), 'first'
 * before them, split over 'workers' threads as bw_owner_find_parallel;
 * pid <= 0 entries are skipped. With q->hits every one of them is
 * visited. Returns how many inodes were found. */
size_t bw_owner_find_pids(const char *proc_root, pid_t first, const pid_t *pids, size_t n_pids,
			  struct bw_owner_query *q, uint64_t deadline_ns,
			  struct bw_owner_stats *stats, unsigned workers);

/* Whether q->hits[0..upto) already has (slot, pid, fd). */
bool bw_owner_hit_known(const struct bw_owner_query *q, size_t upto, size_t slot, pid_t pid,
			int fd);

/* A socket created in one cgroup stays open in the children of its
 * holders wherever they move (fork() copies the fd table; systemd-run
 * --scope, a cgroup.procs write move the child): every descendant of the
 * processes in q->hits (children, grandchildren..., by proc(5) stat's
 * ppid, in any cgroup) has its fds checked as bw_owner_find_pids does,
 * except the pids in skip (already searched). Needs q->hits; new hits are
 * appended. *ret_partial is set when not every descendant was searched
 * (more than BW_OWNER_FAMILY_MAX of them, the deadline, /proc unreadable).
 * 'workers' threads share each pass over /proc (the CLI; the shim passes
 * 1). Returns how many hits were added; stats are added to. */
size_t bw_owner_find_descendants(const char *proc_root, const pid_t *skip, size_t n_skip,
				 struct bw_owner_query *q, uint64_t deadline_ns,
				 struct bw_owner_stats *stats, unsigned workers,
				 bool *ret_partial);
