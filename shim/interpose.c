/* interpose: the only file that defines libc names. Each hook calls the real
 * function first; the success path does nothing else (no allocation, lock
 * or I/O): one flag test, one pointer load, the call, one compare. Only an
 * EADDRINUSE failure enters hook.c, and the caller then sees exactly the
 * real return value and errno (or success after a configured remap, which
 * sets bw_hook_flags so the slow path can keep the caller's errno). */
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
	if (__builtin_expect(__atomic_load_n(&bw_hook_flags, __ATOMIC_RELAXED) != 0, 0))
		return bw_hook_bind_slow(fd, sa, len, errno);
	int r = bw_real_bind_fast()(fd, sa, len);
	if (__builtin_expect(r == 0, 1) || errno != EADDRINUSE)
		return r;
	/* No remap is configured (bw_hook_flags is 0): the call fails as it
	 * did, so the caller's earlier errno is never needed. */
	return bw_hook_bind_failed(fd, sa, len, r, EADDRINUSE);
}

BW_EXPORT int listen(int fd, int backlog)
{
	if (__builtin_expect(__atomic_load_n(&bw_hook_flags, __ATOMIC_RELAXED) != 0, 0))
		return bw_hook_listen_slow(fd, backlog, errno);
	int r = bw_real_listen_fast()(fd, backlog);
	if (__builtin_expect(r == 0, 1) || errno != EADDRINUSE)
		return r;
	return bw_hook_listen_failed(fd, backlog, r, EADDRINUSE);
}
