/* owner: socket inode -> pid and fd, against the live /proc (sockets made
 * here and in forked children, one of them without root) and against the
 * fixture tree and a proc tree built at run time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/sysio.h"
#include "check.h"
#include "lookup/owner.h"

/* No socket has this inode: /proc/sys/fs/inode-nr is far below it. */
#define NO_SUCH_INODE 0xfffffffff0ull

static uint64_t inode_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void query1(struct bw_owner_query *q, uint64_t inode)
{
	memset(q, 0, sizeof(*q));
	q->n = 1;
	q->inode[0] = inode;
	q->uid[0] = geteuid();
}

static void test_self(void)
{
	struct bw_owner_query q;
	struct bw_owner_stats st;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int s2 = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CHECK(s >= 0 && s2 >= 0);
	/* Tried first: found at once. */
	query1(&q, inode_of(s));
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, &st), 1);
	CHECK_EQ_INT(q.pid[0], getpid());
	CHECK_EQ_INT(q.fd[0], s);
	CHECK_EQ_INT(st.procs_scanned, 1);
	CHECK(st.fds_checked >= 1);
	CHECK(!st.budget_exhausted);

	/* Not tried first: found by the scan, with a deadline far away. */
	query1(&q, inode_of(s2));
	CHECK_EQ_INT(bw_owner_find("/proc", 0, &q, bw_now_ns() + 10000000000ull, &st), 1);
	CHECK_EQ_INT(q.pid[0], getpid());
	CHECK_EQ_INT(q.fd[0], s2);
	CHECK(!st.budget_exhausted);

	/* stats may be NULL. */
	query1(&q, inode_of(s));
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, NULL), 1);
	CHECK_EQ_INT(q.fd[0], s);
	close(s);
	close(s2);
}

struct child {
	pid_t pid;
	int release; /* write end: closing it lets the child exit */
	uint64_t inode;
	int fd;
};

/* Forks a child that opens a socket of its own, reports its inode and fd,
 * then waits until released. */
static bool spawn_holder(struct child *c)
{
	int up[2], down[2];
	memset(c, 0, sizeof(*c));
	if (pipe(up) < 0 || pipe(down) < 0)
		return false;
	c->pid = fork();
	if (c->pid < 0)
		return false;
	if (c->pid == 0) {
		char b;
		int s = socket(AF_INET6, SOCK_DGRAM, 0);
		struct {
			uint64_t inode;
			int fd;
		} msg = {inode_of(s), s};
		close(up[0]);
		close(down[1]);
		if (write(up[1], &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			_exit(1);
		while (read(down[0], &b, 1) > 0)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	c->release = down[1];
	{
		struct {
			uint64_t inode;
			int fd;
		} msg;
		ssize_t n = read(up[0], &msg, sizeof(msg));
		close(up[0]);
		if (n != (ssize_t)sizeof(msg))
			return false;
		c->inode = msg.inode;
		c->fd = msg.fd;
	}
	return true;
}

static void reap(struct child *c)
{
	int status;
	close(c->release);
	if (c->pid > 0)
		waitpid(c->pid, &status, 0);
}

static void test_child(void)
{
	struct bw_owner_query q;
	struct bw_owner_stats st;
	struct child c;
	int mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(spawn_holder(&c));
	CHECK(c.inode != 0);
	/* Three at once: the child's, ours, and one nobody has. */
	memset(&q, 0, sizeof(q));
	q.n = 3;
	q.inode[0] = c.inode;
	q.inode[1] = inode_of(mine);
	q.inode[2] = NO_SUCH_INODE;
	q.uid[0] = q.uid[1] = q.uid[2] = geteuid();
	q.pid[2] = 12345; /* outputs are reset, whatever they held */
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, &st), 2);
	CHECK_EQ_INT(q.pid[0], c.pid);
	CHECK_EQ_INT(q.fd[0], c.fd);
	CHECK_EQ_INT(q.pid[1], getpid());
	CHECK_EQ_INT(q.fd[1], mine);
	CHECK_EQ_INT(q.pid[2], 0);
	CHECK_EQ_INT(q.fd[2], -1);
	CHECK(st.procs_scanned >= 2);
	reap(&c);
	close(mine);
}

static void test_missing(void)
{
	struct bw_owner_query q;
	struct bw_owner_stats st;

	query1(&q, NO_SUCH_INODE);
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, &st), 0);
	CHECK_EQ_INT(q.pid[0], 0);
	CHECK_EQ_INT(q.fd[0], -1);
	CHECK(st.procs_scanned >= 2); /* us, then everybody */
	CHECK(st.fds_checked > 3);
	CHECK(!st.budget_exhausted);

	/* inode 0 (TIME_WAIT) is never looked for. */
	query1(&q, 0);
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, &st), 0);
	CHECK_EQ_INT(q.pid[0], 0);
	CHECK_EQ_INT(st.procs_scanned, 0);

	/* An empty query and a missing proc root are harmless. */
	memset(&q, 0, sizeof(q));
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, &st), 0);
	query1(&q, 1);
	CHECK_EQ_INT(bw_owner_find("/nonexistent-bw-root", 0, &q, 0, &st), 0);
	CHECK_EQ_INT(q.pid[0], 0);
	CHECK_EQ_INT(st.procs_scanned, 0);
}

static void test_deadline(void)
{
	struct bw_owner_query q;
	struct bw_owner_stats st;
	struct child kids[20];
	size_t n = 0;

	/* Enough processes that the budget is checked at least once. */
	for (; n < 20; n++)
		if (!spawn_holder(&kids[n]))
			break;
	CHECK_EQ_INT(n, 20);
	query1(&q, NO_SUCH_INODE);
	CHECK_EQ_INT(bw_owner_find("/proc", 0, &q, 1 /* long past */, &st), 0);
	CHECK(st.budget_exhausted);
	CHECK(st.procs_scanned <= 16);
	/* Youngest first: each child holds copies of its elders' pipe ends. */
	while (n > 0)
		reap(&kids[--n]);
}

/* Without root, other users' fd tables are unreadable: counted, not found. */
static void test_unreadable(void)
{
	struct bw_owner_query q;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p[2], status;
	struct {
		size_t found;
		struct bw_owner_stats st;
		pid_t pid;
	} res;
	pid_t pid;

	if (geteuid() != 0) {
		printf("SKIP test_unreadable: needs root to drop to another uid\n");
		close(s);
		return;
	}
	query1(&q, inode_of(s));
	q.uid[0] = 0;
	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		close(s); /* or the child would find its own copy */
		memset(&res, 0, sizeof(res));
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		res.found = bw_owner_find("/proc", 0, &q, 0, &res.st);
		res.pid = q.pid[0];
		_exit(write(p[1], &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 3);
	}
	close(p[1]);
	memset(&res, 0xff, sizeof(res));
	CHECK_EQ_INT(read(p[0], &res, sizeof(res)), sizeof(res));
	close(p[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_INT(res.found, 0);
	CHECK_EQ_INT(res.pid, 0);
	CHECK(res.st.procs_unreadable >= 1);
	close(s);
}

/* The committed fixture tree has process directories but no fd tables
 * (like zombies): nothing is found, nothing counted, nothing crashes. */
static void test_fixture_root(void)
{
	char root[4096];
	struct bw_owner_query q;
	struct bw_owner_stats st;

	check_fixture(root, sizeof(root), "procroot");
	query1(&q, NO_SUCH_INODE);
	CHECK_EQ_INT(bw_owner_find(root, 4242, &q, 0, &st), 0);
	CHECK_EQ_INT(q.pid[0], 0);
	CHECK_EQ_INT(q.fd[0], -1);
	CHECK_EQ_INT(st.procs_scanned, 0);
	CHECK_EQ_INT(st.procs_unreadable, 0);
	CHECK_EQ_INT(st.fds_checked, 0);
}

/* A socket file (bound, closed, left behind) standing in for a socket:
 * stat() through an fd link to it says S_ISSOCK, with the file's inode. */
static uint64_t socket_file(const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct stat st;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (s < 0 || bind(s, (struct sockaddr *)&un, sizeof(un)) < 0) {
		CHECK(!"bind a socket file");
		return 0;
	}
	close(s);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* A proc tree built here: 100 holds a.sock on fd 3 and b.sock on fd 4
 * (plus /dev/null and a regular file), 200 holds c.sock on fd 7, 300 has
 * no fd table, and "net" is not a process. */
static void test_built_root(void)
{
	char root[] = "/tmp/bw-owner-XXXXXX", p[256], t[256];
	struct bw_owner_query q;
	struct bw_owner_stats st;
	uint64_t a, b, c;
	int f;

	if (!mkdtemp(root)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(p, sizeof(p), "%s/a.sock", root);
	a = socket_file(p);
	snprintf(p, sizeof(p), "%s/b.sock", root);
	b = socket_file(p);
	snprintf(p, sizeof(p), "%s/c.sock", root);
	c = socket_file(p);
	snprintf(p, sizeof(p), "%s/plain", root);
	f = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(f);
	for (const char *const *d = (const char *const[]){"100", "100/fd", "200", "200/fd", "300", "net", NULL};
	     *d; d++) {
		snprintf(p, sizeof(p), "%s/%s", root, *d);
		CHECK_EQ_INT(mkdir(p, 0755), 0);
	}
	static const struct {
		const char *link, *target;
	} links[] = {{"100/fd/0", "/dev/null"}, {"100/fd/3", "a.sock"}, {"100/fd/4", "b.sock"},
		     {"100/fd/5", "plain"}, {"200/fd/7", "c.sock"}};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, links[i].link);
		if (links[i].target[0] == '/')
			snprintf(t, sizeof(t), "%s", links[i].target);
		else
			snprintf(t, sizeof(t), "%s/%s", root, links[i].target);
		/* A socket's fd link reads "socket:[INODE]", as proc's does. */
		if (strstr(links[i].target, ".sock")) {
			struct stat sst;
			CHECK_EQ_INT(stat(t, &sst), 0);
			snprintf(t, sizeof(t), "socket:[%lu]", (unsigned long)sst.st_ino);
		}
		CHECK_EQ_INT(symlink(t, p), 0);
	}

	memset(&q, 0, sizeof(q));
	q.n = 4;
	q.inode[0] = c;
	q.inode[1] = b;
	q.inode[2] = NO_SUCH_INODE;
	q.inode[3] = a;
	CHECK(a && b && c);
	CHECK_EQ_INT(bw_owner_find(root, 0, &q, 0, &st), 3);
	CHECK_EQ_INT(q.pid[0], 200);
	CHECK_EQ_INT(q.fd[0], 7);
	CHECK_EQ_INT(q.pid[1], 100);
	CHECK_EQ_INT(q.fd[1], 4);
	CHECK_EQ_INT(q.pid[2], 0);
	CHECK_EQ_INT(q.fd[2], -1);
	CHECK_EQ_INT(q.pid[3], 100);
	CHECK_EQ_INT(q.fd[3], 3);
	/* 300 has no fd table: neither scanned nor "unreadable". */
	CHECK_EQ_INT(st.procs_scanned, 2);
	CHECK_EQ_INT(st.procs_unreadable, 0);
	CHECK_EQ_INT(st.fds_checked, 5);

	/* 'first' naming a pid without an fd table is harmless too; with
	 * everything found, the scan stops early. */
	query1(&q, c);
	CHECK_EQ_INT(bw_owner_find(root, 300, &q, 0, &st), 1);
	CHECK_EQ_INT(q.pid[0], 200);
	CHECK_EQ_INT(q.fd[0], 7);
	query1(&q, a);
	CHECK_EQ_INT(bw_owner_find(root, 100, &q, 0, &st), 1);
	CHECK_EQ_INT(st.procs_scanned, 1);

	/* Worker threads (the CLI) give the same answers. */
	memset(&q, 0, sizeof(q));
	q.n = 3;
	q.inode[0] = a;
	q.inode[1] = c;
	q.inode[2] = NO_SUCH_INODE;
	CHECK_EQ_INT(bw_owner_find_parallel(root, 0, &q, 0, &st, 4), 2);
	CHECK_EQ_INT(q.pid[0], 100);
	CHECK_EQ_INT(q.fd[0], 3);
	CHECK_EQ_INT(q.pid[1], 200);
	CHECK_EQ_INT(q.fd[1], 7);
	CHECK_EQ_INT(st.procs_scanned, 2);

	check_rm_rf(root);
}

/* With q.hits, every process that has the socket open: here, this one
 * and a child forked after the socket was made; with the child named
 * first, neither the scan's start nor an early stop hides the other. */
static void test_all_holders(void)
{
	struct bw_owner_hit hits[4];
	struct bw_owner_query q;
	struct bw_owner_stats st;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p[2];
	bool seen_self = false, seen_child = false;
	pid_t kid;
	char b;

	CHECK(s >= 0 && pipe(p) == 0);
	kid = fork();
	if (kid == 0) {
		close(p[1]);
		while (read(p[0], &b, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	query1(&q, inode_of(s));
	q.hits = hits;
	q.hits_cap = 4;
	CHECK_EQ_INT(bw_owner_find("/proc", kid, &q, 0, &st), 1);
	CHECK_EQ_INT(q.pid[0], kid);
	CHECK_EQ_INT(q.n_hits, 2);
	CHECK_EQ_INT(q.hits_dropped, 0);
	for (size_t i = 0; i < q.n_hits; i++) {
		CHECK_EQ_INT(hits[i].slot, 0);
		CHECK_EQ_INT(hits[i].fd, s);
		seen_self |= hits[i].pid == getpid();
		seen_child |= hits[i].pid == kid;
	}
	CHECK(seen_self && seen_child);
	/* A second scan into the same storage adds nothing twice. */
	CHECK_EQ_INT(bw_owner_find_parallel("/proc", 0, &q, 0, &st, 3), 1);
	CHECK_EQ_INT(q.n_hits, 2);
	/* No room: counted, not kept. */
	q.n_hits = 0;
	q.hits_cap = 1;
	CHECK_EQ_INT(bw_owner_find("/proc", getpid(), &q, 0, &st), 1);
	CHECK_EQ_INT(q.n_hits, 1);
	CHECK_EQ_INT(q.hits_dropped, 1);
	close(p[1]);
	waitpid(kid, NULL, 0);
	close(s);
}

/* How many fds process pid has open, by listing /proc/pid/fd. */
static unsigned open_fds(pid_t pid)
{
	char path[64];
	unsigned n = 0;
	struct dirent *d;
	DIR *dir;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* fds where the child puts them, with holes: 7 after seven closed ones,
 * then 40, 100, 101 and 900 after long gaps. The fd numbers are read one
 * by one while they come densely and listed after a long gap: every fd is
 * checked once, each socket found at its number, whatever the holes. */
static void test_sparse_fds(void)
{
	static const int at[3] = {7, 40, 900};
	struct bw_owner_hit hits[8];
	struct bw_owner_query q;
	struct bw_owner_stats st;
	uint64_t ino[3];
	int up[2], down[2];
	pid_t kid;

	CHECK(pipe(up) == 0 && pipe(down) == 0);
	kid = fork();
	if (kid == 0) {
		char b;
		if (dup2(up[1], 100) < 0 || dup2(down[0], 101) < 0)
			_exit(1);
		for (int fd = 0; fd < 100; fd++)
			close(fd);
		for (int i = 0; i < 3; i++) {
			int s = socket(AF_UNIX, SOCK_DGRAM, 0);
			uint64_t v = inode_of(s);
			if (s < 0 || dup2(s, at[i]) != at[i] || (s != at[i] && close(s) < 0) ||
			    write(100, &v, sizeof(v)) != (ssize_t)sizeof(v))
				_exit(2);
		}
		while (read(101, &b, 1) > 0)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	/* One write per socket: read until all three came. */
	for (size_t got = 0; got < sizeof(ino);) {
		ssize_t n = read(up[0], (char *)ino + got, sizeof(ino) - got);
		CHECK(n > 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	memset(&q, 0, sizeof(q));
	q.n = 3;
	for (int i = 0; i < 3; i++) {
		q.inode[i] = ino[i];
		q.uid[i] = geteuid();
	}
	q.hits = hits;
	q.hits_cap = 8;
	CHECK_EQ_INT(bw_owner_find_pids("/proc", 0, &kid, 1, &q, 0, &st, 1), 3);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(q.pid[i], kid);
		CHECK_EQ_INT(q.fd[i], at[i]);
	}
	CHECK_EQ_INT(q.n_hits, 3);
	CHECK_EQ_INT(st.procs_scanned, 1);
	/* 7, 40, 100, 101, 900, and what valgrind keeps open in it. */
	CHECK_EQ_INT(st.fds_checked, open_fds(kid));
	close(down[1]);
	close(up[0]);
	waitpid(kid, NULL, 0);
}

/* A child and a grandchild (forked by the child) keep our socket: the
 * descendants of the hits so far are searched, a skipped pid is not
 * searched but its own children are, and without hits nothing runs. */
static void test_descendants(void)
{
	struct bw_owner_hit hits[8];
	struct bw_owner_query q;
	struct bw_owner_stats st;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p[2], ready[2];
	pid_t kid, grandkid = 0;
	bool partial = true, seen_kid = false, seen_grandkid = false;
	char b;

	CHECK(s >= 0 && pipe(p) == 0 && pipe(ready) == 0);
	kid = fork();
	if (kid == 0) {
		pid_t g;
		close(p[1]);
		close(ready[0]);
		g = fork();
		if (g == 0) {
			while (read(p[0], &b, 1) > 0)
				;
			_exit(0);
		}
		if (write(ready[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
			_exit(1);
		while (read(p[0], &b, 1) > 0)
			;
		waitpid(g, NULL, 0);
		_exit(0);
	}
	close(p[0]);
	close(ready[1]);
	CHECK(read(ready[0], &grandkid, sizeof(grandkid)) == (ssize_t)sizeof(grandkid));
	close(ready[0]);

	/* Without hits: nothing to follow. */
	query1(&q, inode_of(s));
	CHECK_EQ_INT(bw_owner_find_descendants("/proc", NULL, 0, &q, 0, &st, 1, &partial), 0);
	CHECK(!partial);

	/* Our own hit: the child and the grandchild follow. */
	query1(&q, inode_of(s));
	q.hits = hits;
	q.hits_cap = 8;
	hits[0] = (struct bw_owner_hit){.slot = 0, .pid = getpid(), .fd = s};
	q.n_hits = 1;
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bw_owner_find_descendants("/proc", NULL, 0, &q, 0, &st, 3, &partial), 2);
	CHECK(!partial);
	CHECK_EQ_INT(q.n_hits, 3);
	for (size_t i = 1; i < q.n_hits; i++) {
		CHECK_EQ_INT(hits[i].fd, s);
		seen_kid |= hits[i].pid == kid;
		seen_grandkid |= hits[i].pid == grandkid;
	}
	CHECK(seen_kid && seen_grandkid);
	CHECK_EQ_INT(st.procs_scanned, 2);

	/* The child already searched (skip): only the grandchild is read. */
	q.n_hits = 1;
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bw_owner_find_descendants("/proc", &kid, 1, &q, 0, &st, 1, &partial), 1);
	CHECK_EQ_INT(hits[1].pid, grandkid);
	CHECK_EQ_INT(st.procs_scanned, 1);

	close(p[1]);
	waitpid(kid, NULL, 0);
	close(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_self();
	test_child();
	test_missing();
	test_deadline();
	test_unreadable();
	test_fixture_root();
	test_built_root();
	test_all_holders();
	test_sparse_fds();
	test_descendants();
	return check_done("owner");
}
