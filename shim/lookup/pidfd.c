#include "lookup/pidfd.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* PIDFD_GET_INFO (Linux 6.13, include/uapi/linux/pidfd.h): struct
 * pidfd_info's first version is 64 bytes (its size is part of the
 * request): u64 mask (0: the basic fields), u64 cgroupid, then u32 pid,
 * tgid, ppid, ... ppid lies at byte 24. */
#define BW_PIDFD_INFO_SIZE 64
#define BW_PIDFD_INFO_PPID 24
#define BW_PIDFD_GET_INFO _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, BW_PIDFD_INFO_SIZE)

int bw_pidfd_ppid(pid_t pid, pid_t *ret_ppid)
{
	unsigned char info[BW_PIDFD_INFO_SIZE] = {0};
	uint32_t ppid;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), r;
	if (pidfd < 0)
		return -errno;
	r = ioctl(pidfd, BW_PIDFD_GET_INFO, info) < 0 ? -errno : 0;
	close(pidfd);
	if (r < 0)
		return r == -EINVAL || r == -ENOTTY ? -EOPNOTSUPP : r;
	memcpy(&ppid, info + BW_PIDFD_INFO_PPID, sizeof(ppid));
	*ret_ppid = (pid_t)ppid;
	return 0;
}
