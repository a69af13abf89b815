/* real: libc's bind/listen behind our interposed names. */
#pragma once
#include <sys/socket.h>

typedef int (*bw_bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*bw_listen_fn)(int, int);

/* Resolved once with dlsym(RTLD_NEXT); safe to call before our constructor.
 * Never returns NULL or our own hook: falls back to the raw syscall. */
bw_bind_fn bw_real_bind(void);
bw_listen_fn bw_real_listen(void);
