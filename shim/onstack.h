/* onstack: runs a function on a stack of our own. The failure path needs
 * tens of KiB (socket table and directory buffers, the report, the
 * unwinder); the caller may be a thread with a 32 KiB stack or a signal
 * handler on a 16 KiB sigaltstack, which an unbounded path would overflow
 * silently. So everything after the hook's entry runs on a stack mapped
 * with the failure arena, and the caller's stack only carries the hook's
 * few frames (libbindwatch(7): at most 8 KiB). */
#pragma once

/* Calls fn(arg) with the stack pointer at top (the high end of a region
 * the caller owns; aligned down to 16 bytes) and returns what fn returns.
 * A backtrace taken inside fn continues through the switch onto the
 * caller's stack: the switch's unwind info (CFI) finds its frame through
 * the frame pointer it saved. On architectures without a switch here
 * (anything but x86-64) fn runs on the caller's stack. */
int bw_on_stack(int (*fn)(void *), void *arg, void *top);
