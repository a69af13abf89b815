/* owner: which process holds a socket inode, found by walking
 * <proc_root>/<pid>/fd with directory fds, getdents64 and readlinkat, into
 * fixed buffers (no allocation, no locks: safe on the diagnosis path). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BW_OWNER_MAX 64 /* inodes looked up at once */

struct bw_owner_query {
	size_t n;
	uint64_t inode[BW_OWNER_MAX];
	uint32_t uid[BW_OWNER_MAX];   /* socket owner uid: its processes are tried first */
	pid_t pid[BW_OWNER_MAX];      /* out: 0 when not found */
	int fd[BW_OWNER_MAX];         /* out */
};

struct bw_owner_stats {
	unsigned procs_scanned;
	unsigned procs_unreadable;   /* fd table not readable: another user / hidepid */
	unsigned fds_checked;
	bool budget_exhausted;
	bool via_bpf;                /* the BPF task_file iterator answered */
};

/* Resolves every inode in q; pid 'first' (e.g. the caller itself) is tried
 * before anyone else. Stops as soon as all are found or when deadline_ns
 * (CLOCK_MONOTONIC, 0 = none) passes. Returns how many were found. */
size_t bw_owner_find(const char *proc_root, pid_t first, struct bw_owner_query *q,
		     uint64_t deadline_ns, struct bw_owner_stats *stats);

/* A quick look where the holder usually is: only the processes running as
 * a wanted socket's uid, and at most max_procs of them (the caller itself
 * first). Returns how many were found; the rest stay pid 0. */
size_t bw_owner_find_quick(const char *proc_root, pid_t first, struct bw_owner_query *q,
			   unsigned max_procs, struct bw_owner_stats *stats);

/* The same with 'workers' threads splitting the processes between them
 * (the CLI; the shim never starts threads inside its host). */
size_t bw_owner_find_parallel(const char *proc_root, pid_t first, struct bw_owner_query *q,
			      uint64_t deadline_ns, struct bw_owner_stats *stats, unsigned workers);

