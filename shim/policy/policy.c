#include "policy/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct cursor {
	const char *start, *p;
	struct bw_policy_error *err;
};

static int fail(struct cursor *c, const char *at, const char *fmt, const char *what)
{
	if (c->err) {
		c->err->column = (size_t)(at - c->start) + 1;
		snprintf(c->err->msg, sizeof(c->err->msg), fmt, what);
	}
	return -EINVAL;
}

static void skip_ws(struct cursor *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* Decimal number in [lo, hi]; no sign. */
static int number(struct cursor *c, long lo, long hi, long *ret, const char *what)
{
	const char *s = c->p;
	long v = 0;
	if (!isdigit((unsigned char)*s))
		return fail(c, s, "expected %s", what);
	while (isdigit((unsigned char)*c->p)) {
		v = v * 10 + (*c->p - '0');
		if (v > hi)
			return fail(c, s, "%s is out of range", what);
		c->p++;
	}
	if (v < lo)
		return fail(c, s, "%s is out of range", what);
	*ret = v;
	return 0;
}

static bool word(struct cursor *c, const char *w)
{
	size_t n = strlen(w);
	if (strncmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

static int parse_match(struct cursor *c, struct bw_rule *r)
{
	long lo, hi;
	skip_ws(c);
	r->proto = BW_PROTO_UNKNOWN;
	if (word(c, "tcp/"))
		r->proto = BW_PROTO_TCP;
	else if (word(c, "udp/"))
		r->proto = BW_PROTO_UDP;
	if (*c->p == '[') {
		const char *s = c->p + 1, *close = strchr(s, ']');
		char ip[64];
		if (!close || (size_t)(close - s) >= sizeof(ip))
			return fail(c, c->p, "expected %s", "[IPv6]:PORT");
		memcpy(ip, s, (size_t)(close - s));
		ip[close - s] = '\0';
		if (inet_pton(AF_INET6, ip, r->addr.ip) != 1)
			return fail(c, s, "expected %s", "an IPv6 address");
		r->addr.family = AF_INET6;
		r->has_addr = true;
		c->p = close + 1;
		if (*c->p != ':')
			return fail(c, c->p, "expected %s", "':' and a port after ']'");
		c->p++;
	} else {
		/* An IPv4 address if a ':' follows the dotted quad. */
		size_t n = strspn(c->p, "0123456789.");
		if (n > 0 && c->p[n] == ':') {
			char ip[20];
			if (n >= sizeof(ip))
				return fail(c, c->p, "expected %s", "an IPv4 address");
			memcpy(ip, c->p, n);
			ip[n] = '\0';
			if (inet_pton(AF_INET, ip, r->addr.ip) != 1)
				return fail(c, c->p, "expected %s", "an IPv4 address");
			r->addr.family = AF_INET;
			r->has_addr = true;
			c->p += n + 1;
		}
	}
	if (*c->p == '*') {
		c->p++;
		r->port_lo = 0;
		r->port_hi = 65535;
		return 0;
	}
	if (number(c, 0, 65535, &lo, "a port (0-65535), a range LO-HI or '*'") < 0)
		return -EINVAL;
	hi = lo;
	if (*c->p == '-') {
		const char *dash = c->p++;
		if (number(c, 0, 65535, &hi, "the end of the port range (0-65535)") < 0)
			return -EINVAL;
		if (hi < lo)
			return fail(c, dash, "%s", "a port range must be LO-HI with LO <= HI");
	}
	r->port_lo = (int)lo;
	r->port_hi = (int)hi;
	return 0;
}

static int parse_action(struct cursor *c, struct bw_action *a)
{
	const char *s;
	skip_ws(c);
	s = c->p;
	memset(a, 0, sizeof(*a));
	if (*c->p == '+' || *c->p == '-') {
		bool neg = *c->p == '-';
		c->p++;
		a->kind = BW_ACT_OFFSET;
		if (number(c, 1, 65535, &a->a, "an offset 1-65535 after '+'/'-'") < 0)
			return -EINVAL;
		if (neg)
			a->a = -a->a;
	} else if (isdigit((unsigned char)*c->p)) {
		a->kind = BW_ACT_PORT;
		if (number(c, 1, 65535, &a->a, "a target port (1-65535)") < 0)
			return -EINVAL;
	} else if (word(c, "next")) {
		a->kind = BW_ACT_NEXT;
		a->a = 100;
		if (*c->p == ':') {
			c->p++;
			if (number(c, 1, 65535, &a->a, "how many ports 'next:' may try (1-65535)") < 0)
				return -EINVAL;
		}
	} else if (word(c, "range:")) {
		a->kind = BW_ACT_RANGE;
		if (number(c, 1, 65535, &a->a, "the range start (1-65535)") < 0)
			return -EINVAL;
		if (*c->p != '-')
			return fail(c, c->p, "expected %s", "'-' in range:LO-HI");
		c->p++;
		if (number(c, 1, 65535, &a->b, "the range end (1-65535)") < 0)
			return -EINVAL;
		if (a->b < a->a)
			return fail(c, s, "%s", "range:LO-HI needs LO <= HI");
	} else if (word(c, "auto")) {
		a->kind = BW_ACT_AUTO;
	} else if (word(c, "wait:")) {
		a->kind = BW_ACT_WAIT;
		if (number(c, 1, 3600, &a->a, "seconds for wait: (1-3600)") < 0)
			return -EINVAL;
	} else if (word(c, "reuseaddr")) {
		a->kind = BW_ACT_REUSEADDR;
	} else {
		return fail(c, s, "expected %s",
			    "an action: PORT, +N, -N, next[:N], range:LO-HI, auto, wait:SECONDS or reuseaddr");
	}
	skip_ws(c);
	return 0;
}

static void keep_text(struct bw_rule *r, const char *s, const char *e)
{
	size_t n;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - s);
	if (n >= sizeof(r->text))
		n = sizeof(r->text) - 1;
	memcpy(r->text, s, n);
	r->text[n] = '\0';
}

int bw_policy_parse(const char *text, struct bw_policy *ret, struct bw_policy_error *err)
{
	struct cursor c = {.start = text, .p = text, .err = err};
	struct bw_policy pol;

	memset(&pol, 0, sizeof(pol));
	if (err)
		memset(err, 0, sizeof(*err));
	if (!text)
		return -EINVAL;
	skip_ws(&c);
	if (!*c.p)
		return fail(&c, c.p, "expected %s", "at least one rule MATCH=ACTION");
	for (;;) {
		struct bw_rule *r;
		const char *rule_start = c.p;
		if (pol.n_rules >= BW_POLICY_RULES_MAX)
			return fail(&c, c.p, "too many rules (at most %s)", "32");
		r = &pol.rules[pol.n_rules];
		if (parse_match(&c, r) < 0)
			return -EINVAL;
		skip_ws(&c);
		if (*c.p != '=')
			return fail(&c, c.p, "expected %s", "'=' after the match");
		c.p++;
		for (;;) {
			if (r->n_actions >= BW_RULE_ACTIONS_MAX)
				return fail(&c, c.p, "too many actions in one rule (at most %s)", "8");
			if (parse_action(&c, &r->actions[r->n_actions++]) < 0)
				return -EINVAL;
			if (*c.p != '|')
				break;
			c.p++;
		}
		keep_text(r, rule_start, c.p);
		pol.n_rules++;
		if (*c.p == '\0')
			break;
		if (*c.p != ',')
			return fail(&c, c.p, "expected %s", "',' between rules, '|' between actions, or the end");
		c.p++;
		skip_ws(&c);
	}
	*ret = pol;
	return 0;
}

const struct bw_rule *bw_policy_match(const struct bw_policy *p, const struct bw_addr *a)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct bw_rule *r = &p->rules[i];
		if (r->proto != BW_PROTO_UNKNOWN && r->proto != a->proto)
			continue;
		if (a->port < r->port_lo || a->port > r->port_hi)
			continue;
		if (r->has_addr) {
			size_t n = r->addr.family == AF_INET ? 4 : 16;
			if (r->addr.family != a->family || memcmp(r->addr.ip, a->ip, n) != 0)
				continue;
		}
		return r;
	}
	return NULL;
}

bool bw_action_is_fixed(const struct bw_action *act)
{
	return act->kind == BW_ACT_PORT || act->kind == BW_ACT_OFFSET;
}

bool bw_action_candidate(const struct bw_action *act, int from, long i, int *port)
{
	long p;
	switch (act->kind) {
	case BW_ACT_PORT:
		p = i == 0 ? act->a : -1;
		break;
	case BW_ACT_OFFSET:
		p = i == 0 ? from + act->a : -1;
		break;
	case BW_ACT_NEXT:
		p = i < act->a ? from + 1 + i : -1;
		break;
	case BW_ACT_RANGE:
		p = act->a + i <= act->b ? act->a + i : -1;
		break;
	case BW_ACT_AUTO:
		p = i == 0 ? 0 : -1;
		break;
	default:
		return false;
	}
	if (p < 0 || p > 65535)
		return false;
	*port = (int)p;
	return true;
}

const char *bw_action_name(enum bw_action_kind k)
{
	switch (k) {
	case BW_ACT_PORT: return "port";
	case BW_ACT_OFFSET: return "offset";
	case BW_ACT_NEXT: return "next";
	case BW_ACT_RANGE: return "range";
	case BW_ACT_AUTO: return "auto";
	case BW_ACT_WAIT: return "wait";
	case BW_ACT_REUSEADDR: return "reuseaddr";
	}
	return "?";
}
