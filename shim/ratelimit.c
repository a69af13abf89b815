#include "ratelimit.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "conflict.h"

struct slot {
	_Atomic uint64_t key;
	_Atomic uint64_t until_ns;
	_Atomic unsigned repeats;
	_Atomic int cause;
	_Atomic pid_t pid;          /* a forked child starts its own count */
	char desc[BW_RATELIMIT_DESC];
};

static struct slot slots[BW_RATELIMIT_SLOTS];

/* FNV-1a over the fields that make two conflicts "identical". */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

uint64_t bw_ratelimit_key(const struct bw_conflict *c)
{
	uint64_t h = 14695981039346656037ull;
	h = fnv(h, c->call, strlen(c->call));
	h = fnv(h, &c->want.family, sizeof(c->want.family));
	h = fnv(h, &c->want.proto, sizeof(c->want.proto));
	h = fnv(h, c->want.ip, sizeof(c->want.ip));
	h = fnv(h, &c->want.port, sizeof(c->want.port));
	h = fnv(h, c->want.path, c->want.path_len);
	return h ? h : 1;
}

static struct slot *find(uint64_t key, pid_t pid)
{
	for (size_t i = 0; i < BW_RATELIMIT_SLOTS; i++)
		if (atomic_load(&slots[i].key) == key && atomic_load(&slots[i].pid) == pid)
			return &slots[i];
	return NULL;
}

enum bw_rl_verdict bw_ratelimit_check(uint64_t key, uint64_t now_ns, uint64_t window_ns,
				      int *cause, unsigned *expired_repeats)
{
	pid_t pid = getpid();
	struct slot *s;

	*expired_repeats = 0;
	if (window_ns == 0)
		return BW_RL_REPORT;
	s = find(key, pid);
	if (s && now_ns < atomic_load(&s->until_ns)) {
		atomic_fetch_add(&s->repeats, 1);
		*cause = atomic_load(&s->cause);
		return BW_RL_SUPPRESS;
	}
	if (s) {
		*expired_repeats = atomic_exchange(&s->repeats, 0);
		atomic_store(&s->until_ns, now_ns + window_ns);
		return BW_RL_REPORT;
	}
	/* Claim a free slot, else recycle the one whose window ended first. */
	struct slot *victim = &slots[0];
	for (size_t i = 0; i < BW_RATELIMIT_SLOTS; i++) {
		uint64_t zero = 0;
		if (atomic_compare_exchange_strong(&slots[i].key, &zero, key)) {
			victim = &slots[i];
			goto claimed;
		}
		if (atomic_load(&slots[i].until_ns) < atomic_load(&victim->until_ns))
			victim = &slots[i];
	}
	atomic_store(&victim->key, key);
claimed:
	atomic_store(&victim->pid, pid);
	atomic_store(&victim->repeats, 0);
	atomic_store(&victim->until_ns, now_ns + window_ns);
	victim->desc[0] = '\0';
	return BW_RL_REPORT;
}

void bw_ratelimit_store(uint64_t key, int cause, const char *desc)
{
	struct slot *s = find(key, getpid());
	size_t n;
	if (!s)
		return;
	atomic_store(&s->cause, cause);
	n = strlen(desc);
	if (n >= sizeof(s->desc))
		n = sizeof(s->desc) - 1;
	memcpy(s->desc, desc, n);
	s->desc[n] = '\0';
}

void bw_ratelimit_flush(void (*fn)(const char *desc, unsigned repeats, void *ctx), void *ctx)
{
	pid_t pid = getpid();
	for (size_t i = 0; i < BW_RATELIMIT_SLOTS; i++) {
		unsigned n;
		if (atomic_load(&slots[i].key) == 0 || atomic_load(&slots[i].pid) != pid)
			continue;
		n = atomic_exchange(&slots[i].repeats, 0);
		if (n)
			fn(slots[i].desc, n, ctx);
	}
}
