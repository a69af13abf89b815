#include "supervise/syscallsite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far above the stack pointer the first frame record is looked for. */
#define SCAN_WORDS 512

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* One "0x..." field; advances *p. */
static bool hex_field(const char **p, uint64_t *v)
{
	const char *s = skip_space(*p);
	char *end;
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	errno = 0;
	*v = strtoull(s + 2, &end, 16);
	if (errno || end == s + 2 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return false;
	*p = end;
	return true;
}

static bool at_end(const char *p)
{
	p = skip_space(p);
	return *p == '\0' || (*p == '\n' && p[1] == '\0');
}

int bw_syscall_parse(const char *text, struct bw_syscall_site *ret)
{
	struct bw_syscall_site s = {0};
	const char *p = skip_space(text);
	char *end;

	if (strncmp(p, "running", 7) == 0)
		return -EAGAIN;
	errno = 0;
	s.nr = strtol(p, &end, 10);
	if (errno || end == p || *end != ' ')
		return -EINVAL;
	p = end;
	if (s.nr < 0) {
		if (!hex_field(&p, &s.sp) || !hex_field(&p, &s.pc) || !at_end(p))
			return -EINVAL;
		*ret = s;
		return -ENOENT;
	}
	for (size_t i = 0; i < 6; i++)
		if (!hex_field(&p, &s.args[i]))
			return -EINVAL;
	if (!hex_field(&p, &s.sp) || !hex_field(&p, &s.pc) || !at_end(p))
		return -EINVAL;
	*ret = s;
	return 0;
}

/* "start-end perms offset dev inode [path]" */
static bool parse_map_line(const char *line, const char *eol, struct bw_map *m)
{
	char perms[5];
	unsigned long long start, end, off;
	int n = 0;
	const char *p;
	size_t len;

	if (sscanf(line, "%llx-%llx %4s %llx %*s %*u%n", &start, &end, perms, &off, &n) < 4 ||
	    n == 0 || line + n > eol)
		return false;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->exec = strlen(perms) == 4 && perms[2] == 'x';
	p = skip_space(line + n);
	len = (size_t)(eol - p);
	if (len >= sizeof(m->path))
		len = sizeof(m->path) - 1;
	memcpy(m->path, p, len);
	m->path[len] = '\0';
	return true;
}

int bw_maps_find(const char *maps, uint64_t addr, struct bw_map *ret)
{
	const char *line = maps;
	while (*line) {
		const char *eol = strchr(line, '\n');
		struct bw_map m;
		if (!eol)
			eol = line + strlen(line);
		if (parse_map_line(line, eol, &m) && addr >= m.start && addr < m.end) {
			*ret = m;
			return 0;
		}
		line = *eol ? eol + 1 : eol;
	}
	return -ENOENT;
}

#if defined(__aarch64__)
bool bw_call_precedes(const uint8_t before[8])
{
	uint32_t insn = (uint32_t)before[4] | (uint32_t)before[5] << 8 | (uint32_t)before[6] << 16 |
			(uint32_t)before[7] << 24;
	return (insn & 0xfc000000u) == 0x94000000u ||  /* BL imm26 */
	       (insn & 0xfffffc1fu) == 0xd63f0000u;    /* BLR Xn */
}
#else
/* Length of "FF modrm [sib] [disp]" as encoded from the ModRM byte on. */
static unsigned ff_length(uint8_t modrm, uint8_t sib)
{
	unsigned mod = modrm >> 6, rm = modrm & 7, len = 2;
	if (mod == 3)
		return len;
	if (rm == 4) {
		len++;
		if (mod == 0 && (sib & 7) == 5)
			len += 4;
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;
	return len;
}

bool bw_call_precedes(const uint8_t before[8])
{
	static const unsigned lens[] = {2, 3, 4, 6, 7};
	if (before[3] == 0xe8) /* call rel32 */
		return true;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned k = lens[i];
		const uint8_t *op = before + 8 - k;
		if (op[0] != 0xff || ((op[1] >> 3) & 7) != 2)
			continue;
		if (ff_length(op[1], k > 2 ? op[2] : 0) == k)
			return true;
	}
	return false;
}
#endif

/* The copied stack and a memo of which words are return addresses (each
 * is_return() may read the target's memory). */
struct walk {
	const uint64_t *words;
	size_t n;
	uint64_t base;
	const struct bw_fp_ops *ops;
	uint8_t memo[BW_FP_WINDOW_WORDS]; /* 0 unknown, 1 yes, 2 no */
};

static bool word_at(const struct walk *w, uint64_t addr, size_t *idx)
{
	uint64_t i;
	if (addr < w->base || (addr - w->base) % 8 != 0)
		return false;
	i = (addr - w->base) / 8;
	if (i >= w->n)
		return false;
	*idx = (size_t)i;
	return true;
}

static bool returns_at(struct walk *w, size_t i)
{
	if (!w->memo[i])
		w->memo[i] = w->ops->is_return(w->words[i], w->ops->ctx) ? 1 : 2;
	return w->memo[i] == 1;
}

/* A plausible saved frame pointer at stack address fp: 0 (outermost) or
 * higher up the stack, aligned (perhaps past the copied window). */
static bool fp_plausible(uint64_t fp, uint64_t next)
{
	return next == 0 || (next > fp && next % 8 == 0);
}

/* Follows the chain from the record at fp; writes up to max return
 * addresses when out is set. Returns the links followed; a link whose
 * saved fp lies past the window still counts, the walk ends there. */
static size_t follow(struct walk *w, uint64_t fp, uint64_t *out, size_t max)
{
	size_t links = 0, i, r;
	while (links < max && word_at(w, fp, &i) && word_at(w, fp + 8, &r)) {
		uint64_t next = w->words[i];
		if (!fp_plausible(fp, next) || !returns_at(w, r))
			break;
		if (out)
			out[links] = w->words[r];
		links++;
		if (next == 0)
			break;
		fp = next;
	}
	return links;
}

size_t bw_fp_scan(const uint64_t *words, size_t n, uint64_t base, uint64_t pc,
		  const struct bw_fp_ops *ops, uint64_t *ret_pcs, size_t max)
{
	struct walk w;
	size_t count = 0, best_links = 0, limit;
	uint64_t best = 0, callee = pc;
	int best_rank = -2;

	if (max == 0 || n == 0)
		return 0;
	memset(&w, 0, sizeof(w));
	w.words = words;
	w.n = n < BW_FP_WINDOW_WORDS ? n : BW_FP_WINDOW_WORDS;
	w.base = base;
	w.ops = ops;
	if (returns_at(&w, 0)) {
		ret_pcs[count++] = words[0];
		callee = words[0];
	}
	if (count == max)
		return count;
	limit = w.n < SCAN_WORDS ? w.n : SCAN_WORDS;
	/* cppcheck-suppress knownConditionTrueFalse ; w.n is set by the caller's words */
	for (size_t i = 0; i < limit; i++) {
		uint64_t fp = base + i * 8;
		size_t links;
		int rank;
		if (i + 1 >= w.n || !fp_plausible(fp, words[i]) || (i == 0 && count))
			continue;
		links = follow(&w, fp, NULL, max - count < 2 ? 2 : max - count);
		/* One link counts only when it ends the chain (saved fp 0). */
		if (links < 2 && !(links == 1 && words[i] == 0 && i > 0))
			continue;
		rank = ops->calls ? ops->calls(words[i + 1], callee, ops->ctx) : 0;
		if (rank > best_rank || (rank == best_rank && links > best_links)) {
			best_rank = rank;
			best_links = links;
			best = fp;
		}
	}
	if (best_links)
		count += follow(&w, best, ret_pcs + count, max - count);
	return count;
}
