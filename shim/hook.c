#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "diagnose.h"
#include "emit.h"
#include "report.h"
#include "settings.h"
#include "sysio.h"
#include "unwind.h"

static struct bw_settings settings;
static atomic_int state; /* 0 not loaded, 1 loading, 2 ready */

/* A thread already inside our failure path (e.g. a signal handler that
 * binds while we diagnose) gets a plain pass-through, never recursion. */
static __thread int busy __attribute__((tls_model("initial-exec")));

static const char *env(const char *name)
{
	return secure_getenv(name);
}

void bw_hook_init(void)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&state, &expected, 1))
		return;
	bw_settings_load(&settings, env, getauxval(AT_SECURE) != 0);
	for (size_t i = 0; i < settings.n_warnings; i++)
		bw_write_all(2, settings.warnings[i], strlen(settings.warnings[i]));
	if (!settings.disable && settings.stack)
		bw_unwind_init();
	atomic_store(&state, 2);
}

bool bw_hook_active(void)
{
	if (atomic_load_explicit(&state, memory_order_acquire) != 2) {
		bw_hook_init();
		/* Another thread is mid-load: skip this one failure. */
		if (atomic_load(&state) != 2)
			return false;
	}
	return !settings.disable;
}

/* Large records (32 holders with command lines, 64 frames) fit here. */
#define REPORT_MAX (48 * 1024)

struct arena {
	struct bw_conflict c;
	char report[REPORT_MAX];
};

void bw_hook_conflict(const char *call, int fd, const struct sockaddr *sa, socklen_t len, int err)
{
	struct arena *a;
	size_t n;
	ssize_t cn;

	if (busy)
		return;
	busy = 1;
	/* mmap, not malloc: async-signal-safe and independent of the host's
	 * allocator state (we may have interrupted malloc itself). */
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		busy = 0;
		return;
	}
	a->c.call = call;
	a->c.event = strcmp(call, "listen") == 0 ? "listen_conflict" : "bind_conflict";
	a->c.pid = getpid();
	a->c.fd = fd;
	a->c.err = err;
	a->c.time = time(NULL);
	cn = bw_read_file_at(AT_FDCWD, "/proc/self/comm", a->c.comm, sizeof(a->c.comm));
	if (cn > 0 && a->c.comm[cn - 1] == '\n')
		a->c.comm[cn - 1] = '\0';
	if (settings.stack)
		a->c.n_frames = bw_unwind_capture(a->c.frames, (size_t)settings.stack_depth,
						  (const void *)bw_hook_conflict);
	if (bw_diag_describe_socket(&a->c, fd, sa, len) == 0)
		bw_diagnose(&a->c, "/proc", a->c.pid,
			    settings.scan_ms ? bw_now_ns() + (uint64_t)settings.scan_ms * 1000000u : 0);
	else
		bw_classify(&a->c);
	n = settings.format == BW_FORMAT_JSON ? bw_report_json(&a->c, a->report, sizeof(a->report))
					      : bw_report_text(&a->c, a->report, sizeof(a->report));
	bw_emit(&settings, a->report, n);
	munmap(a, sizeof(*a));
	busy = 0;
}
