/* unwind: the caller's stack through libunwind, loaded privately.
 *
 * libunwind is dlopen()ed with RTLD_LOCAL instead of linked: as a DT_NEEDED
 * of a preloaded library it would join the global scope, and its
 * _Unwind_RaiseException & co. would then replace libgcc_s's for the whole
 * host, breaking C++ exceptions (eProsima/Fast-DDS#6330). */
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

/* Loads libunwind (idempotent). Call from a constructor: dlopen allocates. */
bool bw_unwind_init(void);

/* Captures up to max frames of the current thread, skipping the frames that
 * belong to the module containing 'self' (our own hook). Returns the count;
 * when it is 0, *why (if why is not NULL) says why in a few words (a
 * static string). Safe in a child forked while other threads were
 * unwinding: it then captures nothing rather than wait on a lock copied in
 * its taken state. */
size_t bw_unwind_capture(struct bw_frame *frames, size_t max, const void *self,
			 const char **why);
