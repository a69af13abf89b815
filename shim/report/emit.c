#include "report/emit.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

/* Records no destination took (a full pipe or a syslog that stopped
 * reading refuse rather than block); the next record that gets through
 * says so. */
static atomic_uint dropped;

/* "bindwatch: N records dropped ...\n" into line when records were
 * dropped since the last delivery (the count is taken: the caller hands
 * it back with undrop() if this one fails too); its length, or 0. */
static size_t drop_note(char *line, size_t size, unsigned *taken)
{
	int n;
	*taken = atomic_exchange(&dropped, 0);
	if (*taken == 0)
		return 0;
	n = snprintf(line, size,
		     "bindwatch: %u earlier record%s dropped (its destination was full or gone)\n",
		     *taken, *taken == 1 ? "" : "s");
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static void undrop(unsigned taken)
{
	if (taken)
		atomic_fetch_add(&dropped, taken);
}

/* How write_nosigpipe writes. */
enum write_how {
	WRITE_PLAIN,  /* writev(2): fd is non-blocking, a regular file or a terminal */
	WRITE_NOWAIT, /* pwritev2(2) RWF_NOWAIT on a blocking pipe: -EAGAIN when full,
		       * -EOPNOTSUPP from a kernel whose pipes lack
		       * FMODE_NOWAIT (fs/read_write.c, kiocb_set_rw_flags) or
		       * from a terminal, -ENOSYS before Linux 4.6 */
	WRITE_POLL,   /* poll(2) POLLOUT with no wait, then at most PIPE_BUF bytes,
		       * a pipe write that one free buffer takes whole (fs/pipe.c,
		       * pipe_poll and pipe_write); another writer in between may
		       * still fill it first: the last resort only */
};

static ssize_t write_some(int fd, const struct iovec *iov, int cnt, enum write_how how)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	struct iovec part[2];
	size_t room = PIPE_BUF;
	int n = 0;

	switch (how) {
	case WRITE_NOWAIT:
		return pwritev2(fd, iov, cnt, -1, RWF_NOWAIT);
	case WRITE_POLL:
		if (poll(&p, 1, 0) < 0)
			return -1;
		if (!(p.revents & POLLOUT)) {
			errno = (p.revents & (POLLERR | POLLHUP)) ? EPIPE : EAGAIN;
			return -1;
		}
		for (; n < cnt && n < 2 && room > 0; n++) {
			part[n] = iov[n];
			if (part[n].iov_len > room)
				part[n].iov_len = room;
			room -= part[n].iov_len;
		}
		return writev(fd, part, n);
	default:
		return writev(fd, iov, cnt);
	}
}

/* writev(2) of the note and the record to fd with SIGPIPE blocked in this
 * thread: a reader that went away is -EPIPE, never a signal that kills the
 * program (the way libraries avoid SIGPIPE: a SIGPIPE that was not pending
 * before but is now is ours, consumed with a zero-timeout sigtimedwait).
 * fd is non-blocking or a regular file, or how makes the write so: -EAGAIN
 * when a pipe is full. */
static int write_nosigpipe(int fd, struct iovec *iov, int cnt, enum write_how how)
{
	static const struct timespec zero = {0, 0};
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int r = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (cnt > 0) {
		ssize_t w = write_some(fd, iov, cnt, how);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		/* A part written (a pipe past PIPE_BUF): on with the rest. */
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Writes buf to fd 2 and never blocks the program or signals it: a socket
 * (journald's stream) gets MSG_NOSIGNAL|MSG_DONTWAIT; a regular file is
 * written as it is (the program's O_APPEND applies); anything else (a pipe,
 * a FIFO, a terminal) through a new open file description of it with
 * O_NONBLOCK (/proc/self/fd/2 reopens the pipe itself, so the program's
 * own flags on fd 2 are untouched) and SIGPIPE blocked around the write;
 * a pipe that can't be reopened is written on fd 2 itself in a way that
 * can't block (write_how).
 * A destination that would block refuses the record (-EAGAIN); bw_emit
 * counts it and the next record that gets through says so. */
int bw_emit_stderr(const char *buf, size_t len)
{
	char note[128];
	unsigned taken;
	size_t nlen = drop_note(note, sizeof(note), &taken);
	struct iovec iov[2] = {{note, nlen}, {(void *)buf, len}};
	struct iovec *v = nlen ? iov : iov + 1;
	int cnt = nlen ? 2 : 1, fd, r;
	struct stat st;

	if (fstat(2, &st) < 0) {
		r = -errno;
	} else if (S_ISSOCK(st.st_mode)) {
		struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)cnt};
		ssize_t w;
		do
			w = sendmsg(2, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		r = w < 0 ? -errno : 0;
	} else if (S_ISREG(st.st_mode)) {
		r = write_nosigpipe(2, v, cnt, WRITE_PLAIN);
	} else {
		/* O_NOCTTY: reopening a terminal must not make it ours. */
		fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			r = write_nosigpipe(fd, v, cnt, WRITE_PLAIN);
			close(fd);
		} else if (S_ISCHR(st.st_mode)) {
			/* No /proc, or a terminal we may not reopen: it is
			 * written as it is (a terminal blocks only when
			 * stopped by ^S). */
			r = write_nosigpipe(2, v, cnt, WRITE_PLAIN);
		} else if (errno == ENXIO) {
			/* A FIFO nobody reads any more. */
			r = -EPIPE;
		} else {
			/* A pipe we may not reopen (EACCES: the program
			 * runs as another user than the pipe's owner, e.g.
			 * runuser -u nobody -- CMD 2>&1 | tee log; pipefs
			 * inodes are mode 0600) or no /proc: fd 2 itself,
			 * with a write that can't block, the program's
			 * flags untouched. */
			r = write_nosigpipe(2, v, cnt, nonblocking(2) ? WRITE_PLAIN : WRITE_NOWAIT);
			if (r == -EOPNOTSUPP || r == -ENOSYS || r == -EINVAL)
				r = write_nosigpipe(2, v, cnt, WRITE_POLL);
		}
	}
	if (r < 0)
		undrop(taken);
	return r;
}

int bw_emit_syslog(const char *buf, size_t len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	char msg[16384];
	unsigned taken;
	int fd, n, r = 0;
	size_t nlen;

	/* <28> = LOG_DAEMON | LOG_WARNING */
	n = snprintf(msg, sizeof(msg), "<28>bindwatch[%d]: ", (int)getpid());
	if (n < 0)
		return -EINVAL;
	nlen = drop_note(msg + n, sizeof(msg) - (size_t)n, &taken);
	n += (int)nlen;
	if (len > sizeof(msg) - (size_t)n)
		len = sizeof(msg) - (size_t)n;
	memcpy(msg + n, buf, len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		undrop(taken);
		return -errno;
	}
	/* MSG_DONTWAIT: a syslog daemon that stopped reading fills the
	 * socket's queue (net.unix.max_dgram_qlen datagrams) and would block
	 * the program's bind() for good; the record is dropped and counted. */
	if (sendto(fd, msg, (size_t)n + len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sun,
		   sizeof(sun)) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		undrop(taken);
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

static int emit_route(const struct bw_settings *s, const char *buf, size_t len)
{
	int r;
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

int bw_emit(const struct bw_settings *s, const char *buf, size_t len)
{
	int r;
	if (s->trace == BW_TRACE_OFF)
		return 0;
	r = emit_route(s, buf, len);
	if (r < 0)
		atomic_fetch_add(&dropped, 1);
	return r;
}

int bw_emit_warning(const char *buf, size_t len)
{
	int r = default_route(buf, len);
	if (r < 0)
		atomic_fetch_add(&dropped, 1);
	return r;
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
