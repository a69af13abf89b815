/* freecmd: the one command that frees a conflict's address, chosen from
 * its cause and the holders' managers: stop the systemd unit (the .socket
 * unit for socket activation), the container, or - when no manager would
 * restart it - kill the process to act on; remove a stale socket file;
 * or wait out TIME-WAIT. Every process that keeps a blocking socket open
 * is covered by its own unit or container: several units of one manager
 * in one `systemctl stop A B`, several managers' commands joined by
 * " && ", then one `kill PIDS` for the processes under none (a child moved
 * out of its service's cgroup keeps the port after `systemctl stop`).
 * Fills the free_* fields of struct bw_conflict. Pure: reads only the
 * record. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "basic/fmt.h"
#include "diagnose/conflict.h"

/* Chooses the command for c (after bw_classify has set c->cause). */
void bw_free_choose(struct bw_conflict *c);

/* Every process that must go for c's address to be free: each process
 * that has a blocking, live socket open (TIME-WAIT leftovers have none),
 * the holder of c's cause first and each socket's process to act on first
 * before the processes that share it; the failing process c->pid itself
 * left out (*ret_self says it has one open, with its fd in *ret_self_fd).
 * At most max pids (and their fds) into pids[]/fds[]; the others counted
 * in *ret_more, sockets whose process is not visible in *ret_unseen.
 * Returns how many were stored. */
struct bw_free_pids {
	size_t more, unseen;
	bool self;
	int self_fd;
};
size_t bw_free_pids(const struct bw_conflict *c, pid_t *pids, int *fds, size_t max,
		    struct bw_free_pids *ret);

/* The commands of c->free_argv one at a time: the one that starts at
 * free_argv[at] (0, then each end returned) ends before the index
 * returned (c->free_argc for the last). */
size_t bw_free_command_end(const struct bw_conflict *c, size_t at);

/* The same command line appended to b: its commands joined by " && ". */
void bw_free_command_to(const struct bw_conflict *c, struct bw_buf *b);

/* Room for any command bw_free_choose makes in practice, quoted (kill
 * and its pids are short; a manager's command has at most 9 arguments of
 * at most BW_FREE_ARG_MAX bytes, and several of them share this room:
 * unit and container names are far shorter). */
#define BW_FREE_COMMAND_MAX (9 * (BW_FREE_ARG_MAX + 3))

/* c->free_argv as one shell command line ("systemctl stop nginx.service"),
 * arguments quoted where the shell would split or expand them. Returns
 * its length; "" when there is no command. */
size_t bw_free_command(const struct bw_conflict *c, char *buf, size_t size);

const char *bw_free_kind_name(enum bw_free_kind k);
