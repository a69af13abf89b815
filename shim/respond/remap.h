/* remap: carries out a BINDWATCH_REMAP rule after a conflict: re-binds the
 * caller's socket elsewhere (bind), or swaps in a fresh socket bound
 * elsewhere on the same fd number (listen). Never writes the caller's
 * sockaddr; on failure the caller's original errno stands. */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "diagnose/conflict.h"
#include "policy/policy.h"

struct bw_settings;

typedef int (*bw_bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*bw_listen_fn)(int, int);


struct bw_remap_ops {
	bw_bind_fn bind;
	bw_listen_fn listen;
	/* Whose socket it is: 0 for this process (the shim); the supervisor
	 * names the program and its fd number, as the fd it passes is only
	 * its own duplicate (what a listen()-time twin must check). */
	pid_t owner_pid;
	int owner_fd;
	/* The rest is optional (NULL/0: plain behaviour); the seccomp
	 * supervisor acts for another process and needs them. */
	/* Before each bind (sa) or listen (sa NULL) on fd: 0 to go ahead, else
	 * -errno: a bind then counts as failed with that errno (-EACCES: try
	 * the next candidate, as the kernel's own EACCES), anything else ends
	 * the rule. */
	int (*before)(int fd, const struct sockaddr *sa, socklen_t len, void *ctx);
	/* Makes the twin socket of a listen()-time remap (socket(2)'s
	 * arguments); -errno ends the rule. */
	int (*socket)(int domain, int type, int protocol, void *ctx);
	/* Between the attempts of wait:N, ms milliseconds: 0 to go on, 1 to
	 * end this wait now (the next action follows; pause notes why), else
	 * -errno, which ends the rule. */
	int (*pause)(long ms, void *ctx);
	long waited_ms; /* wait:N began this long ago (an earlier, interrupted try) */
	void *ctx;
};

/* bind(): tries the rule's actions in order on fd. 0 when fd is now bound
 * (out->to_port says where), -errno otherwise. */
int bw_remap_bind(const struct bw_rule *r, const struct bw_remap_ops *ops, int fd,
		  const struct sockaddr *sa, socklen_t len, const struct bw_conflict *c,
		  struct bw_remap *out);

/* listen(): fd is bound to the conflicting address already. 0 when fd (same
 * number) now listens, -errno otherwise. */
int bw_remap_listen(const struct bw_rule *r, const struct bw_remap_ops *ops, int fd, int backlog,
		    const struct bw_conflict *c, struct bw_remap *out);

/* BINDWATCH_REMAP_MODE=always: the address with the rule's fixed (PORT/+N)
 * target applied. false if the rule's first action isn't fixed. */
bool bw_remap_fixed_target(const struct bw_rule *r, const struct sockaddr *sa, socklen_t len,
			   struct sockaddr_storage *out, int *to_port);

/* Appends "proto addr from_port to_port pid\n" to path with one write(2)
 * (O_APPEND: lines from concurrent processes never interleave). pid is the
 * remapped process (the supervisor passes its target's, not getpid()). */
int bw_remap_port_file(const char *path, const struct bw_remap *m, const char *proto,
		       const char *addr, pid_t pid);

/* The port-file line for a successful remap in c (nothing if port_file is
 * empty or c holds no successful remap). */
int bw_remap_record(const char *port_file, const struct bw_conflict *c);

/* The rule that applies to a conflict on 'want' (inet only), or NULL. */
const struct bw_rule *bw_remap_rule(const struct bw_settings *s, const struct bw_addr *want);

/* Fills c's remap part for a BINDWATCH_REMAP_MODE=always move of 'want'
 * to port 'to' by rule r (event "remap": nothing conflicted). */
void bw_remap_always_event(struct bw_conflict *c, const struct bw_rule *r,
			   const struct bw_addr *want, int to);
