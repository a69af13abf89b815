/* sockdiag: replays sock_diag dumps recorded from a real kernel
 * (tests/fixtures/sockdiag/, captured by tests/fuzz/capture-net.py in a
 * private network namespace: each file is one selector byte, then the raw
 * bytes of one recv()). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>

#include "check.h"
#include "lookup/socktab.h"

#define MAX_SOCKS 64

struct dump {
	size_t n;
	struct bw_sock s[MAX_SOCKS];
};

static int collect(const struct bw_sock *s, void *ctx)
{
	struct dump *d = ctx;
	if (d->n < MAX_SOCKS)
		d->s[d->n++] = *s;
	return 0;
}

/* Parses fixture 'name' as 'proto'; returns what bw_sockdiag_parse said. */
static int replay(const char *name, enum bw_proto proto, struct dump *d)
{
	static unsigned char raw[65536];
	static uint32_t aligned[65536 / 4]; /* netlink messages are 4-byte aligned */
	char path[512];
	FILE *f;
	size_t n;

	char rel[128];
	snprintf(rel, sizeof(rel), "sockdiag/%s", name);
	check_fixture(path, sizeof(path), rel);
	f = fopen(path, "rb");
	CHECK(f != NULL);
	if (!f)
		return -ENOENT;
	n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	CHECK(n > 1);
	memcpy(aligned, raw + 1, n - 1); /* byte 0 is the fuzz target's selector */
	memset(d, 0, sizeof(*d));
	return bw_sockdiag_parse(aligned, n - 1, proto, collect, d);
}

static const struct bw_sock *find_state(const struct dump *d, int state, int family)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->s[i].state == state && d->s[i].local.family == family)
			return &d->s[i];
	return NULL;
}

static void test_tcp4(void)
{
	struct dump d;
	const struct bw_sock *l, *tw, *bound;
	CHECK_EQ_INT(replay("tcp4-0", BW_PROTO_TCP, &d), 0); /* more to come */
	CHECK(d.n >= 3);
	for (size_t i = 0; i < d.n; i++) {
		CHECK_EQ_INT(d.s[i].local.family, AF_INET);
		CHECK_EQ_INT(d.s[i].local.proto, BW_PROTO_TCP);
		CHECK(d.s[i].local.port != 0 || d.s[i].state == BW_TCP_CLOSE);
	}
	l = find_state(&d, BW_TCP_LISTEN, AF_INET);
	CHECK(l && l->listening && l->inode != 0);
	/* TIME-WAIT: no socket left, so no inode; its timer is running. */
	tw = find_state(&d, BW_TCP_TIME_WAIT, AF_INET);
	CHECK(tw && tw->inode == 0 && tw->timer_ms > 0 && !tw->listening);
	/* Bound to 127.0.0.2, never listened: only sock_diag shows it. */
	bound = NULL;
	for (size_t i = 0; i < d.n; i++)
		if (d.s[i].local.ip[0] == 127 && d.s[i].local.ip[3] == 2)
			bound = &d.s[i];
	CHECK(bound && !bound->listening && bound->inode != 0);
	/* The cgroup id attribute is parsed (cgroup v2 machine). */
	CHECK(l && l->cgroup_id != 0);
	CHECK_EQ_INT(replay("tcp4-1", BW_PROTO_TCP, &d), 1); /* NLMSG_DONE */
	CHECK_EQ_INT((int)d.n, 0);
}

static void test_tcp6(void)
{
	static const uint8_t loopback[16] = {[15] = 1};
	struct dump d;
	bool v6only_loopback = false, dual_any = false, mapped = false;
	CHECK_EQ_INT(replay("tcp6-0", BW_PROTO_TCP, &d), 0);
	for (size_t i = 0; i < d.n; i++) {
		const struct bw_sock *s = &d.s[i];
		CHECK_EQ_INT(s->local.family, AF_INET6);
		if (s->state != BW_TCP_LISTEN)
			continue;
		if (memcmp(s->local.ip, loopback, 16) == 0)
			v6only_loopback = s->v6only;
		if (bw_addr_is_wildcard(&s->local))
			dual_any = !s->v6only;
		if (bw_addr_is_v4mapped(&s->local))
			mapped = true;
	}
	/* INET_DIAG_SKV6ONLY: what /proc/net/tcp6 can't tell. */
	CHECK(v6only_loopback);
	CHECK(dual_any);
	CHECK(mapped);
}

static void test_udp4(void)
{
	struct dump d;
	CHECK_EQ_INT(replay("udp4-0", BW_PROTO_UDP, &d), 0);
	CHECK(d.n >= 1);
	for (size_t i = 0; i < d.n; i++) {
		CHECK_EQ_INT(d.s[i].local.proto, BW_PROTO_UDP);
		CHECK(!d.s[i].listening);
	}
}

static void test_unix(void)
{
	struct dump d;
	bool stream = false, dgram = false, abstract = false;
	CHECK_EQ_INT(replay("unix-0", BW_PROTO_UNIX_STREAM, &d), 0);
	for (size_t i = 0; i < d.n; i++) {
		const struct bw_sock *s = &d.s[i];
		const char *base = strrchr(s->local.path, '/');
		CHECK_EQ_INT(s->local.family, AF_UNIX);
		/* Connected sockets use /proc's SS_CONNECTED (3), others 1. */
		CHECK(s->state == 1 || s->state == 3);
		if (base && strcmp(base, "/stream.sock") == 0)
			stream = s->listening && s->local.proto == BW_PROTO_UNIX_STREAM;
		if (base && strcmp(base, "/dgram.sock") == 0)
			dgram = !s->listening && s->local.proto == BW_PROTO_UNIX_DGRAM;
		/* "\0bw-fuzz\0x": the leading NUL marks it abstract, the inner
		 * one is shown as '@' as in /proc/net/unix. */
		if (s->local.abstract && s->local.path_len == 9 &&
		    memcmp(s->local.path, "bw-fuzz@x", 9) == 0)
			abstract = s->listening;
	}
	CHECK(stream);
	CHECK(dgram);
	CHECK(abstract);
}

/* A unix_diag record with the attributes the unix dump asks for: the name,
 * the uid and the bound file (UNIX_DIAG_VFS: inode and device in the
 * kernel's encoding, net/unix/diag.c sk_diag_dump_vfs). */
static void test_unix_vfs(void)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_msg m;
		struct rtattr name_a;
		char name[12];
		struct rtattr vfs_a;
		struct unix_diag_vfs vfs;
		struct rtattr uid_a;
		uint32_t uid;
	} msg;
	struct dump d = {0};
	memset(&msg, 0, sizeof(msg));
	msg.h.nlmsg_len = sizeof(msg);
	msg.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.m.udiag_family = AF_UNIX;
	msg.m.udiag_type = SOCK_STREAM;
	msg.m.udiag_state = 7; /* TCP_CLOSE: bound, neither listening nor connected */
	msg.m.udiag_ino = 4242;
	msg.name_a = (struct rtattr){RTA_LENGTH(sizeof(msg.name)), UNIX_DIAG_NAME};
	memcpy(msg.name, "/run/a.sock", 12);
	msg.vfs_a = (struct rtattr){RTA_LENGTH(sizeof(msg.vfs)), UNIX_DIAG_VFS};
	msg.vfs = (struct unix_diag_vfs){.udiag_vfs_ino = 777, .udiag_vfs_dev = (8u << 20) | 3};
	msg.uid_a = (struct rtattr){RTA_LENGTH(sizeof(msg.uid)), UNIX_DIAG_UID};
	msg.uid = 1000;
	CHECK_EQ_INT(bw_sockdiag_parse(&msg, sizeof(msg), BW_PROTO_UNIX_STREAM, collect, &d), 0);
	CHECK_EQ_INT((int)d.n, 1);
	CHECK_EQ_INT((int)d.s[0].vfs_ino, 777);
	CHECK_EQ_INT((int)d.s[0].vfs_dev, (int)((8u << 20) | 3));
	CHECK_EQ_INT((int)d.s[0].uid, 1000);
	CHECK_EQ_INT((int)d.s[0].inode, 4242);
	CHECK(strcmp(d.s[0].local.path, "/run/a.sock") == 0);
	/* A connected stream socket (an accepted one carries the listener's
	 * name) does not own the path; bound or datagram ones do. */
	CHECK_EQ_INT(d.s[0].state, 1);
	CHECK(bw_unix_owns(&d.s[0]));
	d.s[0].state = 3;
	CHECK(!bw_unix_owns(&d.s[0]));
	d.s[0].local.proto = BW_PROTO_UNIX_DGRAM;
	CHECK(bw_unix_owns(&d.s[0]));
}

static void test_errors(void)
{
	/* An NLMSG_ERROR carrying -EPERM, and a header claiming more bytes
	 * than the buffer holds. */
	uint32_t buf[9] = {0};
	struct nlmsghdr_like {
		uint32_t len;
		uint16_t type, flags;
		uint32_t seq, pid;
	} h = {36, 2 /* NLMSG_ERROR */, 0, 1, 0};
	int32_t err = -EPERM;
	struct dump d = {0};
	memcpy(buf, &h, sizeof(h));
	memcpy((char *)buf + 16, &err, sizeof(err));
	CHECK_EQ_INT(bw_sockdiag_parse(buf, 36, BW_PROTO_TCP, collect, &d), -EPERM);
	h.len = 1000;
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ_INT(bw_sockdiag_parse(buf, 36, BW_PROTO_TCP, collect, &d), -EINVAL);
	CHECK_EQ_INT((int)d.n, 0);
}

/* A socket bound to a device: sock_diag's idiag_if is its sk_bound_dev_if
 * (inet_diag_msg_common_fill()); a message built here, since the
 * fixtures hold none. */
static void test_bound_dev(void)
{
	static uint32_t buf[256];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct inet_diag_msg *m = NLMSG_DATA(h);
	struct dump d;

	memset(buf, 0, sizeof(buf));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m->idiag_family = AF_INET;
	m->idiag_state = BW_TCP_LISTEN;
	m->id.idiag_sport = htons(8000);
	m->id.idiag_src[0] = htonl(0x7f000001);
	m->id.idiag_if = 3;
	m->idiag_inode = 42;
	memset(&d, 0, sizeof(d));
	CHECK_EQ_INT(bw_sockdiag_parse(buf, h->nlmsg_len, BW_PROTO_TCP, collect, &d), 0);
	CHECK_EQ_INT((int)d.n, 1);
	CHECK_EQ_INT((int)d.s[0].local.dev_if, 3);
	CHECK_EQ_INT(d.s[0].local.port, 8000);
	m->id.idiag_if = 0;
	memset(&d, 0, sizeof(d));
	CHECK_EQ_INT(bw_sockdiag_parse(buf, h->nlmsg_len, BW_PROTO_TCP, collect, &d), 0);
	CHECK_EQ_INT((int)d.s[0].local.dev_if, 0);
}

int main(void)
{
	test_bound_dev();
	test_tcp4();
	test_tcp6();
	test_udp4();
	test_unix();
	test_unix_vfs();
	test_errors();
	return check_done("sockdiag");
}
