#!/usr/bin/env bats
# bindwatch free: shows the one command that frees an address, runs it
# (asking on a terminal, --yes for scripts, --dry-run only prints), waits
# until a bind there would succeed; refuses pid 1, its own ancestors and a
# holder it can't name. Real holders: python3, a Docker container, a
# systemd service with Restart=always.

load common
load engines
load diag_helpers

# A holder that ignores SIGTERM (kill_bg's signal) is killed here, and a
# handed-off helper (not our child) by its pid; then the test's cgroups go.
teardown() {
	if [ -n "${STUBBORN_CHILD:-}" ]; then
		kill -KILL "$STUBBORN_CHILD" 2>/dev/null || true
	fi
	if [ -n "${STUBBORN_PID:-}" ]; then
		kill -KILL "$STUBBORN_PID" 2>/dev/null || true
		wait "$STUBBORN_PID" 2>/dev/null || true
	fi
	[ -z "${CHILD:-}" ] || kill "$CHILD" 2>/dev/null || true
	engines_teardown
	[ -z "${CG:-}" ] || poll_until 100 remove_cgroups || true
	stop_nginx
	if [ -n "${FAKE_CG:-}" ]; then
		rmdir "$FAKE_CG" 2>/dev/null || true
	fi
}

sd_journal_has() {
	"$DOCKER" exec "$1" journalctl -q -o cat -u "$2" | grep -q "$3"
}

port_free() {
	! ss_has -Hltn "sport = :$1"
}

# ended PID: the process is gone, or a zombie (ended; its new parent may
# not have reaped it yet).
ended() {
	! kill -0 "$1" 2>/dev/null || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]
}

@test "free --dry-run prints 'kill PID' for a plain listener and leaves it running; --yes kills it and waits (exit 0)" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1

	run "$CLI" free --dry-run "$port"
	assert_success
	assert_output --partial "to free it: kill $HOLDER_PID"
	kill -0 "$HOLDER_PID"

	run "$CLI" free --yes --timeout 10 "$port"
	assert_success
	assert_output --partial "to free it: kill $HOLDER_PID"
	assert_output --partial "is free"
	port_free "$port"
	! kill -0 "$HOLDER_PID" 2>/dev/null
	# Its progress lines are free's own, not wait's.
	assert_output --partial "bindwatch: free: waiting until a bind to *:$port/tcp would succeed"
	assert_output --partial "bindwatch: free: *:$port/tcp is free"
	refute_output --partial "wait:"
	# Said once.
	assert_equal "$(grep -c 'is free' <<<"$output")" 1
}

@test "free: a holder that ignores SIGTERM: at the timeout it says so and names the next step, kill -KILL (exit 1)" {
	port=$(free_port)
	"$PYTHON3" -c 'import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen()
time.sleep(600)' "$port" >/dev/null 2>&1 &
	STUBBORN_PID=$!
	H=$STUBBORN_PID
	wait_listen "$port"
	run "$CLI" free --yes --timeout 0.5 "$port"
	assert_failure 1
	assert_output --partial "to free it: kill $H"
	assert_output --partial "bindwatch: free: *:$port/tcp still in use (pid $H, python3): listener"
	assert_line "bindwatch: free: SIGTERM did not end it within 0.5s (the process catches or ignores it); next: kill -KILL $H"
	refute_output --partial "remedies: stop the holder"
	kill -0 "$H"
	# And that next step frees it.
	kill -KILL "$H"
	poll_until 200 port_free "$port"
}

@test "free: after a SIGTERM that did not free it, 'next:' names the processes that hold it then (a child started since)" {
	port=$(free_port)
	# On SIGTERM it starts a child that keeps the socket (as a master
	# that replaces its workers), and lives on.
	"$PYTHON3" -c 'import os, signal, socket, sys, time
def term(*a):
    if os.fork() == 0:
        open(sys.argv[2] + ".tmp", "w").write(str(os.getpid()))
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
        time.sleep(600)
signal.signal(signal.SIGTERM, term)
s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen()
while True:
    time.sleep(600)' "$port" "$T/child" >/dev/null 2>&1 &
	STUBBORN_PID=$!
	wait_listen "$port"
	run "$CLI" free --yes --timeout 1 "$port"
	assert_failure 1
	child=$(cat "$T/child")
	STUBBORN_CHILD=$child
	assert_line "to free it: kill $STUBBORN_PID"
	assert_line "bindwatch: free: SIGTERM did not end it within 1s (the process catches or ignores it); next: kill -KILL $child $STUBBORN_PID"
}

@test "free: without --yes and without a terminal nothing runs (exit 1); on a terminal 'n' declines" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	run "$CLI" free "$port" </dev/null
	assert_failure 1
	assert_output --partial "pass --yes"
	kill -0 "$HOLDER_PID"

	command -v script >/dev/null || skip "script (util-linux) not installed"
	run script -qec "$CLI free $port" /dev/null <<<"n"
	assert_failure 1
	assert_output --partial "run it? [y/N]"
	assert_output --partial "not run"
	kill -0 "$HOLDER_PID"
}

# reuse_scene PORT OUT: in a pid namespace of its own (so that a pid can be
# handed out again on purpose, ns_last_pid), a holder listens on PORT and
# `free PORT` asks on a terminal (script(1), its answers from a fifo);
# once it asks, the holder ends and an unrelated sleep gets its pid
# (REUSE=pid), or a new holder listens on PORT (REUSE=holder); then the
# answer is y (and n to a second question). OUT gets free's output, then
# "rc=N", "old=PID new=PID", "sleep alive" or "new alive".
reuse_scene() {
	cat >"$BATS_TEST_TMPDIR/scene.sh" <<'SH'
set -u
port=$1 out=$2 cli=$3 py=$4 mode=$5
hold='import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)'
listening() { [ -n "$(ss -Hltn "sport = :$port")" ]; }
until_() { for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }
"$py" -c "$hold" "$port" & H=$!
until_ listening || exit 3
mkfifo "$out.in"
script -qfec "$cli free --timeout 5 $port" /dev/null <"$out.in" >"$out" 2>&1 & S=$!
exec 3>"$out.in"
until_ grep -q 'y/N' "$out" || exit 4
kill -KILL "$H"; wait "$H"
if [ "$mode" = pid ]; then
	echo $((H - 1)) >/proc/sys/kernel/ns_last_pid
	sleep 600 & N=$!
else
	"$py" -c "$hold" "$port" & N=$!
	until_ listening || exit 3
fi
echo y >&3
[ "$mode" = pid ] || { until_ [ "$(grep -c 'y/N' "$out")" -ge 2 ]; echo n >&3; }
wait "$S"; echo "rc=$?" >>"$out"
echo "old=$H new=$N" >>"$out"
kill -0 "$N" 2>/dev/null && echo "$mode alive" >>"$out"
exit 0
SH
	timeout 60 unshare -p -f --kill-child --mount-proc bash "$BATS_TEST_TMPDIR/scene.sh" "$1" "$2" "$CLI" "$PYTHON3" "$3"
}

# reuse_run MODE: reuse_scene on a fresh port (skips where it can't run);
# $output is then what the scene wrote, $out its file.
reuse_run() {
	unshare -p -f --mount-proc true 2>/dev/null || skip "no pid namespaces here"
	command -v script >/dev/null || skip "script (util-linux) not installed"
	port=$(free_port)
	out=$BATS_TEST_TMPDIR/out
	run reuse_scene "$port" "$out" "$1"
	assert_success
	run cat "$out"
}

@test "free: a holder that ends while free asks is never confused with a process that took its pid" {
	reuse_run pid
	old=$(sed -n 's/^old=\([0-9]*\) new=.*/\1/p' "$out")
	assert_line --partial "to free it: kill $old"
	# The scene is only a test if the pid was handed out again.
	assert_line "old=$old new=$old"
	assert_line "pid alive"
	assert_output --partial "bindwatch: free: *:$port is no longer in use: nothing run"
	assert_line "rc=0"
}

@test "free: when other processes hold it by the time of the answer, free shows their command and asks again" {
	reuse_run holder
	new=$(sed -n 's/^old=[0-9]* new=\([0-9]*\)$/\1/p' "$out")
	assert_line --partial "bindwatch: free: the holders changed since; to free it: kill $new"
	assert_line --partial "not run"
	assert_line "rc=1"
	assert_line "holder alive"
}

@test "free: refuses its own ancestor, pid 1 of its pid namespace, and a holder it can't see (exit 1)" {
	port=$(free_port)
	# The holder is bindwatch's parent.
	run "$PYTHON3" -c "import socket, subprocess, sys
s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen()
sys.exit(subprocess.call(['$CLI', 'free', '--yes', '$port'], stderr=subprocess.STDOUT))"
	assert_failure 1
	assert_output --partial "refused: pid"
	assert_output --partial "bindwatch itself or one of its ancestors"

	# pid 1 of a pid namespace holds it.
	unshare -p -f --mount-proc true 2>/dev/null || skip "no pid namespaces here"
	port=$(free_port)
	run unshare -p -f --mount-proc "$PYTHON3" -c "import socket, subprocess, sys
s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen()
sys.exit(subprocess.call(['$CLI', 'free', '--yes', '$port'], stderr=subprocess.STDOUT))"
	assert_failure 1
	assert_output --partial "refused"
	assert_output --partial "pid 1"

	# Another user's process, no unit or container to name it by.
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" free --yes "$port"
	assert_failure 1
	assert_output --partial "refused: nothing to run: its process is not visible here"
	kill -0 "$HOLDER_PID"
}

@test "free: pid 1 of its own pid namespace without a SIGTERM handler gets kill -KILL (the kernel drops SIGTERM from outside); with a handler, kill" {
	unshare -p -f --mount-proc true 2>/dev/null || skip "no pid namespaces here"
	listen='import signal, socket, sys, time
if sys.argv[2] == "handler":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)'
	for handler in none handler; do
		port=$(free_port)
		bg unshare -p -f --kill-child --mount-proc "$PYTHON3" -c "$listen" "$port" "$handler"
		wait_listen "$port"
		init=$(ss -Hltnp "sport = :$port" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p')
		grep -q "^NSpid:.*[[:space:]]1$" "/proc/$init/status"
		run "$CLI" free --yes --timeout 10 "$port"
		assert_success
		if [ "$handler" = none ]; then
			assert_line "to free it: kill -KILL $init (pid $init is pid 1 of its own pid namespace and has no SIGTERM handler: the kernel drops a SIGTERM sent from outside it, pid_namespaces(7))"
		else
			assert_line "to free it: kill $init"
		fi
		port_free "$port"
	done
}

@test "free: root without CAP_SYS_PTRACE is told the fds could not be read, not that the holder runs in another pid namespace" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	setpriv --bounding-set=-sys_ptrace true 2>/dev/null || skip "setpriv cannot drop CAP_SYS_PTRACE here"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	run setpriv --bounding-set=-sys_ptrace "$CLI" free --yes "$port"
	assert_failure 1
	assert_output --regexp "refused: nothing to run: its process is not visible here \(uid 0 root.*\): the fds of [0-9]+ processes could not be read here \(another user, hidepid, no CAP_SYS_PTRACE\): run with CAP_SYS_PTRACE"
	refute_output --partial "pid namespace"
	kill -0 "$HOLDER_PID"
}

@test "free: bad input exits 2; a free address exits 0" {
	run "$CLI" free --yes notaport
	assert_failure 2
	run "$CLI" free --timeout x 80
	assert_failure 2
	run "$CLI" free
	assert_failure 2
	port=$(free_port)
	run "$CLI" free --yes "$port"
	assert_success
	assert_output --partial "is not in use"
}

@test "free: an address no bind can get (not local; a privileged port for this user) exits 2 as who does" {
	run "$CLI" free --yes 192.0.2.1:80
	assert_failure 2
	assert_output "bindwatch: free: a bind to 192.0.2.1:80/tcp can never succeed here: Cannot assign requested address"
	run "$CLI" who 192.0.2.1:80
	assert_failure 2
	start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	[ "$start" -gt 1 ] || skip "every port is unprivileged here (ip_unprivileged_port_start=$start)"
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" free --yes $((start - 1))
	assert_failure 2
	assert_output --partial "can never succeed here: Permission denied (ports below net.ipv4.ip_unprivileged_port_start=$start"
}

@test "free: --yes with --dry-run is refused in one line (exit 2), nothing runs" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	run "$CLI" free --yes --dry-run "$port"
	assert_failure 2
	assert_output "bindwatch: free: --yes runs the command and --dry-run only prints it: give one of them"
	kill -0 "$HOLDER_PID"
}

@test "free: a Docker container's port is freed with docker stop, not by killing docker-proxy" {
	publish_busybox bwtest-free
	run "$CLI" free --yes --timeout 30 "$port"
	assert_success
	assert_output --partial "to free it: docker stop $name"
	port_free "$port"
	assert_equal "$("$DOCKER" inspect -f '{{.State.Running}}' "$name")" false
}

@test "free: a systemd service with Restart=always is stopped through systemctl and stays stopped" {
	SD=bwtest-free-sd-$(printf '%s' "$CLI" | md5sum | cut -c1-8)
	CREATED+=("$SD")
	systemd_container "$SD" || skip "the systemd container did not come up"
	bindwatch_into "$SD"
	port=$(free_port)
	printf '[Service]\nExecStart=/usr/bin/python3 -m http.server %s --bind 127.0.0.1\nRestart=always\n' \
		"$port" | sd_unit "$SD" bwtest-free.service
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl start bwtest-free.service
	poll_until 200 sd_listening "$SD" "$port"

	run "$DOCKER" exec "$SD" bindwatch free --yes "$port"
	assert_success
	assert_output --partial "to free it: systemctl stop bwtest-free.service"
	assert_equal "$("$DOCKER" exec "$SD" systemctl is-active bwtest-free.service)" inactive
	! sd_listening "$SD" "$port"
}

# sd_free_setup: the systemd container with bindwatch in it, a port.
sd_free_setup() {
	SD=bwtest-free-sd-$(printf '%s' "$CLI" | md5sum | cut -c1-8)
	CREATED+=("$SD")
	systemd_container "$SD" || skip "the systemd container did not come up"
	bindwatch_into "$SD"
	port=$(free_port)
}

@test "free: a service's process its inactive unit left behind (KillMode=process) gets kill, not a systemctl stop that does nothing" {
	sd_free_setup
	printf '[Service]\nExecStart=/bin/sh -c "python3 -m http.server %s --bind 127.0.0.1 & exec sleep infinity"\nKillMode=process\n' \
		"$port" | sd_unit "$SD" bwtest-left.service
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl start bwtest-left.service
	poll_until 200 sd_listening "$SD" "$port"
	# While it runs: the unit.
	run "$DOCKER" exec "$SD" bindwatch free --dry-run "$port"
	assert_success
	assert_line "to free it: systemctl stop bwtest-left.service"
	"$DOCKER" exec "$SD" systemctl stop bwtest-left.service
	sd_listening "$SD" "$port"
	assert_equal "$("$DOCKER" exec "$SD" systemctl is-active bwtest-left.service)" inactive
	run "$DOCKER" exec "$SD" bindwatch free --yes "$port"
	assert_success
	assert_output --regexp "to free it: kill [0-9]+ \(unit bwtest-left.service is inactive and left it behind: nothing restarts it\)"
	! sd_listening "$SD" "$port"
}

@test "shim: a process of a running service that holds the port its own unit's other process binds gets no kill (the unit would restart it)" {
	sd_free_setup
	# The main process holds the port; ExecStartPost binds it under the shim.
	printf '[Service]\nExecStart=/usr/bin/python3 -m http.server %s --bind 127.0.0.1\nExecStartPost=/bin/sh -c "until python3 -c \\"import socket; socket.create_connection((\\x27127.0.0.1\\x27, %s)).close()\\" 2>/dev/null; do sleep 0.1; done; BINDWATCH_STACK=0 LD_PRELOAD=\\x27%s/usr/local/lib/libbindwatch.so\\x27 python3 -c \\"import socket; socket.socket().bind((\\x27127.0.0.1\\x27, %s))\\" || true"\nRestart=always\n' \
		"$port" "$port" "${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }" "$port" | sd_unit "$SD" bwtest-shared.service
	"$DOCKER" exec "$SD" systemctl daemon-reload
	"$DOCKER" exec "$SD" systemctl start bwtest-shared.service
	poll_until 200 sd_journal_has "$SD" bwtest-shared.service "to free it\|do: "
	run "$DOCKER" exec "$SD" journalctl -q -o cat -u bwtest-shared.service
	assert_output --partial "it runs in unit bwtest-shared.service, which this process shares: stopping the unit would stop this process too"
	refute_output --regexp "kill [0-9]"
	"$DOCKER" exec "$SD" systemctl stop bwtest-shared.service
}

# handoff PORT: tests/helpers/handoff.py started in cgroup $CG/server (the
# test's own cgroups, test_cgroups): it listens on 127.0.0.1:PORT and hands
# the socket to a helper; sets PARENT and CHILD, waits until it listens.
handoff() {
	bg sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG/server" \
		"$PYTHON3" "$BW_SRCDIR/tests/helpers/handoff.py" "$1" "$T/handoff.pids"
	wait_file "$T/handoff.pids"
	read -r PARENT CHILD <"$T/handoff.pids"
	wait_listen "$1"
}

# Plain cgroups, no manager: a helper moved to another cgroup keeps the
# socket; both processes are killed (the server last) and the port frees.
@test "free: a listener whose helper moved to another cgroup: kill both, the server last; freed (exit 0)" {
	test_cgroups server moved
	port=$(free_port)
	handoff "$port"
	echo "$CHILD" >"$CG/moved/cgroup.procs"
	assert_file_has "/proc/$CHILD/cgroup" "/moved"
	run "$CLI" free --yes --timeout 10 "$port"
	assert_success
	assert_output --partial "to free it: kill $CHILD $PARENT"
	assert_output --partial "is free"
	port_free "$port"
	poll_until 200 ended "$CHILD"
}

# A container's process (host pid namespace: its processes are the
# host's) hands the socket to a helper that then leaves the container's
# cgroup: docker stop ends what is in the container's cgroup only, so the
# helper is killed after it.
@test "free: a container's helper moved out of the container's cgroup: docker stop NAME && kill HELPER; freed (exit 0)" {
	need_docker
	img=$(systemd_image) || skip "no Debian image with python3 (see above)"
	test_cgroups moved
	port=$(free_port)
	name=bwtest-free-hand-$port
	CREATED+=("$name")
	"$DOCKER" run -d --name "$name" --pid=host --network=host -v "$BW_SRCDIR/tests/helpers:/h:ro" \
		-v "$T:/out" "$img" python3 /h/handoff.py "$port" /out/handoff.pids >/dev/null
	wait_file "$T/handoff.pids"
	read -r PARENT CHILD <"$T/handoff.pids"
	wait_listen "$port"
	echo "$CHILD" >"$CG/moved/cgroup.procs"
	# On a host with cgroup v1 hierarchies too, the engine finds the
	# container's processes there: out of those as well (to their roots).
	for h in /sys/fs/cgroup/*/; do
		[ ! -L "${h%/}" ] && [ "$(stat -fc %T "$h")" = cgroupfs ] || continue
		echo "$CHILD" >"$h/cgroup.procs" 2>/dev/null || true
	done
	want="docker stop $name && kill $CHILD"

	run "$CLI" who "$port"
	assert_line "to free it: $want"
	"$CLI" who --json "$port" >"$T/who.json"
	assert_equal "$(jq -r '.free_command' "$T/who.json")" "$want"
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$port"
	assert_file_has "$T/shim.err" "bindwatch:   to free it: $want"

	run "$CLI" free --yes --timeout 20 "$port"
	assert_success
	assert_output --partial "to free it: $want"
	assert_output --partial "is free"
	port_free "$port"
	assert_equal "$("$DOCKER" inspect -f '{{.State.Running}}' "$name")" false
	poll_until 200 ended "$CHILD"
}

@test "free: TIME-WAIT only is waited out, never killed; a short --timeout gives up (exit 1)" {
	port=$(free_port)
	make_time_wait "$port" 0
	has_time_wait "$port" || skip "no TIME-WAIT socket could be made"
	run "$CLI" free --yes --timeout 0.5 "$port"
	assert_failure 1
	assert_output --partial "to free it: wait"
	refute_output --partial "kill"
}

@test "free: the usage lines (bindwatch --help, free --help) name every address form free takes, and SERVICE works" {
	run "$CLI" --help
	assert_success
	assert_line "  ADDRESS: [tcp|udp|unix] PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME"
	assert_line "       bindwatch free [--yes] [--dry-run] [--timeout S] ADDRESS"
	run "$CLI" free --help
	assert_output --partial "PORT|ADDR:PORT|[V6]:PORT|SERVICE|PATH|@NAME"
	# A service name from /etc/services, as the usage says.
	getent services gopher >/dev/null || skip "no 'gopher' in the services database"
	run "$CLI" free --dry-run gopher
	assert_success
	assert_output "bindwatch: free: *:70 is not in use"
}

@test "cli: no arguments names the forms; -V with a word after it is a one-line error (exit 2)" {
	run "$CLI"
	assert_failure 2
	assert_output "bindwatch: no command given: bindwatch [OPTIONS] -- COMMAND, or bindwatch who|wait|free ADDRESS (see 'bindwatch --help')"
	run "$CLI" -V extra
	assert_failure 2
	assert_output "bindwatch: --version takes nothing after it, got 'extra' (see 'bindwatch --help')"
	run "$CLI" -V
	assert_success
	assert_output --regexp '^bindwatch [0-9]'
}

@test "who -a and free: a socket made in a container's cgroup and passed (SCM_RIGHTS) to a process outside is that process's: no container tag, kill it" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a cgroup of its own)"
	cg2=$(findmnt -n -t cgroup2 -o TARGET | head -1)
	[ -n "$cg2" ] || skip "no cgroup2 hierarchy mounted"
	[ "$(sed -n 's/^0:://p' /proc/self/cgroup)" = / ] || skip "this test runs in a cgroup of its own, not /"
	id=$(printf 'bwtest-%s' "$$" | sha256sum | cut -c1-64)
	FAKE_CG=$cg2/docker/$id
	mkdir -p "$FAKE_CG"
	port=$(free_port)
	# The child joins the container-like cgroup, listens, hands the
	# listener to its parent (outside, in /) and ends.
	bg "$PYTHON3" -c 'import os, socket, sys, time
port, cg = int(sys.argv[1]), sys.argv[2]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
if os.fork() == 0:
    open(cg + "/cgroup.procs", "w").write(str(os.getpid()))
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen()
    socket.send_fds(b, [b"x"], [s.fileno()])
    os._exit(0)
msg, fds, _, _ = socket.recv_fds(a, 1, 1)
os.wait()
time.sleep(600)' "$port" "$FAKE_CG"
	outside=${BG_PIDS[-1]}
	wait_listen "$port"
	poll_until 200 test -z "$(cat "$FAKE_CG/cgroup.procs")"
	run "$CLI" who -a "$port"
	assert_success
	assert_output --partial "pid=$outside,"
	refute_output --partial "container"
	run "$CLI" free --dry-run "$port"
	assert_success
	assert_line "to free it: kill $outside"
}

@test "free as nobody: nginx's root master holds what its nobody workers hold: refused with 'run as root', no worker killed" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a root master, nobody workers)"
	command -v nginx >/dev/null || skip "nginx not installed"
	port=$(free_port)
	nginx_conf "$T/ngx" 2 "server { listen 127.0.0.1:$port; return 204; }"
	sed -i '1i user nobody nogroup;' "$T/ngx/nginx.conf"
	nginx -p "$T/ngx" -c "$T/ngx/nginx.conf" >/dev/null 2>&1 &
	NGINX_PID=$!
	wait_listen "$port"
	poll_until 200 test "$(pgrep -c -u nobody -P "$NGINX_PID")" -eq 2
	workers=$(pgrep -u nobody -P "$NGINX_PID" | sort)
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" free --yes "$port"
	assert_failure 1
	assert_output --regexp "refused: pid $NGINX_PID \(nginx, uid 0\), the parent of pid [0-9]+, likely holds it too \(the socket is uid 0's, pid [0-9]+ runs as uid 65534\) and this user can't see its fds nor signal it: run as root: sudo bindwatch free $port"
	assert_equal "$(pgrep -u nobody -P "$NGINX_PID" | sort)" "$workers"
	# As root the master is in the command, last, and it frees the port.
	run "$CLI" free --dry-run "$port"
	assert_output --regexp "to free it: kill [0-9]+ [0-9]+ $NGINX_PID$"
}
