/* sig_wait: takes signals, then binds, for the signal-forwarding test of
 * tests/integration/supervise.bats. Usage:
 *   sig_wait PORT SIG...
 * blocks each signal number SIG, prints "ready", then waits for them
 * (sigwaitinfo(2)) until each has come once, printing "sig=N" and making
 * a TCP bind to 127.0.0.1:0 after each ("sig=N bind=R errno=E"). Then
 * binds 127.0.0.1:PORT and prints "bind=R errno=E". Exits 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int bind_port(unsigned short port, int *err)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	*err = r < 0 ? errno : 0;
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int left = argc - 2, r, e;

	if (argc < 3)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	sigemptyset(&set);
	for (int i = 2; i < argc; i++)
		sigaddset(&set, atoi(argv[i]));
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	while (left > 0) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig < 0)
			continue;
		sigdelset(&set, sig);
		left--;
		r = bind_port(0, &e);
		printf("sig=%d bind=%d errno=%d\n", sig, r, e);
	}
	r = bind_port((unsigned short)atoi(argv[1]), &e);
	printf("bind=%d errno=%d\n", r, e);
	return 0;
}
