#include "report/report.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "basic/fmt.h"
#include "diagnose/freecmd.h"
#include "diagnose/remedy.h"

#define P "bindwatch: "

static const char *err_name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static const char *err_desc(int e)
{
	/* strerrordesc_np: untranslated, no locale lookup, no allocation. */
	const char *d = strerrordesc_np(e);
	return d ? d : "Unknown error";
}

static void holder_state(struct bw_buf *b, const struct bw_sock *s)
{
	if (s->local.family == AF_UNIX)
		bw_buf_puts(b, s->listening ? "LISTEN" : s->state == 3 ? "ESTAB" : "UNCONN");
	else if (s->local.proto == BW_PROTO_UDP)
		bw_buf_puts(b, s->state == BW_TCP_ESTABLISHED ? "ESTAB" : "UNCONN");
	else
		bw_buf_puts(b, bw_tcp_state_name(s->state));
}

/* A holder's IPV6_V6ONLY as the rules know it (remedy.h: sock_diag's
 * INET_DIAG_SKV6ONLY; implied by a specific IPv6 address; unknown from
 * /proc for a wildcard): 1, 0, -1 unknown; 0 for IPv4 and unix. */
static signed char holder_v6only(const struct bw_conflict *c, const struct bw_holder *h)
{
	struct bw_bind_sock bs;
	if (h->sock.local.family != AF_INET6)
		return 0;
	bw_remedy_holder_sock(c, h, &bs);
	return bs.v6only;
}

/* The holder's local address; an IPv6 wildcard as ss(8) puts it: "*:P"
 * when it also takes IPv4 (dual-stack, IPV6_V6ONLY off), "[::]:P" when
 * IPv6 only (or unknown). */
static void holder_local(const struct bw_conflict *c, const struct bw_holder *h, char *out,
			 size_t size)
{
	if (h->sock.local.family == AF_INET6 && bw_addr_is_wildcard(&h->sock.local) &&
	    holder_v6only(c, h) == 0)
		snprintf(out, size, "*:%u", h->sock.local.port);
	else
		bw_addr_format(&h->sock.local, out, size);
}

/* ANSI SGR, only when the report goes to a terminal and NO_COLOR is unset. */
static void sgr(struct bw_buf *b, const struct bw_conflict *c, const char *code)
{
	if (c->color)
		bw_buf_printf(b, "\033[%sm", code);
}

static void finish(struct bw_buf *b)
{
	/* A truncated record still ends its line. */
	if (b->truncated && b->size >= 2) {
		b->len = b->size - 2;
		b->p[b->len++] = '\n';
		b->p[b->len] = '\0';
	}
}

/* "container web (7825ad8bb845, image nginx, 127.0.0.1:8080->80/tcp)
 * through docker-proxy", "unit nginx.service", "socket unit x.socket",
 * or nothing. */
static void manager_desc(struct bw_buf *b, const struct bw_manager *m)
{
	const char *engine = m->kind == BW_MGR_PODMAN ? "podman" : "docker";
	switch (m->kind) {
	case BW_MGR_DOCKER:
	case BW_MGR_PODMAN:
		if (m->orphaned) {
			bw_buf_printf(b, "orphaned docker-proxy: no running container is published at"
					 " %s (it forwarded to %s)", m->mapping, m->proxy_target);
			return;
		}
		if (m->engine && !m->name[0] && !m->id[0]) {
			bw_buf_printf(b, "dockerd itself, %s",
				      m->state_read ? "no running container publishes it"
						    : "its containers not readable here");
			return;
		}
		bw_buf_printf(b, "%s container ", engine);
		if (m->name[0] || m->id[0]) {
			bw_buf_escape(b, m->name[0] ? m->name : m->id, m->name[0] ? strlen(m->name) : 12);
			/* Only the id (its state not readable: inside a container):
			 * no empty "()". */
			if ((m->name[0] && m->id[0]) || m->image[0] || m->mapping[0])
				bw_buf_puts(b, " (");
			if (m->name[0] && m->id[0])
				bw_buf_printf(b, "%.12s, ", m->id);
			if (m->image[0]) {
				bw_buf_puts(b, "image ");
				bw_buf_escape(b, m->image, strlen(m->image));
				bw_buf_puts(b, ", ");
			}
		} else {
			bw_buf_puts(b, "(not readable here: run as root to name it; ");
		}
		if (m->mapping[0])
			bw_buf_printf(b, "%s", m->mapping);
		else if (b->len > 2 && b->p[b->len - 2] == ',')
			b->len -= 2;
		if ((m->name[0] && m->id[0]) || m->image[0] || m->mapping[0] ||
		    !(m->name[0] || m->id[0]))
			bw_buf_puts(b, ")");
		if (m->proxy)
			bw_buf_printf(b, " through %s",
				      m->engine		       ? "dockerd (userland-proxy off)"
				      : m->kind != BW_MGR_PODMAN ? "docker-proxy"
				      : m->rootless	       ? "rootlessport"
							       : "conmon");
		return;
	case BW_MGR_CONTAINER:
		bw_buf_printf(b, "container %.12s", m->id);
		return;
	case BW_MGR_SYSTEMD:
	case BW_MGR_SYSTEMD_USER:
		if (m->socket_unit[0]) {
			bw_buf_puts(b, "socket unit ");
			bw_buf_escape(b, m->socket_unit, strlen(m->socket_unit));
			if (m->accept_units[0]) {
				bw_buf_puts(b, " (Accept=yes, instances ");
				bw_buf_escape(b, m->accept_units, strlen(m->accept_units));
				bw_buf_puts(b, ")");
			}
			if (m->unit[0])
				bw_buf_puts(b, ", ");
		}
		if (m->unit[0]) {
			bw_buf_puts(b, "unit ");
			bw_buf_escape(b, m->unit, strlen(m->unit));
		}
		if (m->kind == BW_MGR_SYSTEMD_USER)
			bw_buf_printf(b, " of the user manager of uid %u", (unsigned)m->user);
		if (m->outer_id[0]) {
			bw_buf_puts(b, " in container ");
			bw_buf_escape(b, m->outer_name[0] ? m->outer_name : m->outer_id,
				      m->outer_name[0] ? strlen(m->outer_name) : 12);
		}
		return;
	default:
		return;
	}
}

/* "to free it: ..." for the text and table reports (no prefix, no '\n'). */
/* When the owner search stopped at the sockets' cgroups (and their
 * holders' descendants), a process elsewhere holding the same socket
 * (passed over a unix socket) is not listed: say so, and how to look. */
static void scope_line(struct bw_buf *b, const struct bw_conflict *c, const char *prefix)
{
	bool owned = false;
	/* Only TIME-WAIT leftovers (inode 0): no process owns them, so no
	 * search finds more. */
	for (size_t i = 0; i < c->n_holders; i++)
		owned |= c->holders[i].sock.inode != 0;
	if (!c->scan.via_cgroup || !owned)
		return;
	bw_buf_printf(b, "%s(holders searched in the socket's cgroup and its holders' child"
			 " processes%s; 'bindwatch who --all' searches every process)\n",
		      prefix, c->scan.descendants_partial ? ", not all of them" : "");
}

static bool remapped(const struct bw_conflict *c);

static void free_line(struct bw_buf *b, const struct bw_conflict *c)
{
	if (remapped(c))
		bw_buf_printf(b, "to get port %d back: ", c->remap.from_port);
	else
		bw_buf_puts(b, "to free it: ");
	if (c->free_kind == BW_FREE_WAIT) {
		bool tw_only = true;
		for (size_t i = 0; i < c->n_holders; i++)
			tw_only &= c->holders[i].cause != BW_CAUSE_TIME_WAIT ||
				   c->holders[i].sock.state == BW_TCP_TIME_WAIT;
		bw_buf_printf(b, "wait %lds (%s; nothing to stop)", c->free_in_s,
			      tw_only ? "TIME-WAIT frees itself"
				      : "closed connections no process owns free themselves");
		return;
	}
	if (c->free_argc) {
		bw_free_command_to(c, b);
		if (c->free_note[0]) /* why this command and not the manager's */
			bw_buf_printf(b, " (%s)", c->free_note);
		return;
	}
	bw_buf_puts(b, "(no command) ");
	bw_buf_puts(b, c->free_note);
}

/* Holders a report folds into one line: sockets of one kind held by the
 * same process to act on first (or by none), blocking for the same reason. */
static bool same_group(const struct bw_holder *a, const struct bw_holder *b)
{
	return bw_sock_same_kind(&a->sock, &b->sock) && a->pid == b->pid &&
	       a->overlap == b->overlap && a->cause == b->cause && a->reuseaddr == b->reuseaddr &&
	       a->reuseport == b->reuseport;
}

/* Whether holder i starts its group (no earlier holder folds it). */
static bool group_leader(const struct bw_conflict *c, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (same_group(&c->holders[j], &c->holders[i]))
			return false;
	return true;
}

/* What a group of sockets led by holder i holds together. */
struct group {
	size_t sockets;           /* kept ones plus the similar ones left out */
	long timer_ms;            /* the longest TIME-WAIT timer */
	size_t others;            /* distinct processes besides the one to act on first */
	bool forked;              /* every other one got the socket from its parent by fork() */
	pid_t pids[8];            /* the first few of them */
};

static bool pid_seen(const struct bw_conflict *c, size_t lead, size_t upto_holder, size_t upto_k,
		     pid_t pid)
{
	for (size_t j = lead; j <= upto_holder; j++) {
		const struct bw_holder *g = &c->holders[j];
		if (!same_group(g, &c->holders[lead]))
			continue;
		for (size_t k = 0; k < g->n_procs && (j < upto_holder || k < upto_k); k++)
			if (c->hprocs[g->first_proc + k].pid == pid)
				return true;
	}
	return false;
}

static void group_of(const struct bw_conflict *c, size_t lead, bool alone, struct group *g)
{
	const struct bw_holder *l = &c->holders[lead];
	memset(g, 0, sizeof(*g));
	g->forked = true;
	for (size_t j = lead; j < (alone ? lead + 1 : c->n_holders); j++) {
		const struct bw_holder *h = &c->holders[j];
		if (!same_group(h, l))
			continue;
		g->sockets += 1 + h->similar;
		if (h->sock.timer_ms > g->timer_ms)
			g->timer_ms = h->sock.timer_ms;
		for (size_t k = 0; k < h->n_procs; k++) {
			const struct bw_holder_proc *hp = &c->hprocs[h->first_proc + k];
			if (hp->pid == l->pid || pid_seen(c, lead, j, k, hp->pid))
				continue;
			if (g->others < sizeof(g->pids) / sizeof(g->pids[0]))
				g->pids[g->others] = hp->pid;
			g->others++;
			if (hp->inherited != 1 || hp->across_exec == 1)
				g->forked = false;
		}
	}
}

/* " + 32 workers (pids 101, 102, ...)" */
static void text_others(struct bw_buf *b, const struct group *g)
{
	size_t shown = sizeof(g->pids) / sizeof(g->pids[0]);
	if (!g->others)
		return;
	if (g->others < shown)
		shown = g->others;
	bw_buf_printf(b, " + %zu %s%s (pid%s", g->others, g->forked ? "worker" : "other process",
		      g->others == 1 ? "" : g->forked ? "s" : "es", g->others == 1 ? "" : "s");
	for (size_t i = 0; i < shown; i++)
		bw_buf_printf(b, "%s %d", i ? "," : "", (int)g->pids[i]);
	bw_buf_puts(b, g->others > shown ? ", ...)" : ")");
}

/* The descriptors process pid has on the sockets of holder lead's group
 * (alone: on lead's socket only): the first max the owner scan found into
 * fds[], sorted; returns how many there are in all. A holder
 * whose processes did not fit the scan's table has its one fd. */
static size_t group_fds(const struct bw_conflict *c, size_t lead, bool alone, pid_t pid,
			int *fds, size_t max)
{
	const struct bw_holder *l = &c->holders[lead];
	size_t n = 0;
	for (size_t j = lead; j < (alone ? lead + 1 : c->n_holders); j++) {
		const struct bw_holder *h = &c->holders[j];
		if (!same_group(h, l))
			continue;
		if (h->n_procs == 0 && h->pid == pid) {
			if (n < max)
				fds[n] = h->fd;
			n++;
		}
		for (size_t k = 0; k < h->n_procs; k++)
			if (c->hprocs[h->first_proc + k].pid == pid) {
				if (n < max)
					fds[n] = c->hprocs[h->first_proc + k].fd;
				n++;
			}
	}
	/* In ascending order, as a reader looks them up in /proc/PID/fd. */
	for (size_t i = 1; i < n && i < max; i++)
		for (size_t j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	return n;
}

#define FDS_SHOWN 8

/* "fd 3", "fds 3 and 4", "fds 3, 4 and 5", "fds 3, 4, ... (12 in all)". */
static void text_fds(struct bw_buf *b, const int *fds, size_t n)
{
	if (n <= 1) {
		bw_buf_printf(b, "fd %d", n ? fds[0] : -1);
		return;
	}
	bw_buf_puts(b, "fds");
	for (size_t i = 0; i < n && i < FDS_SHOWN; i++)
		bw_buf_printf(b, "%s %d", i == 0 ? "" : i + 1 == n ? " and" : ",", fds[i]);
	if (n > FDS_SHOWN)
		bw_buf_printf(b, ", ... (%zu in all)", n);
}

/* The relation of the process to act on first, when there is one to say. */
static const char *lead_relation(const struct bw_conflict *c, const struct bw_holder *h)
{
	int pi;
	if (!h->n_procs)
		return NULL;
	pi = c->hprocs[h->first_proc].proc;
	if (pi < 0 || c->procs[pi].relation == BW_REL_NONE)
		return NULL;
	return bw_relation_name(c->procs[pi].relation);
}

/* One socket of a holder line: "fd 3, LISTEN 0.0.0.0:8080 (dual_stack
 * overlap) SO_REUSEADDR IPV6_V6ONLY" (the fds its process to act on first
 * has it on, over the group's sockets). */
static void socket_facts(struct bw_buf *b, const struct bw_conflict *c, size_t idx)
{
	const struct bw_holder *h = &c->holders[idx];
	char addr[BW_ADDR_TEXT_MAX];
	int fds[FDS_SHOWN];
	size_t nfds = group_fds(c, idx, false, h->pid, fds, FDS_SHOWN);

	bw_addr_format(&h->sock.local, addr, sizeof(addr));
	if (nfds == 0) {
		fds[0] = h->fd;
		nfds = 1;
	}
	text_fds(b, fds, nfds);
	bw_buf_puts(b, ", ");
	holder_state(b, &h->sock);
	bw_buf_printf(b, " %s", addr);
	if (h->sock.local.family != AF_UNIX && h->overlap != BW_OVERLAP_EXACT)
		bw_buf_printf(b, " (%s overlap)", bw_overlap_name(h->overlap));
	if (h->reuseaddr == 1)
		bw_buf_puts(b, " SO_REUSEADDR");
	if (h->reuseport == 1)
		bw_buf_puts(b, " SO_REUSEPORT");
	/* An IPv6 wildcard's reach (the overlap may have said it already). */
	if (h->sock.local.family == AF_INET6 && bw_addr_is_wildcard(&h->sock.local)) {
		signed char only = holder_v6only(c, h);
		if (only == 1)
			bw_buf_puts(b, " IPV6_V6ONLY");
		else if (only == 0 && h->overlap != BW_OVERLAP_DUAL_STACK)
			bw_buf_puts(b, " dual-stack");
	}
}

/* Whether holder i's process to act on first leads an earlier group of
 * the text report: its line then carries this socket too. */
static bool process_shown(const struct bw_conflict *c, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (c->holders[i].pid > 0 && c->holders[j].pid == c->holders[i].pid &&
		    group_leader(c, j))
			return true;
	return false;
}

static void text_holder(struct bw_buf *b, const struct bw_conflict *c, size_t idx)
{
	const struct bw_holder *h = &c->holders[idx];
	char addr[BW_ADDR_TEXT_MAX];
	struct group g;
	const char *rel = lead_relation(c, h);
	group_of(c, idx, false, &g);
	bw_addr_format(&h->sock.local, addr, sizeof(addr));
	if (h->sock.inode == 0 && h->sock.local.family != AF_UNIX) {
		char rem[BW_ADDR_TEXT_MAX];
		bw_addr_format(&h->sock.remote, rem, sizeof(rem));
		bw_buf_puts(b, P "  blocked by ");
		if (g.sockets > 1) {
			bw_buf_printf(b, "%zu ", g.sockets);
			holder_state(b, &h->sock);
			bw_buf_printf(b, " sockets %s (connections such as -> %s; no process owns them;"
					 " all expire within %lds)\n",
				      addr, rem, (g.timer_ms + 999) / 1000);
			return;
		}
		holder_state(b, &h->sock);
		bw_buf_printf(b, " %s -> %s (no process owns it; expires in %lds)\n", addr, rem,
			      (h->sock.timer_ms + 999) / 1000);
		return;
	}
	if (h->pid == 0) {
		bw_buf_puts(b, P "  held by a process not visible here: ");
		if (g.sockets > 1)
			bw_buf_printf(b, "%zu sockets of ", g.sockets);
		bw_buf_printf(b, "uid %u", (unsigned)h->sock.uid);
		if (h->sock_user[0])
			bw_buf_printf(b, " (%s)", h->sock_user);
		bw_buf_printf(b, " (socket inode %llu, ", (unsigned long long)h->sock.inode);
		holder_state(b, &h->sock);
		bw_buf_printf(b, " %s)\n", addr);
		if (h->sock_cgroup[0]) {
			bw_buf_puts(b, P "    socket's cgroup ");
			bw_buf_escape(b, h->sock_cgroup, strlen(h->sock_cgroup));
			if (h->mgr.kind != BW_MGR_NONE) {
				bw_buf_puts(b, ": ");
				manager_desc(b, &h->mgr);
			}
			bw_buf_puts(b, "\n");
		}
		return;
	}
	bw_buf_puts(b, P "  ");
	if (g.sockets > 1)
		bw_buf_printf(b, "%zu sockets ", g.sockets);
	sgr(b, c, "1;31");
	bw_buf_printf(b, "held by pid %d", (int)h->pid);
	sgr(b, c, "0");

	if (h->have_proc) {
		bw_buf_puts(b, " user ");
		if (h->proc.user[0])
			bw_buf_printf(b, "%s(%u)", h->proc.user, (unsigned)h->proc.uid);
		else
			bw_buf_printf(b, "%u", (unsigned)h->proc.uid);
		bw_buf_puts(b, ": ");
		if (h->proc.cmdline_len)
			bw_buf_escape(b, h->proc.cmdline, h->proc.cmdline_len);
		else {
			bw_buf_puts(b, "[");
			bw_buf_escape(b, h->proc.comm, strlen(h->proc.comm));
			bw_buf_puts(b, "]");
		}
		if (h->proc.cmdline_truncated)
			bw_buf_puts(b, "...");
	}
	text_others(b, &g);
	bw_buf_puts(b, "\n" P "    ");
	socket_facts(b, c, idx);
	if (h->have_proc) {
		bw_buf_printf(b, ", ppid %d", (int)h->proc.ppid);
		if (h->proc.start) {
			bw_buf_puts(b, ", since ");
			bw_buf_rfc3339(b, h->proc.start);
			bw_buf_puts(b, " (");
			bw_buf_age(b, (int64_t)(c->time - h->proc.start));
			bw_buf_puts(b, " ago)");
		}
		if (h->proc.unit[0]) {
			bw_buf_puts(b, ", unit ");
			bw_buf_escape(b, h->proc.unit, strlen(h->proc.unit));
		}
		if (h->proc.container[0])
			bw_buf_printf(b, ", container %.12s", h->proc.container);
		if (h->proc.cgroup[0]) {
			bw_buf_puts(b, ", cgroup ");
			bw_buf_escape(b, h->proc.cgroup, strlen(h->proc.cgroup));
		}
	}
	if (rel)
		bw_buf_printf(b, ", relation %s", rel);
	bw_buf_puts(b, "\n");
	/* The same process's other sockets that block (127.0.0.1:P and
	 * [::1]:P, 0.0.0.0:P and an IPv6-only [::]:P): one line each under
	 * it, the process said once. */
	for (size_t k = idx + 1; k < c->n_holders; k++) {
		struct group gk;
		if (c->holders[k].pid != h->pid || !group_leader(c, k))
			continue;
		group_of(c, k, false, &gk);
		bw_buf_puts(b, P "    ");
		if (gk.sockets > 1)
			bw_buf_printf(b, "%zu sockets, ", gk.sockets);
		socket_facts(b, c, k);
		text_others(b, &gk);
		bw_buf_puts(b, "\n");
	}
	if (h->mgr.kind != BW_MGR_NONE) {
		bw_buf_puts(b, P "    managed by ");
		manager_desc(b, &h->mgr);
		bw_buf_puts(b, "\n");
	}
}

static void text_frame(struct bw_buf *b, size_t i, const struct bw_frame *f);

/* A frame's module as the text report names it: its file name, which is
 * what a reader looks for and keeps a frame within a terminal line; the
 * JSON record has the path (and the runtime pc) for addr2line. */
static void text_module(struct bw_buf *b, const char *module)
{
	const char *name = bw_base_name(module);
	bw_buf_escape(b, name, strlen(name));
}

/* Frames i..j-1 (j > i+1) of one module, none with a symbol: one line
 * with every module offset, still enough for addr2line. */
static void text_frames_folded(struct bw_buf *b, const struct bw_frame *fr, size_t i, size_t j)
{
	bw_buf_printf(b, P "    #%zu-#%zu ?? x%zu (", i, j - 1, j - i);
	text_module(b, fr[i].module);
	for (size_t k = i; k < j; k++)
		bw_buf_printf(b, " +0x%lx", (unsigned long)fr[k].module_offset);
	bw_buf_puts(b, ")\n");
}

/* Where a run of symbol-less frames of fr[i]'s module ends. */
static size_t fold_end(const struct bw_frame *fr, size_t n, size_t i)
{
	size_t j = i;
	if (fr[i].symbol[0] || !fr[i].module[0])
		return i + 1;
	while (j < n && !fr[j].symbol[0] && strcmp(fr[j].module, fr[i].module) == 0)
		j++;
	return j;
}

/* The stack as text: runs of symbol-less frames of one module fold into
 * one line; with a line budget (c->text_stack_lines, 0 = none) the rest
 * is summed up in one line (the JSON record has every frame). */
static void text_stack(struct bw_buf *b, const struct bw_conflict *c)
{
	size_t lines = 0, i = 0;
	while (i < c->n_frames) {
		size_t j = fold_end(c->frames, c->n_frames, i);
		if (c->text_stack_lines && lines + 1 == c->text_stack_lines && j < c->n_frames) {
			bw_buf_printf(b, P "    #%zu-#%zu: %zu more frames (all of them in the JSON record:"
					   " --json)\n", i, c->n_frames - 1, c->n_frames - i);
			return;
		}
		if (j > i + 1)
			text_frames_folded(b, c->frames, i, j);
		else
			text_frame(b, i, &c->frames[i]);
		lines++;
		i = j;
	}
}

static void text_frame(struct bw_buf *b, size_t i, const struct bw_frame *f)
{
	bw_buf_printf(b, P "    #%zu ", i);
	if (f->symbol[0]) {
		bw_buf_escape(b, f->symbol, strlen(f->symbol));
		bw_buf_printf(b, "+0x%lx", (unsigned long)f->offset);
	} else if (f->module[0]) {
		bw_buf_puts(b, "??");
	} else {
		/* Nothing else to go by: the runtime address. */
		bw_buf_printf(b, "?? 0x%lx", (unsigned long)f->pc);
	}
	if (f->module[0]) {
		bw_buf_puts(b, " (");
		text_module(b, f->module);
		bw_buf_printf(b, " +0x%lx)", (unsigned long)f->module_offset);
	}
	bw_buf_puts(b, "\n");
}

static void text_remap(struct bw_buf *b, const struct bw_remap *m)
{
	if (!m->attempted)
		return;
	if (m->ok && m->unlinked)
		bw_buf_printf(b, P "  recovered: %s and bound again (%s)\n", m->note, m->rule);
	else if (m->ok)
		bw_buf_printf(b, P "  remapped: port %d -> %d (rule '%s', action %s, %d attempt%s)\n",
			      m->from_port, m->to_port, m->rule, bw_action_name(m->action), m->attempts,
			      m->attempts == 1 ? "" : "s");
	else
		bw_buf_printf(b, P "  remap failed: rule '%s' (%d attempt%s): %sthe program sees the"
				   " original error\n",
			      m->rule, m->attempts, m->attempts == 1 ? "" : "s", m->note);
}

static void json_remap(struct bw_buf *b, const struct bw_remap *m)
{
	if (!m->attempted)
		return;
	bw_buf_puts(b, ",\"remap\":{\"rule\":");
	bw_buf_json_str(b, m->rule, strlen(m->rule));
	bw_buf_printf(b, ",\"ok\":%s", m->ok ? "true" : "false");
	if (m->unlinked)
		bw_buf_puts(b, ",\"from_port\":null,\"to_port\":null,\"action\":\"unlink\"");
	else if (m->ok)
		bw_buf_printf(b, ",\"from_port\":%d,\"to_port\":%d,\"action\":\"%s\"", m->from_port,
			      m->to_port, bw_action_name(m->action));
	else
		bw_buf_printf(b, ",\"from_port\":%d,\"to_port\":null,\"action\":null", m->from_port);
	bw_buf_printf(b, ",\"attempts\":%d,\"note\":", m->attempts);
	bw_buf_json_str(b, m->note, strlen(m->note));
	bw_buf_puts(b, "}");
}

/* Sockets past the holder table that no line folded in. */
static size_t unfolded(const struct bw_conflict *c)
{
	size_t n = c->n_matching;
	for (size_t i = 0; i < c->n_holders; i++)
		n -= n >= 1 + c->holders[i].similar ? 1 + c->holders[i].similar : n;
	return n;
}

static void want_desc(struct bw_buf *b, const struct bw_conflict *c)
{
	char addr[BW_ADDR_TEXT_MAX + 16];
	bw_addr_format_proto(&c->want, addr, sizeof(addr));
	bw_buf_puts(b, addr);
}

/* The holder the cause is about: the first one of that cause. */
static const struct bw_holder *main_holder(const struct bw_conflict *c)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].cause == c->cause)
			return &c->holders[i];
	return c->n_holders ? &c->holders[0] : NULL;
}

/* Whether a remap moved the failed bind to a working port (or bound it on
 * a retry): then lines 1 and 2 say so instead of what to stop. */
static bool remapped(const struct bw_conflict *c)
{
	return c->remap.attempted && c->remap.ok && !c->remap.unlinked;
}

/* Line 1, short enough for an 80-column terminal in the common cases (the
 * holder's user, command line and more follow on the holder line):
 * "bind 0.0.0.0:8000/tcp: in use by python3 pid 2719 (listener)", the
 * holder's address only when it differs from the one asked for
 * ("... pid 2719 on 127.0.0.1:8000 (wildcard_overlap)"), and after a
 * remap where the bind went instead of the cause. */
static void headline(struct bw_buf *b, const struct bw_conflict *c)
{
	const struct bw_holder *h = main_holder(c);

	bw_buf_printf(b, P "%s ", c->call);
	want_desc(b, c);
	bw_buf_puts(b, ": ");
	if (!h) {
		bw_buf_puts(b, err_desc(c->err));
	} else {
		char addr[BW_ADDR_TEXT_MAX], want[BW_ADDR_TEXT_MAX];
		bw_addr_format(&h->sock.local, addr, sizeof(addr));
		bw_addr_format(&c->want, want, sizeof(want));
		bw_buf_puts(b, "in use by ");
		sgr(b, c, "1;31");
		if (h->sock.inode == 0 && h->sock.local.family != AF_UNIX) {
			bw_buf_puts(b, "a closed connection (TIME-WAIT)");
		} else if (h->pid <= 0) {
			bw_buf_printf(b, "a process of uid %u", (unsigned)h->sock.uid);
		} else {
			if (h->have_proc) {
				bw_buf_escape(b, h->proc.comm, strlen(h->proc.comm));
				bw_buf_puts(b, " ");
			}
			bw_buf_printf(b, "pid %d", (int)h->pid);
		}
		sgr(b, c, "0");
		if (strcmp(addr, want) != 0)
			bw_buf_printf(b, " on %s", addr);
	}
	if (remapped(c)) {
		if (c->remap.to_port != c->remap.from_port)
			bw_buf_printf(b, "; moved to %d (BINDWATCH_REMAP)\n", c->remap.to_port);
		else
			bw_buf_printf(b, "; bound on a retry (BINDWATCH_REMAP %s)\n",
				      bw_action_name(c->remap.action));
		return;
	}
	bw_buf_puts(b, h ? " (" : ": ");
	sgr(b, c, "1;33");
	bw_buf_puts(b, bw_cause_name(c->cause));
	sgr(b, c, "0");
	if (h && c->n_matching > 1)
		bw_buf_printf(b, "; and %zu more socket%s", c->n_matching - 1,
			      c->n_matching == 2 ? "" : "s");
	bw_buf_puts(b, h ? ")\n" : "\n");
}

/* Without remedies, the hint's first clause after the diagnosis (hints
 * separate them with "; ") is what to do: its range [*at, *end) in the
 * hint, "; " included. false when there is none. */
static bool todo_clause(const struct bw_conflict *c, size_t *at, size_t *end)
{
	const char *semi = strstr(c->hint, "; "), *next;
	if (c->n_fixes || !semi)
		return false;
	next = strstr(semi + 2, "; ");
	*at = (size_t)(semi - c->hint);
	*end = next ? (size_t)(next - c->hint) : strlen(c->hint);
	return true;
}

/* Whether the "do:" line already says what the "to free it:" line would:
 * a lone holder to stop and the command is "kill PID" of that pid. */
static bool todo_is_kill(const struct bw_conflict *c)
{
	const struct bw_fix *f = &c->fixes[0];
	return c->n_fixes && f->kind == BW_FIX_STOP && f->pid > 0 && f->n_pids <= 1 &&
	       !f->more_pids && !f->unseen && c->free_kind == BW_FREE_KILL && c->free_argc == 2 &&
	       c->free_pid == f->pid;
}

/* Line 2: what to do: the first remedy (diagnose/remedy.h), else the
 * hint's clause todo_clause() finds; after a remap, where the program is
 * now; for a holder this user can't see, how to see it. */
static void todo_line(struct bw_buf *b, const struct bw_conflict *c)
{
	size_t at, end;
	const struct bw_fix *f = &c->fixes[0];
	if (remapped(c)) {
		if (c->remap.to_port != c->remap.from_port)
			bw_buf_printf(b, P "  do: nothing: the program got port %d instead (rule"
					   " '%s')\n",
				      c->remap.to_port, c->remap.rule);
		else
			bw_buf_printf(b, P "  do: nothing: the bind succeeded on a retry (rule '%s')\n",
				      c->remap.rule);
		return;
	}
	if (todo_is_kill(c)) {
		bw_buf_puts(b, P "  do: stop the holder: ");
		bw_free_command_to(c, b);
		if (c->free_note[0]) /* why kill and not the manager's command */
			bw_buf_printf(b, " (%s)", c->free_note);
		bw_buf_puts(b, "\n");
		return;
	}
	if (c->n_fixes && f->kind == BW_FIX_STOP && f->pid <= 0 && !f->n_pids &&
	    c->caller_uid != 0 && c->want.family != AF_UNIX) {
		/* Another user's process: /proc/PID/fd is root's to read. */
		char addr[BW_ADDR_TEXT_MAX];
		bw_addr_format(&c->want, addr, sizeof(addr));
		bw_buf_printf(b, P "  do: run 'sudo bindwatch who %s%s' to see the holder, then stop it\n",
			      c->want.proto == BW_PROTO_UDP ? "udp " : "", addr);
		return;
	}
	if (c->n_fixes) {
		bw_buf_puts(b, P "  do: ");
		bw_remedy_words(b, c, f);
		bw_buf_puts(b, "\n");
		return;
	}
	if (!todo_clause(c, &at, &end))
		return;
	bw_buf_puts(b, P "  do: ");
	bw_buf_putn(b, c->hint + at + 2, end - at - 2);
	bw_buf_puts(b, "\n");
}

/* The cause line's words: the hint (JSON keeps all of it) without what the
 * report says on other lines or would say of nearly every conflict
 * (diagnose/conflict.h, hint_fixes_* and hint_unread_*): the first remedy
 * is the "do:" line, the others follow here as "or ...". */
static void text_hint(struct bw_buf *b, const struct bw_conflict *c)
{
	size_t len = strlen(c->hint), pos = 0, cut[3][2];
	size_t n = 0;

	if (c->hint_fixes_end > c->hint_fixes_at) {
		cut[n][0] = c->hint_fixes_at;
		cut[n++][1] = c->hint_fixes_end;
	}
	if (c->hint_unread_end > c->hint_unread_at) {
		cut[n][0] = c->hint_unread_at;
		cut[n++][1] = c->hint_unread_end;
	}
	if (todo_clause(c, &cut[n][0], &cut[n][1]))
		n++;
	for (size_t k = 0; k < n; k++) {
		size_t first = k;
		for (size_t j = k + 1; j < n; j++)
			if (cut[j][0] < cut[first][0])
				first = j;
		if (first != k) {
			size_t t0 = cut[k][0], t1 = cut[k][1];
			cut[k][0] = cut[first][0];
			cut[k][1] = cut[first][1];
			cut[first][0] = t0;
			cut[first][1] = t1;
		}
	}
	for (size_t k = 0; k < n; k++) {
		size_t at = cut[k][0] < len ? cut[k][0] : len;
		size_t end = cut[k][1] < len ? cut[k][1] : len;
		if (at < pos || end <= at)
			continue;
		bw_buf_putn(b, c->hint + pos, at - pos);
		if (at == c->hint_fixes_at && c->hint_fixes_end > c->hint_fixes_at)
			for (size_t i = 1; i < c->n_fixes; i++) {
				bw_buf_puts(b, "; or ");
				bw_remedy_words(b, c, &c->fixes[i]);
			}
		pos = end;
	}
	bw_buf_putn(b, c->hint + pos, len - pos);
}

size_t bw_report_text(const struct bw_conflict *c, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);

	if (strcmp(c->event, "remap") == 0) {
		/* BINDWATCH_REMAP_MODE=always moved a bind that had no conflict. */
		bw_buf_puts(&b, P);
		bw_buf_escape(&b, c->comm, strlen(c->comm));
		bw_buf_printf(&b, "[%d] %s(fd %d, ", (int)c->pid, c->call, c->fd);
		want_desc(&b, c);
		bw_buf_puts(&b, ") moved by BINDWATCH_REMAP_MODE=always\n");
		text_remap(&b, &c->remap);
		finish(&b);
		return b.len;
	}
	if (c->pid) {
		/* The answer first: what failed, who holds it, why; then what to
		 * do; then the details and the stack. */
		headline(&b, c);
		todo_line(&b, c);
		bw_buf_puts(&b, P "  ");
		bw_buf_escape(&b, c->comm, strlen(c->comm));
		bw_buf_printf(&b, "[%d] %s(fd %d, ", (int)c->pid, c->call, c->fd);
		want_desc(&b, c);
		bw_buf_printf(&b, ") failed: %s\n", err_desc(c->err));
	} else {
		bw_buf_puts(&b, P "lookup ");
		want_desc(&b, c);
		bw_buf_puts(&b, "\n");
	}
	for (size_t i = 0; i < c->n_holders; i++)
		if (group_leader(c, i) && !process_shown(c, i))
			text_holder(&b, c, i);
	if (unfolded(c) > 0)
		bw_buf_printf(&b, P "  ... and %zu more sockets on this address\n", unfolded(c));
	if (c->scan.budget_exhausted)
		bw_buf_puts(&b, P "  (owner scan stopped at the BINDWATCH_SCAN_MS budget; some"
				" processes were not scanned)\n");
	else
		scope_line(&b, c, P "  ");
	bw_buf_puts(&b, P "  ");
	sgr(&b, c, "1;33");
	bw_buf_printf(&b, "cause: %s", bw_cause_name(c->cause));
	sgr(&b, c, "0");
	bw_buf_puts(&b, ": ");
	text_hint(&b, c);
	bw_buf_puts(&b, "\n");
	if (!todo_is_kill(c) || remapped(c)) {
		bw_buf_puts(&b, P "  ");
		free_line(&b, c);
		bw_buf_puts(&b, "\n");
	}
	text_remap(&b, &c->remap);
	if (c->n_frames) {
		bw_buf_puts(&b, P "  called from:\n");
		text_stack(&b, c);
	} else if (c->stack_missing) {
		bw_buf_printf(&b, P "  called from: (no stack: %s)\n", c->stack_missing);
	}
	finish(&b);
	return b.len;
}

static void json_key(struct bw_buf *b, const char *k)
{
	bw_buf_printf(b, ",\"%s\":", k);
}

static void json_strz(struct bw_buf *b, const char *k, const char *v)
{
	json_key(b, k);
	bw_buf_json_str(b, v, strlen(v));
}

static void json_addr(struct bw_buf *b, const struct bw_addr *a)
{
	char ip[64];
	size_t n;
	if (a->family == AF_UNIX) {
		json_key(b, "path");
		bw_buf_json_str(b, a->path, a->path_len);
		bw_buf_printf(b, ",\"abstract\":%s", a->abstract ? "true" : "false");
		return;
	}
	bw_addr_format_ip(a, ip, sizeof(ip));
	json_strz(b, "addr", ip);
	bw_buf_printf(b, ",\"port\":%u", a->port);
	/* The device it is bound to (sk_bound_dev_if), as ss(8) names it. */
	n = bw_addr_format_dev(a, ip, sizeof(ip));
	json_key(b, "dev");
	if (n)
		bw_buf_json_str(b, ip, n);
	else
		bw_buf_puts(b, "null");
}

/* What /proc says about one holder process (after its pid). */
static void json_proc(struct bw_buf *b, const struct bw_proc *p)
{
	json_strz(b, "comm", p->comm);
	json_key(b, "cmdline");
	bw_buf_json_str(b, p->cmdline, p->cmdline_len);
	bw_buf_printf(b, ",\"uid\":%u", (unsigned)p->uid);
	json_key(b, "user");
	if (p->user[0])
		bw_buf_json_str(b, p->user, strlen(p->user));
	else
		bw_buf_puts(b, "null");
	bw_buf_printf(b, ",\"ppid\":%d", (int)p->ppid);
	json_key(b, "since");
	if (p->start) {
		bw_buf_puts(b, "\"");
		bw_buf_rfc3339(b, p->start);
		bw_buf_puts(b, "\"");
	} else {
		bw_buf_puts(b, "null");
	}
	json_strz(b, "cgroup", p->cgroup);
	json_strz(b, "unit", p->unit);
	json_strz(b, "container", p->container);
}

static void json_tristate(struct bw_buf *b, const char *k, signed char v)
{
	json_key(b, k);
	bw_buf_puts(b, v < 0 ? "null" : v ? "true" : "false");
}

/* How much of each process a JSON record carries: everything; when that
 * does not fit the record, pid, fd, comm, ppid and the relation fields;
 * then that for the first JSON_BRIEF_PROCS processes of each socket
 * (processes_total still counts them all). */
enum { JSON_FULL, JSON_COMPACT, JSON_BRIEF, JSON_BRIEF_PROCS = 4 };

/* Whether h's process entry k repeats the pid of an earlier one (the
 * same process has the socket on several fds). */
static bool repeated_pid(const struct bw_conflict *c, const struct bw_holder *h, size_t k)
{
	for (size_t j = 0; j < k; j++)
		if (c->hprocs[h->first_proc + j].pid == c->hprocs[h->first_proc + k].pid)
			return true;
	return false;
}

/* "processes": every process that has the socket open, the one to act on
 * first in front, once each: "fd" its first descriptor of the socket (as
 * before), "fds" all of them (a process that dup()ed it, or got it twice). */
static void json_processes(struct bw_buf *b, const struct bw_conflict *c,
			   const struct bw_holder *h, int level)
{
	size_t n = 0, shown = 0;
	for (size_t k = 0; k < h->n_procs; k++)
		n += !repeated_pid(c, h, k);
	bw_buf_printf(b, ",\"processes_total\":%zu,\"processes\":[", n);
	for (size_t k = 0; k < h->n_procs; k++) {
		const struct bw_holder_proc *hp = &c->hprocs[h->first_proc + k];
		const struct bw_process *p = hp->proc >= 0 ? &c->procs[hp->proc] : NULL;
		const char *rel = p ? bw_relation_name(p->relation) : NULL;
		bool first = true;
		if (repeated_pid(c, h, k))
			continue;
		if (level == JSON_BRIEF && shown == JSON_BRIEF_PROCS)
			break;
		bw_buf_printf(b, "%s{\"pid\":%d,\"fd\":%d,\"fds\":[", shown++ ? "," : "",
			      (int)hp->pid, hp->fd);
		for (size_t j = k; j < h->n_procs; j++)
			if (c->hprocs[h->first_proc + j].pid == hp->pid) {
				bw_buf_printf(b, "%s%d", first ? "" : ",",
					      c->hprocs[h->first_proc + j].fd);
				first = false;
			}
		bw_buf_puts(b, "]");
		if (p && p->have_proc && level == JSON_FULL) {
			json_proc(b, &p->proc);
		} else if (p && p->have_proc) {
			json_strz(b, "comm", p->proc.comm);
			bw_buf_printf(b, ",\"ppid\":%d", (int)p->proc.ppid);
		} else {
			bw_buf_puts(b, ",\"comm\":null,\"cmdline\":null,\"uid\":null,\"user\":null,"
				       "\"ppid\":null,\"since\":null");
		}
		json_key(b, "relation");
		if (rel)
			bw_buf_json_str(b, rel, strlen(rel));
		else
			bw_buf_puts(b, "null");
		json_tristate(b, "inherited", hp->inherited);
		json_key(b, "inherited_from");
		if (hp->inherited == 1)
			bw_buf_printf(b, "%d", (int)hp->inherited_from);
		else
			bw_buf_puts(b, "null");
		json_tristate(b, "across_exec", hp->inherited == 1 ? hp->across_exec : -1);
		bw_buf_puts(b, "}");
	}
	bw_buf_puts(b, "]");
}

/* "manager": null, or {"kind", "unit", "socket_unit", "user", "container":
 * {"id", "name", "image", "mapping", "proxy", "orphaned"}, "in_container"}. */
static void json_manager(struct bw_buf *b, const struct bw_manager *m)
{
	json_key(b, "manager");
	if (m->kind == BW_MGR_NONE) {
		bw_buf_puts(b, "null");
		return;
	}
	bw_buf_printf(b, "{\"kind\":\"%s\"", bw_manager_kind_name(m->kind));
	if (m->kind == BW_MGR_SYSTEMD || m->kind == BW_MGR_SYSTEMD_USER) {
		json_strz(b, "unit", m->unit);
		json_strz(b, "socket_unit", m->socket_unit);
		json_strz(b, "accept_units", m->accept_units);
		if (m->kind == BW_MGR_SYSTEMD_USER)
			bw_buf_printf(b, ",\"user_uid\":%u", (unsigned)m->user);
		json_strz(b, "in_container", m->outer_name[0] ? m->outer_name : m->outer_id);
	} else {
		json_strz(b, "id", m->id);
		json_strz(b, "name", m->name);
		json_strz(b, "image", m->image);
		json_strz(b, "mapping", m->mapping);
		if (m->engine)
			bw_buf_puts(b, ",\"engine_holds\":true");
		bw_buf_printf(b, ",\"proxy\":%s,\"orphaned\":%s,\"state_read\":%s",
			      m->proxy ? "true" : "false", m->orphaned ? "true" : "false",
			      m->state_read ? "true" : "false");
		if (m->proxy_target[0])
			json_strz(b, "proxy_target", m->proxy_target);
	}
	bw_buf_puts(b, "}");
}

/* "free_command": the command line or null, "free_kind", and per kind
 * "free_pid", "free_in_s" or "free_note". */
static void json_free(struct bw_buf *b, const struct bw_conflict *c)
{
	char cmd[BW_FREE_COMMAND_MAX];
	json_key(b, "free_command");
	if (c->free_argc && bw_free_command(c, cmd, sizeof(cmd)) > 0)
		bw_buf_json_str(b, cmd, strlen(cmd));
	else
		bw_buf_puts(b, "null");
	json_strz(b, "free_kind", bw_free_kind_name(c->free_kind));
	if (c->free_kind == BW_FREE_KILL)
		bw_buf_printf(b, ",\"free_pid\":%d", (int)c->free_pid);
	if (c->free_kind == BW_FREE_WAIT)
		bw_buf_printf(b, ",\"free_in_s\":%ld", c->free_in_s);
	if (c->free_note[0])
		json_strz(b, "free_note", c->free_note);
}

static void json_holder(struct bw_buf *b, const struct bw_conflict *c, const struct bw_holder *h,
			int level)
{
	char st[24];
	struct bw_buf sb = BW_BUF_INIT(st, sizeof(st));
	holder_state(&sb, &h->sock);
	bw_buf_printf(b, "{\"pid\":%d", (int)h->pid);
	bw_buf_printf(b, ",\"visible\":%s", h->pid > 0 ? "true" : "false");
	if (h->have_proc) {
		json_proc(b, &h->proc);
	} else {
		bw_buf_printf(b, ",\"comm\":null,\"cmdline\":null,\"uid\":%u,\"user\":null,"
				 "\"since\":null", (unsigned)h->sock.uid);
	}
	if (h->fd >= 0)
		bw_buf_printf(b, ",\"fd\":%d", h->fd);
	else
		bw_buf_puts(b, ",\"fd\":null");
	json_strz(b, "state", st);
	json_strz(b, "proto", bw_proto_name(h->sock.local.proto));
	json_strz(b, "family", bw_family_name(h->sock.local.family));
	json_addr(b, &h->sock.local);
	bw_buf_printf(b, ",\"inode\":%llu", (unsigned long long)h->sock.inode);
	json_strz(b, "overlap", bw_overlap_name(h->overlap));
	bw_buf_printf(b, ",\"reuseaddr\":%s,\"reuseport\":%s",
		      h->reuseaddr < 0 ? "null" : h->reuseaddr ? "true" : "false",
		      h->reuseport < 0 ? "null" : h->reuseport ? "true" : "false");
	if (h->sock.local.family == AF_INET6)
		json_tristate(b, "v6only", holder_v6only(c, h));
	if (h->sock.inode == 0 && h->sock.local.family != AF_UNIX)
		bw_buf_printf(b, ",\"expires_in_s\":%ld", (h->sock.timer_ms + 999) / 1000);
	json_strz(b, "cause", bw_cause_name(h->cause));
	json_strz(b, "socket_cgroup", h->sock_cgroup);
	json_key(b, "socket_user");
	if (h->sock_user[0])
		bw_buf_json_str(b, h->sock_user, strlen(h->sock_user));
	else
		bw_buf_puts(b, "null");
	json_manager(b, &h->mgr);
	json_processes(b, c, h, level);
	bw_buf_puts(b, "}");
}

/* "fixes": the remedies in order (remedy.h), and "assumed": the unknown
 * facts the cause rests on. */
static void json_fixes(struct bw_buf *b, const struct bw_conflict *c)
{
	char ip[64];
	bool first = true;
	bw_buf_puts(b, ",\"fixes\":[");
	for (size_t i = 0; i < c->n_fixes; i++) {
		const struct bw_fix *f = &c->fixes[i];
		bw_buf_printf(b, "%s{\"target\":\"%s\",\"kind\":\"%s\"", i ? "," : "",
			      f->target == BW_FIX_CALLER ? "caller" : "holder", bw_fix_kind_name(f->kind));
		switch (f->kind) {
		case BW_FIX_SOCKOPT:
			bw_buf_printf(b, ",\"level\":\"%s\",\"name\":\"%s\",\"value\":%d",
				      bw_sockopt_level_name(f->level), bw_sockopt_name(f->level, f->name),
				      f->value);
			break;
		case BW_FIX_ADDRESS:
			bw_addr_format_ip(&f->addr, ip, sizeof(ip));
			json_strz(b, "addr", ip);
			break;
		case BW_FIX_STOP:
		case BW_FIX_CLOSE:
			if (f->pid > 0)
				bw_buf_printf(b, ",\"pid\":%d", (int)f->pid);
			else
				bw_buf_puts(b, ",\"pid\":null");
			if (f->fd >= 0)
				bw_buf_printf(b, ",\"fd\":%d", f->fd);
			if (f->kind == BW_FIX_CLOSE)
				bw_buf_printf(b, ",\"own_fd\":%d", f->own_fd);
			/* Every process that must go (or close its copy). */
			bw_buf_puts(b, ",\"pids\":[");
			for (size_t k = 0; k < f->n_pids; k++)
				bw_buf_printf(b, "%s%d", k ? "," : "", (int)f->pids[k]);
			bw_buf_printf(b, "],\"more_pids\":%zu,\"unseen\":%zu", f->more_pids, f->unseen);
			break;
		case BW_FIX_USE_FD:
			bw_buf_printf(b, ",\"fd\":%d", f->fd);
			break;
		case BW_FIX_DEVICE: {
			/* Any device but those the blocking sockets are bound to. */
			const struct bw_addr *busy[BW_HOLDERS_MAX];
			size_t n = bw_remedy_busy_devices(c, busy, BW_HOLDERS_MAX);
			bw_buf_printf(b, ",\"level\":\"%s\",\"name\":\"%s\",\"not\":[",
				      bw_sockopt_level_name(f->level), bw_sockopt_name(f->level, f->name));
			for (size_t k = 0; k < n; k++) {
				char dev[24];
				size_t dn = bw_addr_format_dev(busy[k], dev, sizeof(dev));
				bw_buf_puts(b, k ? "," : "");
				bw_buf_json_str(b, dev, dn);
			}
			bw_buf_puts(b, "]");
			/* The one device that works (::1 binds on lo only), else null: any other. */
			json_key(b, "dev");
			if (f->addr.dev_if)
				bw_buf_json_str(b, f->addr.dev, strnlen(f->addr.dev, sizeof(f->addr.dev)));
			else
				bw_buf_puts(b, "null");
			break;
		}
		case BW_FIX_WAIT:
			bw_buf_printf(b, ",\"seconds\":%d", f->seconds);
			break;
		case BW_FIX_UNLINK:
			json_key(b, "path");
			bw_buf_json_str(b, f->addr.path, f->addr.path_len);
			break;
		default:
			break;
		}
		if (f->assumes)
			json_strz(b, "assumes", f->assumes);
		bw_buf_puts(b, "}");
	}
	bw_buf_puts(b, "],\"assumed\":[");
	for (unsigned bit = 1; bit <= BW_ASSUMED_CALLER_OPTIONS; bit <<= 1)
		if (c->assumed & bit) {
			bw_buf_printf(b, "%s", first ? "" : ",");
			bw_buf_json_str(b, bw_assumed_text(bit), strlen(bw_assumed_text(bit)));
			first = false;
		}
	bw_buf_puts(b, "]");
}

size_t bw_report_json_holder(const struct bw_conflict *c, size_t i, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	json_holder(&b, c, &c->holders[i], JSON_FULL);
	if (b.truncated) {
		/* Never broken JSON: the smallest object that parses. */
		b = (struct bw_buf)BW_BUF_INIT(buf, size);
		bw_buf_printf(&b, "{\"pid\":%d,\"truncated\":true}", (int)c->holders[i].pid);
	}
	return b.truncated ? 0 : b.len;
}

/* The record at one level of detail; *more when it did not fit and a
 * briefer level is left to try (at the last level, a minimal record). */
static size_t json_render(const struct bw_conflict *c, char *buf, size_t size, int level,
			  bool *more)
{
	struct bw_buf b = BW_BUF_INIT(buf, size > 2 ? size - 2 : 0);

	if (size < 4) {
		/* Not even "{}\n" fits: an empty string, never a byte past the end. */
		if (size)
			buf[0] = '\0';
		return 0;
	}
	bw_buf_puts(&b, "{\"event\":");
	bw_buf_json_str(&b, c->event, strlen(c->event));
	bw_buf_puts(&b, ",\"time\":\"");
	bw_buf_rfc3339(&b, c->time);
	bw_buf_puts(&b, "\"");
	if (c->pid) {
		bw_buf_printf(&b, ",\"pid\":%d", (int)c->pid);
		json_strz(&b, "comm", c->comm);
		bw_buf_printf(&b, ",\"fd\":%d", c->fd);
	}
	json_strz(&b, "family", bw_family_name(c->want.family));
	json_strz(&b, "proto", bw_proto_name(c->want.proto));
	json_addr(&b, &c->want);
	if (c->want.family == AF_INET6)
		bw_buf_printf(&b, ",\"v6only\":%s", c->want_v6only ? "true" : "false");
	if (strcmp(c->event, "remap") == 0) {
		/* A move by BINDWATCH_REMAP_MODE=always: nothing conflicted. */
		json_remap(&b, &c->remap);
		goto close;
	}
	if (c->pid) {
		bw_buf_printf(&b, ",\"errno\":%d", c->err);
		json_strz(&b, "error", err_name(c->err));
	}
	json_strz(&b, "cause", bw_cause_name(c->cause));
	json_strz(&b, "hint", c->hint);
	json_fixes(&b, c);
	json_free(&b, c);
	json_remap(&b, &c->remap);
	if (c->cause == BW_CAUSE_EPHEMERAL_EXHAUSTED)
		bw_buf_printf(&b, ",\"port_range\":[%d,%d],\"ports_in_use\":%d", c->port_lo,
			      c->port_hi, c->ports_in_use);
	bw_buf_puts(&b, ",\"holders\":[");
	for (size_t i = 0; i < c->n_holders; i++) {
		if (i)
			bw_buf_puts(&b, ",");
		json_holder(&b, c, &c->holders[i], level);
	}
	bw_buf_printf(&b, "],\"holders_total\":%zu", c->n_matching);
	bw_buf_printf(&b, ",\"scan\":{\"method\":\"%s\",\"procs\":%u,\"unreadable\":%u,"
			  "\"fds\":%u,\"complete\":%s}",
		      c->scan.via_cgroup ? "cgroup" : c->scan.via_bpf ? "bpf" : "proc", c->scan.procs_scanned, c->scan.procs_unreadable,
		      c->scan.fds_checked,
		      c->scan.budget_exhausted || c->scan.via_cgroup ? "false" : "true");
	if (c->pid) {
		bw_buf_puts(&b, ",\"stack\":[");
		for (size_t i = 0; i < c->n_frames; i++) {
			const struct bw_frame *f = &c->frames[i];
			bw_buf_printf(&b, "%s{\"pc\":\"0x%lx\",\"symbol\":", i ? "," : "",
				      (unsigned long)f->pc);
			if (f->symbol[0])
				bw_buf_json_str(&b, f->symbol, strlen(f->symbol));
			else
				bw_buf_puts(&b, "null");
			bw_buf_printf(&b, ",\"offset\":%lu,\"module\":", (unsigned long)f->offset);
			bw_buf_json_str(&b, f->module, strlen(f->module));
			bw_buf_printf(&b, ",\"module_offset\":\"0x%lx\"}", (unsigned long)f->module_offset);
		}
		bw_buf_puts(&b, "]");
		if (!c->n_frames && c->stack_missing) {
			json_key(&b, "stack_missing");
			bw_buf_json_str(&b, c->stack_missing, strlen(c->stack_missing));
		}
	}
close:
	if (b.truncated && level < JSON_BRIEF) {
		*more = true;
		return 0;
	}
	if (b.truncated) {
		/* Never emit broken JSON: fall back to a minimal valid record. */
		b = (struct bw_buf)BW_BUF_INIT(buf, size > 2 ? size - 2 : 0);
		bw_buf_puts(&b, "{\"event\":");
		bw_buf_json_str(&b, c->event, strlen(c->event));
		bw_buf_printf(&b, ",\"pid\":%d,\"fd\":%d,\"truncated\":true", (int)c->pid, c->fd);
		json_strz(&b, "cause", bw_cause_name(c->cause));
		if (b.truncated) {
			/* Still too small: the smallest records that parse. */
			b = (struct bw_buf)BW_BUF_INIT(buf, size - 2);
			bw_buf_puts(&b, "{\"truncated\":true");
			if (b.truncated) {
				b = (struct bw_buf)BW_BUF_INIT(buf, size - 2);
				bw_buf_puts(&b, "{");
			}
		}
	}
	/* size - 2 above reserved room for these two bytes. */
	b.p[b.len++] = '}';
	b.p[b.len++] = '\n';
	b.p[b.len] = '\0';
	return b.len;
}

size_t bw_report_json(const struct bw_conflict *c, char *buf, size_t size)
{
	size_t n = 0;
	for (int level = JSON_FULL; level <= JSON_BRIEF; level++) {
		bool more = false;
		n = json_render(c, buf, size, level, &more);
		if (!more)
			break;
	}
	return n;
}

/* One row of the table: the socket of holder i with its group (alone: this
 * socket only, as the listing shows every socket). */
static void table_row(struct bw_buf *b, const struct bw_conflict *c, size_t i, bool alone)
{
	const struct bw_holder *h = &c->holders[i];
	char local[BW_ADDR_TEXT_MAX], peer[BW_ADDR_TEXT_MAX], st[24];
	struct bw_buf sb = BW_BUF_INIT(st, sizeof(st));
	struct group g;
	group_of(c, i, alone, &g);
	const char *netid = h->sock.local.proto == BW_PROTO_UDP ? "udp"
			  : h->sock.local.proto == BW_PROTO_TCP ? "tcp"
			  : h->sock.local.proto == BW_PROTO_UNIX_DGRAM ? "u_dgr"
			  : h->sock.local.proto == BW_PROTO_UNIX_SEQPACKET ? "u_seq" : "u_str";
	holder_state(&sb, &h->sock);
	holder_local(c, h, local, sizeof(local));
	if (h->sock.local.family == AF_UNIX) {
		snprintf(peer, sizeof(peer), "*");
	} else if (h->sock.remote.port == 0 && local[0] == '*') {
		/* A dual-stack wildcard: ss prints "*:*" beside "*:PORT". */
		snprintf(peer, sizeof(peer), "*:*");
	} else if (h->sock.remote.port == 0) {
		struct bw_buf pb = BW_BUF_INIT(peer, sizeof(peer));
		char ip[64];
		bw_addr_format_ip(&h->sock.remote, ip, sizeof(ip));
		bw_buf_printf(&pb, h->sock.remote.family == AF_INET6 ? "[%s]:*" : "%s:*", ip);
	} else {
		bw_addr_format(&h->sock.remote, peer, sizeof(peer));
	}
	bw_buf_printf(b, "%-6s %-11s %-28s %-28s ", netid, st, local, peer);
	if (h->sock.inode == 0 && h->sock.local.family != AF_UNIX) {
		if (g.sockets > 1)
			bw_buf_printf(b, "(no process; %zu sockets, all expire within %lds)\n",
				      g.sockets, (g.timer_ms + 999) / 1000);
		else
			bw_buf_printf(b, "(no process, expires in %lds)\n",
				      (h->sock.timer_ms + 999) / 1000);
		return;
	}
	if (h->pid == 0) {
		bw_buf_printf(b, "(not visible: uid %u", (unsigned)h->sock.uid);
		if (h->sock_user[0])
			bw_buf_printf(b, " user=%s", h->sock_user);
		bw_buf_printf(b, ", inode %llu", (unsigned long long)h->sock.inode);
		if (g.sockets > 1)
			bw_buf_printf(b, "; %zu sockets", g.sockets);
		bw_buf_puts(b, ")");
		if (h->sock_cgroup[0]) {
			bw_buf_puts(b, " cgroup=");
			bw_buf_escape(b, h->sock_cgroup, strlen(h->sock_cgroup));
		}
		if (h->mgr.kind != BW_MGR_NONE) {
			bw_buf_puts(b, " [");
			manager_desc(b, &h->mgr);
			bw_buf_puts(b, "]");
		}
		bw_buf_puts(b, "\n");
		return;
	}
	{
		/* Every fd of its process on this socket (ss -p lists each); fd
		 * -1: found by its command line (docker-proxy of root, for
		 * another user), not in its fd table: unknown, as ss -p has none. */
		int fds[FDS_SHOWN];
		size_t n = group_fds(c, i, alone, h->pid, fds, FDS_SHOWN);
		int fd0 = n ? fds[0] : h->fd;
		if (fd0 >= 0)
			bw_buf_printf(b, "pid=%d,fd=%d", (int)h->pid, fd0);
		else
			bw_buf_printf(b, "pid=%d,fd=?", (int)h->pid);
		for (size_t k = 1; k < n && k < FDS_SHOWN; k++)
			bw_buf_printf(b, ",%d", fds[k]);
		if (n > FDS_SHOWN)
			bw_buf_puts(b, ",...");
	}
	if (h->have_proc) {
		if (h->proc.user[0])
			bw_buf_printf(b, " user=%s(%u)", h->proc.user, (unsigned)h->proc.uid);
		else
			bw_buf_printf(b, " uid=%u", (unsigned)h->proc.uid);
		if (h->proc.start) {
			bw_buf_puts(b, " since=");
			bw_buf_rfc3339(b, h->proc.start);
		}
		bw_buf_puts(b, " cmd=\"");
		bw_buf_escape(b, h->proc.cmdline_len ? h->proc.cmdline : h->proc.comm,
			      h->proc.cmdline_len ? h->proc.cmdline_len : strlen(h->proc.comm));
		bw_buf_puts(b, "\"");
		if (h->proc.cgroup[0]) {
			bw_buf_puts(b, " cgroup=");
			bw_buf_escape(b, h->proc.cgroup, strlen(h->proc.cgroup));
		}
	}
	text_others(b, &g);
	if (g.sockets > 1)
		bw_buf_printf(b, " [%zu sockets]", g.sockets);
	if (h->mgr.kind != BW_MGR_NONE) {
		bw_buf_puts(b, " [");
		manager_desc(b, &h->mgr);
		bw_buf_puts(b, "]");
	}
	bw_buf_puts(b, "\n");
}

size_t bw_report_table_header(char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	bw_buf_printf(&b, "%-6s %-11s %-28s %-28s %s\n", "Netid", "State", "Local Address:Port",
		      "Peer Address:Port", "Process");
	finish(&b);
	return b.len;
}

size_t bw_report_table_row(const struct bw_conflict *c, size_t i, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	table_row(&b, c, i, true);
	finish(&b);
	return b.len;
}

size_t bw_report_table(const struct bw_conflict *c, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);

	b.len = bw_report_table_header(buf, size);
	for (size_t i = 0; i < c->n_holders; i++)
		if (group_leader(c, i))
			table_row(&b, c, i, false);
	if (unfolded(c) > 0)
		bw_buf_printf(&b, "... and %zu more\n", unfolded(c));
	scope_line(&b, c, "");
	/* Also when nothing was found: the hint says where we looked. */
	bw_buf_printf(&b, "cause: %s: %s\n", bw_cause_name(c->cause), c->hint);
	if (c->n_holders || c->cause == BW_CAUSE_UNIX_STALE ||
	    c->cause == BW_CAUSE_UNIX_UNVERIFIED || c->cause == BW_CAUSE_UNIX_NOT_SOCKET) {
		free_line(&b, c);
		bw_buf_puts(&b, "\n");
	}
	finish(&b);
	return b.len;
}

size_t bw_report_repeats(enum bw_format fmt, const char *desc, unsigned count, char *buf,
			 size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	if (fmt == BW_FORMAT_JSON) {
		bw_buf_puts(&b, "{\"event\":\"repeated\",\"time\":\"");
		bw_buf_rfc3339(&b, time(NULL));
		bw_buf_printf(&b, "\",\"pid\":%d,\"conflict\":", (int)getpid());
		bw_buf_json_str(&b, desc, strlen(desc));
		bw_buf_printf(&b, ",\"count\":%u}\n", count);
	} else {
		bw_buf_printf(&b, P "%s: repeated %u times (identical conflicts are reported once per"
				    " BINDWATCH_RATELIMIT window)\n",
			      desc, count);
	}
	finish(&b);
	return b.len;
}

size_t bw_report_conflict_desc(const struct bw_conflict *c, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	bw_buf_escape(&b, c->comm, strlen(c->comm));
	bw_buf_printf(&b, "[%d] %s(", (int)c->pid, c->call);
	want_desc(&b, c);
	bw_buf_puts(&b, ")");
	return b.len;
}

size_t bw_report_trace(enum bw_format fmt, const struct bw_trace_event *t, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size > 2 ? size - 2 : 0);
	char addr[BW_ADDR_TEXT_MAX + 16];
	static const char *const names[] = {"SO_REUSEADDR", "SO_REUSEPORT", "IPV6_V6ONLY"};
	bool first = true;

	if (size < (fmt == BW_FORMAT_JSON ? 4u : 2u)) {
		/* Not even "{}\n" (or "\n") fits: an empty string, never a byte
		 * past the end. */
		if (size)
			buf[0] = '\0';
		return 0;
	}
	bw_addr_format(&t->addr, addr, sizeof(addr));
	if (fmt == BW_FORMAT_JSON) {
		bw_buf_printf(&b, "{\"event\":\"%s\",\"time\":\"", t->call);
		bw_buf_rfc3339(&b, t->time);
		bw_buf_printf(&b, "\",\"pid\":%d,\"comm\":", (int)t->pid);
		bw_buf_json_str(&b, t->comm, strlen(t->comm));
		bw_buf_printf(&b, ",\"fd\":%d,\"result\":%d", t->fd, t->result);
		json_strz(&b, "family", bw_family_name(t->addr.family));
		json_strz(&b, "proto", bw_proto_name(t->addr.proto));
		json_addr(&b, &t->addr);
		bw_buf_puts(&b, ",\"options\":[");
		for (size_t i = 0; i < 3; i++)
			if (t->options & (1u << i)) {
				bw_buf_printf(&b, "%s\"%s\"", first ? "" : ",", names[i]);
				first = false;
			}
		bw_buf_puts(&b, "],\"caller\":");
		if (t->have_frame) {
			bw_buf_puts(&b, "{\"symbol\":");
			bw_buf_json_str(&b, t->frame.symbol, strlen(t->frame.symbol));
			bw_buf_printf(&b, ",\"offset\":%lu,\"module\":", (unsigned long)t->frame.offset);
			bw_buf_json_str(&b, t->frame.module, strlen(t->frame.module));
			bw_buf_printf(&b, ",\"module_offset\":\"0x%lx\"}",
				      (unsigned long)t->frame.module_offset);
		} else {
			bw_buf_puts(&b, "null");
		}
		if (b.truncated) {
			/* Never emit broken JSON: fall back to a minimal valid record. */
			b = (struct bw_buf)BW_BUF_INIT(buf, size - 2);
			bw_buf_printf(&b, "{\"event\":\"%s\",\"pid\":%d,\"fd\":%d,\"result\":%d,"
					  "\"truncated\":true", t->call, (int)t->pid, t->fd, t->result);
			if (b.truncated) {
				b = (struct bw_buf)BW_BUF_INIT(buf, size - 2);
				bw_buf_puts(&b, "{");
			}
		}
		b.p[b.len++] = '}';
	} else {
		bw_buf_puts(&b, P);
		bw_buf_escape(&b, t->comm, strlen(t->comm));
		bw_addr_format_proto(&t->addr, addr, sizeof(addr));
		bw_buf_printf(&b, "[%d] %s(fd %d, %s) = %d", (int)t->pid, t->call, t->fd, addr,
			      t->result);
		for (size_t i = 0; i < 3; i++)
			if (t->options & (1u << i)) {
				bw_buf_printf(&b, "%s%s", first ? " [" : ",", names[i]);
				first = false;
			}
		if (!first)
			bw_buf_puts(&b, "]");
		if (t->have_frame) {
			bw_buf_puts(&b, " from ");
			if (t->frame.symbol[0])
				bw_buf_escape(&b, t->frame.symbol, strlen(t->frame.symbol));
			else
				bw_buf_puts(&b, "??");
			bw_buf_printf(&b, "+0x%lx (", (unsigned long)t->frame.offset);
			bw_buf_escape(&b, t->frame.module, strlen(t->frame.module));
			bw_buf_printf(&b, " +0x%lx)", (unsigned long)t->frame.module_offset);
		}
	}
	b.p[b.len++] = '\n';
	b.p[b.len] = '\0';
	return b.len;
}

size_t bw_report_render(struct bw_conflict *c, enum bw_format fmt, bool color, char *buf,
			size_t size)
{
	c->color = color;
	return fmt == BW_FORMAT_JSON ? bw_report_json(c, buf, size) : bw_report_text(c, buf, size);
}

/* Bytes of the ANSI SGR sequence at p ("\033[...m"), 0 if none. */
static size_t sgr_len(const char *p, const char *end)
{
	const char *q = p;
	if (q + 1 >= end || q[0] != '\033' || q[1] != '[')
		return 0;
	for (q += 2; q < end && ((*q >= '0' && *q <= '9') || *q == ';'); q++)
		;
	return q < end && *q == 'm' ? (size_t)(q + 1 - p) : 0;
}

size_t bw_report_wrap(char *buf, size_t len, size_t size, unsigned cols)
{
	static const char prefix[] = P;
	const size_t plen = sizeof(prefix) - 2; /* "bindwatch:" without its space */
	size_t start = 0, cont_start = (size_t)-1, base_indent = 0;

	/* Narrower than a prefix and some words: wrapping would not help. */
	if (cols < 40)
		return len;
	while (start < len) {
		char *line = buf + start, *end = buf + len;
		char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t indent = 0, col = 0, cont_len, need;
		bool prefixed = (size_t)(end - line) > plen && memcmp(line, prefix, plen) == 0;
		char *p, *text, *space = NULL;

		if (!eol)
			eol = end;
		p = prefixed ? line + plen : line;
		while (p < eol && *p == ' ')
			p++, indent++;
		/* A continuation keeps its first line's indentation. */
		if (start != cont_start)
			base_indent = indent;
		text = p;
		col = (size_t)(p - line);
		for (; p < eol; p++) {
			size_t k = sgr_len(p, eol);
			if (k) {
				p += k - 1;
				continue;
			}
			if (col >= cols)
				break;
			if (*p == ' ' && p > text)
				space = p;
			col++;
		}
		if (p >= eol) {
			start = (size_t)(eol - buf) + 1;
			continue;
		}
		/* Break at the last space that fits, else mid-word. */
		cont_len = (prefixed ? plen : 0) + base_indent + 4;
		if (cont_len + 10 >= cols)
			return len;
		need = 1 + cont_len - (space ? 1 : 0);
		if (len + need >= size)
			return len;
		{
			char *at = space ? space : p;
			size_t skip = space ? 1 : 0;
			size_t pos = (size_t)(at - buf);
			memmove(at + need + skip, at + skip, len - pos - skip);
			at[0] = '\n';
			if (prefixed)
				memcpy(at + 1, prefix, plen);
			memset(at + 1 + (prefixed ? plen : 0), ' ', base_indent + 4);
			len += need;
			buf[len] = '\0';
			start = cont_start = pos + 1;
		}
	}
	return len;
}
