#include "report/ratelimit.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "diagnose/conflict.h"

struct slot {
	_Atomic uint64_t key;       /* 0: free; set once by CAS, then only recycled */
	_Atomic uint64_t until_ns;  /* 0 while the claiming thread sets the slot up */
	_Atomic unsigned repeats;
	_Atomic pid_t pid;          /* a forked child starts its own count */
	_Atomic int desc_state;     /* 0 empty, 1 being written, 2 ready */
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
	/* The pid too: a forked child counts its own conflicts. */
	h = fnv(h, &c->pid, sizeof(c->pid));
	h = fnv(h, c->call, strlen(c->call));
	h = fnv(h, &c->want.family, sizeof(c->want.family));
	h = fnv(h, &c->want.proto, sizeof(c->want.proto));
	h = fnv(h, c->want.ip, sizeof(c->want.ip));
	h = fnv(h, &c->want.port, sizeof(c->want.port));
	h = fnv(h, &c->want.abstract, sizeof(c->want.abstract));
	h = fnv(h, &c->want.path_len, sizeof(c->want.path_len));
	h = fnv(h, c->want.path, c->want.path_len);
	return h ? h : 1;
}

/* The slot for key, claimed if need be. Probing starts at a position
 * derived from the key, so threads racing on the same new key meet at the
 * same slot and exactly one of them wins the CAS. NULL when all are taken
 * by other keys (then the conflict is simply reported). */
static struct slot *find_or_claim(uint64_t key, bool *claimed)
{
	*claimed = false;
	for (size_t i = 0; i < BW_RATELIMIT_SLOTS; i++) {
		struct slot *s = &slots[(key + i) % BW_RATELIMIT_SLOTS];
		uint64_t k = atomic_load(&s->key);
		if (k == 0 && atomic_compare_exchange_strong(&s->key, &k, key)) {
			*claimed = true;
			return s;
		}
		if (k == key)
			return s;
	}
	return NULL;
}

enum bw_rl_verdict bw_ratelimit_check(uint64_t key, uint64_t now_ns, uint64_t window_ns,
				      unsigned *expired_repeats)
{
	pid_t pid = getpid();
	bool claimed;
	struct slot *s;
	uint64_t until;

	*expired_repeats = 0;
	if (window_ns == 0 || !(s = find_or_claim(key, &claimed)))
		return BW_RL_REPORT;
	if (claimed) {
		/* The first of its kind: this thread reports. A slot is never
		 * recycled, so repeats and desc_state start at 0 and may already
		 * count threads that found the slot before until_ns was set. */
		atomic_store(&s->pid, pid);
		atomic_store(&s->until_ns, now_ns + window_ns);
		return BW_RL_REPORT;
	}
	until = atomic_load(&s->until_ns);
	if (until == 0 || now_ns < until) {
		/* Within the window, or the first report is still being set
		 * up by another thread: fold this one into the count. */
		atomic_fetch_add(&s->repeats, 1);
		return BW_RL_SUPPRESS;
	}
	/* The window ran out: exactly one thread opens the next one. */
	if (!atomic_compare_exchange_strong(&s->until_ns, &until, now_ns + window_ns)) {
		atomic_fetch_add(&s->repeats, 1);
		return BW_RL_SUPPRESS;
	}
	*expired_repeats = atomic_exchange(&s->repeats, 0);
	return BW_RL_REPORT;
}

void bw_ratelimit_store(uint64_t key, const char *desc)
{
	bool claimed;
	struct slot *s = find_or_claim(key, &claimed);
	int empty = 0;
	size_t n;
	if (!s || claimed)
		return;
	/* One writer for desc; flush reads it only once it is complete. */
	if (!atomic_compare_exchange_strong(&s->desc_state, &empty, 1))
		return;
	n = strlen(desc);
	if (n >= sizeof(s->desc))
		n = sizeof(s->desc) - 1;
	memcpy(s->desc, desc, n);
	s->desc[n] = '\0';
	atomic_store(&s->desc_state, 2);
}

void bw_ratelimit_flush(void (*fn)(const char *desc, unsigned repeats, void *ctx), void *ctx)
{
	pid_t pid = getpid();
	for (size_t i = 0; i < BW_RATELIMIT_SLOTS; i++) {
		unsigned n;
		if (atomic_load(&slots[i].key) == 0 || atomic_load(&slots[i].pid) != pid ||
		    atomic_load(&slots[i].desc_state) != 2)
			continue;
		n = atomic_exchange(&slots[i].repeats, 0);
		if (n)
			fn(slots[i].desc, n, ctx);
	}
}
