/* socktab: the kernel's socket tables (/proc/net/{tcp,tcp6,udp,udp6,unix}),
 * parsed from a byte buffer so tests can replay captured tables. Pure apart
 * from bw_socktab_read(), which streams a file through a fixed buffer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/addr.h"

/* TCP states as numbered in include/net/tcp_states.h */
enum {
	BW_TCP_ESTABLISHED = 1, BW_TCP_SYN_SENT, BW_TCP_SYN_RECV, BW_TCP_FIN_WAIT1,
	BW_TCP_FIN_WAIT2, BW_TCP_TIME_WAIT, BW_TCP_CLOSE, BW_TCP_CLOSE_WAIT,
	BW_TCP_LAST_ACK, BW_TCP_LISTEN, BW_TCP_CLOSING, BW_TCP_NEW_SYN_RECV,
	/* Bound, neither listening nor connected: dumped by sock_diag only
	 * when asked for explicitly (Linux 6.8, "tcp: Dump bound-only sockets
	 * in inet_diag"); invisible in /proc/net/tcp. */
	BW_TCP_BOUND_INACTIVE,
};

struct bw_sock {
	struct bw_addr local;    /* family, proto, ip, port / path */
	struct bw_addr remote;
	int state;               /* TCP state; UDP 7 (unconnected) or 1; unix 1..4 */
	uint32_t uid;
	uint64_t inode;          /* 0 for TIME_WAIT: no struct socket is left */
	int timer;               /* /proc/net/tcp "tr": 3 = TIME_WAIT timer */
	long timer_ms;           /* time until that timer fires */
	bool listening;          /* TCP LISTEN, or unix __SO_ACCEPTCON */
	bool v6only;             /* IPV6_V6ONLY (sock_diag only; /proc can't tell: false) */
	uint64_t cgroup_id;      /* cgroup v2 id (sock_diag only), 0 unknown */
	/* AF_UNIX bound to a path (sock_diag UDIAG_SHOW_VFS only): the file's
	 * inode (the kernel passes its low 32 bits) and its device in the
	 * kernel's encoding (major << 20 | minor); both 0 when unknown. */
	uint32_t vfs_ino, vfs_dev;
};

/* One line of /proc/net/{tcp,udp}{,6}. Returns 0, or -EINVAL for the header
 * line or garbage. family is AF_INET or AF_INET6. */
int bw_socktab_parse_inet_line(const char *line, size_t len, int family, enum bw_proto proto,
			       struct bw_sock *ret);

/* One line of /proc/net/unix. */
int bw_socktab_parse_unix_line(const char *line, size_t len, struct bw_sock *ret);

typedef int (*bw_sock_cb)(const struct bw_sock *s, void *ctx);

/* Feeds every parsable line of buf to cb; stops early when cb returns != 0
 * and returns that value. A trailing partial line is ignored. */
int bw_socktab_parse_buf(const char *buf, size_t len, int family, enum bw_proto proto,
			 bw_sock_cb cb, void *ctx);

/* Streams <proc_root>/net/<table> (table chosen from family and proto) and
 * calls cb per socket. family AF_UNIX reads /proc/net/unix. Returns cb's
 * non-zero value, 0 at the end, or -errno if the file can't be opened. */
int bw_socktab_read(const char *proc_root, int family, enum bw_proto proto, bw_sock_cb cb,
		    void *ctx);

/* The same tables through NETLINK_SOCK_DIAG (inet_diag with an in-kernel
 * source-port filter when port >= 0; unix_diag with names). Returns 0, or
 * -errno when netlink is unavailable (the caller falls back to /proc). */
int bw_sockdiag_query(int family, enum bw_proto proto, int port, bw_sock_cb cb, void *ctx);

/* Parses one recv() worth of a sock_diag dump (replayable in tests).
 * Returns 1 after NLMSG_DONE, 0 when more is to come, the callback's
 * non-zero value, or -errno from an NLMSG_ERROR. */
int bw_sockdiag_parse(const void *buf, size_t len, enum bw_proto proto, bw_sock_cb cb, void *ctx);

/* A non-blocking sock_diag socket that receives a message whenever a TCP
 * (proto TCP) or UDP socket of this network namespace is destroyed (the
 * SKNLGRP_INET*_DESTROY groups, Linux 4.5+): IPv6 sockets only for family
 * AF_INET6, IPv4 and IPv6 otherwise. Joining is allowed to any user on
 * current kernels; where it is not, -EPERM. TIME-WAIT entries are not
 * sockets: their expiry sends nothing. Returns the fd (O_CLOEXEC), or
 * -errno (-ENOPROTOOPT when BINDWATCH_NETLINK=0). */
int bw_sockdiag_watch_destroy(enum bw_proto proto, int family);

/* Reads whatever is queued on such an fd without blocking. Returns how
 * many messages name a destroyed socket whose local port is port (any
 * port when port < 0): others (a socket of another port, a bind that
 * never got one, such as the caller's own failed test bind) can't have
 * held it; or -errno. */
int bw_sockdiag_watch_drain(int fd, int port);

/* BINDWATCH_NETLINK=0 (or a test) forces the /proc/net fallback. */
extern int bw_sockdiag_disabled;

const char *bw_tcp_state_name(int state);

/* Sockets of one kind, as a report folds them: the same local address
 * (device included) and protocol, state, owner uid and IPV6_V6ONLY (TIME-WAIT leftovers of one
 * port; SO_REUSEPORT listeners of one program). */
bool bw_sock_same_kind(const struct bw_sock *a, const struct bw_sock *b);

/* An AF_UNIX socket that owns the address it carries: a listener, a
 * socket bound but not connected (not listening yet, or a datagram
 * receiver) or any bound datagram socket. A connected stream socket only
 * carries the name of the listener that accepted it (or its own, if it
 * bound before connecting): a new server can take the path without
 * disturbing it (net/unix/af_unix.c, unix_stream_connect copies addr). */
bool bw_unix_owns(const struct bw_sock *s);
