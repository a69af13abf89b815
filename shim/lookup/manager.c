#include "lookup/manager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fmt.h"
#include "basic/json.h"
#include "basic/sysio.h"
#include "lookup/users.h"

#define DOCKER_CONTAINERS "/var/lib/docker/containers"

const char *bw_manager_kind_name(enum bw_mgr_kind k)
{
	switch (k) {
	case BW_MGR_SYSTEMD: return "systemd";
	case BW_MGR_SYSTEMD_USER: return "systemd-user";
	case BW_MGR_DOCKER: return "docker";
	case BW_MGR_PODMAN: return "podman";
	case BW_MGR_CONTAINER: return "container";
	default: return "none";
	}
}

static void copy(char *dst, size_t size, const char *src, size_t n)
{
	if (!size)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static bool ends_with(const char *p, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n > sl && memcmp(p + n - sl, suffix, sl) == 0;
}

/* A container id in one cgroup component: "docker-<id>.scope",
 * "libpod-<id>.scope", "cri-containerd-<id>.scope", or a bare "<id>" below
 * a "docker" (cgroupfs driver) or "libpod_parent" component. */
static enum bw_mgr_kind container_component(const char *p, size_t n, const char *prev,
					    size_t prev_n, const char **id)
{
	static const struct {
		const char *prefix;
		enum bw_mgr_kind kind;
	} scopes[] = {{"docker-", BW_MGR_DOCKER}, {"libpod-", BW_MGR_PODMAN},
		      {"cri-containerd-", BW_MGR_CONTAINER}, {"crio-", BW_MGR_CONTAINER}};
	if (n == 64 && is_hex(p, 64)) {
		*id = p;
		if (prev_n == 6 && memcmp(prev, "docker", 6) == 0)
			return BW_MGR_DOCKER;
		if (prev_n == 13 && memcmp(prev, "libpod_parent", 13) == 0)
			return BW_MGR_PODMAN;
		return BW_MGR_CONTAINER;
	}
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t pl = strlen(scopes[i].prefix);
		if (n == pl + 64 + 6 && memcmp(p, scopes[i].prefix, pl) == 0 &&
		    is_hex(p + pl, 64) && memcmp(p + pl + 64, ".scope", 6) == 0) {
			*id = p + pl;
			return scopes[i].kind;
		}
	}
	return BW_MGR_NONE;
}

void bw_manager_from_cgroup(struct bw_manager *m, const char *cgroup)
{
	const char *p = cgroup, *prev = "", *cid = NULL;
	size_t prev_n = 0;
	enum bw_mgr_kind ckind = BW_MGR_NONE;
	bool user = false, unit_inside = false;
	long uid = -1;

	m->unit[0] = '\0';
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *id = NULL;
		enum bw_mgr_kind k = n ? container_component(p, n, prev, prev_n, &id)
				       : BW_MGR_NONE;
		if (k != BW_MGR_NONE) {
			if (ckind == BW_MGR_NONE) {
				ckind = k;
				cid = id;
			}
		} else if (n > 5 && memcmp(p, "user@", 5) == 0 && ends_with(p, n, ".service")) {
			char num[16];
			copy(num, sizeof(num), p + 5, n - 5 - 8);
			uid = strtol(num, NULL, 10);
			user = true;
			copy(m->unit, sizeof(m->unit), p, n);
			unit_inside = ckind != BW_MGR_NONE;
		} else if (ends_with(p, n, ".service") || ends_with(p, n, ".scope") ||
			   ends_with(p, n, ".socket")) {
			/* The innermost unit is the holder's own. */
			copy(m->unit, sizeof(m->unit), p, n);
			unit_inside = ckind != BW_MGR_NONE;
		}
		prev = p;
		prev_n = n;
		if (!end)
			break;
		p = end + 1;
	}
	if (ckind != BW_MGR_NONE && !unit_inside) {
		m->kind = ckind;
		copy(m->id, sizeof(m->id), cid, 64);
		m->unit[0] = '\0';
		return;
	}
	if (ckind != BW_MGR_NONE)
		copy(m->outer_id, sizeof(m->outer_id), cid, 64);
	if (user && uid >= 0) {
		m->kind = BW_MGR_SYSTEMD_USER;
		m->user = (uid_t)uid;
	} else if (m->unit[0]) {
		m->kind = BW_MGR_SYSTEMD;
	}
}

/* The word after " flag " in a space-joined command line into out. */
static bool arg_after(const char *cmdline, const char *flag, char *out, size_t size)
{
	size_t fl = strlen(flag);
	for (const char *p = cmdline; (p = strstr(p, flag)) != NULL; p += fl) {
		if ((p == cmdline || p[-1] == ' ') && p[fl] == ' ') {
			const char *v = p + fl + 1, *end = strchr(v, ' ');
			copy(out, size, v, end ? (size_t)(end - v) : strlen(v));
			return true;
		}
	}
	return false;
}

int bw_manager_parse_docker_proxy(const char *cmdline, char *host_ip, size_t host_ip_size,
				  int *host_port, char *container_ip, size_t container_ip_size,
				  int *container_port, char *proto, size_t proto_size)
{
	char hp[16], cp[16];
	if (!arg_after(cmdline, "-container-ip", container_ip, container_ip_size) ||
	    !arg_after(cmdline, "-container-port", cp, sizeof(cp)) ||
	    !arg_after(cmdline, "-host-port", hp, sizeof(hp)))
		return -EINVAL;
	if (!arg_after(cmdline, "-host-ip", host_ip, host_ip_size))
		copy(host_ip, host_ip_size, "0.0.0.0", 7);
	if (!arg_after(cmdline, "-proto", proto, proto_size))
		copy(proto, proto_size, "tcp", 3);
	*host_port = atoi(hp);
	*container_port = atoi(cp);
	return *host_port > 0 && *container_port > 0 ? 0 : -EINVAL;
}

/* config.v2.json of one container into scratch; its length or -errno. */
static ssize_t docker_config(const char *id, char *scratch, size_t size)
{
	char path[160];
	snprintf(path, sizeof(path), DOCKER_CONTAINERS "/%.64s/config.v2.json", id);
	return bw_read_file_at(AT_FDCWD, path, scratch, size);
}

struct port_match {
	int port;          /* the host port wanted */
	char key[24];      /* out: "80/tcp" */
	char host_ip[48];
	bool found;
};

/* NetworkSettings.Ports.<"80/tcp">.<n>.HostPort: "8080" */
static int port_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct port_match *pm = ctx;
	char v[16];
	if (bw_json_string(hit->val, hit->len, v, sizeof(v)) <= 0 || atoi(v) != pm->port ||
	    hit->n_wild < 1)
		return 0;
	bw_json_string(hit->wild[0], hit->wild_len[0], pm->key, sizeof(pm->key));
	pm->found = true;
	return 1;
}

struct ip_match {
	const char *ip;
	bool found;
};

static int ip_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct ip_match *im = ctx;
	char v[48];
	if (bw_json_string(hit->val, hit->len, v, sizeof(v)) > 0 && strcmp(v, im->ip) == 0) {
		im->found = true;
		return 1;
	}
	return 0;
}

/* Name, image and (for host port 'port') the published mapping of the
 * container whose config.v2.json is in cfg. */
static void docker_fill(struct bw_manager *m, const char *cfg, size_t n, int port)
{
	char name[BW_MGR_NAME_MAX];
	struct port_match pm = {.port = port};
	if (bw_json_get(cfg, n, "Name", name, sizeof(name)) > 0)
		snprintf(m->name, sizeof(m->name), "%s", name[0] == '/' ? name + 1 : name);
	bw_json_get(cfg, n, "Config.Image", m->image, sizeof(m->image));
	if (!m->id[0])
		bw_json_get(cfg, n, "ID", m->id, sizeof(m->id));
	m->state_read = true;
	if (port > 0 && !m->mapping[0] &&
	    bw_json_each(cfg, n, "NetworkSettings.Ports.*.*.HostPort", port_cb, &pm) == 1) {
		char path[64];
		snprintf(path, sizeof(path), "NetworkSettings.Ports.%s.*.HostIp", pm.key);
		if (bw_json_get(cfg, n, path, pm.host_ip, sizeof(pm.host_ip)) <= 0)
			snprintf(pm.host_ip, sizeof(pm.host_ip), "0.0.0.0");
		snprintf(m->mapping, sizeof(m->mapping), "%s%s%s:%d->%s",
			 strchr(pm.host_ip, ':') ? "[" : "", pm.host_ip,
			 strchr(pm.host_ip, ':') ? "]" : "", port, pm.key);
	}
}

/* The running container that docker-proxy forwards to: the one with
 * container_ip on one of its networks and host_port published. */
static void docker_proxy_owner(struct bw_manager *m, const char *container_ip, int host_port,
			       char *scratch, size_t size)
{
	char dents[2048];
	long n;
	int dfd = open(DOCKER_CONTAINERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	m->state_read = true;
	while (!m->name[0] && (n = bw_getdents64(dfd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n && !m->name[0];) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			struct ip_match im = {container_ip, false};
			struct port_match pm = {.port = host_port};
			char running[8];
			ssize_t len;
			off += d->d_reclen;
			if (strlen(d->d_name) != 64 || !is_hex(d->d_name, 64))
				continue;
			len = docker_config(d->d_name, scratch, size);
			if (len <= 0 ||
			    bw_json_get(scratch, (size_t)len, "State.Running", running,
					sizeof(running)) <= 0 ||
			    strcmp(running, "true") != 0)
				continue;
			bw_json_each(scratch, (size_t)len, "NetworkSettings.Networks.*.IPAddress", ip_cb,
				     &im);
			if (!im.found)
				bw_json_each(scratch, (size_t)len,
					     "NetworkSettings.Networks.*.GlobalIPv6Address", ip_cb, &im);
			if (!im.found ||
			    bw_json_each(scratch, (size_t)len, "NetworkSettings.Ports.*.*.HostPort",
					 port_cb, &pm) != 1)
				continue;
			copy(m->id, sizeof(m->id), d->d_name, 64);
			docker_fill(m, scratch, (size_t)len, 0);
		}
	}
	close(dfd);
	m->orphaned = !m->name[0];
}

/* NetworkSettings.Ports.<"80/tcp">.<n>: {"HostIp", "HostPort"} of local. */
static int publish_cb(const struct bw_json_hit *hit, void *ctx)
{
	const struct bw_addr *local = ctx;
	char key[24], port[16], ip[64], want[64];
	const char *slash;
	if (hit->n_wild < 1 || bw_json_string(hit->wild[0], hit->wild_len[0], key, sizeof(key)) <= 0)
		return 0;
	slash = strchr(key, '/');
	if (!slash || strcmp(slash + 1, bw_proto_name(local->proto)) != 0 ||
	    bw_json_get(hit->val, hit->len, "HostPort", port, sizeof(port)) <= 0 ||
	    atoi(port) != local->port)
		return 0;
	if (bw_json_get(hit->val, hit->len, "HostIp", ip, sizeof(ip)) <= 0 || !ip[0])
		snprintf(ip, sizeof(ip), "%s", local->family == AF_INET6 ? "::" : "0.0.0.0");
	bw_addr_format_ip(local, want, sizeof(want));
	return strcmp(ip, want) == 0;
}

bool bw_manager_docker_publishes(const char *cfg, size_t n, const struct bw_addr *local)
{
	char running[8];
	return bw_json_get(cfg, n, "State.Running", running, sizeof(running)) > 0 &&
	       strcmp(running, "true") == 0 &&
	       bw_json_each(cfg, n, "NetworkSettings.Ports.*.*", publish_cb, (void *)local) == 1;
}

/* dockerd holds the port itself (--userland-proxy=false: libnetwork's
 * portmapper binds a "dummy proxy" socket to reserve each published
 * port): the running container that publishes it, from the state files.
 * dockerd manages every container, so it is named as the engine, never
 * as the process to stop. */
static void docker_engine(struct bw_manager *m, const struct bw_sock *s, char *scratch,
			  size_t size)
{
	char dents[2048];
	long n;
	int dfd;
	m->kind = BW_MGR_DOCKER;
	m->proxy = m->engine = true;
	m->unit[0] = '\0';
	dfd = open(DOCKER_CONTAINERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return; /* not readable here: the CLI asks the API (dockerapi.h) */
	m->state_read = true;
	while (!m->id[0] && (n = bw_getdents64(dfd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n && !m->id[0];) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			ssize_t len;
			off += d->d_reclen;
			if (strlen(d->d_name) != 64 || !is_hex(d->d_name, 64))
				continue;
			len = docker_config(d->d_name, scratch, size);
			if (len <= 0 || !bw_manager_docker_publishes(scratch, (size_t)len, &s->local))
				continue;
			copy(m->id, sizeof(m->id), d->d_name, 64);
			docker_fill(m, scratch, (size_t)len, s->local.port);
		}
	}
	close(dfd);
}

static void docker_proxy(struct bw_manager *m, const struct bw_proc *p, char *scratch,
			 size_t size)
{
	char host_ip[48], container_ip[48], proto[8];
	int host_port, container_port;
	if (bw_manager_parse_docker_proxy(p->cmdline, host_ip, sizeof(host_ip), &host_port,
					  container_ip, sizeof(container_ip), &container_port, proto,
					  sizeof(proto)) < 0)
		return;
	m->kind = BW_MGR_DOCKER;
	m->proxy = true;
	m->id[0] = '\0';
	snprintf(m->mapping, sizeof(m->mapping), "%s%s%s:%d->%d/%s", strchr(host_ip, ':') ? "[" : "",
		 host_ip, strchr(host_ip, ':') ? "]" : "", host_port, container_port, proto);
	snprintf(m->proxy_target, sizeof(m->proxy_target), "%s%s%s:%d",
		 strchr(container_ip, ':') ? "[" : "", container_ip,
		 strchr(container_ip, ':') ? "]" : "", container_port);
	docker_proxy_owner(m, container_ip, host_port, scratch, size);
}

/* The first process under proc_root whose comm is comm and for whose
 * command line (read into buf, NULs turned to spaces) match(cmdline, ctx)
 * is true; its pid, or 0. */
static pid_t find_process(const char *proc_root, const char *comm, char *buf, size_t size,
			  bool (*match)(const char *cmdline, void *ctx), void *ctx)
{
	char dents[4096], want[32];
	pid_t found = 0;
	long n;
	int pfd;

	snprintf(want, sizeof(want), "%s\n", comm);
	pfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return 0;
	while (!found && (n = bw_getdents64(pfd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n && !found;) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			char path[64];
			ssize_t len;
			off += d->d_reclen;
			if (d->d_name[0] < '1' || d->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "%.20s/comm", d->d_name);
			if (bw_read_file_at(pfd, path, buf, size) <= 0 || strcmp(buf, want) != 0)
				continue;
			snprintf(path, sizeof(path), "%.20s/cmdline", d->d_name);
			len = bw_read_file_at(pfd, path, buf, size);
			if (len <= 0)
				continue;
			for (ssize_t i = 0; i < len; i++)
				if (buf[i] == '\0')
					buf[i] = ' ';
			if (match(buf, ctx))
				found = (pid_t)atoi(d->d_name);
		}
	}
	close(pfd);
	return found;
}

static bool proxy_matches(const char *cmdline, void *ctx)
{
	const struct bw_sock *s = ctx;
	char ip[64], hip[64], cip[64], proto[8];
	int hp, cp;
	bw_addr_format_ip(&s->local, ip, sizeof(ip));
	return bw_manager_parse_docker_proxy(cmdline, hip, sizeof(hip), &hp, cip, sizeof(cip), &cp,
					     proto, sizeof(proto)) == 0 &&
	       hp == s->local.port && strcmp(hip, ip) == 0 &&
	       strcmp(proto, bw_proto_name(s->local.proto)) == 0;
}

pid_t bw_manager_find_proxy(const char *proc_root, const struct bw_sock *s)
{
	char buf[512];
	if (s->local.family != AF_INET && s->local.family != AF_INET6)
		return 0;
	return find_process(proc_root, "docker-proxy", buf, sizeof(buf), proxy_matches, (void *)s);
}

struct podman_match {
	const char *id;
	struct bw_manager *m;
	char *meta;
	size_t meta_size;
};

/* One element of containers.json: {"id", "names", "metadata": "<JSON
 * text with image-name>"}. */
static int podman_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct podman_match *pm = ctx;
	char id[72];
	int n;
	if (bw_json_get(hit->val, hit->len, "id", id, sizeof(id)) <= 0 || strcmp(id, pm->id) != 0)
		return 0;
	if (!pm->m->name[0])
		bw_json_get(hit->val, hit->len, "names.*", pm->m->name, sizeof(pm->m->name));
	n = bw_json_get(hit->val, hit->len, "metadata", pm->meta, pm->meta_size);
	if (n > 0) {
		/* image-name is short: read it out of the unescaped text in place. */
		char image[BW_MGR_NAME_MAX];
		if (bw_json_get(pm->meta, (size_t)n, "image-name", image, sizeof(image)) > 0)
			snprintf(pm->m->image, sizeof(pm->m->image), "%s", image);
	}
	pm->m->state_read = true;
	return 1;
}

#define PODMAN_ROOT_STORE "/var/lib/containers/storage/overlay-containers/containers.json"

/* Podman's container store (root's PODMAN_ROOT_STORE; a rootless user's
 * lies under their home): name and image of container m->id. */
static void podman_store(struct bw_manager *m, const char *store, char *scratch, size_t size)
{
	struct podman_match pm = {m->id, m, scratch + size / 2, size / 2};
	ssize_t n = bw_read_file_at(AT_FDCWD, store, scratch, size / 2);
	if (n > 0)
		bw_json_each(scratch, (size_t)n, "*", podman_cb, &pm);
}

/* Podman's conmon monitors one container: "-c <id> ... -n <name>" in
 * its space-joined command line; it also keeps the container's published
 * host ports open (rootful). */
static void podman_conmon(struct bw_manager *m, const char *cmdline)
{
	char id[80], name[BW_MGR_NAME_MAX];
	if (!arg_after(cmdline, "-c", id, sizeof(id)) && !arg_after(cmdline, "--cid", id, sizeof(id)))
		return;
	m->kind = BW_MGR_PODMAN;
	m->proxy = true;
	copy(m->id, sizeof(m->id), id, strlen(id));
	if (arg_after(cmdline, "-n", name, sizeof(name)) ||
	    arg_after(cmdline, "--name", name, sizeof(name)))
		snprintf(m->name, sizeof(m->name), "%s", name);
}

/* The network namespace file rootlessport keeps open: podman's rootless
 * netns (/run/user/UID/netns/netns-UUID, shared by slirp4netns and the
 * container) into buf. Its fds are readable by its user and root. 0 or
 * -ENOENT. */
static int rootlessport_netns(pid_t pid, char *buf, size_t size)
{
	char path[40], dents[2048];
	int fd, r = -ENOENT;
	long n;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	while (r < 0 && (n = bw_getdents64(fd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n && r < 0;) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			ssize_t len;
			off += d->d_reclen;
			/* readlinkat: proc writes the text, the target is not touched. */
			len = readlinkat(fd, d->d_name, buf, size - 1);
			if (len <= 0 || (size_t)len >= size - 1)
				continue;
			buf[len] = '\0';
			if (buf[0] == '/' && strstr(buf, "/netns/netns-"))
				r = 0;
		}
	}
	close(fd);
	if (r < 0 && size)
		buf[0] = '\0';
	return r;
}

struct conmon_match {
	const char *quoted;   /* "\"<netns path>\"" as config.json has it */
	char *scratch;
	size_t size;
};

/* The conmon whose bundle (-b DIR) config.json names the netns file. */
static bool conmon_of_netns(const char *cmdline, void *ctx)
{
	const struct conmon_match *cm = ctx;
	char bundle[256], file[300];
	return arg_after(cmdline, "-b", bundle, sizeof(bundle)) &&
	       snprintf(file, sizeof(file), "%s/config.json", bundle) < (int)sizeof(file) &&
	       bw_read_file_at(AT_FDCWD, file, cm->scratch, cm->size) > 0 &&
	       strstr(cm->scratch, cm->quoted) != NULL;
}

/* A rootless Podman container's published port is held by rootlessport,
 * which runs outside the container's cgroup with a bare command line. It
 * keeps the container's network namespace file open; the conmon (same
 * user) whose bundle config.json names that file in linux.namespaces
 * monitors the container: its -c/-n give id and name, and the store two
 * levels above the bundle (<driver>-containers/containers.json) the image
 * (podman 4.3: libpod/networking_slirp4netns.go, the OCI runtime spec). */
static void podman_rootless(struct bw_manager *m, const struct bw_proc *p, char *scratch,
			    size_t size)
{
	char netns[200], quoted[210], cmd[1536], bundle[256], file[300];
	struct conmon_match cm = {quoted, scratch, size};

	if (rootlessport_netns(p->pid, netns, sizeof(netns)) < 0)
		return;
	m->kind = BW_MGR_PODMAN;
	m->proxy = true;
	m->rootless = true;
	m->user = p->uid;
	snprintf(quoted, sizeof(quoted), "\"%s\"", netns);
	if (find_process("/proc", "conmon", cmd, sizeof(cmd), conmon_of_netns, &cm) <= 0)
		return;
	podman_conmon(m, cmd);
	if (!arg_after(cmd, "-b", bundle, sizeof(bundle)))
		return;
	/* .../<driver>-containers/<id>/userdata -> .../<driver>-containers */
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(bundle, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(file, sizeof(file), "%s/containers.json", bundle);
	podman_store(m, file, scratch, size);
}

bool bw_manager_listen_matches(const char *key, const char *value, const struct bw_addr *local)
{
	struct bw_addr a;
	bool stream = strcmp(key, "ListenStream") == 0, dgram = strcmp(key, "ListenDatagram") == 0;
	if (!stream && !dgram && strcmp(key, "ListenSequentialPacket") != 0)
		return false;
	if (bw_addr_parse(value, &a) < 0)
		return false;
	if (local->family == AF_UNIX) {
		enum bw_proto want = stream ? BW_PROTO_UNIX_STREAM
				   : dgram ? BW_PROTO_UNIX_DGRAM : BW_PROTO_UNIX_SEQPACKET;
		return a.family == AF_UNIX && a.abstract == local->abstract &&
		       a.path_len == local->path_len && local->proto == want &&
		       memcmp(a.path, local->path, a.path_len) == 0;
	}
	if (a.family == AF_UNIX || a.port != local->port)
		return false;
	if (local->proto != (stream ? BW_PROTO_TCP : dgram ? BW_PROTO_UDP : BW_PROTO_UNKNOWN))
		return false;
	/* A bare port: systemd binds [::] (dual-stack) or 0.0.0.0. */
	if (a.family == AF_UNSPEC || bw_addr_is_wildcard(&a))
		return bw_addr_is_wildcard(local);
	if (a.family != local->family)
		return false;
	return memcmp(a.ip, local->ip, a.family == AF_INET ? 4 : 16) == 0;
}

struct unit_search {
	const struct bw_addr *local;
	const char *root;          /* the manager's root ("" or /proc/<pid>/root) */
	const char *units_dir;     /* where active units leave invocation:<name> */
	const char *name;          /* a .socket unit known by name (its cgroup), or NULL */
	char found[96];
	char service[96];          /* the found unit's Service=, or "" */
	bool accept;               /* and its Accept=yes */
	bool active;
};

struct socket_file {
	const struct bw_addr *local;
	bool hit;
	bool accept;               /* Accept=yes (systemd.socket(5): a boolean) */
	char service[96];          /* Service= */
};

/* One "Key = value" line of a unit file: key and value trimmed into
 * the buffers given; false for other lines or longer ones. */
static bool unit_line(const char *l, size_t len, char *key, size_t key_size, char *val,
		      size_t val_size)
{
	const char *eq = memchr(l, '=', len);
	size_t kl, vl;
	if (!eq || len >= 256)
		return false;
	kl = (size_t)(eq - l);
	vl = len - kl - 1;
	while (kl > 0 && (l[kl - 1] == ' ' || l[kl - 1] == '\t'))
		kl--;
	while (vl > 0 && (eq[1] == ' ' || eq[1] == '\t')) {
		eq++;
		vl--;
	}
	while (vl > 0 && (eq[vl] == ' ' || eq[vl] == '\r' || eq[vl] == '\t'))
		vl--;
	copy(key, key_size, l, kl);
	copy(val, val_size, eq + 1, vl);
	return true;
}

/* A .socket file's lines: whether a Listen*= names the address, and its
 * Service= and Accept= (read to the end: they may follow the Listen*=). */
static int socket_lines(const char *lines, size_t n, void *ctx)
{
	struct socket_file *sf = ctx;
	for (const char *l = lines, *end = lines + n; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l);
		char key[32], val[224];
		if (unit_line(l, len, key, sizeof(key), val, sizeof(val))) {
			if (strncmp(key, "Listen", 6) == 0 && sf->local &&
			    bw_manager_listen_matches(key, val, sf->local))
				sf->hit = true;
			else if (strcmp(key, "Service") == 0)
				copy(sf->service, sizeof(sf->service), val, strlen(val));
			else if (strcmp(key, "Accept") == 0)
				sf->accept = strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 ||
					     strcmp(val, "on") == 0 || strcmp(val, "1") == 0;
		}
		l += len + 1;
	}
	return 0;
}

static void search_dir(struct unit_search *us, const char *dir, char *scratch, size_t size)
{
	char path[320], dents[2048];
	long n;
	int dfd;
	snprintf(path, sizeof(path), "%s%s", us->root, dir);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	while (!us->active && (n = bw_getdents64(dfd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n && !us->active;) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			size_t len = strlen(d->d_name);
			struct socket_file sf = {.local = us->name ? NULL : us->local};
			char inv[400];
			off += d->d_reclen;
			/* Templates (foo@.socket) only listen through instances. */
			if (!ends_with(d->d_name, len, ".socket") || len >= sizeof(us->found) ||
			    strstr(d->d_name, "@.") != NULL ||
			    (us->name && strcmp(d->d_name, us->name) != 0))
				continue;
			if (bw_read_lines_at(dfd, d->d_name, scratch, size, socket_lines, &sf) < 0 ||
			    (!sf.hit && !us->name))
				continue;
			snprintf(inv, sizeof(inv), "%s%s/invocation:%s", us->root, us->units_dir,
				 d->d_name);
			/* The first listed path wins (/etc over /usr), an active unit over both.
			 * invocation:NAME is a symlink to nothing (its target is the id). */
			if (faccessat(AT_FDCWD, inv, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				us->active = true;
			else if (us->found[0])
				continue;
			snprintf(us->found, sizeof(us->found), "%s", d->d_name);
			snprintf(us->service, sizeof(us->service), "%s", sf.service);
			us->accept = sf.accept;
		}
	}
	close(dfd);
}

/* Whether units_dir (under root) has an active unit whose name starts
 * with prefix and ends with ".service": an Accept=yes instance. */
static bool instance_active(const char *root, const char *units_dir, const char *prefix)
{
	char path[320], dents[2048], want[128];
	bool found = false;
	long n;
	int dfd;
	snprintf(path, sizeof(path), "%s%s", root, units_dir);
	snprintf(want, sizeof(want), "invocation:%s", prefix);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	while (!found && (n = bw_getdents64(dfd, dents, sizeof(dents))) > 0)
		for (long off = 0; off < n && !found;) {
			const struct bw_dirent64 *d = (const void *)(dents + off);
			off += d->d_reclen;
			found = strncmp(d->d_name, want, strlen(want)) == 0 &&
				ends_with(d->d_name, strlen(d->d_name), ".service");
		}
	close(dfd);
	return found;
}

/* The .socket unit whose Listen*= names local (or, name given, that
 * unit), among the unit files of the manager (system, or the user
 * manager of uid: its home's too) seen through root. */
static void socket_unit(struct bw_manager *m, const struct bw_addr *local, const char *name,
			const char *root, bool user, uid_t uid, char *scratch, size_t size)
{
	static const char *const system_dirs[] = {
		"/etc/systemd/system", "/run/systemd/system", "/run/systemd/transient",
		"/run/systemd/generator", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
		"/lib/systemd/system"};
	/* systemd.unit(5), "User Unit Search Path" (XDG_CONFIG_HOME and
	 * XDG_DATA_HOME at their defaults: the manager's environment is not
	 * read). */
	static const char *const user_dirs[] = {"/etc/systemd/user", "/run/systemd/user",
						"/usr/local/lib/systemd/user", "/usr/lib/systemd/user"};
	static const char *const home_dirs[] = {"/.config/systemd/user",
						"/.local/share/systemd/user"};
	char units[64];
	struct unit_search us = {.local = local, .root = root, .units_dir = units, .name = name};

	if (!user) {
		snprintf(units, sizeof(units), "/run/systemd/units");
		for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]) && !us.active; i++)
			search_dir(&us, system_dirs[i], scratch, size);
	} else {
		char run_user[2][64], home[160];
		snprintf(units, sizeof(units), "/run/user/%u/systemd/units", (unsigned)uid);
		snprintf(run_user[0], sizeof(run_user[0]), "/run/user/%u/systemd/transient",
			 (unsigned)uid);
		snprintf(run_user[1], sizeof(run_user[1]), "/run/user/%u/systemd/user", (unsigned)uid);
		for (size_t i = 0; i < 2 && !us.active; i++)
			search_dir(&us, run_user[i], scratch, size);
		/* The user's own units come before the system-wide ones. */
		if (bw_user_home_at(root, uid, home, sizeof(home)) == 0)
			for (size_t i = 0; i < sizeof(home_dirs) / sizeof(home_dirs[0]) && !us.active;
			     i++) {
				char dir[200];
				snprintf(dir, sizeof(dir), "%s%s", home, home_dirs[i]);
				search_dir(&us, dir, scratch, size);
			}
		for (size_t i = 0; i < sizeof(user_dirs) / sizeof(user_dirs[0]) && !us.active; i++)
			search_dir(&us, user_dirs[i], scratch, size);
	}
	if (!us.found[0]) {
		if (name)
			snprintf(m->socket_unit, sizeof(m->socket_unit), "%s", name);
		return;
	}
	snprintf(m->socket_unit, sizeof(m->socket_unit), "%s", us.found);
	if (us.accept) {
		/* Accept=yes: each connection gets an instance NAME@...service
		 * that holds it (systemd.socket(5)); they outlive the .socket. */
		char prefix[100];
		size_t n = strlen(us.found) - strlen(".socket");
		snprintf(prefix, sizeof(prefix), "%.*s@", (int)n, us.found);
		if (instance_active(root, units, prefix)) {
			struct bw_buf b = BW_BUF_INIT(m->accept_units, sizeof(m->accept_units));
			bw_buf_printf(&b, "%s*.service", prefix);
		}
		return;
	}
	/* The service it activates (Service=, else the same name) holds the
	 * socket too once it runs: stopping the .socket alone would leave
	 * the port taken. */
	if (!ends_with(m->unit, strlen(m->unit), ".service")) {
		char inv[400], service[96];
		size_t n = strlen(us.found) - strlen(".socket");
		if (us.service[0])
			snprintf(service, sizeof(service), "%s", us.service);
		else
			snprintf(service, sizeof(service), "%.*s.service", (int)n, us.found);
		snprintf(inv, sizeof(inv), "%s%s/invocation:%s", root, units, service);
		if (faccessat(AT_FDCWD, inv, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			snprintf(m->unit, sizeof(m->unit), "%s", service);
	}
}

bool bw_manager_same(const struct bw_manager *a, const struct bw_manager *b)
{
	size_t n = strlen(a->unit);
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case BW_MGR_DOCKER:
	case BW_MGR_PODMAN:
	case BW_MGR_CONTAINER:
		return a->id[0] && strcmp(a->id, b->id) == 0;
	case BW_MGR_SYSTEMD_USER:
		if (a->user != b->user)
			return false;
		/* fall through */
	case BW_MGR_SYSTEMD:
		return ends_with(a->unit, n, ".service") && strncmp(a->unit, "user@", 5) != 0 &&
		       strcmp(a->unit, b->unit) == 0 && strcmp(a->outer_id, b->outer_id) == 0;
	default:
		return false;
	}
}

/* Whether a unit is active, from its manager's runtime state: systemd
 * links /run/systemd/units/invocation:UNIT (the user manager's under
 * /run/user/UID/systemd/units) while the unit runs and removes it when the
 * unit becomes inactive (unit_export_invocation_id(),
 * unit_unlink_state_files()), even when processes stay in its cgroup.
 * Read through the holder's /proc/PID/root: the manager may run in
 * another mount namespace (a container). 1 active, -1 inactive, 0 when
 * it can't be told. */
static signed char unit_active(const struct bw_manager *m, const struct bw_proc *p)
{
	char path[320], run[160];
	struct stat st;

	if (!p || !m->unit[0])
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)p->pid);
	if (m->kind == BW_MGR_SYSTEMD_USER)
		snprintf(run, sizeof(run), "/run/user/%u/systemd/units", (unsigned)m->user);
	else
		snprintf(run, sizeof(run), "/run/systemd/units");
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s", run);
	/* The directory first: no systemd there (or not readable) is unknown. */
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/invocation:%s", m->unit);
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? -1 : 0;
}

/* Whether p's cgroup path is in our own cgroup namespace: then its "/" is
 * the root cgroup, not some container's namespace root. */
static bool same_cgroupns(const struct bw_proc *p)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", (int)p->pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/cgroup", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

void bw_manager_identify(struct bw_manager *m, const struct bw_proc *p, const char *cgroup,
			 const struct bw_sock *s, const char *own_container, char *scratch,
			 size_t scratch_size)
{
	char socket_name[96] = "";
	bool manager;
	memset(m, 0, sizeof(*m));
	/* The process's own cgroup names its manager (a socket passed over
	 * SCM_RIGHTS to a process outside the container keeps its creator's
	 * cgroup); the socket's only when the process can't be read, or its
	 * "/" may be another cgroup namespace's root. */
	bw_manager_from_cgroup(m, p && p->cgroup[0] &&
						(strcmp(p->cgroup, "/") != 0 || same_cgroupns(p))
					  ? p->cgroup
					  : cgroup);
	if (own_container && own_container[0] && strcmp(m->outer_id, own_container) == 0)
		m->outer_id[0] = '\0';
	if (m->outer_id[0]) {
		/* A unit of a manager in another container: named through it. */
		ssize_t n = docker_config(m->outer_id, scratch, scratch_size);
		char name[BW_MGR_NAME_MAX];
		if (n > 0 && bw_json_get(scratch, (size_t)n, "Name", name, sizeof(name)) > 0)
			snprintf(m->outer_name, sizeof(m->outer_name), "%s",
				 name[0] == '/' ? name + 1 : name);
	}
	if (p && strcmp(p->comm, "docker-proxy") == 0)
		docker_proxy(m, p, scratch, scratch_size);
	else if (p && strcmp(p->comm, "conmon") == 0)
		podman_conmon(m, p->cmdline);
	else if (p && strcmp(p->comm, "rootlessport") == 0)
		podman_rootless(m, p, scratch, scratch_size);
	/* dockerd's own socket on an IP port is a published port's
	 * reservation; without its process, a root socket in docker.service's
	 * cgroup that listens on one is too (docker-proxy, found by its
	 * command line, was tried first). */
	else if (s->local.family != AF_UNIX &&
		 (p ? strcmp(p->comm, "dockerd") == 0
		    : s->uid == 0 && strcmp(m->unit, "docker.service") == 0 && !m->outer_id[0]))
		docker_engine(m, s, scratch, scratch_size);
	if (m->kind == BW_MGR_PODMAN && m->id[0] && s->local.family != AF_UNIX) {
		if (!m->state_read)
			podman_store(m, PODMAN_ROOT_STORE, scratch, scratch_size);
		/* The container side lives in libpod's database: the host side only. */
		if (m->proxy) {
			char addr[BW_ADDR_TEXT_MAX];
			struct bw_buf b = BW_BUF_INIT(m->mapping, sizeof(m->mapping));
			bw_addr_format(&s->local, addr, sizeof(addr));
			bw_buf_printf(&b, "%s/%s", addr, bw_proto_name(s->local.proto));
		}
	}
	if (m->kind == BW_MGR_DOCKER && !m->proxy && m->id[0]) {
		ssize_t n = docker_config(m->id, scratch, scratch_size);
		if (n > 0)
			docker_fill(m, scratch, (size_t)n,
				    s->local.family == AF_UNIX ? 0 : s->local.port);
	}
	/* Socket activation: the manager itself holds the socket (systemd,
	 * pid 1 of its namespace, or systemd --user), or a service got it
	 * through LISTEN_FDS. Its unit files lie under the manager's root. */
	manager = p ? strcmp(p->comm, "systemd") == 0 : strstr(cgroup, "init.scope") != NULL;
	/* A socket the manager made lies in its .socket unit's cgroup (seen
	 * from sock_diag without its process): that names the unit. */
	if (ends_with(m->unit, strlen(m->unit), ".socket")) {
		snprintf(socket_name, sizeof(socket_name), "%s", m->unit);
		m->unit[0] = '\0';
		manager = true;
	}
	if (manager || (p && p->listen_fds)) {
		char root[48] = "";
		bool user = m->kind == BW_MGR_SYSTEMD_USER;
		if (p) {
			snprintf(root, sizeof(root), "/proc/%d/root", (int)p->pid);
			if (access(root, X_OK) != 0)
				root[0] = '\0';
		}
		socket_unit(m, &s->local, socket_name[0] ? socket_name : NULL, root, user, m->user,
			    scratch, scratch_size);
		if (m->kind == BW_MGR_NONE && m->socket_unit[0])
			m->kind = BW_MGR_SYSTEMD;
		/* The manager's own scope says nothing about the port. */
		if (m->socket_unit[0] && strcmp(m->unit, "init.scope") == 0)
			m->unit[0] = '\0';
	}
	if (m->kind == BW_MGR_SYSTEMD || m->kind == BW_MGR_SYSTEMD_USER)
		m->active = unit_active(m, p);
}
