/* remedy: what makes a refused bind succeed, from the kernel's rules
 * (bindrules.h): each candidate change of the caller is checked against
 * every blocking socket before it is offered. Fills c->fixes (JSON
 * "fixes") and words them for the hint. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "basic/fmt.h"
#include "diagnose/bindrules.h"

struct bw_conflict;
struct bw_holder;
struct bw_fix;
struct bw_sock;
struct bw_addr;

/* The failing socket as the rules see it (its address, IPV6_V6ONLY,
 * SO_REUSE* and owner; `who` asks for a plain bind). */
void bw_remedy_binder(const struct bw_conflict *c, struct bw_bind_sock *ret);

/* The same, faced with the socket 'have'. A bare port (bindwatch who P,
 * want.family AF_UNSPEC) asks what blocks a plain bind() of that port on
 * the wildcard of have's family: 0.0.0.0:P for IPv4 (and v4-mapped)
 * holders, [::]:P with IPV6_V6ONLY for IPv6 ones, in have's protocol. */
void bw_remedy_binder_vs(const struct bw_conflict *c, const struct bw_sock *have,
			 struct bw_bind_sock *ret);

/* A socket of the table as the rules see it, with its SO_REUSEADDR and
 * SO_REUSEPORT (1, 0, -1 unknown): IPV6_V6ONLY is known from sock_diag
 * only (unknown when the table came from /proc). */
void bw_remedy_sock(const struct bw_conflict *c, const struct bw_sock *s, signed char reuseaddr,
		    signed char reuseport, struct bw_bind_sock *ret);

/* The same for a holder. */
void bw_remedy_holder_sock(const struct bw_conflict *c, const struct bw_holder *h,
			   struct bw_bind_sock *ret);

/* Would 'b' bind with no holder of c blocking it (unknown holder facts
 * taken the way that blocks)? */
bool bw_remedy_binds(const struct bw_conflict *c, const struct bw_bind_sock *b);

/* The visible holder process with the most of c's holder sockets (the
 * count into *ret_count, if given), or NULL. */
const struct bw_holder *bw_remedy_top_holder(const struct bw_conflict *c, size_t *ret_count);

/* The remedies for c->cause, in the order to try them, into c->fixes:
 * every fix that surely works (no `assumes`) before any that rests on a
 * fact bindwatch can't see. */
void bw_remedy_build(struct bw_conflict *c);

/* The distinct devices the blocking holders of c are bound to (their
 * local addresses, dev_if set), at most max into ret; returns how many. */
size_t bw_remedy_busy_devices(const struct bw_conflict *c, const struct bw_addr **ret, size_t max);

/* One fix in words ("set IPV6_V6ONLY=1 on this socket before bind()"). */
void bw_remedy_words(struct bw_buf *b, const struct bw_conflict *c, const struct bw_fix *f);

/* The C names of a socket option's level and name ("IPPROTO_IPV6",
 * "IPV6_V6ONLY"). */
const char *bw_sockopt_level_name(int level);
const char *bw_sockopt_name(int level, int name);
const char *bw_fix_kind_name(int kind);
