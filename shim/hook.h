/* hook: the shim's state (settings, read once) and everything interpose.c
 * does beyond calling the real function: the failure path after an
 * EADDRINUSE, and the opt-in paths (BINDWATCH_TRACE=all,
 * BINDWATCH_REMAP_MODE=always). */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>

/* Non-zero only when an opt-in mode needs more than the fast path: to see
 * successful calls (trace, always-remap) or to keep the caller's errno for
 * a failure that a remap may turn into success. */
extern int bw_hook_flags;

/* Reads the settings and loads libunwind; idempotent, called from our
 * constructor and lazily from the hooks. */
void bw_hook_init(void);

/* After the real bind()/listen() returned r < 0 with errno EADDRINUSE:
 * diagnoses, reports, maybe remaps. Returns what the caller must see and
 * sets errno: the original failure, or 0 with errno = entry_errno after a
 * successful remap. */
int bw_hook_bind_failed(int fd, const struct sockaddr *sa, socklen_t len, int r, int entry_errno);
int bw_hook_listen_failed(int fd, int backlog, int r, int entry_errno);

/* The whole call when bw_hook_flags is set (trace, always-remap). */
int bw_hook_bind_slow(int fd, const struct sockaddr *sa, socklen_t len, int entry_errno);
int bw_hook_listen_slow(int fd, int backlog, int entry_errno);

/* At exit: prints the "repeated N times" lines still pending. */
void bw_hook_fini(void);
