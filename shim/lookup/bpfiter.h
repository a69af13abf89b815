/* bpfiter: socket inode -> (pid, fd) in one pass inside the kernel, with a
 * BPF task_file iterator (Linux 5.8+, root: CAP_BPF + CAP_PERFMON). Walking
 * /proc/<pid>/fd costs a procfs lookup per descriptor; the iterator reads
 * each task's file table directly and returns only the wanted inodes. */
#pragma once
#include "lookup/owner.h"

/* Fills q->pid/q->fd for the inodes it finds, and with q->hits every
 * (pid, fd) holding one, each verified through /proc/<pid>/fd/<fd> (so a
 * pid from another pid namespace is never reported). Returns how many were found, or -errno when the iterator is
 * unavailable (no BTF, no privilege, old kernel): scan /proc instead. */
long bw_bpf_owner_find(struct bw_owner_query *q);

