/* failbind: the shim's failure path in isolation. Binds a TCP socket to
 * 127.0.0.1:PORT (held by someone else), timing the bind() call alone -
 * under the shim that includes the diagnosis and the report written to
 * stderr. Prints "<ns> <errno>". Usage: failbind PORT */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timespec t0, t1;
	int s = socket(AF_INET, SOCK_STREAM, 0), r, e;

	if (argc < 2 || s < 0)
		return 2;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = bind(s, (struct sockaddr *)&sin, sizeof(sin));
	e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.0f %d\n", (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec), r < 0 ? e : 0);
	return 0;
}
