/* unwind: the caller's stack through libgcc_s's _Unwind_Backtrace, loaded
 * privately (dlopen, RTLD_LOCAL) at start-up; no system call of its own
 * while it walks (unwind.c says why not libunwind). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_SYMBOL_MAX 128
#define BW_MODULE_MAX 192

struct bw_frame {
	uintptr_t pc;
	uintptr_t offset;         /* pc - symbol start */
	uintptr_t module_offset;  /* pc - module load base: addr2line -e MODULE OFFSET */
	char symbol[BW_SYMBOL_MAX];
	char module[BW_MODULE_MAX];
};

/* Loads the unwinder (idempotent). Call from a constructor: dlopen allocates. */
bool bw_unwind_init(void);

/* Captures up to max frames of the current thread, skipping the frames that
 * belong to the module containing 'self' (our own hook). Returns the count;
 * when it is 0, *why (if why is not NULL) says why in a few words (a
 * static string). Safe in a child forked while other threads were
 * unwinding: it then captures nothing rather than wait on a lock copied in
 * its taken state. */
size_t bw_unwind_capture(struct bw_frame *frames, size_t max, const void *self,
			 const char **why);
