/* quiet_bind PORT COUNT RESULT [gone|-] [GO]: COUNT times a new TCP socket
 * tries to bind 0.0.0.0:PORT (held by someone else: each fails with
 * EADDRINUSE and the shim reports it); "fails=N" is written to RESULT,
 * never to stdout or stderr. With "gone", it first waits (10 s at most)
 * until the reader of its stdout pipe has gone (poll's POLLERR), so a
 * report to that pipe meets no reader. With GO, it then waits (10 s at
 * most) until the file GO exists, binds once more and writes "again" to
 * RESULT.2. SIGPIPE keeps its default action: a program that did not ask
 * for it dies of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int bind_fails(const struct sockaddr_in *sin, int count)
{
	int fails = 0;
	for (int i = 0; i < count; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			exit(4);
		if (bind(s, (const struct sockaddr *)sin, sizeof(*sin)) < 0 && errno == EADDRINUSE)
			fails++;
		close(s);
	}
	return fails;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0)
		return 5;
	return fclose(f) == 0 ? 0 : 5;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char line[4096];
	int tries = 0;

	if (argc < 4)
		return 2;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	if (argc > 4 && strcmp(argv[4], "gone") == 0) {
		struct pollfd p = {.fd = 1, .events = 0};
		if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLERR))
			return 3;
	}
	snprintf(line, sizeof(line), "fails=%d\n", bind_fails(&sin, atoi(argv[2])));
	if (write_file(argv[3], line) != 0)
		return 5;
	if (argc <= 5)
		return 0;
	while (access(argv[5], F_OK) != 0) {
		if (++tries > 200)
			return 6;
		usleep(50000);
	}
	bind_fails(&sin, 1);
	snprintf(line, sizeof(line), "%s.2", argv[3]);
	return write_file(line, "again\n");
}
