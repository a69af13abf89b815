/* syscallsite: /proc/<tid>/syscall (fixtures and a real blocked thread),
 * maps lines, call-instruction detection and the frame-pointer scan over
 * synthetic stacks. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "supervise/syscallsite.h"

static void test_parse(void)
{
	struct bw_syscall_site s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(bw_syscall_parse("49 0x3 0x7ffd6a1c2a40 0x10 0x0 0x7f0c 0x1 0x7ffd6a1c2a28 "
				      "0x43cc07\n",
				      &s),
		     0);
	CHECK_EQ_INT(s.nr, 49);
	CHECK_EQ_INT(s.args[0], 3);
	CHECK_EQ_INT(s.args[1], 0x7ffd6a1c2a40ull);
	CHECK_EQ_INT(s.args[2], 0x10);
	CHECK_EQ_INT(s.args[5], 1);
	CHECK_EQ_INT(s.sp, 0x7ffd6a1c2a28ull);
	CHECK_EQ_INT(s.pc, 0x43cc07);

	/* Blocked outside a system call: sp and pc only. */
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(bw_syscall_parse("-1 0x7ffd00 0x401000\n", &s), -ENOENT);
	CHECK_EQ_INT(s.nr, -1);
	CHECK_EQ_INT(s.sp, 0x7ffd00);
	CHECK_EQ_INT(s.pc, 0x401000);

	CHECK_EQ_INT(bw_syscall_parse("running\n", &s), -EAGAIN);
	CHECK_EQ_INT(bw_syscall_parse("", &s), -EINVAL);
	CHECK_EQ_INT(bw_syscall_parse("49 0x3 0x1\n", &s), -EINVAL);
	CHECK_EQ_INT(bw_syscall_parse("49 3 0x1 0x2 0x3 0x4 0x5 0x6 0x7\n", &s), -EINVAL);
	CHECK_EQ_INT(bw_syscall_parse("49 0x3 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", &s), -EINVAL);
	CHECK_EQ_INT(bw_syscall_parse("x 0x1 0x2\n", &s), -EINVAL);
}

static int pipe_fds[2];
static volatile pid_t reader_tid;

static void *reader(void *arg)
{
	char c;
	(void)arg;
	reader_tid = (pid_t)syscall(SYS_gettid);
	if (read(pipe_fds[0], &c, 1) < 0)
		perror("read");
	return NULL;
}

/* A real thread blocked in read(2): the kernel's own format. */
static void test_real_thread(void)
{
	struct bw_syscall_site s = {0};
	struct timespec ts = {0, 10 * 1000000L};
	pthread_t t;
	char path[64], buf[512];
	int r = -1;

	CHECK(pipe(pipe_fds) == 0);
	CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
	for (int tries = 0; tries < 500 && r != 0; tries++) {
		FILE *f;
		nanosleep(&ts, NULL);
		if (!reader_tid)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)reader_tid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && bw_syscall_parse(buf, &s) == 0 && s.nr == SYS_read)
			r = 0;
		fclose(f);
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(s.args[0], pipe_fds[0]);
	CHECK_EQ_INT(s.args[2], 1);
	CHECK(s.sp != 0 && s.pc != 0);
	CHECK(write(pipe_fds[1], "x", 1) == 1);
	pthread_join(t, NULL);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static const char maps[] =
	"00400000-00401000 r--p 00000000 fe:01 1234                               /usr/bin/busy box\n"
	"00401000-00500000 r-xp 00001000 fe:01 1234                               /usr/bin/busy box\n"
	"01a2b000-01a4c000 rw-p 00000000 00:00 0                                  [heap]\n"
	"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
	"7ffd6a1a3000-7ffd6a1c4000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static void test_maps(void)
{
	struct bw_map m;

	CHECK_EQ_INT(bw_maps_find(maps, 0x401234, &m), 0);
	CHECK_EQ_INT(m.start, 0x401000);
	CHECK_EQ_INT(m.end, 0x500000);
	CHECK_EQ_INT(m.offset, 0x1000);
	CHECK(m.exec);
	CHECK_STREQ(m.path, "/usr/bin/busy box");
	CHECK_EQ_INT(bw_maps_find(maps, 0x400000, &m), 0);
	CHECK(!m.exec);
	CHECK_EQ_INT(bw_maps_find(maps, 0x7f0000000010ull, &m), 0);
	CHECK_STREQ(m.path, "");
	CHECK_EQ_INT(bw_maps_find(maps, 0x7ffd6a1c3ff8ull, &m), 0);
	CHECK_STREQ(m.path, "[stack]");
	CHECK_EQ_INT(bw_maps_find(maps, 0xffffffffff600000ull, &m), 0);
	CHECK_STREQ(m.path, "[vsyscall]");
	CHECK_EQ_INT(bw_maps_find(maps, 0x500000, &m), -ENOENT);
	CHECK_EQ_INT(bw_maps_find(maps, 0, &m), -ENOENT);
	CHECK_EQ_INT(bw_maps_find("", 1, &m), -ENOENT);
	CHECK_EQ_INT(bw_maps_find("garbage\n\n00400000-00401000 r-xp 0 00:00 0 /x\n", 0x400010, &m),
		     0);
	CHECK_STREQ(m.path, "/x");
}

/* The 8 bytes before a return address, right-aligned. */
static bool precedes(const char *bytes, size_t n)
{
	uint8_t b[8] = {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
	memcpy(b + 8 - n, bytes, n);
	return bw_call_precedes(b);
}

static void test_call_precedes(void)
{
#if defined(__x86_64__)
	CHECK(precedes("\xe8\x10\x20\x00\x00", 5));          /* call rel32 */
	CHECK(precedes("\xff\xd0", 2));                      /* call *%rax */
	CHECK(precedes("\x41\xff\xd3", 3));                  /* call *%r11 */
	CHECK(precedes("\xff\x10", 2));                      /* call *(%rax) */
	CHECK(precedes("\xff\x50\x08", 3));                  /* call *8(%rax) */
	CHECK(precedes("\xff\x14\x24", 3));                  /* call *(%rsp) */
	CHECK(precedes("\xff\x54\x24\x08", 4));              /* call *8(%rsp) */
	CHECK(precedes("\xff\x15\x00\x10\x00\x00", 6));      /* call *x(%rip) */
	CHECK(precedes("\xff\x90\x00\x01\x00\x00", 6));      /* call *0x100(%rax) */
	CHECK(precedes("\xff\x94\x24\x00\x01\x00\x00", 7));  /* call *0x100(%rsp) */
	CHECK(!precedes("\xc3", 1));                         /* ret */
	CHECK(!precedes("\xff\xe0", 2));                     /* jmp *%rax: /4 */
	CHECK(!precedes("\x0f\x05", 2));                     /* syscall */
	CHECK(!precedes("\xff\x15\x00\x10", 4));             /* rip-relative needs 6 */
	CHECK(!precedes("", 0));
#elif defined(__aarch64__)
	CHECK(precedes("\x10\x00\x00\x94", 4));  /* bl */
	CHECK(precedes("\x00\x01\x3f\xd6", 4));  /* blr x8 */
	CHECK(!precedes("\xc0\x03\x5f\xd6", 4)); /* ret */
#endif
}

/* Code is 0x400000..0x500000 in the synthetic stacks. */
static bool fake_return(uint64_t addr, void *ctx)
{
	(void)ctx;
	return addr >= 0x400000 && addr < 0x500000;
}

static uint64_t stale_ret;

/* The stale frame's return does not call the innermost function. */
static int fake_calls(uint64_t ret, uint64_t callee, void *ctx)
{
	(void)callee;
	(void)ctx;
	return ret == stale_ret ? -1 : 1;
}

#define BASE 0x7ffd00000000ull
#define AT(i) (BASE + 8 * (i))

static void test_fp_scan(void)
{
	struct bw_fp_ops ops = {fake_return, NULL, NULL};
	uint64_t w[32], out[16];
	size_t n;

	/* Leaf return at sp, then a chain of three ending in fp 0, with
	 * junk in between that looks like neither. */
	memset(w, 0, sizeof(w));
	w[0] = 0x401000;
	w[1] = 0x12345;
	w[2] = AT(5);
	w[3] = 0x402000;
	w[4] = AT(1); /* points down: not a saved fp */
	w[5] = AT(8);
	w[6] = 0x403000;
	w[8] = 0;
	w[9] = 0x404000;
	n = bw_fp_scan(w, 12, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(out[0], 0x401000);
	CHECK_EQ_INT(out[1], 0x402000);
	CHECK_EQ_INT(out[2], 0x403000);
	CHECK_EQ_INT(out[3], 0x404000);

	/* Bounded by max. */
	n = bw_fp_scan(w, 12, BASE, 0x400500, &ops, out, 2);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(out[1], 0x402000);
	n = bw_fp_scan(w, 12, BASE, 0x400500, &ops, out, 0);
	CHECK_EQ_INT(n, 0);

	/* The window cuts the chain: what fits is kept. */
	n = bw_fp_scan(w, 8, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 3);

	/* A stale record below the live one makes a longer chain; the
	 * call check prefers the live one, without it the longest wins. */
	memset(w, 0, sizeof(w));
	w[0] = 0x401000;
	w[1] = AT(3);
	w[2] = stale_ret = 0x40dead;
	w[3] = AT(5);
	w[4] = 0x402000;
	w[5] = 0;
	w[6] = 0x403000;
	n = bw_fp_scan(w, 8, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(out[1], 0x40dead);
	ops.calls = fake_calls;
	n = bw_fp_scan(w, 8, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(out[0], 0x401000);
	CHECK_EQ_INT(out[1], 0x402000);
	CHECK_EQ_INT(out[2], 0x403000);
	ops.calls = NULL;

	/* No frame pointers: only the leaf return address. A lone code
	 * address after a 0 word right at sp is too weak to count. */
	memset(w, 0, sizeof(w));
	w[0] = 0x401000;
	w[3] = 0x999;
	n = bw_fp_scan(w, 8, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 1);
	memset(w, 0, sizeof(w));
	w[1] = 0x401000;
	n = bw_fp_scan(w, 8, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 0);

	/* A cycle never loops: saved fps must go up. */
	memset(w, 0, sizeof(w));
	w[2] = AT(4);
	w[3] = 0x402000;
	w[4] = AT(2);
	w[5] = 0x403000;
	n = bw_fp_scan(w, 8, BASE, 0x400500, &ops, out, 16);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(bw_fp_scan(w, 0, BASE, 0x400500, &ops, out, 16), 0);
}

int main(void)
{
	test_parse();
	test_real_thread();
	test_maps();
	test_call_precedes();
	test_fp_scan();
	return check_done("syscallsite");
}
