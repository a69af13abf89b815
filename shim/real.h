/* real: libc's bind/listen behind our interposed names. */
#pragma once
#include <stdatomic.h>

#include "respond/remap.h" /* bw_bind_fn, bw_listen_fn */

/* Resolved once with dlsym(RTLD_NEXT); safe to call before our constructor.
 * Never returns NULL or our own hook: falls back to the raw syscall. */
bw_bind_fn bw_real_bind(void);
bw_listen_fn bw_real_listen(void);

/* The resolved pointers, for the hooks' hot path: one load, no call (an
 * acquire load is a plain mov on x86-64). NULL until resolved. */
extern _Atomic(bw_bind_fn) bw_real_bind_fn;
extern _Atomic(bw_listen_fn) bw_real_listen_fn;

static inline bw_bind_fn bw_real_bind_fast(void)
{
	bw_bind_fn f = atomic_load_explicit(&bw_real_bind_fn, memory_order_acquire);
	return __builtin_expect(f != NULL, 1) ? f : bw_real_bind();
}

static inline bw_listen_fn bw_real_listen_fast(void)
{
	bw_listen_fn f = atomic_load_explicit(&bw_real_listen_fn, memory_order_acquire);
	return __builtin_expect(f != NULL, 1) ? f : bw_real_listen();
}
