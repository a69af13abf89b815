#include "stack/unwind.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "stack/elfsym.h"

/* The unwinder: libgcc_s's _Unwind_Backtrace, the one C++ exceptions use,
 * which walks the .eh_frame tables of the loaded objects (found through
 * dl_iterate_phdr) and makes no system call of its own. libunwind (used
 * before) calls mincore(2) in its one-time set-up (src/x86_64/Ginit.c,
 * tdep_init_mem_validate), which systemd's @system-service filter lacks:
 * a hardened service died with SIGSYS at start-up. libgcc_s is dlopen()ed
 * RTLD_LOCAL: as a DT_NEEDED of a preloaded library it would be loaded
 * into every host; a host that already has it (any C++ program) shares
 * the same copy, so its exceptions are unaffected either way. */
#define BW_UNWINDER_SONAME "libgcc_s.so.1"

/* The Itanium C++ ABI's base unwinding interface (GCC's unwind.h, which
 * the include path shadows with ours): the context is opaque, a trace
 * callback returns URC_NO_REASON to go on or URC_END_OF_STACK to stop. */
struct unw_ctx;
enum { URC_NO_REASON = 0, URC_END_OF_STACK = 5 };
typedef int (*unw_trace_fn)(struct unw_ctx *ctx, void *arg);

static struct {
	int (*backtrace)(unw_trace_fn fn, void *arg);            /* _Unwind_Backtrace */
	uintptr_t (*get_ip_info)(struct unw_ctx *ctx, int *exact); /* _Unwind_GetIPInfo */
} unw;
static atomic_int unw_state; /* 0 untried, 1 loaded, -1 unavailable */
static const char *unw_missing = "the unwinder (" BW_UNWINDER_SONAME ") could not be loaded";

/* fork() copies a lock in whatever state it is in, and only the forking
 * thread goes on in the child. _Unwind_Backtrace takes the loader's
 * dl_load_write_lock inside dl_iterate_phdr, which glibc does not reset
 * after fork (posix/fork.c resets dl_load_lock only), and libgcc
 * registers no fork handler. A child forked while another thread was
 * unwinding would block on the first stack it captures. So: 'inside'
 * counts the threads between entering and leaving the unwinder, and the
 * child handler, which sees that count as it was at the fork, marks the
 * child's copy unusable when it was not zero. No lock and no waiting
 * anywhere: fork() is never held up by us. */
static atomic_int inside;
static atomic_bool poisoned;

static void after_fork_child(void)
{
	if (atomic_load(&inside) != 0)
		atomic_store(&poisoned, true);
	atomic_store(&inside, 0);
}

/* dladdr() names the main program by argv[0] (or whatever the program
 * rewrote its title to); the real path is read once at start-up. */
static char exe_path[BW_MODULE_MAX];

bool bw_unwind_init(void)
{
	void *h;
	int st = atomic_load(&unw_state);
	if (st)
		return st > 0;
	h = dlopen(BW_UNWINDER_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		*(void **)&unw.backtrace = dlsym(h, "_Unwind_Backtrace");
		*(void **)&unw.get_ip_info = dlsym(h, "_Unwind_GetIPInfo");
	}
	st = h && unw.backtrace && unw.get_ip_info ? 1 : -1;
	if (st > 0) {
		ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
		exe_path[n > 0 ? n : 0] = '\0';
		if (pthread_atfork(NULL, NULL, after_fork_child) != 0)
			st = -1;
	}
	atomic_store(&unw_state, st);
	return st > 0;
}

/* Fills module, module_offset and symbol for f->pc, which dladdr1 placed
 * in info and lm. */
static void describe(struct bw_frame *f, Dl_info *info, const struct link_map *lm)
{
	if (lm && lm->l_name && !lm->l_name[0] && exe_path[0])
		info->dli_fname = exe_path; /* the main program */
	if (info->dli_fname) {
		size_t n = strlen(info->dli_fname);
		if (n >= sizeof(f->module))
			n = sizeof(f->module) - 1;
		memcpy(f->module, info->dli_fname, n);
		f->module[n] = '\0';
	}
	f->module_offset = f->pc - (uintptr_t)info->dli_fbase;
	/* The symbol from the file's own .symtab (static functions too), read
	 * with pread into stack buffers: unw_get_proc_name() would do the
	 * same through malloc (its debuglink lookup), which deadlocks when
	 * the failing bind() comes from a signal handler that interrupted
	 * malloc. l_addr is the load bias: pc - l_addr is the link-time
	 * address the symbol table uses. */
	if (lm && info->dli_fname && info->dli_fname[0] == '/') {
		int fd = open(info->dli_fname, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		uint64_t value;
		if (fd >= 0) {
			uint64_t vaddr = (uint64_t)(f->pc - lm->l_addr);
			/* A stripped file's functions are in its separate debug
			 * file, where Debian's -dbgsym packages put it. */
			int dfd = bw_elf_open_debug(fd, info->dli_fname);
			if (dfd >= 0) {
				if (bw_elf_symbol(dfd, vaddr - 1, f->symbol, sizeof(f->symbol), &value) == 0)
					f->offset = (uintptr_t)(vaddr - value);
				close(dfd);
			}
			if (!f->symbol[0] &&
			    bw_elf_symbol(fd, vaddr - 1, f->symbol, sizeof(f->symbol), &value) == 0)
				f->offset = (uintptr_t)(vaddr - value);
			close(fd);
		}
	}
	if (!f->symbol[0] && info->dli_sname) {
		size_t n = strlen(info->dli_sname);
		if (n >= sizeof(f->symbol))
			n = sizeof(f->symbol) - 1;
		memcpy(f->symbol, info->dli_sname, n);
		f->symbol[n] = '\0';
		f->offset = f->pc - (uintptr_t)info->dli_saddr;
	}
}

/* Around every call into the unwinder (not around our own symbol
 * lookups: dladdr's lock is reset by fork, and elfsym only preads). False
 * when this process's copy of the loader lock may be held by nobody. */
static bool enter(void)
{
	atomic_fetch_add(&inside, 1);
	if (!atomic_load(&poisoned))
		return true;
	atomic_fetch_sub(&inside, 1);
	return false;
}

static void leave(void)
{
	atomic_fetch_sub(&inside, 1);
}

struct walk {
	struct bw_frame *frames;
	size_t max, n;
	uintptr_t self_base;
	bool past_self;          /* a frame of ours was seen (or none is looked for) */
	int guard;
};

/* One frame, innermost first. Everything up to and including our own
 * module's last frame (the unwinder itself, our hook, the stack switch)
 * is dropped: the first frame kept is the one that called bind(). */
static int one_frame(struct unw_ctx *ctx, void *arg)
{
	struct walk *w = arg;
	struct bw_frame *f;
	struct link_map *lm = NULL;
	Dl_info info;
	int exact = 0;
	uintptr_t pc = unw.get_ip_info(ctx, &exact);

	/* Bounded: a corrupt stack must not loop us forever. */
	if (pc == 0 || ++w->guard > 512)
		return URC_END_OF_STACK;
	f = &w->frames[w->n];
	memset(f, 0, sizeof(*f));
	f->pc = pc;
	/* A return address points after the call; look up pc-1 so the
	 * symbol is the caller even when the call is its last instruction
	 * (not for a frame interrupted by a signal: its pc is exact). */
	/* NOLINTNEXTLINE(performance-no-int-to-ptr): a code address */
	if (dladdr1((void *)(pc - (exact ? 0 : 1)), &info, (void **)&lm, RTLD_DL_LINKMAP) == 0) {
		w->n++; /* an address no module claims: pc only */
	} else if (w->self_base && (uintptr_t)info.dli_fbase == w->self_base) {
		w->n = 0; /* ours: forget it and everything inside it */
		w->past_self = true;
		return URC_NO_REASON;
	} else if (!w->past_self) {
		return URC_NO_REASON; /* the unwinder's own frames */
	} else {
		describe(f, &info, lm);
		w->n++;
	}
	return w->n < w->max ? URC_NO_REASON : URC_END_OF_STACK;
}

size_t bw_unwind_capture(struct bw_frame *frames, size_t max, const void *self,
			 const char **why)
{
	struct walk w = {.frames = frames, .max = max};
	Dl_info me;
	const char *ignored;

	if (!why)
		why = &ignored;
	*why = NULL;
	if (max == 0)
		return 0;
	if (!bw_unwind_init()) {
		*why = unw_missing;
		return 0;
	}
	if (self && dladdr(self, &me))
		w.self_base = (uintptr_t)me.dli_fbase;
	w.past_self = w.self_base == 0;
	if (!enter()) {
		*why = "this process was forked while another thread was unwinding";
		return 0;
	}
	unw.backtrace(one_frame, &w);
	leave();
	if (w.n == 0)
		*why = "the unwinder found no frame";
	return w.n;
}
