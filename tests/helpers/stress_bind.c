/* stress_bind: many threads binding at once, for the shim's concurrency
 * tests (tests/integration/hardening.bats). Usage:
 *   stress_bind [-t THREADS] [-e EVERY] PORT [N]
 * THREADS threads (default 32, at most 256) start together behind a
 * barrier; each makes N binds (default 10000) of a fresh TCP socket: every
 * EVERY-th (default 10) to 127.0.0.1:PORT, which the caller holds (expect
 * EADDRINUSE), the others to 127.0.0.1:0 (expect success). Prints one line
 *   threads=T binds=B conflicts=C ok=S other=O
 * (other: any other outcome; the first one is described on stderr) and
 * exits 0 iff every bind got the expected answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define THREADS_MAX 256

static pthread_barrier_t start;
static unsigned short taken_port;
static long per_thread = 10000, every = 10;
static atomic_long n_conflicts, n_ok, n_other;
static atomic_flag described = ATOMIC_FLAG_INIT;

static void other(long i, int taken, int r, int e)
{
	atomic_fetch_add(&n_other, 1);
	if (!atomic_flag_test_and_set(&described))
		fprintf(stderr, "stress_bind: bind #%ld to port %s: ret=%d errno=%d\n", i,
			taken ? "taken" : "0", r, e);
}

static void *run(void *arg)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	(void)arg;
	pthread_barrier_wait(&start);
	for (long i = 0; i < per_thread; i++) {
		int taken = i % every == 0;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r, e;
		if (fd < 0) {
			other(i, taken, fd, errno);
			continue;
		}
		sin.sin_port = htons(taken ? taken_port : 0);
		errno = 0;
		r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		e = errno;
		if (taken && r == -1 && e == EADDRINUSE)
			atomic_fetch_add(&n_conflicts, 1);
		else if (!taken && r == 0)
			atomic_fetch_add(&n_ok, 1);
		else
			other(i, taken, r, e);
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[THREADS_MAX];
	long threads = 32;
	int opt;

	while ((opt = getopt(argc, argv, "t:e:")) != -1) {
		switch (opt) {
		case 't': threads = atol(optarg); break;
		case 'e': every = atol(optarg); break;
		default: return 64;
		}
	}
	if (argc - optind < 1 || argc - optind > 2 || threads < 1 || threads > THREADS_MAX ||
	    every < 1)
		return 64;
	taken_port = (unsigned short)atoi(argv[optind]);
	if (argc - optind == 2)
		per_thread = atol(argv[optind + 1]);
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (long t = 0; t < threads; t++)
		if (pthread_create(&th[t], NULL, run, NULL) != 0)
			return 65;
	for (long t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	printf("threads=%ld binds=%ld conflicts=%ld ok=%ld other=%ld\n", threads,
	       threads * per_thread, atomic_load(&n_conflicts), atomic_load(&n_ok),
	       atomic_load(&n_other));
	return atomic_load(&n_other) == 0 &&
			       atomic_load(&n_conflicts) == threads * ((per_thread + every - 1) / every)
		       ? 0
		       : 1;
}
