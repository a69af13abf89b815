/* socktab: the kernel's socket tables (/proc/net/{tcp,tcp6,udp,udp6,unix}),
 * parsed from a byte buffer so tests can replay captured tables. Pure apart
 * from bw_socktab_read(), which streams a file through a fixed buffer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* TCP states as numbered in include/net/tcp_states.h */
enum {
	BW_TCP_ESTABLISHED = 1, BW_TCP_SYN_SENT, BW_TCP_SYN_RECV, BW_TCP_FIN_WAIT1,
	BW_TCP_FIN_WAIT2, BW_TCP_TIME_WAIT, BW_TCP_CLOSE, BW_TCP_CLOSE_WAIT,
	BW_TCP_LAST_ACK, BW_TCP_LISTEN, BW_TCP_CLOSING,
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

const char *bw_tcp_state_name(int state);
