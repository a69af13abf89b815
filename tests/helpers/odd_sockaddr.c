/* odd_sockaddr: bind() with unusual addresses and lengths, for
 * tests/integration/hardening.bats, which compares the output with and
 * without the shim. Usage:
 *   odd_sockaddr PORT DIR
 * PORT: a TCP port on 127.0.0.1 the caller holds. DIR: an empty directory
 * for AF_UNIX path names (made the working directory). Each case prints
 *   NAME: ret=R errno=E
 * Every address is copied so that its last byte (at addrlen) is the last
 * byte before a PROT_NONE page: reading past addrlen faults at once, in a
 * plain build too. Sockets this program binds itself (to make a name
 * taken) stay open until exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static unsigned char *page_end; /* first byte of the PROT_NONE page */

/* A copy of len bytes of src ending right before the guard page. */
static const struct sockaddr *at_edge(const void *src, size_t len)
{
	unsigned char *p = page_end - len;
	memcpy(p, src, len);
	return (const struct sockaddr *)p;
}

static void show(const char *name, int fd, const void *sa, size_t copy, socklen_t len)
{
	const struct sockaddr *p = sa ? at_edge(sa, copy) : NULL;
	int r, e;
	errno = 0;
	r = bind(fd, p, len);
	e = errno;
	printf("%s: ret=%d errno=%d\n", name, r, r < 0 ? e : 0);
	fflush(stdout);
}

static int sock(int family, int type)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		exit(65);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	unsigned char big[sizeof(struct sockaddr_storage) + 100];
	static const char abstract[] = "\0bw\0odd\x01\xff\\name";
	socklen_t un_off = offsetof(struct sockaddr_un, sun_path);
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *map;
	int pipefd[2];

	if (argc != 3 || chdir(argv[2]) < 0)
		return 64;
	map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || mprotect(map + pg, (size_t)pg, PROT_NONE) < 0)
		return 66;
	page_end = map + pg;
	in4.sin_port = htons((unsigned short)atoi(argv[1]));

	/* Lengths. */
	show("inet len 0", sock(AF_INET, SOCK_STREAM), &in4, sizeof(in4), 0);
	show("inet len 2", sock(AF_INET, SOCK_STREAM), &in4, 2, 2);
	show("inet len 15", sock(AF_INET, SOCK_STREAM), &in4, 15, 15);
	show("inet taken len 16", sock(AF_INET, SOCK_STREAM), &in4, sizeof(in4), sizeof(in4));
	/* Odd length: the address starts on an odd byte, too. */
	memset(big, 0, sizeof(big));
	memcpy(big, &in4, sizeof(in4));
	show("inet taken len 17 unaligned", sock(AF_INET, SOCK_STREAM), big, 17, 17);
	show("inet taken len 128", sock(AF_INET, SOCK_STREAM), big, sizeof(struct sockaddr_storage),
	     sizeof(struct sockaddr_storage));
	show("inet taken len storage+100", sock(AF_INET, SOCK_STREAM), big, sizeof(big), sizeof(big));
	show("inet6 len 8", sock(AF_INET6, SOCK_STREAM), &in6, 8, 8);
	show("inet6 len 23", sock(AF_INET6, SOCK_STREAM), &in6, 23, 23);
	show("NULL len 0", sock(AF_INET, SOCK_STREAM), NULL, 0, 0);
	show("NULL len 16", sock(AF_INET, SOCK_STREAM), NULL, 0, 16);
	show("unix NULL len 0", sock(AF_UNIX, SOCK_STREAM), NULL, 0, 0);

	/* Families. */
	show("inet6 address on inet socket", sock(AF_INET, SOCK_STREAM), &in6, sizeof(in6),
	     sizeof(in6));
	show("inet address on inet6 socket", sock(AF_INET6, SOCK_STREAM), &in4, sizeof(in4),
	     sizeof(in4));
	show("unix address on inet socket", sock(AF_INET, SOCK_STREAM), &un, un_off + 2, un_off + 2);
	show("inet address on unix socket", sock(AF_UNIX, SOCK_STREAM), &in4, sizeof(in4),
	     sizeof(in4));
	{
		struct sockaddr sa = {.sa_family = 4242};
		show("unknown family on inet socket", sock(AF_INET, SOCK_STREAM), &sa, sizeof(sa),
		     sizeof(sa));
	}
	if (pipe(pipefd) < 0)
		return 66;
	show("pipe fd (ENOTSOCK)", pipefd[0], &in4, sizeof(in4), sizeof(in4));
	show("closed fd (EBADF)", 1000, &in4, sizeof(in4), sizeof(in4));

	/* AF_UNIX names. */
	show("unix autobind len 2", sock(AF_UNIX, SOCK_STREAM), &un, un_off, un_off);
	memset(un.sun_path, 'p', sizeof(un.sun_path)); /* 108 bytes, no NUL */
	show("unix path 108 no NUL", sock(AF_UNIX, SOCK_STREAM), &un, sizeof(un), sizeof(un));
	show("unix path 108 no NUL taken", sock(AF_UNIX, SOCK_STREAM), &un, sizeof(un),
	     sizeof(un));
	show("unix path len 109 (too long)", sock(AF_UNIX, SOCK_STREAM), big, sizeof(un) + 1,
	     sizeof(un) + 1);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, abstract, sizeof(abstract) - 1);
	show("unix abstract with NULs", sock(AF_UNIX, SOCK_STREAM), &un,
	     un_off + sizeof(abstract) - 1, un_off + sizeof(abstract) - 1);
	show("unix abstract with NULs taken", sock(AF_UNIX, SOCK_STREAM), &un,
	     un_off + sizeof(abstract) - 1, un_off + sizeof(abstract) - 1);
	show("unix abstract with NULs taken dgram", sock(AF_UNIX, SOCK_DGRAM), &un,
	     un_off + sizeof(abstract) - 1, un_off + sizeof(abstract) - 1);
	/* The same name with trailing NULs up to 108 bytes is another name. */
	show("unix abstract padded", sock(AF_UNIX, SOCK_STREAM), &un, sizeof(un), sizeof(un));
	show("unix abstract padded taken", sock(AF_UNIX, SOCK_STREAM), &un, sizeof(un),
	     sizeof(un));
	return 0;
}
