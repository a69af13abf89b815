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
	memset(c->free_and, 0, sizeof(c->free_and));
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

/* One unit or container whose manager stops some blocking process: a view
 * into a holder's manager (h->mgr) or into a process's cgroup facts (its
 * bw_proc), so nothing large is copied. */
struct target {
	enum bw_mgr_kind kind;
	uid_t user;               /* SYSTEMD_USER: the manager's uid; rootless podman: its user */
	const char *unit;         /* systemd: the unit ("" none) */
	const char *socket_unit;  /* systemd: the .socket unit ("" none) */
	const char *accept_units; /* its Accept=yes instances ("NAME@*.service", "" none) */
	const char *name, *id;    /* container: its name ("" unknown) and id */
	const char *outer_name, *outer_id;  /* a unit's manager in another container */
	bool rootless;
};

/* How a blocking process is freed. */
enum way {
	WAY_KILL,  /* kill(1): no manager would restart it */
	WAY_STOP,  /* its unit or container, through the manager (a target) */
	WAY_NOTE,  /* nothing bindwatch can run (the main holder's note says why) */
};

#define TARGETS_MAX 8

/* Everything that frees the address: the targets, stopped through their
 * managers first, then one kill of the processes no manager would
 * restart, the process to act on first last. */
struct plan {
	struct target t[TARGETS_MAX];
	size_t n;
	pid_t kill[BW_FREE_ARGS_MAX];
	size_t n_kill;
	pid_t kill_last;          /* the main holder's process when it is killed, else 0 */
	pid_t left;               /* the first process none of that covers, 0 none */
	size_t n_left;
};

static bool is_service(const char *unit)
{
	return ends_with(unit, ".service") && strncmp(unit, "user@", 5) != 0;
}

static void target_of(struct target *t, const struct bw_manager *m)
{
	t->kind = m->kind;
	t->user = m->user;
	t->unit = m->unit;
	t->socket_unit = m->socket_unit;
	t->accept_units = m->accept_units;
	t->name = m->name;
	t->id = m->id;
	t->outer_name = m->outer_name;
	t->outer_id = m->outer_id;
	t->rootless = m->rootless;
}

/* How h's processes are freed (h the main holder when 'main': then the
 * cases without a command leave their reason in c->free_note). Follows
 * the manager: a service (or the .socket unit of socket activation) is
 * stopped with systemctl, a container with its engine; a scope (a login
 * session, systemd-run --scope), an orphaned docker-proxy and a process
 * under no manager are killed: nothing restarts them. */
static enum way holder_way(struct bw_conflict *c, const struct bw_holder *h, struct target *t,
			   bool main)
{
	const struct bw_manager *m = &h->mgr;
	char ref[BW_MGR_NAME_MAX];

	target_of(t, m);
	if (h->shares_mgr) {
		/* Its own container or unit: stopping that would stop the
		 * failing process too; the process itself is the one - but
		 * never a process of a running service: its manager may restart
		 * it (Restart=). No command then. */
		if (is_service(m->unit) && m->active >= 0) {
			if (main)
				snprintf(c->free_note, sizeof(c->free_note),
					 "it runs in unit %s, which this process shares: stopping the"
					 " unit would stop this process too, and a killed process of a"
					 " running service may be restarted by it", m->unit);
			return WAY_NOTE;
		}
		if (h->pid > 0)
			return WAY_KILL;
		if (!main)
			return WAY_NOTE;
		bool unit = m->kind == BW_MGR_SYSTEMD || m->kind == BW_MGR_SYSTEMD_USER;
		if (unit)
			snprintf(ref, sizeof(ref), "%s", m->unit);
		else
			container_ref(ref, sizeof(ref), m);
		snprintf(c->free_note, sizeof(c->free_note),
			 "a process of %s %s, which this process shares, holds it and is not visible"
			 " here; stopping that would stop this process too", unit ? "unit" : "container",
			 ref);
		return WAY_NOTE;
	}
	switch (m->kind) {
	case BW_MGR_DOCKER:
	case BW_MGR_PODMAN:
		if (m->orphaned) /* No container is behind it: dockerd won't restart it. */
			return h->pid > 0 ? WAY_KILL : WAY_NOTE;
		if (!m->name[0] && !m->id[0]) {
			/* dockerd manages every container: never the one to kill. */
			if (main && m->engine)
				snprintf(c->free_note, sizeof(c->free_note),
					 "dockerd holds it itself (it does for each published port"
					 " with --userland-proxy=false, and for its API with -H tcp://)"
					 " and %s; dockerd manages every container and is never"
					 " stopped for one port: 'docker ps --filter publish=%d'"
					 " names the container",
					 m->state_read ? "no running container publishes it"
						       : "its containers are not readable here",
					 h->sock.local.port);
			else if (main)
				snprintf(c->free_note, sizeof(c->free_note),
					 "docker-proxy of a container this user can't read"
					 " (/var/lib/docker): 'docker ps --filter publish=%d' names"
					 " it; run as root to be told",
					 h->sock.local.port);
			return WAY_NOTE;
		}
		if (m->rootless && m->user != c->caller_uid && c->caller_uid != 0) {
			/* Its user's podman: root's knows only root's containers. */
			container_ref(ref, sizeof(ref), m);
			if (main)
				snprintf(c->free_note, sizeof(c->free_note),
					 "rootless podman container %s of uid %u: 'podman stop %s' as that"
					 " user", ref, (unsigned)m->user, ref);
			return WAY_NOTE;
		}
		return WAY_STOP;
	case BW_MGR_CONTAINER:
		if (main)
			snprintf(c->free_note, sizeof(c->free_note),
				 "container %.12s of an engine bindwatch does not drive; stop it with that"
				 " engine's CLI", m->id);
		return WAY_NOTE;
	case BW_MGR_SYSTEMD:
	case BW_MGR_SYSTEMD_USER:
		if (!m->socket_unit[0] && is_service(m->unit) && m->active < 0 && h->pid > 0) {
			/* The unit is inactive, its process left behind (KillMode=
			 * process): systemctl stop does nothing more, and nothing
			 * restarts the process. */
			if (main)
				snprintf(c->free_note, sizeof(c->free_note),
					 "unit %s is inactive and left it behind: nothing restarts it",
					 m->unit);
			return WAY_KILL;
		}
		if (m->socket_unit[0] || is_service(m->unit))
			return WAY_STOP;
		break; /* a scope (login session, init.scope): its process is the one to stop */
	default:
		break;
	}
	/* A program that passes sockets on without units
	 * (systemd-socket-activate, inetd run by hand) or its child that got
	 * one through LISTEN_FDS: no manager restarts it. */
	if (h->cause == BW_CAUSE_SOCKET_ACTIVATION && !bw_cause_unitless_activation(h)) {
		if (main)
			note(c, "a service manager holds it for socket activation and no .socket unit"
				" file names this address here: 'systemctl list-sockets' shows which to"
				" stop");
		return WAY_NOTE;
	}
	if (h->pid <= 0 && c->scan.budget_exhausted) {
		if (main)
			note(c, "the owner scan stopped at its BINDWATCH_SCAN_MS budget before it found"
				" the process: raise BINDWATCH_SCAN_MS or run 'bindwatch who'");
		return WAY_NOTE;
	}
	if (h->pid <= 0) {
		/* Only what the search established: fd tables it could not read
		 * (another uid, hidepid, no CAP_SYS_PTRACE - root can lack it
		 * too), else none of the processes it read has the socket open:
		 * the process runs in a pid namespace this /proc does not show,
		 * or the socket is only in flight (SCM_RIGHTS, in a unix socket's
		 * queue) - both look the same from here. */
		char why[160];
		if (!main)
			return WAY_NOTE;
		if (c->scan.procs_unreadable)
			snprintf(why, sizeof(why),
				 "the fds of %u processes could not be read here (another user,"
				 " hidepid, no CAP_SYS_PTRACE): %s", c->scan.procs_unreadable,
				 c->caller_uid == 0 ? "run with CAP_SYS_PTRACE"
						    : "run as root or as that user");
		else
			snprintf(why, sizeof(why),
				 "no process this /proc shows has it open: it may run in another pid"
				 " namespace (ss -p there names it) or be in flight in a unix socket's"
				 " queue");
		snprintf(c->free_note, sizeof(c->free_note),
			 "its process is not visible here (uid %u%s%s%s): %s", (unsigned)h->sock.uid,
			 h->sock_user[0] ? " " : "", h->sock_user,
			 h->sock_cgroup[0] ? ", no unit or container in its cgroup" : "", why);
		return WAY_NOTE;
	}
	return WAY_KILL;
}

/* How process p, which has a blocking socket open without being its
 * holder's process to act on first (a child moved to another unit or
 * cgroup: systemd-run --scope, a write to cgroup.procs), is freed: by its
 * own cgroup's unit or container, as holder_way. h is the main holder: a
 * process in h's container reaches a unit inside it as h does (the
 * caller's own container needs no `docker exec`). */
static enum way process_way(const struct bw_holder *h, const struct bw_process *p,
			    struct target *t)
{
	struct bw_manager m;

	if (p->shares_mgr)
		return WAY_KILL;
	/* A port proxy lives in its engine's cgroup (docker.service): never
	 * that unit; as a holder of its own it is named by its container. */
	if (strcmp(p->proc.comm, "docker-proxy") == 0 || strcmp(p->proc.comm, "conmon") == 0 ||
	    strcmp(p->proc.comm, "rootlessport") == 0)
		return WAY_NOTE;
	memset(&m, 0, sizeof(m));
	bw_manager_from_cgroup(&m, p->proc.cgroup);
	t->kind = m.kind;
	t->user = m.user;
	t->rootless = false;
	/* bw_proc_cgroup_identity: the innermost unit, the first container. */
	t->unit = p->proc.unit;
	t->socket_unit = t->accept_units = t->name = t->outer_name = t->outer_id = "";
	t->id = p->proc.container;
	if (m.outer_id[0] && h->have_proc && strcmp(p->proc.container, h->proc.container) == 0) {
		t->outer_id = h->mgr.outer_id;
		t->outer_name = h->mgr.outer_name;
	} else if (m.outer_id[0]) {
		t->outer_id = p->proc.container;
	}
	switch (m.kind) {
	case BW_MGR_DOCKER:
	case BW_MGR_PODMAN:
		return t->id[0] ? WAY_STOP : WAY_NOTE;
	case BW_MGR_CONTAINER:
		return WAY_NOTE;
	case BW_MGR_SYSTEMD:
	case BW_MGR_SYSTEMD_USER:
		return is_service(t->unit) ? WAY_STOP : WAY_KILL;
	default:
		return WAY_KILL;
	}
}

/* Whether a and b are stopped by the same command line ("systemctl stop
 * A B", "docker stop A B"): one manager, one user, one container around. */
static bool same_command(const struct bw_conflict *c, const struct target *a,
			 const struct target *b)
{
	bool ua = a->rootless && a->user != c->caller_uid, ub = b->rootless && b->user != c->caller_uid;
	if (a->kind != b->kind || strcmp(a->outer_id, b->outer_id) != 0)
		return false;
	if (a->kind == BW_MGR_SYSTEMD_USER)
		return a->user == b->user;
	if (a->kind == BW_MGR_PODMAN)
		return ua == ub && (!ua || a->user == b->user);
	return true;
}

/* Appends s unless the command that starts at free_argv[from] has it. */
static void arg_once(struct bw_conflict *c, size_t from, const char *s)
{
	for (size_t i = from; i < c->free_argc; i++) {
		const char *a = c->free_argv[i];
		size_t glob = strcspn(a, "*");
		/* An Accept=yes instance is already in its 'NAME@*.service'. */
		if (strcmp(a, s) == 0 ||
		    (a[glob] == '*' && strcmp(a + glob, "*.service") == 0 &&
		     strncmp(a, s, glob) == 0 && ends_with(s, ".service")))
			return;
	}
	arg(c, s);
}

/* The next arguments start another command (shown after " && "). */
static void next_command(struct bw_conflict *c)
{
	if (c->free_argc && c->free_argc < BW_FREE_ARGS_MAX)
		c->free_and[c->free_argc] = true;
}

/* "[docker exec OUTER] systemctl [--user [-M USER@]] stop",
 * "[runuser -u USER --] podman stop", "docker stop". */
static void stop_prefix(struct bw_conflict *c, const struct target *t)
{
	char user[BW_USER_MAX + 1];

	if (t->kind == BW_MGR_DOCKER || t->kind == BW_MGR_PODMAN) {
		if (t->rootless && t->user != c->caller_uid) {
			/* Its user's podman (the caller is root: holder_way). */
			if (bw_user_name(t->user, user, sizeof(user)) < 0)
				snprintf(user, sizeof(user), "#%u", (unsigned)t->user);
			arg(c, "runuser");
			arg(c, "-u");
			arg(c, user);
			arg(c, "--");
		}
		arg(c, t->kind == BW_MGR_DOCKER ? "docker" : "podman");
		arg(c, "stop");
		return;
	}
	if (t->outer_id[0]) {
		char ref[BW_MGR_NAME_MAX];
		arg(c, "docker");
		arg(c, "exec");
		snprintf(ref, sizeof(ref), "%s", t->outer_name);
		if (!ref[0])
			snprintf(ref, sizeof(ref), "%.12s", t->outer_id);
		arg(c, ref);
	}
	arg(c, "systemctl");
	if (t->kind == BW_MGR_SYSTEMD_USER) {
		arg(c, "--user");
		if (t->user != c->caller_uid) {
			if (bw_user_name(t->user, user, sizeof(user) - 1) < 0)
				snprintf(user, sizeof(user), "%u", (unsigned)t->user);
			strcat(user, "@");
			arg(c, "-M");
			arg(c, user);
		}
	}
	arg(c, "stop");
}

/* t's words after the prefix: the .socket unit and the service, or the
 * container by name (else short id). */
static void stop_names(struct bw_conflict *c, size_t from, const struct target *t)
{
	if (t->kind == BW_MGR_DOCKER || t->kind == BW_MGR_PODMAN) {
		char ref[BW_MGR_NAME_MAX];
		if (t->name[0])
			snprintf(ref, sizeof(ref), "%s", t->name);
		else
			snprintf(ref, sizeof(ref), "%.12s", t->id);
		arg_once(c, from, ref);
		return;
	}
	if (t->socket_unit[0])
		arg_once(c, from, t->socket_unit);
	/* Accept=yes: the instances hold the connections (systemctl takes
	 * the glob); a row's own instance is one of them. */
	if (t->accept_units[0])
		arg_once(c, from, t->accept_units);
	else if (is_service(t->unit))
		arg_once(c, from, t->unit);
}

/* Whether t is already among the plan's targets (the same unit or
 * container): a worker of a service, a second socket of one container. */
static bool planned(const struct bw_conflict *c, const struct plan *pl, const struct target *t)
{
	for (size_t i = 0; i < pl->n; i++) {
		const struct target *o = &pl->t[i];
		if (!same_command(c, o, t))
			continue;
		if (t->kind == BW_MGR_DOCKER || t->kind == BW_MGR_PODMAN) {
			if (t->id[0] && o->id[0] ? strncmp(t->id, o->id, 64) == 0
						 : strcmp(t->name, o->name) == 0)
				return true;
		} else if ((!t->unit[0] || strcmp(t->unit, o->unit) == 0) &&
			   (!t->socket_unit[0] || strcmp(t->socket_unit, o->socket_unit) == 0)) {
			return true;
		}
	}
	return false;
}

/* The holder whose process to act on first is pid, other than h. */
static const struct bw_holder *holder_led_by(const struct bw_conflict *c,
					     const struct bw_holder *h, pid_t pid)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (&c->holders[i] != h && c->holders[i].pid == pid && c->holders[i].blocks)
			return &c->holders[i];
	return NULL;
}

static const struct bw_process *process_of(const struct bw_conflict *c, pid_t pid)
{
	for (size_t i = 0; i < c->n_procs; i++)
		if (c->procs[i].have_proc && c->procs[i].proc.pid == pid)
			return &c->procs[i];
	return NULL;
}

/* Every other process that keeps a blocking socket open (bw_free_pids),
 * each by its own unit or container, into pl: a child that moved out of
 * h's unit keeps the port after `systemctl stop` of that unit. */
static void plan_others(struct bw_conflict *c, const struct bw_holder *h, struct plan *pl)
{
	pid_t pids[BW_FREE_ARGS_MAX];
	int fds[BW_FREE_ARGS_MAX];
	struct bw_free_pids fp;
	size_t n = bw_free_pids(c, pids, fds, BW_FREE_ARGS_MAX, &fp);

	for (size_t i = 0; i < n; i++) {
		const struct bw_holder *o;
		const struct bw_process *p;
		struct target t;
		enum way w = WAY_KILL;

		if (pids[i] == h->pid)
			continue;
		memset(&t, 0, sizeof(t));
		if ((o = holder_led_by(c, h, pids[i])) != NULL)
			w = holder_way(c, o, &t, false);
		else if ((p = process_of(c, pids[i])) != NULL)
			w = process_way(h, p, &t);
		if (w == WAY_STOP && planned(c, pl, &t))
			continue;
		if (w == WAY_STOP && pl->n < TARGETS_MAX) {
			pl->t[pl->n++] = t;
		} else if (w == WAY_KILL && pids[i] == 1) {
			continue; /* never kill 1 */
		} else if (w == WAY_KILL && pl->n_kill < BW_FREE_ARGS_MAX) {
			pl->kill[pl->n_kill++] = pids[i];
		} else {
			if (!pl->n_left++)
				pl->left = pids[i];
		}
	}
}

/* The plan as free_argv: one command per manager, then one kill. */
/* A process to kill that is pid 1 of its own pid namespace (a container's
 * init, unshare -p -f CMD) without a SIGTERM handler, or 0: kill(1)'s
 * SIGTERM never reaches it from out here, the kernel drops it
 * (pid_namespaces(7): from an ancestor namespace only the signals it has a
 * handler for, and SIGKILL, SIGSTOP). Then the kill is kill -KILL. */
static pid_t ns_init(const struct bw_conflict *c, const struct plan *pl)
{
	for (size_t i = 0; i <= pl->n_kill; i++) {
		pid_t pid = i < pl->n_kill ? pl->kill[i] : pl->kill_last;
		const struct bw_process *p = pid > 0 ? process_of(c, pid) : NULL;
		if (p && p->have_proc && p->proc.ns_init && !p->proc.catches_term)
			return pid;
	}
	return 0;
}

static void emit_plan(struct bw_conflict *c, const struct plan *pl)
{
	bool done[TARGETS_MAX] = {false};

	for (size_t i = 0; i < pl->n; i++) {
		size_t from;
		if (done[i])
			continue;
		next_command(c);
		stop_prefix(c, &pl->t[i]);
		from = c->free_argc;
		for (size_t j = i; j < pl->n; j++)
			if (!done[j] && same_command(c, &pl->t[i], &pl->t[j])) {
				stop_names(c, from, &pl->t[j]);
				done[j] = true;
			}
	}
	if (pl->n_kill || pl->kill_last) {
		/* Room for "kill" and the main holder's pid, last. */
		size_t room = BW_FREE_ARGS_MAX - c->free_argc;
		char num[16];
		pid_t init = ns_init(c, pl);
		next_command(c);
		arg(c, "kill");
		if (init) {
			arg(c, "-KILL");
			room--;
			snprintf(c->free_note, sizeof(c->free_note),
				 "pid %d is pid 1 of its own pid namespace and has no SIGTERM handler: the"
				 " kernel drops a SIGTERM sent from outside it, pid_namespaces(7)",
				 (int)init);
		}
		for (size_t i = 0; i < pl->n_kill && i + 2 + (pl->kill_last ? 1 : 0) <= room; i++) {
			snprintf(num, sizeof(num), "%d", (int)pl->kill[i]);
			arg(c, num);
		}
		if (pl->kill_last) {
			snprintf(num, sizeof(num), "%d", (int)pl->kill_last);
			arg(c, num);
		}
	}
	c->free_kind = pl->n ? BW_FREE_MANAGER : BW_FREE_KILL;
	c->free_pid = pl->kill_last;
	if (pl->n_left) {
		const struct bw_process *p = process_of(c, pl->left);
		struct bw_buf b = BW_BUF_INIT(c->free_note, sizeof(c->free_note));
		bw_buf_printf(&b, "pid %d", (int)pl->left);
		if (p && p->proc.container[0])
			bw_buf_printf(&b, " (container %.12s)", p->proc.container);
		bw_buf_printf(&b, "%s keeps a copy too and is not covered: stop %s through its"
				  " container engine",
			      pl->n_left > 1 ? " and others" : "", pl->n_left > 1 ? "them" : "it");
	}
}

/* Frees the address held through h (the cause's holder): h's own way,
 * then every other blocking process by its own (plan_others). */
static void for_holder(struct bw_conflict *c, const struct bw_holder *h)
{
	struct plan pl;
	struct target t;
	enum way w;

	memset(&pl, 0, sizeof(pl));
	memset(&t, 0, sizeof(t));
	w = holder_way(c, h, &t, true);
	if (w == WAY_NOTE)
		return;
	if (w == WAY_KILL && h->pid == 1) {
		note(c, "pid 1 holds it and is never stopped; free it through the program that runs as"
			" pid 1");
		return;
	}
	if (w == WAY_STOP)
		pl.t[pl.n++] = t;
	else
		pl.kill_last = h->pid;
	plan_others(c, h, &pl);
	emit_plan(c, &pl);
	if (w == WAY_KILL && h->shares_mgr && !c->free_note[0]) {
		bool unit = h->mgr.kind == BW_MGR_SYSTEMD || h->mgr.kind == BW_MGR_SYSTEMD_USER;
		char ref[BW_MGR_NAME_MAX];
		if (unit)
			snprintf(ref, sizeof(ref), "%s", h->mgr.unit);
		else
			container_ref(ref, sizeof(ref), &h->mgr);
		snprintf(c->free_note, sizeof(c->free_note),
			 "it shares %s %s with this process: stopping that would stop this process too",
			 unit ? "unit" : "container", ref);
	}
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
	memset(c->free_and, 0, sizeof(c->free_and));
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

size_t bw_free_command_end(const struct bw_conflict *c, size_t at)
{
	size_t end = at + 1;
	while (end < c->free_argc && !c->free_and[end])
		end++;
	return end < c->free_argc ? end : c->free_argc;
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
			bw_buf_puts(&b, c->free_and[i] ? " && " : " ");
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
