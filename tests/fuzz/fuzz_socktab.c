/* fuzz_socktab: bw_socktab_parse_buf over /proc/net/{tcp,tcp6,udp,udp6,unix}
 * text. Input: the first byte picks the table (mod 5: tcp, tcp6, udp, udp6,
 * unix), the rest is the table's text.
 * Checks: every socket handed to the callback has the table's family and a
 * protocol that fits it, addresses that format in bounds, one callback per
 * line at most; a line parses the same alone (bw_socktab_parse_*_line) as
 * inside the buffer; a non-zero callback value stops the walk and is
 * returned; a trailing partial line is ignored. */
#include <errno.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "lookup/socktab.h"

struct table {
	int family;
	enum bw_proto proto;
};

static const struct table tables[] = {
	{AF_INET, BW_PROTO_TCP}, {AF_INET6, BW_PROTO_TCP}, {AF_INET, BW_PROTO_UDP},
	{AF_INET6, BW_PROTO_UDP}, {AF_UNIX, BW_PROTO_UNIX_STREAM},
};

FUZZ_NOCOV static bool addr_equal(const struct bw_addr *x, const struct bw_addr *y)
{
	return x->family == y->family && x->proto == y->proto && !memcmp(x->ip, y->ip, 16) &&
	       x->port == y->port && x->abstract == y->abstract && x->path_len == y->path_len &&
	       !memcmp(x->path, y->path, x->path_len);
}

FUZZ_NOCOV static bool sock_equal(const struct bw_sock *x, const struct bw_sock *y)
{
	return addr_equal(&x->local, &y->local) && addr_equal(&x->remote, &y->remote) &&
	       x->state == y->state && x->uid == y->uid && x->inode == y->inode &&
	       x->timer == y->timer && x->timer_ms == y->timer_ms && x->listening == y->listening &&
	       x->v6only == y->v6only && x->cgroup_id == y->cgroup_id;
}

struct ctx {
	const struct table *t;
	size_t calls, stop_at;
	struct bw_sock first;
};

static int cb(const struct bw_sock *s, void *p)
{
	struct ctx *c = p;
	if (c->t->family == AF_UNIX) {
		FUZZ_CHECK(s->local.family == AF_UNIX, "unix table gave family %d", s->local.family);
		FUZZ_CHECK(s->local.proto == BW_PROTO_UNIX_STREAM ||
				   s->local.proto == BW_PROTO_UNIX_DGRAM ||
				   s->local.proto == BW_PROTO_UNIX_SEQPACKET,
			   "unix proto %d", s->local.proto);
	} else {
		FUZZ_CHECK(s->local.family == c->t->family && s->remote.family == c->t->family,
			   "families %d/%d in a table of %d", s->local.family, s->remote.family,
			   c->t->family);
		FUZZ_CHECK(s->local.proto == c->t->proto && s->remote.proto == c->t->proto,
			   "protos %d/%d", s->local.proto, s->remote.proto);
		FUZZ_CHECK(s->listening == (c->t->proto == BW_PROTO_TCP && s->state == BW_TCP_LISTEN),
			   "listening %d for state %d", s->listening, s->state);
		FUZZ_CHECK(s->timer_ms >= 0 && s->timer_ms <= 1000000000L, "timer_ms %ld",
			   s->timer_ms);
		fuzz_check_addr(&s->remote);
	}
	fuzz_check_addr(&s->local);
	(void)bw_tcp_state_name(s->state);
	if (c->calls == 0)
		c->first = *s;
	return ++c->calls == c->stop_at ? 42 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = {0};
	const char *buf, *nl;
	size_t len, lines = 0, upto;
	int r;

	if (size < 1)
		return 0;
	c.t = &tables[data[0] % 5];
	len = size - 1;
	buf = fuzz_dup(data + 1, len, false);
	for (const char *p = buf; (nl = memchr(p, '\n', (size_t)(buf + len - p))); p = nl + 1)
		lines++;

	r = bw_socktab_parse_buf(buf, len, c.t->family, c.t->proto, cb, &c);
	FUZZ_CHECK(r == 0, "returned %d with a callback that never stops", r);
	FUZZ_CHECK(c.calls <= lines, "%zu sockets from %zu lines", c.calls, lines);

	/* Up to the last newline only: the same sockets. */
	nl = len ? memrchr(buf, '\n', len) : NULL;
	upto = nl ? (size_t)(nl - buf) + 1 : 0;
	{
		struct ctx c2 = {.t = c.t};
		bw_socktab_parse_buf(buf, upto, c.t->family, c.t->proto, cb, &c2);
		FUZZ_CHECK(c2.calls == c.calls, "%zu sockets, %zu without the partial last line",
			   c.calls, c2.calls);
	}

	/* Line by line through the line parsers: the same sockets. */
	{
		size_t ok = 0;
		for (const char *p = buf; (nl = memchr(p, '\n', (size_t)(buf + len - p))); p = nl + 1) {
			struct bw_sock s;
			size_t n = (size_t)(nl - p);
			/* Exact-size copy: the line parser must not read past len. */
			char *line = fuzz_dup((const uint8_t *)p, n, false);
			int one = c.t->family == AF_UNIX
					  ? bw_socktab_parse_unix_line(line, n, &s)
					  : bw_socktab_parse_inet_line(line, n, c.t->family, c.t->proto, &s);
			free(line);
			FUZZ_CHECK(one == 0 || one == -EINVAL, "line parser returned %d", one);
			if (one == 0 && ok++ == 0)
				FUZZ_CHECK(sock_equal(&s, &c.first), "the first line parses differently alone");
		}
		FUZZ_CHECK(ok == c.calls, "%zu sockets line by line, %zu from the buffer", ok, c.calls);
	}

	/* Stopping: a callback value ends the walk and comes back. */
	if (c.calls > 0) {
		struct ctx c3 = {.t = c.t, .stop_at = (c.calls + 1) / 2};
		r = bw_socktab_parse_buf(buf, len, c.t->family, c.t->proto, cb, &c3);
		FUZZ_CHECK(r == 42 && c3.calls == c3.stop_at, "stop at %zu: returned %d after %zu",
			   c3.stop_at, r, c3.calls);
		FUZZ_CHECK(sock_equal(&c3.first, &c.first), "the first socket differs between two parses");
	}
	free((void *)buf);
	return 0;
}
