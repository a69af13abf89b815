/* sigprobe: the target of tools/bench/sigdelay. A SIGUSR1 handler
 * (SA_RESTART) prints the CLOCK_MONOTONIC time it ran at ("<ns>\n", one
 * write); meanwhile one TCP bind to ADDR:PORT, held by someone else, waits
 * in bindwatch's wait:N. Prints "bind=R errno=E" when the bind returns.
 * Usage: sigprobe ADDR PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int sig)
{
	struct timespec t;
	char line[32];
	int saved = errno, n;
	(void)sig;
	clock_gettime(CLOCK_MONOTONIC, &t);
	n = snprintf(line, sizeof(line), "%lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
	if (write(1, line, (size_t)n) < 0) {
	}
	errno = saved;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sigaction sa;
	int fd, r;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		return 64;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 65;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	printf("bind=%d errno=%d\n", r, r < 0 ? errno : 0);
	return 0;
}
