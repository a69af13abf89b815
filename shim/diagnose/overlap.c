#include "diagnose/overlap.h"

#include <string.h>
#include <sys/socket.h>

static const uint8_t zero4[4];

/* IPv4 address carried by an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static const uint8_t *mapped_v4(const struct bw_addr *a)
{
	return bw_addr_is_v4mapped(a) ? a->ip + 12 : NULL;
}

/* v4 socket 'v4' against v6 socket 'v6'. After net/ipv4/inet_hashtables.c
 * inet_rcv_saddr_equal() -> ipv6_rcv_saddr_equal(): an IPv6 socket reaches
 * IPv4 only if it is not IPV6_V6ONLY and bound to :: (any) or to a
 * v4-mapped address; a mapped 0.0.0.0 or equal mapped address collides. */
static enum bw_overlap cross(const struct bw_addr *v4, const struct bw_addr *v6, bool v6only)
{
	const uint8_t *m;
	if (v6only)
		return BW_OVERLAP_NONE;
	if (bw_addr_is_wildcard(v6))
		return BW_OVERLAP_DUAL_STACK;
	m = mapped_v4(v6);
	if (!m)
		return BW_OVERLAP_NONE;
	if (memcmp(m, v4->ip, 4) == 0 || memcmp(m, zero4, 4) == 0 || bw_addr_is_wildcard(v4))
		return BW_OVERLAP_DUAL_STACK;
	return BW_OVERLAP_NONE;
}

enum bw_overlap bw_overlap(const struct bw_addr *want, bool want_v6only, const struct bw_addr *have,
			   bool have_v6only)
{
	size_t n;
	if (want->family == AF_UNSPEC)  /* a bare port (bindwatch who): all of it */
		return BW_OVERLAP_EXACT;
	if (want->family != have->family) {
		if (want->family == AF_INET && have->family == AF_INET6)
			return cross(want, have, have_v6only);
		if (want->family == AF_INET6 && have->family == AF_INET)
			return cross(have, want, want_v6only);
		return BW_OVERLAP_NONE;
	}
	n = want->family == AF_INET ? 4 : 16;
	if (memcmp(want->ip, have->ip, n) == 0)
		return BW_OVERLAP_EXACT;
	if (want->family == AF_INET6) {
		const uint8_t *wm = mapped_v4(want), *hm = mapped_v4(have);
		/* Both v4-mapped: compared as IPv4, mapped 0.0.0.0 included
		 * (ipv6_rcv_saddr_equal(): "if both are mapped, treat as IPv4"). */
		if (wm && hm)
			return memcmp(wm, zero4, 4) == 0 || memcmp(hm, zero4, 4) == 0
				       ? BW_OVERLAP_WILDCARD
				       : BW_OVERLAP_NONE;
		/* A v6-only [::] never collides with a v4-mapped address. */
		if ((hm && want_v6only && bw_addr_is_wildcard(want)) ||
		    (wm && have_v6only && bw_addr_is_wildcard(have)))
			return BW_OVERLAP_NONE;
	}
	if (bw_addr_is_wildcard(want) || bw_addr_is_wildcard(have))
		return BW_OVERLAP_WILDCARD;
	return BW_OVERLAP_NONE;
}

const char *bw_overlap_name(enum bw_overlap o)
{
	switch (o) {
	case BW_OVERLAP_EXACT: return "exact";
	case BW_OVERLAP_WILDCARD: return "wildcard";
	case BW_OVERLAP_DUAL_STACK: return "dual_stack";
	default: return "none";
	}
}
