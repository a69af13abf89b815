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
	if [ -n "${STUBBORN_PID:-}" ]; then
		kill -KILL "$STUBBORN_PID" 2>/dev/null || true
		wait "$STUBBORN_PID" 2>/dev/null || true
	fi
	[ -z "${CHILD:-}" ] || kill "$CHILD" 2>/dev/null || true
	engines_teardown
	[ -z "${CG:-}" ] || poll_until 100 remove_cgroups || true
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
