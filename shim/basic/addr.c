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

size_t bw_addr_format(const struct bw_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	struct bw_buf b = BW_BUF_INIT(buf, size);

	switch (a->family) {
	case AF_INET:
		bw_addr_format_ip(a, ip, sizeof(ip));
		bw_buf_printf(&b, "%s:%u", ip, a->port);
		break;
	case AF_INET6:
		bw_addr_format_ip(a, ip, sizeof(ip));
		bw_buf_printf(&b, "[%s]:%u", ip, a->port);
		break;
	case AF_UNSPEC:
		bw_buf_printf(&b, "*:%u", a->port);
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

int bw_addr_parse(const char *s, struct bw_addr *ret)
{
	struct bw_addr a = {.family = AF_UNSPEC};
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	size_t n;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '/' || s[0] == '@' || s[0] == '.') {
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
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		n = (size_t)(close - s - 1);
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, a.ip) != 1)
			return -EINVAL;
		a.family = AF_INET6;
		if (parse_port(close + 2, &a.port) < 0)
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
	n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a.ip) == 1)
		a.family = AF_INET;
	else if (strcmp(host, "*") == 0)
		a.family = AF_UNSPEC;
	else
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
