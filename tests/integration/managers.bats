#!/usr/bin/env bats
# The real owner of a port - container, systemd unit, user - and the one
# command that frees it, against real engines: Docker (docker-proxy and a
# container's own process), Podman (conmon), and systemd as pid 1 in a
# container (services, socket activation, the per-user manager).

load common
load engines

# One systemd container for the file (starting it takes seconds), one per
# build tree: a plain and a sanitizer run may go at the same time.
SD=bwtest-managers-sd-$(printf '%s' "$CLI" | md5sum | cut -c1-8)

teardown() {
	engines_teardown
	[ -z "${PODMAN_CREATED:-}" ] || podman rm -f "$PODMAN_CREATED" >/dev/null 2>&1 || true
	if [ -n "${PODMAN_ROOTLESS_CREATED:-}" ]; then
		as_poduser podman rm -f "$PODMAN_ROOTLESS_CREATED" >/dev/null 2>&1 || true
		# Rootless podman leaves a "podman pause" process holding its
		# user namespace: ended by its pid file.
		[ ! -s "$PODRUN/libpod/tmp/pause.pid" ] ||
			kill "$(cat "$PODRUN/libpod/tmp/pause.pid")" 2>/dev/null || true
	fi
}

teardown_file() {
	"$DOCKER" rm -f "$SD" >/dev/null 2>&1 || true
}

# in_sd: the systemd container, with the CLI and the shim inside.
in_sd() {
	if ! "$DOCKER" exec "$SD" test -x /usr/local/bin/bindwatch 2>/dev/null; then
		systemd_container "$SD" || skip "the systemd container did not come up"
		bindwatch_into "$SD"
	fi
}

# sd_http_service UNIT [EXTRA]: a python3 http.server on a free port as
# system service UNIT in the container (EXTRA: one more [Service] line);
# sets port, waits until it listens.
sd_http_service() {
	in_sd
	port=$(free_port)
	printf '[Service]\nExecStart=/usr/bin/python3 -m http.server %s --bind 127.0.0.1\n%s\n' \
		"$port" "${2:-}" | sd_unit "$SD" "$1"
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl restart "$1"
	poll_until 200 sd_listening "$SD" "$port"
}

@test "docker: a published port names the container, its id, image and mapping; to free it: docker stop" {
	publish_busybox bwtest-web
	id=$("$DOCKER" inspect -f '{{.Id}}' "$name")

	run "$CLI" who "$port"
	assert_success
	assert_output --partial "docker container $name (${id:0:12}, image bindwatch-busybox:local, 127.0.0.1:$port->80/tcp) through docker-proxy"
	assert_output --partial "publishing container $name"
	assert_line "to free it: docker stop $name"
	refute_output --partial "to free it: kill"

	"$CLI" who --json "$port" >"$T/who.json"
	run bw_json "$T/who.json" 'j["free_command"], j["free_kind"], j["holders"][0]["manager"]["name"], j["holders"][0]["manager"]["id"], j["holders"][0]["manager"]["mapping"], j["holders"][0]["comm"]'
	assert_output "('docker stop $name', 'manager', '$name', '$id', '127.0.0.1:$port->80/tcp', 'docker-proxy')"

	# The shim says the same at the moment of failure.
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PYTHON3" -c \
		"import socket; socket.socket().bind(('127.0.0.1', $port))"
	assert_file_has "$T/shim.err" "managed by docker container $name"
	assert_file_has "$T/shim.err" "bindwatch:   to free it: docker stop $name"
}

@test "docker: a process inside a container (host network) names its container" {
	need_docker
	port=$(free_port)
	name=bwtest-hostnet-$port
	CREATED+=("$name")
	"$DOCKER" run -d --name "$name" --network host "$(busybox_image)" \
		/bin/busybox httpd -f -p "127.0.0.1:$port" >/dev/null
	wait_listen "$port"
	pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$name")

	run "$CLI" who "$port"
	assert_success
	assert_output --partial "pid=$pid,"
	assert_output --partial "[docker container $name ("
	refute_output --partial "through docker-proxy"
	assert_line "to free it: docker stop $name"
}

@test "docker: an orphaned docker-proxy (no container behind it) is named as such; to free it: kill" {
	need_docker
	command -v docker-proxy >/dev/null || skip "docker-proxy not installed"
	port=$(free_port)
	# The real proxy, forwarding to an address no container has. It
	# reports readiness on fd 3 (bats's own output): give it /dev/null.
	bg docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port "$port" \
		-container-ip 172.31.255.254 -container-port 80 3>/dev/null
	pid=$!
	wait_listen "$port"

	run "$CLI" who "$port"
	assert_success
	assert_output --partial "orphaned docker-proxy: no running container is published at 127.0.0.1:$port->80/tcp (it forwarded to 172.31.255.254:80)"
	assert_line "to free it: kill $pid"
}

@test "docker without root: docker-proxy named from its command line; the API socket names the container for the docker group" {
	publish_busybox bwtest-nonroot
	proxy=$(pgrep -f -- "-host-port $port ")

	# Not in the docker group: root's fds are closed, its command line is not.
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" who "$port"
	assert_success
	# Found by its command line: its fd is unknown, said as such.
	assert_output --partial "pid=$proxy,fd=? "
	assert_output --partial "not readable here"
	assert_output --partial "to free it: (no command) docker-proxy of a container this user can't read"
	assert_output --partial "'docker ps --filter publish=$port' names it"
	refute_output --partial "kill"

	gid=$(getent group docker | cut -d: -f3)
	[ -n "$gid" ] || skip "no docker group"
	run setpriv --reuid 65534 --regid 65534 --groups "$gid" "$CLI" who "$port"
	assert_success
	assert_output --partial "docker container $name ("
	assert_line "to free it: docker stop $name"
}

@test "podman: conmon holding a published port names the container; to free it: podman stop" {
	command -v podman >/dev/null || skip "podman not installed"
	[ "$(id -u)" -eq 0 ] || skip "rootful podman needs root"
	port=$(free_port)
	name=bwtest-pod-$port
	root=$T/rootfs
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/"
	tar -C "$root" -c . | podman import - bwtest-busybox:local >/dev/null 2>&1 ||
		skip "podman import does not work here"
	PODMAN_CREATED=$name
	# The default rlimits are above this machine's hard limits.
	podman run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name "$name" \
		-p "127.0.0.1:$port:80" localhost/bwtest-busybox:local /bin/busybox httpd -f -p 80 \
		>"$T/podman.out" 2>&1 || skip "podman run fails here: $(tail -n 1 "$T/podman.out")"
	wait_listen "$port"

	run "$CLI" who "$port"
	assert_success
	assert_output --partial "podman container $name ("
	assert_output --partial "image localhost/bwtest-busybox:local"
	assert_output --partial "through conmon"
	assert_line "to free it: podman stop $name"
}

@test "systemd: a service's holder names its unit; to free it: systemctl stop, never kill (Restart=always)" {
	sd_http_service bwtest-web.service Restart=always

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_output --partial "[unit bwtest-web.service]"
	assert_output --partial "of unit bwtest-web.service"
	assert_line "to free it: systemctl stop bwtest-web.service"
	refute_output --partial "kill"

	# The shim in the same container, at the moment of failure.
	run shim_bind_in "$SD" "$port"
	assert_failure
	assert_output --partial "managed by unit bwtest-web.service"
	assert_output --partial "bindwatch:   to free it: systemctl stop bwtest-web.service"

	# From the host, the unit is reached through the container.
	"$DOCKER" exec "$SD" systemctl stop bwtest-web.service
}

# sd_socket_unit SOCKET SERVICE [LINE]: a .socket unit listening on a
# free 127.0.0.1 port (LINE: one more [Socket] line) and a python3 service
# SERVICE that takes fd 3, in the systemd container; the socket started,
# sets port, waits until it listens.
sd_socket_unit() {
	in_sd
	port=$(free_port)
	printf '[Socket]\nListenStream=127.0.0.1:%s\n%s\n' "$port" "${3:-}" | sd_unit "$SD" "$1"
	sd_unit "$SD" "$2" <<EOF
[Service]
ExecStart=/usr/bin/python3 -c "import socket, time; s = socket.socket(fileno=3); time.sleep(600)"
EOF
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl restart "$1"
	poll_until 200 sd_listening "$SD" "$port"
}

@test "systemd: socket activation names the .socket unit (pid 1 holding it, and the service that got it)" {
	sd_socket_unit bwtest-act.socket bwtest-act.service

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_output --partial "pid=1,"
	assert_output --partial "cause: socket_activation: the service manager (pid 1) holds the socket for socket activation: the socket unit bwtest-act.socket owns the port"
	assert_line "to free it: systemctl stop bwtest-act.socket"

	# Once the service runs, it holds the socket too (LISTEN_FDS):
	# stopping the socket unit alone would leave the port taken.
	"$DOCKER" exec "$SD" systemctl start bwtest-act.service
	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_line "to free it: systemctl stop bwtest-act.socket bwtest-act.service"
	"$DOCKER" exec "$SD" bindwatch who --json "$port" >"$T/act.json"
	run bw_json "$T/act.json" 'j["free_command"], j["holders"][0]["manager"]["socket_unit"]'
	assert_output "('systemctl stop bwtest-act.socket bwtest-act.service', 'bwtest-act.socket')"
	"$DOCKER" exec "$SD" systemctl stop bwtest-act.socket bwtest-act.service
}

@test "systemd: a .socket unit with Service=OTHER: both named and stopped; the service's inheritance from pid 1 is intended" {
	sd_socket_unit bwtest-svcsock.socket bwtest-other.service Service=bwtest-other.service
	"$DOCKER" exec "$SD" systemctl start bwtest-other.service

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_line "to free it: systemctl stop bwtest-svcsock.socket bwtest-other.service"
	# The shim: the service got the socket from pid 1 on purpose.
	run shim_bind_in "$SD" "$port"
	assert_failure
	assert_output --partial "got it from pid 1 across exec by socket activation (LISTEN_FDS): the inheritance is intended"
	refute_output --partial "close-on-exec"
	# The command frees the port (stopping the .socket alone did not).
	run "$DOCKER" exec "$SD" bindwatch free --yes --timeout 30 "$port"
	assert_success
	assert_output --partial "is free"
	run "$DOCKER" exec "$SD" systemctl is-active bwtest-other.service
	assert_failure
}

@test "systemd: an Accept=yes .socket unit: the instances holding connections are named and stopped with it; without root the socket's cgroup names the unit" {
	in_sd
	port=$(free_port)
	sd_unit "$SD" bwtest-acc.socket <<EOF
[Socket]
ListenStream=127.0.0.1:$port
Accept=yes
EOF
	sd_unit "$SD" bwtest-acc@.service <<EOF
[Service]
ExecStart=/bin/sleep 600
StandardInput=socket
EOF
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl restart bwtest-acc.socket
	poll_until 200 sd_listening "$SD" "$port"
	# Without root: the listening socket lies in the .socket unit's cgroup.
	run "$DOCKER" exec -u 65534 "$SD" bindwatch who "$port"
	assert_line "to free it: systemctl stop bwtest-acc.socket"
	# A client keeps a connection open: an instance holds it.
	"$DOCKER" exec "$SD" sh -c "python3 -c 'import socket, time; s = socket.create_connection((\"127.0.0.1\", $port)); time.sleep(600)' >/dev/null 2>&1 & echo \$! >/tmp/client.pid"
	instance_up() { "$DOCKER" exec "$SD" systemctl list-units --no-legend 'bwtest-acc@*' | grep -q running; }
	poll_until 200 instance_up

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_output --regexp "ESTAB .*unit bwtest-acc@[0-9]+-127\.0\.0\.1:$port-127\.0\.0\.1:[0-9]+\.service\]"
	assert_line "to free it: systemctl stop bwtest-acc.socket 'bwtest-acc@*.service'"
	run "$DOCKER" exec -u 65534 "$SD" bindwatch who "$port"
	assert_line "to free it: systemctl stop bwtest-acc.socket 'bwtest-acc@*.service'"
	# The client goes first (else the instance's side would wait in
	# FIN-WAIT-2 for it); its connection still holds the port.
	"$DOCKER" exec "$SD" sh -c 'kill $(cat /tmp/client.pid)'
	run "$DOCKER" exec "$SD" bindwatch free --yes --timeout 30 "$port"
	assert_success
	assert_output --partial "is free"
	run instance_up
	assert_failure
}

@test "systemd: a user's own .socket unit in ~/.config/systemd/user is found; to free it: systemctl --user -M USER@ stop" {
	in_sd
	port=$(free_port)
	sd_user_manager
	"$DOCKER" exec "$SD" runuser -u bwuser -- mkdir -p /home/bwuser/.config/systemd/user
	"$DOCKER" exec -i "$SD" runuser -u bwuser -- sh -c 'cat > /home/bwuser/.config/systemd/user/bwtest-usock.socket' <<EOF
[Socket]
ListenStream=127.0.0.1:$port
Service=bwtest-uother.service
EOF
	"$DOCKER" exec -i "$SD" runuser -u bwuser -- sh -c 'cat > /home/bwuser/.config/systemd/user/bwtest-uother.service' <<EOF
[Service]
ExecStart=/usr/bin/python3 -c "import socket, time; s = socket.socket(fileno=3); time.sleep(600)"
EOF
	sd_user_systemctl daemon-reload
	sd_user_systemctl restart bwtest-usock.socket
	sd_user_systemctl start bwtest-uother.service
	poll_until 200 sd_listening "$SD" "$port"

	# The service holds the socket (LISTEN_FDS): its .socket unit is found
	# only in the user's home, and with it the Service= it names.
	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_output --partial "[socket unit bwtest-usock.socket, unit bwtest-uother.service of the user manager of uid 4321]"
	assert_line "to free it: systemctl --user -M bwuser@ stop bwtest-usock.socket bwtest-uother.service"
	# No D-Bus in the image for -M: its user runs the command it gets.
	run "$DOCKER" exec "$SD" runuser -u bwuser -- env XDG_RUNTIME_DIR=/run/user/4321 \
		bindwatch free --yes --timeout 30 "$port"
	assert_success
	assert_line "to free it: systemctl --user stop bwtest-usock.socket bwtest-uother.service"
	assert_output --partial "is free"
}

# Socket activation with no unit behind it: nothing restarts the holder.
@test "socket activation without a unit: systemd-socket-activate, and the program it ran with LISTEN_FDS: to free it: kill PID" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed (Debian: systemd)"
	port=$(free_port)
	systemd-socket-activate -l "127.0.0.1:$port" "$PYTHON3" -c "import time; time.sleep(600)" \
		>/dev/null 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	wait_listen "$port"
	run "$CLI" who "$port"
	assert_success
	assert_output --partial "pid $pid (systemd-socket-) holds the socket for socket activation and hands it to the programs it starts; no .socket unit owns it"
	refute_output --partial "list-sockets"
	assert_output --partial "to free it: kill $pid"
	# A connection: it execs the program in its own pid, with LISTEN_FDS.
	"$PYTHON3" -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()"
	is_python() { [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = python3 ]; }
	poll_until 200 is_python
	run "$CLI" who "$port"
	assert_output --partial "pid $pid (python3) got the socket through LISTEN_FDS from the program that started it, not from a .socket unit"
	refute_output --partial "the .socket unit owns the port"
	assert_output --partial "to free it: kill $pid"
	run "$CLI" free --yes --timeout 10 "$port"
	assert_success
}

# sd_user_systemctl ARGS...: systemctl --user as bwuser in the systemd container.
sd_user_systemctl() {
	"$DOCKER" exec "$SD" runuser -u bwuser -- env XDG_RUNTIME_DIR=/run/user/4321 \
		systemctl --user "$@"
}

# sd_user_manager: the per-user manager of bwuser (uid 4321) runs in the
# systemd container; skips when it can't start there.
sd_user_manager() {
	"$DOCKER" exec "$SD" sh -c 'id bwuser >/dev/null 2>&1 || useradd -m -u 4321 bwuser'
	# The image has no D-Bus and no logind (pam_systemd): the runtime
	# directory and XDG_RUNTIME_DIR they would provide are given by hand.
	"$DOCKER" exec "$SD" mkdir -p /etc/systemd/system/user-runtime-dir@4321.service.d \
		/etc/systemd/system/user@4321.service.d
	"$DOCKER" exec -i "$SD" sh -c 'cat > /etc/systemd/system/user-runtime-dir@4321.service.d/bwtest.conf' <<'EOF'
[Service]
ExecStart=
ExecStart=/bin/sh -c "mkdir -p /run/user/4321 && chown 4321 /run/user/4321 && chmod 700 /run/user/4321"
ExecStop=
ExecStop=/bin/true
EOF
	"$DOCKER" exec -i "$SD" sh -c 'cat > /etc/systemd/system/user@4321.service.d/bwtest.conf' <<'EOF'
[Service]
Environment=XDG_RUNTIME_DIR=/run/user/4321
EOF
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl start user@4321.service ||
		skip "the per-user manager does not start in this container"
}

@test "systemd: a unit of the per-user manager; to free it: systemctl --user -M USER@ stop" {
	in_sd
	port=$(free_port)
	sd_user_manager
	"$DOCKER" exec "$SD" mkdir -p /etc/systemd/user
	"$DOCKER" exec -i "$SD" sh -c 'cat > /etc/systemd/user/bwtest-uweb.service' <<EOF
[Service]
ExecStart=/usr/bin/python3 -m http.server $port --bind 127.0.0.1
EOF
	sd_user_systemctl daemon-reload
	sd_user_systemctl restart bwtest-uweb.service
	poll_until 200 sd_listening "$SD" "$port"

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_output --partial "unit bwtest-uweb.service of the user manager of uid 4321"
	assert_line "to free it: systemctl --user -M bwuser@ stop bwtest-uweb.service"

	# Its own user needs no -M.
	run "$DOCKER" exec "$SD" runuser -u bwuser -- bindwatch who "$port"
	assert_line "to free it: systemctl --user stop bwtest-uweb.service"
	sd_user_systemctl stop bwtest-uweb.service
}

@test "without root: the socket's cgroup id names the unit and sock's uid its user when the process is invisible" {
	sd_http_service bwtest-hidden.service

	# As nobody, root's fds are closed: the cgroup id from sock_diag still
	# names the unit.
	run "$DOCKER" exec -u 65534 "$SD" bindwatch who "$port"
	assert_success
	assert_output --partial "(not visible: uid 0 user=root"
	assert_output --partial "/system.slice/bwtest-hidden.service [unit bwtest-hidden.service]"
	assert_line "to free it: systemctl stop bwtest-hidden.service"
	"$DOCKER" exec -u 65534 "$SD" bindwatch who --json "$port" >"$T/hidden.json"
	run bw_json "$T/hidden.json" 'j["holders"][0]["visible"], j["holders"][0]["socket_user"], j["holders"][0]["manager"]["unit"], j["free_command"]'
	assert_output "(False, 'root', 'bwtest-hidden.service', 'systemctl stop bwtest-hidden.service')"
	"$DOCKER" exec "$SD" systemctl stop bwtest-hidden.service
}

# rootless_podman_user: a user for rootless podman (kept between runs, like
# the cached images: bwtest-podman, with /etc/subuid and /etc/subgid ranges
# and a runtime directory); sets PODUSER. Skips with the reason when
# rootless podman can't run here.
rootless_podman_user() {
	command -v podman >/dev/null || skip "podman not installed"
	[ "$(id -u)" -eq 0 ] || skip "setting up a rootless podman user needs root"
	command -v newuidmap >/dev/null || skip "newuidmap not installed (Debian: uidmap)"
	command -v slirp4netns >/dev/null || skip "slirp4netns not installed (rootless podman's network)"
	PODUSER=bwtest-podman
	id "$PODUSER" >/dev/null 2>&1 || useradd -m -s /bin/sh "$PODUSER"
	grep -q "^$PODUSER:" /etc/subuid || usermod --add-subuids 300000-365535 "$PODUSER"
	grep -q "^$PODUSER:" /etc/subgid || usermod --add-subgids 300000-365535 "$PODUSER"
	PODRUN=/run/user/$(id -u "$PODUSER")
	install -d -m 0700 -o "$PODUSER" -g "$PODUSER" "$PODRUN"
	# slirp4netns opens /dev/net/tun inside the user's namespace.
	runuser -u "$PODUSER" -- test -r /dev/net/tun -a -w /dev/net/tun ||
		skip "/dev/net/tun is closed to other users here (mode $(stat -c %a /dev/net/tun);" \
			"Debian's udev makes it 0666): rootless podman's slirp4netns can't open it"
}

# as_poduser CMD...: CMD as $PODUSER, in its home, with its runtime dir.
as_poduser() {
	(cd "/home/$PODUSER" && runuser -u "$PODUSER" -- env XDG_RUNTIME_DIR="$PODRUN" \
		HOME="/home/$PODUSER" "$@")
}

@test "podman rootless: rootlessport holding a published port names the container; to free it: podman stop as its user" {
	rootless_podman_user
	port=$(free_port)
	name=bwtest-rpod-$port
	root=$T/rootfs
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/"
	tar -C "$root" -c . | as_poduser podman import - bwtest-busybox:local >/dev/null 2>&1 ||
		skip "rootless podman import does not work here"
	PODMAN_ROOTLESS_CREATED=$name
	as_poduser podman run -d --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --name "$name" \
		-p "127.0.0.1:$port:80" localhost/bwtest-busybox:local /bin/busybox httpd -f -p 80 \
		>"$T/podman.out" 2>&1 || skip "rootless podman run fails here: $(tail -n 1 "$T/podman.out")"
	wait_listen "$port"
	# The port's holder is rootlessport, outside the container's cgroup.
	ss -Hltnp "sport = :$port" | grep -q '"rootlessport"'

	run as_poduser "$CLI" who "$port"
	assert_success
	assert_output --partial "podman container $name ("
	assert_output --partial "image localhost/bwtest-busybox:local"
	assert_output --partial "through rootlessport"
	assert_line "to free it: podman stop $name"
	# Root's podman doesn't know a user's containers.
	run "$CLI" who "$port"
	assert_line "to free it: runuser -u $PODUSER -- podman stop $name"
	# The shim, in a program of that user that fails to bind the port.
	as_poduser env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$port" \
		>"$T/shim.out" 2>"$T/shim.err" || true
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_file_has "$T/shim.err" "to free it: podman stop $name"
	# bindwatch free, as that user, stops the container and the port is free.
	run as_poduser "$CLI" free --yes --timeout 30 "$port"
	assert_success
	assert_output --partial "is free"
	assert_equal "$(as_poduser podman inspect -f '{{.State.Running}}' "$name")" false
}

# The failing program in the holder's own container: docker stop would
# stop it too (and there is no docker CLI in there); the holder's process
# is the one to stop. Its pid as the container sees it (the shim runs there).
@test "docker: holder and failing program in one container: to free it: kill the holder, which shares the container, never docker stop" {
	need_docker
	img=$(systemd_image) || skip "no Debian image with python3 (see above)"
	port=$(free_port)
	name=bwtest-samectr-$port
	CREATED+=("$name")
	"$DOCKER" run -d --name "$name" "$img" sh -c \
		"python3 -m http.server $port --bind 127.0.0.1 & echo \$! >/tmp/holder.pid; wait" >/dev/null
	poll_until 200 sd_listening "$name" "$port"
	bindwatch_into "$name"
	hpid=$("$DOCKER" exec "$name" cat /tmp/holder.pid)
	id=$("$DOCKER" inspect -f '{{.Id}}' "$name")

	run shim_bind_in "$name" "$port"
	assert_failure
	assert_output --partial "managed by docker container ${id:0:12}"
	assert_output --partial "bindwatch:   do: stop the holder: kill $hpid (it shares container ${id:0:12} with this process: stopping that would stop this process too)"
	refute_output --partial "docker stop"
	# bindwatch who in there agrees (no docker CLI inside; docker stop
	# would stop bindwatch too), and a container known by its id alone
	# shows no empty "()".
	run "$DOCKER" exec "$name" bindwatch who "$port"
	assert_success
	assert_output --partial "[docker container ${id:0:12}]"
	refute_output --partial "()"
	assert_line "to free it: kill $hpid (it shares container ${id:0:12} with this process: stopping that would stop this process too)"
	refute_output --partial "docker stop"
}

# The same within one systemd service: the failing program joins the
# unit's cgroup (as a process the service starts would be in it).
@test "systemd: holder and failing program in one running service unit: no command (the unit would restart a killed holder; stopping it stops this process too)" {
	sd_http_service bwtest-shared.service
	mpid=$("$DOCKER" exec "$SD" systemctl show -P MainPID bwtest-shared.service)

	run "$DOCKER" exec -e ASAN_OPTIONS -e UBSAN_OPTIONS "$SD" sh -c '
		for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
			cg=$(sed -n "s/^0:://p" /proc/$1/cgroup)
			[ -w "$h$cg/cgroup.procs" ] && echo $$ >"$h$cg/cgroup.procs"
		done
		exec env BINDWATCH_STACK=0 LD_PRELOAD="$2" python3 -c "import socket; socket.socket().bind((\"127.0.0.1\", $3))"' \
		sh "$mpid" "${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }/usr/local/lib/libbindwatch.so" "$port"
	"$DOCKER" exec "$SD" systemctl stop bwtest-shared.service
	assert_failure
	assert_output --partial "managed by unit bwtest-shared.service"
	assert_output --partial "to free it: (no command) it runs in unit bwtest-shared.service, which this process shares: stopping the unit would stop this process too"
	refute_output --partial "systemctl stop"
	refute_output --regexp "kill [0-9]"
}

# sd_handoff UNIT [PREFIX]: a service UNIT (Restart=always) running
# tests/helpers/handoff.py on a free port: it listens and hands the socket
# to a helper it starts (through PREFIX, e.g. systemd-run --scope); sets
# port, PARENT and CHILD, waits until it listens.
sd_handoff() {
	in_sd
	port=$(free_port)
	docker_put "$SD" "$BW_SRCDIR/tests/helpers/handoff.py" /usr/local/lib/bwtest-handoff.py
	"$DOCKER" exec "$SD" rm -f "/run/$1.pids"
	printf '[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/bwtest-handoff.py %s /run/%s.pids %s\nRestart=always\n' \
		"$port" "$1" "${2:-}" | sd_unit "$SD" "$1"
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl restart "$1"
	poll_until 200 "$DOCKER" exec "$SD" test -s "/run/$1.pids"
	read -r PARENT CHILD < <("$DOCKER" exec "$SD" cat "/run/$1.pids")
	poll_until 200 sd_listening "$SD" "$port"
}

# A service hands its socket to a helper in a unit of its own: stopping
# the service leaves the helper holding the port, so the command covers
# both; a scope's process is killed (nothing restarts it), the service is
# stopped through systemd (Restart=always would bring a killed one back).
@test "systemd: a service's helper started with systemd-run --scope keeps the socket: to free it stops the service and kills the helper; free frees it" {
	sd_handoff bwtest-hand.service "systemd-run --scope --quiet --unit=bwtest-helper-$$"
	assert_equal "$("$DOCKER" exec "$SD" sed -n 's/^0:://p' "/proc/$CHILD/cgroup" | sed 's,.*/,,')" \
		"bwtest-helper-$$.scope"
	want="systemctl stop bwtest-hand.service && kill $CHILD"

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_success
	assert_line "to free it: $want"
	"$DOCKER" exec "$SD" bindwatch who --json "$port" >"$T/who.json"
	run bw_json "$T/who.json" 'j["free_command"], j["free_kind"], j.get("free_note")'
	assert_output "('$want', 'manager', None)"
	# The shim at the moment of failure says the same.
	run shim_bind_in "$SD" "$port"
	assert_failure
	assert_output --partial "bindwatch:   to free it: $want"

	run "$DOCKER" exec "$SD" bindwatch free --yes --timeout 10 "$port"
	assert_success
	assert_output --partial "to free it: $want"
	assert_output --partial "is free"
	! sd_listening "$SD" "$port"
	assert_equal "$("$DOCKER" exec "$SD" systemctl is-active bwtest-hand.service)" inactive
	! "$DOCKER" exec "$SD" kill -0 "$CHILD" 2>/dev/null
}

# The helper moved into another service's cgroup (as a supervisor that
# adopts processes does): both services in one systemctl command.
@test "systemd: a child moved into another service: to free it stops both units in one systemctl; free frees it" {
	sd_handoff bwtest-from.service
	printf '[Service]\nExecStart=/bin/sleep 600\n' | sd_unit "$SD" bwtest-into.service
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl restart bwtest-into.service
	into=$("$DOCKER" exec "$SD" systemctl show -P MainPID bwtest-into.service)
	# Into every hierarchy the container's systemd tracks it in.
	"$DOCKER" exec "$SD" sh -c '
		cg=$(sed -n "s/^0:://p" /proc/$1/cgroup)
		for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
			[ -w "$h$cg/cgroup.procs" ] && echo $2 >"$h$cg/cgroup.procs"
		done; true' sh "$into" "$CHILD"
	assert_equal "$("$DOCKER" exec "$SD" sed -n 's/^0:://p' "/proc/$CHILD/cgroup" | sed 's,.*/,,')" \
		bwtest-into.service
	want="systemctl stop bwtest-from.service bwtest-into.service"

	run "$DOCKER" exec "$SD" bindwatch who "$port"
	assert_line "to free it: $want"
	refute_output --partial "kill"
	run shim_bind_in "$SD" "$port"
	assert_output --partial "bindwatch:   to free it: $want"

	run "$DOCKER" exec "$SD" bindwatch free --yes --timeout 10 "$port"
	assert_success
	assert_output --partial "is free"
	! sd_listening "$SD" "$port"
	assert_equal "$("$DOCKER" exec "$SD" systemctl is-active bwtest-from.service bwtest-into.service | sort -u)" inactive
}
