#include "lookup/netdev.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int bw_netdev_name(uint32_t ifindex, char *buf, size_t size)
{
	struct ifreq ifr;
	int fd, r = 0;

	if (ifindex == 0 || ifindex > INT32_MAX || size == 0)
		return -EINVAL;
	/* Any socket reaches dev_ioctl() (net/socket.c sock_do_ioctl()):
	 * AF_INET, which a host that binds inet sockets may create, else
	 * AF_UNIX (RestrictAddressFamilies= may allow only one of them). */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = (int)ifindex;
	if (ioctl(fd, SIOCGIFNAME, &ifr) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	if (strnlen(ifr.ifr_name, sizeof(ifr.ifr_name)) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, ifr.ifr_name, strnlen(ifr.ifr_name, sizeof(ifr.ifr_name)));
	buf[strnlen(ifr.ifr_name, sizeof(ifr.ifr_name))] = '\0';
	return 0;
}
