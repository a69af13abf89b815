#include "lookup/btf.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/btf.h>
#include <string.h>

struct view {
	const uint8_t *types, *strs;
	uint32_t types_len, strs_len;
};

static int open_view(const void *btf, size_t len, struct view *v)
{
	struct btf_header h;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, btf, sizeof(h));
	/* Types are read through struct btf_type pointers: the section must
	 * start 4-byte aligned (libbpf's btf_parse_type_sec() says the same). */
	if (h.magic != BTF_MAGIC || h.hdr_len > len || ((uint64_t)h.hdr_len + h.type_off) % 4 != 0 ||
	    (uint64_t)h.hdr_len + h.type_off + h.type_len > len ||
	    (uint64_t)h.hdr_len + h.str_off + h.str_len > len)
		return -EINVAL;
	v->types = (const uint8_t *)btf + h.hdr_len + h.type_off;
	v->types_len = h.type_len;
	v->strs = (const uint8_t *)btf + h.hdr_len + h.str_off;
	v->strs_len = h.str_len;
	return 0;
}

static const char *str(const struct view *v, uint32_t off)
{
	if (off >= v->strs_len)
		return "";
	/* The section ends in a NUL (checked by the kernel when it made it);
	 * memchr keeps a corrupt file from running us off the end. */
	return memchr(v->strs + off, '\0', v->strs_len - off) ? (const char *)v->strs + off : "";
}

/* Size of the kind-specific data that follows a btf_type (btf(7)
 * equivalents: Documentation/bpf/btf.rst, "Type encoding"). */
static long extra(const struct btf_type *t)
{
	uint32_t vlen = BTF_INFO_VLEN(t->info);
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT: return 4;
	case BTF_KIND_ARRAY: return 12;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: return 12l * vlen;
	case BTF_KIND_ENUM:
	case BTF_KIND_FUNC_PROTO: return 8l * vlen;
	case BTF_KIND_VAR: return 4;
	case BTF_KIND_DATASEC: return 12l * vlen;
	case BTF_KIND_DECL_TAG: return 4;
	case BTF_KIND_ENUM64: return 12l * vlen;
	case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST: case BTF_KIND_RESTRICT: case BTF_KIND_FUNC: case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG: return 0;
	default: return -1;
	}
}

/* Calls fn(id, type) for each type in order; stops when fn returns != 0. */
static long walk(const struct view *v, long (*fn)(const struct view *, uint32_t,
						     const struct btf_type *, void *),
		 void *ctx)
{
	uint32_t off = 0, id = 1;
	while (off + sizeof(struct btf_type) <= v->types_len) {
		const struct btf_type *t = (const void *)(v->types + off);
		long x = extra(t), r;
		if (x < 0 || off + sizeof(*t) + (uint64_t)x > v->types_len)
			return -EINVAL;
		r = fn(v, id, t, ctx);
		if (r)
			return r;
		off += (uint32_t)(sizeof(*t) + (size_t)x);
		id++;
	}
	return 0;
}

struct func_q {
	const char *name;
};

static long find_func(const struct view *v, uint32_t id, const struct btf_type *t, void *ctx)
{
	struct func_q *q = ctx;
	if (BTF_INFO_KIND(t->info) == BTF_KIND_FUNC && strcmp(str(v, t->name_off), q->name) == 0)
		return id;
	return 0;
}

long bw_btf_func_id(const void *btf, size_t len, const char *name)
{
	struct view v;
	struct func_q q = {name};
	long r;
	if (open_view(btf, len, &v) < 0)
		return -EINVAL;
	r = walk(&v, find_func, &q);
	return r > 0 ? r : r < 0 ? r : -ENOENT;
}

/* Anonymous members point at other types by id; resolving an id needs a
 * second walk, bounded by the nesting depth. */
struct by_id {
	uint32_t id;
	const struct btf_type *found;
};

static long find_id(const struct view *v, uint32_t id, const struct btf_type *t, void *ctx)
{
	struct by_id *q = ctx;
	(void)v;
	if (id == q->id) {
		q->found = t;
		return 1;
	}
	return 0;
}

/* *budget bounds the anonymous members resolved in one lookup: each costs a
 * walk over every type, and a corrupt blob can nest a struct in itself. */
static long member_in(const struct view *v, const struct btf_type *t, const char *member, int depth,
		      unsigned *budget)
{
	const struct btf_member *m = (const void *)(t + 1);
	uint32_t vlen = BTF_INFO_VLEN(t->info);
	bool bitfield_enc = BTF_INFO_KFLAG(t->info);
	for (uint32_t i = 0; i < vlen; i++) {
		uint32_t bits = bitfield_enc ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
		const char *n = str(v, m[i].name_off);
		if (strcmp(n, member) == 0)
			return bits % 8 ? -EINVAL : (long)(bits / 8);
		if (!*n && depth < 4 && *budget > 0) {
			struct by_id q = {m[i].type, NULL};
			(*budget)--;
			walk(v, find_id, &q);
			if (q.found && (BTF_INFO_KIND(q.found->info) == BTF_KIND_STRUCT ||
					BTF_INFO_KIND(q.found->info) == BTF_KIND_UNION)) {
				long r = member_in(v, q.found, member, depth + 1, budget);
				if (r >= 0)
					return (long)(bits / 8) + r;
			}
		}
	}
	return -ENOENT;
}

struct member_q {
	const char *type, *member;
	long offset;
	unsigned budget;
};

static long find_member(const struct view *v, uint32_t id, const struct btf_type *t, void *ctx)
{
	struct member_q *q = ctx;
	long r;
	(void)id;
	if (BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT || strcmp(str(v, t->name_off), q->type) != 0)
		return 0;
	r = member_in(v, t, q->member, 0, &q->budget);
	if (r < 0)
		return 0;
	q->offset = r;
	return 1;
}

long bw_btf_member_offset(const void *btf, size_t len, const char *type, const char *member)
{
	struct view v;
	struct member_q q = {type, member, -ENOENT, 256};
	if (open_view(btf, len, &v) < 0)
		return -EINVAL;
	if (walk(&v, find_member, &q) < 0)
		return -EINVAL;
	return q.offset;
}
