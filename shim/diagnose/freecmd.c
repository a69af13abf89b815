#include "diagnose/freecmd.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/fmt.h"
#include "diagnose/cause.h"
#include "diagnose/remedy.h"
#include "lookup/users.h"

const char *bw_free_kind_name(enum bw_free_kind k)
{
	switch (k) {
	case BW_FREE_MANAGER: return "manager";
	case BW_FREE_KILL: return "kill";
	case BW_FREE_REMOVE: return "remove";
	case BW_FREE_WAIT: return "wait";
	default: return "none";
	}
}

static void arg(struct bw_conflict *c, const char *s)
{
	if (c->free_argc < BW_FREE_ARGS_MAX)
		snprintf(c->free_argv[c->free_argc++], BW_FREE_ARG_MAX, "%s", s);
}

static void note(struct bw_conflict *c, const char *s)
{
	c->free_kind = BW_FREE_NONE;
	c->free_argc = 0;
	snprintf(c->free_note, sizeof(c->free_note), "%s", s);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), sl = strlen(suffix);
	return n > sl && strcmp(s + n - sl, suffix) == 0;
}

/* The container's name, else its short id (both are accepted by docker
 * stop / podman stop). */
static void container_ref(char *buf, size_t size, const struct bw_manager *m)
{
	if (m->name[0])
		snprintf(buf, size, "%s", m->name);
	else
		snprintf(buf, size, "%.12s", m->id);
}

/* systemctl [--user [-M USER@]] stop UNIT...; through `docker exec` when
 * the manager runs in another container. */
static void systemctl_stop(struct bw_conflict *c, const struct bw_holder *h)
{
	const struct bw_manager *m = &h->mgr;
	if (m->outer_id[0]) {
		char ref[BW_MGR_NAME_MAX];
		arg(c, "docker");
		arg(c, "exec");
		snprintf(ref, sizeof(ref), "%s", m->outer_name);
		if (!ref[0])
			snprintf(ref, sizeof(ref), "%.12s", m->outer_id);
		arg(c, ref);
	}
	arg(c, "systemctl");
	if (m->kind == BW_MGR_SYSTEMD_USER) {
		arg(c, "--user");
		if (m->user != c->caller_uid) {
			char user[BW_USER_MAX + 1];
			if (bw_user_name(m->user, user, sizeof(user) - 1) < 0)
				snprintf(user, sizeof(user), "%u", (unsigned)m->user);
			strcat(user, "@");
			arg(c, "-M");
			arg(c, user);
		}
	}
	arg(c, "stop");
	if (m->socket_unit[0])
		arg(c, m->socket_unit);
	/* Accept=yes: the instances hold the connections (systemctl takes
	 * the glob); a row's own instance is one of them. */
	if (m->accept_units[0])
		arg(c, m->accept_units);
	else if (ends_with(m->unit, ".service") && strncmp(m->unit, "user@", 5) != 0)
		arg(c, m->unit);
	c->free_kind = BW_FREE_MANAGER;
}

static void kill_pid(struct bw_conflict *c, pid_t pid)
{
	char num[16];
	if (pid == 1) {
		note(c, "pid 1 holds it and is never stopped; free it through the program that runs as"
			" pid 1");
		return;
	}
	snprintf(num, sizeof(num), "%d", (int)pid);
	arg(c, "kill");
	arg(c, num);
	c->free_kind = BW_FREE_KILL;
	c->free_pid = pid;
}

static void kill_all(struct bw_conflict *c, const struct bw_holder *h);

/* The holder runs in the failing process's own container or service
 * unit: stopping that through its manager (docker stop, systemctl stop)
 * would stop the failing process too, and inside a container there is no
 * engine to ask. The process itself is the one to act on. */
static void shared_manager(struct bw_conflict *c, const struct bw_holder *h)
{
	const struct bw_manager *m = &h->mgr;
	bool unit = m->kind == BW_MGR_SYSTEMD || m->kind == BW_MGR_SYSTEMD_USER;
	const char *what = unit ? "unit" : "container";
	char ref[BW_MGR_NAME_MAX];
	struct bw_buf b = BW_BUF_INIT(c->free_note, sizeof(c->free_note));

	if (unit)
		snprintf(ref, sizeof(ref), "%s", m->unit);
	else
		container_ref(ref, sizeof(ref), m);
	if (h->pid > 0)
		kill_all(c, h);
	if (c->free_kind == BW_FREE_KILL)
		bw_buf_printf(&b, "it shares %s %s with this process: stopping that would stop this"
				  " process too",
			      what, ref);
	else if (h->pid <= 0)
		bw_buf_printf(&b, "a process of %s %s, which this process shares, holds it and is not"
				  " visible here; stopping that would stop this process too",
			      what, ref);
}

/* After 'systemctl stop UNIT': blocking processes outside that unit (a
 * child moved to another scope, systemd-run --scope, keeps its fds) hold
 * the port on; the note names them (stopping the unit is still what to do
 * first: it would restart a killed main process). Plain units only: a
 * .socket unit's holder is the manager itself. */
static void outside_unit_note(struct bw_conflict *c, const struct bw_holder *h)
{
	pid_t pids[BW_FREE_ARGS_MAX];
	int fds[BW_FREE_ARGS_MAX];
	struct bw_free_pids fp;
	struct bw_buf b = BW_BUF_INIT(c->free_note, sizeof(c->free_note));
	size_t n = bw_free_pids(c, pids, fds, BW_FREE_ARGS_MAX, &fp), shown = 0;

	if (h->mgr.socket_unit[0])
		return;
	for (size_t i = 0; i < n; i++) {
		const struct bw_proc *p = NULL;
		for (size_t j = 0; j < c->n_procs && !p; j++)
			if (c->procs[j].have_proc && c->procs[j].proc.pid == pids[i])
				p = &c->procs[j].proc;
		if (!p || pids[i] == 1 || strcmp(p->unit, h->mgr.unit) == 0)
			continue;
		bw_buf_puts(&b, shown ? ", " : "");
		bw_buf_printf(&b, "pid %d (", (int)pids[i]);
		bw_buf_escape(&b, p->comm, strlen(p->comm));
		bw_buf_printf(&b, "%s%s)", p->unit[0] ? ", " : "", p->unit);
		shown++;
	}
	if (shown)
		bw_buf_printf(&b, " outside %s %s the socket too and keep%s the port after that:"
				  " kill %s as well",
			      h->mgr.unit, shown > 1 ? "have" : "has", shown > 1 ? "" : "s",
			      shown > 1 ? "them" : "it");
}

static void for_holder(struct bw_conflict *c, const struct bw_holder *h)
{
	const struct bw_manager *m = &h->mgr;
	char ref[BW_MGR_NAME_MAX];

	if (h->shares_mgr) {
		shared_manager(c, h);
		return;
	}
	switch (m->kind) {
	case BW_MGR_DOCKER:
	case BW_MGR_PODMAN:
		if (m->orphaned) {
			/* No container is behind it: dockerd won't restart it. */
			kill_all(c, h);
			return;
		}
		if (!m->name[0] && !m->id[0]) {
			/* dockerd manages every container: never the one to kill. */
			if (m->engine)
				snprintf(c->free_note, sizeof(c->free_note),
					 "dockerd holds it itself (it does for each published port"
					 " with --userland-proxy=false, and for its API with -H tcp://)"
					 " and %s; dockerd manages every container and is never"
					 " stopped for one port: 'docker ps --filter publish=%d'"
					 " names the container",
					 m->state_read ? "no running container publishes it"
						       : "its containers are not readable here",
					 h->sock.local.port);
			else
				snprintf(c->free_note, sizeof(c->free_note),
					 "docker-proxy of a container this user can't read"
					 " (/var/lib/docker): 'docker ps --filter publish=%d' names"
					 " it; run as root to be told",
					 h->sock.local.port);
			return;
		}
		container_ref(ref, sizeof(ref), m);
		if (m->rootless && m->user != c->caller_uid) {
			/* Its user's podman: root's knows only root's containers. */
			char user[BW_USER_MAX];
			if (c->caller_uid != 0) {
				snprintf(c->free_note, sizeof(c->free_note),
					 "rootless podman container %s of uid %u: 'podman stop %s' as that"
					 " user", ref, (unsigned)m->user, ref);
				return;
			}
			if (bw_user_name(m->user, user, sizeof(user)) < 0)
				snprintf(user, sizeof(user), "#%u", (unsigned)m->user);
			arg(c, "runuser");
			arg(c, "-u");
			arg(c, user);
			arg(c, "--");
		}
		arg(c, m->kind == BW_MGR_DOCKER ? "docker" : "podman");
		arg(c, "stop");
		arg(c, ref);
		c->free_kind = BW_FREE_MANAGER;
		return;
	case BW_MGR_CONTAINER:
		snprintf(c->free_note, sizeof(c->free_note),
			 "container %.12s of an engine bindwatch does not drive; stop it with that"
			 " engine's CLI", m->id);
		return;
	case BW_MGR_SYSTEMD:
	case BW_MGR_SYSTEMD_USER:
		if (m->socket_unit[0] || (ends_with(m->unit, ".service") &&
					   strncmp(m->unit, "user@", 5) != 0)) {
			systemctl_stop(c, h);
			outside_unit_note(c, h);
			return;
		}
		break; /* a scope (login session, init.scope): its process is the one to stop */
	default:
		break;
	}
	/* A program that passes sockets on without units
	 * (systemd-socket-activate, inetd run by hand) or its child that got
	 * one through LISTEN_FDS: no manager restarts it. */
	if (h->cause == BW_CAUSE_SOCKET_ACTIVATION && !bw_cause_unitless_activation(h)) {
		note(c, "a service manager holds it for socket activation and no .socket unit file"
			" names this address here: 'systemctl list-sockets' shows which to stop");
		return;
	}
	if (h->pid <= 0 && c->scan.budget_exhausted) {
		note(c, "the owner scan stopped at its BINDWATCH_SCAN_MS budget before it found the"
			" process: raise BINDWATCH_SCAN_MS or run 'bindwatch who'");
		return;
	}
	if (h->pid <= 0) {
		/* As root only another pid namespace hides a process. */
		snprintf(c->free_note, sizeof(c->free_note),
			 "its process is not visible here (uid %u%s%s%s): %s",
			 (unsigned)h->sock.uid, h->sock_user[0] ? " " : "", h->sock_user,
			 h->sock_cgroup[0] ? ", no unit or container in its cgroup" : "",
			 geteuid() == 0 ? "it runs in another pid namespace; ss -p there names it"
					: "run as root or as that user");
		return;
	}
	kill_all(c, h);
}

static bool is_orphan(const struct bw_holder *h)
{
	return h->sock.inode == 0 && h->sock.local.family != AF_UNIX;
}

static void add_pid(const struct bw_conflict *c, pid_t pid, int fd, pid_t *pids, int *fds,
		    size_t max, size_t *n, struct bw_free_pids *ret)
{
	if (c->pid > 0 && pid == c->pid) {
		if (!ret->self)
			ret->self_fd = fd;
		ret->self = true;
		return;
	}
	for (size_t i = 0; i < *n; i++)
		if (pids[i] == pid)
			return;
	if (*n == max) {
		ret->more++;
		return;
	}
	pids[*n] = pid;
	fds[*n] = fd;
	(*n)++;
}

/* A connection on the port that a caller with SO_REUSEADDR shares once
 * the listener is gone: inet_csk_bind_conflict() lets two sockets that
 * both set SO_REUSEADDR share a port unless one listens, and an accepted
 * connection has its listener's SO_REUSEADDR (sk_clone_lock() copies
 * sk_reuse). Unknown options (inside a host) are taken as on: the
 * listener is what holds the port, not its clients. */
static bool shares_without_listener(const struct bw_conflict *c, const struct bw_holder *h)
{
	bool listener = false;
	if (c->want_reuseaddr != 1 || h->sock.local.proto != BW_PROTO_TCP || h->sock.listening ||
	    h->reuseaddr == 0)
		return false;
	for (size_t i = 0; i < c->n_holders; i++) {
		const struct bw_holder *l = &c->holders[i];
		if (l->blocks && l->sock.listening && l->sock.local.proto == BW_PROTO_TCP) {
			if (l->reuseaddr == 0)
				return false;
			listener = true;
		}
	}
	return listener;
}

size_t bw_free_pids(const struct bw_conflict *c, pid_t *pids, int *fds, size_t max,
		    struct bw_free_pids *ret)
{
	size_t first = 0, n = 0;

	memset(ret, 0, sizeof(*ret));
	ret->self_fd = -1;
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].cause == c->cause) {
			first = i;
			break;
		}
	/* The cause's holder first, then the other blocking sockets. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->n_holders; i++) {
			const struct bw_holder *h = &c->holders[i];
			if ((i == first) != (pass == 0) || !h->blocks || is_orphan(h) ||
			    shares_without_listener(c, h))
				continue;
			if (h->n_procs == 0 && h->pid <= 0)
				ret->unseen++;
			else if (h->n_procs == 0)
				add_pid(c, h->pid, h->fd, pids, fds, max, &n, ret);
			for (size_t j = 0; j < h->n_procs; j++) {
				const struct bw_holder_proc *hp = &c->hprocs[h->first_proc + j];
				add_pid(c, hp->pid, hp->fd, pids, fds, max, &n, ret);
			}
		}
	ret->more += c->hprocs_dropped;
	return n;
}

/* kill every process that keeps a blocking socket open, the process to
 * act on first (h's) last: a socket is freed when its last copy is
 * closed, so a child that kept it (a pre-fork worker, a helper started
 * with the fd) or another socket on the port (0.0.0.0:P next to an
 * IPv6-only [::]:P) would keep the address in use; and a master that ends
 * its workers when signalled must not have done so before kill(1) gets to
 * them (it would fail with ESRCH). */
static void kill_all(struct bw_conflict *c, const struct bw_holder *h)
{
	pid_t pids[BW_FREE_ARGS_MAX - 2];
	int fds[BW_FREE_ARGS_MAX - 2];
	struct bw_free_pids fp;
	size_t n;
	char num[16];

	kill_pid(c, h->pid);
	if (c->free_kind != BW_FREE_KILL)
		return;
	c->free_argc = 1;
	n = bw_free_pids(c, pids, fds, BW_FREE_ARGS_MAX - 2, &fp);
	for (size_t i = 0; i < n; i++) {
		if (pids[i] == h->pid || pids[i] == 1)
			continue;
		snprintf(num, sizeof(num), "%d", (int)pids[i]);
		arg(c, num);
	}
	snprintf(num, sizeof(num), "%d", (int)h->pid);
	arg(c, num);
}

/* The failing process holds the address itself: nothing to run from
 * outside (a process never gets 'kill' for itself, and killing another
 * copy's process leaves this process's own copy open). */
static void self_note(struct bw_conflict *c)
{
	pid_t pids[1];
	int fds[1];
	struct bw_free_pids fp;
	if (bw_free_pids(c, pids, fds, 1, &fp) == 0) {
		note(c, fp.unseen ? "this process holds it itself, and a process bindwatch can't"
				    " see has a copy too: use that fd"
				  : "this process holds it itself: close that fd first");
		return;
	}
	snprintf(c->free_note, sizeof(c->free_note),
		 "this process holds it itself (fd %d) and pid %d has a copy too%s: use that"
		 " fd, or close it here and in every other copy", fp.self_fd, (int)pids[0],
		 fp.more || fp.unseen ? " (and others)" : "");
}

void bw_free_choose(struct bw_conflict *c)
{
	const struct bw_holder *h = NULL;

	c->free_kind = BW_FREE_NONE;
	c->free_argc = 0;
	c->free_pid = 0;
	c->free_in_s = -1;
	c->free_note[0] = '\0';
	c->free_holder = -1;
	for (size_t i = 0; i < c->n_holders && !h; i++)
		if (c->holders[i].cause == c->cause) {
			h = &c->holders[i];
			c->free_holder = (int)i;
		}
	switch (c->cause) {
	case BW_CAUSE_TIME_WAIT: {
		long ms = 0;
		for (size_t i = 0; i < c->n_holders; i++)
			if (c->holders[i].cause == BW_CAUSE_TIME_WAIT && c->holders[i].sock.timer_ms > ms)
				ms = c->holders[i].sock.timer_ms;
		c->free_kind = BW_FREE_WAIT;
		c->free_in_s = (ms + 999) / 1000;
		return;
	}
	case BW_CAUSE_UNIX_UNVERIFIED:
		note(c, "the file may belong to a live socket in a network namespace not searched"
			" by the file: run bindwatch as root to search them");
		return;
	case BW_CAUSE_UNIX_NOT_SOCKET:
		note(c, "the path is not a socket file: choose another path, or remove it yourself"
			" if it is yours");
		return;
	case BW_CAUSE_UNIX_STALE:
		if (c->unix_file == BW_UNIX_FILE_SOCKET && !c->want.abstract) {
			const char *path = c->unix_user_path[0] ? c->unix_user_path : c->want.path;
			/* Never a command for another file than the one meant. */
			if (path[0] != '/') {
				note(c, "the path is relative to the program's working directory,"
					" which could not be told: remove the file there");
				return;
			}
			if (strlen(path) >= BW_FREE_ARG_MAX) {
				note(c, "the path is too long to show here: remove the file yourself");
				return;
			}
			arg(c, "rm");
			arg(c, "--");
			arg(c, path);
			c->free_kind = BW_FREE_REMOVE;
		} else {
			note(c, "the path is not a socket file: remove it yourself if it is yours");
		}
		return;
	case BW_CAUSE_SELF:
		self_note(c);
		return;
	case BW_CAUSE_EPHEMERAL_EXHAUSTED: {
		/* The process with the most ports, as the remedies' "stop"
		 * (remedy.c, free_fix): freeing some ports is enough. */
		const struct bw_holder *top = bw_remedy_top_holder(c, NULL);
		if (top && top->pid > 0 && top->pid != c->pid) {
			c->free_holder = (int)(top - c->holders);
			kill_pid(c, top->pid);
			return;
		}
		note(c, "no single holder: close idle connections or widen"
			" net.ipv4.ip_local_port_range");
		return;
	}
	case BW_CAUSE_UNKNOWN:
		note(c, "no holder found");
		return;
	default:
		break;
	}
	/* Its own socket under another cause (dual_stack, reuseport_mismatch,
	 * reuseaddr_mismatch): as for self. */
	if (h && c->pid > 0 && h->pid == c->pid) {
		self_note(c);
		return;
	}
	if (h)
		for_holder(c, h);
}

size_t bw_free_command(const struct bw_conflict *c, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	if (size)
		buf[0] = '\0';
	bw_free_command_to(c, &b);
	return b.truncated ? 0 : b.len;
}

/* Whether the text report would escape some byte of a (bw_buf_escape:
 * controls, '"', '\\', no UTF-8, invisible characters): then single quotes
 * can't carry it and it is written $'...'. */
static bool needs_escapes(const char *a)
{
	char tmp[BW_FREE_ARG_MAX * 4 + 1];
	struct bw_buf t = BW_BUF_INIT(tmp, sizeof(tmp));
	size_t n = strlen(a);
	bw_buf_escape(&t, a, n);
	return t.truncated || t.len != n;
}

void bw_free_command_to(const struct bw_conflict *c, struct bw_buf *bp)
{
	struct bw_buf b = *bp;
	for (size_t i = 0; i < c->free_argc; i++) {
		const char *a = c->free_argv[i];
		bool plain = a[0] != '\0';
		for (const char *p = a; *p && plain; p++)
			plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				       "@%+=:,./_-", *p) != NULL;
		if (i)
			bw_buf_puts(&b, " ");
		if (plain) {
			bw_buf_puts(&b, a);
			continue;
		}
		if (needs_escapes(a)) {
			/* $'...' (bash, zsh, ksh; POSIX.1-2024 sh): bw_buf_escape's
			 * \xNN (always two digits) is the byte again there, so a
			 * newline or a byte that is no UTF-8 names the same file
			 * when the line is run; a quote is \'. */
			bw_buf_puts(&b, "$'");
			for (const char *p = a; *p;) {
				size_t n = strcspn(p, "'");
				bw_buf_escape(&b, p, n);
				p += n;
				if (*p == '\'') {
					bw_buf_puts(&b, "\\'");
					p++;
				}
			}
			bw_buf_puts(&b, "'");
			continue;
		}
		/* 'it'\''s': the one quoting every POSIX shell reads back. */
		bw_buf_puts(&b, "'");
		for (const char *p = a; *p; p++) {
			if (*p == '\'')
				bw_buf_puts(&b, "'\\''");
			else
				bw_buf_putn(&b, p, 1);
		}
		bw_buf_puts(&b, "'");
	}
	*bp = b;
}
