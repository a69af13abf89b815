#include "report/emit.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fmt.h"
#include "basic/sysio.h"

static bool is_devnull(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

/* What fd 2 was when the program started. */
static struct {
	bool valid;
	dev_t dev;
	ino_t ino;
} start_stderr;

void bw_emit_capture_stderr(void)
{
	struct stat st;
	start_stderr.valid = fstat(2, &st) == 0 && !is_devnull(&st);
	if (start_stderr.valid) {
		start_stderr.dev = st.st_dev;
		start_stderr.ino = st.st_ino;
	}
}

/* fd 2 may take a record: the stderr the program started with (unless
 * /dev/null), or a log the program put there itself: a regular file open
 * write-only in append mode (nginx's dup2(error_log, 2), freopen(log, "a",
 * stderr)) or the write end of a pipe or FIFO (a logger). Anything else
 * that fd 2 became after start-up (a socket: writing there would corrupt
 * the program's traffic or raise SIGPIPE; a data file; /dev/null from
 * daemon(3)) is not ours to write: syslog instead. */
static bool stderr_usable(void)
{
	struct stat st;
	int fl;
	if (fstat(2, &st) < 0)
		return false;
	if (start_stderr.valid && st.st_dev == start_stderr.dev && st.st_ino == start_stderr.ino)
		return true;
	fl = fcntl(2, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_WRONLY)
		return false;
	return (S_ISREG(st.st_mode) && (fl & O_APPEND)) || S_ISFIFO(st.st_mode);
}

/* No syslog socket either: fd 2 as a last resort when it is open for
 * writing and not a socket (a terminal, a pipe, /dev/null, a file opened
 * write-only): where the program's own error messages go. */
static bool stderr_last_resort(void)
{
	struct stat st;
	int fl = fcntl(2, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY || fstat(2, &st) < 0 || S_ISSOCK(st.st_mode))
		return false;
	return !S_ISREG(st.st_mode) || (fl & O_ACCMODE) == O_WRONLY;
}

/* Writes to fd 2; a socket there (journald's stream) gets MSG_NOSIGNAL so
 * a closed peer can't kill the program with SIGPIPE. */
int bw_emit_stderr(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = send(2, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			return bw_write_all(2, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int bw_emit_syslog(const char *buf, size_t len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	char msg[16384];
	int fd, n, r = 0;

	/* <28> = LOG_DAEMON | LOG_WARNING */
	n = snprintf(msg, sizeof(msg), "<28>bindwatch[%d]: ", (int)getpid());
	if (n < 0)
		return -EINVAL;
	if (len > sizeof(msg) - (size_t)n)
		len = sizeof(msg) - (size_t)n;
	memcpy(msg + n, buf, len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, (size_t)n + len, MSG_NOSIGNAL, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* syslog, or fd 2 as the last resort when there is no syslog socket. */
static int to_syslog(const char *buf, size_t len)
{
	int r = bw_emit_syslog(buf, len);
	if (r < 0 && stderr_last_resort() && bw_emit_stderr(buf, len) == 0)
		return 0;
	return r;
}

/* stderr when usable, else syslog (else the last resort). */
static int default_route(const char *buf, size_t len)
{
	if (stderr_usable() && bw_emit_stderr(buf, len) == 0)
		return 0;
	return to_syslog(buf, len);
}

int bw_emit(const struct bw_settings *s, const char *buf, size_t len)
{
	int r;
	if (s->trace == BW_TRACE_OFF)
		return 0;
	switch (s->dest) {
	case BW_DEST_FILE:
		r = bw_append_file(s->log_path, buf, len);
		if (r == 0)
			return 0;
		/* Nothing written there: say why once, and deliver the record
		 * the default way rather than lose it. */
		bw_emit_file_warning("BINDWATCH_LOG", s->log_path, r);
		return default_route(buf, len);
	case BW_DEST_SYSLOG:
		return to_syslog(buf, len);
	default:
		return default_route(buf, len);
	}
}

int bw_emit_warning(const char *buf, size_t len)
{
	return default_route(buf, len);
}

void bw_emit_file_warning(const char *var, const char *path, int err)
{
	static atomic_int warned_log, warned_port;
	atomic_int *once = strcmp(var, "BINDWATCH_LOG") == 0 ? &warned_log : &warned_port;
	const char *why;
	char line[512];
	struct bw_buf b = BW_BUF_INIT(line, sizeof(line));

	if (atomic_exchange(once, 1))
		return;
	switch (err) {
	case -ELOOP:
		why = "is a symbolic link";
		break;
	case -ENXIO:
	case -EINVAL:
		why = "is not a regular file";
		break;
	case -EPERM:
		why = "is owned by another user";
		break;
	default:
		why = "cannot be opened for appending";
		break;
	}
	bw_buf_printf(&b, "bindwatch: warning: %s=", var);
	bw_buf_escape(&b, path, strnlen(path, 200));
	bw_buf_printf(&b, " %s (errno %d); nothing is written there (accepted: a regular file owned"
			  " by uid %u, or a new one, created mode 0600)\n",
		      why, -err, (unsigned)geteuid());
	if (b.truncated)
		line[sizeof(line) - 2] = '\n';
	bw_emit_warning(line, strlen(line));
}
