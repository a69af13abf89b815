/* policy_check: the invariants of a parsed BINDWATCH_REMAP policy, shared by
 * fuzz_policy and fuzz_settings (which gets a policy through the
 * environment). Every number stays in the range the grammar in policy.h
 * allows, and each rule's kept text parses back to the same rule. */
#pragma once
#include <netinet/in.h>

#include "fuzz.h"
#include "policy/policy.h"

FUZZ_NOCOV static inline bool fuzz_action_in_range(const struct bw_action *a)
{
	switch (a->kind) {
	case BW_ACT_PORT: return a->a >= 1 && a->a <= 65535;
	case BW_ACT_OFFSET: return a->a != 0 && a->a >= -65535 && a->a <= 65535;
	case BW_ACT_NEXT: return a->a >= 1 && a->a <= 65535;
	case BW_ACT_RANGE: return a->a >= 1 && a->a <= a->b && a->b <= 65535;
	case BW_ACT_AUTO:
	case BW_ACT_REUSEADDR: return true;
	case BW_ACT_WAIT: return a->a >= 1 && a->a <= 3600;
	}
	return false;
}

FUZZ_NOCOV static inline bool fuzz_rules_equal(const struct bw_rule *x, const struct bw_rule *y)
{
	if (x->proto != y->proto || x->has_addr != y->has_addr || x->port_lo != y->port_lo ||
	    x->port_hi != y->port_hi || x->n_actions != y->n_actions)
		return false;
	if (x->has_addr && (x->addr.family != y->addr.family || memcmp(x->addr.ip, y->addr.ip, 16)))
		return false;
	for (size_t i = 0; i < x->n_actions; i++)
		if (x->actions[i].kind != y->actions[i].kind || x->actions[i].a != y->actions[i].a ||
		    x->actions[i].b != y->actions[i].b)
			return false;
	return true;
}

/* What bw_action_candidate must answer, written from its contract. */
static inline void fuzz_check_candidate(const struct bw_action *act, int from, long i)
{
	long want = -1;
	int port = -12345;
	bool ok = bw_action_candidate(act, from, i, &port);
	switch (act->kind) {
	case BW_ACT_PORT: want = i == 0 ? act->a : -1; break;
	case BW_ACT_OFFSET: want = i == 0 ? from + act->a : -1; break;
	case BW_ACT_NEXT: want = i >= 0 && i < act->a ? from + 1 + i : -1; break;
	case BW_ACT_RANGE: want = i >= 0 && act->a + i <= act->b ? act->a + i : -1; break;
	case BW_ACT_AUTO: want = i == 0 ? 0 : -1; break;
	default: break;
	}
	if (want > 65535)
		want = -1;
	FUZZ_CHECK(ok == (want >= 0), "%s a=%ld b=%ld from %d i %ld: %s, expected %ld",
		   bw_action_name(act->kind), act->a, act->b, from, i, ok ? "a port" : "none", want);
	if (ok)
		FUZZ_CHECK(port == want, "%s from %d i %ld: port %d, expected %ld",
			   bw_action_name(act->kind), from, i, port, want);
}

static inline void fuzz_check_policy(const struct bw_policy *p)
{
	FUZZ_CHECK(p->n_rules >= 1 && p->n_rules <= BW_POLICY_RULES_MAX, "%zu rules", p->n_rules);
	for (size_t k = 0; k < p->n_rules; k++) {
		const struct bw_rule *r = &p->rules[k];
		size_t tl = strnlen(r->text, sizeof(r->text));
		FUZZ_CHECK(tl < sizeof(r->text), "rule %zu: text not terminated", k);
		FUZZ_CHECK(r->proto == BW_PROTO_UNKNOWN || r->proto == BW_PROTO_TCP ||
				   r->proto == BW_PROTO_UDP, "rule %zu: proto %d", k, (int)r->proto);
		FUZZ_CHECK(r->port_lo >= 0 && r->port_lo <= r->port_hi && r->port_hi <= 65535,
			   "rule %zu: ports %d-%d", k, r->port_lo, r->port_hi);
		FUZZ_CHECK(!r->has_addr || r->addr.family == AF_INET || r->addr.family == AF_INET6,
			   "rule %zu: address family %d", k, r->addr.family);
		FUZZ_CHECK(r->n_actions >= 1 && r->n_actions <= BW_RULE_ACTIONS_MAX,
			   "rule %zu: %zu actions", k, r->n_actions);
		for (size_t i = 0; i < r->n_actions; i++) {
			const struct bw_action *a = &r->actions[i];
			static const int froms[] = {0, 1, 1023, 65534, 65535};
			long is[] = {0, 1, 2, a->a - 1, a->a, a->a + 1, a->b - a->a, 65535, 65536};
			FUZZ_CHECK(fuzz_action_in_range(a), "rule %zu action %zu: %s a=%ld b=%ld", k, i,
				   bw_action_name(a->kind), a->a, a->b);
			FUZZ_CHECK(bw_action_is_fixed(a) ==
					   (a->kind == BW_ACT_PORT || a->kind == BW_ACT_OFFSET),
				   "bw_action_is_fixed(%s)", bw_action_name(a->kind));
			for (size_t f = 0; f < sizeof(froms) / sizeof(froms[0]); f++)
				for (size_t j = 0; j < sizeof(is) / sizeof(is[0]); j++)
					if (is[j] >= 0) /* callers count up from 0 */
						fuzz_check_candidate(a, froms[f], is[j]);
			fuzz_check_candidate(a, r->port_lo, 0);
		}
		/* The text kept for reports is the rule itself: alone, it parses to
		 * the same rule (unless it was cut at BW_RULE_TEXT_MAX). */
		if (tl < sizeof(r->text) - 1) {
			struct bw_policy *again = malloc(sizeof(*again));
			struct bw_policy_error err;
			int rc;
			if (!again)
				abort();
			rc = bw_policy_parse(r->text, again, &err);
			FUZZ_CHECK(rc == 0, "rule %zu text \"%s\" does not parse alone: column %zu: %s",
				   k, r->text, err.column, err.msg);
			FUZZ_CHECK(again->n_rules == 1 && fuzz_rules_equal(r, &again->rules[0]),
				   "rule %zu text \"%s\" parses to a different rule", k, r->text);
			free(again);
		}
	}
}

/* Whether rule r covers address a, from the grammar's meaning. */
FUZZ_NOCOV static inline bool fuzz_rule_covers(const struct bw_rule *r, const struct bw_addr *a)
{
	if (r->proto != BW_PROTO_UNKNOWN && r->proto != a->proto)
		return false;
	if ((int)a->port < r->port_lo || (int)a->port > r->port_hi)
		return false;
	if (!r->has_addr)
		return true;
	if (r->addr.family != a->family)
		return false;
	return memcmp(r->addr.ip, a->ip, r->addr.family == AF_INET ? 4 : 16) == 0;
}

/* bw_policy_match returns the first covering rule. */
static inline void fuzz_check_match(const struct bw_policy *p, const struct bw_addr *a)
{
	const struct bw_rule *m = bw_policy_match(p, a);
	size_t first = p->n_rules;
	for (size_t k = 0; k < p->n_rules; k++)
		if (fuzz_rule_covers(&p->rules[k], a)) {
			first = k;
			break;
		}
	if (first == p->n_rules)
		FUZZ_CHECK(m == NULL, "port %u matched rule %zd though none covers it", a->port,
			   m ? m - p->rules : -1);
	else
		FUZZ_CHECK(m == &p->rules[first], "port %u: matched rule %zd, expected %zu", a->port,
			   m ? m - p->rules : -1, first);
}
