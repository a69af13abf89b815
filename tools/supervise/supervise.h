/* supervise: `bindwatch --supervise -- COMMAND`. Reaches what LD_PRELOAD
 * cannot (static binaries, Go: they make their own system calls): COMMAND
 * runs under a seccomp filter that hands every bind()/listen() to us
 * (SECCOMP_RET_USER_NOTIF); we make the call on a duplicate of its socket
 * and, on EADDRINUSE, diagnose, report and remap exactly as the shim does.
 * See bindwatch(1), "SUPERVISED MODE". */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Runs argv (execvp) supervised until it and every process and thread it
 * started (they inherit the filter) are gone. Settings come from
 * BINDWATCH_* in the environment, as for the shim. auto_kind: the
 * bw_command_kind of argv[0] when supervision was chosen without
 * --supervise (one line then says why), else 0. argv[0] must be set.
 * Returns main()'s exit status: the command's, 128+N when signal N killed
 * it, 126/127 when it cannot be run, 125 when supervision cannot start. */
int bw_supervise(char **argv, int auto_kind);

/* The file execvp() would run for cmd: cmd itself when it has a '/', else
 * the first executable regular file along PATH (execvp(3)'s default path
 * when PATH is unset), into file. 0 or -ENOENT. */
int bw_command_path(const char *cmd, char *file, size_t size);

/* BW_ELF_* flags (elfsym.h) of the file execvp() would run for cmd,
 * searching PATH as it does; 0 for a dynamic program, -errno when cmd is
 * not found or not ELF. Decides automatic supervision. */
int bw_command_kind(const char *cmd);
