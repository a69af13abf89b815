/* interpose: the only file that defines libc names. Each hook calls the real
 * function first; the success path does nothing else (no allocation, lock
 * or I/O): one errno load, one flag test, the call, one compare. Only an
 * EADDRINUSE failure enters hook.c, and the caller then sees exactly the
 * real return value and errno (or success after a configured remap). */
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

__attribute__((destructor)) static void bw_destructor(void)
{
	int saved = errno;
	bw_hook_fini();
	errno = saved;
}

BW_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int entry_errno = errno;
	if (__builtin_expect(bw_hook_flags != 0, 0))
		return bw_hook_bind_slow(fd, sa, len, entry_errno);
	int r = bw_real_bind()(fd, sa, len);
	if (__builtin_expect(r == 0, 1) || errno != EADDRINUSE)
		return r;
	return bw_hook_bind_failed(fd, sa, len, r, entry_errno);
}

BW_EXPORT int listen(int fd, int backlog)
{
	int entry_errno = errno;
	if (__builtin_expect(bw_hook_flags != 0, 0))
		return bw_hook_listen_slow(fd, backlog, entry_errno);
	int r = bw_real_listen()(fd, backlog);
	if (__builtin_expect(r == 0, 1) || errno != EADDRINUSE)
		return r;
	return bw_hook_listen_failed(fd, backlog, r, entry_errno);
}
