/* closefds_bind: acts like a daemon that closed every inherited fd (0..1023,
 * stdin/stdout/stderr included), then binds an address someone else holds.
 * After the failed bind it lists the fds still open in the process, so a
 * test can tell that the shim's failure path left none behind. Usage:
 *   closefds_bind ADDR PORT RESULT_FILE
 * RESULT_FILE (opened only after counting) gets one line:
 *   bind=R errno=E sock_fd=S extra_fds=N [fd->target ...]
 * where extra_fds counts open fds other than the socket itself. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void close_all(void)
{
#ifdef SYS_close_range
	/* close_range(2), Linux 5.9; fall back to a loop on older kernels. */
	if (syscall(SYS_close_range, 0u, 1023u, 0u) == 0)
		return;
#endif
	for (int fd = 0; fd < 1024; fd++)
		close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	char extra[2048] = "";
	size_t used = 0;
	int fd, r, e, n_extra = 0, out;
	DIR *d;
	struct dirent *de;

	if (argc != 4)
		return 64;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 64;

	close_all();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 65;
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;

	d = opendir("/proc/self/fd");
	if (!d)
		return 66;
	while ((de = readdir(d)) != NULL) {
		char link[64], target[256];
		ssize_t n;
		int cur;
		if (de->d_name[0] == '.')
			continue;
		cur = atoi(de->d_name);
		if (cur == fd || cur == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", cur);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		n_extra++;
		if (used < sizeof(extra))
			used += (size_t)snprintf(extra + used, sizeof(extra) - used, " %d->%s", cur,
						 target);
	}
	closedir(d);

	out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return 67;
	dprintf(out, "bind=%d errno=%d sock_fd=%d extra_fds=%d%s\n", r, r < 0 ? e : 0, fd, n_extra,
		extra);
	close(out);
	return r == 0 ? 0 : 1;
}
