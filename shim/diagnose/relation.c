#include "diagnose/relation.h"

#include <stdio.h>
#include <string.h>

#include "basic/fmt.h"
#include "diagnose/conflict.h"

/* Process trees deeper than this are not followed further. */
#define CHAIN_MAX 32

const char *bw_relation_name(enum bw_relation r)
{
	switch (r) {
	case BW_REL_SELF: return "self";
	case BW_REL_PARENT: return "parent";
	case BW_REL_ANCESTOR: return "ancestor";
	case BW_REL_CHILD: return "child";
	case BW_REL_DESCENDANT: return "descendant";
	case BW_REL_SIBLING: return "sibling";
	case BW_REL_SAME_PROGRAM: return "same_program";
	case BW_REL_NONE: return "none";
	default: return NULL;
	}
}

/* By socket slot, then pid, then fd. Insertion sort: qsort(3) may allocate,
 * and the hits of one scan come mostly in order already. */
static void sort_hits(struct bw_owner_hit *h, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct bw_owner_hit x = h[i];
		size_t j = i;
		while (j > 0 && (h[j - 1].slot > x.slot ||
				 (h[j - 1].slot == x.slot &&
				  (h[j - 1].pid > x.pid || (h[j - 1].pid == x.pid && h[j - 1].fd > x.fd))))) {
			h[j] = h[j - 1];
			j--;
		}
		h[j] = x;
	}
}

/* c->procs index of pid, described on first sight; -1 when the pool is full. */
static int proc_index(struct bw_conflict *c, const char *proc_root, pid_t pid)
{
	struct bw_process *p;
	for (size_t i = 0; i < c->n_procs; i++)
		if (c->procs[i].proc.pid == pid)
			return (int)i;
	if (c->n_procs == BW_PROCS_MAX)
		return -1;
	p = &c->procs[c->n_procs];
	memset(p, 0, sizeof(*p));
	p->have_proc = bw_proc_info(proc_root, pid, &p->proc) == 0;
	p->proc.pid = pid;
	p->have_exe = bw_proc_exe_id(proc_root, pid, &p->exe_dev, &p->exe_ino) == 0;
	p->startstack = bw_proc_startstack(proc_root, pid);
	return (int)c->n_procs++;
}

static const struct bw_process *proc_of(const struct bw_conflict *c, const struct bw_holder_proc *hp)
{
	return hp->proc >= 0 ? &c->procs[hp->proc] : NULL;
}

/* Earlier start first; an unknown start last; then the lower pid. */
static bool older(const struct bw_conflict *c, const struct bw_holder_proc *a,
		  const struct bw_holder_proc *b)
{
	const struct bw_process *pa = proc_of(c, a), *pb = proc_of(c, b);
	time_t sa = pa && pa->have_proc ? pa->proc.start : 0;
	time_t sb = pb && pb->have_proc ? pb->proc.start : 0;
	if (sa != sb)
		return sb == 0 || (sa != 0 && sa < sb);
	return a->pid < b->pid;
}

/* One socket's processes hp[0..n): who got it from a parent that holds it
 * too, and which of them to act on first (moved to hp[0]): the failing
 * process itself when it has the socket (it can reuse or close its fd),
 * else the oldest one that did not get it from its parent. */
static void order_holder(struct bw_conflict *c, struct bw_holder_proc *hp, size_t n)
{
	size_t best = n;
	for (size_t i = 0; i < n; i++) {
		const struct bw_process *p = proc_of(c, &hp[i]);
		hp[i].inherited = -1;
		hp[i].across_exec = -1;
		for (size_t j = 0; p && p->have_proc && j < n; j++) {
			const struct bw_process *q = proc_of(c, &hp[j]);
			if (hp[j].pid != p->proc.ppid || hp[j].pid <= 0)
				continue;
			hp[i].inherited = 1;
			hp[i].inherited_from = hp[j].pid;
			/* execve() maps another executable, or at least a new stack;
			 * fork() keeps both. */
			if (q && p->have_exe && q->have_exe &&
			    (p->exe_dev != q->exe_dev || p->exe_ino != q->exe_ino))
				hp[i].across_exec = 1;
			else if (q && p->startstack && q->startstack)
				hp[i].across_exec = p->startstack != q->startstack;
			break;
		}
		if (hp[i].inherited != 1 && (best == n || older(c, &hp[i], &hp[best])))
			best = i;
	}
	if (best == n)
		best = 0;
	for (size_t i = 0; c->pid > 0 && i < n; i++)
		if (hp[i].pid == c->pid)
			best = i;
	if (best > 0) {
		struct bw_holder_proc x = hp[best];
		memmove(&hp[1], &hp[0], best * sizeof(hp[0]));
		hp[0] = x;
	}
}

struct self_info {
	pid_t pid;
	pid_t anc[CHAIN_MAX];    /* anc[0] the parent, then its parent... */
	size_t n_anc;
	bool have_exe;
	dev_t exe_dev;
	ino_t exe_ino;
	bool have_proc;
	struct bw_proc proc;
};

static void read_self(struct self_info *s, const char *proc_root, pid_t pid)
{
	pid_t p = pid, pp;
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	while (s->n_anc < CHAIN_MAX && bw_proc_ppid(proc_root, p, &pp) == 0 && pp > 0) {
		s->anc[s->n_anc++] = pp;
		p = pp;
	}
	s->have_exe = bw_proc_exe_id(proc_root, pid, &s->exe_dev, &s->exe_ino) == 0;
	s->have_proc = bw_proc_info(proc_root, pid, &s->proc) == 0;
}

/* Bytes of cmdline (arguments joined by spaces) after argv[0] through the
 * first operand: the words up to and including the first that does not
 * start with '-' (a script, -m's module, a jar after -jar); after -c or -e
 * the rest of the line (the program is the code, spaces and all). One
 * executable runs many programs when it is an interpreter; these words
 * say which one. */
static size_t lead_words(const char *cmd, size_t len, size_t *start)
{
	size_t i = 0, prev = 0, prev_len = 0;
	while (i < len && cmd[i] != ' ')
		i++;
	*start = i;
	while (i < len) {
		size_t w = ++i;
		while (i < len && cmd[i] != ' ')
			i++;
		if (prev_len == 2 && cmd[prev] == '-' && (cmd[prev + 1] == 'c' || cmd[prev + 1] == 'e'))
			return len - *start;
		if (i > w && cmd[w] != '-')
			break;
		prev = w;
		prev_len = i - w;
	}
	return i - *start;
}

/* Whether two processes of one executable run the same program: the same
 * lead_words (argv[0] may differ: "python3" and "/usr/bin/python3"). */
static bool same_command(const struct bw_proc *a, const struct bw_proc *b)
{
	size_t sa, sb, na = lead_words(a->cmdline, a->cmdline_len, &sa);
	size_t nb = lead_words(b->cmdline, b->cmdline_len, &sb);
	return na == nb && memcmp(a->cmdline + sa, b->cmdline + sb, na) == 0;
}

static bool descends_from(const char *proc_root, pid_t ppid, pid_t ancestor)
{
	pid_t p = ppid;
	for (size_t i = 0; i < CHAIN_MAX && p > 1; i++) {
		if (p == ancestor)
			return true;
		if (bw_proc_ppid(proc_root, p, &p) < 0)
			break;
	}
	return false;
}

static enum bw_relation relate(const struct self_info *s, const struct bw_process *p,
			       const char *proc_root)
{
	pid_t pid = p->proc.pid;
	if (pid == s->pid)
		return BW_REL_SELF;
	if (s->n_anc > 0 && pid == s->anc[0])
		return BW_REL_PARENT;
	for (size_t i = 1; i < s->n_anc; i++)
		if (pid == s->anc[i])
			return BW_REL_ANCESTOR;
	if (p->have_proc) {
		if (p->proc.ppid == s->pid)
			return BW_REL_CHILD;
		if (descends_from(proc_root, p->proc.ppid, s->pid))
			return BW_REL_DESCENDANT;
		/* Every orphan's parent is pid 1 (or a subreaper): no kinship. */
		if (s->n_anc > 0 && s->anc[0] > 1 && p->proc.ppid == s->anc[0])
			return BW_REL_SIBLING;
	}
	if (!p->have_exe || !s->have_exe)
		return BW_REL_UNKNOWN;
	/* One executable runs many programs when it is an interpreter (two
	 * python3 processes): the same program only with the same script,
	 * module or code too (same_command); unknown without its arguments. */
	if (p->exe_dev == s->exe_dev && p->exe_ino == s->exe_ino) {
		if (!p->have_proc || !s->have_proc)
			return BW_REL_UNKNOWN;
		return same_command(&p->proc, &s->proc) ? BW_REL_SAME_PROGRAM : BW_REL_NONE;
	}
	return BW_REL_NONE;
}

void bw_relation_fill(struct bw_conflict *c, const char *proc_root)
{
	struct self_info self;
	size_t k = 0;

	c->n_procs = c->n_hprocs = 0;
	sort_hits(c->hits, c->n_hits);
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_holder *h = &c->holders[i];
		h->first_proc = c->n_hprocs;
		h->n_procs = 0;
		for (; k < c->n_hits && c->hits[k].slot < i; k++)
			;
		for (; k < c->n_hits && c->hits[k].slot == i; k++) {
			struct bw_holder_proc *hp = &c->hprocs[c->n_hprocs++];
			hp->pid = c->hits[k].pid;
			hp->fd = c->hits[k].fd;
			hp->proc = proc_index(c, proc_root, hp->pid);
			h->n_procs++;
		}
		if (h->n_procs == 0)
			continue;
		order_holder(c, &c->hprocs[h->first_proc], h->n_procs);
		{
			const struct bw_holder_proc *hp = &c->hprocs[h->first_proc];
			const struct bw_process *p = proc_of(c, hp);
			h->pid = hp->pid;
			h->fd = hp->fd;
			h->have_proc = p && p->have_proc;
			if (h->have_proc)
				h->proc = p->proc;
		}
	}
	if (c->pid <= 0)
		return;
	read_self(&self, proc_root, c->pid);
	for (size_t i = 0; i < c->n_procs; i++) {
		struct bw_process *p = &c->procs[i];
		p->relation = relate(&self, p, proc_root);
		p->same_exe = p->have_exe && self.have_exe && p->exe_dev == self.exe_dev &&
			      p->exe_ino == self.exe_ino;
		p->same_command = p->same_exe && p->have_proc && self.have_proc &&
				  same_command(&p->proc, &self.proc);
	}
}

static void name(struct bw_buf *b, const struct bw_conflict *c, const struct bw_holder_proc *hp)
{
	const struct bw_process *p = proc_of(c, hp);
	bw_buf_printf(b, "pid %d", (int)hp->pid);
	if (p && p->have_proc) {
		bw_buf_puts(b, " (");
		bw_buf_escape(b, p->proc.comm, strlen(p->proc.comm));
		bw_buf_puts(b, ")");
	}
}

/* What the relation of the process to act on first calls for. */
static const char reloader[] = ": a reloader or launcher that bound the address before starting"
			       " this process; bind only in the serving process, or run without"
			       " the reloader";
/* Whether the child inherited the socket or bound it itself can't be told
 * once this process closed its copy (inherited is -1): both are said. */
static const char kept[] = " and still has the socket: stop it; if it inherited the socket from"
			   " this process, close listening sockets in children or mark them"
			   " close-on-exec before starting other programs";
static const char instance[] = ": if it is another instance of this program, stop the other"
			       " instance";
static const struct relation_hint {
	enum bw_relation relation;
	bool needs_same_program;
	const char *who, *remedy;
} relation_hints[] = {
	{BW_REL_PARENT, false, " is this process's parent", reloader},
	{BW_REL_ANCESTOR, false, " is an ancestor of this process", reloader},
	{BW_REL_CHILD, false, " is a child of this process", kept},
	{BW_REL_DESCENDANT, false, " descends from this process", kept},
	{BW_REL_SAME_PROGRAM, true, " runs the same program as this process", instance},
	{BW_REL_SIBLING, true, " has the same parent and runs the same program as this process",
	 instance},
};

void bw_relation_hint(struct bw_conflict *c)
{
	struct bw_buf b = BW_BUF_INIT(c->hint, sizeof(c->hint));
	const struct bw_holder *h = NULL;
	const struct bw_holder_proc *hp;
	const struct bw_process *p;

	for (size_t i = 0; i < c->n_holders && !h; i++)
		if (c->holders[i].cause == c->cause && c->holders[i].n_procs > 0)
			h = &c->holders[i];
	if (!h || c->pid <= 0)
		return;
	b.len = strlen(c->hint);
	hp = &c->hprocs[h->first_proc];
	p = proc_of(c, hp);
	for (size_t i = 0; p && i < sizeof(relation_hints) / sizeof(relation_hints[0]); i++) {
		const struct relation_hint *rh = &relation_hints[i];
		/* "Another instance" only of the same program: the same
		 * executable running the same script or module (same_command),
		 * not any two processes of one interpreter (python3, node). */
		if (rh->relation != p->relation || (rh->needs_same_program && !p->same_command))
			continue;
		bw_buf_puts(&b, "; ");
		name(&b, c, hp);
		bw_buf_puts(&b, rh->who);
		bw_buf_puts(&b, rh->remedy);
	}
	/* A program that got the socket across execve() (a helper started by
	 * the server) keeps the port until it exits, whoever bound it. */
	for (size_t i = 0; i < h->n_procs; i++) {
		const struct bw_holder_proc *x = &c->hprocs[h->first_proc + i];
		if (x->inherited != 1 || x->across_exec != 1)
			continue;
		bw_buf_puts(&b, "; ");
		/* The failing process itself: what it can do is in the fixes
		 * (use that fd); the spawner is the one to change. */
		if (x->pid == c->pid)
			bw_buf_printf(&b, "this process (pid %d)", (int)x->pid);
		else
			name(&b, c, x);
		if (x->inherited_from == 1 || (proc_of(c, x) && proc_of(c, x)->have_proc &&
					       proc_of(c, x)->proc.listen_fds))
			/* sd_listen_fds(3): passing it on is the point. */
			bw_buf_printf(&b, " got it from pid %d across exec by socket activation"
					  " (LISTEN_FDS): the inheritance is intended; the service"
					  " manager owns the port",
				      (int)x->inherited_from);
		else
			bw_buf_printf(&b, " inherited it from pid %d across exec: the spawning program"
					  " must close its listening sockets or mark them"
					  " close-on-exec",
				      (int)x->inherited_from);
		break;
	}
	if (b.truncated)
		c->hint[sizeof(c->hint) - 1] = '\0';
}
