/* ratelimit: daemons that retry bind() every second must not flood the log
 * or pay for a full lookup each time. Identical conflicts within a window
 * give one full report; the rest are counted and summed up in one line.
 * Lock-free (atomics on a small fixed table): safe in the failure path. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BW_RATELIMIT_SLOTS 32
#define BW_RATELIMIT_DESC 512 /* "comm[pid] call(" BW_ADDR_TEXT_MAX "/proto)" */

struct bw_conflict;

/* Key of a conflict: call, protocol and address (never 0). */
uint64_t bw_ratelimit_key(const struct bw_conflict *c);

enum bw_rl_verdict {
	BW_RL_REPORT,      /* report in full (first time, or the window ran out) */
	BW_RL_SUPPRESS,    /* fold into the count */
};

/* Decides for key at now_ns with a window (0 disables: always REPORT). On
 * REPORT after an expired window, *expired_repeats gets the count folded
 * there (to print before the new report). */
enum bw_rl_verdict bw_ratelimit_check(uint64_t key, uint64_t now_ns, uint64_t window_ns,
				      unsigned *expired_repeats);

/* Records how the full report names the conflict, for the repeat line. */
void bw_ratelimit_store(uint64_t key, const char *desc);

/* Calls fn for each slot of this process with pending repeats and clears
 * them (at exit). */
void bw_ratelimit_flush(void (*fn)(const char *desc, unsigned repeats, void *ctx), void *ctx);
