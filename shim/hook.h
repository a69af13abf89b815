/* hook: the shim's state (settings, read once) and the failure path that
 * interpose.c calls after a bind()/listen() failed with EADDRINUSE. */
#pragma once
#include <stdbool.h>
#include <sys/socket.h>

/* Reads the settings and loads libunwind; idempotent, called from our
 * constructor and lazily from the hooks. */
void bw_hook_init(void);

/* True when the shim should look at failures at all (not disabled). */
bool bw_hook_active(void);

/* Diagnoses and reports one conflict. call is "bind" or "listen"; sa/len
 * are the caller's (NULL for listen). Preserves nothing: the caller saves
 * and restores errno. Never allocates from the heap, never takes a lock. */
void bw_hook_conflict(const char *call, int fd, const struct sockaddr *sa, socklen_t len, int err);
