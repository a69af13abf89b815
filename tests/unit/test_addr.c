/* addr: sockaddr decoding for every family and length corner, formatting,
 * and parsing of what a user types. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "basic/addr.h"
#include "check.h"

#define UN_OFF offsetof(struct sockaddr_un, sun_path)

static void fmt(const struct bw_addr *a, char *buf, size_t size)
{
	size_t n = bw_addr_format(a, buf, size);
	CHECK_EQ_INT(n, strlen(buf));
}

static void test_inet(void)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
	struct bw_addr a;
	char buf[128], raw[sizeof(in) + 1];

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in, sizeof(in), &a), 0);
	CHECK_EQ_INT(a.family, AF_INET);
	CHECK_EQ_INT(a.port, 8080);
	CHECK_MEMEQ(a.ip, "\x7f\x00\x00\x01", 4);
	CHECK(!bw_addr_is_wildcard(&a));
	CHECK(!bw_addr_is_v4mapped(&a));
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "127.0.0.1:8080");
	bw_addr_format_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "127.0.0.1");

	/* The caller's buffer need not be aligned. */
	memcpy(raw + 1, &in, sizeof(in));
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)(void *)(raw + 1), sizeof(in), &a), 0);
	CHECK_EQ_INT(a.port, 8080);

	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in, sizeof(in) - 1, &a), -EINVAL);

	in.sin_addr.s_addr = htonl(INADDR_ANY);
	in.sin_port = htons(0);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in, sizeof(in), &a), 0);
	CHECK(bw_addr_is_wildcard(&a));
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "0.0.0.0:0");
	bw_addr_format_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "0.0.0.0");
}

static void test_inet6(void)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	struct bw_addr a;
	char buf[128];

	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), 0);
	CHECK_EQ_INT(a.family, AF_INET6);
	CHECK_EQ_INT(a.port, 443);
	CHECK_MEMEQ(a.ip, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "[::1]:443");

	/* SIN6_LEN_RFC2133: 24 bytes, no sin6_scope_id; the kernel takes it. */
	memset(&a, 0xa5, sizeof(a));
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, 24, &a), 0);
	CHECK_EQ_INT(a.family, AF_INET6);
	CHECK_EQ_INT(a.port, 443);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "[::1]:443");
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, 23, &a), -EINVAL);

	inet_pton(AF_INET6, "::", &in6.sin6_addr);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), 0);
	CHECK(bw_addr_is_wildcard(&a));
	bw_addr_format_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "::");

	inet_pton(AF_INET6, "::ffff:1.2.3.4", &in6.sin6_addr);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), 0);
	CHECK(bw_addr_is_v4mapped(&a));
	CHECK(!bw_addr_is_wildcard(&a));
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "[::ffff:1.2.3.4]:443");
}

/* A sockaddr_un with room past sun_path so addrlen can exceed the struct. */
struct big_un {
	sa_family_t family;
	char path[200];
};

static void test_unix(void)
{
	struct big_un u;
	struct bw_addr a;
	char buf[512], want[BW_UNIX_PATH_MAX + 1];

	memset(&u, 0, sizeof(u));
	u.family = AF_UNIX;
	strcpy(u.path, "/run/x.sock");

	/* With the trailing NUL counted in addrlen. */
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, (socklen_t)(UN_OFF + 12), &a), 0);
	CHECK_EQ_INT(a.family, AF_UNIX);
	CHECK(!a.abstract);
	CHECK_EQ_INT(a.path_len, 11);
	CHECK_STREQ(a.path, "/run/x.sock");
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "/run/x.sock");

	/* Without it: addrlen ends right after the last byte of the path. */
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, (socklen_t)(UN_OFF + 11), &a), 0);
	CHECK_EQ_INT(a.path_len, 11);
	CHECK_STREQ(a.path, "/run/x.sock");

	/* sizeof(struct sockaddr_un), garbage after the NUL: the kernel stops at the NUL. */
	memset(u.path + 12, 'Z', 40);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, sizeof(struct sockaddr_un), &a), 0);
	CHECK_EQ_INT(a.path_len, 11);
	CHECK_STREQ(a.path, "/run/x.sock");

	/* addrlen cuts the path short: only the bytes inside addrlen count. */
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, (socklen_t)(UN_OFF + 4), &a), 0);
	CHECK_EQ_INT(a.path_len, 4);
	CHECK_STREQ(a.path, "/run");

	/* A path filling all 108 bytes, no NUL before addrlen. */
	memset(u.path, 'p', sizeof(u.path));
	u.path[0] = '/';
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, sizeof(struct sockaddr_un), &a), 0);
	CHECK_EQ_INT(a.path_len, BW_UNIX_PATH_MAX);
	CHECK_EQ_INT(strlen(a.path), BW_UNIX_PATH_MAX);
	memset(want, 'p', BW_UNIX_PATH_MAX);
	want[0] = '/';
	want[BW_UNIX_PATH_MAX] = '\0';
	CHECK_STREQ(a.path, want);
	/* addrlen past sizeof(sockaddr_un) reads no more than 108 bytes of path. */
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, sizeof(u), &a), 0);
	CHECK_EQ_INT(a.path_len, BW_UNIX_PATH_MAX);

	/* Abstract, NULs inside the name: every byte up to addrlen counts. */
	memset(&u, 0, sizeof(u));
	u.family = AF_UNIX;
	memcpy(u.path, "\0bw\0x", 5);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, (socklen_t)(UN_OFF + 5), &a), 0);
	CHECK(a.abstract);
	CHECK_EQ_INT(a.path_len, 4);
	CHECK_MEMEQ(a.path, "bw\0x", 5);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "@bw\\x00x");

	/* Abstract with trailing NULs up to addrlen: they are part of the name. */
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, (socklen_t)(UN_OFF + 7), &a), 0);
	CHECK_EQ_INT(a.path_len, 6);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "@bw\\x00x\\x00\\x00");

	/* Control bytes in a path are escaped too. */
	memset(&u, 0, sizeof(u));
	u.family = AF_UNIX;
	strcpy(u.path, "/tmp/a\x1b[31m\\b");
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, sizeof(struct sockaddr_un), &a), 0);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "/tmp/a\\x1b[31m\\x5cb");

	/* addrlen == sizeof(sa_family_t): an unnamed socket (autobind). */
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&u, sizeof(sa_family_t), &a), 0);
	CHECK_EQ_INT(a.family, AF_UNIX);
	CHECK_EQ_INT(a.path_len, 0);
	CHECK(!a.abstract);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "(unnamed)");
}

static void test_bad_input(void)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr sa = {.sa_family = 17 /* AF_PACKET */};
	struct bw_addr a, sentinel;
	char buf[64];

	/* Failure leaves *ret untouched (ret_ params are written only on success). */
	memset(&sentinel, 0x5a, sizeof(sentinel));
	a = sentinel;
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in, 1, &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in, 0, &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_from_sockaddr(NULL, sizeof(in), &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in, 8, &a), -EINVAL);
	CHECK(memcmp(&a, &sentinel, sizeof(a)) == 0);

	/* Unknown family: decoded as far as the family, formatted as such. */
	CHECK_EQ_INT(bw_addr_from_sockaddr(&sa, sizeof(sa), &a), 0);
	CHECK_EQ_INT(a.family, 17);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "(family 17)");
	CHECK_STREQ(bw_family_name(17), "unknown");
}

static void test_format_bounds(void)
{
	struct bw_addr a;
	char buf[16];

	CHECK_EQ_INT(bw_addr_parse("127.0.0.1:8080", &a), 0);
	memset(buf, 'X', sizeof(buf));
	CHECK_EQ_INT(bw_addr_format(&a, buf, 5), 4);
	CHECK_STREQ(buf, "127.");
	CHECK(buf[5] == 'X');
	memset(buf, 'X', sizeof(buf));
	CHECK_EQ_INT(bw_addr_format(&a, buf, 1), 0);
	CHECK_EQ_INT(buf[0], '\0');
	CHECK(buf[1] == 'X');
	buf[0] = 'Y';
	CHECK_EQ_INT(bw_addr_format(&a, buf, 0), 0);
	CHECK(buf[0] == 'Y');

	CHECK_EQ_INT(bw_addr_parse("4000", &a), 0);
	bw_addr_format(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "*:4000");
	bw_addr_format_ip(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "*");
}

static void parse_ok(const char *s, int family, const char *ip, unsigned port)
{
	struct bw_addr a;
	uint8_t want[16] = {0};
	int r = bw_addr_parse(s, &a);
	CHECK_EQ_INT(r, 0);
	if (r != 0) {
		fprintf(stderr, "  (input ");
		check_print_str(s);
		fprintf(stderr, ")\n");
		return;
	}
	CHECK_EQ_INT(a.family, family);
	CHECK_EQ_INT(a.port, port);
	if (family == AF_INET)
		inet_pton(AF_INET, ip, want);
	else if (family == AF_INET6)
		inet_pton(AF_INET6, ip, want);
	CHECK_MEMEQ(a.ip, want, 16);
}

static void parse_bad(const char *s)
{
	struct bw_addr a, sentinel;
	int r;
	memset(&sentinel, 0x5a, sizeof(sentinel));
	a = sentinel;
	r = bw_addr_parse(s, &a);
	CHECK_EQ_INT(r, -EINVAL);
	CHECK(memcmp(&a, &sentinel, sizeof(a)) == 0);
	if (r != -EINVAL) {
		fprintf(stderr, "  (input ");
		check_print_str(s);
		fprintf(stderr, ")\n");
	}
}

static void test_parse(void)
{
	struct bw_addr a;
	char longp[BW_UNIX_PATH_MAX + 3];

	parse_ok("8080", AF_UNSPEC, NULL, 8080);
	parse_ok("0", AF_UNSPEC, NULL, 0);
	parse_ok("65535", AF_UNSPEC, NULL, 65535);
	parse_ok("127.0.0.1:80", AF_INET, "127.0.0.1", 80);
	parse_ok("0.0.0.0:443", AF_INET, "0.0.0.0", 443);
	parse_ok("*:22", AF_UNSPEC, NULL, 22);
	parse_ok("[::1]:80", AF_INET6, "::1", 80);
	parse_ok("[::]:8443", AF_INET6, "::", 8443);
	parse_ok("[::ffff:10.0.0.1]:53", AF_INET6, "::ffff:10.0.0.1", 53);

	CHECK_EQ_INT(bw_addr_parse("/run/x", &a), 0);
	CHECK_EQ_INT(a.family, AF_UNIX);
	CHECK(!a.abstract);
	CHECK_EQ_INT(a.path_len, 6);
	CHECK_STREQ(a.path, "/run/x");

	CHECK_EQ_INT(bw_addr_parse("@name", &a), 0);
	CHECK_EQ_INT(a.family, AF_UNIX);
	CHECK(a.abstract);
	CHECK_EQ_INT(a.path_len, 4);
	CHECK_STREQ(a.path, "name");

	/* The longest names the kernel takes: 108 bytes of path, 107 of abstract name. */
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[BW_UNIX_PATH_MAX] = '\0';
	CHECK_EQ_INT(bw_addr_parse(longp, &a), 0);
	CHECK_EQ_INT(a.path_len, BW_UNIX_PATH_MAX);
	longp[BW_UNIX_PATH_MAX] = 'a';
	longp[BW_UNIX_PATH_MAX + 1] = '\0';
	parse_bad(longp);
	longp[0] = '@';
	longp[BW_UNIX_PATH_MAX] = '\0';
	CHECK_EQ_INT(bw_addr_parse(longp, &a), 0);
	CHECK_EQ_INT(a.path_len, BW_UNIX_PATH_MAX - 1);
	longp[BW_UNIX_PATH_MAX] = 'a';
	parse_bad(longp);

	parse_bad("65536");
	parse_bad("");
	parse_bad(NULL);
	parse_bad("1.2.3.4");
	parse_bad("[::1]80");
	parse_bad("abc:80");
	parse_bad("-1");
	parse_bad("+80");
	parse_bad(" 80");
	parse_bad("80 ");
	parse_bad("80x");
	parse_bad("127.0.0.1:");
	parse_bad("127.0.0.1:65536");
	parse_bad("127.0.0.1:-1");
	parse_bad(":80");
	parse_bad("[::1]:");
	parse_bad("[::1");
	parse_bad("[zz]:80");
	parse_bad("[1.2.3.4]:80");
	parse_bad("::1:80");
	parse_bad("999999999999999999999999");
}

static void test_names(void)
{
	CHECK_STREQ(bw_proto_name(BW_PROTO_TCP), "tcp");
	CHECK_STREQ(bw_proto_name(BW_PROTO_UDP), "udp");
	CHECK_STREQ(bw_proto_name(BW_PROTO_UNIX_STREAM), "unix_stream");
	CHECK_STREQ(bw_proto_name(BW_PROTO_UNIX_DGRAM), "unix_dgram");
	CHECK_EQ_INT(bw_unix_proto(SOCK_DGRAM), BW_PROTO_UNIX_DGRAM);
	CHECK_EQ_INT(bw_unix_proto(SOCK_SEQPACKET), BW_PROTO_UNIX_SEQPACKET);
	CHECK_EQ_INT(bw_unix_proto(SOCK_STREAM), BW_PROTO_UNIX_STREAM);
	CHECK_EQ_INT(bw_unix_proto(0), BW_PROTO_UNIX_STREAM);
	for (int t = SOCK_STREAM; t <= SOCK_SEQPACKET; t++)
		if (t != SOCK_RAW && t != SOCK_RDM)
			CHECK_EQ_INT(bw_unix_type(bw_unix_proto(t)), t);
	CHECK_STREQ(bw_proto_name(BW_PROTO_UNIX_SEQPACKET), "unix_seqpacket");
	CHECK_STREQ(bw_proto_name(BW_PROTO_UNKNOWN), "unknown");
	CHECK_STREQ(bw_family_name(AF_INET), "inet");
	CHECK_STREQ(bw_family_name(AF_INET6), "inet6");
	CHECK_STREQ(bw_family_name(AF_UNIX), "unix");
}

/* The address with its protocol: IP "ADDR:PORT/PROTO", unix the type
 * first, as ss -x and a reader put it (not "PATH/unix_stream"). */
static void test_format_proto(void)
{
	struct bw_addr a;
	char out[BW_ADDR_TEXT_MAX + 16];

	CHECK_EQ_INT(bw_addr_parse("127.0.0.1:80", &a), 0);
	a.proto = BW_PROTO_TCP;
	bw_addr_format_proto(&a, out, sizeof(out));
	CHECK_STREQ(out, "127.0.0.1:80/tcp");
	a.proto = BW_PROTO_UNKNOWN;
	bw_addr_format_proto(&a, out, sizeof(out));
	CHECK_STREQ(out, "127.0.0.1:80");
	CHECK_EQ_INT(bw_addr_parse("/run/x.sock", &a), 0);
	a.proto = BW_PROTO_UNIX_STREAM;
	bw_addr_format_proto(&a, out, sizeof(out));
	CHECK_STREQ(out, "unix_stream /run/x.sock");
	CHECK_EQ_INT(bw_addr_parse("@name", &a), 0);
	a.proto = BW_PROTO_UNIX_DGRAM;
	bw_addr_format_proto(&a, out, sizeof(out));
	CHECK_STREQ(out, "unix_dgram @name");
	a.proto = BW_PROTO_UNKNOWN;
	CHECK_EQ_INT((int)bw_addr_format_proto(&a, out, sizeof(out)), 10);
	CHECK_STREQ(out, "unix @name");
}

/* Devices: ss(8)'s "ADDR%DEV:PORT" and "[V6]%DEV:PORT", RFC 4007's
 * "[V6%DEV]:PORT", printed back as ss prints them; a link-local sockaddr's
 * scope id is the socket's device. */
static void test_devices(void)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	struct bw_addr a;
	char buf[128];

	CHECK_EQ_INT(bw_addr_parse("127.0.0.1%lo:8000", &a), 0);
	CHECK_EQ_INT(a.family, AF_INET);
	CHECK_STREQ(a.dev, "lo");
	CHECK_EQ_INT(a.port, 8000);
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "127.0.0.1%lo:8000");
	CHECK_EQ_INT(bw_addr_parse("[fe80::1%d0]:8001", &a), 0);
	CHECK_EQ_INT(a.family, AF_INET6);
	CHECK_STREQ(a.dev, "d0");
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "[fe80::1]%d0:8001");
	CHECK_EQ_INT(bw_addr_parse("[fe80::1]%d0:8001", &a), 0);
	CHECK_STREQ(a.dev, "d0");
	CHECK_EQ_INT(a.port, 8001);
	CHECK_EQ_INT(bw_addr_parse("*%eth0:53", &a), 0);
	CHECK_EQ_INT(a.family, AF_UNSPEC);
	CHECK_STREQ(a.dev, "eth0");
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "*%eth0:53");
	/* Not a device name the kernel takes (dev_valid_name()). */
	CHECK_EQ_INT(bw_addr_parse("127.0.0.1%:80", &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_parse("127.0.0.1%a/b:80", &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_parse("127.0.0.1%0123456789abcdef:80", &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_parse("[fe80::1%d0]%d1:80", &a), -EINVAL);
	CHECK_EQ_INT(bw_addr_parse("[fe80::1%d0]", &a), -EINVAL);
	/* Only an index known: ss's "if%u". */
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.dev_if = 7;
	fmt(&a, buf, sizeof(buf));
	CHECK_STREQ(buf, "0.0.0.0%if7:0");
	inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
	in6.sin6_scope_id = 3;
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), 0);
	CHECK_EQ_INT(a.dev_if, 3);
	CHECK(bw_addr_is_linklocal(&a));
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), 0);
	CHECK_EQ_INT(a.dev_if, 0); /* a scope id means nothing for a global address */
	inet_pton(AF_INET6, "ff02::fb", &in6.sin6_addr);
	CHECK_EQ_INT(bw_addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), 0);
	CHECK_EQ_INT(a.dev_if, 3);
}

int main(void)
{
	test_devices();
	test_inet();
	test_inet6();
	test_unix();
	test_bad_input();
	test_format_bounds();
	test_parse();
	test_names();
	test_format_proto();
	return check_done("addr");
}
