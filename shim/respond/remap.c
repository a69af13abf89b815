#include "respond/remap.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diagnose/conflict.h"
#include "diagnose/diagnose.h"
#include "policy/settings.h"
#include "basic/fmt.h"
#include "basic/sysio.h"
#include "respond/twin.h"

/* Copies the caller's address with another port; false for families
 * without ports. */
static bool with_port(const struct sockaddr *sa, socklen_t len, int port,
		      struct sockaddr_storage *out)
{
	sa_family_t fam = AF_UNSPEC;
	if (len < sizeof(fam) || len > sizeof(*out))
		return false;
	memcpy(&fam, sa, sizeof(fam));
	memset(out, 0, sizeof(*out));
	memcpy(out, sa, len);
	if (fam == AF_INET && len >= sizeof(struct sockaddr_in))
		((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
	else if (fam == AF_INET6 && len >= 24)
		((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
	else
		return false;
	return true;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Seconds until the last TIME-WAIT holder expires (0 if none). */
static long time_wait_left(const struct bw_conflict *c)
{
	long ms = 0;
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].cause == BW_CAUSE_TIME_WAIT && c->holders[i].sock.timer_ms > ms)
			ms = c->holders[i].sock.timer_ms;
	return (ms + 999) / 1000;
}

/* One attempt at 'port' (-1: the original address) for bind or listen. */
struct attempt {
	const struct bw_remap_ops *ops;
	int fd, backlog;
	bool listen;                 /* a listen()-time conflict */
	struct sockaddr_storage orig;
	socklen_t len;
	struct bw_remap *out;
	bool aborted;                /* ops->before/socket/pause said stop, or a twin was refused */
	bool checked;                /* listen: bw_twin_check ran */
	struct bw_twin_plan plan;
};

/* ops->before: 0, or the error this attempt fails with. */
static int before(struct attempt *at, int fd, const struct sockaddr *sa)
{
	int r;
	if (!at->ops->before)
		return 0;
	r = at->ops->before(fd, sa, sa ? at->len : 0, at->ops->ctx);
	if (r < 0 && !(sa && r == -EACCES))
		at->aborted = true;
	return r;
}

static int do_bind(struct attempt *at, int fd, const struct sockaddr *sa)
{
	int r = before(at, fd, sa);
	if (r < 0)
		return r;
	return at->ops->bind(fd, sa, at->len) == 0 ? 0 : -errno;
}

static int do_listen(struct attempt *at, int fd)
{
	int r = before(at, fd, NULL);
	if (r < 0)
		return r;
	return at->ops->listen(fd, at->backlog) == 0 ? 0 : -errno;
}

/* The twin's socket, bind and listen go through ops (the supervisor makes
 * them in the program's network namespace, with its credentials). */
static int twin_socket(int domain, int type, int protocol, void *ctx)
{
	struct attempt *at = ctx;
	int fd;
	if (at->ops->socket) {
		fd = at->ops->socket(domain, type, protocol, at->ops->ctx);
		if (fd < 0)
			at->aborted = true;
		return fd;
	}
	fd = socket(domain, type, protocol);
	return fd < 0 ? -errno : fd;
}

static int twin_bind(int fd, const struct sockaddr *sa, socklen_t len, void *ctx)
{
	(void)len;
	return do_bind(ctx, fd, sa);
}

static int twin_listen_cb(int fd, int backlog, void *ctx)
{
	(void)backlog;
	return do_listen(ctx, fd);
}

/* listen(): the socket is already bound, and Linux has no unbind: a twin
 * takes its place (respond/twin.h), if it can be a faithful one. Checked
 * once, at the first move; a refusal ends the rule and says why. */
static int twin_listen(struct attempt *at, const struct sockaddr *sa)
{
	const struct bw_twin_ops tops = {twin_socket, twin_bind, twin_listen_cb, at};
	struct bw_remap *out = at->out;
	struct bw_buf note = BW_BUF_INIT(out->note + strlen(out->note),
					 sizeof(out->note) - strlen(out->note));
	char why_buf[200] = "";
	struct bw_buf why = BW_BUF_INIT(why_buf, sizeof(why_buf));
	int r = 0;

	if (!at->checked) {
		at->checked = true;
		r = bw_twin_check(at->fd, at->ops->owner_pid, at->ops->owner_fd, &at->plan, &why);
	}
	if (r == 0) {
		out->attempts++;
		r = bw_twin_listen(at->fd, &at->plan, sa, at->len, at->backlog, &tops, &why);
	}
	if (r == -ECANCELED) {
		at->aborted = true;
		bw_buf_printf(&note, "not remapped: %s; ", why_buf);
	}
	return r;
}

static int try_port(struct attempt *at, int port)
{
	struct sockaddr_storage ss;
	const struct sockaddr *sa = (const struct sockaddr *)&at->orig;
	if (port >= 0) {
		if (!with_port(sa, at->len, port, &ss))
			return -EAFNOSUPPORT;
		sa = (const struct sockaddr *)&ss;
	}
	if (at->listen) {
		if (port < 0) {
			at->out->attempts++;
			return do_listen(at, at->fd);
		}
		return twin_listen(at, sa);
	}
	at->out->attempts++;
	return do_bind(at, at->fd, sa);
}

/* A candidate port someone is bound to (bw_diag_port_in_use): a bind
 * there can succeed and still break a listen(), the caller's later one or
 * that of the socket already there (two SO_REUSEADDR sockets bound to one
 * port, neither listening yet: a program's own next listener, say), so it
 * is never taken. Port 0 (auto) is the kernel's choice; a table that
 * can't be read leaves the decision to the bind. */
static bool port_in_use(const struct bw_conflict *c, int port)
{
	struct bw_addr want = c->want;
	if (port <= 0)
		return false;
	want.port = port;
	return bw_diag_port_in_use(&want, c->want_v6only, c->want_reuseaddr == 1,
				   c->own_inode) == 1;
}

static int run_action(struct attempt *at, const struct bw_action *act, const struct bw_conflict *c)
{
	struct bw_remap *out = at->out;
	struct bw_buf note = BW_BUF_INIT(out->note + strlen(out->note),
					 sizeof(out->note) - strlen(out->note));
	int r = -EADDRINUSE, port;

	switch (act->kind) {
	case BW_ACT_WAIT: {
		/* Restart races: the old instance is still shutting down. */
		struct timespec t0, t;
		long waited = at->ops->waited_ms;
		bool cut = false;
		int p;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			r = try_port(at, -1);
			if (r != -EADDRINUSE || at->aborted)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			/* Whole seconds alone would end the wait at the next
			 * second boundary, up to a second early. */
			waited = at->ops->waited_ms + (t.tv_sec - t0.tv_sec) * 1000L +
				 (t.tv_nsec - t0.tv_nsec) / 1000000L;
			if (waited >= act->a * 1000L)
				break;
			if (!at->ops->pause) {
				sleep_ms(100);
			} else if ((p = at->ops->pause(100, at->ops->ctx)) < 0) {
				r = p;
				at->aborted = true;
				break;
			} else if (p > 0) {
				cut = true;
				break;
			}
		}
		/* The real wait: a program stopped (SIGSTOP, ^Z) during it
		 * waited longer than N. To the nearest second (3.76 s: 4 s),
		 * never below N. */
		waited = (waited + 500) / 1000;
		if (r < 0 && !at->aborted && !cut)
			bw_buf_printf(&note, "wait:%ld: still in use after %lds; ", act->a,
				      waited > act->a ? waited : act->a);
		return r;
	}
	case BW_ACT_REUSEADDR: {
		int one = 1, was = 0;
		socklen_t ol = sizeof(was);
		if (c->cause != BW_CAUSE_TIME_WAIT) {
			bw_buf_printf(&note, "reuseaddr: skipped, not only TIME-WAIT sockets block (%s); ",
				      bw_cause_name(c->cause));
			return -EADDRINUSE;
		}
		if (getsockopt(at->fd, SOL_SOCKET, SO_REUSEADDR, &was, &ol) < 0)
			return -errno;
		if (setsockopt(at->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
			return -errno;
		r = try_port(at, -1);
		if (r < 0)
			/* A failed action leaves the socket as the program made it. */
			setsockopt(at->fd, SOL_SOCKET, SO_REUSEADDR, &was, sizeof(was));
		if (r < 0 && !at->aborted)
			bw_buf_printf(&note, "reuseaddr: still in use: the TIME-WAIT socket's owner did"
					     " not set SO_REUSEADDR (it expires in %lds); ",
				      time_wait_left(c));
		return r;
	}
	default:
		for (long i = 0; bw_action_candidate(act, out->from_port, i, &port); i++) {
			if (act->kind != BW_ACT_AUTO && port == out->from_port)
				continue;
			if (port_in_use(c, port)) {
				out->attempts++;
				r = -EADDRINUSE;
				continue;
			}
			r = try_port(at, port);
			if ((r != -EADDRINUSE && r != -EACCES) || at->aborted)
				break;
		}
		return r;
	}
}

static int apply(struct attempt *at, const struct bw_rule *r, const struct bw_conflict *c)
{
	struct bw_remap *out = at->out;
	int res = -EADDRINUSE;

	out->attempted = true;
	out->from_port = c->want.port;
	snprintf(out->rule, sizeof(out->rule), "%s", r->text);
	for (size_t i = 0; i < r->n_actions; i++) {
		res = run_action(at, &r->actions[i], c);
		if (res == 0) {
			out->ok = true;
			out->action = r->actions[i].kind;
			out->to_port = bound_port(at->fd);
			return 0;
		}
		if (at->aborted)
			break;
	}
	return res;
}

int bw_remap_bind(const struct bw_rule *r, const struct bw_remap_ops *ops, int fd,
		  const struct sockaddr *sa, socklen_t len, const struct bw_conflict *c,
		  struct bw_remap *out)
{
	struct attempt at = {.ops = ops, .fd = fd, .len = len, .out = out};
	if (len > sizeof(at.orig))
		return -EINVAL;
	memcpy(&at.orig, sa, len);
	return apply(&at, r, c);
}

int bw_remap_listen(const struct bw_rule *r, const struct bw_remap_ops *ops, int fd, int backlog,
		    const struct bw_conflict *c, struct bw_remap *out)
{
	struct attempt at = {.ops = ops, .fd = fd, .backlog = backlog, .listen = true, .out = out};
	socklen_t sl = sizeof(at.orig);
	if (getsockname(fd, (struct sockaddr *)&at.orig, &sl) < 0)
		return -errno;
	at.len = sl;
	return apply(&at, r, c);
}

bool bw_remap_fixed_target(const struct bw_rule *r, const struct sockaddr *sa, socklen_t len,
			   struct sockaddr_storage *out, int *to_port)
{
	struct bw_addr a;
	int port;
	if (r->n_actions == 0 || !bw_action_is_fixed(&r->actions[0]))
		return false;
	if (bw_addr_from_sockaddr(sa, len, &a) < 0)
		return false;
	if (!bw_action_candidate(&r->actions[0], a.port, 0, &port) || port == 0)
		return false;
	if (!with_port(sa, len, port, out))
		return false;
	*to_port = port;
	return true;
}

int bw_remap_port_file(const char *path, const struct bw_remap *m, const char *proto,
		       const char *addr, pid_t pid)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %s %d %d %d\n", proto, addr, m->from_port,
			 m->to_port, (int)pid);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	return bw_append_file(path, line, (size_t)n);
}

int bw_remap_record(const char *port_file, const struct bw_conflict *c)
{
	char ip[64];
	if (!port_file[0] || !c->remap.ok)
		return 0;
	bw_addr_format_ip(&c->want, ip, sizeof(ip));
	return bw_remap_port_file(port_file, &c->remap, bw_proto_name(c->want.proto), ip, c->pid);
}

const struct bw_rule *bw_remap_rule(const struct bw_settings *s, const struct bw_addr *want)
{
	/* Port 0 asks the kernel to choose: moving it to a fixed port would
	 * hand the program a port it never asked for. */
	if (!s->remap || (want->family != AF_INET && want->family != AF_INET6) || want->port == 0)
		return NULL;
	return bw_policy_match(&s->policy, want);
}

void bw_remap_always_event(struct bw_conflict *c, const struct bw_rule *r,
			   const struct bw_addr *want, int to)
{
	c->call = "bind";
	c->event = "remap";
	c->want = *want;
	c->remap = (struct bw_remap){.attempted = true, .ok = true, .action = r->actions[0].kind,
				     .from_port = want->port, .to_port = to, .attempts = 1};
	snprintf(c->remap.rule, sizeof(c->remap.rule), "%s", r->text);
}
