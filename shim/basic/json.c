#include "basic/json.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define PATH_MAX_PARTS 8
#define DEPTH_MAX 32

struct walk {
	const char *end;
	size_t n_parts;
	const char *part[PATH_MAX_PARTS];
	size_t part_len[PATH_MAX_PARTS];
	struct bw_json_hit hit;
	bw_json_cb cb;
	void *ctx;
	int stop;        /* the callback's non-zero result */
};

static const char *ws(const struct walk *w, const char *p)
{
	while (p < w->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at the opening quote: returns the byte after the closing one. */
static const char *string_end(const struct walk *w, const char *p)
{
	for (p++; p < w->end; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
	}
	return NULL;
}

static bool is_wild(const struct walk *w, size_t level)
{
	return w->part_len[level] == 1 && w->part[level][0] == '*';
}

/* Does the key token (quotes included) name path component level? */
static bool key_matches(const struct walk *w, size_t level, const char *key, size_t len)
{
	return is_wild(w, level) ||
	       (len == w->part_len[level] + 2 && memcmp(key + 1, w->part[level], len - 2) == 0);
}

/* Parses one value at p. level: path components matched so far, or
 * (size_t)-1 off the path. Returns the byte after the value, or NULL on
 * malformed input or when the callback asked to stop. */
static const char *value(struct walk *w, const char *p, size_t level, int depth)
{
	const char *start;
	p = ws(w, p);
	if (p >= w->end || depth > DEPTH_MAX)
		return NULL;
	start = p;
	if (*p == '{' || *p == '[') {
		bool obj = *p == '{';
		char close = obj ? '}' : ']';
		p = ws(w, p + 1);
		if (p < w->end && *p == close) {
			p++;
		} else {
			for (;;) {
				size_t next = (size_t)-1;
				const char *key = NULL;
				size_t key_len = 0;
				if (obj) {
					const char *k = p;
					if (p >= w->end || *p != '"' || !(p = string_end(w, p)))
						return NULL;
					key = k;
					key_len = (size_t)(p - k);
					p = ws(w, p);
					if (p >= w->end || *p != ':')
						return NULL;
					p++;
				}
				if (level < w->n_parts &&
				    (obj ? key_matches(w, level, key, key_len) : is_wild(w, level)))
					next = level + 1;
				if (next != (size_t)-1 && is_wild(w, level) &&
				    w->hit.n_wild < BW_JSON_WILD_MAX) {
					w->hit.wild[w->hit.n_wild] = obj ? key : "";
					w->hit.wild_len[w->hit.n_wild] = key_len;
					w->hit.n_wild++;
					p = value(w, p, next, depth + 1);
					w->hit.n_wild--;
				} else {
					p = value(w, p, next, depth + 1);
				}
				if (!p)
					return NULL;
				p = ws(w, p);
				if (p < w->end && *p == ',') {
					p = ws(w, p + 1);
					continue;
				}
				if (p < w->end && *p == close) {
					p++;
					break;
				}
				return NULL;
			}
		}
	} else if (*p == '"') {
		p = string_end(w, p);
		if (!p)
			return NULL;
	} else {
		while (p < w->end && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				      *p == '-' || *p == '+' || *p == '.' || *p == 'E'))
			p++;
		if (p == start)
			return NULL;
	}
	if (level == w->n_parts) {
		w->hit.val = start;
		w->hit.len = (size_t)(p - start);
		w->stop = w->cb(&w->hit, w->ctx);
		if (w->stop)
			return NULL;
	}
	return p;
}

int bw_json_each(const char *s, size_t n, const char *path, bw_json_cb cb, void *ctx)
{
	struct walk w;
	memset(&w, 0, sizeof(w));
	w.end = s + n;
	w.cb = cb;
	w.ctx = ctx;
	for (const char *p = path; *p && w.n_parts < PATH_MAX_PARTS;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		w.part[w.n_parts] = p;
		w.part_len[w.n_parts++] = len;
		p += len + (dot != NULL);
	}
	if (value(&w, s, 0, 0))
		return 0;
	return w.stop ? w.stop : -EINVAL;
}

int bw_json_string(const char *tok, size_t len, char *out, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return -EINVAL;
	out[0] = '\0';
	if (len < 2 || tok[0] != '"' || tok[len - 1] != '"')
		return -EINVAL;
	for (size_t i = 1; i + 1 < len && o + 1 < size; i++) {
		char ch = tok[i];
		if (ch == '\\' && i + 2 < len) {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *f = strchr(from, tok[++i]);
			if (f && tok[i]) {
				ch = to[f - from];
			} else if (tok[i] == 'u' && i + 4 + 1 < len) {
				unsigned v = 0;
				for (int k = 1; k <= 4; k++) {
					char h = tok[i + k];
					v = v * 16 + (unsigned)(h >= '0' && h <= '9'   ? h - '0'
								: h >= 'a' && h <= 'f' ? h - 'a' + 10
								: h >= 'A' && h <= 'F' ? h - 'A' + 10
										       : 0);
				}
				i += 4;
				ch = v > 0 && v < 0x80 ? (char)v : '?';
			} else {
				out[o] = '\0';
				return -EINVAL;
			}
		}
		out[o++] = ch;
	}
	out[o] = '\0';
	return (int)o;
}

struct first {
	char *out;
	size_t size;
	int r;
};

static int first_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct first *f = ctx;
	if (hit->val[0] == '"') {
		f->r = bw_json_string(hit->val, hit->len, f->out, f->size);
	} else {
		size_t n = hit->len < f->size - 1 ? hit->len : f->size - 1;
		memcpy(f->out, hit->val, n);
		f->out[n] = '\0';
		f->r = (int)n;
	}
	return 1;
}

int bw_json_get(const char *s, size_t n, const char *path, char *out, size_t size)
{
	struct first f = {out, size, -ENOENT};
	int r;
	if (size == 0)
		return -EINVAL;
	out[0] = '\0';
	r = bw_json_each(s, n, path, first_cb, &f);
	return r == 1 ? f.r : r < 0 ? r : -ENOENT;
}
