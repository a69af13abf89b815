/* target: what --supervise reads of its target. The kernel is the oracle:
 * for each set of credentials and namespaces a child takes on, whether it
 * may bind a privileged port (bw_target_bind_service and its namespace's
 * ip_unprivileged_port_start, as tools/supervise/supervise.c combines
 * them) is compared with what its own bind() gets; and which pending
 * signals wait for one thread of a stopped child (bw_target_signal_waiting). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "supervise/target.h"

enum setup { AS_IS, NOBODY, USERNS_NETNS, NOBODY_USERNS_NETNS, NOBODY_USERNS, USERNS };

static const char *const setup_name[] = {"as is", "uid 65534", "new user+net ns",
					 "uid 65534, new user+net ns", "uid 65534, new user ns",
					 "new user ns"};

static int apply(enum setup s)
{
	if (s == NOBODY || s == NOBODY_USERNS_NETNS || s == NOBODY_USERNS)
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			return -errno;
	if (s == USERNS_NETNS || s == NOBODY_USERNS_NETNS)
		return unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 ? -errno : 0;
	if (s == USERNS || s == NOBODY_USERNS)
		return unshare(CLONE_NEWUSER) < 0 ? -errno : 0;
	return 0;
}

/* A privileged port nobody holds here (we are root in our namespace). */
static int free_low_port(void)
{
	for (int p = 1000; p > 600; p--) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
		if (s < 0)
			return -1;
		r = bind(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		if (r == 0)
			return p;
	}
	return -1;
}

/* The child: takes on setup s, reports its ip_unprivileged_port_start,
 * waits for the go, binds port and reports errno (0: bound). */
static _Noreturn void child(enum setup s, int port, int up, int down)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int msg[2] = {apply(s), -1}, sock, go;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
	if (f) {
		if (fscanf(f, "%d", &msg[1]) != 1)
			msg[1] = -1;
		fclose(f);
	}
	if (write(up, msg, sizeof(msg)) != sizeof(msg) || read(down, &go, sizeof(go)) != sizeof(go))
		_exit(1);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	msg[0] = bind(sock, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
	if (write(up, msg, sizeof(int)) != sizeof(int))
		_exit(1);
	_exit(0);
}

static void test_bind_service(void)
{
	int port = free_low_port();
	if (getuid() != 0 || port < 0) {
		fprintf(stderr, "skip bind_service: needs root and a free port below 1000\n");
		return;
	}
	for (enum setup s = AS_IS; s <= USERNS; s++) {
		int up[2], down[2], msg[2], go = 1, st, cap;
		pid_t pid;
		if (pipe(up) < 0 || pipe(down) < 0)
			abort();
		pid = fork();
		if (pid == 0)
			child(s, port, up[1], down[0]);
		CHECK_EQ_INT(read(up[0], msg, sizeof(msg)), (long)sizeof(msg));
		if (msg[0] < 0) {
			fprintf(stderr, "skip %s: %s\n", setup_name[s], strerror(-msg[0]));
		} else {
			bool predicted;
			cap = bw_target_bind_service(pid);
			CHECK(cap == 0 || cap == 1);
			predicted = (msg[1] >= 0 && port >= msg[1]) || cap == 1;
			CHECK_EQ_INT(write(down[1], &go, sizeof(go)), (long)sizeof(go));
			CHECK_EQ_INT(read(up[0], msg, sizeof(int)), (long)sizeof(int));
			/* Anything but EACCES: the port check passed. */
			if ((msg[0] != EACCES) != predicted)
				fprintf(stderr, "%s: predicted %s, bind gave errno %d\n", setup_name[s],
					predicted ? "allowed" : "EACCES", msg[0]);
			CHECK_EQ_INT(msg[0] != EACCES, predicted);
		}
		close(down[1]);
		waitpid(pid, &st, 0);
		close(up[0]);
		close(up[1]);
		close(down[0]);
	}
}

static void on_signal(int sig)
{
	(void)sig;
}

static volatile int idle_running;

/* glibc starts a thread with every signal blocked and restores the mask
 * before the start routine: running here, it blocks nothing. */
static void *idle(void *arg)
{
	(void)arg;
	idle_running = 1;
	for (;;)
		pause();
	return NULL;
}

/* A stopped child (threads: with an idle second thread that blocks
 * nothing) catching SIGUSR1 and SIGUSR2, SIGUSR2 blocked in the main
 * thread. Signals sent to a stopped process stay pending. */
static pid_t stopped_child(bool threads)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_signal};
		sigset_t set;
		pthread_t t;
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGUSR2, &sa, NULL);
		if (threads && pthread_create(&t, NULL, idle, NULL) != 0)
			_exit(1);
		while (threads && !idle_running)
			sched_yield();
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	waitpid(pid, NULL, WUNTRACED);
	return pid;
}

/* Under valgrind (its preload is in LD_PRELOAD), whose scheduler catches
 * every signal and blocks them in threads that are not running. */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");
	return p && strstr(p, "vgpreload");
}

static void test_signal_waiting(void)
{
	pid_t pid = stopped_child(false);
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 0);
	kill(pid, SIGUSR2); /* blocked */
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 0);
	kill(pid, SIGUSR1); /* process-directed, and it is the only thread */
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* A stop at its default action acts too (the stop waits for it), told
	 * apart from a handler (valgrind's catches it); with both, a handler
	 * runs. */
	pid = stopped_child(false);
	kill(pid, SIGTSTP);
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), under_valgrind() ? 1 : 2);
	kill(pid, SIGUSR1);
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* With another thread: that thread stopped (a group stop the main
	 * thread must join) is a stop to take; a process-directed signal the
	 * main thread does not block is its to take too, even though the other
	 * thread blocks nothing (the kernel may have picked the main thread,
	 * complete_signal(), and told no other); one sent to the main thread
	 * is its own. */
	pid = stopped_child(true);
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 2);
	kill(pid, SIGUSR1);
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 1);
	syscall(SYS_tgkill, pid, pid, SIGUSR1);
	CHECK_EQ_INT(bw_target_signal_waiting(pid, pid), 1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(bw_target_signal_waiting(pid, pid) < 0);
}

int main(void)
{
	test_bind_service();
	test_signal_waiting();
	return check_done("target");
}
