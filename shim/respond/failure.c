#include "respond/failure.h"

#include <string.h>
#include <time.h>

#include "basic/sysio.h"
#include "diagnose/diagnose.h"
#include "report/emit.h"
#include "respond/remap.h"

static size_t render(struct bw_failure_arena *a, const struct bw_settings *s)
{
	size_t n;
	unsigned cols;

	a->c.text_stack_lines = (unsigned char)s->text_stack_lines;
	n = bw_report_render(&a->c, s->format, s->color, a->report, sizeof(a->report));
	/* On a terminal, long lines wrap at its width (asked per record: it
	 * may have been resized). */
	if (s->format == BW_FORMAT_TEXT && s->dest == BW_DEST_STDERR &&
	    (cols = bw_tty_columns(2)) > 0)
		n = bw_report_wrap(a->report, n, sizeof(a->report), cols);
	return n;
}

void bw_failure_begin(struct bw_failure_arena *a, const char *call, pid_t pid, int fd, int err)
{
	struct bw_conflict *c = &a->c;

	memset(c, 0, sizeof(*c));
	c->call = call;
	c->event = strcmp(call, "bind") == 0 ? "bind_conflict" : "listen_conflict";
	c->pid = pid;
	c->fd = fd;
	c->err = err;
	c->time = time(NULL);
	bw_proc_comm(pid, c->comm, sizeof(c->comm));
}

/* The port-file line; a path that is not ours to write gets one warning. */
static void record(const struct bw_settings *s, const struct bw_conflict *c)
{
	int r = bw_remap_record(s->port_file, c);
	if (r < 0)
		bw_emit_file_warning("BINDWATCH_PORT_FILE", s->port_file, r);
}

int bw_failure_handle(struct bw_failure_arena *a, const struct bw_settings *s, int sock,
		      const struct sockaddr *sa, socklen_t len, const struct bw_failure_ops *ops,
		      void *ctx)
{
	struct bw_conflict *c = &a->c;
	const struct bw_rule *rule;
	uint64_t key = 0, now;
	int res, entered = 0;

	if (bw_diag_from_fd(c, sock, sa, len) < 0) {
		/* Nothing we can parse: report what we know, touch nothing. */
		bw_classify(c);
		ops->emit(a->report, render(a, s), ctx);
		return -c->err;
	}
	rule = bw_remap_rule(s, &c->want);
	now = bw_now_ns();
	/* Rate limit only what would be reported unchanged: a conflict that a
	 * rule may remap, or a unix path BINDWATCH_UNIX_STALE=unlink may free
	 * (a server restarting in-process finds its own stale file each time),
	 * is always handled (and reported) in full. The description names the
	 * call and the address, which the diagnosis leaves as they are. */
	if (!rule && !(s->unix_stale_unlink && sa && c->want.family == AF_UNIX) &&
	    s->ratelimit_s > 0) {
		unsigned expired = 0;
		key = bw_ratelimit_key(c);
		if (bw_ratelimit_check(key, now, (uint64_t)s->ratelimit_s * 1000000000u,
				       &expired) == BW_RL_SUPPRESS)
			return -c->err;
		bw_report_conflict_desc(c, a->desc, sizeof(a->desc));
		if (expired)
			ops->emit(a->report,
				  bw_report_repeats(s->format, a->desc, expired, a->report,
						    sizeof(a->report)),
				  ctx);
	}
	if (s->stack)
		ops->capture_stack(c, ctx);
	if (ops->enter)
		entered = ops->enter(ctx);
	/* Its own sockets are found first: a self-conflict is named as such. */
	bw_diagnose(c, "/proc", c->pid, s->scan_ms ? now + (uint64_t)s->scan_ms * 1000000u : 0);
	res = ops->fix(c, rule, ctx);
	if (ops->leave)
		ops->leave(ctx, entered);
	record(s, c);
	ops->emit(a->report, render(a, s), ctx);
	if (key)
		bw_ratelimit_store(key, a->desc);
	return res == 0 ? 0 : -c->err;
}

bool bw_failure_always_target(const struct bw_settings *s, int sock, const struct sockaddr *sa,
			      socklen_t len, struct bw_addr *want, const struct bw_rule **rule,
			      struct sockaddr_storage *moved, int *to)
{
	bool v6only;
	return s->remap && s->remap_always &&
	       bw_diag_describe_socket(sock, sa, len, want, &v6only) == 0 &&
	       (*rule = bw_remap_rule(s, want)) != NULL &&
	       bw_remap_fixed_target(*rule, sa, len, moved, to);
}

void bw_failure_moved(struct bw_failure_arena *a, const struct bw_settings *s,
		      const struct bw_rule *rule, const struct bw_addr *want, int to,
		      const struct bw_failure_ops *ops, void *ctx)
{
	bw_remap_always_event(&a->c, rule, want, to);
	bw_failure_finish(a, s, ops, ctx);
}

void bw_failure_finish(struct bw_failure_arena *a, const struct bw_settings *s,
		       const struct bw_failure_ops *ops, void *ctx)
{
	record(s, &a->c);
	ops->emit(a->report, render(a, s), ctx);
}
