/* relation: who each holder process is to the failing process (its parent,
 * a child, another instance of the same program...), which process of a
 * shared socket to act on first, which processes received the socket
 * rather than created it, and the hint sentence that follows from that.
 * Reads /proc (stat, exe) into fixed buffers: safe on the diagnosis path. */
#pragma once
#include <sys/types.h>

struct bw_conflict;

enum bw_relation {
	BW_REL_UNKNOWN = 0,   /* no failing process (`who`), or nothing could be read */
	BW_REL_SELF,
	BW_REL_PARENT,
	BW_REL_ANCESTOR,
	BW_REL_CHILD,
	BW_REL_DESCENDANT,
	BW_REL_SIBLING,       /* the same parent process */
	BW_REL_SAME_PROGRAM,  /* the same executable file (device and inode of /proc/<pid>/exe) */
	BW_REL_NONE,
};

/* "self", "parent", ... "none"; NULL for BW_REL_UNKNOWN. */
const char *bw_relation_name(enum bw_relation r);

/* From c->hits (the owner scan's (pid, fd) pairs): describes each distinct
 * holder process once in c->procs, gives every holder socket its processes
 * in c->hprocs (the one to act on first, the oldest process whose parent
 * does not hold the socket too, in front; its pid, fd and proc copied into
 * the holder), marks processes whose parent holds the same socket as
 * inherited, and relates each process to c->pid. */
void bw_relation_fill(struct bw_conflict *c, const char *proc_root);

/* Appends to c->hint what the relation of the chosen cause's holder calls
 * for (a reloader parent, an inherited descriptor, another instance). */
void bw_relation_hint(struct bw_conflict *c);
