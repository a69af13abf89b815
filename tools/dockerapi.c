#include "dockerapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fmt.h"
#include "basic/json.h"
#include "diagnose/diagnose.h"

#define DOCKER_SOCK "/var/run/docker.sock"

/* GET path over the API socket; the body, malloc()ed and NUL-terminated,
 * into *ret. HTTP/1.0: the daemon answers unchunked and closes. */
static int get(const char *path, char **ret, size_t *ret_len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char req[256], *buf = NULL, *body;
	size_t len = 0, cap = 0;
	int fd, r = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", DOCKER_SOCK);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: docker\r\n\r\n", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		ssize_t n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
			cap += 65536;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (r < 0 || !buf) {
		free(buf);
		return r < 0 ? r : -EPROTO;
	}
	buf[len] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0 || !body) {
		free(buf);
		return -EPROTO;
	}
	body += 4;
	*ret_len = len - (size_t)(body - buf);
	memmove(buf, body, *ret_len + 1);
	*ret = buf;
	return 0;
}

struct match {
	struct bw_manager *m;
	const struct bw_sock *s;
	char ip[64];
	bool found;
};

/* One element of Ports: {"IP","PrivatePort","PublicPort","Type"}. */
static int port_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct match *mt = ctx;
	char pub[16], ip[64], type[8], priv[16];
	if (bw_json_get(hit->val, hit->len, "PublicPort", pub, sizeof(pub)) <= 0 ||
	    atoi(pub) != mt->s->local.port ||
	    bw_json_get(hit->val, hit->len, "Type", type, sizeof(type)) <= 0 ||
	    strcmp(type, bw_proto_name(mt->s->local.proto)) != 0)
		return 0;
	if (bw_json_get(hit->val, hit->len, "IP", ip, sizeof(ip)) > 0 && strcmp(ip, mt->ip) != 0)
		return 0;
	if (bw_json_get(hit->val, hit->len, "PrivatePort", priv, sizeof(priv)) > 0 &&
	    !mt->m->mapping[0]) {
		struct bw_buf b = BW_BUF_INIT(mt->m->mapping, sizeof(mt->m->mapping));
		bw_buf_printf(&b, "%s:%s->%s/%s", mt->ip, pub, priv, type);
	}
	return 1;
}

/* One running container: {"Id","Names":["/web"],"Image","Ports":[...]}. */
static int container_cb(const struct bw_json_hit *hit, void *ctx)
{
	struct match *mt = ctx;
	struct bw_manager *m = mt->m;
	char id[sizeof(m->id)], name[BW_MGR_NAME_MAX];
	if (bw_json_get(hit->val, hit->len, "Id", id, sizeof(id)) <= 0)
		return 0;
	if (m->proxy ? bw_json_each(hit->val, hit->len, "Ports.*", port_cb, mt) != 1
		     : strcmp(id, m->id) != 0)
		return 0;
	memcpy(m->id, id, sizeof(m->id));
	if (bw_json_get(hit->val, hit->len, "Names.*", name, sizeof(name)) > 0)
		snprintf(m->name, sizeof(m->name), "%s", name[0] == '/' ? name + 1 : name);
	bw_json_get(hit->val, hit->len, "Image", m->image, sizeof(m->image));
	mt->found = true;
	return 1;
}

int bw_dockerapi_complete(struct bw_manager *m, const struct bw_sock *s)
{
	struct match mt = {m, s, "", false};
	char *body = NULL;
	size_t len = 0;
	int r = get("/containers/json", &body, &len);
	if (r < 0)
		return r;
	bw_addr_format_ip(&s->local, mt.ip, sizeof(mt.ip));
	r = bw_json_each(body, len, "*", container_cb, &mt);
	free(body);
	if (r < 0)
		return r;
	m->state_read = true;
	/* dockerd holding the port itself is no orphan: it says so. */
	if (m->proxy && !m->engine)
		m->orphaned = !mt.found;
	return 0;
}

void bw_cli_name_containers(struct bw_conflict *c)
{
	bool asked = false;
	for (size_t i = 0; i < c->n_holders; i++) {
		struct bw_manager *m = &c->holders[i].mgr;
		if (m->kind == BW_MGR_DOCKER && !m->state_read &&
		    bw_dockerapi_complete(m, &c->holders[i].sock) == 0)
			asked = true;
	}
	if (asked)
		bw_diag_settle(c);
}
