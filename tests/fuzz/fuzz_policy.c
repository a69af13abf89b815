/* fuzz_policy: bw_policy_parse over BINDWATCH_REMAP text (the whole input,
 * cut at its first NUL as getenv would), then bw_policy_match and
 * bw_action_candidate on what it accepted.
 * Checks: a rejected policy leaves *ret untouched and points at a column
 * inside the text with a message; an accepted one keeps every number in
 * its grammar range, each rule's text parses back to the same rule, the
 * matcher returns the first covering rule and candidates follow the
 * contract in policy.h. */
#include <errno.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "policy/policy.h"
#include "policy_check.h"

static void match_around(const struct bw_policy *p, const struct bw_rule *r)
{
	static const uint8_t v6_loop[16] = {[15] = 1};
	const int ports[] = {r->port_lo, r->port_hi, r->port_lo - 1, r->port_hi + 1, 0, 65535};
	struct bw_addr a;

	for (int variant = 0; variant < 4; variant++) {
		memset(&a, 0, sizeof(a));
		if (variant == 0 && r->has_addr) {
			a.family = r->addr.family;
			memcpy(a.ip, r->addr.ip, 16);
		} else if (variant == 1) {
			a.family = AF_INET;
			a.ip[0] = 127;
			a.ip[3] = 1;
		} else if (variant == 2) {
			a.family = AF_INET6;
			memcpy(a.ip, v6_loop, 16);
		} else {
			a.family = AF_UNSPEC;
		}
		for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
			if (ports[i] < 0 || ports[i] > 65535)
				continue;
			a.port = (uint16_t)ports[i];
			for (int proto = BW_PROTO_UNKNOWN; proto <= BW_PROTO_UDP; proto++) {
				a.proto = (enum bw_proto)proto;
				fuzz_check_match(p, &a);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bw_policy pol, pol2, pattern;
	struct bw_policy_error err;
	char *text = fuzz_dup(data, size, true);
	size_t len = strlen(text);
	int rc;

	memset(&pattern, 0xa5, sizeof(pattern));
	memcpy(&pol, &pattern, sizeof(pol));
	memcpy(&pol2, &pattern, sizeof(pol2));
	rc = bw_policy_parse(text, &pol, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL, "returned %d", rc);
	FUZZ_CHECK(bw_policy_parse(text, &pol2, NULL) == rc, "a NULL err changes the verdict");
	if (rc < 0) {
		FUZZ_CHECK(memcmp(&pol, &pattern, sizeof(pol)) == 0 &&
				   memcmp(&pol2, &pattern, sizeof(pol2)) == 0,
			   "a rejected policy wrote *ret");
		FUZZ_CHECK(err.column >= 1 && err.column <= len + 1, "error column %zu in %zu bytes",
			   err.column, len);
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) && err.msg[0],
			   "error message empty or unterminated");
	} else {
		fuzz_check_policy(&pol);
		for (size_t k = 0; k < pol.n_rules; k++)
			match_around(&pol, &pol.rules[k]);
	}
	free(text);
	return 0;
}
