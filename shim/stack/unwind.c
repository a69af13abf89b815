#define UNW_LOCAL_ONLY
#include "stack/unwind.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "stack/elfsym.h"

/* The function names behind libunwind's macros, e.g. "_ULx86_64_step". */
#define BW_STR_(x) #x
#define BW_STR(x) BW_STR_(x)

static struct {
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	unw_accessors_t *(*get_accessors)(unw_addr_space_t);
	unw_addr_space_t *local_as;
} unw;
static atomic_int unw_state; /* 0 untried, 1 loaded, -1 unavailable */
static const char *unw_missing = "libunwind (" BW_LIBUNWIND_SONAME ") could not be loaded";

/* fork() copies a mutex in whatever state it is in, and only the forking
 * thread goes on in the child. libunwind takes a global mutex while it
 * steps (the register-state cache lock, src/dwarf/Gparser.c get_rs_cache)
 * and the loader's dl_load_write_lock inside dl_iterate_phdr, which glibc
 * does not reset after fork (posix/fork.c resets dl_load_lock only); it
 * registers no fork handler. A child forked while another thread was
 * unwinding would block on the first stack it captures. So: 'inside'
 * counts the threads between entering and leaving libunwind, and the child
 * handler, which sees that count as it was at the fork, marks the child's
 * copy unusable when it was not zero. No lock and no waiting anywhere:
 * fork() is never held up by us. */
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

static bool single_threaded(void)
{
	char buf[1024];
	long n, entries = 0;
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof(reclen)); /* d_reclen */
			if (buf[off + 19] != '.')                         /* d_name[0] */
				entries++;
			off += reclen;
		}
	close(fd);
	return entries == 1;
}

/* libunwind's own memory check: read through the kernel, which fails with
 * EFAULT on an unmapped address instead of faulting. No fd, no lock. */
static int checked_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
			      void *arg)
{
	struct iovec local = {val, sizeof(*val)};
	struct iovec remote = {(void *)addr, sizeof(*val)}; /* NOLINT(performance-no-int-to-ptr) */
	(void)as;
	(void)arg;
	if (write)
		return -UNW_EINVAL; /* only unw_resume/unw_set_reg write; we use neither */
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof(*val)
		       ? 0
		       : -UNW_EINVAL;
}

/* libunwind 1.6 checks stack addresses (CONSERVATIVE_CHECKS, on in Debian)
 * by write()ing them into a pipe that it opens on first use and never
 * closes (src/x86_64/Ginit.c, tdep_init_mem_validate, write_validate); it
 * reopens it whenever a read fails, and goes on using those fd numbers
 * after the program closed and reused them: a leaked pair, and a stray
 * read() on one of the program's descriptors. So: (1) the first use
 * happens here, single-threaded in our constructor, with the soft
 * RLIMIT_NOFILE at 0 so that pipe2() fails; (2) the local address space's
 * access_mem, the only caller of that check, is replaced by one that asks
 * the kernel (process_vm_readv) instead. libunwind then never opens a
 * descriptor of its own. */
static bool tame_libunwind(void)
{
	struct rlimit old, none;
	unw_accessors_t *acc;

	if (!single_threaded()) {
		unw_missing = "libunwind is set up only while the process is single-threaded,"
			      " and it was not when bindwatch started";
		return false;
	}
	if (getrlimit(RLIMIT_NOFILE, &old) < 0)
		return false;
	none = (struct rlimit){.rlim_cur = 0, .rlim_max = old.rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &none) < 0)
		return false;
	acc = unw.get_accessors(*unw.local_as); /* runs tdep_init() */
	setrlimit(RLIMIT_NOFILE, &old);
	if (!acc)
		return false;
	acc->access_mem = checked_access_mem;
	return true;
}

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
		*(void **)&unw.get_accessors = dlsym(h, BW_STR(unw_get_accessors));
		unw.local_as = dlsym(h, BW_STR(unw_local_addr_space));
	}
	st = h && unw.getcontext && unw.init_local && unw.step && unw.get_reg &&
			     unw.get_accessors && unw.local_as &&
			     tame_libunwind()
		     ? 1 : -1;
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

/* Around every call into libunwind (not around our own symbol lookups:
 * dladdr's lock is reset by fork, and elfsym only preads). False when this
 * process's copy of libunwind may hold a lock nobody will release. */
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

size_t bw_unwind_capture(struct bw_frame *frames, size_t max, const void *self,
			 const char **why)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	Dl_info me;
	size_t n = 0;
	uintptr_t self_base = 0;
	const char *ignored;
	int r;

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
		self_base = (uintptr_t)me.dli_fbase;
	if (unw.getcontext(&ctx) != 0) {
		*why = "libunwind could not read this thread's registers";
		return 0;
	}
	if (!enter()) {
		*why = "this process was forked while another thread was unwinding";
		return 0;
	}
	r = unw.init_local(&cur, &ctx);
	leave();
	/* Bounded: a corrupt stack must not loop us forever. */
	for (int guard = 0; r == 0 && n < max && guard < 512; guard++) {
		struct bw_frame *f = &frames[n];
		struct link_map *lm = NULL;
		unw_word_t ip = 0;
		Dl_info info;
		if (unw.get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
			break;
		memset(f, 0, sizeof(*f));
		f->pc = (uintptr_t)ip;
		/* A return address points after the call; look up pc-1 so the
		 * symbol is the caller even when the call is its last
		 * instruction. Our own frames are left out. */
		/* NOLINTNEXTLINE(performance-no-int-to-ptr): a code address */
		if (dladdr1((void *)(f->pc - 1), &info, (void **)&lm, RTLD_DL_LINKMAP) == 0) {
			n++; /* an address no module claims: pc only */
		} else if (!self_base || (uintptr_t)info.dli_fbase != self_base) {
			describe(f, &info, lm);
			n++;
		}
		if (!enter())
			break;
		r = unw.step(&cur) > 0 ? 0 : -1;
		leave();
	}
	if (n == 0)
		*why = "libunwind found no frame";
	return n;
}
