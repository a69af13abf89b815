/* bindwatch who: who holds an address, or (no address) every listening
 * socket with its process, like ss -lp / lsof -i. See bindwatch(1). */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dockerapi.h"
#include "diagnose/diagnose.h"
#include "lookup/socktab.h"
#include "report/report.h"

enum { SHOW_TCP = 1, SHOW_UDP = 2, SHOW_UNIX = 4, SHOW_V4 = 8, SHOW_V6 = 16 };

struct who_opts {
	bool json, header, all;
	unsigned show; /* SHOW_* filters given, 0 none */
};

static const char who_usage[] =
	"usage: bindwatch who [OPTIONS] [[tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME]\n"
	"\n"
	"With an address: every socket that holds it, its process and the cause.\n"
	"Without one: every listening socket (TCP, UDP, unix) with its process,\n"
	"sorted by port. Exit 0 when something was found, 1 when not, 2 on a usage error.\n"
	"An address may name a device as ss prints it: 127.0.0.1%lo:80, [fe80::1]%eth0:80.\n"
	"\n"
	"  -t, --tcp         TCP only        -4, --ipv4       IPv4 only (listing)\n"
	"  -u, --udp         UDP only        -6, --ipv6       IPv6 only (listing)\n"
	"  -x, --unix        unix only       -H, --no-header  no header line\n"
	"  -j, --json        JSON            -h, --help       this text\n"
	"  -a, --all         search every process for holders, not only the socket's\n"
	"                    cgroup and its holders' child processes\n";

/* User names through NSS (getpwuid_r: LDAP, sssd, systemd's DynamicUser):
 * the CLI may, the shim's own /etc/passwd reader can't (lookup/users.h). */
static void nss_user_names(struct bw_conflict *c)
{
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_proc *p = &c->holders[i].proc;
		struct passwd pw, *res = NULL;
		char buf[4096];
		if (!c->holders[i].have_proc)
			continue;
		if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			snprintf(p->user, sizeof(p->user), "%s", res->pw_name);
	}
}

/* Nothing listed, and the kernel agrees: a test bind (each protocol a
 * bare PORT covers) would succeed. Says so, with no remedy for a problem
 * that isn't there (the hint, alone in text as in JSON) and returns true;
 * a holder hidden from us (another namespace) keeps the cause's hint. */
static bool nothing_holds(const struct who_opts *o, struct bw_conflict *c, char *out,
			  size_t size)
{
	struct bw_addr a = c->want;
	char addr[BW_ADDR_TEXT_MAX + 16];

	if (c->n_holders || bw_cli_unix_taken(c))
		return false;
	for (int p = 0; p < 2; p++) {
		if (c->want.proto != BW_PROTO_UNKNOWN && p == 1)
			break;
		if (c->want.family != AF_UNIX && c->want.proto == BW_PROTO_UNKNOWN)
			a.proto = p == 0 ? BW_PROTO_TCP : BW_PROTO_UDP;
		if (bw_cli_bind_would_succeed(&a) != 1)
			return false;
		if (c->want.family == AF_UNIX)
			break;
	}
	bw_addr_format_proto(&c->want, addr, sizeof(addr));
	snprintf(c->hint, sizeof(c->hint), "nothing holds %s%s: a bind there would succeed", addr,
		 c->want.family != AF_UNIX && c->want.proto == BW_PROTO_UNKNOWN ? " (tcp and udp)"
										 : "");
	c->n_fixes = 0;
	c->free_argc = 0;
	c->hint_fixes_at = c->hint_fixes_end = c->hint_unread_at = c->hint_unread_end = 0;
	if (o->json)
		fwrite(out, 1, bw_report_json(c, out, size), stdout);
	else
		printf("%s\n", c->hint);
	return true;
}

/* A plain bind of an IPv6 address gets IPV6_V6ONLY from
 * net.ipv6.bindv6only of the network namespace it runs in (ipv6(7)), the
 * one checked here; a v4-mapped address is IPv4's. */
static bool default_v6only(const struct bw_addr *want)
{
	FILE *f;
	int v = 0;
	if (want->family != AF_INET6 || bw_addr_is_v4mapped(want))
		return false;
	f = fopen("/proc/sys/net/ipv6/bindv6only", "re");
	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

static int who_address(const struct who_opts *o, const struct bw_addr *want)
{
	const size_t out_size = (size_t)256 * 1024;
	struct bw_conflict *c = calloc(1, sizeof(*c));
	char *out = malloc(out_size);
	const char *text;
	size_t n;
	int found = 2, r;

	if (!c || !out) {
		perror("bindwatch");
		goto out;
	}
	c->want = *want;
	c->want_v6only = default_v6only(want);
	c->scan_workers = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	c->scan_all = o->all;
	c->observer = getpid();
	c->event = "lookup";
	c->call = "who";
	c->time = time(NULL);
	bw_diagnose(c, "/proc", 0, 0);
	bw_cli_name_containers(c);
	nss_user_names(c);
	if (want->family == AF_UNIX && !want->abstract && c->n_holders == 0 &&
	    !bw_cli_unix_taken(c) && (r = bw_cli_bind_would_succeed(want)) < 0) {
		char what[BW_ADDR_TEXT_MAX + 16];
		bw_addr_format_proto(want, what, sizeof(what));
		found = bw_cli_never("who", want, what, -r);
		goto out;
	}
	if (nothing_holds(o, c, out, out_size)) {
		found = 1;
		goto out;
	}
	n = o->json ? bw_report_json(c, out, out_size) : bw_report_table(c, out, out_size);
	text = out;
	if (!o->json && !o->header) {
		/* The table's first line is its header. */
		const char *nl = memchr(out, '\n', n);
		n -= nl ? (size_t)(nl + 1 - out) : 0;
		text = nl ? nl + 1 : out;
	}
	fwrite(text, 1, n, stdout);
	found = c->n_holders > 0 || bw_cli_unix_taken(c) ? 0 : 1;
out:
	free(out);
	free(c);
	return found;
}

/* The listing: every socket a server waits on, gathered then sorted. */
struct listing {
	struct bw_sock *v;
	size_t n, cap;
	bool oom;
	bool from_proc; /* a table came from /proc/net (no IPV6_V6ONLY there) */
};

/* What ss -l lists: TCP listeners, bound unconnected UDP sockets, unix
 * listeners and bound unconnected unix datagram sockets. */
static bool is_server(const struct bw_sock *s)
{
	if (s->local.family == AF_UNIX)
		return s->listening || (s->local.proto == BW_PROTO_UNIX_DGRAM && s->local.path_len > 0 &&
					s->state == 1);
	if (s->local.proto == BW_PROTO_UDP)
		return s->state == BW_TCP_CLOSE && s->local.port != 0;
	return s->listening;
}

static int collect_cb(const struct bw_sock *s, void *ctx)
{
	struct listing *l = ctx;
	if (!is_server(s))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct bw_sock *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->oom = true;
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *s;
	return 0;
}

/* One table: sock_diag, else /proc/net (as diagnose.c reads them). */
static void read_all(struct listing *l, int family, enum bw_proto proto)
{
	size_t n0 = l->n;
	if (bw_sockdiag_query(family, proto, -1, collect_cb, l) == 0 || l->oom)
		return;
	l->n = n0; /* drop what a half-finished dump delivered */
	l->from_proc = true;
	bw_socktab_read("/proc", family, proto, collect_cb, l);
}

/* inet before unix; by port, then tcp before udp, IPv4 before IPv6, address. */
static int sock_order(const void *pa, const void *pb)
{
	const struct bw_sock *a = pa, *b = pb;
	bool ua = a->local.family == AF_UNIX, ub = b->local.family == AF_UNIX;
	if (ua != ub)
		return ua ? 1 : -1;
	if (ua) {
		int r = memcmp(a->local.path, b->local.path,
			       a->local.path_len < b->local.path_len ? a->local.path_len
								     : b->local.path_len);
		return r ? r : (a->local.path_len > b->local.path_len) - (a->local.path_len < b->local.path_len);
	}
	if (a->local.port != b->local.port)
		return a->local.port < b->local.port ? -1 : 1;
	if (a->local.proto != b->local.proto)
		return a->local.proto < b->local.proto ? -1 : 1;
	if (a->local.family != b->local.family)
		return a->local.family == AF_INET ? -1 : 1;
	return memcmp(a->local.ip, b->local.ip, sizeof(a->local.ip));
}

/* Finds the processes of k sockets and prints a row (or JSON object) each. */
static void print_chunk(const struct who_opts *o, struct bw_conflict *c, const struct bw_sock *v,
			size_t k, bool first)
{
	char row[4096];
	c->n_holders = c->n_matching = k;
	for (size_t j = 0; j < k; j++) {
		struct bw_holder *h = &c->holders[j];
		memset(h, 0, sizeof(*h));
		h->sock = v[j];
		h->overlap = BW_OVERLAP_EXACT;
		h->fd = -1;
	}
	bw_diag_find_holders(c, "/proc", 0, 0);
	nss_user_names(c);
	for (size_t j = 0; j < k; j++) {
		if (o->json) {
			if (!first || j)
				fputc(',', stdout);
			bw_report_json_holder(c, j, row, sizeof(row));
		} else {
			bw_report_table_row(c, j, row, sizeof(row));
		}
		fputs(row, stdout);
	}
}

static int who_list(const struct who_opts *o)
{
	unsigned show = o->show;
	bool v4 = !(show & (SHOW_V4 | SHOW_V6)) || (show & SHOW_V4);
	bool v6 = !(show & (SHOW_V4 | SHOW_V6)) || (show & SHOW_V6);
	bool any_proto = !(show & (SHOW_TCP | SHOW_UDP | SHOW_UNIX));
	struct listing l = {0};
	struct bw_conflict *c = calloc(1, sizeof(*c));
	char row[512];
	int r = 2;

	if (!c) {
		perror("bindwatch");
		return 2;
	}
	for (int p = 0; p < 2; p++) {
		enum bw_proto proto = p == 0 ? BW_PROTO_TCP : BW_PROTO_UDP;
		if (!any_proto && !(show & (p == 0 ? SHOW_TCP : SHOW_UDP)))
			continue;
		if (v4)
			read_all(&l, AF_INET, proto);
		if (v6)
			read_all(&l, AF_INET6, proto);
	}
	/* -4 / -6 alone mean IP sockets, as in ss. */
	if ((any_proto && !(show & (SHOW_V4 | SHOW_V6))) || (show & SHOW_UNIX))
		read_all(&l, AF_UNIX, BW_PROTO_UNKNOWN);
	if (l.oom) {
		perror("bindwatch");
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), sock_order);

	if (o->json) {
		fputs("{\"event\":\"listing\",\"sockets\":[", stdout);
	} else if (o->header) {
		bw_report_table_header(row, sizeof(row));
		fputs(row, stdout);
	}
	c->scan_workers = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	c->scan_all = o->all;
	c->table_from_proc = l.from_proc; /* IPV6_V6ONLY then unknown (remedy.h) */
	/* The owners, BW_HOLDERS_MAX sockets at a time. */
	for (size_t i = 0; i < l.n; i += BW_HOLDERS_MAX)
		print_chunk(o, c, l.v + i, l.n - i < BW_HOLDERS_MAX ? l.n - i : BW_HOLDERS_MAX, i == 0);
	if (o->json)
		printf("],\"total\":%zu}\n", l.n);
	r = l.n ? 0 : 1;
out:
	free(l.v);
	free(c);
	return r;
}

int bw_cli_who(int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{"tcp", no_argument, NULL, 't'},  {"udp", no_argument, NULL, 'u'},
		{"unix", no_argument, NULL, 'x'}, {"ipv4", no_argument, NULL, '4'},
		{"ipv6", no_argument, NULL, '6'}, {"no-header", no_argument, NULL, 'H'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
		{"all", no_argument, NULL, 'a'},  {0},
	};
	struct who_opts o = {.json = json, .header = true};
	struct bw_addr want;
	int opt, words;

	optind = 0; /* 0, not 1: glibc then forgets the "+" order main() scanned with */
	opterr = 0;
	/* Options anywhere on the line (`who 8000 --json`): GNU getopt moves
	 * the address words behind them. */
	while ((opt = getopt_long(argc, argv, ":tux46Hjha", opts, NULL)) != -1) {
		switch (opt) {
		case 't': o.show |= SHOW_TCP; break;
		case 'u': o.show |= SHOW_UDP; break;
		case 'x': o.show |= SHOW_UNIX; break;
		case '4': o.show |= SHOW_V4; break;
		case '6': o.show |= SHOW_V6; break;
		case 'H': o.header = false; break;
		case 'j': o.json = true; break;
		case 'a': o.all = true; break;
		case 'h': fputs(who_usage, stdout); return 0;
		default: return bw_cli_bad_option("who", opt, argv);
		}
	}
	words = argc - optind;
	bw_cli_load_settings();
	if (words == 0)
		return who_list(&o);
	if (o.show & (SHOW_V4 | SHOW_V6))
		return bw_cli_error("who: -4 and -6 filter the listing; with an address, give an"
				    " IPv4 or [IPv6] one");
	if (o.show & (SHOW_TCP | SHOW_UDP | SHOW_UNIX)) {
		unsigned p = o.show & (SHOW_TCP | SHOW_UDP | SHOW_UNIX);
		if (words != 1 || (p != SHOW_TCP && p != SHOW_UDP && p != SHOW_UNIX))
			return bw_cli_error("who: one protocol: -t, -u, -x or a tcp|udp|unix word");
		/* -t 8000 is tcp 8000. */
		char *with_proto[2] = {p == SHOW_TCP ? "tcp" : p == SHOW_UDP ? "udp" : "unix",
				       argv[optind]};
		if (bw_cli_parse_target("who", 2, with_proto, &want) < 0)
			return 2;
	} else if (bw_cli_parse_target("who", words, argv + optind, &want) < 0) {
		return 2;
	}
	if (bw_cli_never_bindable("who", &want) < 0)
		return 2;
	return who_address(&o, &want);
}
