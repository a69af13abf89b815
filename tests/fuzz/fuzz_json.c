/* fuzz_json: the bounded JSON reader over engine state files (Docker's
 * config.v2.json, Podman's containers.json: root-written, but read inside
 * any host process by the shim). Input: the first byte picks a path
 * (Docker's and Podman's, with and without wildcards), the second sizes
 * the output buffer (1 + b % 64), the rest is the text, given exactly (no
 * NUL: the reader must never look past n; ASan watches the heap copy).
 * Checks: no read outside the text; bw_json_get returns a length below
 * the buffer size, or -ENOENT/-EINVAL, and always terminates the output;
 * every hit of bw_json_each lies inside the text and its wildcard keys do
 * too; a string hit unescapes to at most its own length. */
#include <errno.h>

#include "basic/json.h"
#include "fuzz.h"

struct range {
	const char *s;
	size_t n;
	unsigned hits;
};

FUZZ_NOCOV static bool inside(const struct range *r, const char *p, size_t len)
{
	return p >= r->s && p + len <= r->s + r->n;
}

static int hit_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct range *r = ctx;
	char out[256];
	FUZZ_CHECK(inside(r, hit->val, hit->len) && hit->len > 0, "hit outside the text");
	FUZZ_CHECK(hit->n_wild <= BW_JSON_WILD_MAX, "n_wild %zu", hit->n_wild);
	for (size_t i = 0; i < hit->n_wild; i++)
		FUZZ_CHECK(hit->wild_len[i] == 0 || inside(r, hit->wild[i], hit->wild_len[i]),
			   "wildcard key outside the text");
	if (hit->val[0] == '"') {
		int k = bw_json_string(hit->val, hit->len, out, sizeof(out));
		FUZZ_CHECK(k < (int)hit->len, "unescaped %d from %zu", k, hit->len);
	}
	return ++r->hits > 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"Name", "Config.Image", "State.Running", "NetworkSettings.Networks.*.IPAddress",
		"NetworkSettings.Ports.*.*.HostPort", "*", "*.id", "names.*", "*.*.*.*", "a.b.c.d.e.f.g.h.i",
	};
	struct fuzz_in in = {data, size};
	uint8_t pick = fuzz_u8(&in), sz = fuzz_u8(&in);
	const char *path = paths[pick % (sizeof(paths) / sizeof(paths[0]))];
	size_t out_size = 1 + sz % 64;
	char *text = fuzz_dup(in.p, in.n, false);
	char *out = malloc(out_size);
	struct range r = {text, in.n, 0};
	int k;

	k = bw_json_get(text, in.n, path, out, out_size);
	FUZZ_CHECK(k == -ENOENT || k == -EINVAL || (k >= 0 && (size_t)k < out_size), "get %d", k);
	FUZZ_CHECK(memchr(out, '\0', out_size) != NULL, "output not terminated");
	k = bw_json_each(text, in.n, path, hit_cb, &r);
	FUZZ_CHECK(k == 0 || k == 1 || k == -EINVAL, "each %d", k);
	free(out);
	free(text);
	return 0;
}
