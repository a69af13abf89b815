/* exact_probe: what a program sees of bind()/listen() when nothing should
 * differ from a run without the shim. Usage:
 *   exact_probe errno ADDR      bind ADDR:0 and listen with errno preset to
 *                               EXDEV; prints both results and errno after
 *                               each (success must leave errno alone)
 *   exact_probe efault          bind(fd, (void *)-1, 16): prints the result
 *   exact_probe reuse ADDR PORT bind ADDR:PORT, then prints SO_REUSEADDR */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in addr(const char *ip, const char *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		exit(64);
	return sin;
}

int main(int argc, char **argv)
{
	int fd, r, e, v = -1;
	socklen_t ol = sizeof(v);

	if (argc < 2)
		return 64;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 65;
	if (strcmp(argv[1], "errno") == 0 && argc == 3) {
		struct sockaddr_in sin = addr(argv[2], "0");
		errno = EXDEV;
		r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		e = errno;
		printf("bind=%d errno=%d\n", r, e);
		errno = EXDEV;
		r = listen(fd, 4);
		e = errno;
		printf("listen=%d errno=%d\n", r, e);
		return 0;
	}
	if (strcmp(argv[1], "efault") == 0) {
		errno = 0;
		r = bind(fd, (const struct sockaddr *)(void *)-1, 16);
		e = errno;
		printf("bind=%d errno=%d\n", r, r < 0 ? e : 0);
		return 0;
	}
	if (strcmp(argv[1], "reuse") == 0 && argc == 4) {
		struct sockaddr_in sin = addr(argv[2], argv[3]);
		errno = 0;
		r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		e = errno;
		getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &ol);
		printf("bind=%d errno=%d reuseaddr=%d\n", r, r < 0 ? e : 0, v);
		return 0;
	}
	return 64;
}
