/* early_ctor (libearly.so): a library whose constructor binds before
 * bindwatch's own constructor has run (as a DT_NEEDED of the program, or
 * loaded with dlopen), for tests/integration/hardening.bats.
 * With EARLY_PORT=P in the environment the constructor binds a TCP socket
 * to 127.0.0.1:P and writes "early ctor bind=R errno=E" to stdout (one
 * write(2): stdio may not be ready). early_bind() is the same bind for a
 * caller; early_ctor_result() returns what the constructor got. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static char ctor_result[64] = "early ctor: no EARLY_PORT";

EXPORT int early_bind(int port, int *err);
EXPORT const char *early_ctor_result(void);

EXPORT int early_bind(int port, int *err)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
	errno = 0;
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	*err = r < 0 ? errno : 0;
	close(fd);
	return r;
}

EXPORT const char *early_ctor_result(void)
{
	return ctor_result;
}

__attribute__((constructor)) static void early_ctor(void)
{
	const char *p = getenv("EARLY_PORT");
	int r, err, n;
	if (!p)
		return;
	r = early_bind(atoi(p), &err);
	n = snprintf(ctor_result, sizeof(ctor_result), "early ctor bind=%d errno=%d", r, err);
	if (n > 0) {
		char line[sizeof(ctor_result) + 1];
		memcpy(line, ctor_result, (size_t)n);
		line[n] = '\n';
		if (write(1, line, (size_t)n + 1) < 0)
			return;
	}
}
