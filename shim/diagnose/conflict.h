/* conflict: everything known about one failed bind()/listen(): the wanted
 * address, every socket that blocks it with its holder, the cause and the
 * caller's stack. Filled by diagnose.c, classified by cause.c, rendered by
 * report.c. Large (tens of KiB): the shim keeps it in an mmap()ed arena. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "basic/addr.h"
#include "diagnose/bindrules.h"
#include "diagnose/cause.h"
#include "diagnose/overlap.h"
#include "diagnose/relation.h"
#include "lookup/manager.h"
#include "lookup/owner.h"
#include "lookup/procinfo.h"
#include "policy/settings.h"
#include "lookup/socktab.h"
#include "stack/unwind.h"

#define BW_HOLDERS_MAX 32
#define BW_HINT_MAX 1024
#define BW_HITS_MAX 1024   /* (process, socket) pairs kept; more are counted */
#define BW_PROCS_MAX 64    /* distinct holder processes described in full */

enum bw_unix_file { BW_UNIX_FILE_NA = 0, BW_UNIX_FILE_MISSING, BW_UNIX_FILE_SOCKET,
		    BW_UNIX_FILE_OTHER };

/* One process that has a holder socket open. */
struct bw_holder_proc {
	pid_t pid;
	int fd;
	int proc;                 /* index into bw_conflict.procs; -1: not described */
	signed char inherited;    /* 1: its parent has the same socket open; -1: can't tell */
	pid_t inherited_from;     /* that parent */
	signed char across_exec;  /* inherited and then execve()d: 1, 0 (fork only), -1 can't tell */
};

/* One distinct process among the holders. */
struct bw_process {
	struct bw_proc proc;
	bool have_proc;
	bool have_exe;
	dev_t exe_dev;            /* stat() of /proc/<pid>/exe */
	ino_t exe_ino;
	unsigned long long startstack;  /* 0: hidden (bw_proc_startstack) */
	enum bw_relation relation;  /* to the failing process */
	bool same_exe;              /* runs the failing process's executable */
	bool same_command;          /* same_exe, and the same arguments up to the first
				     * operand (the script, -m's module, -c's code) */
	bool shares_mgr;            /* runs in the failing process's own service unit or
				     * container (bw_manager_same on its cgroup) */
};

struct bw_holder {
	struct bw_sock sock;
	enum bw_overlap overlap;
	/* The process to act on first (the oldest that did not get the socket
	 * from its parent); all of them in c->hprocs[first_proc..+n_procs). */
	pid_t pid;                /* 0: the process could not be found or seen */
	int fd;
	bool have_proc;
	struct bw_proc proc;
	size_t first_proc, n_procs;
	size_t similar;           /* sockets of its kind left out of the full table */
	signed char reuseaddr;    /* the holder's SO_REUSEADDR / SO_REUSEPORT: */
	signed char reuseport;    /* 1 set, 0 not, -1 unknown (not ours to peek) */
	enum bw_cause cause;
	/* The kernel's rules (bindrules.h) for the failing socket against
	 * this one: whether it blocks, on which unknown facts that rests. */
	bool blocks;
	unsigned assumed;             /* BW_ASSUMED_* */
	bool same_program;            /* self, or the same executable as the caller */
	bool manager;                 /* a service manager (systemd, inetd...) */
	bool other_pidns;             /* lives in another pid namespace than the caller */
	bool shares_mgr;              /* mgr is the failing process's own container or
				       * service unit too: stopping it stops the caller */
	char sock_cgroup[BW_CGROUP_MAX]; /* the socket's cgroup (from its cgroup id), or "" */
	char sock_user[BW_USER_MAX];     /* the socket's uid by name, or "" */
	struct bw_manager mgr;           /* the unit or container that manages it */
};

/* What frees the address (diagnose/freecmd.c). */
enum bw_free_kind {
	BW_FREE_NONE = 0,  /* nothing to run: free_note says why */
	BW_FREE_MANAGER,   /* systemctl / docker / podman stops the unit or container */
	BW_FREE_KILL,      /* kill PID: no manager would restart it */
	BW_FREE_REMOVE,    /* rm a stale socket file */
	BW_FREE_WAIT,      /* TIME-WAIT: frees itself in free_in_s seconds */
};
#define BW_FREE_ARGS_MAX 24  /* kill and up to 23 pids */
#define BW_FREE_ARG_MAX 128

/* A remedy (JSON "fixes"): who changes what so that the bind succeeds.
 * Built from the kernel's rules by remedy.c, in the order to try them. */
enum bw_fix_target { BW_FIX_CALLER, BW_FIX_HOLDER };
enum bw_fix_kind { BW_FIX_SOCKOPT, BW_FIX_ADDRESS, BW_FIX_STOP, BW_FIX_WAIT, BW_FIX_PORT,
		   BW_FIX_UNLINK, BW_FIX_USE_FD, BW_FIX_CLOSE, BW_FIX_DEVICE };
#define BW_FIX_PIDS_MAX 16
struct bw_fix {
	struct bw_addr addr;          /* address: bind this IP (same port); unlink: the path */
	const char *assumes;          /* NULL, or the unknown fact this fix needs */
	enum bw_fix_target target;
	enum bw_fix_kind kind;
	int level, name, value;       /* sockopt: e.g. IPPROTO_IPV6, IPV6_V6ONLY, 1 */
	int seconds;                  /* wait */
	pid_t pid;                    /* stop: the process to stop (0 unknown); close: the
				       * first other process that must close it (0 none) */
	int fd;                       /* stop, close: its descriptor, -1 unknown; use_fd: the
				       * caller's own descriptor of the blocking socket */
	/* stop, close: every process that must go (or close its copy) for the
	 * address to be free, pid first; the caller itself never. */
	pid_t pids[BW_FIX_PIDS_MAX];
	size_t n_pids;
	size_t more_pids;             /* processes beyond pids[] */
	size_t unseen;                /* blocking sockets whose process is not visible */
	int own_fd;                   /* close: the caller's own copy to close too, -1 none */
};
#define BW_FIXES_MAX 8

/* The outcome of a BINDWATCH_REMAP rule (carried out by respond/remap.c). */
struct bw_remap {
	bool attempted;
	bool ok;
	bool unlinked;                /* BINDWATCH_UNIX_STALE=unlink removed the file */
	char rule[BW_RULE_TEXT_MAX];
	enum bw_action_kind action;   /* the action that succeeded */
	int from_port, to_port;
	int attempts;                 /* ports tried: bind/listen calls made, and ports
				       * skipped as in use (bw_diag_port_in_use) */
	char note[240];               /* why an action failed (reuseaddr, wait) */
};

struct bw_conflict {
	const char *event;        /* "bind_conflict", "listen_conflict", "lookup" */
	const char *call;         /* "bind", "listen", "who" */
	pid_t pid;                /* the failing process (0 for the CLI's lookup) */
	char comm[BW_COMM_MAX];
	int fd;
	time_t time;
	struct bw_addr want;
	bool want_v6only;
	uint64_t own_inode;       /* the failing socket itself: never its own holder */
	signed char want_reuseaddr, want_reuseport;  /* its options: 1, 0, -1 unknown */
	bool have_uid;
	uid_t uid;                /* the failing process's euid */
	int err;
	pid_t observer;           /* the CLI's own process (who, wait, free): never a holder,
				   * though it may have inherited the socket; 0: none */

	size_t n_holders;
	size_t n_matching;        /* sockets that matched, including any beyond the cap */
	struct bw_holder holders[BW_HOLDERS_MAX];
	struct bw_owner_stats scan;
	struct bw_owner_hit hits[BW_HITS_MAX];  /* the owner scan's raw answer */
	size_t n_hits;
	size_t n_hprocs, hprocs_dropped;       /* processes beyond BW_HITS_MAX: counted */
	struct bw_holder_proc hprocs[BW_HITS_MAX];
	size_t n_procs;
	struct bw_process procs[BW_PROCS_MAX];
	unsigned scan_workers;    /* threads for the owner scan; 0/1 in the shim */
	int table_errno;          /* reading the socket table failed */
	bool table_from_proc;     /* sock_diag failed: read from /proc/net */
	bool scan_all;            /* search every process even after the cgroup's answered (who --all) */

	enum bw_unix_file unix_file;
	uint64_t unix_ino;        /* the path's file (lstat) when it is a socket */
	dev_t unix_dev;
	/* The path's file is a socket and every socket bound to it was
	 * matched by the file itself (sock_diag's UDIAG_SHOW_VFS; none left
	 * out by the holder cap): a unix_stale verdict is then certain for
	 * this network namespace. The /proc/net fallback only has names. */
	bool unix_vfs_checked;
	struct timespec unix_ctime; /* and its ctime: an inode number is reused at once */
	/* Some socket of the table carries the path's name, or is bound to a
	 * file with the path's inode on any device (overlayfs reports the
	 * upper layer's device to sock_diag, the overlay's to lstat; a
	 * connected socket keeps the name it bound): a reason never to remove
	 * the file, even when no socket matched it exactly. */
	bool unix_in_use;
	/* A path-bound socket is reached through the file system: a socket in
	 * any network namespace can own the file. When none of ours does,
	 * the others are searched (lookup/netns.h): by the file as root from
	 * the CLI (setns + sock_diag), else only by name (/proc/<pid>/net/unix),
	 * which misses a socket bound under another spelling (a container's
	 * bind mount, a relative path). unix_stale needs every namespace
	 * searched by the file; otherwise the cause is unix_unverified. */
	bool unix_netns_searched;
	unsigned unix_netns_other;    /* other namespaces found */
	unsigned unix_netns_by_name;  /* of those, searched by name only (or not at all) */
	unsigned unix_netns_unseen;   /* processes whose namespace could not be seen */
	/* The path's file type (lstat st_mode & S_IFMT) when it is not a
	 * socket; 0 unknown. */
	unsigned unix_mode;
	/* The path as whoever reads the report reaches it, for "to free it":
	 * a relative path made absolute from the caller's cwd, a path in
	 * another root through that root (or /proc/<pid>/root); "" when
	 * want.path is that already, or when it can't be told (a relative
	 * path then gets no command). Set before the diagnosis: by diagnose
	 * (the shim, the CLI) or by the supervisor (the program's cwd and
	 * root are not its own). */
	char unix_user_path[BW_FREE_ARG_MAX];

	int port_lo, port_hi;     /* ip_local_port_range, for ephemeral exhaustion */
	int ports_in_use;

	size_t n_fixes;
	struct bw_fix fixes[BW_FIXES_MAX];
	unsigned assumed;         /* BW_ASSUMED_* the cause rests on */
	uint32_t want_uid;        /* owner of the failing socket (fstat: sock_i_uid()) */
	enum bw_cause cause;
	bool have_want_uid;
	char hint[BW_HINT_MAX];
	/* Byte ranges [at, end) of hint that the text report leaves out
	 * (cause.c sets them; 0, 0 none): the remedies list, whose first
	 * remedy is its "do:" line and the rest follow as "or ...", and the
	 * generic note that the holder's options could not be read. */
	unsigned short hint_fixes_at, hint_fixes_end;
	unsigned short hint_unread_at, hint_unread_end;

	/* The command that frees the address (diagnose/freecmd.c). */
	size_t free_argc;             /* free_argv: the command, as argv */
	long free_in_s;               /* BW_FREE_WAIT: seconds until free */
	enum bw_free_kind free_kind;
	pid_t free_pid;               /* the process to act on first, when it is killed (kill
				       * part of the command); 0 when its manager stops it */
	int free_holder;              /* index of the holder it acts on, -1 none */
	uid_t caller_uid;             /* who would run it (systemctl --user needs -M otherwise) */
	/* free_and[i]: free_argv[i] starts another command, run after the
	 * one before it succeeded (shown " && "): manager commands first,
	 * kill last (bw_free_command_end walks them). */
	bool free_and[BW_FREE_ARGS_MAX];
	char free_argv[BW_FREE_ARGS_MAX][BW_FREE_ARG_MAX];
	char free_note[320];          /* BW_FREE_NONE: why nothing is offered */

	/* Working memory for the lookups (engine state files, unit files):
	 * not part of the record. */
	char scratch[24576];

	struct bw_remap remap;
	bool color;               /* text report: highlight holder and cause (ANSI) */
	unsigned char text_stack_lines; /* text report: stack lines before a summary (0 all) */

	size_t n_frames;
	struct bw_frame frames[BW_STACK_DEPTH_MAX];
	const char *stack_missing; /* a stack was asked for, none came: why */
};

/* BINDWATCH_TRACE=all: one successful bind()/listen() (filled by diagnose.c,
 * rendered by report.c). */
enum { BW_OPT_REUSEADDR = 1, BW_OPT_REUSEPORT = 2, BW_OPT_V6ONLY = 4 };
struct bw_trace_event {
	const char *call;
	pid_t pid;
	char comm[BW_COMM_MAX];
	int fd;
	int result;
	time_t time;
	struct bw_addr addr;
	unsigned options;
	bool have_frame;
	struct bw_frame frame;
};
