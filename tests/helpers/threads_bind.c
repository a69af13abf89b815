/* threads_bind: binds and listens from several threads at once, for
 * bindwatch --supervise, which must serve every thread. Built static by
 * tests/integration/supervise.bats. Usage:
 *   threads_bind [-x MS] [-g] ADDR PORT...
 * One thread per PORT (TCP, IPv4, no SO_REUSEADDR); all start together.
 * When all are done, one line per thread in argument order:
 *   "PORT bind=R errno=E local=L listen=R errno=E"
 * (local: the port getsockname() reports after bind). -x MS: the main
 * thread instead waits MS ms and ends the process with _exit(3), whatever
 * the threads are doing. -g: the first thread starts at once, each
 * further one when a line arrives on stdin, and each writes its line as
 * soon as its listen() returned (one write(2)); every socket stays open
 * until all are done. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define THREADS_MAX 80

struct job {
	pthread_t thread;
	const char *addr;
	int port;
	int bind_r, bind_errno, local, listen_r, listen_errno;
	sem_t go;                 /* -g: released by main */
};

static pthread_barrier_t start;
static bool each;                 /* -g */

static void say(const struct job *j)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%d bind=%d errno=%d local=%d listen=%d errno=%d\n",
			 j->port, j->bind_r, j->bind_errno, j->local, j->listen_r, j->listen_errno);
	if (write(1, line, (size_t)n) != n)
		_exit(66);
}

static void *run(void *arg)
{
	struct job *j = arg;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)j->port)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, j->addr, &sin.sin_addr);
	if (each)
		sem_wait(&j->go);
	else
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
	if (each)
		say(j);
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[THREADS_MAX];
	long exit_ms = -1;
	int opt, n;

	while ((opt = getopt(argc, argv, "x:g")) != -1) {
		if (opt == 'g')
			each = true;
		else if (opt == 'x')
			exit_ms = atol(optarg);
		else
			return 64;
	}
	n = argc - optind - 1;
	if (n < 1 || n > THREADS_MAX)
		return 64;
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].addr = argv[optind];
		jobs[i].port = atoi(argv[optind + 1 + i]);
		sem_init(&jobs[i].go, 0, 0);
		if (pthread_create(&jobs[i].thread, NULL, run, &jobs[i]) != 0)
			return 65;
	}
	if (each) {
		char line[64];
		for (int i = 0; i < n; i++) {
			if (i > 0 && !fgets(line, sizeof(line), stdin))
				return 67;
			sem_post(&jobs[i].go);
		}
		for (int i = 0; i < n; i++)
			pthread_join(jobs[i].thread, NULL);
		return 0;
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
