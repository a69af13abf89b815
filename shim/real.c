#include "real.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Our own exported hooks (interpose.c), to refuse resolving to ourselves. */
extern int bind(int, const struct sockaddr *, socklen_t);
extern int listen(int, int);

static int sys_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (int)syscall(SYS_bind, fd, sa, len);
}

static int sys_listen(int fd, int backlog)
{
	return (int)syscall(SYS_listen, fd, backlog);
}

_Atomic(bw_bind_fn) bw_real_bind_fn;
_Atomic(bw_listen_fn) bw_real_listen_fn;

/* dlsym(RTLD_NEXT) finds the next definition after us in the lookup order.
 * If we were loaded twice, or something odd sits behind us, it may return
 * our own hook: recursing into it would never end. Use the syscall then. */
static void *resolve(const char *name, const void *self, void *fallback)
{
	void *p = dlsym(RTLD_NEXT, name);
	return p && p != self ? p : fallback;
}

bw_bind_fn bw_real_bind(void)
{
	bw_bind_fn f = atomic_load_explicit(&bw_real_bind_fn, memory_order_acquire);
	if (__builtin_expect(f != NULL, 1))
		return f;
	*(void **)&f = resolve("bind", (void *)bind, (void *)sys_bind);
	atomic_store_explicit(&bw_real_bind_fn, f, memory_order_release);
	return f;
}

bw_listen_fn bw_real_listen(void)
{
	bw_listen_fn f = atomic_load_explicit(&bw_real_listen_fn, memory_order_acquire);
	if (__builtin_expect(f != NULL, 1))
		return f;
	*(void **)&f = resolve("listen", (void *)listen, (void *)sys_listen);
	atomic_store_explicit(&bw_real_listen_fn, f, memory_order_release);
	return f;
}
