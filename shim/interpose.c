/* interpose: the only file that defines libc names. Each hook calls the real
 * function first; the success path does nothing else (no allocation, lock
 * or I/O). Only an EADDRINUSE failure enters the failure path, and the
 * caller then sees exactly the real return value and errno. */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include "hook.h"
#include "real.h"

#define BW_EXPORT __attribute__((visibility("default")))

__attribute__((constructor)) static void bw_constructor(void)
{
	int saved = errno;
	bw_real_bind();
	bw_real_listen();
	bw_hook_init();
	errno = saved;
}

BW_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int r = bw_real_bind()(fd, sa, len);
	if (__builtin_expect(r == 0, 1) || errno != EADDRINUSE)
		return r;
	int saved = errno;
	if (bw_hook_active())
		bw_hook_conflict("bind", fd, sa, len, saved);
	errno = saved;
	return r;
}

BW_EXPORT int listen(int fd, int backlog)
{
	int r = bw_real_listen()(fd, backlog);
	if (__builtin_expect(r == 0, 1) || errno != EADDRINUSE)
		return r;
	int saved = errno;
	if (bw_hook_active())
		bw_hook_conflict("listen", fd, NULL, 0, saved);
	errno = saved;
	return r;
}
