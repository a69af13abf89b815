#include "diagnose/bindrules.h"

#include <string.h>
#include <sys/socket.h>

#include "lookup/socktab.h"

enum addr_type { T_ANY, T_MAPPED, T_OTHER };

/* ipv6_addr_type() reduced to what the rules ask; an IPv4 socket counts
 * as mapped (inet_rcv_saddr_equal(): inet6_rcv_saddr() is NULL for it). */
static enum addr_type type_of(const struct bw_addr *a)
{
	if (a->family == AF_INET)
		return T_MAPPED;
	if (bw_addr_is_v4mapped(a))
		return T_MAPPED;
	return bw_addr_is_wildcard(a) ? T_ANY : T_OTHER;
}

/* The socket's IPv4 view, inet->inet_rcv_saddr: an IPv6 socket bound to
 * a v4-mapped address has that address, one bound to :: has 0.0.0.0 and
 * one bound to any other IPv6 address has LOOPBACK4_IPV6, 127.0.0.6
 * (net/ipv6/af_inet6.c __inet6_bind()). */
static uint32_t v4_view(const struct bw_addr *a)
{
	const uint8_t *p;
	if (a->family == AF_INET)
		p = a->ip;
	else if (bw_addr_is_v4mapped(a))
		p = a->ip + 12;
	else if (bw_addr_is_wildcard(a))
		return 0;
	else
		return 0x7f000006u;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The address a bind2 bucket is keyed by: IPv6, an IPv4 socket's address
 * v4-mapped (net/ipv4/inet_hashtables.c inet_bind2_bucket_init()). */
static void bucket_addr(const struct bw_addr *a, uint8_t out[16])
{
	if (a->family == AF_INET6) {
		memcpy(out, a->ip, 16);
		return;
	}
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a->ip, 4);
}

static bool v6only_of(const struct bw_bind_sock *s)
{
	return s->addr.family == AF_INET6 && s->v6only == 1;
}

/* inet_rcv_saddr_equal(sk, sk2, match_wildcard = true): for IPv6 binders
 * ipv6_rcv_saddr_equal(), for IPv4 ones ipv4_rcv_saddr_equal(). */
static bool rcv_saddr_equal(const struct bw_bind_sock *sk, const struct bw_bind_sock *sk2)
{
	uint32_t s1 = v4_view(&sk->addr), s2 = v4_view(&sk2->addr);
	bool only1 = v6only_of(sk), only2 = v6only_of(sk2);

	if (sk->addr.family == AF_INET6) {
		enum addr_type t1 = type_of(&sk->addr), t2 = type_of(&sk2->addr);
		/* "if both are mapped, treat as IPv4" */
		if (t1 == T_MAPPED && t2 == T_MAPPED)
			return !only2 && (s1 == s2 || !s1 || !s2);
		if (t1 == T_ANY && t2 == T_ANY)
			return true;
		if (t2 == T_ANY && !(only2 && t1 == T_MAPPED))
			return true;
		if (t1 == T_ANY && !(only1 && t2 == T_MAPPED))
			return true;
		return sk2->addr.family == AF_INET6 && memcmp(sk->addr.ip, sk2->addr.ip, 16) == 0;
	}
	/* An IPv4 binder meets every socket that is not IPv6-only and has
	 * its IPv4 view, or 0.0.0.0 on either side: so 0.0.0.0 meets even
	 * [::1] (127.0.0.6) unless that socket is IPV6_V6ONLY. */
	return !only2 && (s1 == s2 || !s1 || !s2);
}

/* inet_use_hash2_on_bind(): a specific address is checked against its own
 * bind2 bucket and the wildcard buckets only. */
static bool uses_bhash2(const struct bw_addr *a)
{
	if (a->family == AF_INET6 && type_of(a) != T_MAPPED)
		return type_of(a) != T_ANY;
	return v4_view(a) != 0;
}

/* inet_bind2_bucket_match_addr_any(): is have's bucket a wildcard one for
 * this binder? [::] always; a v4-mapped 0.0.0.0 (an IPv4 0.0.0.0 socket's
 * bucket) for IPv4 binders and v4-mapped IPv6 ones. */
static bool any_bucket(const struct bw_addr *binder, const struct bw_addr *have)
{
	enum addr_type th = type_of(have);
	if (th == T_ANY)
		return true;
	if (th != T_MAPPED)
		return false;
	if (binder->family == AF_INET6 && type_of(binder) != T_MAPPED)
		return false;
	return v4_view(have) == 0;
}

/* The bind2 path: same bucket or a wildcard bucket, then
 * __inet_bhash2_conflict(): an IPv6-only holder never meets an IPv4 or
 * v4-mapped binder. */
static bool bhash2_meet(const struct bw_bind_sock *b, const struct bw_bind_sock *h)
{
	uint8_t kb[16], kh[16];
	bucket_addr(&b->addr, kb);
	bucket_addr(&h->addr, kh);
	if (memcmp(kb, kh, 16) != 0 && !any_bucket(&b->addr, &h->addr))
		return false;
	if (v6only_of(h) && type_of(&b->addr) == T_MAPPED)
		return false;
	return true;
}

/* Sockets bound to two different devices never conflict: both
 * inet_bind_conflict() (TCP) and udp_lib_lport_inuse() (UDP) skip the
 * pair unless either sk_bound_dev_if is 0 or they are equal. A device
 * comes from SO_BINDTODEVICE or a link-local IPv6 bind's scope id. */
static bool devices_meet(const struct bw_bind_sock *b, const struct bw_bind_sock *h)
{
	return !b->addr.dev_if || !h->addr.dev_if || b->addr.dev_if == h->addr.dev_if;
}

static bool addr_meet(const struct bw_bind_sock *b, const struct bw_bind_sock *h)
{
	if (!devices_meet(b, h))
		return false;
	if (b->addr.proto == BW_PROTO_TCP && uses_bhash2(&b->addr))
		return bhash2_meet(b, h);
	return rcv_saddr_equal(b, h);
}

/* How two meeting addresses meet, for the report. */
static enum bw_overlap kind_of(const struct bw_bind_sock *b, const struct bw_bind_sock *h)
{
	uint8_t kb[16], kh[16];
	enum addr_type tb = type_of(&b->addr), th = type_of(&h->addr);
	bucket_addr(&b->addr, kb);
	bucket_addr(&h->addr, kh);
	if (memcmp(kb, kh, 16) == 0)
		return BW_OVERLAP_EXACT;
	/* An IPv6 socket reaching IPv4 (or IPv4's wildcard reaching an IPv6
	 * socket through its IPv4 view): a dual-stack meeting. */
	if ((tb == T_MAPPED) != (th == T_MAPPED))
		return BW_OVERLAP_DUAL_STACK;
	return BW_OVERLAP_WILDCARD;
}

static bool uid_equal(const struct bw_bind_sock *a, const struct bw_bind_sock *b)
{
	return a->have_uid && b->have_uid && a->uid == b->uid;
}

/* The options half with every fact known (unknown taken as off).
 * TCP, inet_bind_conflict() with relax = reuseport_ok = true (bind() and
 * listen() both come through inet_csk_get_port() with a port): sockets
 * share when both set SO_REUSEADDR and the existing one is not listening,
 * or both set SO_REUSEPORT under one owner uid (any uid for TIME-WAIT).
 * UDP, udp_lib_lport_inuse(): both SO_REUSEADDR (listening does not
 * exist), or both SO_REUSEPORT under one uid. */
static bool options_conflict(const struct bw_bind_sock *b, const struct bw_bind_sock *h)
{
	bool tw = h->addr.proto == BW_PROTO_TCP && h->state == BW_TCP_TIME_WAIT;
	bool listening = h->addr.proto == BW_PROTO_TCP && h->state == BW_TCP_LISTEN;
	if (b->reuseaddr == 1 && h->reuseaddr == 1 && !listening)
		return false;
	if (b->reuseport == 1 && h->reuseport == 1 && (tw || uid_equal(b, h)))
		return false;
	return true;
}

static bool conflict_of(const struct bw_bind_sock *b, const struct bw_bind_sock *h)
{
	return addr_meet(b, h) && options_conflict(b, h);
}

enum bw_overlap bw_bind_overlap(const struct bw_bind_sock *binder, const struct bw_bind_sock *have)
{
	return addr_meet(binder, have) ? kind_of(binder, have) : BW_OVERLAP_NONE;
}

void bw_bind_check(const struct bw_bind_sock *binder, const struct bw_bind_sock *have,
		   struct bw_bind_verdict *ret)
{
	struct bw_bind_sock b = *binder, h = *have, alt;
	memset(ret, 0, sizeof(*ret));
	ret->overlap = bw_bind_overlap(&b, &h);
	if (ret->overlap == BW_OVERLAP_NONE)
		return;
	ret->conflict = conflict_of(&b, &h);
	if (!ret->conflict)
		return;
	/* Which unknown facts, had they been the other way, would have let
	 * the bind through: the verdict rests on them. */
	if (h.reuseaddr < 0) {
		alt = h;
		alt.reuseaddr = 1;
		if (!conflict_of(&b, &alt))
			ret->assumed |= BW_ASSUMED_HOLDER_REUSEADDR;
	}
	if (h.reuseport < 0) {
		alt = h;
		alt.reuseport = 1;
		if (!conflict_of(&b, &alt))
			ret->assumed |= BW_ASSUMED_HOLDER_REUSEPORT;
	}
	if (h.addr.family == AF_INET6 && h.v6only < 0) {
		alt = h;
		alt.v6only = 1;
		if (!conflict_of(&b, &alt))
			ret->assumed |= BW_ASSUMED_HOLDER_V6ONLY;
	}
	if (!b.have_uid || !h.have_uid) {
		alt = h;
		alt.have_uid = b.have_uid = true;
		alt.uid = b.uid;
		if (!conflict_of(&b, &alt))
			ret->assumed |= BW_ASSUMED_UID;
		b.have_uid = binder->have_uid;
	}
	if (b.reuseaddr < 0 || b.reuseport < 0)
		ret->assumed |= BW_ASSUMED_CALLER_OPTIONS;
}

const char *bw_assumed_text(unsigned bit)
{
	switch (bit) {
	case BW_ASSUMED_HOLDER_REUSEADDR: return "the holder's SO_REUSEADDR is off";
	case BW_ASSUMED_HOLDER_REUSEPORT: return "the holder's SO_REUSEPORT is off";
	case BW_ASSUMED_HOLDER_V6ONLY: return "the holder's IPV6_V6ONLY is off";
	case BW_ASSUMED_UID: return "the two sockets have different owners";
	case BW_ASSUMED_CALLER_OPTIONS: return "the bind sets neither SO_REUSEADDR nor SO_REUSEPORT";
	default: return NULL;
	}
}
