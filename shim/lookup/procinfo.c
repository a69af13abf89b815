#include "lookup/procinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/sysio.h"
#include "lookup/users.h"

int bw_proc_parse_stat(const char *buf, char *comm, size_t comm_size, pid_t *ppid,
		       unsigned long long *starttime)
{
	/* "pid (comm) S ppid ..." — comm can hold ')' so take the last one
	 * (proc(5)). starttime is field 22. */
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	const char *p;
	size_t n;
	if (!open || !close || close < open)
		return -EINVAL;
	n = (size_t)(close - open - 1);
	if (n >= comm_size)
		n = comm_size - 1;
	memcpy(comm, open + 1, n);
	comm[n] = '\0';
	p = close + 1;
	/* fields 3.. : state(3) ppid(4) ... starttime(22) */
	for (int field = 3; field <= 22; field++) {
		char *end;
		unsigned long long v;
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (field == 3) {
			p++;
			continue;
		}
		v = strtoull(p, &end, 10);
		if (end == p && *p != '-')
			return -EINVAL;
		if (end == p)
			v = strtoull(p + 1, &end, 10);
		if (field == 4)
			*ppid = (pid_t)v;
		if (field == 22)
			*starttime = v;
		p = end;
	}
	return 0;
}

size_t bw_proc_join_cmdline(const char *raw, size_t n, char *out, size_t size)
{
	size_t len;
	if (size == 0)
		return 0;
	while (n > 0 && raw[n - 1] == '\0')
		n--;
	len = n < size - 1 ? n : size - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = raw[i] ? raw[i] : ' ';
	out[len] = '\0';
	return len;
}

/* One piece of whole lines of /proc/stat: the "btime" line ends the read. */
static int find_btime(const char *lines, size_t n, void *ctx)
{
	for (const char *l = lines, *end = lines + n; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l);
		if (len > 6 && memcmp(l, "btime ", 6) == 0) {
			char num[24];
			size_t k = len - 6 < sizeof(num) - 1 ? len - 6 : sizeof(num) - 1;
			memcpy(num, l + 6, k);
			num[k] = '\0';
			*(time_t *)ctx = (time_t)strtoll(num, NULL, 10);
			return 1;
		}
		l += len + 1;
	}
	return 0;
}

/* btime comes after a line per CPU and the "intr" line (a count per
 * interrupt): well past any fixed buffer on a big machine, so the file is
 * streamed. */
time_t bw_proc_boot_time(const char *proc_root)
{
	char path[256], buf[4096];
	time_t btime = 0;
	snprintf(path, sizeof(path), "%s/stat", proc_root);
	bw_read_lines_at(AT_FDCWD, path, buf, sizeof(buf), find_btime, &btime);
	return btime;
}

void bw_proc_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = bw_read_file_at(AT_FDCWD, path, buf, size);
	if (n < 0 && size)
		buf[0] = '\0';
	else if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

int bw_proc_stat_field(const char *buf, int field, unsigned long long *ret)
{
	/* Fields after comm are separated by single spaces (proc(5)). */
	const char *p = strrchr(buf, ')');
	if (!p || field < 4)
		return -EINVAL;
	p++;
	for (int f = 3; f <= field; f++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (f == field) {
			char *end;
			*ret = strtoull(p, &end, 10);
			return end == p ? -EINVAL : 0;
		}
		p += strcspn(p, " ");
	}
	return -EINVAL;
}

unsigned long long bw_proc_startstack(const char *proc_root, pid_t pid)
{
	char path[256], buf[1024];
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)pid);
	if (bw_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0 ||
	    bw_proc_stat_field(buf, 28, &v) < 0)
		return 0;
	return v;
}

int bw_proc_ppid(const char *proc_root, pid_t pid, pid_t *ret_ppid)
{
	char path[256], buf[1024];
	unsigned long long v;
	ssize_t n;
	int r;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)pid);
	n = bw_read_file_at(AT_FDCWD, path, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	r = bw_proc_stat_field(buf, 4, &v);
	if (r < 0)
		return r;
	*ret_ppid = (pid_t)v;
	return 0;
}

/* PIDFD_GET_INFO (Linux 6.13, include/uapi/linux/pidfd.h): struct
 * pidfd_info's first version is 64 bytes (its size is part of the
 * request): u64 mask (0: the basic fields), u64 cgroupid, then u32 pid,
 * tgid, ppid, ... ppid lies at byte 24. */
#define BW_PIDFD_INFO_SIZE 64
#define BW_PIDFD_INFO_PPID 24
#define BW_PIDFD_GET_INFO _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, BW_PIDFD_INFO_SIZE)

int bw_proc_ppid_pidfd(pid_t pid, pid_t *ret_ppid)
{
	unsigned char info[BW_PIDFD_INFO_SIZE] = {0};
	uint32_t ppid;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), r;
	if (pidfd < 0)
		return -errno;
	r = ioctl(pidfd, BW_PIDFD_GET_INFO, info) < 0 ? -errno : 0;
	close(pidfd);
	if (r < 0)
		return r;
	memcpy(&ppid, info + BW_PIDFD_INFO_PPID, sizeof(ppid));
	*ret_ppid = (pid_t)ppid;
	return 0;
}

int bw_proc_exe_id(const char *proc_root, pid_t pid, dev_t *ret_dev, ino_t *ret_ino)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
	if (stat(path, &st) < 0)
		return -errno;
	*ret_dev = st.st_dev;
	*ret_ino = st.st_ino;
	return 0;
}

/* Uid (effective), NSpid and SigCgt from status (proc(5)). */
static void read_status(int dfd, struct bw_proc *pr)
{
	char buf[4096];
	const char *p;
	if (bw_read_file_at(dfd, "status", buf, sizeof(buf)) < 0)
		return;
	p = strstr(buf, "\nSigCgt:");
	if (p) {
		/* A hex mask, bit N-1 for signal N. */
		unsigned long long mask = strtoull(p + 8, NULL, 16);
		pr->catches_term = (mask >> (SIGTERM - 1)) & 1;
	}
	p = strstr(buf, "\nNSpid:");
	if (p) {
		/* "NSpid: 4242 1": the pid in each namespace, ours first. */
		const char *end = strchr(p + 1, '\n');
		long last = 0;
		int fields = 0;
		const char *q = p + 7;
		while ((!end || q < end) && fields < 64) {
			char *next;
			long v = strtol(q, &next, 10);
			if (next == q)
				break;
			last = v;
			fields++;
			q = next;
		}
		pr->ns_init = fields > 1 && last == 1;
	}
	p = strstr(buf, "\nUid:");
	if (!p)
		return;
	/* "Uid: real effective saved fs": report the effective uid */
	p += 5;
	strtoul(p, (char **)&p, 10);
	pr->uid = (uid_t)strtoul(p, NULL, 10);
	pr->have_uid = true;
}

/* A service started by socket activation finds its sockets through
 * LISTEN_FDS, and they are its own only when LISTEN_PID is its pid
 * (sd_listen_fds(3): a child that inherited the environment has none);
 * readable for our own uid, or as root. */
static void read_listen_fds(int dfd, pid_t pid, struct bw_proc *pr)
{
	char buf[16384];
	long fds = -1, lpid = -1;
	ssize_t n = bw_read_file_at(dfd, "environ", buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		if (strncmp(buf + i, "LISTEN_FDS=", 11) == 0)
			fds = strtol(buf + i + 11, NULL, 10);
		else if (strncmp(buf + i, "LISTEN_PID=", 11) == 0)
			lpid = strtol(buf + i + 11, NULL, 10);
	}
	if (fds > 0 && fds < 65536 && lpid == (long)pid) {
		pr->listen_fds = true;
		pr->n_listen_fds = (int)fds;
	}
}

static void read_cgroup(int dfd, struct bw_proc *pr)
{
	char buf[2048];
	const char *p;
	if (bw_read_file_at(dfd, "cgroup", buf, sizeof(buf)) < 0)
		return;
	/* Prefer the unified hierarchy line "0::/path" (cgroups(7)). */
	p = strstr(buf, "0::");
	if (p && (p == buf || p[-1] == '\n'))
		p += 3;
	else
		p = buf;
	size_t n = strcspn(p, "\n");
	if (n >= sizeof(pr->cgroup))
		n = sizeof(pr->cgroup) - 1;
	memcpy(pr->cgroup, p, n);
	pr->cgroup[n] = '\0';
}

static bool is_hex64(const char *p)
{
	for (int i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

void bw_proc_cgroup_identity(const char *cgroup, char *unit, size_t unit_size, char *container,
			     size_t container_size)
{
	const char *p = cgroup;
	if (unit_size)
		unit[0] = '\0';
	if (container_size)
		container[0] = '\0';
	/* The innermost component that names a unit wins: user@.service is an
	 * outer manager, app.service inside it the holder's own unit. */
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		static const char *const suffixes[] = {".service", ".scope", ".socket", ".slice"};
		for (size_t i = 0; i < 3; i++) { /* not .slice: a slice is no unit of its own */
			size_t sl = strlen(suffixes[i]);
			if (n > sl && n < unit_size && memcmp(p + n - sl, suffixes[i], sl) == 0) {
				memcpy(unit, p, n);
				unit[n] = '\0';
			}
		}
		/* docker-<id>.scope, libpod-<id>.scope, cri-containerd-<id>.scope,
		 * or a bare /docker/<id>: the first 64-hex run is the container. */
		for (size_t i = 0; container_size > 64 && !container[0] && i + 64 <= n; i++) {
			if ((i == 0 || p[i - 1] == '-') && is_hex64(p + i) &&
			    (i + 64 == n || p[i + 64] == '.')) {
				memcpy(container, p + i, 64);
				container[64] = '\0';
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
}

int bw_proc_info(const char *proc_root, pid_t pid, struct bw_proc *ret)
{
	char path[256], buf[4096];
	unsigned long long start = 0;
	ssize_t n;
	int dfd;

	memset(ret, 0, sizeof(*ret));
	ret->pid = pid;
	snprintf(path, sizeof(path), "%s/%d", proc_root, (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (bw_read_file_at(dfd, "stat", buf, sizeof(buf)) > 0 &&
	    bw_proc_parse_stat(buf, ret->comm, sizeof(ret->comm), &ret->ppid, &start) == 0 &&
	    start > 0) {
		long hz = sysconf(_SC_CLK_TCK);
		time_t boot = bw_proc_boot_time(proc_root);
		if (hz > 0 && boot > 0)
			ret->start = boot + (time_t)(start / (unsigned long long)hz);
	}
	n = bw_read_file_at(dfd, "cmdline", buf, sizeof(buf));
	if (n > 0) {
		/* Trailing NULs are padding (setproctitle()), not content. */
		size_t content = (size_t)n;
		while (content > 0 && buf[content - 1] == '\0')
			content--;
		ret->cmdline_len = bw_proc_join_cmdline(buf, (size_t)n, ret->cmdline,
							sizeof(ret->cmdline));
		ret->cmdline_truncated = (size_t)n >= sizeof(buf) - 1 ||
					 ret->cmdline_len < content;
	}
	read_status(dfd, ret);
	read_cgroup(dfd, ret);
	read_listen_fds(dfd, pid, ret);
	bw_proc_cgroup_identity(ret->cgroup, ret->unit, sizeof(ret->unit), ret->container,
				sizeof(ret->container));
	close(dfd);
	if (ret->have_uid)
		bw_user_name(ret->uid, ret->user, sizeof(ret->user));
	return 0;
}
