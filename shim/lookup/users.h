/* users: uid -> name from /etc/passwd, parsed by hand: getpwuid_r() goes
 * through NSS, which allocates, locks and may open sockets. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Writes the name for uid into buf; returns 0, or -ENOENT (buf = ""). */
int bw_user_name(uid_t uid, char *buf, size_t size);

/* uid's home directory (passwd(5)'s sixth field) from root's
 * /etc/passwd (root "" or /proc/PID/root: another manager's view) into
 * buf; 0, or -ENOENT (buf = ""). */
int bw_user_home_at(const char *root, uid_t uid, char *buf, size_t size);

/* Looks uid up in passwd-format text (testable). */
int bw_user_name_from(const char *passwd, uid_t uid, char *buf, size_t size);
