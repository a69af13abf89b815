/* bindmatrix: the kernel is the oracle for bindwatch's model of its
 * bind-conflict rules (diagnose/bindrules.c). In a private network
 * namespace, for every combination of two sockets' family and address
 * kind (wildcard, loopback, another local address, IPv4-mapped),
 * IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT, owner uid (same, other: the
 * socket is created under fsuid 65534) and the holder's type and state
 * (TCP LISTEN, TCP bound only, TCP TIME-WAIT, UDP), one socket is set up,
 * the kernel is asked to bind the other, and bindwatch diagnoses the same
 * table (sock_diag, bw_diag_consider, bw_diag_settle) as the shim would:
 *   - with every fact known (as `bindwatch who` as root knows them): the
 *     kernel refuses exactly when the model finds a blocking socket;
 *   - with what the shim knows (no holder SO_REUSE*, no TIME-WAIT
 *     IPV6_V6ONLY): every refusal is still explained;
 * and for each refused pair the first caller-side fix (JSON "fixes")
 * makes the kernel accept a fresh bind. Then, where the holder was only
 * bound and the second bind succeeded, the holder listens and the second
 * socket's listen() is compared the same way (the listen-time check).
 * Then two listeners, each taken as held by a process of its own, and a
 * third bind the kernel refuses: closing the sockets of the processes
 * that the "stop" fix names (and the kill command too) must free it.
 * Every answer is also checked for its order: no fix that carries
 * `assumes` before a sure fix of its target.
 * With the argument "devices": the device dimension instead (run_devices()).
 * Needs root (unshare(CLONE_NEWNET)); skips (77) otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diagnose/conflict.h"
#include "diagnose/diagnose.h"
#include "diagnose/remedy.h"
#include "lookup/socktab.h"

struct kind {
	int family;
	const char *text;
	const char *connect_to; /* where a client reaches a listener on it */
};

static const struct kind kinds[] = {
	{AF_INET, "0.0.0.0", "127.0.0.1"},
	{AF_INET, "127.0.0.1", "127.0.0.1"},
	{AF_INET, "127.0.0.2", "127.0.0.2"},
	{AF_INET6, "::", "::1"},
	{AF_INET6, "::1", "::1"},
	{AF_INET6, "::2", "::2"},
	{AF_INET6, "::ffff:127.0.0.1", "127.0.0.1"},
	{AF_INET6, "::ffff:0.0.0.0", "127.0.0.1"},
	/* Link-local, with d0's scope id: the bind binds the socket to d0
	 * (__inet6_bind()). The device run only. */
	{AF_INET6, "fe80::1", "fe80::1"},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
#define N_BASE_KINDS (N_KINDS - 1)

/* The device a side is bound to with SO_BINDTODEVICE: none, lo, or d0
 * (one end of a veth pair made in the namespace; d1 its peer). */
enum { DEV_NONE, DEV_LO, DEV_D0, N_DEVS };
static const char *const dev_names[] = {"none", "lo", "d0"};
static unsigned d0_index, d1_index;

enum hstate { H_LISTEN, H_BOUND, H_TIME_WAIT, H_UDP, H_STATES };
static const char *const state_names[] = {"tcp-listen", "tcp-bound", "tcp-time-wait", "udp"};

struct side {
	int kind;
	int v6only, reuseaddr, reuseport;
	int other_uid;
	int dev; /* DEV_* */
};

static struct bw_conflict C;
static int next_port = 10000;
static unsigned pairs, refused, skipped, disagreements, listen_pairs, shim_unexplained;
static unsigned fix_kinds[BW_FIX_DEVICE + 1], holder_only, wait_checked;
static unsigned device_pairs, device_refused, device_fixes, device_fixes_failed;
static unsigned device_fix_missed;
static unsigned assumed_fixes, order_checked, misordered;
static unsigned multi_pairs, multi_both, multi_freed;
/* Two-holder runs: the holder sockets' inodes, each taken as held by a
 * process of its own (pid MULTI_PID + index). */
#define MULTI_PID 1000000
static ino_t holder_inodes[2];
static size_t n_holder_inodes;
static unsigned verbose_left = 40;

static socklen_t sockaddr_of(const struct kind *k, const char *ip, int port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (k->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, ip, &a->sin6_addr);
	if (strncmp(ip, "fe80:", 5) == 0)
		a->sin6_scope_id = d0_index;
	return sizeof(*a);
}

static int make_sock(int family, int type, const struct side *s)
{
	int fd, one = 1;
	if (s->other_uid)
		setfsuid(65534);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (s->other_uid)
		setfsuid(0);
	if (fd < 0)
		return -1;
	if (s->reuseaddr)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &s->v6only, sizeof(s->v6only));
	if (s->dev != DEV_NONE &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev_names[s->dev],
		       (socklen_t)strlen(dev_names[s->dev])) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct census {
	int port;
	unsigned tw, other;
};

static int census_cb(const struct bw_sock *s, void *ctx)
{
	struct census *k = ctx;
	if (s->local.port != k->port)
		return 0;
	if (s->state == BW_TCP_TIME_WAIT)
		k->tw++;
	else
		k->other++;
	return 0;
}

/* Polls sock_diag until only TIME-WAIT sockets are left on port. */
static bool only_time_wait(int port)
{
	for (int i = 0; i < 2000; i++) {
		struct census k = {port, 0, 0};
		bw_sockdiag_query(AF_INET, BW_PROTO_TCP, port, census_cb, &k);
		bw_sockdiag_query(AF_INET6, BW_PROTO_TCP, port, census_cb, &k);
		if (k.tw > 0 && k.other == 0)
			return true;
		usleep(200);
	}
	return false;
}

/* The holder: bound (and listening) on kind h->kind:port, or a TIME-WAIT
 * leftover of a connection accepted there. Returns its fd (-2 for
 * TIME-WAIT: no fd), or -1 when this combination can't be set up. */
static int setup_holder(enum hstate st, const struct side *h, int port)
{
	const struct kind *k = &kinds[h->kind];
	struct sockaddr_storage ss, cs;
	socklen_t len = sockaddr_of(k, k->text, port, &ss), clen;
	int fd = make_sock(k->family, st == H_UDP ? SOCK_DGRAM : SOCK_STREAM, h);
	int cl, a;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	if (st == H_BOUND || st == H_UDP)
		return fd;
	if (listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	if (st == H_LISTEN)
		return fd;
	/* TIME-WAIT on the server side: the accepted socket closes first. */
	{
		const struct kind ck = {strchr(k->connect_to, ':') ? AF_INET6 : AF_INET, NULL, NULL};
		clen = sockaddr_of(&ck, k->connect_to, port, &cs);
		cl = socket(ck.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (cl < 0 || connect(cl, (struct sockaddr *)&cs, clen) < 0) {
		if (cl >= 0)
			close(cl);
		close(fd);
		return -1;
	}
	a = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (a >= 0)
		close(a);
	close(cl);
	close(fd);
	return a >= 0 && only_time_wait(port) ? -2 : -1;
}

static int consider_cb(const struct bw_sock *s, void *ctx)
{
	bw_diag_consider(ctx, s);
	return 0;
}

static bool fill_tw_v6only(struct bw_holder *hd, const struct side *h)
{
	const char *t = kinds[h->kind].text;
	if (hd->sock.local.family != AF_INET6 || bw_addr_is_v4mapped(&hd->sock.local))
		return false;
	return h->v6only || (kinds[h->kind].family == AF_INET6 && strcmp(t, "::") != 0);
}

/* bindwatch's diagnosis of fd's failed call, as the shim makes it, with
 * the holder's facts filled in as the owner scan would (full: every fact
 * known). Returns whether some socket blocks. */
static bool diagnose(int fd, const struct sockaddr *sa, socklen_t len, const char *call,
		     const struct side *h, bool full)
{
	struct bw_conflict *c = &C;
	bool blocks = false;

	memset(c, 0, sizeof(*c));
	c->event = strcmp(call, "bind") == 0 ? "bind_conflict" : "listen_conflict";
	c->call = call;
	c->pid = getpid();
	c->fd = fd;
	c->err = EADDRINUSE;
	if (bw_diag_from_fd(c, fd, sa, len) < 0)
		return false;
	c->uid = 0;
	c->have_uid = true;
	bw_sockdiag_query(AF_INET, c->want.proto, c->want.port, consider_cb, c);
	bw_sockdiag_query(AF_INET6, c->want.proto, c->want.port, consider_cb, c);
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_holder *hd = &c->holders[i];
		/* Another program, not looked up (no /proc record). */
		hd->pid = hd->sock.inode ? getpid() + 100000 : 0;
		for (size_t k = 0; k < n_holder_inodes; k++)
			if (hd->sock.inode == (uint64_t)holder_inodes[k])
				hd->pid = MULTI_PID + (pid_t)k;
		hd->fd = hd->sock.inode ? 3 : -1;
		if (full) {
			hd->reuseaddr = (signed char)h->reuseaddr;
			hd->reuseport = (signed char)h->reuseport;
			/* A TIME-WAIT socket's IPV6_V6ONLY, not in sock_diag: its
			 * listener's, which bind() of a specific IPv6 address set. */
			if (hd->sock.inode == 0 && fill_tw_v6only(hd, h))
				hd->sock.v6only = true;
		} else if (hd->sock.inode == 0) {
			hd->reuseaddr = hd->reuseport = -1;
		}
	}
	if (!full)
		for (size_t i = 0; i < c->n_holders; i++)
			c->holders[i].reuseaddr = c->holders[i].reuseport = -1;
	bw_diag_settle(c);
	for (size_t i = 0; i < c->n_holders; i++)
		blocks |= c->holders[i].blocks;
	return blocks;
}

/* The first caller-side fix of C applied to a fresh socket like the
 * caller's (closed already): does the kernel accept it now? */
static bool first_fix_works(const struct side *cs, enum hstate st, int port, bool listen_too,
			    bool skip_assumed)
{
	const struct bw_fix *f = NULL;
	const struct kind *k = &kinds[cs->kind];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r, one = 1;

	for (size_t i = 0; i < C.n_fixes && !f; i++)
		if (C.fixes[i].target == BW_FIX_CALLER && !(skip_assumed && C.fixes[i].assumes))
			f = &C.fixes[i];
	if (!f) {
		holder_only++;
		return true; /* bindwatch said only the holder can change */
	}
	fix_kinds[f->kind]++;
	if (f->kind == BW_FIX_WAIT) {
		/* Not waited for: every blocking socket is TIME-WAIT and expires
		 * within the seconds said. */
		wait_checked++;
		for (size_t i = 0; i < C.n_holders; i++)
			if (C.holders[i].blocks && (C.holders[i].sock.inode != 0 ||
						    C.holders[i].sock.timer_ms > f->seconds * 1000L))
				return false;
		return f->seconds > 0 && f->seconds <= 60;
	}
	fd = make_sock(k->family, st == H_UDP ? SOCK_DGRAM : SOCK_STREAM, cs);
	if (fd < 0)
		return false;
	if (f->kind == BW_FIX_SOCKOPT)
		setsockopt(fd, f->level, f->name, &one, sizeof(one));
	if (f->kind == BW_FIX_ADDRESS) {
		char ip[64];
		struct kind ak = {f->addr.family, NULL, NULL};
		inet_ntop(f->addr.family, f->addr.ip, ip, sizeof(ip));
		len = sockaddr_of(&ak, ip, port, &ss);
	} else {
		len = sockaddr_of(k, k->text, f->kind == BW_FIX_PORT ? next_port++ : port, &ss);
	}
	r = bind(fd, (struct sockaddr *)&ss, len);
	if (r == 0 && listen_too)
		r = listen(fd, 8);
	close(fd);
	return r == 0;
}

/* A device fix of C (bind to a device none of the blocking sockets is
 * bound to), applied to a fresh socket like the caller's on such a
 * device: does the kernel accept it? Also counts the pairs where binding
 * to another device would have worked but no device fix was offered. */
static bool device_fix_works(const struct side *cs, enum hstate st, int port, bool listen_too)
{
	static const char *const devs[] = {"lo", "d0", "d1"};
	const struct bw_fix *f = NULL;
	const struct bw_addr *busy[BW_HOLDERS_MAX];
	size_t n = bw_remedy_busy_devices(&C, busy, BW_HOLDERS_MAX);
	const struct kind *k = &kinds[cs->kind];
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(k, k->text, port, &ss);
	bool all_ok = true;

	for (size_t i = 0; i < C.n_fixes && !f; i++)
		if (C.fixes[i].kind == BW_FIX_DEVICE)
			f = &C.fixes[i];
	for (size_t d = 0; d < 3; d++) {
		unsigned idx = d == 0 ? 1 : d == 1 ? d0_index : d1_index;
		struct side alt = *cs;
		int fd, r, taken = 0;
		for (size_t i = 0; i < n; i++)
			taken |= busy[i]->dev_if == idx;
		if (taken || cs->dev != DEV_NONE || kinds[cs->kind].text[0] == 'f')
			continue;
		/* A fix that names its device: that one only. */
		if (f && f->addr.dev_if && f->addr.dev_if != idx)
			continue;
		alt.dev = DEV_NONE;
		fd = make_sock(k->family, st == H_UDP ? SOCK_DGRAM : SOCK_STREAM, &alt);
		if (fd < 0)
			continue;
		r = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, devs[d], (socklen_t)strlen(devs[d]));
		if (r == 0)
			r = bind(fd, (struct sockaddr *)&ss, len);
		if (r == 0 && listen_too)
			r = listen(fd, 8);
		close(fd);
		if (f)
			all_ok &= r == 0;
		else if (r == 0 && ++device_fix_missed && getenv("BW_MATRIX_DEBUG"))
			fprintf(stderr, "missed: dev %s caller %s holder0 %s dev_if %u state %d\n", devs[d],
				k->text, C.n_holders ? bw_tcp_state_name(C.holders[0].sock.state) : "-",
				C.n_holders ? C.holders[0].sock.local.dev_if : 0, (int)st);
	}
	if (!f)
		return true;
	device_fixes++;
	device_fixes_failed += !all_ok;
	return all_ok;
}

/* Every fix of C that rests on an assumption (JSON "assumes") comes after
 * all sure fixes of its target: a program that tries the fixes in order
 * tries the ones that work first. */
static bool sure_first(void)
{
	bool seen_assumed[2] = {false, false};
	order_checked++;
	for (size_t i = 0; i < C.n_fixes; i++) {
		const struct bw_fix *f = &C.fixes[i];
		if (f->assumes) {
			assumed_fixes++;
			seen_assumed[f->target] = true;
		} else if (seen_assumed[f->target]) {
			misordered++;
			return false;
		}
	}
	return true;
}

static void describe(const char *what, enum hstate st, const struct side *h,
		     const struct side *cs, const char *extra)
{
	if (!verbose_left)
		return;
	verbose_left--;
	fprintf(stderr,
		"bindmatrix: %s: holder %s %s dev=%s v6only=%d reuseaddr=%d reuseport=%d uid=%s;"
		" caller %s dev=%s v6only=%d reuseaddr=%d reuseport=%d: %s [cause %s, hint: %s]\n",
		what, state_names[st], kinds[h->kind].text, dev_names[h->dev], h->v6only,
		h->reuseaddr, h->reuseport, h->other_uid ? "other" : "same", kinds[cs->kind].text,
		dev_names[cs->dev], cs->v6only, cs->reuseaddr, cs->reuseport, extra,
		bw_cause_name(C.cause), C.hint);
}

/* One pair: the kernel's verdict on bind (and maybe listen) of cs
 * against the holder, compared with bindwatch's. */
static void run_pair(enum hstate st, const struct side *h, const struct side *cs)
{
	const struct kind *k = &kinds[cs->kind];
	int port = next_port++, hfd, fd, r, err;
	struct sockaddr_storage ss;
	socklen_t len;
	bool model, kernel;

	hfd = setup_holder(st, h, port);
	if (hfd == -1) {
		skipped++;
		return;
	}
	fd = make_sock(k->family, st == H_UDP ? SOCK_DGRAM : SOCK_STREAM, cs);
	len = sockaddr_of(k, k->text, port, &ss);
	r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&ss, len);
	err = errno;
	if (r < 0 && err != EADDRINUSE) {
		/* EINVAL (v4-mapped on an IPv6-only socket) and the like. */
		skipped++;
		goto out;
	}
	pairs++;
	kernel = r < 0;
	refused += kernel;
	if (h->dev || cs->dev || kinds[h->kind].text[0] == 'f' || k->text[0] == 'f') {
		device_pairs++;
		device_refused += kernel;
	}
	model = diagnose(fd, (struct sockaddr *)&ss, len, "bind", h, true);
	if (model != kernel) {
		disagreements++;
		describe("DISAGREE", st, h, cs, kernel ? "kernel refused, model allowed"
						     : "kernel allowed, model refused");
	}
	if (kernel) {
		if (C.cause == BW_CAUSE_UNKNOWN || !C.n_fixes) {
			disagreements++;
			describe("DISAGREE", st, h, cs, "refused without a cause or fixes");
		}
		if (!sure_first()) {
			disagreements++;
			describe("DISAGREE", st, h, cs, "a fix with assumes before a sure one");
		}
		/* The refused socket holds nothing: a fresh one tries the fix. */
		if (!first_fix_works(cs, st, port, false, false)) {
			disagreements++;
			describe("DISAGREE", st, h, cs, "the first caller fix did not work");
		}
		if (!device_fix_works(cs, st, port, false)) {
			disagreements++;
			describe("DISAGREE", st, h, cs, "binding to another device was refused");
		}
		/* What the shim knows must still explain the refusal, and its
		 * first caller fix that needs no assumption must work too. */
		if (!diagnose(fd, (struct sockaddr *)&ss, len, "bind", h, false)) {
			shim_unexplained++;
			describe("SHIM", st, h, cs, "the shim's facts found nothing blocking");
		} else {
			if (!sure_first()) {
				disagreements++;
				describe("DISAGREE", st, h, cs,
					 "a fix with assumes before a sure one (shim facts)");
			}
			if (!first_fix_works(cs, st, port, false, true)) {
				disagreements++;
				describe("DISAGREE", st, h, cs,
					 "the first caller fix (shim facts) did not work");
			}
		}
		goto out;
	}
	if (st != H_BOUND || hfd < 0)
		goto out;
	/* The listen-time check: the holder listens, then the caller. */
	if (listen(hfd, 8) < 0)
		goto out;
	r = listen(fd, 8);
	err = errno;
	if (r < 0 && err != EADDRINUSE)
		goto out;
	listen_pairs++;
	kernel = r < 0;
	refused += kernel;
	model = diagnose(fd, NULL, 0, "listen", h, true);
	if (model != kernel) {
		disagreements++;
		describe("DISAGREE(listen)", H_LISTEN, h, cs,
			 kernel ? "kernel refused, model allowed" : "kernel allowed, model refused");
	}
	if (kernel) {
		close(fd);
		fd = -1;
		if (!sure_first()) {
			disagreements++;
			describe("DISAGREE(listen)", H_LISTEN, h, cs, "a fix with assumes before a sure one");
		}
		if (!first_fix_works(cs, H_LISTEN, port, true, true)) {
			disagreements++;
			describe("DISAGREE(listen)", H_LISTEN, h, cs, "the first caller fix did not work");
		}
		if (!device_fix_works(cs, H_LISTEN, port, true)) {
			disagreements++;
			describe("DISAGREE(listen)", H_LISTEN, h, cs,
				 "binding to another device was refused");
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (hfd >= 0)
		close(hfd);
}

static bool stop_names(const struct bw_fix *f, pid_t pid)
{
	for (size_t i = 0; i < f->n_pids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

static bool kill_names(pid_t pid)
{
	char num[16];
	snprintf(num, sizeof(num), "%d", (int)pid);
	for (size_t i = 1; i < C.free_argc && strcmp(C.free_argv[0], "kill") == 0; i++)
		if (strcmp(C.free_argv[i], num) == 0)
			return true;
	return false;
}

/* Two listeners on one port, each in a process of its own, and a third
 * socket the kernel refuses: the "stop" fix and the kill command must
 * name every holder process whose socket the kernel still refuses with:
 * closing the sockets of the processes they name frees the address. */
static void run_multi(const struct side *h1, const struct side *h2, const struct side *cs)
{
	const struct kind *k = &kinds[cs->kind];
	int port = next_port++, hfd[2], fd, r;
	struct sockaddr_storage ss;
	struct stat st;
	socklen_t len = sockaddr_of(k, k->text, port, &ss);
	const struct bw_fix *stop = NULL;
	bool ok = true;

	hfd[0] = setup_holder(H_LISTEN, h1, port);
	hfd[1] = hfd[0] >= 0 ? setup_holder(H_LISTEN, h2, port) : -1;
	fd = hfd[1] >= 0 ? make_sock(k->family, SOCK_STREAM, cs) : -1;
	r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&ss, len);
	if (fd < 0 || r == 0 || errno != EADDRINUSE)
		goto out;
	multi_pairs++;
	n_holder_inodes = 0;
	for (int i = 0; i < 2; i++)
		holder_inodes[n_holder_inodes++] = fstat(hfd[i], &st) == 0 ? st.st_ino : 0;
	diagnose(fd, (struct sockaddr *)&ss, len, "bind", h1, true);
	n_holder_inodes = 0;
	for (size_t i = 0; i < C.n_fixes && !stop; i++)
		if (C.fixes[i].kind == BW_FIX_STOP)
			stop = &C.fixes[i];
	multi_both += stop && stop->n_pids == 2;
	for (int i = 0; stop && i < 2; i++)
		if (stop_names(stop, MULTI_PID + i)) {
			ok &= kill_names(MULTI_PID + i);
			close(hfd[i]);
			hfd[i] = -1;
		}
	close(fd);
	fd = make_sock(k->family, SOCK_STREAM, cs);
	ok &= stop && fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0;
	multi_freed += ok;
	if (!ok) {
		disagreements++;
		describe("DISAGREE(two holders)", H_LISTEN, h1, cs,
			 "the stop fix or the kill command left a blocking holder");
	}
out:
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 2; i++)
		if (hfd[i] >= 0)
			close(hfd[i]);
}

static bool mapped(int kind)
{
	return strncmp(kinds[kind].text, "::ffff:", 7) == 0;
}

/* Every value of one side's options for its address kind. */
static int v6only_values(int kind)
{
	return kinds[kind].family == AF_INET6 && !mapped(kind) ? 2 : 1;
}

static int netns_setup(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	if (system("ip link set lo up && ip -6 addr add ::2/128 dev lo nodad &&"
		   " echo '40000 60999' > /proc/sys/net/ipv4/ip_local_port_range") != 0)
		return -EIO;
	/* A second device (veth: this kernel kind may lack dummy) with a
	 * link-local address. */
	if (system("ip link add d0 type veth peer name d1 && ip link set d0 up &&"
		   " ip link set d1 up && ip -6 addr add fe80::1/64 dev d0 nodad") != 0)
		return -EIO;
	d0_index = if_nametoindex("d0");
	d1_index = if_nametoindex("d1");
	return d0_index && d1_index ? 0 : -ENODEV;
}

/* The device dimension: every device pair (none, lo, d0 on each side),
 * every state, address kind (link-local with a scope id too) and
 * IPV6_V6ONLY, with SO_REUSE* off on both, SO_REUSEADDR on both, or
 * SO_REUSEPORT on both (the device test of inet_bind_conflict() and
 * udp_lib_lport_inuse() comes before either option's). */
static void run_devices(void)
{
	for (int hd = 0; hd < N_DEVS; hd++)
		for (int cd = 0; cd < N_DEVS; cd++)
			for (int st = 0; st < H_STATES; st++)
				for (int hk = 0; hk < (int)N_KINDS; hk++)
					for (int ck = 0; ck < (int)N_KINDS; ck++) {
						/* none/none without link-local: the base matrix. */
						if (!hd && !cd && hk < (int)N_BASE_KINDS && ck < (int)N_BASE_KINDS)
							continue;
						for (int hv = 0; hv < v6only_values(hk); hv++)
							for (int cv = 0; cv < v6only_values(ck); cv++)
								for (int o = 0; o < 3; o++) {
									struct side h = {hk, hv, o == 1, o == 2, 0, hd};
									struct side cs = {ck, cv, o == 1, o == 2, 0, cd};
									run_pair((enum hstate)st, &h, &cs);
								}
					}
}

int main(int argc, char **argv)
{
	bool devices = argc > 1 && strcmp(argv[1], "devices") == 0;
	int r;
	if (geteuid() != 0) {
		printf("bindmatrix: SKIP: needs root for a private network namespace\n");
		return 77;
	}
	r = netns_setup();
	if (r < 0) {
		printf("bindmatrix: SKIP: no private network namespace (%s)\n", strerror(-r));
		return 77;
	}
	if (devices) {
		run_devices();
		goto summary;
	}
	for (int st = 0; st < H_STATES; st++)
		for (int hk = 0; hk < (int)N_BASE_KINDS; hk++)
			for (int ck = 0; ck < (int)N_BASE_KINDS; ck++)
				for (int hv = 0; hv < v6only_values(hk); hv++)
					for (int cv = 0; cv < v6only_values(ck); cv++)
						for (int ho = 0; ho < 4; ho++)
							for (int co = 0; co < 4; co++)
								for (int u = 0; u < 2; u++) {
									struct side h = {hk, hv, ho & 1, ho >> 1, u, DEV_NONE};
									struct side cs = {ck, cv, co & 1, co >> 1, 0, DEV_NONE};
									/* The owner uid matters only to SO_REUSEPORT on both. */
									if (u && !(h.reuseport && cs.reuseport))
										continue;
									run_pair((enum hstate)st, &h, &cs);
								}
	/* Two listeners (each kind and IPV6_V6ONLY, no SO_REUSE*) and a
	 * plain third bind. */
	for (int k1 = 0; k1 < (int)N_BASE_KINDS; k1++)
		for (int k2 = 0; k2 < (int)N_BASE_KINDS; k2++)
			for (int ck = 0; ck < (int)N_BASE_KINDS; ck++)
				for (int v = 0; v < 8; v++) {
					struct side h1 = {k1, v & 1, 0, 0, 0, DEV_NONE};
					struct side h2 = {k2, (v >> 1) & 1, 0, 0, 0, DEV_NONE};
					struct side cs = {ck, (v >> 2) & 1, 0, 0, 0, DEV_NONE};
					if ((h1.v6only && v6only_values(k1) < 2) ||
					    (h2.v6only && v6only_values(k2) < 2) ||
					    (cs.v6only && v6only_values(ck) < 2))
						continue;
					run_multi(&h1, &h2, &cs);
				}
summary:
	if (devices)
		printf("bindmatrix: devices (none, lo, d0 on each side; link-local with a scope id):"
		       " %u bind pairs (%u refused); device fixes offered %u, refused by the kernel"
		       " %u; binds to another device that worked with no device fix offered: %u\n",
		       device_pairs, device_refused, device_fixes, device_fixes_failed,
		       device_fix_missed);
	printf("bindmatrix: %u bind pairs + %u listen pairs (%u refused), %u combinations not"
	       " set up (EINVAL/EADDRNOTAVAIL), %u disagreements\n",
	       pairs, listen_pairs, refused, skipped, disagreements);
	printf("bindmatrix: first caller fixes: sockopt %u, address %u, wait %u (checked against"
	       " the timers, not waited), port %u, holder only %u; refusals the shim's facts could"
	       " not explain: %u\n",
	       fix_kinds[BW_FIX_SOCKOPT], fix_kinds[BW_FIX_ADDRESS], wait_checked,
	       fix_kinds[BW_FIX_PORT], holder_only, shim_unexplained);
	printf("bindmatrix: two holders: %u refused binds, %u with both holders to stop, %u freed"
	       " by closing the sockets of the processes the stop fix names (all in the kill"
	       " command)\n",
	       multi_pairs, multi_both, multi_freed);
	printf("bindmatrix: fix order: %u answers checked, %u fixes with assumes, %u answers with"
	       " one before a sure fix of its target\n",
	       order_checked, assumed_fixes, misordered);
	return disagreements || shim_unexplained ? 1 : 0;
}
