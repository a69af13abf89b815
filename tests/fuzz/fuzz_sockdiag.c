/* fuzz_sockdiag: bw_sockdiag_parse over one recv() worth of a
 * NETLINK_SOCK_DIAG dump. Input: the first byte picks the request the dump
 * answers (mod 3: inet TCP, inet UDP, unix), the rest is the raw bytes,
 * copied into an exact-size heap buffer (malloc alignment, as the shim's
 * recv buffer is NLMSG_ALIGNTO-aligned) so ASan sees any read past len.
 * Checks: the result is 1 (DONE), 0, the callback's value or a negative
 * errno; sockets have the family and protocol the request allows, unix
 * paths hold no NUL (shown as '@') and are terminated, addresses format in
 * bounds; a non-zero callback value stops the walk and is returned. */
#include <errno.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "lookup/socktab.h"

static const enum bw_proto protos[] = {BW_PROTO_TCP, BW_PROTO_UDP, BW_PROTO_UNIX_STREAM};

struct ctx {
	enum bw_proto proto;
	size_t calls, stop_at;
};

static int cb(const struct bw_sock *s, void *p)
{
	struct ctx *c = p;
	if (c->proto == BW_PROTO_UNIX_STREAM) {
		FUZZ_CHECK(s->local.family == AF_UNIX, "unix dump gave family %d", s->local.family);
		FUZZ_CHECK(s->local.proto == BW_PROTO_UNIX_STREAM ||
				   s->local.proto == BW_PROTO_UNIX_DGRAM ||
				   s->local.proto == BW_PROTO_UNIX_SEQPACKET,
			   "unix proto %d", s->local.proto);
		FUZZ_CHECK(s->local.path_len <= BW_UNIX_PATH_MAX &&
				   !memchr(s->local.path, '\0', s->local.path_len),
			   "unix path of %zu bytes holds a NUL", s->local.path_len);
	} else {
		FUZZ_CHECK((s->local.family == AF_INET || s->local.family == AF_INET6) &&
				   s->remote.family == s->local.family,
			   "inet dump gave families %d/%d", s->local.family, s->remote.family);
		FUZZ_CHECK(s->local.proto == c->proto && s->remote.proto == c->proto,
			   "protos %d/%d for %d", s->local.proto, s->remote.proto, c->proto);
		FUZZ_CHECK(s->listening == (c->proto == BW_PROTO_TCP && s->state == BW_TCP_LISTEN),
			   "listening %d for state %d", s->listening, s->state);
		fuzz_check_addr(&s->remote);
	}
	fuzz_check_addr(&s->local);
	(void)bw_tcp_state_name(s->state);
	return ++c->calls == c->stop_at ? 42 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = {0};
	char *buf;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	c.proto = protos[data[0] % 3];
	len = size - 1;
	buf = fuzz_dup(data + 1, len, false);

	r = bw_sockdiag_parse(buf, len, c.proto, cb, &c);
	FUZZ_CHECK(r == 0 || r == 1 || r < 0, "returned %d with a callback that never stops", r);

	if (c.calls > 0) {
		struct ctx c2 = {.proto = c.proto, .stop_at = (c.calls + 1) / 2};
		r = bw_sockdiag_parse(buf, len, c.proto, cb, &c2);
		FUZZ_CHECK(r == 42 && c2.calls == c2.stop_at, "stop at %zu: returned %d after %zu",
			   c2.stop_at, r, c2.calls);
	}
	free(buf);
	return 0;
}
