/* life_bind: process-life situations around a failing bind(), for
 * tests/integration/hardening.bats. Every bind is TCP to 127.0.0.1:PORT,
 * which the caller holds. Usage:
 *   life_bind fork PORT [FORKS]
 *     four threads keep binding (conflicts and port 0) while the main
 *     thread forks FORKS times (default 20); each child binds PORT, prints
 *     "child K pid=P bind=R errno=E" and exit(0)s. The parent waits up to 5 s
 *     per child (then SIGKILLs it) and prints "child K status=S" (the exit
 *     code, "hung" or "signal N").
 *   life_bind vfork PROG ARG...   vfork() + execv(PROG); prints "exit=S"
 *   life_bind spawn PROG ARG...   posix_spawn(PROG); prints "exit=S"
 *   life_bind dlopen LIB PORT
 *     dlopen()s LIB (libearly.so: its constructor binds $EARLY_PORT), then
 *     calls its early_bind(PORT); prints "dlopen bind=R errno=E".
 *   life_bind closeall PORT N RESULT
 *     close_range(0, ~0U, 0) (every fd, stdio included), then N failing
 *     binds; writes "bind=R errno=E binds=N fds=F" to RESULT (F: open fds
 *     besides the socket and the directory listing them).
 *   life_bind stderr-conn PORT
 *     for a caller that closed fd 2: a loopback TCP connection is accepted
 *     onto fd 2 (as a daemon without stderr gets it), then a bind to PORT
 *     fails; prints "bind=R errno=E peer_received=N" (N: bytes the other
 *     end of the connection got: the program itself sent none).
 *   life_bind secure PORT PATH
 *     for a setuid copy: prints "at_secure=S euid=E", then binds PORT and
 *     then the AF_UNIX stream path PATH: "tcp bind=R errno=E" and
 *     "unix bind=R errno=E". */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static unsigned short port;
static atomic_int stop;

static int bind_port(unsigned short p, int *err)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(p),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	*err = r < 0 ? errno : 0;
	close(fd);
	return r;
}

static void *busy(void *arg)
{
	int err;
	(void)arg;
	for (unsigned i = 0; !atomic_load(&stop); i++)
		bind_port(i % 2 ? port : 0, &err);
	return NULL;
}

static const char *describe(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		snprintf(buf, size, "%d", WEXITSTATUS(st));
	else
		snprintf(buf, size, "signal %d", WTERMSIG(st));
	return buf;
}

static int do_fork(int forks)
{
	pthread_t th[4];
	struct timespec ms = {0, 1000000};
	int bad = 0;

	for (int t = 0; t < 4; t++)
		if (pthread_create(&th[t], NULL, busy, NULL) != 0)
			return 65;
	for (int k = 1; k <= forks; k++) {
		char line[64];
		int st, err, r;
		pid_t pid;

		nanosleep(&ms, NULL);
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return 66;
		if (pid == 0) {
			r = bind_port(port, &err);
			printf("child %d pid=%d bind=%d errno=%d\n", k, (int)getpid(), r, err);
			exit(0);
		}
		for (int w = 0; w < 500 && waitpid(pid, &st, WNOHANG) == 0; w++)
			nanosleep(&(struct timespec){0, 10000000}, NULL);
		if (waitpid(pid, &st, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			snprintf(line, sizeof(line), "hung");
		} else {
			describe(st, line, sizeof(line));
		}
		printf("child %d status=%s\n", k, line);
		bad |= strcmp(line, "0") != 0;
	}
	atomic_store(&stop, 1);
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	return bad;
}

static int do_exec(int use_vfork, char **argv)
{
	char buf[32];
	pid_t pid;
	int st;

	fflush(stdout);
	if (use_vfork) {
		pid = vfork();
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
	} else if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
		pid = -1;
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 66;
	printf("exit=%s\n", describe(st, buf, sizeof(buf)));
	return 0;
}

static int do_dlopen(const char *lib)
{
	int (*early_bind)(int, int *);
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	int r, err;

	if (!h) {
		fprintf(stderr, "life_bind: %s\n", dlerror());
		return 66;
	}
	*(void **)&early_bind = dlsym(h, "early_bind");
	if (!early_bind)
		return 67;
	r = early_bind(port, &err);
	printf("dlopen bind=%d errno=%d\n", r, err);
	dlclose(h);
	return 0;
}

static int do_closeall(int n, const char *result)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct dirent *de;
	int fd, r = 0, e = 0, fds = 0, out;
	DIR *d;

	if (syscall(SYS_close_range, 0u, ~0u, 0u) < 0)
		return 65;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	for (int i = 0; i < n; i++) {
		errno = 0;
		r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		e = errno;
		if (r != -1 || e != EADDRINUSE)
			break;
	}
	d = opendir("/proc/self/fd");
	if (!d)
		return 66;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) != fd && atoi(de->d_name) != dirfd(d))
			fds++;
	closedir(d);
	out = open(result, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return 67;
	dprintf(out, "bind=%d errno=%d binds=%d fds=%d\n", r, r < 0 ? e : 0, n, fds);
	close(out);
	return r == 0 ? 0 : 1;
}

static int do_stderr_conn(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	char buf[65536];
	int hold, lst, cli, conn, r, err;
	ssize_t n;

	if (fcntl(2, F_GETFD) != -1)
		return 64; /* fd 2 must be closed by the caller */
	hold = open("/dev/null", O_RDONLY); /* keeps fd 2 busy for now */
	lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (hold != 2 || lst < 0 || bind(lst, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lst, 1) < 0 || getsockname(lst, (struct sockaddr *)&sin, &sl) < 0)
		return 65;
	cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(cli, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return 66;
	close(hold);
	conn = accept(lst, NULL, NULL);
	if (conn != 2)
		return 67;
	r = bind_port(port, &err);
	n = recv(cli, buf, sizeof(buf), MSG_DONTWAIT);
	printf("bind=%d errno=%d peer_received=%zd\n", r, err, n < 0 ? 0 : n);
	return 0;
}

static int do_secure(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int r, err, fd;

	printf("at_secure=%lu euid=%d\n", getauxval(AT_SECURE), (int)geteuid());
	r = bind_port(port, &err);
	printf("tcp bind=%d errno=%d\n", r, err);
	if (strlen(path) >= sizeof(sun.sun_path))
		return 64;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	printf("unix bind=%d errno=%d\n", r, r < 0 ? errno : 0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "fork") == 0) {
		port = (unsigned short)atoi(argv[2]);
		return do_fork(argc > 3 ? atoi(argv[3]) : 20);
	}
	if (argc >= 3 && strcmp(argv[1], "vfork") == 0)
		return do_exec(1, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "spawn") == 0)
		return do_exec(0, argv + 2);
	if (argc == 4 && strcmp(argv[1], "dlopen") == 0) {
		port = (unsigned short)atoi(argv[3]);
		return do_dlopen(argv[2]);
	}
	if (argc == 5 && strcmp(argv[1], "closeall") == 0) {
		port = (unsigned short)atoi(argv[2]);
		return do_closeall(atoi(argv[3]), argv[4]);
	}
	if (argc == 3 && strcmp(argv[1], "stderr-conn") == 0) {
		port = (unsigned short)atoi(argv[2]);
		return do_stderr_conn();
	}
	if (argc == 4 && strcmp(argv[1], "secure") == 0) {
		port = (unsigned short)atoi(argv[2]);
		return do_secure(argv[3]);
	}
	return 64;
}
