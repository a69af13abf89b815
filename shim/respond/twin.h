/* twin: the listen()-time remap's stand-in socket. Linux has no unbind, so
 * a socket whose listen() failed can't move; a twin of it (same family,
 * type, protocol) is bound and listened on the new port and dup3(2)ed over
 * the caller's fd number. The rule is "faithful or refused": every socket
 * option, file status flag, owner, signal, socket filter and epoll
 * registration that can be read back is carried exactly and checked by
 * reading it back; what can't be carried refuses the remap. */
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "basic/fmt.h"

#define BW_TWIN_EPOLL_MAX 8

/* What bw_twin_check learned of the caller's socket. */
struct bw_twin_plan {
	uint64_t inode;
	size_t n_epoll;
	struct {
		int epfd;
		uint32_t events;
		uint64_t data;
	} epoll[BW_TWIN_EPOLL_MAX];
};

/* How the twin is made, bound and listened (each 0/fd or -errno). */
struct bw_twin_ops {
	int (*socket)(int domain, int type, int protocol, void *ctx);
	int (*bind)(int fd, const struct sockaddr *sa, socklen_t len, void *ctx);
	int (*listen)(int fd, int backlog, void *ctx);
	void *ctx;
};

/* Whether the socket (fd: a descriptor of it here; owner_pid, owner_fd:
 * where it lives, 0 for this process and fd) can be
 * replaced by a twin at all: 0 and *plan filled, or -ECANCELED with the
 * reason in why ("fd 7 shares the socket", "SO_REUSEPORT is set: ...", an
 * epoll registration in another process), or another -errno. Reads the
 * owner's /proc/<pid>/fd and its epoll sets' fdinfo, and the fd tables of
 * its parent (this process only) and children. */
int bw_twin_check(int fd, pid_t owner_pid, int owner_fd, struct bw_twin_plan *plan,
		  struct bw_buf *why);

/* Builds the twin of fd, carries everything (SOL_SOCKET, IP, IPv6 and TCP
 * options; buffer sizes only when the program set them, at the size it
 * set; a classic filter; O_NONBLOCK/O_ASYNC, F_SETOWN_EX, F_SETSIG), all
 * through ops (socket, bind, listen), and swaps it onto fd's
 * number (FD_CLOEXEC kept) with plan's epoll registrations re-made (same
 * set, events and data). 0; -ECANCELED when something could not be carried
 * (why says what); the bind's or listen's -errno (fd untouched). */
int bw_twin_listen(int fd, const struct bw_twin_plan *plan, const struct sockaddr *sa,
		   socklen_t len, int backlog, const struct bw_twin_ops *ops, struct bw_buf *why);
