/* emit: delivers one formatted record to its destination with one write(2)
 * (stderr, a file opened per record, or syslog's /dev/log datagram). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "policy/settings.h"

/* Records what fd 2 is at start-up (call from the constructor, before the
 * program runs): only that stderr is written to later. */
void bw_emit_capture_stderr(void);

/* Sends buf; when the destination is stderr but fd 2 is neither the
 * stderr the program started with nor a log file or pipe the program put
 * there (closed, reused, /dev/null: a daemonized host), the record goes to
 * syslog so it never lands in the program's own descriptor; with no syslog
 * socket, to fd 2 if it is open for writing and not a socket.
 * BINDWATCH_TRACE=off: nothing (returns 0). Returns 0 or -errno. errno is clobbered; callers save it. */
int bw_emit(const struct bw_settings *s, const char *buf, size_t len);

/* A bindwatch warning line (bad settings, a file it refused to write):
 * to fd 2 when it is the program's stderr, else syslog; never dropped by
 * BINDWATCH_TRACE=off, which silences reports only. 0 or -errno. */
int bw_emit_warning(const char *buf, size_t len);

/* Once per process for each var (BINDWATCH_LOG, BINDWATCH_PORT_FILE): a
 * warning that path was refused for bw_append_file's error err (-errno),
 * through bw_emit_warning. */
void bw_emit_file_warning(const char *var, const char *path, int err);

/* Writes buf to fd 2 as it is, never blocking the program or raising
 * SIGPIPE: a socket with MSG_NOSIGNAL|MSG_DONTWAIT, a pipe, FIFO or
 * terminal through a new O_NONBLOCK description of /proc/self/fd/2 with
 * SIGPIPE blocked (a pipe that can't be reopened, e.g. root's for a
 * program run as nobody: fd 2 with pwritev2 RWF_NOWAIT, else after a
 * zero-timeout poll PIPE_BUF bytes at a time), a regular file directly. 0, -EAGAIN (full: dropped),
 * -EPIPE (no reader) or another -errno; the records bw_emit could not
 * deliver are counted and named in front of the next one written. */
int bw_emit_stderr(const char *buf, size_t len);

/* One datagram to /dev/log (RFC 3164 framing, facility daemon, warning),
 * sent with MSG_DONTWAIT: -EAGAIN when syslog's queue is full. */
int bw_emit_syslog(const char *buf, size_t len);
