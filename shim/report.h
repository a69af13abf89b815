/* report: renders a bw_conflict as the human text block or one JSON line,
 * into a caller buffer (the record is then written with one write(2)). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "conflict.h"

/* Both return the length; output is always NUL-terminated and ends in '\n'
 * even when truncated. 'now' ages the holders' start times. */
size_t bw_report_text(const struct bw_conflict *c, char *buf, size_t size);
size_t bw_report_json(const struct bw_conflict *c, char *buf, size_t size);

/* `bindwatch who` output: one ss-style row per socket, then the cause. */
size_t bw_report_table(const struct bw_conflict *c, char *buf, size_t size);
