#!/usr/bin/env bats
# bindwatch --supervise: programs LD_PRELOAD cannot reach (static C,
# Debian's busybox-static, Go) run under a seccomp user-notification
# supervisor. Their bind()/listen() conflicts are reported and remapped
# like the shim's, the program sees exactly what the kernel said, and the
# supervisor ends with the program, whatever happens to it.

bats_require_minimum_version 1.5.0

load common

# Static helpers and the Go server are built once per file.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	gcc -O2 -static -o "$d/probe_static" "$BW_SRCDIR/tests/helpers/conflict_probe.c"
	gcc -O2 -static -pthread -o "$d/threads_bind" "$BW_SRCDIR/tests/helpers/threads_bind.c"
	if command -v go >/dev/null; then
		mkdir -p "$d/go"
		cat >"$d/go/main.go" <<'GO'
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Println("listen error:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fmt.Fprintln(c, "hello from go")
		c.Close()
	}
}
GO
		# CGO_ENABLED=0: the static binary LD_PRELOAD can't reach.
		(cd "$d/go" && GOCACHE=$d/go/cache GOPATH=$d/go/path CGO_ENABLED=0 \
			go build -o "$d/gosrv" main.go)
	fi
	# Seccomp user notification may be refused (an old kernel, a
	# container's own filter with a listener): then every test skips.
	status=0
	"$BINDWATCH_CLI" --supervise -- true 2>"$d/probe.err" || status=$?
	if [ "$status" -eq 125 ]; then
		echo "no seccomp user notification here: $(cat "$d/probe.err")" >"$d/unavailable"
	fi
}

setup() {
	T=$BATS_TEST_TMPDIR
	D=$BATS_FILE_TMPDIR
	if [ -e "$D/unavailable" ]; then
		skip "$(cat "$D/unavailable")"
	fi
}

# wait_file_has FILE STRING: polls until FILE contains STRING (10 s max).
wait_file_has() {
	poll_until 200 grep -sqF -- "$2" "$1" && return 0
	printf 'timed out waiting for %s in %s\n' "$2" "$1" >&2
	cat "$1" >&2 2>/dev/null
	return 1
}

# wait_exit PID SECONDS: waits for a background PID of this shell; its
# status in $status. Fails if it is still running after SECONDS.
wait_exit() {
	local pid=$1
	if ! poll_until $(($2 * 20)) gone "$pid"; then
		echo "pid $pid still running after $2 s" >&2
		return 1
	fi
	status=0
	wait "$pid" || status=$?
}

# gone PID: PID has exited.
gone() {
	! kill -0 "$1" 2>/dev/null
}

# child_of PID: the one child of PID (the supervised command), 5 s max.
child_of() {
	poll_until 100 pgrep -P "$1" >/dev/null && pgrep -P "$1" | head -n1
}

# in_syscall PID NR: a thread of PID sits in system call NR.
in_syscall() {
	cut -d' ' -f1 /proc/"$1"/task/*/syscall 2>/dev/null | grep -qx "$2"
}

@test "static C: the holder is named, the stack symbolized, errno 98 and the exit status unchanged" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	holder=$HOLDER_PID

	capture plain "$D/probe_static" 127.0.0.1 "$port"
	plain=$status
	capture sv "$CLI" --supervise -- "$D/probe_static" 127.0.0.1 "$port"

	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=98"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=98"
	assert_equal "$status" "$plain"
	run grep -E "^bindwatch: probe_static\[[0-9]+\] bind\(fd [0-9]+, 127\.0\.0\.1:$port/tcp\) failed: Address already in use$" "$T/sv.err"
	assert_success
	assert_file_has "$T/sv.err" "held by pid $holder user "
	assert_file_has "$T/sv.err" "cause: listener: another process holds it: pid $holder"
	# The system call site and its caller, from the binary's .symtab.
	run grep -E "^bindwatch:     #0 0x[0-9a-f]+ (__)?bind\+0x[0-9a-f]+ \($D/probe_static \+0x[0-9a-f]+\)$" "$T/sv.err"
	assert_success
	run grep -E "^bindwatch:     #1 0x[0-9a-f]+ main\+0x[0-9a-f]+ " "$T/sv.err"
	assert_success
	run grep -c 'bindwatch:   cause:' "$T/sv.err"
	assert_output 1
}

@test "static C: without --supervise a static program is supervised automatically, with a notice" {
	port=$(free_port)
	hold_tcp "$port"
	holder=$HOLDER_PID

	capture sv "$CLI" --json -- "$D/probe_static" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=98"
	[ "$status" -eq 1 ]
	assert_file_has "$T/sv.err" "bindwatch: $D/probe_static is statically linked: LD_PRELOAD cannot see its bind()/listen(); supervising it with seccomp (--supervise)"
	run bw_json "$T/sv.err" 'j["event"], j["holders"][0]["pid"], j["cause"], "main" in [f["symbol"] for f in j["stack"]]'
	assert_output "('bind_conflict', $holder, 'listener', True)"

	# A dynamic program keeps the shim: no notice.
	capture dyn "$CLI" -- "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/dyn.out")" "bind=-1 errno=98"
	assert_file_lacks "$T/dyn.err" "supervising it"
	assert_file_has "$T/dyn.err" "held by pid $holder"
}

@test "dynamic program under --supervise: one report (no shim on top), errno unchanged" {
	port=$(free_port)
	hold_tcp "$port"
	holder=$HOLDER_PID

	capture sv "$CLI" --supervise -- "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=98"
	assert_file_has "$T/sv.err" "held by pid $holder"
	run grep -c 'bindwatch:   cause:' "$T/sv.err"
	assert_output 1
}

@test "threads: binds from eight threads at once all get the kernel's answer; a self-conflict is named" {
	held=$(free_port)
	hold_tcp "$held" 127.0.0.1
	holder=$HOLDER_PID
	ports=()
	for _ in 1 2 3 4 5 6 7; do
		ports+=("$(free_port)")
	done
	self=$(free_port)

	capture sv "$CLI" --supervise --json -- "$D/threads_bind" 127.0.0.1 "$held" "${ports[@]}"
	[ "$status" -eq 0 ]
	run cat "$T/sv.out"
	assert_line --index 0 "$held bind=-1 errno=98 local=0 listen=-1 errno=0"
	for i in 0 1 2 3 4 5 6; do
		p=${ports[$i]}
		assert_line --index $((i + 1)) "$p bind=0 errno=0 local=$p listen=0 errno=0"
	done
	run bw_json "$T/sv.err" 'j["port"], j["holders"][0]["pid"], j["cause"]'
	assert_output "($held, $holder, 'listener')"

	# Two threads, one port: one wins, the other's conflict is with
	# its own process.
	capture self "$CLI" --supervise --json -- "$D/threads_bind" 127.0.0.1 "$self" "$self"
	[ "$status" -eq 0 ]
	run sort "$T/self.out"
	assert_output "$(printf '%s bind=-1 errno=98 local=0 listen=-1 errno=0\n%s bind=0 errno=0 local=%s listen=0 errno=0' "$self" "$self" "$self")"
	run bw_json "$T/self.err" 'j["cause"], j["pid"] == j["holders"][0]["pid"]'
	assert_output "('self', True)"
}

@test "busybox httpd: --remap PORT=next serves on the port announced in the port file" {
	command -v busybox >/dev/null || skip "busybox-static not installed"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	holder=$HOLDER_PID
	mkdir "$T/www"
	echo "hello from busybox" >"$T/www/index.html"

	"$CLI" --supervise --remap "$port=next" --port-file "$T/ports" -- \
		busybox httpd -f -p "127.0.0.1:$port" -h "$T/www" 2>"$T/sv.err" &
	sup=$!
	BG_PIDS+=("$sup")
	wait_file_has "$T/ports" "tcp 127.0.0.1 $port "
	to=$(port_file_to "$T/ports")
	[ "$to" -gt "$port" ]
	wait_listen "$to"
	run http_body "$to" index.html
	assert_output "hello from busybox"

	# The port file names busybox, not the supervisor; so does ss.
	httpd=$(child_of "$sup")
	assert_equal "$(cat "$T/ports")" "tcp 127.0.0.1 $port $to $httpd"
	run ss -Hltnp "sport = :$to"
	assert_output --partial "pid=$httpd,"
	assert_file_has "$T/sv.err" "held by pid $holder"
	assert_file_has "$T/sv.err" "remapped: port $port -> $to (rule '$port=next', action next, $((to - port)) attempt$([ $((to - port)) -eq 1 ] || echo s))"
}

@test "busybox nc: a conflict is reported and nc fails exactly as without bindwatch" {
	command -v busybox >/dev/null || skip "busybox-static not installed"
	port=$(free_port)
	hold_tcp "$port"
	holder=$HOLDER_PID

	capture plain timeout 20 busybox nc -l -p "$port"
	plain=$status
	capture sv timeout 20 "$CLI" --supervise -- busybox nc -l -p "$port"
	[ "$plain" -ne 0 ] && [ "$plain" -ne 124 ]
	assert_equal "$status" "$plain"
	assert_equal "$(grep -v '^bindwatch:' "$T/sv.err")" "$(cat "$T/plain.err")"
	# busybox nc listens on [::]: the holder blocks it across families.
	assert_file_has "$T/sv.err" "held by pid $holder"
	assert_file_has "$T/sv.err" "cause: dual_stack"
}

@test "go: net.Listen's conflict is diagnosed with a Go stack" {
	[ -x "$D/gosrv" ] || skip "go (Debian golang-go) not installed"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	holder=$HOLDER_PID

	capture sv timeout 30 "$CLI" --supervise -- "$D/gosrv" "127.0.0.1:$port"
	[ "$status" -eq 1 ]
	assert_equal "$(cat "$T/sv.out")" "listen error: listen tcp 127.0.0.1:$port: bind: address already in use"
	assert_file_has "$T/sv.err" "held by pid $holder"
	assert_file_has "$T/sv.err" "cause: listener: another process holds it: pid $holder"
	# Go keeps frame pointers: the walk reaches main.main.
	for fn in syscall.Bind net.Listen main.main; do
		run grep -E "^bindwatch:     #[0-9]+ 0x[0-9a-f]+ $fn\+0x" "$T/sv.err"
		assert_success
	done
}

@test "go: --remap PORT=next: the server listens and answers on the announced port" {
	[ -x "$D/gosrv" ] || skip "go (Debian golang-go) not installed"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1

	# Automatic: a static Go binary needs no --supervise.
	"$CLI" --remap "$port=next" --port-file "$T/ports" -- "$D/gosrv" "127.0.0.1:$port" \
		>"$T/sv.out" 2>"$T/sv.err" &
	BG_PIDS+=("$!")
	wait_file_has "$T/ports" "tcp 127.0.0.1 $port "
	to=$(port_file_to "$T/ports")
	wait_file_has "$T/sv.out" "listening on 127.0.0.1:$to"
	run "$PYTHON3" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(s.makefile().readline(), end="")' "$to"
	assert_output "hello from go"
	assert_file_has "$T/sv.err" "is a Go program"
}

@test "listen()-time remap: the new socket is installed at the program's own fd number" {
	port=$(free_port)
	mkfifo "$T/probe.in"
	"$CLI" --supervise --remap "$port=next" --port-file "$T/ports" -- \
		"$D/probe_static" -r -l -p -w 0.0.0.0 "$port" <"$T/probe.in" >"$T/sv.out" 2>"$T/sv.err" &
	sup=$!
	BG_PIDS+=("$sup")
	exec {feed}>"$T/probe.in"
	wait_file_has "$T/sv.out" "bind=0 errno=0"
	probe=$(child_of "$sup")
	# The holder: SO_REUSEADDR too, bound after the probe, listening.
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
time.sleep(600)' "$port"
	wait_listen "$port"
	echo go >&"$feed"
	wait_file_has "$T/sv.out" "listen="
	assert_equal "$(cat "$T/sv.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
	to=$(port_file_to "$T/ports")
	[ "$to" -gt "$port" ]
	fd=$(sed -n 's/.* listen(fd \([0-9]*\), 0\.0\.0\.0:'"$port"'\/tcp) failed.*/\1/p' "$T/sv.err")
	[ -n "$fd" ]
	run ss -Hltnp "sport = :$to"
	assert_output --partial "pid=$probe,fd=$fd)"
	assert_file_has "$T/sv.err" "remapped: port $port -> $to"
	echo done >&"$feed"
	exec {feed}>&-
	wait_exit "$sup" 10
	[ "$status" -eq 0 ]
}

@test "another network namespace: the holder there is found and the remap happens there" {
	command -v busybox >/dev/null || skip "busybox-static not installed"
	unshare -n true 2>/dev/null || skip "unshare -n not permitted here"
	port=$(free_port)
	# Inside: a holder, readiness by polling, then the static probe.
	capture sv timeout 30 "$CLI" --supervise --json --remap "$port=next" -- \
		unshare -n busybox sh -c '
ip link set lo up
busybox nc -l -p "$1" & nc=$!
i=0
until busybox netstat -ltn | grep -q ":$1 "; do
	i=$((i + 1)); [ "$i" -lt 200 ] || exit 9; sleep 0.05
done
"$2" 127.0.0.1 "$1"; r=$?
kill "$nc"
exit "$r"' sh "$port" "$D/probe_static"
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$T/sv.out")" "bind=0 errno=0"
	run bw_json "$T/sv.err" 'j["holders"][0]["comm"], j["remap"]["ok"], j["remap"]["to_port"] > j["port"]'
	assert_output "('busybox', True, True)"
}

@test "privileged ports: an unprivileged program still gets EACCES (the kernel checks its credentials, not ours)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop privileges"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	# A free port below 1024, found by binding (we are root).
	port=$("$PYTHON3" -c 'import socket
for p in range(1023, 600, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break')
	[ -n "$port" ]
	drop=(setpriv --reuid 65534 --regid 65534 --clear-groups)
	capture plain "${drop[@]}" "$D/probe_static" 127.0.0.1 "$port"
	capture sv "$CLI" --supervise -- "${drop[@]}" "$D/probe_static" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=13"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=13"
}

@test "exit status: the command's, 128+N for a signal, 127 for a missing command" {
	command -v busybox >/dev/null || skip "busybox-static not installed"
	run "$CLI" --supervise -- busybox sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run "$CLI" --supervise -- busybox sh -c 'kill -USR1 $$'
	[ "$status" -eq $((128 + 10)) ]
	run -127 "$CLI" --supervise -- "$T/no-such-command"
	assert_output --partial "cannot run '$T/no-such-command'"
}

@test "settings: BINDWATCH_BPF=0 switches the BPF owner lookup off under --supervise too" {
	[ "$(id -u)" -eq 0 ] || skip "the BPF iterator needs root"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	capture bpf "$CLI" --supervise --json -- "$D/probe_static" 127.0.0.1 "$port"
	run bw_json "$T/bpf.err" 'j["scan"]["method"], j["holders"][0]["pid"]'
	[ "$output" = "('bpf', $HOLDER_PID)" ] || skip "no BPF iterator on this kernel: $output"
	capture nobpf env BINDWATCH_BPF=0 "$CLI" --supervise --json -- "$D/probe_static" 127.0.0.1 "$port"
	run bw_json "$T/nobpf.err" 'j["scan"]["method"], j["holders"][0]["pid"]'
	assert_output "('proc', $HOLDER_PID)"
}

# supervised_nc: busybox nc listening on a free port under --supervise;
# sets sup (the supervisor's pid) and nc (the target's).
supervised_nc() {
	local port
	port=$(free_port)
	"$CLI" --supervise -- busybox nc -l -p "$port" >/dev/null 2>&1 &
	sup=$!
	BG_PIDS+=("$sup")
	wait_listen "$port"
	nc=$(child_of "$sup")
}

@test "the target killed: the supervisor exits at once with 137; SIGTERM to the supervisor reaches the target" {
	command -v busybox >/dev/null || skip "busybox-static not installed"
	supervised_nc
	kill -KILL "$nc"
	wait_exit "$sup" 10
	[ "$status" -eq 137 ]

	supervised_nc
	kill -TERM "$sup"
	wait_exit "$sup" 10
	[ "$status" -eq 143 ]
	! kill -0 "$nc" 2>/dev/null
}

@test "in flight: the target exits while its bind() waits on the supervisor; no hang" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# wait:3 keeps the thread's bind() in the supervisor for 3 s; the
	# main thread ends the process after 0.3 s.
	SECONDS=0
	capture sv timeout 30 "$CLI" --supervise --remap "$port=wait:3" -- \
		"$D/threads_bind" -x 300 127.0.0.1 "$port"
	[ "$status" -eq 3 ]
	[ "$SECONDS" -lt 20 ]
	assert_file_has "$T/sv.err" "remap failed: rule '$port=wait:3'"
}

@test "in flight: the target SIGKILLed while its bind() waits on the supervisor; no hang, 137" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	"$CLI" --supervise --remap "$port=wait:3" -- "$D/threads_bind" 127.0.0.1 "$port" \
		>/dev/null 2>"$T/sv.err" &
	sup=$!
	BG_PIDS+=("$sup")
	tb=$(child_of "$sup")
	# Until a thread sits in bind() (x86-64: 49, aarch64: 200), i.e. in
	# the supervisor's hands.
	nr=49
	[ "$(uname -m)" = aarch64 ] && nr=200
	poll_until 100 in_syscall "$tb" "$nr" || true
	kill -KILL "$tb"
	wait_exit "$sup" 20
	[ "$status" -eq 137 ]
}
