#include "basic/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "basic/fmt.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int bw_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct bw_addr *ret)
{
	struct bw_addr a = {.family = AF_UNSPEC};
	sa_family_t fam;

	if (!sa || len < sizeof(sa_family_t))
		return -EINVAL;
	memcpy(&fam, sa, sizeof(fam));  /* the caller's buffer may be unaligned */
	switch (fam) {
	case AF_INET: {
		struct sockaddr_in in;
		if (len < sizeof(in))
			return -EINVAL;
		memcpy(&in, sa, sizeof(in));
		a.family = AF_INET;
		memcpy(a.ip, &in.sin_addr, 4);
		a.port = ntohs(in.sin_port);
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 in6;
		/* The kernel accepts SIN6_LEN_RFC2133 (24 bytes, no scope id) too. */
		if (len < 24)
			return -EINVAL;
		memset(&in6, 0, sizeof(in6));
		memcpy(&in6, sa, len < sizeof(in6) ? len : sizeof(in6));
		a.family = AF_INET6;
		memcpy(a.ip, &in6.sin6_addr, 16);
		a.port = ntohs(in6.sin6_port);
		/* A link-local bind binds the socket to the scope id's device
		 * (__inet6_bind(): sk_bound_dev_if = sin6_scope_id). */
		if (bw_addr_is_linklocal(&a))
			a.dev_if = in6.sin6_scope_id;
		break;
	}
	case AF_UNIX: {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;
		const char *p = (const char *)sa + off;
		if (n > BW_UNIX_PATH_MAX)
			n = BW_UNIX_PATH_MAX;
		a.family = AF_UNIX;
		if (n > 0 && p[0] == '\0') {
			/* Abstract: every byte up to addrlen is the name (unix(7)). */
			a.abstract = true;
			a.path_len = n - 1;
			memcpy(a.path, p + 1, n - 1);
		} else {
			/* Pathname: the kernel stops at the first NUL or at addrlen. */
			size_t i = 0;
			while (i < n && p[i])
				i++;
			a.path_len = i;
			memcpy(a.path, p, i);
		}
		a.path[a.path_len] = '\0';
		break;
	}
	default:
		a.family = fam;
		break;
	}
	*ret = a;
	return 0;
}

bool bw_addr_is_v4mapped(const struct bw_addr *a)
{
	return a->family == AF_INET6 && memcmp(a->ip, v4mapped_prefix, 12) == 0;
}

bool bw_addr_is_linklocal(const struct bw_addr *a)
{
	if (a->family != AF_INET6)
		return false;
	return (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80) ||
	       (a->ip[0] == 0xff && (a->ip[1] & 0x0f) == 0x02);
}

bool bw_addr_is_wildcard(const struct bw_addr *a)
{
	static const uint8_t zero[16];
	if (a->family == AF_INET)
		return memcmp(a->ip, zero, 4) == 0;
	if (a->family == AF_INET6)
		return memcmp(a->ip, zero, 16) == 0;
	return false;
}

size_t bw_addr_format_ip(const struct bw_addr *a, char *buf, size_t size)
{
	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (a->family == AF_INET)
		inet_ntop(AF_INET, a->ip, buf, size);
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, a->ip, buf, size);
	else if (a->family == AF_UNSPEC)
		snprintf(buf, size, "*");
	return strlen(buf);
}

size_t bw_addr_format_dev(const struct bw_addr *a, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	/* "if%u" is ss(8)'s ll_index_to_name() for a device it can't name. */
	if (a->dev[0])
		bw_buf_printf(&b, "%.*s", (int)strnlen(a->dev, sizeof(a->dev)), a->dev);
	else if (a->dev_if)
		bw_buf_printf(&b, "if%u", (unsigned)a->dev_if);
	return b.len;
}

/* "%lo" after the address when bound to a device (ss(8)'s
 * sock_addr_print()). */
static void put_dev(struct bw_buf *b, const struct bw_addr *a)
{
	char dev[24];
	if (bw_addr_format_dev(a, dev, sizeof(dev)))
		bw_buf_printf(b, "%%%s", dev);
}

size_t bw_addr_format(const struct bw_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	struct bw_buf b = BW_BUF_INIT(buf, size);

	switch (a->family) {
	case AF_INET:
		bw_addr_format_ip(a, ip, sizeof(ip));
		bw_buf_puts(&b, ip);
		put_dev(&b, a);
		bw_buf_printf(&b, ":%u", a->port);
		break;
	case AF_INET6:
		bw_addr_format_ip(a, ip, sizeof(ip));
		bw_buf_printf(&b, "[%s]", ip);
		put_dev(&b, a);
		bw_buf_printf(&b, ":%u", a->port);
		break;
	case AF_UNSPEC:
		bw_buf_puts(&b, "*");
		put_dev(&b, a);
		bw_buf_printf(&b, ":%u", a->port);
		break;
	case AF_UNIX:
		if (a->abstract)
			bw_buf_puts(&b, "@");
		else if (a->path_len == 0)
			bw_buf_puts(&b, "(unnamed)");
		bw_buf_escape(&b, a->path, a->path_len);
		break;
	default:
		bw_buf_printf(&b, "(family %d)", a->family);
		break;
	}
	return b.len;
}

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	unsigned long v;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* A device name as the kernel accepts one (net/core/dev.c
 * dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or space). */
static int set_dev(struct bw_addr *a, const char *s, size_t n)
{
	if (n == 0 || n >= sizeof(a->dev) || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '%' || s[i] == '[' || s[i] == ']' ||
		    (unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return -EINVAL;
	memcpy(a->dev, s, n);
	a->dev[n] = '\0';
	return 0;
}

/* host[0..n) into *a: an IPv6 address when v6, else IPv4 or "*"; either
 * may carry "%DEV". */
static int parse_host(const char *s, size_t n, bool v6, struct bw_addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *pct = memchr(s, '%', n);
	size_t hn = pct ? (size_t)(pct - s) : n;

	if (hn == 0 || hn >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hn);
	host[hn] = '\0';
	if (pct && set_dev(a, pct + 1, n - hn - 1) < 0)
		return -EINVAL;
	if (v6) {
		a->family = AF_INET6;
		return inet_pton(AF_INET6, host, a->ip) == 1 ? 0 : -EINVAL;
	}
	if (inet_pton(AF_INET, host, a->ip) == 1)
		a->family = AF_INET;
	else if (strcmp(host, "*") == 0)
		a->family = AF_UNSPEC;
	else
		return -EINVAL;
	return 0;
}

int bw_addr_parse(const char *s, struct bw_addr *ret)
{
	struct bw_addr a = {.family = AF_UNSPEC};
	const char *colon;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '/' || s[0] == '@' || s[0] == '.') {
		size_t n;
		a.family = AF_UNIX;
		a.abstract = s[0] == '@';
		n = strlen(s + a.abstract);
		if (n > BW_UNIX_PATH_MAX - (size_t)a.abstract)
			return -EINVAL;
		memcpy(a.path, s + a.abstract, n + 1);
		a.path_len = n;
		*ret = a;
		return 0;
	}
	if (s[0] == '[') {
		/* "[V6]:P", "[V6%DEV]:P" (RFC 4007) or "[V6]%DEV:P" (ss). */
		const char *close = strchr(s, ']');
		if (!close)
			return -EINVAL;
		colon = strrchr(close, ':');
		if (!colon || (close[1] != ':' && close[1] != '%'))
			return -EINVAL;
		if (parse_host(s + 1, (size_t)(close - s - 1), true, &a) < 0)
			return -EINVAL;
		if (close[1] == '%' && (a.dev[0] || set_dev(&a, close + 2, (size_t)(colon - close - 2)) < 0))
			return -EINVAL;
		if (parse_port(colon + 1, &a.port) < 0)
			return -EINVAL;
		*ret = a;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon) {
		if (parse_port(s, &a.port) < 0)
			return -EINVAL;
		*ret = a;
		return 0;
	}
	if (parse_host(s, (size_t)(colon - s), false, &a) < 0)
		return -EINVAL;
	if (parse_port(colon + 1, &a.port) < 0)
		return -EINVAL;
	*ret = a;
	return 0;
}

enum bw_proto bw_unix_proto(int type)
{
	return type == SOCK_DGRAM       ? BW_PROTO_UNIX_DGRAM
	       : type == SOCK_SEQPACKET ? BW_PROTO_UNIX_SEQPACKET
					: BW_PROTO_UNIX_STREAM;
}

int bw_unix_type(enum bw_proto p)
{
	return p == BW_PROTO_UNIX_DGRAM       ? SOCK_DGRAM
	       : p == BW_PROTO_UNIX_SEQPACKET ? SOCK_SEQPACKET
					      : SOCK_STREAM;
}

size_t bw_addr_format_proto(const struct bw_addr *a, char *buf, size_t size)
{
	struct bw_buf b = BW_BUF_INIT(buf, size);
	char addr[BW_ADDR_TEXT_MAX];

	bw_addr_format(a, addr, sizeof(addr));
	if (a->family == AF_UNIX)
		bw_buf_printf(&b, "%s %s", a->proto == BW_PROTO_UNKNOWN ? "unix" : bw_proto_name(a->proto),
			      addr);
	else if (a->proto != BW_PROTO_UNKNOWN)
		bw_buf_printf(&b, "%s/%s", addr, bw_proto_name(a->proto));
	else
		bw_buf_puts(&b, addr);
	return b.len;
}

const char *bw_proto_name(enum bw_proto p)
{
	switch (p) {
	case BW_PROTO_TCP: return "tcp";
	case BW_PROTO_UDP: return "udp";
	case BW_PROTO_UNIX_STREAM: return "unix_stream";
	case BW_PROTO_UNIX_DGRAM: return "unix_dgram";
	case BW_PROTO_UNIX_SEQPACKET: return "unix_seqpacket";
	default: return "unknown";
	}
}

const char *bw_family_name(int family)
{
	switch (family) {
	case AF_INET: return "inet";
	case AF_INET6: return "inet6";
	case AF_UNIX: return "unix";
	default: return "unknown";
	}
}
