/* netdev: network device names, for sockets bound to a device
 * (sk_bound_dev_if: sock_diag's idiag_if, SO_BINDTOIFINDEX). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The name of device ifindex in the caller's network namespace into buf
 * (IFNAMSIZ bytes: 16), as ip-link(8) shows it. ioctl(SIOCGIFNAME) on a
 * socket of its own (netdevice(7)): no netlink dump, no allocation, so it
 * is safe on the diagnosis path inside a host process (socket and ioctl
 * are in systemd's @system-service set; the fd is O_CLOEXEC and closed).
 * 0, or -ENODEV (no such device any more), another -errno. */
int bw_netdev_name(uint32_t ifindex, char *buf, size_t size);
