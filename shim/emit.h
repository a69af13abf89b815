/* emit: delivers one formatted record to its destination with one write(2)
 * (stderr, a file opened per record, or syslog's /dev/log datagram). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

/* Sends buf; when the destination is stderr but stderr is closed or on
 * /dev/null (a daemonized host), the record goes to syslog so it is never
 * silently lost. Returns 0 or -errno. errno is clobbered; callers save it. */
int bw_emit(const struct bw_settings *s, const char *buf, size_t len);

/* One datagram to /dev/log (RFC 3164 framing, facility daemon, warning). */
int bw_emit_syslog(const char *buf, size_t len);
