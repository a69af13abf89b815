/* overlap: does an existing socket's local address collide with the address
 * a new socket wants? The address half of the kernel's bind-conflict test. */
#pragma once
#include <stdbool.h>

#include "basic/addr.h"

enum bw_overlap {
	BW_OVERLAP_NONE = 0,
	BW_OVERLAP_EXACT,        /* same family, same address */
	BW_OVERLAP_WILDCARD,     /* one side is 0.0.0.0 / [::] of the same family */
	BW_OVERLAP_DUAL_STACK,   /* IPv4 vs an IPv6 socket covering IPv4 (or vice versa) */
};

/* want: the address being bound (want_v6only: its IPV6_V6ONLY).
 * have: an existing socket's local address; its IPV6_V6ONLY is unknown from
 * /proc, so it is assumed off (net.ipv6.bindv6only=0, the default).
 * Ports and protocols are compared by the caller. */
enum bw_overlap bw_overlap(const struct bw_addr *want, bool want_v6only, const struct bw_addr *have,
			   bool have_v6only);

const char *bw_overlap_name(enum bw_overlap o);
