/* eintrflood: the program of tools/bench/eintr. Makes N binds of a new
 * TCP socket to 127.0.0.1:0, each followed by listen(), with a SIGUSR1
 * handler installed without SA_RESTART, and counts their answers. Prints
 * "pid P" first, then "ok O eintr E other X signals S".
 * Usage: eintrflood N */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t signals;

static void on_usr1(int sig)
{
	(void)sig;
	signals++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
	long n = argc > 1 ? atol(argv[1]) : 30000, ok = 0, eintr = 0, other = 0;

	sigaction(SIGUSR1, &sa, NULL);
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
		if (r == 0)
			r = listen(fd, 1);
		if (r == 0)
			ok++;
		else if (errno == EINTR)
			eintr++;
		else
			other++;
		close(fd);
	}
	printf("ok %ld eintr %ld other %ld signals %ld\n", ok, eintr, other, (long)signals);
	return 0;
}
