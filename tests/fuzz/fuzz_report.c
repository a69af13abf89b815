/* fuzz_report: the records bindwatch writes, over a bw_conflict (and a
 * bw_trace_event) filled from the input: every string field holds hostile
 * bytes (another user's process picks its own comm and command line),
 * every number any value its producer can give. Half the inputs go through
 * bw_classify first, so the hint is the real one.
 * Checks, at the buffer sizes the shim and the CLI use and at one size
 * from the input (exact-size buffers: ASan sees any byte past the end):
 * in bounds and NUL-terminated; text ends in '\n', holds no control
 * byte but '\n' (and colour SGR sequences when color is on) and every line
 * starts with "bindwatch: "; JSON is one valid line ending in "}\n". */
#include <errno.h>

#include "diagnose/cause.h"
#include "diagnose/conflict.h"
#include "fuzz.h"
#include "json_check.h"
#include "report/ratelimit.h"
#include "report/report.h"

#define REPORT_MAX (48 * 1024)   /* shim/hook.c */
#define CLI_MAX (256 * 1024)     /* tools/bindwatch.c */
#define TRACE_MAX 2048           /* shim/hook.c trace line */
#define REPEAT_MAX BW_REPEAT_LINE_MAX /* what shim/hook.c gives a repeat line */

static struct bw_conflict C;
static struct bw_trace_event T;

/* Replaces control bytes: for fields the shim writes itself (hint, note)
 * or takes from trusted text (/etc/passwd names, ELF symbol names). */
FUZZ_NOCOV static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

/* A BINDWATCH_REMAP rule keeps only what the grammar lets through. */
FUZZ_NOCOV static void rule_chars(char *s)
{
	for (; *s; s++)
		if (!strchr("0123456789abcdefghijklmnopqrstuvwxyz:/[]*=|+-., ", *s))
			*s = ' ';
}

static int64_t bounded(struct fuzz_in *in, int bits)
{
	return (int64_t)(fuzz_u64(in) & ((1ULL << bits) - 1));
}

static void fill_addr(struct fuzz_in *in, struct bw_addr *a)
{
	static const int fams[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC};
	uint8_t f = fuzz_u8(in);
	memset(a, 0, sizeof(*a));
	a->family = fams[f & 3];
	a->proto = (enum bw_proto)((f >> 2) % 6);
	if (a->family == AF_UNIX) {
		a->abstract = f >> 5 & 1;
		a->path_len = fuzz_bytes(in, a->path, BW_UNIX_PATH_MAX);
	} else {
		for (int i = 0; i < 16; i++)
			a->ip[i] = fuzz_u8(in);
		if (a->family == AF_INET)
			memset(a->ip + 4, 0, 12);
		a->port = (uint16_t)(fuzz_u8(in) << 8 | fuzz_u8(in));
	}
}

static void fill_frame(struct fuzz_in *in, struct bw_frame *f)
{
	f->pc = (uintptr_t)fuzz_u64(in);
	f->offset = (uintptr_t)fuzz_u64(in);
	f->module_offset = (uintptr_t)fuzz_u64(in);
	fuzz_str(in, f->symbol, BW_SYMBOL_MAX - 1);
	printable(f->symbol);
	fuzz_str(in, f->module, BW_MODULE_MAX - 1);  /* a file name: any bytes */
}

/* One process as procinfo leaves it (f: its flag byte). */
static void fill_proc(struct fuzz_in *in, struct bw_proc *p, pid_t pid, uint8_t f)
{
	p->pid = pid;
	p->ppid = (pid_t)fuzz_u32(in);
	p->uid = fuzz_u32(in);
	p->have_uid = true;
	fuzz_str(in, p->comm, BW_COMM_MAX - 1);
	p->cmdline_len = fuzz_bytes(in, p->cmdline, BW_CMDLINE_MAX - 1);
	p->cmdline_truncated = f >> 5 & 1;
	/* boot time + starttime / HZ: never near the time_t limits */
	p->start = (time_t)bounded(in, 58);
	fuzz_str(in, p->cgroup, BW_CGROUP_MAX - 1);
	/* unit: a cgroup path component, named by whoever made it;
	 * container: 64 hex digits or nothing (bw_proc_cgroup_identity) */
	fuzz_str(in, p->unit, sizeof(p->unit) - 1);
	if (fuzz_bool(in))
		for (int i = 0; i < 64; i++)
			p->container[i] = "0123456789abcdef"[fuzz_u8(in) & 15];
	fuzz_str(in, p->user, BW_USER_MAX - 1);
	printable(p->user);
}

static void fill_holder(struct fuzz_in *in, struct bw_holder *h)
{
	uint8_t f = fuzz_u8(in);
	fill_addr(in, &h->sock.local);
	fill_addr(in, &h->sock.remote);
	h->sock.remote.proto = h->sock.local.proto;
	h->sock.state = (int)fuzz_u32(in);
	h->sock.uid = fuzz_u32(in);
	h->sock.inode = f & 1 ? fuzz_u64(in) : 0;
	h->sock.timer = fuzz_u8(in);
	h->sock.timer_ms = (long)fuzz_u32(in);
	h->sock.listening = f >> 1 & 1;
	h->sock.v6only = f >> 2 & 1;
	h->sock.cgroup_id = fuzz_u64(in);
	h->overlap = (enum bw_overlap)(fuzz_u8(in) % 4);
	h->pid = f >> 3 & 1 ? (pid_t)fuzz_u32(in) : 0;
	h->fd = (int)fuzz_u32(in);
	h->cause = (enum bw_cause)(fuzz_u8(in) % 12);
	h->reuseaddr = (signed char)(fuzz_u8(in) % 3) - 1;  /* 1, 0, -1 unknown */
	h->reuseport = (signed char)(fuzz_u8(in) % 3) - 1;
	h->have_proc = f >> 4 & 1;
	if (h->have_proc)
		fill_proc(in, &h->proc, h->pid, f);
}

/* The processes that have holder sockets open: a pool of distinct ones
 * (some not described) and a few per socket, folded by the report. */
static void fill_processes(struct fuzz_in *in, struct bw_conflict *c)
{
	c->n_procs = fuzz_u8(in) % 9;
	for (size_t k = 0; k < c->n_procs; k++) {
		struct bw_process *p = &c->procs[k];
		uint8_t f = fuzz_u8(in);
		p->have_proc = f & 1;
		p->proc.pid = (pid_t)fuzz_u32(in);
		if (p->have_proc)
			fill_proc(in, &p->proc, p->proc.pid, f);
		p->relation = (enum bw_relation)(fuzz_u8(in) % 9);
		p->same_exe = f >> 1 & 1;
	}
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_holder *h = &c->holders[i];
		h->first_proc = c->n_hprocs;
		h->n_procs = fuzz_u8(in) % 6;
		h->similar = fuzz_u8(in) & 1 ? fuzz_u32(in) : 0;
		for (size_t k = 0; k < h->n_procs; k++) {
			struct bw_holder_proc *hp = &c->hprocs[c->n_hprocs++];
			hp->pid = (pid_t)fuzz_u32(in);
			hp->fd = (int)fuzz_u32(in);
			hp->proc = c->n_procs ? (int)(fuzz_u8(in) % (c->n_procs + 1)) - 1 : -1;
			hp->inherited = fuzz_u8(in) & 1 ? 1 : -1;
			hp->inherited_from = (pid_t)fuzz_u32(in);
			hp->across_exec = (signed char)(fuzz_u8(in) % 3) - 1;
		}
	}
}


static void fill_conflict(struct fuzz_in *in, struct bw_conflict *c)
{
	static const char *const events[] = {"bind_conflict", "listen_conflict", "lookup"};
	static const char *const calls[] = {"bind", "listen", "who"};
	static const int errs[] = {EADDRINUSE, EACCES, EADDRNOTAVAIL, EINVAL};
	uint8_t f = fuzz_u8(in), g = fuzz_u8(in);

	memset(c, 0, sizeof(*c));
	c->event = events[f % 3];
	c->call = calls[f / 3 % 3];
	c->pid = f & 0x10 ? (pid_t)fuzz_u32(in) : 0;
	/* The failing process's own comm: TASK_COMM_LEN - 1 bytes at most. */
	fuzz_str(in, c->comm, 15);
	c->fd = (int)fuzz_u32(in);
	c->time = (time_t)bounded(in, 40);
	fill_addr(in, &c->want);
	c->want_v6only = f & 0x20;
	c->own_inode = fuzz_u64(in);
	c->want_reuseaddr = (signed char)(fuzz_u8(in) % 3) - 1;
	c->want_reuseport = (signed char)(fuzz_u8(in) % 3) - 1;
	c->have_uid = f & 0x40;
	c->uid = fuzz_u32(in);
	c->err = g & 1 ? errs[g >> 1 & 3] : (int)fuzz_u32(in);
	c->n_holders = fuzz_u8(in) % (BW_HOLDERS_MAX + 1);
	for (size_t i = 0; i < c->n_holders; i++)
		fill_holder(in, &c->holders[i]);
	fill_processes(in, c);
	c->n_matching = c->n_holders + (g & 8 ? fuzz_u32(in) : 0);
	c->scan.procs_scanned = fuzz_u32(in);
	c->scan.procs_unreadable = fuzz_u32(in);
	c->scan.fds_checked = fuzz_u32(in);
	c->scan.budget_exhausted = g >> 4 & 1;
	c->scan.via_bpf = g >> 5 & 1;
	c->table_errno = (int)fuzz_u8(in);
	c->unix_file = (enum bw_unix_file)(fuzz_u8(in) % 4);
	c->unix_vfs_checked = fuzz_bool(in);
	c->port_lo = (int)fuzz_u32(in);
	c->port_hi = (int)fuzz_u32(in);
	c->ports_in_use = (int)fuzz_u32(in);
	c->cause = (enum bw_cause)(fuzz_u8(in) % 12);
	fuzz_str(in, c->hint, BW_HINT_MAX - 1);
	printable(c->hint);
	c->remap.attempted = fuzz_bool(in);
	if (c->remap.attempted) {
		c->remap.ok = fuzz_bool(in);
		fuzz_str(in, c->remap.rule, BW_RULE_TEXT_MAX - 1);
		rule_chars(c->remap.rule);
		c->remap.action = (enum bw_action_kind)(fuzz_u8(in) % 7);
		c->remap.from_port = (int)fuzz_u32(in);
		c->remap.to_port = (int)fuzz_u32(in);
		c->remap.attempts = (int)fuzz_u32(in);
		fuzz_str(in, c->remap.note, sizeof(c->remap.note) - 1);
		printable(c->remap.note);
	}
	c->color = g >> 6 & 1;
	c->n_frames = fuzz_u8(in) % (BW_STACK_DEPTH_MAX + 1);
	for (size_t i = 0; i < c->n_frames; i++)
		fill_frame(in, &c->frames[i]);
	if (g >> 7)
		bw_classify(c);
}

static void fill_trace(struct fuzz_in *in, struct bw_trace_event *t)
{
	static const char *const calls[] = {"bind", "listen"};
	uint8_t f = fuzz_u8(in);
	memset(t, 0, sizeof(*t));
	t->call = calls[f & 1];
	t->pid = (pid_t)fuzz_u32(in);
	/* The kernel's comm: TASK_COMM_LEN - 1 bytes. */
	fuzz_str(in, t->comm, 15);
	t->fd = (int)fuzz_u32(in);
	t->result = (int)fuzz_u32(in);
	t->time = (time_t)bounded(in, 40);
	fill_addr(in, &t->addr);
	t->options = fuzz_u8(in) & 7;
	t->have_frame = f >> 1 & 1;
	if (t->have_frame)
		fill_frame(in, &t->frame);
}

/* An exact-size heap buffer of size bytes. */
static char *buffer(size_t size)
{
	char *b = malloc(size);
	if (!b && size)
		abort();
	return b;
}

/* No control byte but '\n'; ESC only to open an SGR sequence, if allowed. */
FUZZ_NOCOV static void check_clean(const char *what, const char *s, size_t n, bool sgr)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == 0x1b && sgr) {
			size_t j = i + 1;
			/* ESC [ digits ; m; a truncated record may cut it before
			 * its final newline. */
			if (j < n && s[j] == '[')
				for (j++; j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';'); j++)
					;
			FUZZ_CHECK_REC((j < n && s[j] == 'm' && s[i + 1] == '[') || j == n - 1, s, n,
				   "%s: ESC at %zu opens no SGR", what, i);
			i = j;
			continue;
		}
		FUZZ_CHECK_REC(!((ch < 0x20 && ch != '\n') || ch == 0x7f), s, n,
			       "%s: control byte 0x%02x at %zu", what, ch, i);
	}
}

FUZZ_NOCOV static void check_prefixed(const char *what, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
		bool last = !nl || (size_t)(nl - s) + 1 == n;
		/* The last line of a truncated record may be cut inside the prefix. */
		FUZZ_CHECK_REC(strncmp(s + i, "bindwatch: ", len < 11 ? len : 11) == 0 &&
				       (len >= 11 || last), s, n,
			       "%s: a line at %zu without the prefix", what, i);
		if (!nl)
			break;
		i = (size_t)(nl - s) + 1;
	}
}

/* Bounds and termination, then the text or JSON rules. */
FUZZ_NOCOV static void check_text(const char *what, const char *buf, size_t size, size_t n, bool prefixed,
		       bool sgr)
{
	fuzz_check_terminated(what, buf, size, n);
	if (size < 2)
		return;
	FUZZ_CHECK_REC(n >= 1 && buf[n - 1] == '\n', buf, n, "%s: size %zu: no final newline", what,
		       size);
	check_clean(what, buf, n, sgr);
	if (prefixed)
		check_prefixed(what, buf, n);
}

FUZZ_NOCOV static void check_json(const char *what, const char *buf, size_t size, size_t n)
{
	fuzz_check_terminated(what, buf, size, n);
	if (size < 4)
		return;
	FUZZ_CHECK_REC(n >= 3 && buf[n - 2] == '}' && buf[n - 1] == '\n' &&
			       !memchr(buf, '\n', n - 1), buf, n,
		       "%s: size %zu: not one line ending in \"}\\n\"", what, size);
	FUZZ_CHECK_REC(json_check(buf, n), buf, n, "%s: size %zu: invalid JSON", what, size);
}

static void conflict_records(size_t small)
{
	/* The big ones are globals: ASan puts a redzone after them too, and a
	 * fresh 256 KiB heap block per run would cost an mmap. */
	static char report[REPORT_MAX], cli[CLI_MAX];
	char *small_buf = buffer(small);
	char *const bufs[] = {report, cli, small_buf};
	const size_t sizes[] = {REPORT_MAX, CLI_MAX, small};
	char desc[BW_RATELIMIT_DESC];
	size_t n;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *b = bufs[i];
		/* the shim writes text and JSON records, the CLI JSON and tables */
		if (i != 1) {
			n = bw_report_text(&C, b, sizes[i]);
			check_text("text", b, sizes[i], n, true, C.color);
		}
		n = bw_report_json(&C, b, sizes[i]);
		check_json("json", b, sizes[i], n);
		if (i != 0) {
			n = bw_report_table(&C, b, sizes[i]);
			check_text("table", b, sizes[i], n, false, false);
		}
	}
	free(small_buf);
	n = bw_report_conflict_desc(&C, desc, sizeof(desc));
	fuzz_check_terminated("desc", desc, sizeof(desc), n);
	for (int fmt = BW_FORMAT_TEXT; fmt <= BW_FORMAT_JSON; fmt++) {
		char *b = buffer(REPEAT_MAX);
		n = bw_report_repeats((enum bw_format)fmt, desc, 7, b, REPEAT_MAX);
		if (fmt == BW_FORMAT_JSON)
			check_json("repeats json", b, REPEAT_MAX, n);
		else
			check_text("repeats", b, REPEAT_MAX, n, true, false);
		free(b);
	}
}


static void trace_records(size_t small)
{
	const size_t sizes[] = {TRACE_MAX, small};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int fmt = BW_FORMAT_TEXT; fmt <= BW_FORMAT_JSON; fmt++) {
			char *b = buffer(sizes[i]);
			size_t n = bw_report_trace((enum bw_format)fmt, &T, b, sizes[i]);
			/* Only the hook's TRACE_MAX line has a JSON promise:
			 * bw_report_trace has no truncated fallback. */
			if (fmt == BW_FORMAT_JSON && sizes[i] == TRACE_MAX)
				check_json("trace json", b, sizes[i], n);
			else if (fmt == BW_FORMAT_JSON)
				fuzz_check_terminated("trace json", b, sizes[i], n);
			else
				check_text("trace", b, sizes[i], n, true, false);
			free(b);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	size_t small = fuzz_u8(&in) << 4 | fuzz_u8(&in) >> 4;  /* 0..4095 */
	bool trace = fuzz_bool(&in);

	if (trace) {
		fill_trace(&in, &T);
		trace_records(small);
	} else {
		fill_conflict(&in, &C);
		conflict_records(small);
	}
	return 0;
}
