#include "diagnose/remedy.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "diagnose/conflict.h"
#include "diagnose/freecmd.h"

void bw_remedy_binder(const struct bw_conflict *c, struct bw_bind_sock *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->addr = c->want;
	ret->v6only = c->want_v6only;
	/* `who` asks about a plain bind(): no options. */
	ret->reuseaddr = c->pid ? c->want_reuseaddr : 0;
	ret->reuseport = c->pid ? c->want_reuseport : 0;
	if (c->have_want_uid) {
		ret->have_uid = true;
		ret->uid = c->want_uid;
	} else if (c->have_uid) {
		ret->have_uid = true;
		ret->uid = c->uid;
	}
	ret->state = BW_TCP_CLOSE;
}

/* A bare port's binder against 'have' (remedy.h): the wildcard of have's
 * family, keeping b's options. */
static void wildcard_vs(struct bw_bind_sock *b, const struct bw_sock *have)
{
	bool v4 = have->local.family == AF_INET || bw_addr_is_v4mapped(&have->local);
	memset(b->addr.ip, 0, sizeof(b->addr.ip));
	b->addr.family = v4 ? AF_INET : AF_INET6;
	b->addr.proto = have->local.proto;
	b->v6only = v4 ? 0 : 1;
}

void bw_remedy_binder_vs(const struct bw_conflict *c, const struct bw_sock *have,
			 struct bw_bind_sock *ret)
{
	bw_remedy_binder(c, ret);
	if (c->want.family == AF_UNSPEC)
		wildcard_vs(ret, have);
}

void bw_remedy_sock(const struct bw_conflict *c, const struct bw_sock *s, signed char reuseaddr,
		    signed char reuseport, struct bw_bind_sock *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->addr = s->local;
	/* IPV6_V6ONLY: sock_diag reports it for full sockets. A v4-mapped
	 * socket never has it; bind() of a specific IPv6 address sets it
	 * (net/ipv6/af_inet6.c __inet6_bind(): sk_ipv6only = 1), which
	 * /proc/net can't show but a listener proves. A TIME-WAIT socket has
	 * its connection's, inherited from the listener: not in sock_diag
	 * (inet_twsk_diag_fill() sends no attributes), so unknown. */
	if (s->local.family != AF_INET6 || bw_addr_is_v4mapped(&s->local))
		ret->v6only = 0;
	else if (s->inode == 0)
		ret->v6only = s->v6only ? 1 : -1;
	else if (!c->table_from_proc)
		ret->v6only = s->v6only;
	else
		ret->v6only = !bw_addr_is_wildcard(&s->local) &&
				      (s->listening || s->local.proto == BW_PROTO_UDP) ? 1 : -1;
	ret->reuseaddr = reuseaddr;
	ret->reuseport = reuseport;
	ret->have_uid = s->inode != 0;
	ret->uid = s->uid;
	ret->state = s->state;
}

void bw_remedy_holder_sock(const struct bw_conflict *c, const struct bw_holder *h,
			   struct bw_bind_sock *ret)
{
	bw_remedy_sock(c, &h->sock, h->reuseaddr, h->reuseport, ret);
}

static bool is_inet(const struct bw_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

/* Would b bind? assume: BW_ASSUMED_HOLDER_REUSEADDR / _REUSEPORT bits,
 * the holders' unknown options to take as set (for a fix that needs the
 * holder to have it too). */
static bool binds(const struct bw_conflict *c, const struct bw_bind_sock *b, unsigned assume)
{
	for (size_t i = 0; i < c->n_holders; i++) {
		const struct bw_holder *h = &c->holders[i];
		struct bw_bind_sock hs, bb = *b;
		struct bw_bind_verdict v;
		if (!is_inet(&h->sock.local))
			continue;
		if (c->want.family == AF_UNSPEC)
			wildcard_vs(&bb, &h->sock);
		bw_remedy_holder_sock(c, h, &hs);
		if ((assume & BW_ASSUMED_HOLDER_REUSEADDR) && hs.reuseaddr < 0)
			hs.reuseaddr = 1;
		if ((assume & BW_ASSUMED_HOLDER_REUSEPORT) && hs.reuseport < 0)
			hs.reuseport = 1;
		bw_bind_check(&bb, &hs, &v);
		if (v.conflict)
			return false;
	}
	return true;
}

bool bw_remedy_binds(const struct bw_conflict *c, const struct bw_bind_sock *b)
{
	return binds(c, b, 0);
}

static struct bw_fix *add(struct bw_conflict *c, enum bw_fix_target t, enum bw_fix_kind k)
{
	struct bw_fix *f;
	if (c->n_fixes >= BW_FIXES_MAX)
		return NULL;
	f = &c->fixes[c->n_fixes++];
	memset(f, 0, sizeof(*f));
	f->target = t;
	f->kind = k;
	f->fd = -1;
	return f;
}

static void add_sockopt(struct bw_conflict *c, enum bw_fix_target t, int level, int name,
			const char *assumes)
{
	struct bw_fix *f = add(c, t, BW_FIX_SOCKOPT);
	if (!f)
		return;
	f->level = level;
	f->name = name;
	f->value = 1;
	f->assumes = assumes;
}

static const struct bw_holder *primary(const struct bw_conflict *c)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].cause == c->cause)
			return &c->holders[i];
	return c->n_holders ? &c->holders[0] : NULL;
}

const struct bw_holder *bw_remedy_top_holder(const struct bw_conflict *c, size_t *ret_count)
{
	const struct bw_holder *best = NULL;
	size_t best_n = 0;
	for (size_t i = 0; i < c->n_holders; i++) {
		size_t n = 0;
		if (c->holders[i].pid <= 0)
			continue;
		for (size_t j = 0; j < c->n_holders; j++)
			n += c->holders[j].pid == c->holders[i].pid;
		if (n > best_n) {
			best = &c->holders[i];
			best_n = n;
		}
	}
	if (ret_count)
		*ret_count = best_n;
	return best;
}

static bool all_same_program(const struct bw_conflict *c)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (!c->holders[i].same_program)
			return false;
	return c->n_holders > 0;
}

static bool is_orphan(const struct bw_holder *h)
{
	return h->sock.inode == 0 && is_inet(&h->sock.local);
}

/* alt (the caller with SOL_SOCKET option 'name' set) as a fix: 1 when it
 * binds, 0 (and a fix that needs the holder's option 'assume') when it
 * binds only if the holder has that unknown option too. */
static int try_option(struct bw_conflict *c, const struct bw_bind_sock *alt, int name,
		      unsigned assume, const char *assumes)
{
	if (binds(c, alt, 0)) {
		add_sockopt(c, BW_FIX_CALLER, SOL_SOCKET, name, NULL);
		return 1;
	}
	if (binds(c, alt, assume))
		add_sockopt(c, BW_FIX_CALLER, SOL_SOCKET, name, assumes);
	return 0;
}

/* The caller's own descriptor of a socket of c with exactly the wanted
 * address (a double bind, or a socket inherited from the process that
 * started it): using it works whoever else has a copy. 1 when offered. */
static int use_own_fd(struct bw_conflict *c)
{
	for (size_t i = 0; c->pid > 0 && i < c->n_holders; i++) {
		const struct bw_holder *h = &c->holders[i];
		int fd = h->n_procs == 0 && h->pid == c->pid ? h->fd : -1;
		struct bw_fix *f;
		if (!h->blocks || h->overlap != BW_OVERLAP_EXACT || is_orphan(h) ||
		    h->sock.local.proto != c->want.proto)
			continue;
		for (size_t j = 0; j < h->n_procs && fd < 0; j++)
			if (c->hprocs[h->first_proc + j].pid == c->pid)
				fd = c->hprocs[h->first_proc + j].fd;
		if (fd < 0 || (f = add(c, BW_FIX_CALLER, BW_FIX_USE_FD)) == NULL)
			continue;
		f->fd = fd;
		return 1;
	}
	return 0;
}

/* Caller-side changes of options or address that the rules say work,
 * in the order: the caller's own socket, IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT, a specific
 * address. Returns how many work without an assumption. */
static int caller_changes(struct bw_conflict *c)
{
	struct bw_bind_sock b, alt;
	int sure = 0;

	bw_remedy_binder(c, &b);
	sure += use_own_fd(c);
	if (b.addr.family == AF_INET6 && b.v6only != 1 && !bw_addr_is_v4mapped(&b.addr)) {
		alt = b;
		alt.v6only = 1;
		if (binds(c, &alt, 0)) {
			add_sockopt(c, BW_FIX_CALLER, IPPROTO_IPV6, IPV6_V6ONLY, NULL);
			sure++;
		}
	}
	if (b.reuseaddr != 1) {
		alt = b;
		alt.reuseaddr = 1;
		sure += try_option(c, &alt, SO_REUSEADDR, BW_ASSUMED_HOLDER_REUSEADDR,
				   "the holder set SO_REUSEADDR too");
	}
	/* SO_REUSEPORT splits the traffic between the sockets: a way out only
	 * among sockets of one program, never with an unrelated listener. */
	if (b.reuseport != 1 && all_same_program(c)) {
		alt = b;
		alt.reuseport = 1;
		sure += try_option(c, &alt, SO_REUSEPORT, BW_ASSUMED_HOLDER_REUSEPORT,
				   "the holder set SO_REUSEPORT too");
	}
	/* Every blocking socket is bound to a device and the caller to none:
	 * bound to another device it would not meet them (inet_bind_conflict(),
	 * udp_lib_lport_inuse() skip such pairs). Which device is the
	 * program's choice, and it then serves on that one only: conditional.
	 * ::1 has host scope: it binds on lo only (__inet6_bind():
	 * ipv6_chk_addr() on the bound device), so lo is the one to name. */
	if (!b.addr.dev_if) {
		bool lo_only = b.addr.family == AF_INET6 &&
			       memcmp(b.addr.ip, &in6addr_loopback, 16) == 0;
		alt = b;
		alt.addr.dev_if = lo_only ? 1 : UINT32_MAX; /* UINT32_MAX: a device none has */
		if (binds(c, &alt, 0)) {
			struct bw_fix *f = add(c, BW_FIX_CALLER, BW_FIX_DEVICE);
			if (f) {
				f->level = SOL_SOCKET;
				f->name = SO_BINDTODEVICE;
				f->assumes = "the program is to serve on that one device only";
				if (lo_only) {
					f->addr.dev_if = 1;
					memcpy(f->addr.dev, "lo", 3);
				}
			}
		}
	}
	/* A specific address: the loopback one of the family, if free. ::1
	 * has host scope: a socket bound to a device other than lo can't
	 * bind it (__inet6_bind(): ipv6_chk_addr() on that device,
	 * EADDRNOTAVAIL); IPv4 checks no device (inet_bind()). lo's index
	 * is 1 in every namespace (LOOPBACK_IFINDEX). */
	if (bw_addr_is_wildcard(&b.addr) &&
	    !(b.addr.family == AF_INET6 && b.addr.dev_if && b.addr.dev_if != 1)) {
		alt = b;
		memset(alt.addr.ip, 0, sizeof(alt.addr.ip));
		if (alt.addr.family == AF_INET) {
			alt.addr.ip[0] = 127;
			alt.addr.ip[3] = 1;
		} else {
			alt.addr.ip[15] = 1;
		}
		if (binds(c, &alt, 0)) {
			struct bw_fix *f = add(c, BW_FIX_CALLER, BW_FIX_ADDRESS);
			if (f)
				f->addr = alt.addr;
			sure++;
		}
	}
	return sure;
}

static void caller_wait_port(struct bw_conflict *c)
{
	long ms = 0;
	bool orphans_only = c->n_holders > 0;
	for (size_t i = 0; i < c->n_holders; i++) {
		if (!is_orphan(&c->holders[i]))
			orphans_only = false;
		else if (c->holders[i].sock.timer_ms > ms)
			ms = c->holders[i].sock.timer_ms;
	}
	if (orphans_only) {
		struct bw_fix *f = add(c, BW_FIX_CALLER, BW_FIX_WAIT);
		if (f)
			f->seconds = (int)((ms + 999) / 1000);
	}
	add(c, BW_FIX_CALLER, BW_FIX_PORT);
}

/* Would b bind if every socket of h's process (h itself when unseen)
 * had IPV6_V6ONLY v6only / SO_REUSEADDR reuseaddr (-1: unchanged), every
 * other holder as it is (unknown facts taken the way that blocks)? */
static bool binds_if_holder(const struct bw_conflict *c, const struct bw_holder *h, int v6only,
			    int reuseaddr)
{
	for (size_t i = 0; i < c->n_holders; i++) {
		const struct bw_holder *x = &c->holders[i];
		struct bw_bind_sock b, hs;
		struct bw_bind_verdict v;
		if (!is_inet(&x->sock.local))
			continue;
		bw_remedy_binder_vs(c, &x->sock, &b);
		bw_remedy_holder_sock(c, x, &hs);
		if (x == h || (h->pid > 0 && x->pid == h->pid)) {
			if (v6only >= 0 && hs.addr.family == AF_INET6 &&
			    !bw_addr_is_v4mapped(&hs.addr))
				hs.v6only = (signed char)v6only;
			if (reuseaddr >= 0)
				hs.reuseaddr = (signed char)reuseaddr;
		}
		bw_bind_check(&b, &hs, &v);
		if (v.conflict)
			return false;
	}
	return true;
}

/* The fix that frees the address: every process with a blocking socket
 * open must go (bw_free_pids), the process to act on first named first;
 * when the failing process has a copy itself, "close" instead: it can't
 * stop itself, and it must close its own copy too. 'all': every blocking
 * socket; else h's processes only (ephemeral exhaustion: freeing some
 * ports is enough). */
static void free_fix(struct bw_conflict *c, const struct bw_holder *h, bool all)
{
	struct bw_free_pids fp = {0, 0, false, -1};
	int fds[BW_FIX_PIDS_MAX];
	pid_t pids[BW_FIX_PIDS_MAX];
	struct bw_fix *f;
	size_t n = all ? bw_free_pids(c, pids, fds, BW_FIX_PIDS_MAX, &fp) : 0;

	if (n == 0 && !fp.self && fp.unseen == 0) {
		/* Nothing the rules call blocking (or only h asked): h itself. */
		if (h->pid <= 0 && h->sock.inode == 0)
			return;
		if (c->pid > 0 && h->pid == c->pid) {
			fp.self = true;
			fp.self_fd = h->fd;
		} else if (h->pid > 0) {
			pids[n] = h->pid;
			fds[n++] = h->fd;
		} else {
			fp.unseen = 1;
		}
	}
	f = add(c, fp.self && n == 0 && fp.unseen == 0 ? BW_FIX_CALLER : BW_FIX_HOLDER,
		fp.self ? BW_FIX_CLOSE : BW_FIX_STOP);
	if (!f)
		return;
	f->pid = n ? pids[0] : 0;
	f->fd = n ? fds[0] : -1;
	f->own_fd = fp.self ? fp.self_fd : -1;
	memcpy(f->pids, pids, n * sizeof(pids[0]));
	f->n_pids = n;
	f->more_pids = fp.more;
	f->unseen = fp.unseen;
}

/* Holder-side changes for h: its own IPV6_V6ONLY (a dual-stack socket
 * covering IPv4), its SO_REUSEADDR (when the caller has it and sharing is
 * possible), each offered only when it frees the address with every
 * other holder as it is; then stopping the holders. */
static void holder_changes(struct bw_conflict *c, const struct bw_holder *h, bool all)
{
	struct bw_bind_sock b, hs;

	if (!h || is_orphan(h))
		return;
	bw_remedy_binder_vs(c, &h->sock, &b);
	bw_remedy_holder_sock(c, h, &hs);
	if (is_inet(&h->sock.local)) {
		if (hs.addr.family == AF_INET6 && hs.v6only != 1 && !bw_addr_is_v4mapped(&hs.addr) &&
		    binds_if_holder(c, h, 1, -1))
			add_sockopt(c, BW_FIX_HOLDER, IPPROTO_IPV6, IPV6_V6ONLY, NULL);
		if (hs.reuseaddr != 1 && b.reuseaddr == 1 && binds_if_holder(c, h, -1, 1))
			add_sockopt(c, BW_FIX_HOLDER, SOL_SOCKET, SO_REUSEADDR, NULL);
	}
	free_fix(c, h, all);
}

static void build(struct bw_conflict *c)
{
	const struct bw_holder *h = primary(c);

	c->n_fixes = 0;
	switch (c->cause) {
	case BW_CAUSE_UNIX_STALE: {
		struct bw_fix *f = add(c, BW_FIX_CALLER, BW_FIX_UNLINK);
		if (f)
			f->addr = c->want;
		return;
	}
	case BW_CAUSE_UNIX_LIVE:
		holder_changes(c, h, true);
		return;
	case BW_CAUSE_UNIX_UNVERIFIED:
	case BW_CAUSE_UNIX_NOT_SOCKET:
		/* Nothing sure to do: the hint says what to check. */
		return;
	case BW_CAUSE_EPHEMERAL_EXHAUSTED:
		/* Freeing ports works whatever the caller does: first. A
		 * socket bound only to pick its source address before
		 * connect() need not reserve a port at bind() (ip(7)); a
		 * listen() on an unbound socket (autobind) needs its port. */
		holder_changes(c, bw_remedy_top_holder(c, NULL), false);
		if (c->want.proto == BW_PROTO_TCP && !(c->call && strcmp(c->call, "listen") == 0))
			add_sockopt(c, BW_FIX_CALLER, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, NULL);
		return;
	default:
		break;
	}
	if (c->want.family == AF_UNIX) {
		use_own_fd(c);
		holder_changes(c, h, true);
		return;
	}
	/* A bare port (AF_UNSPEC) is a plain bind of the wildcard
	 * (bw_remedy_binder_vs): the same caller-side remedies apply. */
	if (!is_inet(&c->want) && c->want.family != AF_UNSPEC) {
		holder_changes(c, h, true);
		add(c, BW_FIX_CALLER, BW_FIX_PORT);
		return;
	}
	/* Nothing seen to share with or step around: no option "works". */
	if (c->n_holders == 0) {
		add(c, BW_FIX_CALLER, BW_FIX_PORT);
		return;
	}
	/* The caller's own sure changes first; otherwise the holder's. */
	if (caller_changes(c) > 0) {
		caller_wait_port(c);
		holder_changes(c, h, true);
		return;
	}
	holder_changes(c, h, true);
	caller_wait_port(c);
}

/* Stable partition of c->fixes: those that surely work (no `assumes`)
 * before those that rest on a fact bindwatch can't see, so that a program
 * trying them in order, and the report's "do:" line, take a sure one
 * first (a caller's SO_REUSEADDR works only if the holder set it too:
 * inet_bind_conflict() wants sk_reuse on both; sock_diag does not show
 * the holder's, and a TIME-WAIT socket keeps its owner's, tw_reuse). */
static void sure_first(struct bw_conflict *c)
{
	size_t w = 0;
	for (size_t i = 0; i < c->n_fixes; i++) {
		struct bw_fix f;
		if (c->fixes[i].assumes)
			continue;
		/* Move it in front of the conditional ones seen so far. */
		f = c->fixes[i];
		memmove(&c->fixes[w + 1], &c->fixes[w], (i - w) * sizeof(f));
		c->fixes[w++] = f;
	}
}

void bw_remedy_build(struct bw_conflict *c)
{
	build(c);
	sure_first(c);
}

const char *bw_sockopt_level_name(int level)
{
	switch (level) {
	case SOL_SOCKET: return "SOL_SOCKET";
	case IPPROTO_IP: return "IPPROTO_IP";
	case IPPROTO_IPV6: return "IPPROTO_IPV6";
	default: return "?";
	}
}

const char *bw_sockopt_name(int level, int name)
{
	if (level == SOL_SOCKET && name == SO_REUSEADDR)
		return "SO_REUSEADDR";
	if (level == SOL_SOCKET && name == SO_REUSEPORT)
		return "SO_REUSEPORT";
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY)
		return "IPV6_V6ONLY";
	if (level == IPPROTO_IP && name == IP_BIND_ADDRESS_NO_PORT)
		return "IP_BIND_ADDRESS_NO_PORT";
	if (level == SOL_SOCKET && name == SO_BINDTODEVICE)
		return "SO_BINDTODEVICE";
	return "?";
}

const char *bw_fix_kind_name(int kind)
{
	switch (kind) {
	case BW_FIX_SOCKOPT: return "sockopt";
	case BW_FIX_ADDRESS: return "address";
	case BW_FIX_STOP: return "stop";
	case BW_FIX_WAIT: return "wait";
	case BW_FIX_PORT: return "port";
	case BW_FIX_UNLINK: return "unlink";
	case BW_FIX_USE_FD: return "use_fd";
	case BW_FIX_CLOSE: return "close";
	case BW_FIX_DEVICE: return "device";
	default: return "?";
	}
}

/* "pid 12 (nginx), pid 13 (nginx) and 3 more" for f's processes. */
static void others(struct bw_buf *b, const struct bw_fix *f, size_t from)
{
	for (size_t i = from; i < f->n_pids; i++)
		bw_buf_printf(b, "%spid %d", i == from ? "" : ", ", (int)f->pids[i]);
	if (f->more_pids)
		bw_buf_printf(b, " and %zu more", f->more_pids);
	if (f->unseen)
		bw_buf_printf(b, "%s%zu process%s bindwatch can't see", f->n_pids ? " and " : "",
			      f->unseen, f->unseen == 1 ? "" : "es");
}

/* Are all of f's processes those of one holder socket? */
static bool one_socket(const struct bw_conflict *c, const struct bw_fix *f)
{
	for (size_t i = 0; i < c->n_holders; i++) {
		const struct bw_holder *h = &c->holders[i];
		size_t found = 0;
		if (h->n_procs == 0 || c->hprocs[h->first_proc].pid != f->pids[0])
			continue;
		for (size_t k = 0; k < f->n_pids; k++)
			for (size_t j = 0; j < h->n_procs; j++)
				if (c->hprocs[h->first_proc + j].pid == f->pids[k]) {
					found++;
					break;
				}
		return found == f->n_pids;
	}
	return false;
}

/* " (python3, which passed the socket on to this process)" for pid: its
 * name, and whether it is the failing process's parent or an ancestor
 * (relation.h). */
static void passed_on(struct bw_buf *b, const struct bw_conflict *c, pid_t pid)
{
	for (size_t i = 0; i < c->n_procs; i++) {
		const struct bw_process *p = &c->procs[i];
		bool up = p->relation == BW_REL_PARENT || p->relation == BW_REL_ANCESTOR;
		if (p->proc.pid != pid || (!p->have_proc && !up))
			continue;
		bw_buf_puts(b, " (");
		if (p->have_proc)
			bw_buf_escape(b, p->proc.comm, strlen(p->proc.comm));
		bw_buf_puts(b, p->have_proc && up ? ", " : "");
		bw_buf_puts(b, up ? "which passed the socket on to this process" : "");
		bw_buf_puts(b, ")");
		return;
	}
}

size_t bw_remedy_busy_devices(const struct bw_conflict *c, const struct bw_addr **ret, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_holders; i++) {
		const struct bw_addr *a = &c->holders[i].sock.local;
		bool seen = false;
		if (!c->holders[i].blocks || !a->dev_if)
			continue;
		for (size_t k = 0; k < n && !seen; k++)
			seen = ret[k]->dev_if == a->dev_if;
		if (!seen && n < max)
			ret[n++] = a;
	}
	return n;
}

void bw_remedy_words(struct bw_buf *b, const struct bw_conflict *c, const struct bw_fix *f)
{
	char ip[64];
	const char *opt = bw_sockopt_name(f->level, f->name);

	switch (f->kind) {
	case BW_FIX_DEVICE: {
		const struct bw_addr *busy[4];
		size_t n = f->addr.dev_if ? 0 : bw_remedy_busy_devices(c, busy, 4);
		if (f->addr.dev_if) {
			char dev[24];
			bw_addr_format_dev(&f->addr, dev, sizeof(dev));
			bw_buf_printf(b, "bind this socket to %s", dev);
		} else {
			bw_buf_puts(b, "bind this socket to another device than ");
		}
		for (size_t i = 0; i < n; i++) {
			char dev[24];
			bw_addr_format_dev(busy[i], dev, sizeof(dev));
			bw_buf_printf(b, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", dev);
		}
		bw_buf_puts(b, " (SO_BINDTODEVICE, which needs CAP_NET_RAW, or a link-local"
			       " address's scope id)");
		if (f->assumes)
			bw_buf_printf(b, " (works only if %s)", f->assumes);
		break;
	}
	case BW_FIX_SOCKOPT:
		if (f->target == BW_FIX_CALLER && f->name == IP_BIND_ADDRESS_NO_PORT &&
		    f->level == IPPROTO_IP)
			bw_buf_puts(b, "if the socket is bound only to choose its source address before"
				       " connect(), set IP_BIND_ADDRESS_NO_PORT=1 so the port is picked"
				       " at connect() time");
		else if (f->target == BW_FIX_CALLER)
			bw_buf_printf(b, "set %s=1 on this socket before bind()", opt);
		else
			bw_buf_printf(b, "have the holder set %s=1 before its bind()", opt);
		if (f->assumes)
			bw_buf_printf(b, " (works only if %s; bindwatch can't see that)", f->assumes);
		break;
	case BW_FIX_ADDRESS:
		bw_addr_format_ip(&f->addr, ip, sizeof(ip));
		bw_buf_printf(b, "bind the specific address %s instead of the wildcard", ip);
		break;
	case BW_FIX_STOP:
		if (f->pid > 0 && c->free_kind == BW_FREE_MANAGER && c->free_holder >= 0 &&
		    c->holders[c->free_holder].pid == f->pid && c->free_pid != f->pid) {
			/* Its manager would restart a killed process: name the manager's command. */
			bw_buf_printf(b, "stop the holder (pid %d) through its manager: ", (int)f->pid);
			bw_free_command_to(c, b);
		} else if (f->n_pids > 1 && !f->more_pids && !f->unseen && one_socket(c, f)) {
			/* A pre-fork master and its workers, a parent and the
			 * helper it started with the socket. */
			bw_buf_printf(b, "stop pid %d", (int)f->pids[0]);
			passed_on(b, c, f->pids[0]);
			bw_buf_printf(b, " and the %zu other %s its socket open (", f->n_pids - 1,
				      f->n_pids == 2 ? "process that has" : "processes that have");
			others(b, f, 1);
			bw_buf_puts(b, "): the address is free only once every copy is closed");
		} else if (f->n_pids > 1 || f->more_pids || (f->n_pids && f->unseen)) {
			bw_buf_puts(b, "stop the holders (");
			others(b, f, 0);
			bw_buf_puts(b, "): the address is free only once every copy of its sockets is"
				       " closed");
		} else if (f->pid > 0)
			bw_buf_printf(b, "stop the holder (pid %d)", (int)f->pid);
		else
			bw_buf_puts(b, "stop the holder");
		break;
	case BW_FIX_USE_FD:
		bw_buf_printf(b, "use the socket this process already has on fd %d (bound to this"
				 " address) instead of binding another one", f->fd);
		break;
	case BW_FIX_CLOSE:
		if (f->target == BW_FIX_CALLER) {
			bw_buf_printf(b, "close this process's own fd %d first", f->own_fd);
			break;
		}
		bw_buf_printf(b, "close fd %d here and have ", f->own_fd);
		others(b, f, 0);
		if (f->n_pids)
			passed_on(b, c, f->pids[0]);
		bw_buf_puts(b, " close its copy, or open it close-on-exec (SOCK_CLOEXEC) so that"
			       " programs it starts don't get it; stopping any one of them alone"
			       " frees nothing");
		break;
	case BW_FIX_WAIT:
		bw_buf_printf(b, "wait %ds until it expires", f->seconds);
		break;
	case BW_FIX_PORT:
		bw_buf_puts(b, "use another port (or let bindwatch remap: BINDWATCH_REMAP)");
		break;
	case BW_FIX_UNLINK:
		bw_buf_puts(b, "remove the stale file and bind again");
		break;
	default:
		break;
	}
}
