/* sig_bind: a SIGALRM handler that binds, interrupting a thread that is
 * inside malloc/free, for the shim's async-signal-safety test
 * (tests/integration/hardening.bats). Usage:
 *   sig_bind PORT [MS]
 * setitimer(ITIMER_REAL) fires every millisecond for MS ms (default 2000)
 * while the main thread loops on malloc/free of assorted sizes; each
 * SIGALRM makes a fresh TCP socket and binds it to 127.0.0.1:PORT, which
 * the caller holds. An idle second thread makes the process multi-threaded,
 * so glibc's malloc really takes its arena lock (a single-threaded process
 * skips it). Prints
 *   handler_calls=N eaddrinuse=M other=K loops=L
 * (other: a handler bind that did not return -1/EADDRINUSE; the first one
 * is described on stderr) and exits 0 iff N > 0 and K == 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static unsigned short taken_port;
static long end_ms;
static atomic_long calls, in_use, other;
static volatile sig_atomic_t first_r, first_errno, described;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_alarm(int sig)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(taken_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int saved = errno, fd, r, e;
	(void)sig;
	/* A handler slower than the timer would starve the main thread:
	 * past the end, let it run to its own check. */
	if (now_ms() >= end_ms)
		return;
	atomic_fetch_add(&calls, 1);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	e = errno;
	if (r == -1 && e == EADDRINUSE) {
		atomic_fetch_add(&in_use, 1);
	} else {
		atomic_fetch_add(&other, 1);
		if (!described) {
			first_r = r;
			first_errno = e;
			described = 1;
		}
	}
	if (fd >= 0)
		close(fd);
	errno = saved;
}

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct itimerval it = {.it_interval = {0, 1000}, .it_value = {0, 1000}};
	static void *keep[64];
	unsigned seed = 1;
	pthread_t idler;
	sigset_t block;
	long loops = 0;

	if (argc < 2 || argc > 3)
		return 64;
	taken_port = (unsigned short)atoi(argv[1]);
	end_ms = now_ms() + (argc == 3 ? atol(argv[2]) : 2000);
	/* The idle thread never takes SIGALRM: it must interrupt main. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (pthread_create(&idler, NULL, idle, NULL) != 0)
		return 65;
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0)
		return 65;
	while (now_ms() < end_ms) {
		/* Small and large (mmap'd) blocks, some kept for a while, so the
		 * signal lands inside malloc's locks and bookkeeping. */
		for (int i = 0; i < 64; i++) {
			size_t n = (size_t)(rand_r(&seed) % 4096) + 1;
			if (i % 16 == 0)
				n = 256 * 1024;
			void *p = malloc(n);
			if (!p)
				return 66;
			memset(p, i, n < 64 ? n : 64);
			free(keep[i]);
			keep[i] = p;
		}
		loops++;
	}
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	printf("handler_calls=%ld eaddrinuse=%ld other=%ld loops=%ld\n", atomic_load(&calls),
	       atomic_load(&in_use), atomic_load(&other), loops);
	if (described)
		fprintf(stderr, "sig_bind: first unexpected handler bind: ret=%d errno=%d\n",
			(int)first_r, (int)first_errno);
	return atomic_load(&calls) > 0 && atomic_load(&other) == 0 ? 0 : 1;
}
