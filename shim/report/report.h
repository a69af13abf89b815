/* report: renders a bw_conflict as the human text block or one JSON line,
 * into a caller buffer (the record is then written with one write(2)). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "diagnose/conflict.h"

/* Both return the length; output is always NUL-terminated and ends in '\n'
 * even when truncated. Holders' start times are aged against c->time. */
size_t bw_report_text(const struct bw_conflict *c, char *buf, size_t size);
size_t bw_report_json(const struct bw_conflict *c, char *buf, size_t size);

/* The record for c in the chosen format (color: ANSI highlights in text). */
size_t bw_report_render(struct bw_conflict *c, enum bw_format fmt, bool color, char *buf,
			size_t size);

/* A repeat line always fits this (a BW_RATELIMIT_DESC of \u00NN escapes). */
#define BW_REPEAT_LINE_MAX 4096

/* `bindwatch who` output: one ss-style row per socket, then the cause
 * (also when nothing was found: the hint says what was searched). */
size_t bw_report_table(const struct bw_conflict *c, char *buf, size_t size);

/* Its header line, and the row of holder i alone, with the processes of
 * that socket only (the listing of `bindwatch who`). */
size_t bw_report_table_header(char *buf, size_t size);
size_t bw_report_table_row(const struct bw_conflict *c, size_t i, char *buf, size_t size);

/* One holder as the JSON object a lookup's "holders" array holds (no
 * newline); 0 when even the smallest object does not fit. */
size_t bw_report_json_holder(const struct bw_conflict *c, size_t i, char *buf, size_t size);

/* The short line for conflicts the rate limiter folded. */
size_t bw_report_repeats(enum bw_format fmt, const char *desc, unsigned count, char *buf,
			 size_t size);

/* "comm[pid] bind(0.0.0.0:8000/tcp)": names a conflict in the repeat line. */
size_t bw_report_conflict_desc(const struct bw_conflict *c, char *buf, size_t size);

/* BINDWATCH_TRACE=all: one successful bind()/listen() (struct bw_trace_event,
 * diagnose/conflict.h). */
size_t bw_report_trace(enum bw_format fmt, const struct bw_trace_event *t, char *buf, size_t size);

/* Wraps the lines of a text record (len bytes in buf, room for size) that
 * are wider than cols: at a space where there is one, continuing under
 * the line's own indentation plus four, after the same "bindwatch:"
 * prefix. ANSI colour sequences take no width. Returns the new length; a
 * record that would not fit is left as it is from there on. */
size_t bw_report_wrap(char *buf, size_t len, size_t size, unsigned cols);
