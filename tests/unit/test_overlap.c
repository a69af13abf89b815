/* overlap: the address half of the kernel's bind-conflict test, case by
 * case (net/ipv4/inet_connection_sock.c, inet_rcv_saddr_equal() and
 * ipv6_rcv_saddr_equal()). */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "testaddr.h"
#include "diagnose/overlap.h"


static void ov(const char *want, bool want_v6only, const char *have, bool have_v6only,
	       enum bw_overlap expected, int line)
{
	struct bw_addr w = A(want), h = A(have);
	enum bw_overlap got = bw_overlap(&w, want_v6only, &h, have_v6only);
	check_count++;
	if (got != expected) {
		check_failures++;
		fprintf(stderr, "%s:%d: FAILED: want %s%s vs have %s%s: got %s, expected %s\n",
			__FILE__, line, want, want_v6only ? " (v6only)" : "", have,
			have_v6only ? " (v6only)" : "", bw_overlap_name(got), bw_overlap_name(expected));
	}
}

#define OV(w, wv6, h, hv6, e) ov(w, wv6, h, hv6, e, __LINE__)

int main(void)
{
	/* IPv4 */
	OV("127.0.0.1:80", false, "127.0.0.1:80", false, BW_OVERLAP_EXACT);
	OV("0.0.0.0:80", false, "0.0.0.0:80", false, BW_OVERLAP_EXACT);
	OV("0.0.0.0:80", false, "127.0.0.1:80", false, BW_OVERLAP_WILDCARD);
	OV("127.0.0.1:80", false, "0.0.0.0:80", false, BW_OVERLAP_WILDCARD);
	OV("127.0.0.1:80", false, "127.0.0.2:80", false, BW_OVERLAP_NONE);
	OV("10.0.0.1:80", false, "192.168.0.1:80", false, BW_OVERLAP_NONE);

	/* IPv6 */
	OV("[::1]:80", false, "[::1]:80", false, BW_OVERLAP_EXACT);
	OV("[::]:80", false, "[::]:80", false, BW_OVERLAP_EXACT);
	OV("[::]:80", false, "[::1]:80", false, BW_OVERLAP_WILDCARD);
	OV("[::1]:80", false, "[::]:80", false, BW_OVERLAP_WILDCARD);
	OV("[::1]:80", false, "[2001:db8::1]:80", false, BW_OVERLAP_NONE);
	OV("[::]:80", true, "[::1]:80", false, BW_OVERLAP_WILDCARD);

	/* IPv4 wanted, an IPv6 [::] holder: it covers IPv4 unless v6only. */
	OV("0.0.0.0:80", false, "[::]:80", false, BW_OVERLAP_DUAL_STACK);
	OV("127.0.0.1:80", false, "[::]:80", false, BW_OVERLAP_DUAL_STACK);
	OV("127.0.0.1:80", false, "[::]:80", true, BW_OVERLAP_NONE);
	OV("0.0.0.0:80", false, "[::]:80", true, BW_OVERLAP_NONE);
	/* A specific, non-mapped IPv6 address never reaches IPv4. */
	OV("0.0.0.0:80", false, "[::1]:80", false, BW_OVERLAP_NONE);
	OV("127.0.0.1:80", false, "[2001:db8::1]:80", false, BW_OVERLAP_NONE);

	/* IPv6 [::] wanted, an IPv4 holder: the want's own V6ONLY decides. */
	OV("[::]:80", true, "0.0.0.0:80", false, BW_OVERLAP_NONE);
	OV("[::]:80", true, "127.0.0.1:80", false, BW_OVERLAP_NONE);
	OV("[::]:80", false, "0.0.0.0:80", false, BW_OVERLAP_DUAL_STACK);
	OV("[::]:80", false, "127.0.0.1:80", false, BW_OVERLAP_DUAL_STACK);
	OV("[::1]:80", false, "127.0.0.1:80", false, BW_OVERLAP_NONE);

	/* v4-mapped IPv6 against IPv4: the same IPv4 address collides. */
	OV("1.2.3.4:80", false, "[::ffff:1.2.3.4]:80", false, BW_OVERLAP_DUAL_STACK);
	OV("1.2.3.5:80", false, "[::ffff:1.2.3.4]:80", false, BW_OVERLAP_NONE);
	OV("0.0.0.0:80", false, "[::ffff:1.2.3.4]:80", false, BW_OVERLAP_DUAL_STACK);
	OV("1.2.3.4:80", false, "[::ffff:0.0.0.0]:80", false, BW_OVERLAP_DUAL_STACK);
	OV("[::ffff:1.2.3.4]:80", false, "1.2.3.4:80", false, BW_OVERLAP_DUAL_STACK);
	OV("[::ffff:1.2.3.4]:80", false, "1.2.3.5:80", false, BW_OVERLAP_NONE);

	/* Within IPv6: a v4-mapped address against [::]. The kernel lets a
	 * V6ONLY [::] coexist with a v4-mapped bind (ipv6_rcv_saddr_equal():
	 * "!(sk2_ipv6only && addr_type == IPV6_ADDR_MAPPED)"); overlap.c says
	 * so in a comment too. */
	OV("[::ffff:1.2.3.4]:80", false, "[::]:80", false, BW_OVERLAP_WILDCARD);
	OV("[::ffff:1.2.3.4]:80", false, "[::]:80", true, BW_OVERLAP_NONE);
	OV("[::]:80", true, "[::ffff:1.2.3.4]:80", false, BW_OVERLAP_NONE);
	OV("[::]:80", false, "[::ffff:1.2.3.4]:80", false, BW_OVERLAP_WILDCARD);
	/* Two v4-mapped addresses are compared as IPv4, wildcard included
	 * ("if both are mapped, treat as IPv4"). */
	OV("[::ffff:1.2.3.4]:80", false, "[::ffff:1.2.3.4]:80", false, BW_OVERLAP_EXACT);
	OV("[::ffff:1.2.3.4]:80", false, "[::ffff:1.2.3.5]:80", false, BW_OVERLAP_NONE);
	OV("[::ffff:1.2.3.4]:80", false, "[::ffff:0.0.0.0]:80", false, BW_OVERLAP_WILDCARD);

	/* A bare port (bindwatch who 80) matches everything on it. */
	OV("80", false, "127.0.0.1:80", false, BW_OVERLAP_EXACT);
	OV("80", false, "[::1]:80", false, BW_OVERLAP_EXACT);
	OV("80", false, "0.0.0.0:80", false, BW_OVERLAP_EXACT);

	/* Unix addresses are not this module's business. */
	OV("/run/a", false, "127.0.0.1:80", false, BW_OVERLAP_NONE);
	OV("127.0.0.1:80", false, "/run/a", false, BW_OVERLAP_NONE);

	CHECK_STREQ(bw_overlap_name(BW_OVERLAP_NONE), "none");
	CHECK_STREQ(bw_overlap_name(BW_OVERLAP_EXACT), "exact");
	CHECK_STREQ(bw_overlap_name(BW_OVERLAP_WILDCARD), "wildcard");
	CHECK_STREQ(bw_overlap_name(BW_OVERLAP_DUAL_STACK), "dual_stack");
	return check_done("overlap");
}
