/* cause: why an address is taken, per holder and overall, and the hint that
 * is true on Linux for that cause. Pure: works on a filled bw_conflict. */
#pragma once
#include <stdbool.h>

struct bw_conflict;
struct bw_holder;

enum bw_cause {
	BW_CAUSE_UNKNOWN = 0,
	BW_CAUSE_LISTENER,
	BW_CAUSE_SELF,
	BW_CAUSE_TIME_WAIT,
	BW_CAUSE_WILDCARD_OVERLAP,
	BW_CAUSE_DUAL_STACK,
	BW_CAUSE_REUSEPORT_MISMATCH,
	BW_CAUSE_UNIX_LIVE,
	BW_CAUSE_UNIX_STALE,
	BW_CAUSE_EPHEMERAL_EXHAUSTED,
	BW_CAUSE_SOCKET_ACTIVATION,
	BW_CAUSE_NOT_VISIBLE,
	/* Both sockets could share the address (the holder is not listening:
	 * UDP, a TCP socket bound or connected) if both set SO_REUSEADDR; one lacks it. */
	BW_CAUSE_REUSEADDR_MISMATCH,
	/* A TCP socket bound to the address that neither listens nor is
	 * connected (bind() without listen(): ss state UNCONN). */
	BW_CAUSE_BOUND_ONLY,
	/* A socket file no socket of the searched namespaces owns, but some
	 * network namespace could not be searched by the file: maybe live. */
	BW_CAUSE_UNIX_UNVERIFIED,
	/* The unix path exists and is not a socket (a file, a directory). */
	BW_CAUSE_UNIX_NOT_SOCKET,
};

const char *bw_cause_name(enum bw_cause c);

/* Whether a socket among c's holders owns the wanted unix address (binds
 * it: bw_unix_owns), which a path no socket owns is not. */
bool bw_unix_owned(const struct bw_conflict *c);

/* Classifies every holder, then sets c->cause to the most actionable one
 * and writes c->hint. */
void bw_classify(struct bw_conflict *c);

/* Socket activation without a unit: the holder is a visible process
 * other than pid 1 and systemd (systemd-socket-activate or inetd run by
 * hand, or a program that got LISTEN_FDS from one) whose cgroup is known
 * and names neither a service nor a .socket unit: no manager restarts
 * it, so it is the one to stop. Pure. */
struct bw_holder;
bool bw_cause_unitless_activation(const struct bw_holder *h);
