#include "lookup/socktab.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/sysio.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads exactly n hex digits at *pp into *ret. */
static bool hex_fixed(const char **pp, const char *end, int n, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = *pp;
	if (end - p < n)
		return false;
	for (int i = 0; i < n; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (uint64_t)h;
	}
	*pp = p + n;
	*ret = v;
	return true;
}

/* Reads a run of hex digits (1..16). */
static bool hex_var(const char **pp, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = *pp;
	int n = 0;
	while (p < end && hexval(*p) >= 0 && n < 16) {
		v = v << 4 | (uint64_t)hexval(*p);
		p++;
		n++;
	}
	if (n == 0)
		return false;
	*pp = p;
	*ret = v;
	return true;
}

static bool dec_var(const char **pp, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = *pp;
	if (p >= end || *p < '0' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	*pp = p;
	*ret = v;
	return true;
}

static void skip_spaces(const char **pp, const char *end)
{
	while (*pp < end && **pp == ' ')
		(*pp)++;
}

static bool expect(const char **pp, const char *end, char c)
{
	if (*pp >= end || **pp != c)
		return false;
	(*pp)++;
	return true;
}

/* "0100007F:1F90": the address is the in-memory __be32 words printed with
 * %08X, i.e. each 32-bit word in host byte order (net/ipv4/tcp_ipv4.c,
 * get_tcp4_sock(); net/ipv6/tcp_ipv6.c, get_tcp6_sock()). */
static bool parse_endpoint(const char **pp, const char *end, int family, struct bw_addr *a)
{
	int words = family == AF_INET ? 1 : 4;
	uint64_t v;
	a->family = family;
	for (int i = 0; i < words; i++) {
		uint32_t w;
		if (!hex_fixed(pp, end, 8, &v))
			return false;
		w = (uint32_t)v;
		memcpy(a->ip + (size_t)4 * (size_t)i, &w, 4);
	}
	if (!expect(pp, end, ':') || !hex_fixed(pp, end, 4, &v))
		return false;
	a->port = (uint16_t)v;
	return true;
}

int bw_socktab_parse_inet_line(const char *line, size_t len, int family, enum bw_proto proto,
			       struct bw_sock *ret)
{
	const char *p = line, *end = line + len;
	struct bw_sock s;
	uint64_t v, uid, inode;

	memset(&s, 0, sizeof(s));
	/* "  12: LOCAL REMOTE ST TX:RX TR:WHEN RETR UID TIMEOUT INODE ..." */
	skip_spaces(&p, end);
	if (!dec_var(&p, end, &v) || !expect(&p, end, ':'))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!parse_endpoint(&p, end, family, &s.local))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!parse_endpoint(&p, end, family, &s.remote))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &v))
		return -EINVAL;
	s.state = (int)v;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &v) || !expect(&p, end, ':') || !hex_var(&p, end, &v))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &v) || !expect(&p, end, ':'))
		return -EINVAL;
	s.timer = (int)v;
	if (!hex_var(&p, end, &v))
		return -EINVAL;
	/* Printed by jiffies_delta_to_clock_t(): USER_HZ ticks, always 100 on
	 * Linux userspace ABI (include/asm-generic/param.h). */
	s.timer_ms = (long)(v > 100000000 ? 100000000 : v) * 10;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &v))   /* retrnsmt */
		return -EINVAL;
	skip_spaces(&p, end);
	if (!dec_var(&p, end, &uid))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!dec_var(&p, end, &v))   /* timeout */
		return -EINVAL;
	skip_spaces(&p, end);
	if (!dec_var(&p, end, &inode))
		return -EINVAL;
	s.uid = (uint32_t)uid;
	s.inode = inode;
	s.local.proto = s.remote.proto = proto;
	s.listening = proto == BW_PROTO_TCP && s.state == BW_TCP_LISTEN;
	*ret = s;
	return 0;
}

int bw_socktab_parse_unix_line(const char *line, size_t len, struct bw_sock *ret)
{
	const char *p = line, *end = line + len;
	struct bw_sock s;
	uint64_t v, flags, type, st, inode;

	memset(&s, 0, sizeof(s));
	/* "ffff...: RefCount Protocol Flags Type St Inode [Path]" (net/unix/af_unix.c,
	 * unix_seq_show()) */
	if (!hex_var(&p, end, &v) || !expect(&p, end, ':'))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &v))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &v))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &flags))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &type))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!hex_var(&p, end, &st))
		return -EINVAL;
	skip_spaces(&p, end);
	if (!dec_var(&p, end, &inode))
		return -EINVAL;
	s.local.family = AF_UNIX;
	s.local.proto = bw_unix_proto(type <= SOCK_SEQPACKET ? (int)type : 0);
	s.state = (int)st;
	s.inode = inode;
	s.listening = (flags & 0x10000) != 0; /* __SO_ACCEPTCON */
	if (p < end && *p == ' ') {
		size_t n;
		p++;
		n = (size_t)(end - p);
		if (n > 0 && p[0] == '@') {
			/* The kernel prints abstract NUL bytes as '@' too. */
			s.local.abstract = true;
			p++;
			n--;
		}
		if (n > BW_UNIX_PATH_MAX)
			n = BW_UNIX_PATH_MAX;
		memcpy(s.local.path, p, n);
		s.local.path[n] = '\0';
		s.local.path_len = n;
	}
	*ret = s;
	return 0;
}

int bw_socktab_parse_buf(const char *buf, size_t len, int family, enum bw_proto proto,
			 bw_sock_cb cb, void *ctx)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct bw_sock s;
		int r;
		if (!nl)
			break;
		r = family == AF_UNIX ? bw_socktab_parse_unix_line(p, (size_t)(nl - p), &s)
				      : bw_socktab_parse_inet_line(p, (size_t)(nl - p), family, proto, &s);
		p = nl + 1;
		if (r < 0)
			continue;
		r = cb(&s, ctx);
		if (r)
			return r;
	}
	return 0;
}

static const char *table_name(int family, enum bw_proto proto)
{
	if (family == AF_UNIX)
		return "unix";
	if (proto == BW_PROTO_UDP)
		return family == AF_INET6 ? "udp6" : "udp";
	return family == AF_INET6 ? "tcp6" : "tcp";
}

struct table_read {
	int family;
	enum bw_proto proto;
	bw_sock_cb cb;
	void *ctx;
};

static int parse_lines(const char *lines, size_t n, void *ctx)
{
	const struct table_read *t = ctx;
	return bw_socktab_parse_buf(lines, n, t->family, t->proto, t->cb, t->ctx);
}

int bw_socktab_read(const char *proc_root, int family, enum bw_proto proto, bw_sock_cb cb,
		    void *ctx)
{
	char path[256], buf[16384];
	struct table_read t = {family, proto, cb, ctx};

	snprintf(path, sizeof(path), "%s/net/%s", proc_root, table_name(family, proto));
	return bw_read_lines_at(AT_FDCWD, path, buf, sizeof(buf), parse_lines, &t);
}

const char *bw_tcp_state_name(int state)
{
	static const char *const names[] = {
		"UNKNOWN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
		"TIME-WAIT", "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING",
		"SYN-RECV", "BOUND",
	};
	if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])))
		return "UNKNOWN";
	return names[state];
}

bool bw_sock_same_kind(const struct bw_sock *a, const struct bw_sock *b)
{
	const struct bw_addr *x = &a->local, *y = &b->local;
	return x->family == y->family && x->proto == y->proto && x->port == y->port &&
	       x->dev_if == y->dev_if && memcmp(x->ip, y->ip, sizeof(x->ip)) == 0 && x->abstract == y->abstract &&
	       x->path_len == y->path_len && memcmp(x->path, y->path, x->path_len) == 0 &&
	       a->state == b->state && a->listening == b->listening && a->uid == b->uid &&
	       a->v6only == b->v6only && (a->inode == 0) == (b->inode == 0);
}

bool bw_unix_owns(const struct bw_sock *s)
{
	return s->local.family == AF_UNIX &&
	       (s->listening || s->state != 3 /* SS_CONNECTED */ ||
		s->local.proto == BW_PROTO_UNIX_DGRAM);
}
