/* policy: the BINDWATCH_REMAP language (see libbindwatch(7)):
 *   RULES  := RULE (',' RULE)*
 *   RULE   := MATCH '=' ACTION ('|' ACTION)*
 *   MATCH  := [('tcp'|'udp') '/'] [ADDR ':'] (PORT | LO '-' HI | '*')
 *             ADDR is an IPv4 address or [IPv6]
 *   ACTION := PORT | '+'N | '-'N | 'next' [':'N] | 'range:' LO '-' HI
 *           | 'auto' | 'wait:' SECONDS | 'reuseaddr'
 * Pure: parsing, matching and candidate ports; the shim does the binding. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/addr.h"

#define BW_POLICY_RULES_MAX 32
#define BW_RULE_ACTIONS_MAX 8
#define BW_RULE_TEXT_MAX 96

enum bw_action_kind {
	BW_ACT_PORT,       /* a = port */
	BW_ACT_OFFSET,     /* a = signed offset */
	BW_ACT_NEXT,       /* a = how many ports above to try */
	BW_ACT_RANGE,      /* a..b */
	BW_ACT_AUTO,       /* port 0: the kernel picks */
	BW_ACT_WAIT,       /* a = seconds to keep retrying the same port */
	BW_ACT_REUSEADDR,  /* SO_REUSEADDR and one retry (TIME-WAIT only) */
};

struct bw_action {
	enum bw_action_kind kind;
	long a, b;
};

struct bw_rule {
	enum bw_proto proto;       /* BW_PROTO_UNKNOWN: any */
	bool has_addr;
	struct bw_addr addr;       /* family + ip when has_addr */
	int port_lo, port_hi;      /* '*' is 0..65535 */
	size_t n_actions;
	struct bw_action actions[BW_RULE_ACTIONS_MAX];
	char text[BW_RULE_TEXT_MAX];   /* the rule as written, for reports */
};

struct bw_policy {
	size_t n_rules;
	struct bw_rule rules[BW_POLICY_RULES_MAX];
};

struct bw_policy_error {
	size_t column;             /* 1-based column in the input */
	char msg[160];
};

/* Parses text into *ret. 0, or -EINVAL with *err saying where and what was
 * expected. Whitespace around tokens is allowed; empty rules are errors. */
int bw_policy_parse(const char *text, struct bw_policy *ret, struct bw_policy_error *err);

/* First rule matching the address (family/ip/port/proto), or NULL. */
const struct bw_rule *bw_policy_match(const struct bw_policy *p, const struct bw_addr *a);

/* Whether an action only names a fixed target (PORT / +N / -N): those are
 * the ones BINDWATCH_REMAP_MODE=always applies to non-conflicting binds. */
bool bw_action_is_fixed(const struct bw_action *act);

/* The i-th candidate port of a port-moving action applied to 'from'
 * (PORT/OFFSET: i == 0 only; NEXT: from+1+i; RANGE: a+i; AUTO: 0).
 * Returns false when there is no i-th candidate or it is outside 0..65535. */
bool bw_action_candidate(const struct bw_action *act, int from, long i, int *port);

const char *bw_action_name(enum bw_action_kind k);
