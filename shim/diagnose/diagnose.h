/* diagnose: fills a bw_conflict from the kernel's socket tables and /proc.
 * No allocation, no locks; bounded by a deadline. */
#pragma once
#include <stdint.h>
#include <sys/socket.h>

#include "diagnose/conflict.h"
#include "policy/settings.h"

/* Reads what the socket itself knows (family from the address, SO_TYPE,
 * IPV6_V6ONLY; for listen() the bound address from getsockname) into *want
 * and *v6only. sa may be NULL (listen). 0 or -errno. */
int bw_diag_describe_socket(int fd, const struct sockaddr *sa, socklen_t len,
			    struct bw_addr *want, bool *v6only);

/* bw_diag_describe_socket into c, plus the socket's own inode, which a
 * listen()-time conflict would otherwise list as a holder of its port. */
int bw_diag_from_fd(struct bw_conflict *c, int fd, const struct sockaddr *sa, socklen_t len);

/* A successful call's socket for BINDWATCH_TRACE=all: address, protocol
 * and SO_REUSEADDR / SO_REUSEPORT / IPV6_V6ONLY into t. */
void bw_diag_trace_socket(struct bw_trace_event *t, int fd, const struct sockaddr *sa,
			  socklen_t len);

/* Applies the lookup switches (BINDWATCH_NETLINK, BINDWATCH_BPF) of s to
 * every later bw_diagnose in this process: each front end (shim, `who`,
 * the supervisor) calls it once after loading its settings. */
void bw_diag_use_settings(const struct bw_settings *s);

/* Lookups that need system calls outside systemd's @system-service set
 * (bpf(2), pidfd_getfd(2)): everything the shim does inside a host must
 * stay within that set (a service with SystemCallFilter=@system-service is
 * killed otherwise), so only the bindwatch process (`who`, --supervise)
 * installs them, through bw_diag_allow_foreign(); the shim never links
 * them. NULL members are skipped: the owner scan reads /proc instead, and
 * another process's socket options stay unknown. */
struct bw_diag_extras {
	/* The BPF task_file iterator (lookup/bpfiter.h, bw_bpf_owner_find). */
	long (*owner_find)(struct bw_owner_query *q);
	/* A duplicate of descriptor fd of process pid, or -errno
	 * (lookup/pidfd.h, bw_pidfd_getfd). */
	int (*pidfd_getfd)(pid_t pid, int fd);
	/* The unix sockets of pid's network namespace by their bound files
	 * (lookup/netns.h, bw_netns_unix_query: setns). */
	int (*netns_unix_query)(pid_t pid, bw_sock_cb cb, void *ctx);
};

/* Installs x for every later bw_diagnose in this process. */
void bw_diag_use_extras(const struct bw_diag_extras *x);

/* bw_diag_use_extras with the BPF owner search and pidfd_getfd: for the
 * bindwatch process only (diagnose/foreign.c, linked only by tools/). */
void bw_diag_allow_foreign(void);

/* Finds the blocking sockets and their holders for c->want, then classifies.
 * self_pid is tried first in the owner scan (0: none). */
void bw_diagnose(struct bw_conflict *c, const char *proc_root, pid_t self_pid,
		 uint64_t deadline_ns);

/* The owner half alone: the process (pid, fd, /proc facts, socket options)
 * of every socket already in c->holders[0..n_holders), e.g. sockets a
 * listing put there. No classification. */
void bw_diag_find_holders(struct bw_conflict *c, const char *proc_root, pid_t self_pid,
			  uint64_t deadline_ns);

/* Whether a unix socket of the reader's network namespace (abstract names
 * are per namespace, unix(7)) is bound to the abstract name in sa: 1 yes,
 * 0 no, -errno (-EINVAL: sa is not an abstract unix address). From
 * sock_diag, /proc/net/unix as the fallback. For the supervisor, which
 * can't make an AF_UNIX bind for the program and must tell beforehand. */
int bw_diag_unix_abstract_taken(const struct sockaddr *sa, socklen_t len);

/* Whether port want->port of want->proto is in use for an address that
 * overlaps want (diagnose/overlap.h) by any socket of the reader's network
 * namespace but own_inode (0: none): bound only, listening or connected.
 * A bind can succeed where this says 1: two SO_REUSEADDR sockets share a
 * port while neither listens (net/ipv4/inet_connection_sock.c,
 * inet_csk_bind_conflict), and the second listen() then fails; UDP
 * SO_REUSEADDR sockets share one and split its datagrams. TIME-WAIT
 * entries count only when !want_reuseaddr (the kernel lets a SO_REUSEADDR
 * bind over them). From sock_diag (bound-only TCP sockets: Linux 6.8+),
 * /proc/net as the fallback (which lists no bound-only TCP socket).
 * 1 yes, 0 no, -errno (-EINVAL: want is not inet with a port). */
int bw_diag_port_in_use(const struct bw_addr *want, bool want_v6only, bool want_reuseaddr,
			uint64_t own_inode);

/* The socket-table half alone (tests feed tables through it): considers one
 * socket and keeps it in c->holders if it blocks c->want. */
void bw_diag_consider(struct bw_conflict *c, const struct bw_sock *s);

/* The second half of bw_diagnose once the holders' owners and options are
 * filled in (tests fill them by hand): the kernel's rules revisited with
 * what is now known (holders that do not block are dropped unless none
 * would be left; h->blocks says which do), then classification. */
void bw_diag_settle(struct bw_conflict *c);
