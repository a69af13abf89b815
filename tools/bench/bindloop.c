/* bindloop: the shim's success path in isolation. N times: socket, bind
 * to 127.0.0.1:0, close. Prints ns per iteration. Usage: bindloop N */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timespec t0, t1;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		/* bind() on one socket repeatedly fails EINVAL after the first:
		 * measure the full success path instead with fresh sockets. */
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
			return 1;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(s);
	printf("%.1f ns/iter\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
	return 0;
}
