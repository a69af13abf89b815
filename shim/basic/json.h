/* json: a bounded reader for the few JSON state files bindwatch looks into
 * (Docker's config.v2.json and hostconfig.json, Podman's containers.json).
 * Walks the text in place: no allocation, nesting capped, any malformed
 * input ends the walk with -EINVAL. Pure. */
#pragma once
#include <stddef.h>

#define BW_JSON_WILD_MAX 4

/* One value at a path. val/len is its raw text (a string with its quotes);
 * wild[i]/wild_len[i] the raw text of the key each "*" of the path matched
 * (with quotes; "" for an array element). */
struct bw_json_hit {
	const char *val;
	size_t len;
	size_t n_wild;
	const char *wild[BW_JSON_WILD_MAX];
	size_t wild_len[BW_JSON_WILD_MAX];
};

typedef int (*bw_json_cb)(const struct bw_json_hit *hit, void *ctx);

/* Calls cb for every value at path in the n bytes of s: components joined
 * by '.', each an object key or "*" (any key, or any array element), e.g.
 * "NetworkSettings.Networks.*.IPAddress". Stops at the first non-zero cb
 * result and returns it; 0 at the end; -EINVAL for malformed JSON (hits
 * before the error were delivered). */
int bw_json_each(const char *s, size_t n, const char *path, bw_json_cb cb, void *ctx);

/* The first value at path into out: a string unescaped (\uXXXX outside
 * ASCII becomes '?'), anything else as its raw text. Returns its length,
 * or -ENOENT (no such value) / -EINVAL. out is always NUL-terminated. */
int bw_json_get(const char *s, size_t n, const char *path, char *out, size_t size);

/* Unescapes the string token tok/len (with its quotes) into out; the
 * length, or -EINVAL when tok is no string. */
int bw_json_string(const char *tok, size_t len, char *out, size_t size);
