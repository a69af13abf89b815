#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <stdatomic.h>
#include <string.h>

#include "config.h"

/* The function names behind libunwind's macros, e.g. "_ULx86_64_step". */
#define BW_STR_(x) #x
#define BW_STR(x) BW_STR_(x)

static struct {
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	int (*get_proc_name)(unw_cursor_t *, char *, size_t, unw_word_t *);
} unw;
static atomic_int unw_state; /* 0 untried, 1 loaded, -1 unavailable */

bool bw_unwind_init(void)
{
	void *h;
	int st = atomic_load(&unw_state);
	if (st)
		return st > 0;
	/* RTLD_LOCAL keeps libunwind's _Unwind_* out of the global scope. */
	h = dlopen(BW_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		*(void **)&unw.getcontext = dlsym(h, BW_STR(unw_tdep_getcontext));
		*(void **)&unw.init_local = dlsym(h, BW_STR(unw_init_local));
		*(void **)&unw.step = dlsym(h, BW_STR(unw_step));
		*(void **)&unw.get_reg = dlsym(h, BW_STR(unw_get_reg));
		*(void **)&unw.get_proc_name = dlsym(h, BW_STR(unw_get_proc_name));
	}
	st = h && unw.getcontext && unw.init_local && unw.step && unw.get_reg &&
			     unw.get_proc_name ? 1 : -1;
	atomic_store(&unw_state, st);
	return st > 0;
}

void bw_unwind_describe(struct bw_frame *f)
{
	Dl_info info;
	/* A return address points after the call; look up pc-1 so the
	 * symbol is the caller even when the call is its last instruction. */
	if (dladdr((void *)(f->pc - 1), &info) == 0) { /* NOLINT(performance-no-int-to-ptr): a code address */
		f->module[0] = '\0';
		return;
	}
	if (info.dli_fname) {
		size_t n = strlen(info.dli_fname);
		if (n >= sizeof(f->module))
			n = sizeof(f->module) - 1;
		memcpy(f->module, info.dli_fname, n);
		f->module[n] = '\0';
	}
	f->module_offset = f->pc - (uintptr_t)info.dli_fbase;
	if (!f->symbol[0] && info.dli_sname) {
		size_t n = strlen(info.dli_sname);
		if (n >= sizeof(f->symbol))
			n = sizeof(f->symbol) - 1;
		memcpy(f->symbol, info.dli_sname, n);
		f->symbol[n] = '\0';
		f->offset = f->pc - (uintptr_t)info.dli_saddr;
	}
}

size_t bw_unwind_capture(struct bw_frame *frames, size_t max, const void *self)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	Dl_info me;
	size_t n = 0;
	uintptr_t self_base = 0;

	if (!bw_unwind_init() || max == 0)
		return 0;
	if (self && dladdr(self, &me))
		self_base = (uintptr_t)me.dli_fbase;
	if (unw.getcontext(&ctx) != 0 || unw.init_local(&cur, &ctx) != 0)
		return 0;
	/* Bounded: a corrupt stack must not loop us forever. */
	for (int guard = 0; n < max && guard < 512; guard++) {
		struct bw_frame *f = &frames[n];
		unw_word_t ip = 0, off = 0;
		Dl_info info;
		if (unw.get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
			break;
		memset(f, 0, sizeof(*f));
		f->pc = (uintptr_t)ip;
		/* NOLINTNEXTLINE(performance-no-int-to-ptr): a code address */
		if (!(self_base && dladdr((void *)(f->pc - 1), &info) &&
		      (uintptr_t)info.dli_fbase == self_base)) {
			if (unw.get_proc_name(&cur, f->symbol, sizeof(f->symbol), &off) == 0)
				f->offset = (uintptr_t)off;
			else
				f->symbol[0] = '\0';
			bw_unwind_describe(f);
			n++;
		}
		if (unw.step(&cur) <= 0)
			break;
	}
	return n;
}
