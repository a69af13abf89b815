/* conflict_probe: binds (and optionally listens on) an address and prints
 * the exact return value and errno, so a test can compare a run with and
 * without the shim. Usage:
 *   conflict_probe [-u] [-6] [-r] [-l] [-p] [-V 0|1] [-w] ADDR PORT
 *     -u UDP, -6 IPv6, -r SO_REUSEADDR, -l listen after bind,
 *     -p wait for a line on stdin between bind and listen (a listen()-time
 *        conflict needs both sockets bound before the other one listens),
 *     -V set IPV6_V6ONLY, -w wait for a line on stdin before exiting. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int udp = 0, v6 = 0, reuse = 0, do_listen = 0, v6only = -1, wait_stdin = 0, pause = 0, opt;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r, e;

	while ((opt = getopt(argc, argv, "u6rlpV:w")) != -1) {
		switch (opt) {
		case 'u': udp = 1; break;
		case '6': v6 = 1; break;
		case 'r': reuse = 1; break;
		case 'l': do_listen = 1; break;
		case 'V': v6only = atoi(optarg); break;
		case 'w': wait_stdin = 1; break;
		case 'p': pause = 1; break;
		default: return 64;
		}
	}
	if (argc - optind != 2)
		return 64;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(argv[optind + 1]));
		if (inet_pton(AF_INET6, argv[optind], &s6->sin6_addr) != 1)
			return 64;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)atoi(argv[optind + 1]));
		if (inet_pton(AF_INET, argv[optind], &s4->sin_addr) != 1)
			return 64;
		len = sizeof(*s4);
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		return 65;
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
	if (v6 && v6only >= 0)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(int));
	errno = 0;
	r = bind(fd, (struct sockaddr *)&ss, len);
	e = errno;
	printf("bind=%d errno=%d\n", r, r < 0 ? e : 0);
	if (r == 0 && do_listen) {
		if (pause) {
			char line[16];
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				return 66;
		}
		errno = 0;
		r = listen(fd, 16);
		e = errno;
		printf("listen=%d errno=%d\n", r, r < 0 ? e : 0);
	}
	fflush(stdout);
	if (wait_stdin) {
		char line[16];
		if (!fgets(line, sizeof(line), stdin)) {
		}
	}
	return r == 0 ? 0 : 1;
}
