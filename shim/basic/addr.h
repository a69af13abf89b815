/* addr: a family-independent view of a socket address, built from a caller's
 * sockaddr without writing to it, plus formatting and parsing. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BW_UNIX_PATH_MAX 108
/* Room for any formatted address: a unix name of 108 bytes, each escaped
 * as \xNN, plus '@' and the NUL. */
#define BW_ADDR_TEXT_MAX (4 * BW_UNIX_PATH_MAX + 8)

enum bw_proto { BW_PROTO_UNKNOWN = 0, BW_PROTO_TCP, BW_PROTO_UDP, BW_PROTO_UNIX_STREAM,
		BW_PROTO_UNIX_DGRAM, BW_PROTO_UNIX_SEQPACKET };

struct bw_addr {
	int family;            /* AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC (unparsable) */
	enum bw_proto proto;
	uint8_t ip[16];        /* AF_INET: first 4 bytes; AF_INET6: all 16 */
	uint16_t port;         /* host order */
	bool abstract;         /* AF_UNIX: name lives in the abstract namespace */
	size_t path_len;       /* AF_UNIX: bytes of path (abstract names may hold NULs) */
	char path[BW_UNIX_PATH_MAX + 1];
	/* AF_INET, AF_INET6: the device the socket is bound to, the kernel's
	 * sk_bound_dev_if (SO_BINDTODEVICE, or a link-local IPv6 address's
	 * scope id: net/ipv6/af_inet6.c __inet6_bind()); 0 none or unknown.
	 * dev is its name (IFNAMSIZ), "" when not known (yet). */
	uint32_t dev_if;
	char dev[16];
};

/* Fills *ret from a caller's sockaddr, reading at most len bytes. Returns 0,
 * or -EINVAL when len is too short for the family (the caller still gets the
 * real bind's verdict; we only refuse to diagnose). */
int bw_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct bw_addr *ret);

/* Renders "1.2.3.4:80", "[::1]:80", "/run/x.sock" or "@abstract" (NULs and
 * control bytes escaped); a socket bound to a device as ss(8) puts it,
 * "127.0.0.1%lo:80", "[fe80::1]%eth0:80" ("%if3" when only its index is
 * known). Always NUL-terminates; returns the length. */
size_t bw_addr_format(const struct bw_addr *a, char *buf, size_t size);

/* The address with its protocol, as ss(8) and a reader put them:
 * "1.2.3.4:80/tcp", "[::1]:53/udp", "*:80" (no protocol known), and for
 * unix the socket type first: "unix_stream /run/x.sock", "unix_dgram
 * @name", "unix /run/x.sock" (any type). Returns the length. */
size_t bw_addr_format_proto(const struct bw_addr *a, char *buf, size_t size);

/* The name of the device a is bound to, as ss(8) shows it ("lo"; "if3"
 * when only its index is known; "" for none). Returns the length. */
size_t bw_addr_format_dev(const struct bw_addr *a, char *buf, size_t size);

/* Renders the IP alone ("0.0.0.0", "::"). */
size_t bw_addr_format_ip(const struct bw_addr *a, char *buf, size_t size);

/* Parses "PORT", "ADDR:PORT", "[V6]:PORT", "/path" or "@name" as typed by a
 * user. A bare port yields family AF_UNSPEC with ip all zero. A device
 * may follow the address as ss(8) prints it ("ADDR%DEV:PORT",
 * "[V6]%DEV:PORT", "*%DEV:PORT") or inside the brackets as RFC 4007's
 * zone ("[fe80::1%DEV]:PORT"): its name goes to dev (dev_if stays 0, the
 * caller resolves it). 0 or -EINVAL. */
int bw_addr_parse(const char *s, struct bw_addr *ret);

bool bw_addr_is_wildcard(const struct bw_addr *a);

/* true for an AF_INET6 address of the form ::ffff:a.b.c.d */
bool bw_addr_is_v4mapped(const struct bw_addr *a);

/* true for an IPv6 address whose bind takes the device from the scope id:
 * link-local unicast fe80::/10 and link-local multicast ff02::/16
 * (ipv6_addr_type()'s IPV6_ADDR_LINKLOCAL, checked in __inet6_bind()). */
bool bw_addr_is_linklocal(const struct bw_addr *a);

const char *bw_proto_name(enum bw_proto p);
/* The protocol of an AF_UNIX socket of the given SO_TYPE (stream for an
 * unknown one), and back. */
enum bw_proto bw_unix_proto(int type);
int bw_unix_type(enum bw_proto p);
const char *bw_family_name(int family);
