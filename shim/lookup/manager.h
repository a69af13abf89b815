/* manager: who manages a holder, so the port is freed through it and not
 * by killing a process it would restart: the systemd unit (system or
 * per-user manager, a .socket unit for socket activation) or the container
 * (Docker, Podman), from the cgroup path, the holder's command line
 * (docker-proxy, conmon) and the engines' state files. No network, no
 * D-Bus, no engine API: files only (readable as root; without root the
 * cgroup path still names the unit or the container id). Buffers the
 * caller's: safe on the diagnosis path. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lookup/procinfo.h"
#include "lookup/socktab.h"

enum bw_mgr_kind {
	BW_MGR_NONE = 0,
	BW_MGR_SYSTEMD,       /* a unit of the system manager */
	BW_MGR_SYSTEMD_USER,  /* a unit of user@UID.service */
	BW_MGR_DOCKER,
	BW_MGR_PODMAN,
	BW_MGR_CONTAINER,     /* another engine (containerd, CRI-O): id only */
};

#define BW_MGR_NAME_MAX 128

struct bw_manager {
	enum bw_mgr_kind kind;
	uid_t user;               /* BW_MGR_SYSTEMD_USER: the manager's uid */
	char unit[96];            /* systemd: the holder's unit ("nginx.service") */
	char socket_unit[96];     /* the .socket unit that listens on the address */
	char accept_units[100];   /* its Accept=yes instances, when one runs:
				   * "NAME@*.service" (systemctl's glob) */
	char id[65];              /* container id (64 hex digits) */
	char name[BW_MGR_NAME_MAX];  /* container name ("" when not readable) */
	char image[BW_MGR_NAME_MAX];
	char mapping[96];         /* published mapping: "127.0.0.1:8080->80/tcp" */
	char proxy_target[64];    /* docker-proxy: the container address it forwards to */
	char outer_id[65];        /* a unit's manager runs in this container (not ours) */
	char outer_name[BW_MGR_NAME_MAX];
	bool proxy;               /* the holder is the engine's port proxy (docker-proxy, conmon) */
	bool engine;              /* dockerd itself holds the published port
				   * (--userland-proxy=false: it reserves it) */
	bool orphaned;            /* a docker-proxy whose container no longer exists */
	bool state_read;          /* the engine's state files were read */
	bool rootless;            /* a rootless Podman container of uid 'user' (rootlessport) */
	/* A systemd unit: 1 active, -1 inactive though processes remain in
	 * its cgroup (KillMode=process left them: nothing restarts them, and
	 * 'systemctl stop' does nothing more), 0 unknown. */
	signed char active;
};

/* Fills m for a holder: p its process (NULL when not visible), cgroup the
 * path of its socket's cgroup ("" unknown), s the socket (for the
 * published port and the .socket unit), own_container the caller's own
 * container id ("" none: a unit inside another container needs `docker
 * exec`). scratch: working memory for state files (16 KiB or more).
 * Never fails: what can't be read stays empty. Sources: the cgroup layouts
 * of systemd (systemd.unit(5), user@.service), Docker (cgroupfs
 * /docker/<id>, systemd docker-<id>.scope) and Podman (libpod-<id>.scope);
 * /var/lib/docker/containers/<id>/config.v2.json; the Listen*= lines of
 * *.socket files (systemd.socket(5)) under the manager's root. */
void bw_manager_identify(struct bw_manager *m, const struct bw_proc *p, const char *cgroup,
			 const struct bw_sock *s, const char *own_container, char *scratch,
			 size_t scratch_size);

/* From a cgroup path alone: the unit, the per-user manager, the container
 * (engine and id) and whether a unit lies inside a container (outer_id).
 * Pure. */
void bw_manager_from_cgroup(struct bw_manager *m, const char *cgroup);

/* Whether a and b are one container (its id) or one systemd service unit
 * of one manager (unit, user manager and container around it), such that
 * stopping it through its manager stops both. A scope (a login session,
 * init.scope) or nothing known is never shared. Pure. */
bool bw_manager_same(const struct bw_manager *a, const struct bw_manager *b);

/* docker-proxy's "-host-ip A -host-port P -container-ip B -container-port
 * Q -proto tcp" from its space-joined command line into the parts given.
 * 0, or -EINVAL when cmdline is no docker-proxy's. Pure. */
int bw_manager_parse_docker_proxy(const char *cmdline, char *host_ip, size_t host_ip_size,
				  int *host_port, char *container_ip, size_t container_ip_size,
				  int *container_port, char *proto, size_t proto_size);

/* Whether the Docker config.v2.json text cfg (n bytes) is of a running
 * container that publishes local (NetworkSettings.Ports: "80/tcp":
 * [{"HostIp","HostPort"}], "" or no HostIp the wildcard of local's
 * family). Pure. */
bool bw_manager_docker_publishes(const char *cfg, size_t n, const struct bw_addr *local);

/* Does the value of a Listen*= line of a .socket file ("8080",
 * "127.0.0.1:8080", "[::]:53", "/run/x.sock", "@name") listen on local
 * (of the socket's protocol)? key is the directive ("ListenStream").
 * Pure. */
bool bw_manager_listen_matches(const char *key, const char *value, const struct bw_addr *local);

/* The docker-proxy process that publishes s's address, found by its
 * command line (world-readable, unlike its fd table): names the holder
 * of a root-owned socket for a caller who can't see root's fds. 0 when
 * there is none. */
pid_t bw_manager_find_proxy(const char *proc_root, const struct bw_sock *s);

const char *bw_manager_kind_name(enum bw_mgr_kind k);
