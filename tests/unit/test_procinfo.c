#include <stdbool.h>
/* procinfo: /proc/<pid>/stat parsing, command-line joining, and whole
 * process records from the fixture tree (tests/fixtures/procroot) and from
 * this very process. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lookup/procinfo.h"

#define FIXTURE_BTIME 1700000000

static void test_parse_stat(void)
{
	char comm[BW_COMM_MAX];
	pid_t ppid = -5;
	unsigned long long start = 0;
	const char *s;

	s = "123 (a) b) c) S 1 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 3133440 361 "
	    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
	CHECK_EQ_INT(bw_proc_parse_stat(s, comm, sizeof(comm), &ppid, &start), 0);
	CHECK_STREQ(comm, "a) b) c");
	CHECK_EQ_INT(ppid, 1);
	CHECK_EQ_INT(start, 98765);

	/* '(' inside comm, and a state letter followed by large values. */
	s = "5 (x (y) R 77 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551 0 0";
	CHECK_EQ_INT(bw_proc_parse_stat(s, comm, sizeof(comm), &ppid, &start), 0);
	CHECK_STREQ(comm, "x (y");
	CHECK_EQ_INT(ppid, 77);
	CHECK(start == 18446744073709551ULL);

	/* Spaces only: "( )" */
	s = "6 ( ) S 2 6 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42\n";
	CHECK_EQ_INT(bw_proc_parse_stat(s, comm, sizeof(comm), &ppid, &start), 0);
	CHECK_STREQ(comm, " ");
	CHECK_EQ_INT(ppid, 2);
	CHECK_EQ_INT(start, 42);

	/* An empty comm. */
	s = "7 () S 3 6 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 43";
	CHECK_EQ_INT(bw_proc_parse_stat(s, comm, sizeof(comm), &ppid, &start), 0);
	CHECK_STREQ(comm, "");
	CHECK_EQ_INT(ppid, 3);

	/* comm longer than the caller's buffer is cut, NUL-terminated. */
	s = "8 (abcdefgh) S 4 6 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 44";
	CHECK_EQ_INT(bw_proc_parse_stat(s, comm, 4, &ppid, &start), 0);
	CHECK_STREQ(comm, "abc");

	CHECK_EQ_INT(bw_proc_parse_stat("", comm, sizeof(comm), &ppid, &start), -EINVAL);
	CHECK_EQ_INT(bw_proc_parse_stat("9 nocomm S 1", comm, sizeof(comm), &ppid, &start), -EINVAL);
	CHECK_EQ_INT(bw_proc_parse_stat("9 (x S 1 2 3", comm, sizeof(comm), &ppid, &start), -EINVAL);
	CHECK_EQ_INT(bw_proc_parse_stat("9 )x( S 1 2 3", comm, sizeof(comm), &ppid, &start), -EINVAL);
	/* Cut before field 22. */
	CHECK_EQ_INT(bw_proc_parse_stat("9 (x) S 1 2 3 4 5", comm, sizeof(comm), &ppid, &start), -EINVAL);
	CHECK_EQ_INT(bw_proc_parse_stat("9 (x) S", comm, sizeof(comm), &ppid, &start), -EINVAL);
	/* Not numbers where numbers belong. */
	CHECK_EQ_INT(bw_proc_parse_stat("9 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19",
					comm, sizeof(comm), &ppid, &start), -EINVAL);
}

static void join(const char *raw, size_t n, size_t size, const char *want)
{
	char out[64];
	size_t len;
	memset(out, 'X', sizeof(out));
	len = bw_proc_join_cmdline(raw, n, out, size);
	CHECK_STREQ(out, want);
	CHECK_EQ_INT(len, strlen(want));
	CHECK(size >= sizeof(out) || out[size] == 'X');
}

static void test_join(void)
{
	char out[8];

	join("a\0b\0c\0", 6, 64, "a b c");
	join("a\0b\0c", 5, 64, "a b c");          /* rewritten argv: no final NUL */
	join("a\0b\0c\0", 6, 4, "a b");           /* cut to the buffer */
	join("a\0b\0c\0", 6, 1, "");
	join("x\0\0\0\0", 5, 64, "x");            /* setproctitle padding */
	join("a\0\0b\0", 5, 64, "a  b");           /* an empty argument */
	join("", 0, 64, "");
	join("\0\0", 2, 64, "");
	join("nginx: master process", 21, 64, "nginx: master process");

	out[0] = 'Y';
	CHECK_EQ_INT(bw_proc_join_cmdline("abc", 3, out, 0), 0);
	CHECK(out[0] == 'Y');
}

static void test_boot_time(void)
{
	CHECK_EQ_INT(bw_proc_boot_time(check_procroot()), FIXTURE_BTIME);
	CHECK_EQ_INT(bw_proc_boot_time("/nonexistent-bw-root"), 0);
	CHECK(bw_proc_boot_time("/proc") > 1000000000);
}

static void test_fixture_procs(void)
{
	struct bw_proc p;
	long hz = sysconf(_SC_CLK_TCK);

	/* 4242: comm with spaces and ')', euid 0 but ruid 65534, v2 cgroup. */
	CHECK_EQ_INT(bw_proc_info(check_procroot(), 4242, &p), 0);
	CHECK_EQ_INT(p.pid, 4242);
	CHECK_EQ_INT(p.ppid, 1);
	CHECK_STREQ(p.comm, "a) b) c");
	CHECK_STREQ(p.cmdline, "python3 -m http.server --bind 127.0.0.1");
	CHECK_EQ_INT(p.cmdline_len, strlen("python3 -m http.server --bind 127.0.0.1"));
	CHECK(!p.cmdline_truncated);
	CHECK(p.have_uid);
	CHECK_EQ_INT(p.uid, 0); /* the effective uid, not the real one */
	CHECK_STREQ(p.user, "root");
	CHECK_EQ_INT(p.start, FIXTURE_BTIME + 12345 / hz);
	CHECK_STREQ(p.cgroup, "/system.slice/fixture-web.service");

	/* 4243: a setproctitle()-style cmdline padded with NULs is complete,
	 * not truncated. */
	CHECK_EQ_INT(bw_proc_info(check_procroot(), 4243, &p), 0);
	CHECK_STREQ(p.comm, "nginx");
	CHECK_EQ_INT(p.ppid, 4200);
	CHECK_STREQ(p.cmdline, "nginx: master process /usr/sbin/nginx");
	CHECK(!p.cmdline_truncated);
	CHECK_EQ_INT(p.start, FIXTURE_BTIME + 50000 / hz);
	CHECK_STREQ(p.cgroup, "/system.slice/nginx.service");

	/* 4244: uid 65534, whose name comes from the real /etc/passwd. */
	CHECK_EQ_INT(bw_proc_info(check_procroot(), 4244, &p), 0);
	CHECK_EQ_INT(p.uid, 65534);
	CHECK_STREQ(p.cmdline, "/usr/sbin/sockd --foreground");
	{
		struct passwd *pw = getpwuid(65534);
		CHECK_STREQ(p.user, pw ? pw->pw_name : "");
	}

	/* 4245: a zombie, stat only: the rest stays empty. */
	CHECK_EQ_INT(bw_proc_info(check_procroot(), 4245, &p), 0);
	CHECK_STREQ(p.comm, "defunct thing");
	CHECK_EQ_INT(p.ppid, 4243);
	CHECK_EQ_INT(p.cmdline_len, 0);
	CHECK_STREQ(p.cmdline, "");
	CHECK(!p.cmdline_truncated);
	CHECK(!p.have_uid);
	CHECK_STREQ(p.user, "");
	CHECK_STREQ(p.cgroup, "");
	CHECK_EQ_INT(p.start, FIXTURE_BTIME + 90000 / hz);

	CHECK_EQ_INT(bw_proc_info(check_procroot(), 99999, &p), -ENOENT);
	CHECK_EQ_INT(bw_proc_info("/nonexistent-bw-root", 1, &p), -ENOENT);
}

static void write_file(const char *dir, const char *name, const char *data, size_t n)
{
	char path[512];
	int fd;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(write(fd, data, n), (long long)n);
	close(fd);
}

/* Command lines at and past BW_CMDLINE_MAX, in a throwaway proc tree. */
static void test_long_cmdline(void)
{
	char dir[] = "/tmp/bw-procinfo-XXXXXX", pdir[512], raw[2048];
	struct bw_proc p;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(pdir, sizeof(pdir), "%s/10", dir);
	mkdir(pdir, 0755);
	{
		static const char stat[] = "10 (long) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100\n";
		write_file(pdir, "stat", stat, sizeof(stat) - 1);
	}

	/* 511 bytes of argument + NUL: fits exactly. */
	memset(raw, 'a', sizeof(raw));
	raw[BW_CMDLINE_MAX - 1] = '\0';
	write_file(pdir, "cmdline", raw, BW_CMDLINE_MAX);
	CHECK_EQ_INT(bw_proc_info(dir, 10, &p), 0);
	CHECK_EQ_INT(p.cmdline_len, BW_CMDLINE_MAX - 1);
	CHECK(!p.cmdline_truncated);
	CHECK_EQ_INT(p.start, 0); /* no <root>/stat: boot time unknown */

	/* 1500 bytes in two arguments: cut, and flagged. */
	memset(raw, 'b', sizeof(raw));
	raw[700] = '\0';
	raw[1499] = '\0';
	write_file(pdir, "cmdline", raw, 1500);
	CHECK_EQ_INT(bw_proc_info(dir, 10, &p), 0);
	CHECK_EQ_INT(p.cmdline_len, BW_CMDLINE_MAX - 1);
	CHECK_EQ_INT(strlen(p.cmdline), BW_CMDLINE_MAX - 1);
	CHECK(p.cmdline_truncated);

	snprintf(raw, sizeof(raw), "%s/cmdline", pdir);
	unlink(raw);
	snprintf(raw, sizeof(raw), "%s/stat", pdir);
	unlink(raw);
	rmdir(pdir);
	rmdir(dir);
}

/* A 128-CPU machine's /proc/stat: btime is some 40 KB in, after the cpu
 * lines and an "intr" line longer than any read buffer; and a file whose
 * last line has no '\n'. */
static void test_boot_time_big(void)
{
	char dir[] = "/tmp/bw-procstat-XXXXXX", path[512];
	static char stat[64 * 1024];
	size_t n = 0;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	for (int cpu = 0; cpu < 128; cpu++)
		n += (size_t)snprintf(stat + n, sizeof(stat) - n,
				      "cpu%d 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n", cpu);
	n += (size_t)snprintf(stat + n, sizeof(stat) - n, "intr 123456");
	for (int irq = 0; irq < 20000 && n < sizeof(stat) - 128; irq++)
		n += (size_t)snprintf(stat + n, sizeof(stat) - n, " 0");
	n += (size_t)snprintf(stat + n, sizeof(stat) - n, "\nctxt 99\nbtime 1700000123\nprocesses 5\n");
	CHECK(n > 40000);
	write_file(dir, "stat", stat, n);
	CHECK_EQ_INT(bw_proc_boot_time(dir), 1700000123);

	write_file(dir, "stat", "cpu 1 2\nbtime 1600000000", 24);
	CHECK_EQ_INT(bw_proc_boot_time(dir), 1600000000);
	write_file(dir, "stat", "cpu 1 2\nbtimex 5\n", 17);
	CHECK_EQ_INT(bw_proc_boot_time(dir), 0);

	snprintf(path, sizeof(path), "%s/stat", dir);
	unlink(path);
	rmdir(dir);
}

static void test_self(int argc, char **argv)
{
	struct bw_proc p;
	char want[BW_CMDLINE_MAX] = "";
	struct passwd *pw = getpwuid(geteuid());
	time_t now = time(NULL);
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	for (int i = 0; i < argc; i++) {
		if (i)
			strncat(want, " ", sizeof(want) - strlen(want) - 1);
		strncat(want, argv[i], sizeof(want) - strlen(want) - 1);
	}
	/* Under `meson test --setup valgrind` the image is valgrind's and
	 * valgrind fakes what open("/proc/<pid>/cmdline") returns, so argv
	 * can't be compared there; everything else still is. */
	const char *pre = getenv("LD_PRELOAD");
	bool under_valgrind = pre && strstr(pre, "vgpreload");
	CHECK_EQ_INT(bw_proc_info("/proc", getpid(), &p), 0);
	CHECK_EQ_INT(p.pid, getpid());
	CHECK_EQ_INT(p.ppid, getppid());
	if (!under_valgrind) {
		CHECK(strncmp(p.comm, base, 15) == 0);
		CHECK_STREQ(p.cmdline, want);
	}
	CHECK(p.have_uid);
	CHECK_EQ_INT(p.uid, geteuid());
	CHECK_STREQ(p.user, pw ? pw->pw_name : "");
	CHECK(p.start > 0 && p.start <= now + 1 && p.start > now - 3600);
	CHECK(p.cgroup[0] == '/');
}

/* Unit and container names come from the cgroup path alone. */
static void test_cgroup_identity(void)
{
	static const struct {
		const char *cgroup, *unit, *container;
	} cases[] = {
		{"/system.slice/nginx.service", "nginx.service", ""},
		{"/user.slice/user-0.slice/user@0.service/app.slice/foo.service", "foo.service", ""},
		{"/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		 "docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "",
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"/", "", ""},
		{"/system.slice", "", ""},
		{"/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX", "", ""},
		{"/user.slice/user-1000.slice/session-2.scope", "session-2.scope", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char unit[96], container[72];
		bw_proc_cgroup_identity(cases[i].cgroup, unit, sizeof(unit), container, sizeof(container));
		CHECK_STREQ(unit, cases[i].unit);
		CHECK_STREQ(container, cases[i].container);
	}
	/* Too small to hold the id: left empty, never truncated. */
	char small_unit[4], small_container[16];
	bw_proc_cgroup_identity(cases[2].cgroup, small_unit, sizeof(small_unit), small_container,
				sizeof(small_container));
	CHECK_STREQ(small_unit, "");
	CHECK_STREQ(small_container, "");
}

int main(int argc, char **argv)
{
	test_parse_stat();
	test_join();
	test_boot_time();
	test_fixture_procs();
	test_long_cmdline();
	test_boot_time_big();
	test_self(argc, argv);
	test_cgroup_identity();
	return check_done("procinfo");
}
