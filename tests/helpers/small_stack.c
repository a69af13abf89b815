/* small_stack: binds a busy TCP port from places with little stack, for
 * the shim's stack budget (tests/integration/host.bats). Each mode prints
 * "bind=-1 errno=E" (or "bind=0") for the failing call, then:
 *   small_stack thread PORT    from a thread with a 32 KiB stack
 *   small_stack altstack PORT  from a SIGUSR1 handler on a 16 KiB
 *       sigaltstack; the 16 KiB on either side of it are painted before
 *       and checked after: prints "outside changed N" (bytes) and
 *       "altstack used N" (deepest byte written, from its top)
 *   small_stack peak PORT      from a thread on a painted 1 MiB stack:
 *       prints "peak N", the bytes of stack the bind() call used below
 *       the caller's frame (the deepest byte written).
 * Exit 0 unless the set-up itself failed (then 2). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAINT 0xa5
#define ALT_SIZE (16 * 1024)
#define AROUND (16 * 1024)
#define PEAK_STACK (1024 * 1024)

static int port;
static int result, result_errno;

static void do_bind(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	errno = 0;
	result = bind(fd, (struct sockaddr *)&a, sizeof(a));
	result_errno = errno;
	close(fd);
}

static void print_result(void)
{
	if (result == 0)
		printf("bind=0\n");
	else
		printf("bind=%d errno=%d\n", result, result_errno);
}

static void *thread_main(void *arg)
{
	(void)arg;
	do_bind();
	return NULL;
}

static int run_thread(size_t size, void *stack)
{
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	if ((stack ? pthread_attr_setstack(&attr, stack, size)
		   : pthread_attr_setstacksize(&attr, size)) != 0 ||
	    pthread_create(&t, &attr, thread_main, NULL) != 0)
		return 2;
	pthread_join(t, NULL);
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	do_bind();
}

static size_t changed(const unsigned char *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += p[i] != PAINT;
	return c;
}

/* Offset of the first byte (from the low end) that is no longer paint. */
static size_t first_used(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] == PAINT)
		i++;
	return i;
}

static int run_altstack(void)
{
	size_t total = AROUND + ALT_SIZE + AROUND;
	unsigned char *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = {0};
	struct sigaction sa;
	if (m == MAP_FAILED)
		return 2;
	memset(m, PAINT, total);
	ss.ss_sp = m + AROUND;
	ss.ss_size = ALT_SIZE;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	if (sigaltstack(&ss, NULL) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0)
		return 2;
	raise(SIGUSR1);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	print_result();
	printf("outside changed %zu\n", changed(m, AROUND) + changed(m + AROUND + ALT_SIZE, AROUND));
	printf("altstack used %zu\n", ALT_SIZE - first_used(m + AROUND, ALT_SIZE));
	return 0;
}

/* The peak: the thread's frame for thread_main is at the top; everything
 * below it that changed was written by bind() and what it called. */
static void *peak_main(void *arg)
{
	volatile unsigned char here = 0;
	uintptr_t *out = arg;
	*out = (uintptr_t)&here;
	do_bind();
	return NULL;
}

static int run_peak(void)
{
	unsigned char *m = mmap(NULL, PEAK_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t attr;
	pthread_t t;
	uintptr_t top = 0;
	size_t low;
	if (m == MAP_FAILED)
		return 2;
	/* Resolve the lazily bound socket/bind/close first (and errno; EBADF, which the
	 * shim passes through): the loader's resolver frame is not ours. */
	close(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	errno = 0;
	bind(-1, NULL, 0);
	memset(m, PAINT, PEAK_STACK);
	pthread_attr_init(&attr);
	if (pthread_attr_setstack(&attr, m, PEAK_STACK) != 0 ||
	    pthread_create(&t, &attr, peak_main, &top) != 0)
		return 2;
	pthread_join(t, NULL);
	print_result();
	low = first_used(m, PEAK_STACK);
	printf("peak %zu\n", (size_t)(top - (uintptr_t)(m + low)));
	return 0;
}

int main(int argc, char **argv)
{
	int r;
	if (argc != 3)
		return 2;
	port = atoi(argv[2]);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(argv[1], "thread") == 0) {
		r = run_thread(32 * 1024, NULL);
		if (r == 0)
			print_result();
		return r;
	}
	if (strcmp(argv[1], "altstack") == 0)
		return run_altstack();
	if (strcmp(argv[1], "peak") == 0)
		return run_peak();
	return 2;
}
