/* failure: what happens once a bind() or listen() has failed with
 * EADDRINUSE, shared by the shim (shim/hook.c) and the seccomp supervisor
 * (tools/supervise/supervise.c): rate limit, stack, diagnosis, remap or other fix,
 * port file, report. The two differ only in how the stack is captured,
 * where the diagnosis runs (the supervisor: in the caller's network
 * namespace), how a fix reaches the caller's socket and where records
 * go; those are the callbacks. Also the BINDWATCH_REMAP_MODE=always move. */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "diagnose/conflict.h"
#include "report/ratelimit.h"
#include "report/report.h"
#include "policy/settings.h"

/* Big records (32 holders with command lines, 64 frames) fit. */
#define BW_REPORT_MAX (48 * 1024)

/* Everything one failure needs that is too big for a thread's stack. */
struct bw_failure_arena {
	struct bw_conflict c;
	struct bw_trace_event t;
	char report[BW_REPORT_MAX];
	char desc[BW_RATELIMIT_DESC];
};

struct bw_failure_ops {
	/* The failing call's stack into c (frames, or stack_missing). */
	void (*capture_stack)(struct bw_conflict *c, void *ctx);
	/* Optional, around the diagnosis and the fix; leave gets what enter
	 * returned. */
	int (*enter)(void *ctx);
	void (*leave)(void *ctx, int entered);
	/* Applies rule (NULL when none matched) or another fix to the
	 * caller's socket: 0 when the call now succeeds, else negative. */
	int (*fix)(struct bw_conflict *c, const struct bw_rule *rule, void *ctx);
	/* Writes one record (one write(2)). */
	void (*emit)(const char *buf, size_t n, void *ctx);
};

/* Starts the record in a->c: call ("bind" or "listen") on the caller's fd
 * by pid failed with err (0 for an always-mode move), now; comm from
 * /proc/<pid>/comm. */
void bw_failure_begin(struct bw_failure_arena *a, const char *call, pid_t pid, int fd, int err);

/* The failure path for the record begun in a->c. sock: a descriptor of the
 * failing socket that we may query (the caller's fd, or the supervisor's
 * copy of it); sa, len: what bind() was given (NULL for listen). 0 when a
 * fix made the call succeed, else -c->err. */
int bw_failure_handle(struct bw_failure_arena *a, const struct bw_settings *s, int sock,
		      const struct sockaddr *sa, socklen_t len, const struct bw_failure_ops *ops,
		      void *ctx);

/* BINDWATCH_REMAP_MODE=always: when a fixed rule (PORT, +N) applies to a
 * bind of sock to sa, its target address in *moved and true; the caller
 * binds there, and on success reports with bw_failure_moved. */
bool bw_failure_always_target(const struct bw_settings *s, int sock, const struct sockaddr *sa,
			      socklen_t len, struct bw_addr *want, const struct bw_rule **rule,
			      struct sockaddr_storage *moved, int *to);

/* Records (port-file line) and reports the record in a->c as it stands:
 * for a fix that completed after its record was made (the supervisor's
 * restarted call whose wait:N then succeeded, as a wait that was never
 * interrupted records and reports it). */
void bw_failure_finish(struct bw_failure_arena *a, const struct bw_settings *s,
		       const struct bw_failure_ops *ops, void *ctx);

/* Records and reports an always-mode move of want to port to by rule, for
 * the record begun in a->c. */
void bw_failure_moved(struct bw_failure_arena *a, const struct bw_settings *s,
		      const struct bw_rule *rule, const struct bw_addr *want, int to,
		      const struct bw_failure_ops *ops, void *ctx);
