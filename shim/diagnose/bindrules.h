/* bindrules: the kernel's bind-conflict rules for one pair of sockets:
 * would bind() (or listen()) of one socket be refused because of another
 * that already holds the port? A model of Linux 6.1 (Debian 12) to 6.18:
 *   TCP: net/ipv4/inet_connection_sock.c inet_csk_get_port() ->
 *        inet_csk_bind_conflict() / inet_bhash2_addr_any_conflict() ->
 *        inet_bind_conflict(), with inet_rcv_saddr_equal() (wildcard binds)
 *        or the bind2 buckets (specific binds, inet_use_hash2_on_bind());
 *   UDP: net/ipv4/udp.c udp_lib_lport_inuse();
 * both skip a pair bound to two different devices (sk_bound_dev_if). VRF
 * (l3mdev) buckets are not modelled: a socket in a VRF is taken as bound
 * to its device like any other.
 * listen() runs the same check again (inet_csk_listen_start() ->
 * inet_csk_get_port()), so one function answers both. Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "basic/addr.h"
#include "diagnose/overlap.h"

/* One socket as the rules see it. Options are 1 set, 0 not, -1 unknown
 * (bindwatch never reads another process's socket options inside a host
 * process; sock_diag reports IPV6_V6ONLY but not the SO_REUSE* bits). */
struct bw_bind_sock {
	struct bw_addr addr;      /* family, proto (TCP or UDP), ip, port, and
				   * dev_if: sk_bound_dev_if, 0 none */
	signed char v6only;       /* IPV6_V6ONLY (sk_ipv6only) */
	signed char reuseaddr;    /* SO_REUSEADDR (sk_reuse; tw_reuse in TIME-WAIT) */
	signed char reuseport;    /* SO_REUSEPORT (sk_reuseport; tw_reuseport) */
	bool have_uid;
	uint32_t uid;             /* the socket's owner (sock_i_uid(): its creator's fsuid) */
	int state;                /* BW_TCP_* of an existing TCP socket (LISTEN, TIME_WAIT...) */
};

/* Facts a verdict depended on that were unknown and taken as the value
 * that makes a conflict (the one consistent with the kernel's refusal). */
enum {
	BW_ASSUMED_HOLDER_REUSEADDR = 1,  /* taken as off */
	BW_ASSUMED_HOLDER_REUSEPORT = 2,  /* taken as off */
	BW_ASSUMED_HOLDER_V6ONLY = 4,     /* taken as off (net.ipv6.bindv6only=0) */
	BW_ASSUMED_UID = 8,               /* socket owners taken as different */
	BW_ASSUMED_CALLER_OPTIONS = 16,   /* the binder's SO_REUSE* taken as off */
};

struct bw_bind_verdict {
	bool conflict;            /* the kernel refuses the bind because of this socket */
	enum bw_overlap overlap;  /* how the two addresses meet (NONE: they don't) */
	unsigned assumed;         /* BW_ASSUMED_* bits the verdict rests on */
};

/* The verdict for 'binder' (the socket being bound or put to listen;
 * its state is ignored) against 'have', an existing socket on the same
 * port and protocol (the caller checks both). */
void bw_bind_check(const struct bw_bind_sock *binder, const struct bw_bind_sock *have,
		   struct bw_bind_verdict *ret);

/* The address half alone: do the two bound addresses meet for this
 * binder, by inet_rcv_saddr_equal() (wildcard binds, UDP) or the bind2
 * buckets (specific TCP binds)? The kind of meeting, or BW_OVERLAP_NONE;
 * NONE too for two sockets bound to different devices (the kernel skips
 * such a pair). Unknown v6only is taken as off. */
enum bw_overlap bw_bind_overlap(const struct bw_bind_sock *binder, const struct bw_bind_sock *have);

/* Short words for BW_ASSUMED_* bit 'bit' ("the holder's SO_REUSEADDR is
 * off"), or NULL. */
const char *bw_assumed_text(unsigned bit);
