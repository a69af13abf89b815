#include "lookup/pidfd.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int bw_pidfd_getfd(pid_t pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int dup, err;
	if (pidfd < 0)
		return -errno;
	dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0); /* O_CLOEXEC is implied */
	err = errno;
	close(pidfd);
	return dup < 0 ? -err : dup;
}
