/* fdhog: a benchmark fixture process. Opens F descriptors (half of them
 * sockets, so every tool has real sockets to sift through), optionally
 * listens on a TCP port, reports "ready" on stdout and sleeps until killed.
 * Usage: fdhog FDS [PORT] */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fds = argc > 1 ? atoi(argv[1]) : 100;
	int port = argc > 2 ? atoi(argv[2]) : 0;

	for (int i = 0; i < fds; i++) {
		int fd = i % 2 ? socket(AF_UNIX, SOCK_DGRAM, 0) : open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 1;
	}
	if (port > 0) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int s = socket(AF_INET, SOCK_STREAM, 0);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s, 8) < 0)
			return 2;
	}
	printf("ready\n");
	fflush(stdout);
	fclose(stdout);
	for (;;)
		pause();
}
