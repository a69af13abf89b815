/* sockdiag: the socket tables through NETLINK_SOCK_DIAG (sock_diag(7)).
 * Faster than /proc/net on a busy host (the kernel filters by port), and
 * it sees what /proc can't: IPV6_V6ONLY, the cgroup id, and TCP sockets
 * bound but not listening. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lookup/socktab.h"

int bw_sockdiag_disabled;

static void fill_inet(struct bw_sock *s, const struct inet_diag_msg *m, enum bw_proto proto)
{
	int fam = m->idiag_family;
	size_t n = fam == AF_INET ? 4 : 16;
	memset(s, 0, sizeof(*s));
	s->local.family = s->remote.family = fam;
	s->local.proto = s->remote.proto = proto;
	memcpy(s->local.ip, m->id.idiag_src, n);
	memcpy(s->remote.ip, m->id.idiag_dst, n);
	s->local.port = ntohs(m->id.idiag_sport);
	s->remote.port = ntohs(m->id.idiag_dport);
	/* sk_bound_dev_if (inet_diag_msg_common_fill(), TIME-WAIT too). */
	s->local.dev_if = m->id.idiag_if;
	s->state = m->idiag_state;
	s->uid = m->idiag_uid;
	s->inode = m->idiag_inode;
	s->timer = m->idiag_timer;
	s->timer_ms = (long)m->idiag_expires;
	s->listening = proto == BW_PROTO_TCP && s->state == BW_TCP_LISTEN;
}

static void inet_attrs(struct bw_sock *s, const struct nlmsghdr *h, const struct inet_diag_msg *m)
{
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			s->v6only = *(const uint8_t *)RTA_DATA(a) != 0;
		else if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= 8)
			memcpy(&s->cgroup_id, RTA_DATA(a), 8);
	}
}

static void fill_unix(struct bw_sock *s, const struct nlmsghdr *h, const struct unix_diag_msg *m)
{
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	memset(s, 0, sizeof(*s));
	s->local.family = AF_UNIX;
	s->local.proto = bw_unix_proto(m->udiag_type);
	/* unix_diag speaks TCP_* states; /proc/net/unix prints SS_* ones
	 * (SS_UNCONNECTED 1, SS_CONNECTED 3). Report the latter from both. */
	s->state = m->udiag_state == BW_TCP_ESTABLISHED ? 3 : 1;
	s->inode = m->udiag_ino;
	s->listening = m->udiag_state == BW_TCP_LISTEN;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		const char *p = RTA_DATA(a);
		size_t n = RTA_PAYLOAD(a);
		if (a->rta_type == UNIX_DIAG_UID && n >= 4) {
			memcpy(&s->uid, p, 4);
		} else if (a->rta_type == UNIX_DIAG_VFS && n >= sizeof(struct unix_diag_vfs)) {
			struct unix_diag_vfs v;
			memcpy(&v, p, sizeof(v));
			s->vfs_ino = v.udiag_vfs_ino;
			s->vfs_dev = v.udiag_vfs_dev;
		} else if (a->rta_type == UNIX_DIAG_NAME && n > 0) {
			if (p[0] == '\0') {
				/* Abstract: the NULs of the name are shown as '@' (as
				 * /proc/net/unix does) so both sources compare alike. */
				s->local.abstract = true;
				p++;
				n--;
			} else {
				n = strnlen(p, n);
			}
			if (n > BW_UNIX_PATH_MAX)
				n = BW_UNIX_PATH_MAX;
			for (size_t i = 0; i < n; i++)
				s->local.path[i] = p[i] ? p[i] : '@';
			s->local.path[n] = '\0';
			s->local.path_len = n;
		}
	}
}

int bw_sockdiag_parse(const void *buf, size_t len, enum bw_proto proto, bw_sock_cb cb, void *ctx)
{
	/* buf must be 4-byte aligned (NLMSG_ALIGNTO). Bounds are checked by
	 * hand: NLMSG_NEXT can step past the end by the alignment padding. */
	for (size_t off = 0; len - off >= sizeof(struct nlmsghdr);) {
		const struct nlmsghdr *h = (const void *)((const char *)buf + off);
		struct bw_sock s;
		int r;
		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - off)
			return -EINVAL;
		off += NLMSG_ALIGN(h->nlmsg_len) < len - off ? NLMSG_ALIGN(h->nlmsg_len) : len - off;
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EINVAL;
			return e->error < 0 ? e->error : -EPROTO;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		if (proto == BW_PROTO_UNIX_STREAM || proto == BW_PROTO_UNIX_DGRAM ||
		    proto == BW_PROTO_UNIX_SEQPACKET) {
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
				continue;
			fill_unix(&s, h, NLMSG_DATA(h));
		} else {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
			    (m->idiag_family != AF_INET && m->idiag_family != AF_INET6))
				continue;
			fill_inet(&s, m, proto);
			inet_attrs(&s, h, m);
		}
		r = cb(&s, ctx);
		if (r)
			return r;
	}
	return 0;
}

/* Receives until NLMSG_DONE into a fixed buffer. The kernel sizes dump
 * skbs from our recv length, so a constant 32 KiB (what ss uses) never
 * truncates. */
static int drain(int fd, enum bw_proto proto, bw_sock_cb cb, void *ctx)
{
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int r;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPROTO;
		r = bw_sockdiag_parse(buf, (size_t)n, proto, cb, ctx);
		if (r == 1)
			return 0;
		if (r != 0)
			return r;
	}
}

static int open_diag(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	return fd < 0 ? -errno : fd;
}

static int query_inet(int family, enum bw_proto proto, int port, bw_sock_cb cb, void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
		struct rtattr rta;
		struct inet_diag_bc_op ops[2];
	} msg;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	int fd, r;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = proto == BW_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	/* Every state, plus bound-only sockets, which must be named explicitly. */
	msg.req.idiag_states = ~0u;
	msg.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(msg.req));
	if (port >= 0) {
		/* "sport == port": S_EQ's operand is the op that follows; yes
		 * jumps past both ops (accept), no jumps 4 past the end (reject)
		 * (net/ipv4/inet_diag.c, inet_diag_bc_run()). */
		msg.ops[0] = (struct inet_diag_bc_op){INET_DIAG_BC_S_EQ, 8, 12};
		msg.ops[1] = (struct inet_diag_bc_op){0, 0, (unsigned short)port};
		msg.rta.rta_type = INET_DIAG_REQ_BYTECODE;
		msg.rta.rta_len = RTA_LENGTH(sizeof(msg.ops));
		msg.nlh.nlmsg_len = NLMSG_ALIGN(msg.nlh.nlmsg_len) + RTA_ALIGN(msg.rta.rta_len);
	}
	fd = open_diag();
	if (fd < 0)
		return fd;
	if (sendto(fd, &msg, msg.nlh.nlmsg_len, 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		r = -errno;
	else
		r = drain(fd, proto, cb, ctx);
	close(fd);
	return r;
}

static int query_unix(bw_sock_cb cb, void *ctx)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	int fd, r;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = AF_UNIX;
	msg.req.udiag_states = ~0u;
	/* VFS: the inode and device of the file a socket is bound to, which
	 * tells whether a socket file is still bound (net/unix/diag.c,
	 * sk_diag_dump_vfs) without touching any socket. */
	msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_UID | UDIAG_SHOW_VFS;
	fd = open_diag();
	if (fd < 0)
		return fd;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		r = -errno;
	else
		r = drain(fd, BW_PROTO_UNIX_STREAM, cb, ctx);
	close(fd);
	return r;
}

int bw_sockdiag_query(int family, enum bw_proto proto, int port, bw_sock_cb cb, void *ctx)
{
	if (bw_sockdiag_disabled)
		return -ENOPROTOOPT;
	if (family == AF_UNIX)
		return query_unix(cb, ctx);
	return query_inet(family, proto, port, cb, ctx);
}

int bw_sockdiag_watch_destroy(enum bw_proto proto, int family)
{
	int groups[2] = {SKNLGRP_INET6_TCP_DESTROY, SKNLGRP_INET_TCP_DESTROY};
	size_t n_groups = family == AF_INET6 ? 1 : 2;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	int fd;

	if (bw_sockdiag_disabled)
		return -ENOPROTOOPT;
	if (proto == BW_PROTO_UDP) {
		groups[0] = SKNLGRP_INET6_UDP_DESTROY;
		groups[1] = SKNLGRP_INET_UDP_DESTROY;
	} else if (proto != BW_PROTO_TCP) {
		return -EINVAL;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* The groups exist since Linux 4.5 (net/core/sock_diag.c,
	 * sock_diag_broadcast_destroy(), sent from sk_destruct() for every
	 * socket of the namespace, the caller's own included). */
	if (bind(fd, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		goto fail;
	for (size_t i = 0; i < n_groups; i++)
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i],
			       sizeof(groups[i])) < 0)
			goto fail;
	return fd;
fail:
	{
		int e = errno;
		close(fd);
		return -e;
	}
}

struct destroyed {
	int port, n;
};

static int count_destroyed(const struct bw_sock *s, void *ctx)
{
	struct destroyed *d = ctx;
	d->n += d->port < 0 || s->local.port == d->port;
	return 0;
}

int bw_sockdiag_watch_drain(int fd, int port)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	int n = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0) {
			/* One message per datagram (sock_diag_broadcast_destroy()),
			 * parsed as a dump's. */
			struct destroyed d = {port, 0};
			bw_sockdiag_parse(buf, (size_t)r, BW_PROTO_TCP, count_destroyed, &d);
			n += d.n;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* ENOBUFS: events were dropped, one may have been on port. */
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS))
			return errno == ENOBUFS ? n + 1 : n;
		return r < 0 ? -errno : n;
	}
}
