/* cli: what the subcommands of bindwatch(1) (`who`, `wait`, and the run
 * front end in bindwatch.c) share: one-line errors and the address words. */
#pragma once
#include <stdbool.h>

#include "basic/addr.h"

/* Prints "bindwatch: " + the message + "\n" on stderr (one line, one
 * mistake) and returns 2, the usage-error exit status. */
int bw_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one line for an option getopt_long refused: call with the value it
 * returned ('?' unknown, ':' missing argument: put ':' first in the
 * optstring) right after it returned, and opterr = 0 so getopt says
 * nothing itself. cmd names the subcommand ("who"), NULL for the run
 * form. Returns 2. */
int bw_cli_bad_option(const char *cmd, int opt, char *const *argv);

/* Loads the BINDWATCH_* settings the lookups honour (BINDWATCH_NETLINK,
 * BINDWATCH_BPF), printing a warning line for each bad value. */
void bw_cli_load_settings(void);

/* The address words of `who`, `wait` and `free`:
 *     [tcp|udp|unix] PORT | ADDR:PORT | [V6]:PORT | SERVICE | ADDR:SERVICE | PATH | @NAME
 * argv holds the n (1 or 2) words left after the options. A SERVICE is
 * looked up in the services database (getservbyname(3), NSS). A port is
 * 1-65535; port 0 is refused (bind(port 0) never conflicts with a holder:
 * the kernel picks a free port). A protocol that contradicts the address
 * (udp /path, unix 8000) is refused. ret->proto is BW_PROTO_UNKNOWN when
 * no protocol word was given for an IP address (both TCP and UDP), and for
 * a unix name (any socket type). Returns 0, or -EINVAL after printing one
 * error line (cmd names the subcommand in it). */
int bw_cli_parse_target(const char *cmd, int n, char *const *argv, struct bw_addr *ret);

/* A --timeout value: seconds 0-31536000, decimals allowed, into *ret.
 * 0, or -EINVAL after printing one error line naming cmd. */
int bw_cli_parse_seconds(const char *cmd, const char *s, double *ret);

/* Would bind(2) to a succeed right now? A test bind on a socket of its
 * own (no SO_REUSEADDR, as a fresh program's socket), closed at once: the
 * kernel is the judge. A bare port (AF_UNSPEC) binds the dual-stack [::].
 * 1 free, 0 in use, -errno when it could never succeed (EADDRNOTAVAIL:
 * not a local address; EACCES: a privileged port). A unix path is free
 * when nothing exists there (bind(2) never replaces a file) and its
 * directory does (-ENOENT, -ENOTDIR: bind(2) would fail so). tools/wait.c. */
int bw_cli_bind_would_succeed(const struct bw_addr *a);

/* The one line for an address no bind can ever get here (err: the -errno
 * of bw_cli_bind_would_succeed): "CMD: a bind to WHAT can never succeed
 * here: STRERROR", for EACCES with the sysctl that decides it
 * (net.ipv4.ip_unprivileged_port_start, ip-sysctl.rst). Returns 2. */
int bw_cli_never_binds(const char *cmd, const char *what, int err);

/* For an IP address no bind can ever get here (not a local address, a
 * privileged port for this user; bw_cli_bind_would_succeed's test bind, tcp
 * unless udp was given): prints bw_cli_never_binds's line and returns
 * -EINVAL (exit 2 for the caller); else 0. Unix names pass (their own
 * checks need the lookup first). `who` and `free`. */
int bw_cli_never_bindable(const char *cmd, const struct bw_addr *want);

/* bw_cli_never_binds, naming the directory for a unix path whose
 * directory is missing or no directory (err: ENOENT, ENOTDIR, positive). */
int bw_cli_never(const char *cmd, const struct bw_addr *a, const char *what, int err);

struct bw_conflict;
/* A unix path taken with no holder to list: a stale socket file, one that
 * may be live elsewhere, or not a socket at all. tools/wait.c. */
bool bw_cli_unix_taken(const struct bw_conflict *c);

/* The subcommands: argv[0] is "who" / "wait"; each returns the exit status.
 * bw_cli_wait names its lines after argv[0] ("free" when free waits).
 * json: --json was given before the subcommand's name. */
int bw_cli_who(int argc, char **argv, bool json);
int bw_cli_wait(int argc, char **argv);
/* bindwatch free (tools/free.c): argv[0] is "free". */
int bw_cli_free(int argc, char **argv);
