/* intr_bind: binds while signals arrive, for the supervisor's "one result
 * per call" tests (tests/integration/supervise.bats; built static there).
 * Usage:
 *   intr_bind [-R] [-t MS] [-n COUNT] [-T] [-H|-J] [-w] [-P] ADDR PORT
 *     -t MS     SIGALRM every MS ms (setitimer), COUNT times (default 1)
 *     -R        handlers with SA_RESTART (default: without)
 *     -T        a SIGTERM handler too (default: SIGTERM kills)
 *     -H        a SIGUSR1 handler that returns only after a line on stdin
 *     -J        a SIGUSR1 handler that siglongjmp()s out of the first bind:
 *               "jumped", then, after a line on stdin, the same bind again
 *               from the same place (a new call, not a restart)
 *     -w        wait for a line on stdin before exiting
 *     -P        a second thread that only sleeps (pause()), blocking no
 *               signal: the bind is made by the main thread of a
 *               multi-threaded program (built with -pthread)
 * Each handler run prints "signal N". Then one TCP socket is bound to
 * ADDR:PORT once: "bind=R errno=E local=P alarms=A" (P: the bound port,
 * A: SIGALRM handler runs so far), and bound again to the same address:
 * "again=R errno=E" (the kernel's answer for a second bind of the socket). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, left;
static sigjmp_buf jump_to;

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void line_from_stdin(void)
{
	char c;
	while (read(0, &c, 1) == 1 && c != '\n')
		;
}

static void say(int sig)
{
	char line[16] = "signal ";
	size_t n = 7;
	if (sig >= 10)
		line[n++] = (char)('0' + sig / 10);
	line[n++] = (char)('0' + sig % 10);
	line[n++] = '\n';
	if (write(1, line, n) < 0) {
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGALRM) {
		alarms++;
		if (--left <= 0) {
			struct itimerval off = {{0, 0}, {0, 0}};
			setitimer(ITIMER_REAL, &off, NULL);
		}
	}
	say(sig);
	errno = saved;
}

static void on_hold(int sig)
{
	int saved = errno;
	say(sig);
	line_from_stdin();
	errno = saved;
}

static void on_jump(int sig)
{
	say(sig);
	siglongjmp(jump_to, 1);
}

int main(int argc, char **argv)
{
	int restart = 0, term = 0, ms = 0, usr1 = 0, thread = 0, opt, fd, r, e;
	volatile int wait_stdin = 0; /* read after a siglongjmp() */
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct sigaction sa;

	left = 1;
	while ((opt = getopt(argc, argv, "Rt:n:THJwP")) != -1) {
		switch (opt) {
		case 'R': restart = 1; break;
		case 't': ms = atoi(optarg); break;
		case 'n': left = atoi(optarg); break;
		case 'T': term = 1; break;
		case 'H': usr1 = 'H'; break;
		case 'J': usr1 = 'J'; break;
		case 'w': wait_stdin = 1; break;
		case 'P': thread = 1; break;
		default: return 64;
		}
	}
	if (argc - optind != 2 || inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		return 64;
	sin.sin_port = htons((unsigned short)atoi(argv[optind + 1]));
	setvbuf(stdout, NULL, _IONBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	if (term)
		sigaction(SIGTERM, &sa, NULL);
	if (usr1) {
		sa.sa_handler = usr1 == 'H' ? on_hold : on_jump;
		sigaction(SIGUSR1, &sa, NULL);
	}
	if (thread) {
		pthread_t t;
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			return 66;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 65;
	if (ms > 0) {
		struct itimerval it = {{ms / 1000, (ms % 1000) * 1000}, {ms / 1000, (ms % 1000) * 1000}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	if (usr1 == 'J' && sigsetjmp(jump_to, 1)) {
		if (write(1, "jumped\n", 7) < 0) {
		}
		line_from_stdin();
	}
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	e = errno;
	{
		struct sockaddr_in got = {0};
		getsockname(fd, (struct sockaddr *)&got, &sl);
		printf("bind=%d errno=%d local=%d alarms=%d\n", r, r < 0 ? e : 0, ntohs(got.sin_port),
		       (int)alarms);
	}
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	e = errno;
	printf("again=%d errno=%d\n", r, r < 0 ? e : 0);
	if (wait_stdin) {
		char line[16];
		if (!fgets(line, sizeof(line), stdin)) {
		}
	}
	return 0;
}
