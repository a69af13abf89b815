/* freecmd: the one command that frees a conflict's address, chosen from
 * its cause and the holder's manager: stop the systemd unit (the .socket
 * unit for socket activation), the container, or - when no manager would
 * restart it - kill the process to act on; remove a stale socket file;
 * or wait out TIME-WAIT. Fills the free_* fields of struct bw_conflict.
 * Pure: reads only the record. */
#pragma once
#include <stddef.h>

#include "diagnose/conflict.h"

/* Chooses the command for c (after bw_classify has set c->cause). */
void bw_free_choose(struct bw_conflict *c);

/* c->free_argv as one shell command line ("systemctl stop nginx.service"),
 * arguments quoted where the shell would split or expand them. Returns
 * its length; "" when there is no command. */
size_t bw_free_command(const struct bw_conflict *c, char *buf, size_t size);

const char *bw_free_kind_name(enum bw_free_kind k);
