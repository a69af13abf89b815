/* syscallsite: where a thread blocked in a system call is, from what /proc
 * and its memory say: the call and its stack pointer and pc
 * (/proc/<tid>/syscall), the mapping holding an address (/proc/<pid>/maps),
 * and the return addresses of a frame-pointer chain found in a copy of its
 * stack. Pure: everything comes in as buffers and callbacks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_syscall_site {
	long nr;
	uint64_t args[6];
	uint64_t sp, pc;
};

/* Parses /proc/<tid>/syscall: "NR ARG0 .. ARG5 SP PC" (all but NR in 0x
 * hex). 0; -ENOENT for "-1 SP PC" (blocked outside a system call: only sp
 * and pc are filled); -EAGAIN for "running"; -EINVAL otherwise
 * (proc(5), "/proc/pid/syscall"). */
int bw_syscall_parse(const char *text, struct bw_syscall_site *ret);

#define BW_MAP_PATH_MAX 192

struct bw_map {
	uint64_t start, end, offset;
	bool exec;
	char path[BW_MAP_PATH_MAX]; /* "" for anonymous memory, "[vdso]", ... */
};

/* The line of maps text (proc(5) /proc/pid/maps) whose range holds addr.
 * 0, or -ENOENT. */
int bw_maps_find(const char *maps, uint64_t addr, struct bw_map *ret);

/* Whether the instruction bytes just before a code address end in a call
 * (x86-64: call rel32, or call r/m64 through ModRM /2 with 0-4 bytes of
 * displacement; aarch64: BL or BLR). before[] holds the 8 bytes below it. */
bool bw_call_precedes(const uint8_t before[8]);

/* Is addr a return address: in code, right after a call? */
typedef bool (*bw_is_return_fn)(uint64_t addr, void *ctx);

/* Does the call just before return address ret go to the function that
 * holds callee - 1? 1 yes, -1 no (a direct call to another function), 0
 * unknown (an indirect call, no symbols). */
typedef int (*bw_calls_fn)(uint64_t ret, uint64_t callee, void *ctx);

struct bw_fp_ops {
	bw_is_return_fn is_return;
	bw_calls_fn calls;            /* may be NULL */
	void *ctx;
};

/* Words of stack considered (64 KiB). */
#define BW_FP_WINDOW_WORDS 8192

/* Frame-pointer walk over words[0..n) copied from a stack at address base
 * (the stack pointer at the system call, whose pc is pc; 8-aligned). A
 * frame record is [saved fp][return address] with the saved fp pointing
 * higher up the same stack (x86-64 rbp, aarch64 x29 both keep this
 * layout). The frame-pointer register itself is not in /proc, so the walk
 * starts at a record found in the first 4 KiB above base: one whose chain
 * has at least two links (or one that ends it with a saved fp of 0);
 * among those, first the ones whose return address calls the innermost
 * function (ops->calls), then the longest chain (stale records of
 * returned callees lie below the live one and only add frames to it).
 * words[0] comes first when it is itself a return address (a leaf
 * system-call wrapper with no frame, as in glibc and Go's Syscall6).
 * Writes at most max return addresses; returns the count. */
size_t bw_fp_scan(const uint64_t *words, size_t n, uint64_t base, uint64_t pc,
		  const struct bw_fp_ops *ops, uint64_t *ret_pcs, size_t max);
