#include "lookup/bpfiter.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lookup/btf.h"
#include "basic/sysio.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define BTF_MAX (64u << 20)

struct layout {
	long func_id, tgid, f_inode, i_ino;
};

/* vmlinux BTF is a few MiB: read it into an anonymous mapping. */
static int read_layout(struct layout *l)
{
	struct stat st;
	size_t size, have = 0;
	uint8_t *buf;
	int fd, r = 0;

	fd = open(BTF_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* sysfs reports the real size of this binary attribute. */
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > BTF_MAX) {
		close(fd);
		return -EINVAL;
	}
	size = (size_t)st.st_size;
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	while (have < size) {
		ssize_t n = bw_read_retry(fd, buf + have, size - have);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	l->func_id = bw_btf_func_id(buf, have, "bpf_iter_task_file");
	l->tgid = bw_btf_member_offset(buf, have, "task_struct", "tgid");
	l->f_inode = bw_btf_member_offset(buf, have, "file", "f_inode");
	l->i_ino = bw_btf_member_offset(buf, have, "inode", "i_ino");
	munmap(buf, size);
	if (l->func_id <= 0 || l->tgid < 0 || l->f_inode < 0 || l->i_ino < 0 || l->tgid > 32767 ||
	    l->f_inode > 32767 || l->i_ino > 32767)
		r = -ENOENT;
	return r;
}

/* The kernel's layout can't change while we run: it is read once, not
 * once per conflict (the BTF parse costs milliseconds). Only a success is
 * kept: a failure may be passing (no fd free, no memory). The first thread
 * to finish stores it; others read their own copy meanwhile. */
static int layout(struct layout *l)
{
	static struct layout cached;
	static atomic_int state; /* 0 not stored, 1 being stored, 2 stored */
	int expected = 0, r;

	if (atomic_load_explicit(&state, memory_order_acquire) == 2) {
		*l = cached;
		return 0;
	}
	r = read_layout(l);
	if (r == 0 && atomic_compare_exchange_strong(&state, &expected, 1)) {
		cached = *l;
		atomic_store_explicit(&state, 2, memory_order_release);
	}
	return r;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX(size, d, s, o) INSN(BPF_LDX | BPF_MEM | (size), d, s, o, 0)
#define STX(size, d, s, o) INSN(BPF_STX | BPF_MEM | (size), d, s, o, 0)
#define MOV_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JEQ_REG(d, s, o) INSN(BPF_JMP | BPF_JEQ | BPF_X, d, s, o, 0)
#define JA(o) INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The program, for each (task, fd, file) the iterator visits:
 *   if task && file && file->f_inode->i_ino is one of the wanted inodes:
 *       seq_write({task->tgid, fd, ino})
 * ctx is struct bpf_iter__task_file: meta@0, task@8, fd@16, file@24 (u64
 * slots, kernel/bpf/task_iter.c). Wanted inodes are immediates: one
 * program per query, no maps to manage. */
static size_t build(struct bpf_insn *p, const struct layout *l, const struct bw_owner_query *q)
{
	size_t n = 0, match;
	p[n++] = MOV_REG(BPF_REG_6, BPF_REG_1);
	p[n++] = LDX(BPF_DW, BPF_REG_7, BPF_REG_6, 8);   /* task */
	p[n++] = LDX(BPF_DW, BPF_REG_8, BPF_REG_6, 24);  /* file */
	size_t null_task = n++;                           /* if task == 0 goto out */
	size_t null_file = n++;                           /* if file == 0 goto out */
	p[n++] = LDX(BPF_DW, BPF_REG_9, BPF_REG_8, (short)l->f_inode);
	p[n++] = LDX(BPF_DW, BPF_REG_2, BPF_REG_9, (short)l->i_ino);
	size_t first_cmp = n;
	for (size_t i = 0; i < q->n; i++) {
		/* ld_imm64 r3, inode; if r2 == r3 goto match */
		p[n++] = INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_3, 0, 0, (int32_t)(uint32_t)q->inode[i]);
		p[n++] = INSN(0, 0, 0, 0, (int32_t)(uint32_t)(q->inode[i] >> 32));
		p[n++] = JEQ_REG(BPF_REG_2, BPF_REG_3, 0);  /* patched below */
	}
	size_t to_out = n++;                              /* goto out */
	match = n;
	for (size_t i = 0, k = first_cmp + 2; i < q->n; i++, k += 3)
		p[k].off = (short)(match - k - 1);
	p[n++] = LDX(BPF_W, BPF_REG_3, BPF_REG_7, (short)l->tgid);
	p[n++] = STX(BPF_W, BPF_REG_10, BPF_REG_3, -16);
	p[n++] = LDX(BPF_DW, BPF_REG_3, BPF_REG_6, 16);  /* fd */
	p[n++] = STX(BPF_W, BPF_REG_10, BPF_REG_3, -12);
	p[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_2, -8);
	p[n++] = LDX(BPF_DW, BPF_REG_1, BPF_REG_6, 0);   /* meta */
	p[n++] = LDX(BPF_DW, BPF_REG_1, BPF_REG_1, 0);   /* meta->seq */
	p[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
	p[n++] = ADD_IMM(BPF_REG_2, -16);
	p[n++] = MOV_IMM(BPF_REG_3, 16);
	p[n++] = CALL(BPF_FUNC_seq_write);
	size_t out = n;
	p[n++] = MOV_IMM(BPF_REG_0, 0);
	p[n++] = EXIT();
	p[null_task] = JEQ_IMM(BPF_REG_7, 0, (short)(out - null_task - 1));
	p[null_file] = JEQ_IMM(BPF_REG_8, 0, (short)(out - null_file - 1));
	p[to_out] = JA((short)(out - to_out - 1));
	return n;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

struct hit {
	uint32_t tgid, fd;
	uint64_t ino;
};

/* Every (pid, fd) once: the iterator visits a thread with its own file
 * table as a task of its own, under the same tgid. */
static void add_hit(struct bw_owner_query *q, size_t i, pid_t pid, int fd)
{
	if (bw_owner_hit_known(q, q->n_hits, i, pid, fd))
		return;
	if (q->n_hits < q->hits_cap)
		q->hits[q->n_hits++] = (struct bw_owner_hit){.slot = (uint32_t)i, .pid = pid, .fd = fd};
	else
		q->hits_dropped++;
}

/* Records a hit if /proc agrees: the pid is ours to name and the fd still
 * holds that socket. */
static void record(struct bw_owner_query *q, const struct hit *h, long *found)
{
	char path[64];
	struct stat st;
	if (q->ignore > 0 && (pid_t)h->tgid == q->ignore)
		return;
	snprintf(path, sizeof(path), "/proc/%u/fd/%u", h->tgid, h->fd);
	if (stat(path, &st) < 0 || st.st_ino != h->ino || !S_ISSOCK(st.st_mode))
		return;
	for (size_t i = 0; i < q->n; i++) {
		if (q->inode[i] != h->ino)
			continue;
		if (q->hits)
			add_hit(q, i, (pid_t)h->tgid, (int)h->fd);
		if (q->pid[i] == 0) {
			q->pid[i] = (pid_t)h->tgid;
			q->fd[i] = (int)h->fd;
			(*found)++;
		}
	}
}

long bw_bpf_owner_find(struct bw_owner_query *q)
{
	struct bpf_insn prog[64 + 3 * BW_OWNER_MAX];
	static const char license[] = "Dual MIT/GPL";
	union bpf_attr attr;
	struct layout l = {0};
	struct hit hits[256];
	long found = 0, r;
	int pfd, lfd, ifd;
	ssize_t n;

	for (size_t i = 0; i < q->n; i++) {
		q->pid[i] = 0;
		q->fd[i] = -1;
	}
	r = layout(&l);
	if (r < 0)
		return r;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_TRACING;
	attr.expected_attach_type = BPF_TRACE_ITER;
	attr.attach_btf_id = (uint32_t)l.func_id;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)build(prog, &l, q);
	attr.license = (uint64_t)(uintptr_t)license;
	pfd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	if (pfd < 0)
		return -errno;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)pfd;
	attr.link_create.attach_type = BPF_TRACE_ITER;
	lfd = (int)sys_bpf(BPF_LINK_CREATE, &attr);
	if (lfd < 0) {
		r = -errno;
		close(pfd);
		return r;
	}
	memset(&attr, 0, sizeof(attr));
	attr.iter_create.link_fd = (uint32_t)lfd;
	ifd = (int)sys_bpf(BPF_ITER_CREATE, &attr);
	if (ifd < 0) {
		r = -errno;
		close(lfd);
		close(pfd);
		return r;
	}
	/* Each read() returns whole records (the program writes 16 bytes at a
	 * time and seq_file never splits a write). */
	while ((n = bw_read_retry(ifd, hits, sizeof(hits))) > 0)
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(hits[0]); i++)
			record(q, &hits[i], &found);
	r = n < 0 ? -errno : found;
	close(ifd);
	close(lfd);
	close(pfd);
	return r;
}
