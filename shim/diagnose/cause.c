#include "diagnose/cause.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diagnose/conflict.h"
#include "diagnose/freecmd.h"
#include "diagnose/remedy.h"
#include "basic/fmt.h"

const char *bw_cause_name(enum bw_cause c)
{
	switch (c) {
	case BW_CAUSE_LISTENER: return "listener";
	case BW_CAUSE_SELF: return "self";
	case BW_CAUSE_TIME_WAIT: return "time_wait";
	case BW_CAUSE_WILDCARD_OVERLAP: return "wildcard_overlap";
	case BW_CAUSE_DUAL_STACK: return "dual_stack";
	case BW_CAUSE_REUSEPORT_MISMATCH: return "reuseport_mismatch";
	case BW_CAUSE_UNIX_LIVE: return "unix_live";
	case BW_CAUSE_UNIX_STALE: return "unix_stale";
	case BW_CAUSE_EPHEMERAL_EXHAUSTED: return "ephemeral_exhausted";
	case BW_CAUSE_SOCKET_ACTIVATION: return "socket_activation";
	case BW_CAUSE_NOT_VISIBLE: return "not_visible";
	case BW_CAUSE_REUSEADDR_MISMATCH: return "reuseaddr_mismatch";
	case BW_CAUSE_UNIX_UNVERIFIED: return "unix_unverified";
	case BW_CAUSE_UNIX_NOT_SOCKET: return "unix_not_socket";
	case BW_CAUSE_BOUND_ONLY: return "bound_only";
	default: return "unknown";
	}
}

/* Most actionable first: what the user can act on beats what merely exists. */
static const enum bw_cause priority[] = {
	BW_CAUSE_SELF, BW_CAUSE_SOCKET_ACTIVATION, BW_CAUSE_UNIX_LIVE, BW_CAUSE_REUSEPORT_MISMATCH,
	BW_CAUSE_REUSEADDR_MISMATCH, BW_CAUSE_LISTENER, BW_CAUSE_BOUND_ONLY,
	BW_CAUSE_DUAL_STACK, BW_CAUSE_WILDCARD_OVERLAP, BW_CAUSE_NOT_VISIBLE,
	BW_CAUSE_TIME_WAIT, BW_CAUSE_UNKNOWN,
};

static int rank(enum bw_cause c)
{
	for (size_t i = 0; i < sizeof(priority) / sizeof(priority[0]); i++)
		if (priority[i] == c)
			return (int)i;
	return 99;
}

static bool is_orphan_state(const struct bw_sock *s)
{
	/* No struct socket left (inode 0): TIME_WAIT mini-sockets, and closed
	 * connections still in FIN_WAIT2/LAST_ACK/CLOSING owned by no process. */
	return s->local.proto == BW_PROTO_TCP && s->inode == 0;
}

/* A socket the service manager holds for socket activation: the holder
 * is a service manager (diagnose.c recognises one by its executable,
 * not its name: systemd-resolved is an ordinary daemon), or a service
 * that received the socket through LISTEN_FDS. Unseen, only pid 1 is
 * taken for the manager; a container's own pid 1 (an app) is a listener. */
static bool socket_activation(const struct bw_holder *h)
{
	if (!h->have_proc)
		return h->pid == 1 && h->manager;
	return h->manager || (h->proc.listen_fds && h->fd >= 3 && h->fd < 3 + h->proc.n_listen_fds);
}

/* The rules need a binder: an address of one family, or a bare port
 * (`who PORT`), which asks about a plain bind of the wildcard of each
 * holder's family (bw_remedy_binder_vs). */
static bool modelled(const struct bw_conflict *c)
{
	return c->want.family == AF_INET || c->want.family == AF_INET6 ||
	       c->want.family == AF_UNSPEC;
}

/* Would the pair stop conflicting if the caller changed its options as
 * given (-1: leave as is)? By the kernel's rules (bindrules.h). */
static bool caller_change_works(const struct bw_conflict *c, const struct bw_holder *h, int v6only,
				int reuseaddr, int reuseport)
{
	struct bw_bind_sock b, hs;
	struct bw_bind_verdict v;
	if (!modelled(c))
		return false;
	bw_remedy_binder_vs(c, &h->sock, &b);
	bw_remedy_holder_sock(c, h, &hs);
	if (v6only >= 0) {
		if (b.addr.family != AF_INET6 || bw_addr_is_v4mapped(&b.addr) || b.v6only == 1)
			return false;
		b.v6only = (signed char)v6only;
	}
	if (reuseaddr >= 0) {
		if (b.reuseaddr == 1)
			return false;
		b.reuseaddr = (signed char)reuseaddr;
	}
	if (reuseport >= 0) {
		if (b.reuseport == 1)
			return false;
		b.reuseport = (signed char)reuseport;
	}
	bw_bind_check(&b, &hs, &v);
	return !v.conflict;
}

/* Both could share the address with SO_REUSEADDR on both (the holder is
 * not listening), and exactly one side has it (unknown counts as off). */
static bool reuseaddr_mismatch(const struct bw_conflict *c, const struct bw_holder *h)
{
	struct bw_bind_sock b, hs;
	struct bw_bind_verdict v;
	if (!modelled(c))
		return false;
	bw_remedy_binder_vs(c, &h->sock, &b);
	bw_remedy_holder_sock(c, h, &hs);
	if ((b.reuseaddr == 1) == (hs.reuseaddr == 1))
		return false;
	b.reuseaddr = hs.reuseaddr = 1;
	bw_bind_check(&b, &hs, &v);
	return !v.conflict;
}

/* SO_REUSEPORT is the way out only among sockets of one program: one of
 * them lacks it, or both have it under different owners. */
static bool reuseport_mismatch(const struct bw_conflict *c, const struct bw_holder *h)
{
	if (!h->same_program || c->pid == 0)
		return false;
	if (caller_change_works(c, h, -1, -1, 1))
		return true;
	return c->want_reuseport == 1 && h->reuseport == 1 && c->have_want_uid &&
	       h->sock.uid != c->want_uid;
}

static enum bw_cause classify_holder(const struct bw_conflict *c, const struct bw_holder *h)
{
	if (h->sock.local.family == AF_UNIX) {
		/* Bound datagram sockets never "listen"; unseen is unseen. */
		if (h->pid == 0)
			return h->sock.inode != 0 ? BW_CAUSE_NOT_VISIBLE : BW_CAUSE_UNIX_LIVE;
		return c->pid != 0 && h->pid == c->pid ? BW_CAUSE_SELF : BW_CAUSE_UNIX_LIVE;
	}
	if (is_orphan_state(&h->sock))
		return BW_CAUSE_TIME_WAIT;
	/* The caller's own IPV6_V6ONLY settles a dual-stack meeting, whoever
	 * holds the IPv4 side (itself included: nginx's "listen P; listen
	 * [::]:P ipv6only=off"). */
	if (c->want.family == AF_INET6 && caller_change_works(c, h, 1, -1, -1))
		return BW_CAUSE_DUAL_STACK;
	/* Unseen because the owner scan ran out of its budget: no verdict on
	 * visibility; the socket's facts decide. */
	if (h->pid == 0 && !c->scan.budget_exhausted)
		return BW_CAUSE_NOT_VISIBLE;
	if (c->pid != 0 && h->pid == c->pid) {
		if (reuseaddr_mismatch(c, h))
			return BW_CAUSE_REUSEADDR_MISMATCH;
		if (reuseport_mismatch(c, h))
			return BW_CAUSE_REUSEPORT_MISMATCH;
		return BW_CAUSE_SELF;
	}
	if (socket_activation(h))
		return BW_CAUSE_SOCKET_ACTIVATION;
	if (h->overlap == BW_OVERLAP_DUAL_STACK)
		return BW_CAUSE_DUAL_STACK;
	if (reuseaddr_mismatch(c, h))
		return BW_CAUSE_REUSEADDR_MISMATCH;
	if (reuseport_mismatch(c, h))
		return BW_CAUSE_REUSEPORT_MISMATCH;
	if (h->overlap == BW_OVERLAP_WILDCARD)
		return BW_CAUSE_WILDCARD_OVERLAP;
	/* TCP_CLOSE with a port: bound, never listened nor connected. */
	if (h->sock.local.proto == BW_PROTO_TCP &&
	    (h->sock.state == BW_TCP_CLOSE || h->sock.state == BW_TCP_BOUND_INACTIVE))
		return BW_CAUSE_BOUND_ONLY;
	return BW_CAUSE_LISTENER;
}

bool bw_cause_unitless_activation(const struct bw_holder *h)
{
	const char *u = h->mgr.unit;
	size_t n = strlen(u);
	return h->have_proc && h->pid > 1 && strcmp(h->proc.comm, "systemd") != 0 &&
	       h->proc.cgroup[0] && !h->mgr.socket_unit[0] &&
	       !(n > 8 && strcmp(u + n - 8, ".service") == 0);
}

static const struct bw_holder *first_with(const struct bw_conflict *c, enum bw_cause cause)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].cause == cause)
			return &c->holders[i];
	return NULL;
}

static void who(struct bw_buf *b, const struct bw_holder *h)
{
	const struct bw_manager *m = &h->mgr;
	if (h->pid <= 0) {
		bw_buf_puts(b, "a process the owner scan did not reach (it stopped at its"
			       " BINDWATCH_SCAN_MS budget: raise BINDWATCH_SCAN_MS or run"
			       " 'bindwatch who')");
		return;
	}
	bw_buf_printf(b, "pid %d", (int)h->pid);
	if (h->have_proc) {
		/* comm is whatever the process set with PR_SET_NAME. */
		bw_buf_puts(b, " (");
		bw_buf_escape(b, h->proc.comm, strlen(h->proc.comm));
		bw_buf_puts(b, ")");
	}
	/* Managed: stopping the process alone would not last (a proxy is
	 * replaced with its container, a service restarted). */
	if ((m->kind == BW_MGR_DOCKER || m->kind == BW_MGR_PODMAN) && !m->orphaned &&
	    (m->name[0] || m->id[0])) {
		bw_buf_puts(b, m->proxy ? " publishing container " : " in container ");
		bw_buf_escape(b, m->name[0] ? m->name : m->id, m->name[0] ? strlen(m->name) : 12);
	} else if ((m->kind == BW_MGR_SYSTEMD || m->kind == BW_MGR_SYSTEMD_USER) &&
		   strstr(m->unit, ".service") && strncmp(m->unit, "user@", 5) != 0) {
		bw_buf_puts(b, " of unit ");
		bw_buf_escape(b, m->unit, strlen(m->unit));
	}
}

/* The hint's explanation of the cause (what holds the address and why);
 * the remedies follow from c->fixes. */
static void explain(struct bw_conflict *c, struct bw_buf *bp)
{
	struct bw_buf b = *bp;
	const struct bw_holder *h = first_with(c, c->cause);
	char addr[BW_ADDR_TEXT_MAX];
	size_t n;

	switch (c->cause) {
	case BW_CAUSE_SELF:
		bw_buf_printf(&b, "this process already holds the address on its own fd %d", h->fd);
		if (h->have_proc && h->sock.listening)
			bw_buf_puts(&b, " (a double bind, or a listening fd inherited across fork/exec"
					" from the parent that set it up)");
		break;
	case BW_CAUSE_SOCKET_ACTIVATION:
		if (h->have_proc && h->proc.listen_fds && !h->manager &&
		    bw_cause_unitless_activation(h)) {
			/* systemd-socket-activate or inetd run by hand passed it on. */
			who(&b, h);
			bw_buf_puts(&b, " got the socket through LISTEN_FDS from the program that started"
					" it, not from a .socket unit: no manager restarts it; stop it");
		} else if (h->have_proc && h->proc.listen_fds && !h->manager) {
			who(&b, h);
			bw_buf_puts(&b, " got the socket from its service manager (LISTEN_FDS): the"
					" .socket unit owns the port and restarts the service on demand;"
					" stop the socket unit too ('systemctl list-sockets'), not just the"
					" service");
		} else if (h->pid == 1 && h->mgr.socket_unit[0]) {
			bw_buf_puts(&b, "the service manager (pid 1) holds the socket for socket activation:"
					" the socket unit ");
			bw_buf_escape(&b, h->mgr.socket_unit, strlen(h->mgr.socket_unit));
			bw_buf_puts(&b, " owns the port; stop it, or accept the fd via LISTEN_FDS");
		} else if (h->pid == 1) {
			bw_buf_puts(&b, "the service manager (pid 1) holds the socket for socket activation:"
					" the .socket unit owns the port; see 'systemctl list-sockets' and stop"
					" the socket unit, or accept the fd via LISTEN_FDS");
		} else if (bw_cause_unitless_activation(h)) {
			/* systemd-socket-activate, inetd: a plain process, no units. */
			who(&b, h);
			bw_buf_puts(&b, " holds the socket for socket activation and hands it to the"
					" programs it starts; no .socket unit owns it: stop that process");
		} else {
			bw_buf_puts(&b, "a service manager (");
			who(&b, h);
			bw_buf_puts(&b, ") holds the socket for socket activation: see 'systemctl --user"
					" list-sockets' and stop the socket unit, or accept the fd via LISTEN_FDS");
		}
		break;
	case BW_CAUSE_LISTENER:
	case BW_CAUSE_UNIX_LIVE:
		bw_buf_puts(&b, "another process holds it: ");
		who(&b, h);
		if (h->sock.local.family == AF_UNIX && h->sock.local.abstract && h->other_pidns)
			bw_buf_puts(&b, ", in another pid namespace that shares this network namespace"
					" (abstract unix names live per network namespace, not per pid"
					" namespace or container)");
		if (h->sock.local.proto == BW_PROTO_UDP && c->want_reuseaddr != 1)
			bw_buf_puts(&b, "; a UDP port is shared only when every socket on it sets"
					" SO_REUSEADDR before bind(), and this socket does not");
		break;
	case BW_CAUSE_BOUND_ONLY:
		bw_buf_puts(&b, "another process has bound it without listening (a TCP socket"
				" bound, not listening nor connected): ");
		who(&b, h);
		break;
	case BW_CAUSE_REUSEADDR_MISMATCH:
		bw_buf_printf(&b, "%s could share the address, but only if every socket on it sets"
				  " SO_REUSEADDR before bind(): ",
			      h->sock.local.proto == BW_PROTO_UDP ? "a UDP port shared by design"
								  : "a TCP port nobody listens on");
		if (c->want_reuseaddr == 1) {
			bw_buf_puts(&b, "the holder ");
			who(&b, h);
			bw_buf_puts(&b, h->reuseaddr == 0 ? " lacks it" : " lacks it (assumed: bindwatch can't read another process's options)");
		} else {
			bw_buf_puts(&b, "this socket lacks it (the holder ");
			who(&b, h);
			bw_buf_puts(&b, " has it)");
		}
		break;
	case BW_CAUSE_REUSEPORT_MISMATCH:
		if (c->want_reuseport != 1 || h->reuseport != 1) {
			bw_buf_printf(&b, "only %s set SO_REUSEPORT (", h->reuseport == 1 ? "the holder" : "this socket");
			who(&b, h);
			bw_buf_puts(&b, h->reuseport == 1 ? " has it, this socket does not)" : " does not)");
			bw_buf_puts(&b, "; sockets of one program share a port only if every one of them"
					" sets SO_REUSEPORT before bind()");
		} else {
			bw_buf_printf(&b, "both set SO_REUSEPORT, but the kernel lets only sockets of"
					  " the same owner uid share a port: the holder ");
			who(&b, h);
			bw_buf_printf(&b, " is uid %u, this process uid %u; run both as one user",
				      (unsigned)h->sock.uid, (unsigned)c->want_uid);
		}
		break;
	case BW_CAUSE_DUAL_STACK:
		bw_addr_format(&h->sock.local, addr, sizeof(addr));
		if (c->want.family == AF_INET6 && !bw_addr_is_v4mapped(&c->want) && !c->want_v6only &&
		    (h->sock.local.family == AF_INET || bw_addr_is_v4mapped(&h->sock.local) ||
		     h->pid == c->pid)) {
			/* We are the IPv6 side (ipv6(7): a v6 socket without
			 * IPV6_V6ONLY also takes the port for IPv4). */
			bw_buf_puts(&b, "this IPv6 socket is dual-stack (IPV6_V6ONLY off, the default"
					" unless net.ipv6.bindv6only=1) and so also needs IPv4 on this"
					" port, which ");
			bw_buf_printf(&b, "%s of ", addr);
			who(&b, h);
			bw_buf_puts(&b, " holds");
		} else {
			bw_buf_printf(&b, "the IPv6 socket %s of ", addr);
			who(&b, h);
			bw_buf_puts(&b, " is dual-stack (IPV6_V6ONLY off, the default unless"
					" net.ipv6.bindv6only=1) and covers IPv4 on this port");
		}
		break;
	case BW_CAUSE_WILDCARD_OVERLAP:
		bw_addr_format(&h->sock.local, addr, sizeof(addr));
		/* ::ffff:0.0.0.0 is IPv4's wildcard (ipv6_rcv_saddr_equal()). */
		if (bw_addr_is_wildcard(&c->want) ||
		    (bw_addr_is_v4mapped(&c->want) && !c->want.ip[12] && !c->want.ip[13] &&
		     !c->want.ip[14] && !c->want.ip[15])) {
			bw_buf_puts(&b, "this bind is to the wildcard address, which covers the specific ");
			bw_buf_printf(&b, "address %s already held by ", addr);
			who(&b, h);
		} else {
			bw_buf_printf(&b, "the wildcard %s held by ", addr);
			who(&b, h);
			bw_buf_puts(&b, " covers every local address on this port");
		}
		break;
	case BW_CAUSE_NOT_VISIBLE:
		bw_buf_printf(&b, "a socket of uid %u (inode %llu) holds it, but its process is not"
				  " visible here (another user, or another pid namespace/container)",
			      (unsigned)h->sock.uid, (unsigned long long)h->sock.inode);
		if (h->sock.local.family == AF_UNIX && h->sock.local.abstract)
			bw_buf_puts(&b, "; abstract unix names live per network namespace, so a process"
					" in another pid namespace or container that shares this network"
					" namespace holds the name for everyone here");
		if (geteuid() != 0)
			bw_buf_puts(&b, "; run as root or as that user to see more");
		break;
	case BW_CAUSE_TIME_WAIT: {
		long ms = 0;
		for (size_t i = 0; i < c->n_holders; i++)
			if (c->holders[i].cause == BW_CAUSE_TIME_WAIT && c->holders[i].sock.timer_ms > ms)
				ms = c->holders[i].sock.timer_ms;
		size_t tw = 0, fw2 = 0, other = 0;
		for (size_t i = 0; i < c->n_holders; i++) {
			int st = c->holders[i].sock.state;
			if (c->holders[i].cause != BW_CAUSE_TIME_WAIT)
				continue;
			if (st == BW_TCP_TIME_WAIT)
				tw++;
			else if (st == BW_TCP_FIN_WAIT2)
				fw2++;
			else
				other++;
		}
		if (!fw2 && !other) {
			bw_buf_printf(&b, "only closed connections in TIME-WAIT remain (expire in %lds):",
				      (ms + 999) / 1000);
		} else {
			/* Orphans (no process has them): FIN-WAIT-2 waits for the
			 * peer's FIN until net.ipv4.tcp_fin_timeout (tcp(7)), then
			 * goes; LAST-ACK, CLOSING and FIN-WAIT-1 retransmit their
			 * FIN until acknowledged or timed out. */
			bw_buf_printf(&b, "only closed connections that no process owns remain (gone in"
					  " %lds at most):", (ms + 999) / 1000);
			if (tw)
				bw_buf_printf(&b, " %zu in TIME-WAIT%s", tw, fw2 || other ? ";" : "");
			if (fw2)
				bw_buf_printf(&b, " %zu in FIN-WAIT-2 (this side closed and the peer has"
						  " not; the kernel drops them after"
						  " net.ipv4.tcp_fin_timeout)%s", fw2, other ? ";" : "");
			if (other)
				bw_buf_printf(&b, " %zu still sending their FIN (LAST-ACK, CLOSING,"
						  " FIN-WAIT-1)", other);
			bw_buf_puts(&b, ";");
		}
		bw_buf_puts(&b, " SO_REUSEADDR lets the bind succeed only if both the new socket and"
				" the old one set it; net.ipv4.tcp_tw_reuse affects outgoing"
				" connections only and tcp_tw_recycle was removed in Linux 4.12");
		break;
	}
	case BW_CAUSE_UNIX_STALE:
		if (c->unix_vfs_checked)
			bw_buf_printf(&b, "the socket file exists but no socket in any network"
					  " namespace is bound to it (sock_diag, by the file; %u other"
					  " namespace%s searched); a leftover from a process that"
					  " exited without unlink()", c->unix_netns_other,
				      c->unix_netns_other == 1 ? "" : "s");
		else
			bw_buf_puts(&b, "the socket file exists but nobody listens on it: no socket"
					" in /proc/net/unix names this path (sock_diag, which would"
					" also see a socket bound under another spelling of it, was not"
					" available); probably a leftover from a process that exited"
					" without unlink()");
		break;
	case BW_CAUSE_UNIX_UNVERIFIED:
		bw_buf_puts(&b, "the socket file exists and no socket in this network namespace"
				" is bound to it, but ");
		if (!c->unix_netns_searched)
			bw_buf_puts(&b, "other network namespaces were not searched");
		else if (c->unix_netns_by_name)
			bw_buf_printf(&b, "%u other network namespace%s could only be searched by"
					  " name, not by the file (that takes root: setns)",
				      c->unix_netns_by_name, c->unix_netns_by_name == 1 ? "" : "s");
		else
			bw_buf_printf(&b, "the network namespace of %u process%s could not be seen",
				      c->unix_netns_unseen, c->unix_netns_unseen == 1 ? "" : "es");
		bw_buf_puts(&b, ": a live socket there may own it (a bind-mounted directory, a"
				" relative path); don't remove it before `bindwatch who unix PATH` as"
				" root says it is stale");
		break;
	case BW_CAUSE_UNIX_NOT_SOCKET: {
		unsigned m = c->unix_mode;
		bw_buf_printf(&b, "the path exists and is %s, not a socket: bind() never replaces"
				  " an existing file; choose another path, or remove it if it is yours",
			      m == S_IFREG ? "a regular file" : m == S_IFDIR ? "a directory"
			      : m == S_IFLNK ? "a symbolic link" : m == S_IFIFO ? "a FIFO"
			      : m == S_IFCHR ? "a character device" : m == S_IFBLK ? "a block device"
			      : "something else");
		break;
	}
	case BW_CAUSE_EPHEMERAL_EXHAUSTED:
		bw_buf_printf(&b, "no free port in the local port range %d-%d"
				  " (net.ipv4.ip_local_port_range; %d ports in use",
			      c->port_lo, c->port_hi, c->ports_in_use);
		if ((h = bw_remedy_top_holder(c, &n)) != NULL) {
			/* Named from the sockets looked up (at most BW_HOLDERS_MAX). */
			bw_buf_puts(&b, "; the most held by ");
			who(&b, h);
			bw_buf_printf(&b, ": %zu of the %zu sockets looked up", n, c->n_holders);
		}
		bw_buf_puts(&b, "): widen the range, or close idle sockets");
		break;
	default:
		bw_buf_puts(&b, "no visible socket matches: checked ");
		if (!c->table_from_proc)
			bw_buf_puts(&b, "the kernel's socket tables (sock_diag) in this network"
					" namespace; the holder may be hidden by another namespace, or"
					" be a TCP socket bound but not listening on a kernel older"
					" than 6.8 (which does not list those)");
		else
			bw_buf_printf(&b, "%s in this network namespace; the holder may be a TCP"
					  " socket bound but not listening (not listed there), or"
					  " hidden by a namespace",
				      c->want.family == AF_UNIX ? "/proc/net/unix"
								: "/proc/net/{tcp,udp}{,6}");
		if (c->table_errno)
			bw_buf_printf(&b, "; the socket table could not be read (errno %d)",
				      c->table_errno);
		break;
	}
	*bp = b;
}

/* The devices, when the blocking socket is bound to one: a socket with
 * no device meets every device's, two sockets of one device meet
 * (inet_bind_conflict(), udp_lib_lport_inuse(); bindrules.h). */
static void device_note(const struct bw_conflict *c, struct bw_buf *b)
{
	const struct bw_holder *h = first_with(c, c->cause);
	char hd[24], wd[24];
	if (!h || !h->blocks || !h->sock.local.dev_if ||
	    !(c->want.family == AF_INET || c->want.family == AF_INET6 || c->want.family == AF_UNSPEC))
		return;
	bw_addr_format_dev(&h->sock.local, hd, sizeof(hd));
	if (!bw_addr_format_dev(&c->want, wd, sizeof(wd)))
		bw_buf_printf(b, "; its socket is bound to device %s, this one to none, which meets"
				 " every device's", hd);
	else
		bw_buf_printf(b, "; both sockets are bound to device %s", hd);
}

static void write_hint(struct bw_conflict *c)
{
	struct bw_buf b = BW_BUF_INIT(c->hint, sizeof(c->hint));
	explain(c, &b);
	device_note(c, &b);
	c->hint_fixes_at = (unsigned short)b.len;
	for (size_t i = 0; i < c->n_fixes; i++) {
		bw_buf_puts(&b, i == 0 ? "; remedies: " : "; or ");
		bw_remedy_words(&b, c, &c->fixes[i]);
	}
	c->hint_fixes_end = (unsigned short)b.len;
	c->hint_unread_at = c->hint_unread_end = 0;
	for (unsigned bit = 1; bit <= BW_ASSUMED_CALLER_OPTIONS; bit <<= 1)
		if (c->assumed & bit)
			bw_buf_printf(&b, " (assumed: %s)", bw_assumed_text(bit));
}

/* Inside a host the shim can't read another process's socket options
 * (that needs pidfd_getfd(2), outside the system calls it allows itself;
 * diagnose.h, bw_diag_extras), nor can the supervisor without ptrace
 * access: the hint says so where SO_REUSEPORT might be the cause. */
static void options_unknown(struct bw_conflict *c)
{
	const struct bw_holder *h = first_with(c, c->cause);
	struct bw_buf b = BW_BUF_INIT(c->hint, sizeof(c->hint));
	if (!h || h->sock.local.family == AF_UNIX || h->pid <= 0 || h->reuseport >= 0 ||
	    (c->cause != BW_CAUSE_LISTENER && c->cause != BW_CAUSE_BOUND_ONLY &&
	     c->cause != BW_CAUSE_WILDCARD_OVERLAP &&
	     c->cause != BW_CAUSE_DUAL_STACK))
		return;
	b.len = strlen(c->hint);
	c->hint_unread_at = (unsigned short)b.len;
	bw_buf_puts(&b, "; the holder's SO_REUSEADDR/SO_REUSEPORT could not be read here"
			" ('bindwatch who' reads them, as root or as the holder's user)");
	c->hint_unread_end = (unsigned short)b.len;
	if (c->want_reuseport == 1 && c->have_uid)
		bw_buf_printf(&b, "; this socket sets SO_REUSEPORT, which shares the port only with"
				  " sockets that set it too under the same uid (the holder is uid %u,"
				  " this process uid %u)",
			      (unsigned)h->sock.uid, (unsigned)c->uid);
}

bool bw_unix_owned(const struct bw_conflict *c)
{
	for (size_t i = 0; i < c->n_holders; i++)
		if (bw_unix_owns(&c->holders[i].sock))
			return true;
	return false;
}

void bw_classify(struct bw_conflict *c)
{
	enum bw_cause best = BW_CAUSE_UNKNOWN;
	int best_rank = rank(BW_CAUSE_UNKNOWN);
	bool listens = false;

	for (size_t i = 0; i < c->n_holders; i++)
		listens |= c->holders[i].sock.listening && c->holders[i].blocks;
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_holder *h = &c->holders[i];
		h->cause = classify_holder(c, h);
		/* The cause is the one that matters for freeing: with a
		 * listener among the holders, a connection that could share
		 * the port (reuseaddr_mismatch) is not it: SO_REUSEADDR never
		 * shares a port with a TCP listener (inet_csk_bind_conflict()). */
		if (listens && h->cause == BW_CAUSE_REUSEADDR_MISMATCH)
			continue;
		if (rank(h->cause) < best_rank) {
			best = h->cause;
			best_rank = rank(h->cause);
		}
	}
	/* A path that no socket owns is stale: nothing at all, or only
	 * connected leftovers carrying its name. A socket bound to it that
	 * does not listen (yet, or ever: datagram) still owns it. */
	if (c->want.family == AF_UNIX && best == BW_CAUSE_UNKNOWN &&
	    c->unix_file == BW_UNIX_FILE_OTHER)
		best = BW_CAUSE_UNIX_NOT_SOCKET;
	else if (c->want.family == AF_UNIX && c->unix_file == BW_UNIX_FILE_SOCKET && !bw_unix_owned(c))
		best = !c->unix_netns_searched || c->unix_netns_by_name || c->unix_netns_unseen
			       ? BW_CAUSE_UNIX_UNVERIFIED
			       : BW_CAUSE_UNIX_STALE;
	if ((c->want.family == AF_INET || c->want.family == AF_INET6) && c->want.port == 0 &&
	    c->port_hi > 0)
		best = BW_CAUSE_EPHEMERAL_EXHAUSTED;
	c->cause = best;
	c->assumed = 0;
	for (size_t i = 0; i < c->n_holders; i++)
		if (c->holders[i].cause == best)
			c->assumed |= c->holders[i].assumed;
	/* The one command first: the remedies' "stop the holder" names it. */
	bw_free_choose(c);
	bw_remedy_build(c);
	write_hint(c);
	if (c->pid > 0)
		options_unknown(c);
}
