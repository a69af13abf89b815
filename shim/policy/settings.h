/* settings: BINDWATCH_* read once into an immutable struct. A bad value
 * yields one warning line (naming the variable and what it accepts) and
 * the default. Pure: the environment comes in through a lookup function. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

enum bw_format { BW_FORMAT_TEXT, BW_FORMAT_JSON };
enum bw_dest { BW_DEST_STDERR, BW_DEST_SYSLOG, BW_DEST_FILE };
enum bw_trace { BW_TRACE_CONFLICTS, BW_TRACE_ALL, BW_TRACE_OFF };

#define BW_WARN_MAX 16
#define BW_WARN_LEN 256

struct bw_settings {
	bool disable;
	enum bw_format format;
	enum bw_dest dest;
	char log_path[PATH_MAX];
	bool stack;
	int stack_depth;
	int text_stack_lines;     /* text: stack lines shown (0 all: BINDWATCH_STACK_DEPTH was set) */
	int scan_ms;
	int ratelimit_s;          /* identical conflicts within this window: one report */
	enum bw_trace trace;
	bool color;               /* stderr is a tty, NO_COLOR unset or empty */
	bool remap;               /* BINDWATCH_REMAP parsed without error */
	bool remap_always;        /* BINDWATCH_REMAP_MODE=always */
	struct bw_policy policy;
	char port_file[PATH_MAX];
	bool unix_stale_unlink;   /* BINDWATCH_UNIX_STALE=unlink */
	bool netlink;             /* BINDWATCH_NETLINK=0 forces the /proc/net tables */
	bool bpf;                 /* BINDWATCH_BPF=0 forces the /proc/<pid>/fd scan */
	bool secure;              /* AT_SECURE: no user-chosen files, no remap, no unlink */
	size_t n_warnings;
	char warnings[BW_WARN_MAX][BW_WARN_LEN];
};

#define BW_STACK_DEPTH_DEFAULT 32
#define BW_STACK_DEPTH_MAX 64
/* A text report shows this many stack lines (runs of symbol-less frames
 * folded) unless BINDWATCH_STACK_DEPTH asks for a depth; JSON has all. */
#define BW_TEXT_STACK_LINES 7

typedef const char *(*bw_getenv_fn)(const char *name);

/* Fills *ret from the environment; 'secure' is the AT_SECURE flag (the
 * getter should then be secure_getenv, which hides everything). */
void bw_settings_load(struct bw_settings *ret, bw_getenv_fn get, bool secure);

/* Validates an absolute path given in var (length, leading '/'); on error
 * adds a warning and returns false. */
bool bw_settings_path(struct bw_settings *s, const char *var, const char *val, char *out,
		      size_t size);
