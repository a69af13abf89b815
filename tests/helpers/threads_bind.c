/* threads_bind: binds and listens from several threads at once, for
 * bindwatch --supervise, which must serve every thread. Built static by
 * tests/integration/supervise.bats. Usage:
 *   threads_bind [-x MS] ADDR PORT...
 * One thread per PORT (TCP, IPv4, no SO_REUSEADDR); all start together.
 * When all are done, one line per thread in argument order:
 *   "PORT bind=R errno=E local=L listen=R errno=E"
 * (local: the port getsockname() reports after bind). -x MS: the main
 * thread instead waits MS ms and ends the process with _exit(3), whatever
 * the threads are doing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define THREADS_MAX 32

struct job {
	pthread_t thread;
	const char *addr;
	int port;
	int bind_r, bind_errno, local, listen_r, listen_errno;
};

static pthread_barrier_t start;

static void *run(void *arg)
{
	struct job *j = arg;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)j->port)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, j->addr, &sin.sin_addr);
	pthread_barrier_wait(&start);
	errno = 0;
	j->bind_r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	j->bind_errno = j->bind_r < 0 ? errno : 0;
	j->listen_r = -1;
	if (j->bind_r == 0) {
		if (getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
			j->local = ntohs(sin.sin_port);
		errno = 0;
		j->listen_r = listen(fd, 8);
		j->listen_errno = j->listen_r < 0 ? errno : 0;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[THREADS_MAX];
	long exit_ms = -1;
	int opt, n;

	while ((opt = getopt(argc, argv, "x:")) != -1) {
		if (opt != 'x')
			return 64;
		exit_ms = atol(optarg);
	}
	n = argc - optind - 1;
	if (n < 1 || n > THREADS_MAX)
		return 64;
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].addr = argv[optind];
		jobs[i].port = atoi(argv[optind + 1 + i]);
		if (pthread_create(&jobs[i].thread, NULL, run, &jobs[i]) != 0)
			return 65;
	}
	if (exit_ms >= 0) {
		struct timespec ts = {exit_ms / 1000, (exit_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		_exit(3);
	}
	for (int i = 0; i < n; i++)
		pthread_join(jobs[i].thread, NULL);
	for (int i = 0; i < n; i++)
		printf("%d bind=%d errno=%d local=%d listen=%d errno=%d\n", jobs[i].port, jobs[i].bind_r,
		       jobs[i].bind_errno, jobs[i].local, jobs[i].listen_r, jobs[i].listen_errno);
	return 0;
}
