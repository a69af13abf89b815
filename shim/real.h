/* real: libc's bind/listen behind our interposed names. */
#pragma once
#include "remap.h" /* bw_bind_fn, bw_listen_fn */

/* Resolved once with dlsym(RTLD_NEXT); safe to call before our constructor.
 * Never returns NULL or our own hook: falls back to the raw syscall. */
bw_bind_fn bw_real_bind(void);
bw_listen_fn bw_real_listen(void);
