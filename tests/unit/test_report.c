/* report: the text block, the JSON line and the `who` table for a filled
 * conflict; hostile process names; and every buffer size from 0 up, so a
 * truncated record is still in bounds, terminated and (JSON) parsable.
 * JSON is validated by python3 (tests/unit/jsoncheck.py, $BW_JSONCHECK). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diagnose/cause.h"
#include "check.h"
#include "testaddr.h"
#include "diagnose/conflict.h"
#include "diagnose/diagnose.h"
#include "report/report.h"

#define BIG 65536
#define CANARY 0xa5

static struct bw_conflict C;
static char out[BIG + 64];


static struct bw_holder *add(struct bw_conflict *c, const char *addr, const char *remote, int state,
			     uint64_t inode, uint32_t uid)
{
	struct bw_holder *h = &c->holders[c->n_holders++];
	memset(h, 0, sizeof(*h));
	h->sock.local = A(addr);
	h->sock.local.proto = c->want.proto;
	h->sock.remote = A(remote);
	h->sock.remote.proto = c->want.proto;
	h->sock.state = state;
	h->sock.inode = inode;
	h->sock.uid = uid;
	h->sock.listening = state == BW_TCP_LISTEN;
	h->overlap = BW_OVERLAP_EXACT;
	h->fd = -1;
	c->n_matching++;
	return h;
}

static void set_proc(struct bw_holder *h, pid_t pid, int fd, const char *comm, const char *cmdline,
		     size_t cmdline_len)
{
	h->pid = pid;
	h->fd = fd;
	h->have_proc = true;
	h->proc.pid = pid;
	h->proc.ppid = 1;
	h->proc.uid = 33;
	h->proc.have_uid = true;
	snprintf(h->proc.user, sizeof(h->proc.user), "www-data");
	snprintf(h->proc.comm, sizeof(h->proc.comm), "%s", comm);
	memcpy(h->proc.cmdline, cmdline, cmdline_len);
	h->proc.cmdline_len = cmdline_len;
	h->proc.start = 1699990000;
	snprintf(h->proc.cgroup, sizeof(h->proc.cgroup), "/system.slice/nginx.service");
}

/* A fresh TCP bind() conflict of pid 1234 ("myserver", fd 5) on want. */
static struct bw_conflict *fresh(const char *want)
{
	struct bw_conflict *c = &C;
	memset(c, 0, sizeof(*c));
	c->event = "bind_conflict";
	c->call = "bind";
	c->pid = 1234;
	snprintf(c->comm, sizeof(c->comm), "myserver");
	c->fd = 5;
	c->time = 1700000000;
	c->want = A(want);
	c->want.proto = BW_PROTO_TCP;
	c->err = EADDRINUSE;
	return c;
}

/* A bind() conflict on 127.0.0.1:8080 with a visible listener, a TIME_WAIT
 * leftover and an invisible socket, and a two-frame stack. */
static struct bw_conflict *filled(void)
{
	struct bw_conflict *c = fresh("127.0.0.1:8080");
	struct bw_holder *h;
	static const char cmd[] = "nginx -g daemon off;"; /* joined, as procinfo leaves it */

	h = add(c, "127.0.0.1:8080", "0.0.0.0:0", BW_TCP_LISTEN, 4711, 33);
	set_proc(h, 2000, 3, "nginx", cmd, sizeof(cmd) - 1);
	h = add(c, "127.0.0.1:8080", "127.0.0.1:40000", BW_TCP_TIME_WAIT, 0, 0);
	h->sock.timer = 3;
	h->sock.timer_ms = 41500;
	add(c, "127.0.0.1:8080", "0.0.0.0:0", BW_TCP_LISTEN, 4712, 1001);

	c->scan.procs_scanned = 12;
	c->scan.fds_checked = 80;
	c->n_frames = 2;
	c->frames[0].pc = 0x401234;
	c->frames[0].offset = 0x24;
	c->frames[0].module_offset = 0x1234;
	snprintf(c->frames[0].symbol, sizeof(c->frames[0].symbol), "start_server");
	snprintf(c->frames[0].module, sizeof(c->frames[0].module), "/usr/bin/myserver");
	c->frames[1].pc = 0x7f0000001000;
	c->frames[1].module_offset = 0x1000;
	snprintf(c->frames[1].module, sizeof(c->frames[1].module), "/lib/x86_64-linux-gnu/libc.so.6");
	bw_classify(c);
	return c;
}

static const char *jsoncheck(void)
{
	const char *p = getenv("BW_JSONCHECK");
	if (!p || !*p) {
		fprintf(stderr, "BW_JSONCHECK is not set: run through meson test\n");
		exit(EXIT_FAILURE);
	}
	return p;
}

/* Writes n records (each ending in '\n') to a temp file and runs
 * jsoncheck.py MODE on it; returns its exit status. */
static int python_check(const char *mode, const char *records, size_t n)
{
	char path[] = "/tmp/bw-report-XXXXXX", cmd[8192];
	int fd = mkstemp(path), st;
	if (fd < 0)
		return -1;
	if (write(fd, records, n) != (ssize_t)n) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 '%s' %s '%s'", jsoncheck(), mode, path);
	st = system(cmd);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* No byte of s is a control byte other than '\n', or DEL. */
static bool clean_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
			return false;
	}
	return true;
}

/* Every line of a text record starts with the prefix: nothing can forge one. */
static bool all_prefixed(const char *s)
{
	for (const char *l = s; *l; ) {
		const char *nl = strchr(l, '\n');
		if (strncmp(l, "bindwatch: ", 11) != 0)
			return false;
		if (!nl)
			break;
		l = nl + 1;
	}
	return true;
}

static void test_json_full(void)
{
	struct bw_conflict *c = filled();
	size_t n = bw_report_json(c, out, sizeof(out));

	CHECK_EQ_INT(n, strlen(out));
	CHECK(n > 2 && out[n - 2] == '}' && out[n - 1] == '\n');
	CHECK(strchr(out, '\n') == out + n - 1); /* one line */
	CHECK_CONTAINS(out, "{\"event\":\"bind_conflict\",\"time\":\"2023-11-14T22:13:20Z\"");
	CHECK_CONTAINS(out, "\"pid\":1234,\"comm\":\"myserver\",\"fd\":5");
	CHECK_CONTAINS(out, "\"family\":\"inet\",\"proto\":\"tcp\",\"addr\":\"127.0.0.1\",\"port\":8080");
	CHECK_CONTAINS(out, "\"errno\":98,\"error\":\"EADDRINUSE\"");
	CHECK_CONTAINS(out, "\"cause\":\"listener\"");
	CHECK_CONTAINS(out, "\"cmdline\":\"nginx -g daemon off;\"");
	CHECK_CONTAINS(out, "\"user\":\"www-data\"");
	CHECK_CONTAINS(out, "\"since\":\"2023-11-14T19:26:40Z\"");
	CHECK_CONTAINS(out, "\"state\":\"TIME-WAIT\"");
	CHECK_CONTAINS(out, "\"expires_in_s\":42");
	CHECK_CONTAINS(out, "\"symbol\":\"start_server\",\"offset\":36");
	CHECK_CONTAINS(out, "\"symbol\":null");
	CHECK_CONTAINS(out, "\"holders_total\":3");
	CHECK_EQ_INT(python_check("full", out, n), 0);

	/* A `bindwatch who` lookup: no pid, errno or stack of its own. */
	c->pid = 0;
	c->event = "lookup";
	n = bw_report_json(c, out, sizeof(out));
	CHECK_EQ_INT(python_check("lookup", out, n), 0);
	CHECK_NOT_CONTAINS(out, "\"errno\"");
}

static void test_json_unix_and_ephemeral(void)
{
	struct bw_conflict *c = &C;
	struct bw_holder *h;
	size_t n;

	memset(c, 0, sizeof(*c));
	c->event = "bind_conflict";
	c->pid = 7;
	c->fd = 3;
	c->err = EADDRINUSE;
	c->want.family = AF_UNIX;
	c->want.proto = BW_PROTO_UNIX_STREAM;
	c->want.abstract = true;
	memcpy(c->want.path, "a\0b\"\\", 5);
	c->want.path_len = 5;
	h = &c->holders[c->n_holders++];
	c->n_matching = 1;
	h->sock.local = c->want;
	h->sock.inode = 9;
	h->sock.listening = true;
	h->fd = -1;
	bw_classify(c);
	n = bw_report_json(c, out, sizeof(out));
	CHECK_CONTAINS(out, "\"path\":\"a\\u0000b\\\"\\\\\",\"abstract\":true");
	CHECK_CONTAINS(out, "\"fd\":null");
	CHECK_EQ_INT(python_check("valid", out, n), 0);

	memset(c, 0, sizeof(*c));
	c->event = "bind_conflict";
	c->pid = 7;
	c->want = A("[::]:0");
	c->want.proto = BW_PROTO_UDP;
	c->want_v6only = true;
	c->port_lo = 40000;
	c->port_hi = 40001;
	c->ports_in_use = 2;
	bw_classify(c);
	n = bw_report_json(c, out, sizeof(out));
	CHECK_CONTAINS(out, "\"v6only\":true");
	CHECK_CONTAINS(out, "\"port_range\":[40000,40001],\"ports_in_use\":2");
	CHECK_EQ_INT(python_check("valid", out, n), 0);
}

static void test_text(void)
{
	struct bw_conflict *c = filled();
	size_t n;

	c->n_matching = 5;
	c->scan.budget_exhausted = true;
	n = bw_report_text(c, out, sizeof(out));
	CHECK_EQ_INT(n, strlen(out));
	CHECK(n > 0 && out[n - 1] == '\n');
	CHECK(all_prefixed(out));
	CHECK(clean_text(out, n));
	/* The answer first, then what to do (the first remedy, as the hint
	 * words it), then the details. */
	{
		static const char line1[] =
			"bindwatch: bind 127.0.0.1:8080/tcp: in use by nginx pid 2000 (listener; and 4"
			" more sockets)\n"
			"bindwatch:   do: ";
		const char *l2 = out + sizeof(line1) - 1, *nl = strchr(l2, '\n');
		char remedy[256];
		CHECK(strncmp(out, line1, sizeof(line1) - 1) == 0);
		CHECK(nl && nl > l2 && (size_t)(nl - l2) < sizeof(remedy));
		if (nl && nl > l2 && (size_t)(nl - l2) < sizeof(remedy)) {
			memcpy(remedy, l2, (size_t)(nl - l2));
			remedy[nl - l2] = '\0';
			/* The first remedy, stopping the one holder, and the
			 * command that does it say the same: one line. */
			CHECK_STREQ(remedy, "stop the holder: kill 2000");
			CHECK_CONTAINS(c->hint, "stop the holder (pid 2000)");
			CHECK_NOT_CONTAINS(out, "to free it:");
			CHECK(strncmp(nl + 1, "bindwatch:   myserver[1234] bind(fd 5, 127.0.0.1:8080/tcp)"
					      " failed: Address already in use\n", 80) == 0);
			/* No sentence twice: the cause line leaves the first remedy
			 * to the do: line and lists the others as "or ...". */
			CHECK(strstr(strstr(out, "cause: "), remedy) == NULL);
			CHECK_NOT_CONTAINS(strstr(out, "cause: "), "remedies:");
			CHECK_CONTAINS(out, "cause: listener: another process holds it: pid 2000 (nginx); or use"
					    " another port");
		}
	}
	CHECK_CONTAINS(out, "held by pid 2000 user www-data(33): nginx -g daemon off;\n");
	CHECK_CONTAINS(out, "fd 3, LISTEN 127.0.0.1:8080, ppid 1, since 2023-11-14T19:26:40Z (2h46m ago), cgroup /system.slice/nginx.service\n");
	CHECK_CONTAINS(out, "blocked by TIME-WAIT 127.0.0.1:8080 -> 127.0.0.1:40000 (no process owns it; expires in 42s)\n");
	CHECK_CONTAINS(out, "held by a process not visible here: uid 1001 (socket inode 4712, LISTEN 127.0.0.1:8080)\n");
	CHECK_CONTAINS(out, "... and 2 more sockets on this address\n");
	CHECK_CONTAINS(out, "BINDWATCH_SCAN_MS");
	CHECK_CONTAINS(out, "cause: listener: another process holds it: pid 2000 (nginx)");
	CHECK_CONTAINS(out, "#0 start_server+0x24 (myserver +0x1234)\n");
	CHECK_CONTAINS(out, "#1 ?? (libc.so.6 +0x1000)\n");
	/* The text names a module by its file name; JSON keeps the path and pc. */
	CHECK_NOT_CONTAINS(out, "/usr/bin/myserver");

	c->pid = 0;
	n = bw_report_text(c, out, sizeof(out));
	CHECK(strncmp(out, "bindwatch: lookup 127.0.0.1:8080/tcp\n", 37) == 0);

	/* The `who` table. */
	c = filled();
	n = bw_report_table(c, out, sizeof(out));
	CHECK_EQ_INT(n, strlen(out));
	CHECK(strncmp(out, "Netid  State", 12) == 0);
	CHECK_CONTAINS(out, "pid=2000,fd=3 user=www-data(33) since=2023-11-14T19:26:40Z cmd=\"nginx -g daemon off;\"");
	CHECK_CONTAINS(out, "(no process, expires in 42s)\n");
	CHECK_CONTAINS(out, "(not visible: uid 1001, inode 4712)\n");
	CHECK_CONTAINS(out, "cause: listener: ");
	CHECK(clean_text(out, n));
}

/* Runs of symbol-less frames of one module fold into one line; a line
 * budget sums up the rest. */
static void test_stack_fold(void)
{
	struct bw_conflict *c = filled();
	static const char *const mods[] = {"/usr/bin/py", "/usr/bin/py", "/usr/bin/py", "/lib/libc.so.6",
					   "/usr/bin/py", "/usr/bin/py", "/usr/bin/py", "/usr/bin/py",
					   "/usr/bin/py", "/usr/bin/py", "/usr/bin/py", "/usr/bin/py"};
	c->n_frames = sizeof(mods) / sizeof(mods[0]);
	for (size_t i = 0; i < c->n_frames; i++) {
		struct bw_frame *f = &c->frames[i];
		memset(f, 0, sizeof(*f));
		f->pc = 0x1000 + i;
		f->module_offset = 0x100 + i;
		snprintf(f->module, sizeof(f->module), "%s", mods[i]);
		if (i >= 5)
			snprintf(f->symbol, sizeof(f->symbol), "fn%zu", i);
	}
	c->text_stack_lines = 0;
	bw_report_text(c, out, sizeof(out));
	CHECK_CONTAINS(out, "bindwatch:     #0-#2 ?? x3 (py +0x100 +0x101 +0x102)\n"
			    "bindwatch:     #3 ?? (libc.so.6 +0x103)\n"
			    "bindwatch:     #4 ?? (py +0x104)\n"
			    "bindwatch:     #5 fn5+0x0 (py +0x105)\n");
	CHECK_CONTAINS(out, "#11 fn11+0x0");
	/* 4 lines: three shown, the fourth sums up. */
	c->text_stack_lines = 4;
	bw_report_text(c, out, sizeof(out));
	CHECK_CONTAINS(out, "#4 ?? (py +0x104)\n"
			    "bindwatch:     #5-#11: 7 more frames (all of them in the JSON record: --json)\n");
	CHECK(strstr(out, "fn5+") == NULL);
	/* JSON keeps every frame. */
	bw_report_json(c, out, sizeof(out));
	CHECK_CONTAINS(out, "\"symbol\":\"fn11\"");
}

/* Lines wider than the terminal wrap at a space, under the prefix. */
static void test_wrap(void)
{
	static char w[4096];
	const char *in = "bindwatch: short line\n"
			 "bindwatch:   cause: listener: \033[1;33manother process holds it: pid 2000 (nginx); stop"
			 " it, pick another port/path, or let bindwatch remap (BINDWATCH_REMAP)\n"
			 "bindwatch:     #0 0x1 a_rather_long_symbol_name+0x1 (/usr/lib/a/module.so +0x1)\n";
	size_t n = strlen(in), m;
	char joined[4096];

	memcpy(w, in, n + 1);
	m = bw_report_wrap(w, n, sizeof(w), 50);
	CHECK_EQ_INT(m, strlen(w));
	CHECK(all_prefixed(w));
	CHECK_CONTAINS(w, "bindwatch: short line\nbindwatch:   cause: listener: \033[1;33manother");
	CHECK_CONTAINS(w, "\nbindwatch:       ");  /* a continuation: indent 2 + 4 */
	for (const char *l = w; *l;) {
		const char *nl = strchr(l, '\n');
		size_t vis = 0;
		for (const char *p = l; p < nl; p++) {
			if (*p == '\033') {
				p = strchr(p, 'm');
				continue;
			}
			vis++;
		}
		CHECK(vis <= 50);
		l = nl + 1;
	}
	/* Nothing lost: the words are all there, in order, one space apart
	 * once the continuation prefixes are taken out. */
	{
		char *d = joined;
		for (const char *p = w; *p; p++) {
			if (*p == '\n' && strncmp(p + 1, "bindwatch:       ", 17) == 0) {
				p += 17;
				while (p[1] == ' ')
					p++;
				*d++ = ' ';
				continue;
			}
			*d++ = *p;
		}
		*d = '\0';
		CHECK(strcmp(joined, in) == 0);
	}
	/* Too narrow, or no room: unchanged. */
	memcpy(w, in, n + 1);
	CHECK_EQ_INT(bw_report_wrap(w, n, sizeof(w), 20), n);
	CHECK_EQ_INT(bw_report_wrap(w, n, n + 2, 50), n);
	CHECK(strcmp(w, in) == 0);
}

/* A stack was asked for and none came: the report says why, in both
 * formats; with frames, or when none was asked for, it says nothing. */
static void test_stack_missing(void)
{
	struct bw_conflict *c = filled();
	const char *why = "this process was forked while another thread was unwinding";
	size_t n;

	c->stack_missing = why;
	n = bw_report_text(c, out, sizeof(out));
	CHECK_CONTAINS(out, "#0 start_server");
	CHECK_NOT_CONTAINS(out, "no stack");
	n = bw_report_json(c, out, sizeof(out));
	CHECK_NOT_CONTAINS(out, "stack_missing");

	c->n_frames = 0;
	n = bw_report_text(c, out, sizeof(out));
	CHECK_EQ_INT(n, strlen(out));
	CHECK(all_prefixed(out));
	CHECK_CONTAINS(out, "bindwatch:   called from: (no stack: this process was forked while"
			    " another thread was unwinding)\n");
	n = bw_report_json(c, out, sizeof(out));
	CHECK_CONTAINS(out, "\"stack\":[],\"stack_missing\":\"this process was forked while"
			    " another thread was unwinding\"");
	CHECK_EQ_INT(python_check("full", out, n), 0);

	c->stack_missing = NULL;
	bw_report_text(c, out, sizeof(out));
	CHECK_NOT_CONTAINS(out, "called from");
	bw_report_json(c, out, sizeof(out));
	CHECK_NOT_CONTAINS(out, "stack_missing");
}

/* Control bytes, quotes, backslashes and high bytes in every string a
 * process controls: its command line, its cgroup name, its comm
 * (prctl(PR_SET_NAME) takes any bytes), and the failing process's comm. */
static void test_hostile(void)
{
	static const char evil[] = "ev\x1b[31mil\"q\"\\ \x01\x7f\xc3\xa9\xff\nbindwatch: forged line\r";
	struct bw_conflict *c = filled();
	size_t n;

	memcpy(c->holders[0].proc.cmdline, evil, sizeof(evil) - 1);
	c->holders[0].proc.cmdline_len = sizeof(evil) - 1;
	/* Delegated cgroup subtrees are named by their (unprivileged) owner. */
	snprintf(c->holders[0].proc.cgroup, sizeof(c->holders[0].proc.cgroup), "/user.slice/x\x1b[2J\n.scope");
	bw_classify(c);
	n = bw_report_json(c, out, sizeof(out));
	CHECK_EQ_INT(python_check("full", out, n), 0);
	n = bw_report_text(c, out, sizeof(out));
	CHECK(clean_text(out, n));
	CHECK(all_prefixed(out));
	/* Well-formed UTF-8 (é) as it is; '"' and '\\' escaped. */
	CHECK_CONTAINS(out, "ev\\x1b[31mil\\x22q\\x22\\x5c \\x01\\x7f\xc3\xa9\\xff\\x0abindwatch: forged line\\x0d");
	n = bw_report_table(c, out, sizeof(out));
	CHECK(clean_text(out, n));
	/* cmd="..." can't be closed early by a '"' in the command line. */
	CHECK_CONTAINS(out, "cmd=\"ev\\x1b[31mil\\x22q\\x22\\x5c \\x01\\x7f\xc3\xa9\\xff\\x0abindwatch: forged line\\x0d\"");

	/* A holder with no command line (a kernel thread, a zombie) is shown
	 * by its comm, which is just as hostile. The hint names it too. */
	c = filled();
	c->holders[0].proc.cmdline_len = 0;
	c->holders[0].proc.cmdline[0] = '\0';
	snprintf(c->holders[0].proc.comm, sizeof(c->holders[0].proc.comm), "x\x1b]0;pwn\a\n");
	bw_classify(c);
	n = bw_report_json(c, out, sizeof(out));
	CHECK_EQ_INT(python_check("full", out, n), 0);
	n = bw_report_text(c, out, sizeof(out));
	CHECK(clean_text(out, n));
	CHECK(all_prefixed(out));
	n = bw_report_table(c, out, sizeof(out));
	CHECK(clean_text(out, n));

	/* The failing process's own comm. */
	c = filled();
	snprintf(c->comm, sizeof(c->comm), "srv\x1b[2J\n");
	n = bw_report_json(c, out, sizeof(out));
	CHECK_EQ_INT(python_check("full", out, n), 0);
	n = bw_report_text(c, out, sizeof(out));
	CHECK(clean_text(out, n));
	CHECK(all_prefixed(out));
}

/* Every size from 0 to past the full record: never a byte outside the
 * buffer, always NUL-terminated; from 2 bytes on, text ends in '\n'; from
 * 4 bytes on ("{}\n"), JSON ends in "}\n" and parses. */
static void test_truncation(void)
{
	static char records[1 << 20];
	size_t nrec = 0, full_json, full_text, full_table;
	struct bw_conflict *c = filled();
	unsigned bad_bounds = 0, bad_end = 0;

	full_json = bw_report_json(c, out, sizeof(out));
	full_text = bw_report_text(c, out, sizeof(out));
	full_table = bw_report_table(c, out, sizeof(out));

	for (size_t size = 0; size <= full_json + 4; size++) {
		size_t n;
		memset(out, CANARY, size + 32);
		n = bw_report_json(c, out, size);
		for (size_t i = size; i < size + 32; i++)
			if ((unsigned char)out[i] != CANARY) {
				if (bad_bounds++ < 3)
					fprintf(stderr, "json: size %zu: byte %zu written past the end\n", size, i);
				break;
			}
		if (size == 0)
			continue;
		if (n >= size || out[n] != '\0' || strlen(out) != n) {
			if (bad_bounds++ < 3)
				fprintf(stderr, "json: size %zu: length %zu not terminated in bounds\n", size, n);
			continue;
		}
		if (size < 4)
			continue;
		if (n < 3 || out[n - 2] != '}' || out[n - 1] != '\n' || memchr(out, '\n', n - 1)) {
			if (bad_end++ < 3)
				fprintf(stderr, "json: size %zu: does not end in \"}\\n\": %s\n", size, out);
			continue;
		}
		if (nrec + n < sizeof(records)) {
			memcpy(records + nrec, out, n);
			nrec += n;
		}
	}
	CHECK_EQ_INT(bad_bounds, 0);
	CHECK_EQ_INT(bad_end, 0);
	/* Line k of the file is the record for buffer size k + 3. */
	CHECK_EQ_INT(python_check("valid", records, nrec), 0);

	bad_bounds = bad_end = 0;
	for (int which = 0; which < 2; which++) {
		size_t full = which ? full_table : full_text;
		for (size_t size = 0; size <= full + 4; size++) {
			size_t n;
			memset(out, CANARY, size + 32);
			n = which ? bw_report_table(c, out, size) : bw_report_text(c, out, size);
			for (size_t i = size; i < size + 32; i++)
				if ((unsigned char)out[i] != CANARY) {
					if (bad_bounds++ < 3)
						fprintf(stderr, "%s: size %zu: written past the end\n",
							which ? "table" : "text", size);
					break;
				}
			if (size == 0)
				continue;
			if (n >= size || out[n] != '\0' || strlen(out) != n) {
				if (bad_bounds++ < 3)
					fprintf(stderr, "%s: size %zu: not terminated in bounds\n",
						which ? "table" : "text", size);
				continue;
			}
			if (size >= 2 && (n == 0 || out[n - 1] != '\n')) {
				if (bad_end++ < 3)
					fprintf(stderr, "%s: size %zu: does not end in a newline\n",
						which ? "table" : "text", size);
			}
		}
	}
	CHECK_EQ_INT(bad_bounds, 0);
	CHECK_EQ_INT(bad_end, 0);
}

/* 32 SO_REUSEPORT listeners, each open in a master and 31 workers with
 * long command lines: far more than a 48 KiB record holds in full. The
 * record keeps every socket and every count, and drops detail instead of
 * falling back to the minimal truncated record. */
static void test_json_many_processes(void)
{
	static char rec[48 * 1024];
	struct bw_conflict *c = filled();
	char cmd[400];
	size_t n;

	memset(cmd, 'x', sizeof(cmd));
	c->n_holders = c->n_matching = 0;
	c->n_procs = BW_HITS_MAX / BW_HOLDERS_MAX; /* 32: as many as the hits table holds */
	for (size_t k = 0; k < c->n_procs; k++) {
		struct bw_process *p = &c->procs[k];
		memset(p, 0, sizeof(*p));
		p->have_proc = true;
		p->proc.pid = (pid_t)(100 + k);
		p->proc.ppid = k ? 100 : 1;
		snprintf(p->proc.comm, sizeof(p->proc.comm), "nginx");
		memcpy(p->proc.cmdline, cmd, sizeof(cmd));
		p->proc.cmdline_len = sizeof(cmd);
		p->relation = BW_REL_NONE;
	}
	c->n_hprocs = 0;
	for (size_t i = 0; i < BW_HOLDERS_MAX; i++) {
		struct bw_holder *h = add(c, "127.0.0.1:8080", "0.0.0.0:0", BW_TCP_LISTEN, 5000 + i, 0);
		set_proc(h, 100, (int)(6 + i), "nginx", cmd, sizeof(cmd));
		h->first_proc = c->n_hprocs;
		h->n_procs = c->n_procs;
		for (size_t k = 0; k < c->n_procs; k++)
			c->hprocs[c->n_hprocs++] = (struct bw_holder_proc){
				.pid = (pid_t)(100 + k), .fd = (int)(6 + i), .proc = (int)k,
				.inherited = k ? 1 : -1, .inherited_from = k ? 100 : 0, .across_exec = 0};
	}
	bw_classify(c);
	n = bw_report_json(c, rec, sizeof(rec));
	CHECK(n > 0 && n < sizeof(rec));
	CHECK_EQ_INT(python_check("full", rec, n), 0);
	CHECK_NOT_CONTAINS(rec, "\"truncated\"");
	CHECK_CONTAINS(rec, "\"holders_total\":32");
	CHECK_CONTAINS(rec, "\"processes_total\":32,\"processes\":[{\"pid\":100,\"fd\":6,\"fds\":[6],\"comm\":\"nginx\",\"ppid\":1,");
	CHECK_CONTAINS(rec, "{\"pid\":103,\"fd\":37,\"fds\":[37],\"comm\":\"nginx\",\"ppid\":100,\"relation\":\"none\",\"inherited\":true,\"inherited_from\":100,\"across_exec\":false}]");
	CHECK_NOT_CONTAINS(rec, "{\"pid\":104,");

	/* One such socket fits: every process in full. */
	c->n_holders = c->n_matching = 1;
	n = bw_report_json(c, rec, sizeof(rec));
	CHECK_EQ_INT(python_check("full", rec, n), 0);
	CHECK_CONTAINS(rec, "\"processes_total\":32,\"processes\":[{\"pid\":100,\"fd\":6,\"fds\":[6],\"comm\":\"nginx\",\"cmdline\":\"xxx");
	CHECK_CONTAINS(rec, "{\"pid\":131,\"fd\":6,\"fds\":[6],\"comm\":\"nginx\",\"cmdline\":\"xxx");
}

/* The note that the holder's options could not be read (true of nearly
 * every report from inside a host) stays in the hint, out of the text. */
static void test_text_leaves_out_filler(void)
{
	struct bw_conflict *c = filled();
	c->holders[0].reuseaddr = c->holders[0].reuseport = -1;
	bw_classify(c);
	CHECK_CONTAINS(c->hint, "could not be read");
	bw_report_text(c, out, sizeof(out));
	CHECK_NOT_CONTAINS(out, "could not be read");
	CHECK_CONTAINS(out, "cause: listener: another process holds it: pid 2000 (nginx)");
	bw_report_json(c, out, sizeof(out));
	CHECK_CONTAINS(out, "could not be read");
}

/* One process holding the socket on several fds (it dup()ed it) and a
 * second blocking socket: the text names the process once, each socket on
 * a line of its own with its fds; JSON has one entry per process with all
 * its fds ("fd" still the first); the table row lists every fd. */
static void test_one_process_many_fds(void)
{
	struct bw_conflict *c = fresh("[::]:8080");
	struct bw_holder *h;
	static const char cmd[] = "python3 server.py";
	size_t n;

	h = add(c, "0.0.0.0:8080", "0.0.0.0:0", BW_TCP_LISTEN, 4711, 33);
	set_proc(h, 2000, 3, "python3", cmd, sizeof(cmd) - 1);
	h->first_proc = 0;
	h->n_procs = 4;
	c->hprocs[0] = (struct bw_holder_proc){.pid = 2000, .fd = 3, .proc = -1, .inherited = -1};
	c->hprocs[1] = (struct bw_holder_proc){.pid = 2000, .fd = 4, .proc = -1, .inherited = -1};
	c->hprocs[2] = (struct bw_holder_proc){.pid = 2001, .fd = 3, .proc = -1, .inherited = -1};
	c->hprocs[3] = (struct bw_holder_proc){.pid = 2000, .fd = 5, .proc = -1, .inherited = -1};
	h = add(c, "[::]:8080", "[::]:0", BW_TCP_LISTEN, 4712, 33);
	set_proc(h, 2000, 6, "python3", cmd, sizeof(cmd) - 1);
	h->sock.v6only = true;
	h->first_proc = 4;
	h->n_procs = 1;
	c->hprocs[4] = (struct bw_holder_proc){.pid = 2000, .fd = 6, .proc = -1, .inherited = -1};
	c->n_hprocs = 5;
	c->stack_missing = "none asked for";
	bw_classify(c);

	n = bw_report_text(c, out, sizeof(out));
	CHECK(n > 0);
	CHECK_CONTAINS(out, "held by pid 2000 user www-data(33): python3 server.py + 1 other process"
			    " (pid 2001)\n");
	CHECK_CONTAINS(out, "bindwatch:     fds 3, 4 and 5, LISTEN 0.0.0.0:8080");
	CHECK_CONTAINS(out, "\nbindwatch:     fd 6, LISTEN [::]:8080 IPV6_V6ONLY\n");
	/* Once. */
	CHECK(strstr(out, "held by pid") && !strstr(strstr(out, "held by pid") + 1, "held by pid"));

	n = bw_report_json(c, out, sizeof(out));
	CHECK_EQ_INT(python_check("full", out, n), 0);
	CHECK_CONTAINS(out, "\"processes_total\":2,\"processes\":[{\"pid\":2000,\"fd\":3,\"fds\":[3,4,5],");
	CHECK_CONTAINS(out, "{\"pid\":2001,\"fd\":3,\"fds\":[3],");
	CHECK_NOT_CONTAINS(out, "{\"pid\":2000,\"fd\":4");
	CHECK_NOT_CONTAINS(out, "{\"pid\":2000,\"fd\":5");

	n = bw_report_table(c, out, sizeof(out));
	CHECK_CONTAINS(out, "pid=2000,fd=3,4,5 user=www-data(33)");
	CHECK_CONTAINS(out, "pid=2000,fd=6 user=www-data(33)");
}

int main(void)
{
	test_json_full();
	test_text_leaves_out_filler();
	test_json_unix_and_ephemeral();
	test_text();
	test_stack_fold();
	test_wrap();
	test_stack_missing();
	test_hostile();
	test_truncation();
	test_json_many_processes();
	test_one_process_many_fds();
	return check_done("report");
}
