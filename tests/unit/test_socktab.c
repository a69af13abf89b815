/* socktab: /proc/net tables captured from a real kernel (see
 * tests/fixtures/README.md for what they hold), hand-written corner lines,
 * and the streaming reader across its buffer boundary. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lookup/socktab.h"
#include "basic/sysio.h"

#define COLL_MAX 2048

struct coll {
	size_t n;
	size_t stop_after; /* return 7 from the callback after this many (0: never) */
	struct bw_sock s[COLL_MAX];
};

static struct coll coll;

static int collect(const struct bw_sock *s, void *ctx)
{
	struct coll *c = ctx;
	if (c->n < COLL_MAX)
		c->s[c->n] = *s;
	c->n++;
	return c->stop_after && c->n >= c->stop_after ? 7 : 0;
}

static void reset(void)
{
	memset(&coll, 0, sizeof(coll));
}

static void ipstr(const struct bw_addr *a, char *buf, size_t size)
{
	bw_addr_format_ip(a, buf, size);
}

/* Checks one parsed inet socket. */
static void inet_is(const struct bw_sock *s, const char *ip, unsigned port, int state,
		    bool listening, enum bw_proto proto)
{
	char buf[64];
	ipstr(&s->local, buf, sizeof(buf));
	CHECK_STREQ(buf, ip);
	CHECK_EQ_INT(s->local.port, port);
	CHECK_EQ_INT(s->state, state);
	CHECK_EQ_INT(s->listening, listening);
	CHECK_EQ_INT(s->local.proto, proto);
	CHECK_EQ_INT(s->remote.proto, proto);
	CHECK_EQ_INT(s->uid, 0);
}

static void test_fixture_tcp(void)
{
	char buf[64];

	reset();
	CHECK_EQ_INT(bw_socktab_read(check_procroot(), AF_INET, BW_PROTO_TCP, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 2);
	if (coll.n != 2)
		return;
	/* 127.0.0.1:18080 LISTEN */
	inet_is(&coll.s[0], "127.0.0.1", 18080, BW_TCP_LISTEN, true, BW_PROTO_TCP);
	CHECK_EQ_INT(coll.s[0].local.family, AF_INET);
	CHECK(coll.s[0].inode > 0);
	CHECK_EQ_INT(coll.s[0].timer, 0);
	CHECK_EQ_INT(coll.s[0].timer_ms, 0);
	ipstr(&coll.s[0].remote, buf, sizeof(buf));
	CHECK_STREQ(buf, "0.0.0.0");
	CHECK_EQ_INT(coll.s[0].remote.port, 0);

	/* 127.0.0.1:18084 -> 127.0.0.1:34980 TIME_WAIT, no inode, timer 3 running. */
	inet_is(&coll.s[1], "127.0.0.1", 18084, BW_TCP_TIME_WAIT, false, BW_PROTO_TCP);
	CHECK_EQ_INT(coll.s[1].inode, 0);
	CHECK_EQ_INT(coll.s[1].timer, 3);
	CHECK_EQ_INT(coll.s[1].timer_ms, 0x176e * 10); /* 5998 USER_HZ ticks */
	CHECK(coll.s[1].timer_ms > 0 && coll.s[1].timer_ms <= 60000);
	ipstr(&coll.s[1].remote, buf, sizeof(buf));
	CHECK_STREQ(buf, "127.0.0.1");
	CHECK_EQ_INT(coll.s[1].remote.port, 34980);
}

static void test_fixture_tcp6(void)
{
	reset();
	CHECK_EQ_INT(bw_socktab_read(check_procroot(), AF_INET6, BW_PROTO_TCP, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 2);
	if (coll.n != 2)
		return;
	/* [::ffff:127.0.0.1]:18085 LISTEN: a v4-mapped bind, as the kernel prints it. */
	inet_is(&coll.s[0], "::ffff:127.0.0.1", 18085, BW_TCP_LISTEN, true, BW_PROTO_TCP);
	CHECK_EQ_INT(coll.s[0].local.family, AF_INET6);
	CHECK(bw_addr_is_v4mapped(&coll.s[0].local));
	CHECK(coll.s[0].inode > 0);
	/* [::]:18081 LISTEN, dual-stack */
	inet_is(&coll.s[1], "::", 18081, BW_TCP_LISTEN, true, BW_PROTO_TCP);
	CHECK(bw_addr_is_wildcard(&coll.s[1].local));
	CHECK(coll.s[1].inode > 0);
	CHECK(coll.s[1].inode != coll.s[0].inode);
}

static void test_fixture_udp(void)
{
	reset();
	CHECK_EQ_INT(bw_socktab_read(check_procroot(), AF_INET, BW_PROTO_UDP, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 1);
	if (coll.n == 1) {
		/* 0.0.0.0:18082, unconnected (7), never "listening" */
		inet_is(&coll.s[0], "0.0.0.0", 18082, BW_TCP_CLOSE, false, BW_PROTO_UDP);
		CHECK(coll.s[0].inode > 0);
	}

	reset();
	CHECK_EQ_INT(bw_socktab_read(check_procroot(), AF_INET6, BW_PROTO_UDP, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 1);
	if (coll.n == 1) {
		/* [::1]:18083 */
		inet_is(&coll.s[0], "::1", 18083, BW_TCP_CLOSE, false, BW_PROTO_UDP);
		CHECK_EQ_INT(coll.s[0].local.family, AF_INET6);
		CHECK(coll.s[0].inode > 0);
	}
}

static void test_fixture_unix(void)
{
	reset();
	CHECK_EQ_INT(bw_socktab_read(check_procroot(), AF_UNIX, BW_PROTO_UNKNOWN, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 3);
	if (coll.n != 3)
		return;
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_INT(coll.s[i].local.family, AF_UNIX);
		CHECK(coll.s[i].inode > 0);
		CHECK_EQ_INT(coll.s[i].state, 1); /* SS_UNCONNECTED */
	}
	CHECK_STREQ(coll.s[0].local.path, "/tmp/bw-fixture/stream.sock");
	CHECK_EQ_INT(coll.s[0].local.path_len, strlen("/tmp/bw-fixture/stream.sock"));
	CHECK(!coll.s[0].local.abstract);
	CHECK(coll.s[0].listening);
	CHECK_EQ_INT(coll.s[0].local.proto, BW_PROTO_UNIX_STREAM);

	CHECK_STREQ(coll.s[1].local.path, "/tmp/bw-fixture/dgram.sock");
	CHECK(!coll.s[1].listening);
	CHECK_EQ_INT(coll.s[1].local.proto, BW_PROTO_UNIX_DGRAM);

	/* "\0bw-fixture\0x": the kernel prints every NUL as '@'. */
	CHECK(coll.s[2].local.abstract);
	CHECK_EQ_INT(coll.s[2].local.path_len, 12);
	CHECK_STREQ(coll.s[2].local.path, "bw-fixture@x");
	CHECK(coll.s[2].listening);
	CHECK_EQ_INT(coll.s[2].local.proto, BW_PROTO_UNIX_STREAM);
}

/* The same bytes through bw_socktab_parse_buf give the same sockets. */
static void test_parse_buf_matches_read(void)
{
	static struct coll viaread;
	char path[4096], buf[16384];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/net/tcp6", check_procroot());
	n = bw_read_file_at(AT_FDCWD, path, buf, sizeof(buf));
	CHECK(n > 0);
	if (n <= 0)
		return;
	reset();
	CHECK_EQ_INT(bw_socktab_parse_buf(buf, (size_t)n, AF_INET6, BW_PROTO_TCP, collect, &coll), 0);
	memset(&viaread, 0, sizeof(viaread));
	bw_socktab_read(check_procroot(), AF_INET6, BW_PROTO_TCP, collect, &viaread);
	CHECK_EQ_INT(coll.n, viaread.n);
	CHECK(coll.n > 0 && memcmp(coll.s, viaread.s, coll.n * sizeof(coll.s[0])) == 0);
}

static const char tcp_line[] =
	"   0: 0100007F:46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
	"13686 1 00000000bf70b05e 100 0 0 10 0";
static const char tcp_header[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	"timeout inode";

static void test_inet_lines(void)
{
	struct bw_sock s, sentinel;
	const char *inode_at = strstr(tcp_line, "13686");
	char buf[64];
	const char *l;

	CHECK_EQ_INT(bw_socktab_parse_inet_line(tcp_line, strlen(tcp_line), AF_INET, BW_PROTO_TCP, &s), 0);
	CHECK_EQ_INT(s.inode, 13686);
	CHECK_EQ_INT(s.local.port, 18080);

	memset(&sentinel, 0x5a, sizeof(sentinel));
	s = sentinel;
	CHECK_EQ_INT(bw_socktab_parse_inet_line(tcp_header, strlen(tcp_header), AF_INET, BW_PROTO_TCP, &s), -EINVAL);
	CHECK_EQ_INT(bw_socktab_parse_inet_line("", 0, AF_INET, BW_PROTO_TCP, &s), -EINVAL);
	l = "hello world";
	CHECK_EQ_INT(bw_socktab_parse_inet_line(l, strlen(l), AF_INET, BW_PROTO_TCP, &s), -EINVAL);
	l = "   0: 0100007G:46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1";
	CHECK_EQ_INT(bw_socktab_parse_inet_line(l, strlen(l), AF_INET, BW_PROTO_TCP, &s), -EINVAL);
	l = "   0: 0100007F46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1";
	CHECK_EQ_INT(bw_socktab_parse_inet_line(l, strlen(l), AF_INET, BW_PROTO_TCP, &s), -EINVAL);
	/* A v4 line read as a tcp6 table is too short for 32 hex digits. */
	CHECK_EQ_INT(bw_socktab_parse_inet_line(tcp_line, strlen(tcp_line), AF_INET6, BW_PROTO_TCP, &s), -EINVAL);
	CHECK(memcmp(&s, &sentinel, sizeof(s)) == 0);

	/* Every cut before the inode field is rejected, never misread. */
	for (size_t cut = 0; cut < (size_t)(inode_at - tcp_line); cut++) {
		int r = bw_socktab_parse_inet_line(tcp_line, cut, AF_INET, BW_PROTO_TCP, &s);
		CHECK_EQ_INT(r, -EINVAL);
		if (r != -EINVAL) {
			fprintf(stderr, "  (cut at %zu)\n", cut);
			break;
		}
	}

	/* tcp6, v4-mapped, hand-written; lowercase hex is fine too. */
	l = "   3: 0000000000000000ffff00000201A8C0:0050 0000000000000000FFFF00000A01A8C0:D431 01 "
	    "00000000:00000000 02:000AFD7B 00000000  1000        0 424242 2 0000000000000000 20 4 30 10 -1";
	CHECK_EQ_INT(bw_socktab_parse_inet_line(l, strlen(l), AF_INET6, BW_PROTO_TCP, &s), 0);
	CHECK(bw_addr_is_v4mapped(&s.local));
	ipstr(&s.local, buf, sizeof(buf));
	CHECK_STREQ(buf, "::ffff:192.168.1.2");
	CHECK_EQ_INT(s.local.port, 80);
	ipstr(&s.remote, buf, sizeof(buf));
	CHECK_STREQ(buf, "::ffff:192.168.1.10");
	CHECK_EQ_INT(s.remote.port, 54321);
	CHECK_EQ_INT(s.state, BW_TCP_ESTABLISHED);
	CHECK(!s.listening);
	CHECK_EQ_INT(s.uid, 1000);
	CHECK_EQ_INT(s.inode, 424242);
	CHECK_EQ_INT(s.timer, 2);
	CHECK_EQ_INT(s.timer_ms, 0xAFD7BL * 10);

	/* A real global v6 address: each 32-bit word is printed in host order. */
	l = "   0: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A "
	    "00000000:00000000 00:00000000 00000000   101        0 5555 1 0000000000000000 100 0 0 10 0";
	CHECK_EQ_INT(bw_socktab_parse_inet_line(l, strlen(l), AF_INET6, BW_PROTO_TCP, &s), 0);
	ipstr(&s.local, buf, sizeof(buf));
	CHECK_STREQ(buf, "2001:db8::1");
	CHECK_EQ_INT(s.local.port, 443);
	CHECK(s.listening);
	CHECK_EQ_INT(s.uid, 101);

	/* UDP connected (1) is not listening either. */
	l = "  55: 0100007F:0035 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   102        0 777 2 0000000000000000 0";
	CHECK_EQ_INT(bw_socktab_parse_inet_line(l, strlen(l), AF_INET, BW_PROTO_UDP, &s), 0);
	CHECK_EQ_INT(s.state, 1);
	CHECK(!s.listening);
	CHECK_EQ_INT(s.local.proto, BW_PROTO_UDP);
}

static void test_unix_lines(void)
{
	struct bw_sock s;
	char line[512], path[BW_UNIX_PATH_MAX + 1];
	const char *l;
	int n;

	l = "Num       RefCount Protocol Flags    Type St Inode Path";
	CHECK_EQ_INT(bw_socktab_parse_unix_line(l, strlen(l), &s), -EINVAL);
	l = "garbage";
	CHECK_EQ_INT(bw_socktab_parse_unix_line(l, strlen(l), &s), -EINVAL);
	l = "0000000097422db2: 00000002 00000000 00010000 0001";
	CHECK_EQ_INT(bw_socktab_parse_unix_line(l, strlen(l), &s), -EINVAL);

	/* Unnamed (socketpair, connected): no path. */
	l = "0000000012345678: 00000003 00000000 00000000 0001 03 98765";
	CHECK_EQ_INT(bw_socktab_parse_unix_line(l, strlen(l), &s), 0);
	CHECK_EQ_INT(s.inode, 98765);
	CHECK_EQ_INT(s.state, 3);
	CHECK_EQ_INT(s.local.path_len, 0);
	CHECK(!s.listening);

	/* SOCK_SEQPACKET (5) */
	l = "0000000012345678: 00000002 00000000 00010000 0005 01 4444 /run/seq.sock";
	CHECK_EQ_INT(bw_socktab_parse_unix_line(l, strlen(l), &s), 0);
	CHECK_EQ_INT(s.local.proto, BW_PROTO_UNIX_SEQPACKET);
	CHECK(s.listening);
	CHECK_STREQ(s.local.path, "/run/seq.sock");

	/* The longest path the kernel can print: 108 bytes. */
	memset(path, 'q', BW_UNIX_PATH_MAX);
	path[0] = '/';
	path[BW_UNIX_PATH_MAX] = '\0';
	n = snprintf(line, sizeof(line), "0000000012345678: 00000002 00000000 00010000 0001 01 31337 %s", path);
	CHECK_EQ_INT(bw_socktab_parse_unix_line(line, (size_t)n, &s), 0);
	CHECK_EQ_INT(s.local.path_len, BW_UNIX_PATH_MAX);
	CHECK_STREQ(s.local.path, path);

	/* Longer than any real one (a corrupt table): capped, never overflowed. */
	n = snprintf(line, sizeof(line), "0000000012345678: 00000002 00000000 00010000 0001 01 31337 %s%s", path, path);
	CHECK_EQ_INT(bw_socktab_parse_unix_line(line, (size_t)n, &s), 0);
	CHECK_EQ_INT(s.local.path_len, BW_UNIX_PATH_MAX);
	CHECK_EQ_INT(strlen(s.local.path), BW_UNIX_PATH_MAX);

	/* A 107-byte abstract name. */
	n = snprintf(line, sizeof(line), "0000000012345678: 00000002 00000000 00010000 0001 01 31337 @%s", path + 1);
	CHECK_EQ_INT(bw_socktab_parse_unix_line(line, (size_t)n, &s), 0);
	CHECK(s.local.abstract);
	CHECK_EQ_INT(s.local.path_len, BW_UNIX_PATH_MAX - 1);
}

static void test_parse_buf(void)
{
	static const char buf[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0100007F:0001 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1 0 100 0 0 10 0\n"
		"this line is garbage\n"
		"\n"
		"   1: 0100007F:0002 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1 0 100 0 0 10 0\n"
		"   2: 0100007F:0003 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 13 1 0 100 0 0 10 0\n"
		"   3: 0100007F:0004 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 14 1 0 100 0 0 10 0";

	reset();
	CHECK_EQ_INT(bw_socktab_parse_buf(buf, sizeof(buf) - 1, AF_INET, BW_PROTO_TCP, collect, &coll), 0);
	/* The header, the garbage and the empty line are skipped; the last line
	 * has no newline (a partial read) and is ignored. */
	CHECK_EQ_INT(coll.n, 3);
	CHECK_EQ_INT(coll.s[0].local.port, 1);
	CHECK_EQ_INT(coll.s[1].local.port, 2);
	CHECK_EQ_INT(coll.s[2].local.port, 3);
	CHECK_EQ_INT(coll.s[2].inode, 13);

	/* The callback's non-zero value stops the walk and is returned. */
	reset();
	coll.stop_after = 2;
	CHECK_EQ_INT(bw_socktab_parse_buf(buf, sizeof(buf) - 1, AF_INET, BW_PROTO_TCP, collect, &coll), 7);
	CHECK_EQ_INT(coll.n, 2);

	reset();
	CHECK_EQ_INT(bw_socktab_parse_buf(buf, 0, AF_INET, BW_PROTO_TCP, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 0);
}

static void test_read(void)
{
	char dir[] = "/tmp/bw-socktab-XXXXXX", path[256];
	FILE *f;

	/* Stops early through the file reader too. */
	reset();
	coll.stop_after = 1;
	CHECK_EQ_INT(bw_socktab_read(check_procroot(), AF_INET6, BW_PROTO_TCP, collect, &coll), 7);
	CHECK_EQ_INT(coll.n, 1);

	reset();
	CHECK_EQ_INT(bw_socktab_read("/nonexistent-bw-root", AF_INET, BW_PROTO_TCP, collect, &coll), -ENOENT);
	CHECK_EQ_INT(coll.n, 0);

	/* A table far larger than the reader's 16 KiB buffer, with lines
	 * straddling every refill, and one absurd 20000-byte line. */
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/net", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/net/tcp", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n", f);
	for (int i = 0; i < 1500; i++) {
		fprintf(f, "%5d: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n",
			i, 10000 + i, i, 500000 + i);
		if (i == 700) {
			for (int k = 0; k < 20000; k++)
				fputc('x', f);
			fputc('\n', f);
		}
	}
	fclose(f);

	reset();
	CHECK_EQ_INT(bw_socktab_read(dir, AF_INET, BW_PROTO_TCP, collect, &coll), 0);
	CHECK_EQ_INT(coll.n, 1500);
	for (size_t i = 0; i < coll.n && i < 1500; i++) {
		if (coll.s[i].local.port != 10000 + i || coll.s[i].inode != 500000 + i ||
		    coll.s[i].uid != i) {
			CHECK_EQ_INT(coll.s[i].local.port, 10000 + i);
			CHECK_EQ_INT(coll.s[i].inode, 500000 + i);
			break;
		}
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/net", dir);
	rmdir(path);
	rmdir(dir);
}

static void test_state_names(void)
{
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_LISTEN), "LISTEN");
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_TIME_WAIT), "TIME-WAIT");
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_ESTABLISHED), "ESTAB");
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_CLOSING), "CLOSING");
	CHECK_STREQ(bw_tcp_state_name(0), "UNKNOWN");
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_NEW_SYN_RECV), "SYN-RECV");
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_BOUND_INACTIVE), "BOUND");
	CHECK_STREQ(bw_tcp_state_name(BW_TCP_BOUND_INACTIVE + 1), "UNKNOWN");
	CHECK_STREQ(bw_tcp_state_name(-1), "UNKNOWN");
}

int main(void)
{
	test_fixture_tcp();
	test_fixture_tcp6();
	test_fixture_udp();
	test_fixture_unix();
	test_parse_buf_matches_read();
	test_inet_lines();
	test_unix_lines();
	test_parse_buf();
	test_read();
	test_state_names();
	return check_done("socktab");
}
