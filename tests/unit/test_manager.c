/* manager: cgroup layouts of systemd, Docker and Podman (as the kernel
 * prints them in /proc/<pid>/cgroup on this project's machines),
 * docker-proxy's command line, and .socket Listen*= values. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "lookup/manager.h"

#define ID "7825ad8bb8458644d911b2f21b2d2582d681d7e67bd16b6fa5c1be76d02ff06e"

static void cgroup_is(const char *cg, enum bw_mgr_kind kind, const char *unit, const char *id,
		      const char *outer, long user)
{
	struct bw_manager m;
	memset(&m, 0, sizeof(m));
	bw_manager_from_cgroup(&m, cg);
	CHECK_EQ_INT(m.kind, kind);
	CHECK_STREQ(m.unit, unit);
	CHECK_STREQ(m.id, id);
	CHECK_STREQ(m.outer_id, outer);
	if (user >= 0)
		CHECK_EQ_INT(m.user, user);
	if (m.kind != kind)
		fprintf(stderr, "  (cgroup %s)\n", cg);
}

static void test_cgroup(void)
{
	cgroup_is("/", BW_MGR_NONE, "", "", "", -1);
	cgroup_is("", BW_MGR_NONE, "", "", "", -1);
	cgroup_is("/system.slice/nginx.service", BW_MGR_SYSTEMD, "nginx.service", "", "", -1);
	cgroup_is("/init.scope", BW_MGR_SYSTEMD, "init.scope", "", "", -1);
	cgroup_is("/user.slice/user-1000.slice/session-2.scope", BW_MGR_SYSTEMD, "session-2.scope",
		  "", "", -1);
	/* The per-user manager: its inner unit is the holder's. */
	cgroup_is("/user.slice/user-1000.slice/user@1000.service/app.slice/web.service",
		  BW_MGR_SYSTEMD_USER, "web.service", "", "", 1000);
	cgroup_is("/user.slice/user-1001.slice/user@1001.service/init.scope", BW_MGR_SYSTEMD_USER,
		  "init.scope", "", "", 1001);
	/* Docker: cgroupfs driver, systemd driver; Podman; containerd. */
	cgroup_is("/docker/" ID, BW_MGR_DOCKER, "", ID, "", -1);
	cgroup_is("/system.slice/docker-" ID ".scope", BW_MGR_DOCKER, "", ID, "", -1);
	cgroup_is("/machine.slice/libpod-" ID ".scope/container", BW_MGR_PODMAN, "", ID, "", -1);
	cgroup_is("/libpod_parent/" ID, BW_MGR_PODMAN, "", ID, "", -1);
	cgroup_is("/kubepods.slice/cri-containerd-" ID ".scope", BW_MGR_CONTAINER, "", ID, "", -1);
	/* systemd inside a container (cgroupns=host): a unit of that manager. */
	cgroup_is("/docker/" ID "/system.slice/web.service", BW_MGR_SYSTEMD, "web.service", "", ID,
		  -1);
	cgroup_is("/docker/" ID "/init.scope", BW_MGR_SYSTEMD, "init.scope", "", ID, -1);
	/* Not ids: wrong length, upper case, no separator. */
	cgroup_is("/docker/7825ad8bb845", BW_MGR_NONE, "", "", "", -1);
	cgroup_is("/system.slice/docker-" ID "x.scope", BW_MGR_SYSTEMD, "docker-" ID "x.scope", "",
		  "", -1);
}

static void test_docker_proxy(void)
{
	char hip[48], cip[48], proto[8];
	int hp = 0, cp = 0;
	CHECK_EQ_INT(bw_manager_parse_docker_proxy(
			     "/usr/sbin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 18080"
			     " -container-ip 172.17.0.2 -container-port 80",
			     hip, sizeof(hip), &hp, cip, sizeof(cip), &cp, proto, sizeof(proto)),
		     0);
	CHECK_STREQ(hip, "127.0.0.1");
	CHECK_STREQ(cip, "172.17.0.2");
	CHECK_STREQ(proto, "tcp");
	CHECK_EQ_INT(hp, 18080);
	CHECK_EQ_INT(cp, 80);
	CHECK_EQ_INT(bw_manager_parse_docker_proxy(
			     "docker-proxy -proto udp -host-ip :: -host-port 53 -container-ip"
			     " fd00::2 -container-port 5353",
			     hip, sizeof(hip), &hp, cip, sizeof(cip), &cp, proto, sizeof(proto)),
		     0);
	CHECK_STREQ(hip, "::");
	CHECK_STREQ(proto, "udp");
	CHECK_EQ_INT(cp, 5353);
	/* Not docker-proxy's: a flag only as part of another word. */
	CHECK_EQ_INT(bw_manager_parse_docker_proxy("python3 -m http.server 80", hip, sizeof(hip),
						   &hp, cip, sizeof(cip), &cp, proto,
						   sizeof(proto)),
		     -EINVAL);
	CHECK_EQ_INT(bw_manager_parse_docker_proxy("x --container-ip 1 --container-port 2"
						   " --host-port 3",
						   hip, sizeof(hip), &hp, cip, sizeof(cip), &cp,
						   proto, sizeof(proto)),
		     -EINVAL);
}

static struct bw_addr inet(int family, const char *ip, int port, enum bw_proto proto)
{
	struct bw_addr a;
	char text[80];
	snprintf(text, sizeof(text), family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
	CHECK_EQ_INT(bw_addr_parse(text, &a), 0);
	a.proto = proto;
	return a;
}

static void test_listen(void)
{
	struct bw_addr any4 = inet(AF_INET, "0.0.0.0", 80, BW_PROTO_TCP);
	struct bw_addr any6 = inet(AF_INET6, "::", 80, BW_PROTO_TCP);
	struct bw_addr lo = inet(AF_INET, "127.0.0.1", 80, BW_PROTO_TCP);
	struct bw_addr udp = inet(AF_INET6, "::", 53, BW_PROTO_UDP);
	struct bw_addr ux;
	CHECK(bw_manager_listen_matches("ListenStream", "80", &any6));
	CHECK(bw_manager_listen_matches("ListenStream", "80", &any4));
	CHECK(!bw_manager_listen_matches("ListenStream", "80", &lo));
	CHECK(bw_manager_listen_matches("ListenStream", "127.0.0.1:80", &lo));
	CHECK(!bw_manager_listen_matches("ListenStream", "127.0.0.2:80", &lo));
	CHECK(!bw_manager_listen_matches("ListenStream", "81", &any6));
	CHECK(bw_manager_listen_matches("ListenStream", "[::]:80", &any6));
	CHECK(!bw_manager_listen_matches("ListenDatagram", "80", &any6));
	CHECK(bw_manager_listen_matches("ListenDatagram", "53", &udp));
	CHECK(!bw_manager_listen_matches("ListenStream", "53", &udp));
	CHECK(!bw_manager_listen_matches("ListenFIFO", "80", &any6));
	CHECK(!bw_manager_listen_matches("ListenStream", "vsock:2:80", &any6));
	CHECK_EQ_INT(bw_addr_parse("/run/x.sock", &ux), 0);
	ux.proto = BW_PROTO_UNIX_STREAM;
	CHECK(bw_manager_listen_matches("ListenStream", "/run/x.sock", &ux));
	CHECK(!bw_manager_listen_matches("ListenStream", "/run/x.sockx", &ux));
	CHECK(!bw_manager_listen_matches("ListenDatagram", "/run/x.sock", &ux));
	CHECK(!bw_manager_listen_matches("ListenStream", "@run/x.sock", &ux));
}

/* dockerd holding a published port itself (--userland-proxy=false): the
 * container that publishes it, from config.v2.json as Docker 20.10 writes
 * it for `-p 127.0.0.1:7399:80 -p 7398:81/udp`. */
static void test_docker_publishes(void)
{
	static const char cfg[] =
		"{\"State\":{\"Running\":true,\"Pid\":42},\"ID\":\"" ID "\",\"Name\":\"/web\","
		"\"NetworkSettings\":{\"Ports\":{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\","
		"\"HostPort\":\"7399\"}],\"81/udp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":"
		"\"7398\"},{\"HostIp\":\"::\",\"HostPort\":\"7398\"}],\"443/tcp\":null}}}";
	static const char stopped[] =
		"{\"State\":{\"Running\":false},\"NetworkSettings\":{\"Ports\":{\"80/tcp\":"
		"[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"7399\"}]}}}";
	static const char no_ip[] =
		"{\"State\":{\"Running\":true},\"NetworkSettings\":{\"Ports\":{\"80/tcp\":"
		"[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}}}";
	struct bw_addr lo = inet(AF_INET, "127.0.0.1", 7399, BW_PROTO_TCP);
	struct bw_addr lo_udp = inet(AF_INET, "127.0.0.1", 7399, BW_PROTO_UDP);
	struct bw_addr other_ip = inet(AF_INET, "127.0.0.2", 7399, BW_PROTO_TCP);
	struct bw_addr other_port = inet(AF_INET, "127.0.0.1", 7400, BW_PROTO_TCP);
	struct bw_addr udp4 = inet(AF_INET, "0.0.0.0", 7398, BW_PROTO_UDP);
	struct bw_addr udp6 = inet(AF_INET6, "::", 7398, BW_PROTO_UDP);
	struct bw_addr tcp4 = inet(AF_INET, "0.0.0.0", 7398, BW_PROTO_TCP);
	struct bw_addr any4 = inet(AF_INET, "0.0.0.0", 8080, BW_PROTO_TCP);
	struct bw_addr any6 = inet(AF_INET6, "::", 8080, BW_PROTO_TCP);
	CHECK(bw_manager_docker_publishes(cfg, strlen(cfg), &lo));
	CHECK(!bw_manager_docker_publishes(cfg, strlen(cfg), &lo_udp));
	CHECK(!bw_manager_docker_publishes(cfg, strlen(cfg), &other_ip));
	CHECK(!bw_manager_docker_publishes(cfg, strlen(cfg), &other_port));
	CHECK(bw_manager_docker_publishes(cfg, strlen(cfg), &udp4));
	CHECK(bw_manager_docker_publishes(cfg, strlen(cfg), &udp6));
	CHECK(!bw_manager_docker_publishes(cfg, strlen(cfg), &tcp4));
	/* A stopped container publishes nothing. */
	CHECK(!bw_manager_docker_publishes(stopped, strlen(stopped), &lo));
	/* No HostIp: the wildcard of the socket's family. */
	CHECK(bw_manager_docker_publishes(no_ip, strlen(no_ip), &any4));
	CHECK(bw_manager_docker_publishes(no_ip, strlen(no_ip), &any6));
}

static bool same(const char *a, const char *b)
{
	struct bw_manager ma, mb;
	memset(&ma, 0, sizeof(ma));
	memset(&mb, 0, sizeof(mb));
	bw_manager_from_cgroup(&ma, a);
	bw_manager_from_cgroup(&mb, b);
	return bw_manager_same(&ma, &mb);
}

/* One container, one service: stopping it stops both. */
static void test_same(void)
{
	const char *web = "/system.slice/web.service", *ctr = "/docker/" ID;
	CHECK(same(web, web));
	CHECK(same(ctr, ctr));
	CHECK(same("/system.slice/docker-" ID ".scope", "/system.slice/docker-" ID ".scope"));
	CHECK(same("/user.slice/user-1000.slice/user@1000.service/app.slice/web.service",
		   "/user.slice/user-1000.slice/user@1000.service/app.slice/web.service"));
	CHECK(!same(web, "/system.slice/db.service"));
	CHECK(!same(ctr, "/docker/0825ad8bb8458644d911b2f21b2d2582d681d7e67bd16b6fa5c1be76d02ff06e"));
	CHECK(!same(web, ctr));
	/* Same unit name, other managers: another user's, another container's. */
	CHECK(!same("/user.slice/user-1000.slice/user@1000.service/app.slice/web.service",
		    "/user.slice/user-1001.slice/user@1001.service/app.slice/web.service"));
	CHECK(!same(web, "/docker/" ID "/system.slice/web.service"));
	/* Scopes (sessions, init.scope) and nothing known are never shared. */
	CHECK(!same("/user.slice/user-1000.slice/session-2.scope",
		    "/user.slice/user-1000.slice/session-2.scope"));
	CHECK(!same("/init.scope", "/init.scope"));
	CHECK(!same("/", "/"));
}

int main(void)
{
	test_cgroup();
	test_same();
	test_docker_proxy();
	test_listen();
	test_docker_publishes();
	return check_done("manager");
}
