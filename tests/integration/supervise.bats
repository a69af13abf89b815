#!/usr/bin/env bats
# bindwatch --supervise: programs LD_PRELOAD cannot reach (static C,
# Debian's busybox-static, Go) run under a seccomp user-notification
# supervisor. Their bind()/listen() conflicts are reported and remapped
# like the shim's, the program sees exactly what the kernel said, and the
# supervisor ends with the program, whatever happens to it.

bats_require_minimum_version 1.5.0

load common
load engines

# Static helpers and the Go server are built once per file.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	gcc -O2 -static -o "$d/probe_static" "$BW_SRCDIR/tests/helpers/conflict_probe.c"
	gcc -O2 -static -pthread -o "$d/threads_bind" "$BW_SRCDIR/tests/helpers/threads_bind.c"
	gcc -O2 -static -pthread -o "$d/intr_bind" "$BW_SRCDIR/tests/helpers/intr_bind.c"
	gcc -O2 -static -o "$d/unix_bind" "$BW_SRCDIR/tests/helpers/unix_bind.c"
	gcc -O2 -static -o "$d/sig_wait" "$BW_SRCDIR/tests/helpers/sig_wait.c"
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

teardown() {
	# A stopped process would not die (job control tests): continued
	# first (bindwatch passes SIGCONT on to its program).
	for p in "${BG_PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
	done
	kill_bg
	if [ -n "${PUB:-}" ]; then
		rm -rf "$PUB"
	fi
	if [ -n "${CG:-}" ]; then
		rmdir "$CG"
	fi
	remove_created
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

# PY_HOLD_REUSE PORT: listens on 0.0.0.0:PORT with SO_REUSEADDR: bound
# after a SO_REUSEADDR socket that did not listen yet, it makes that
# socket's listen() conflict.
PY_HOLD_REUSE='import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
time.sleep(600)'

# fed CMD...: CMD (bindwatch, in sup) with stdin from a FIFO written
# through $feed and output in $T/sv.out and $T/sv.err; returns once its
# conflict_probe -p has bound.
fed() {
	mkfifo "$T/probe.in"
	"$@" <"$T/probe.in" >"$T/sv.out" 2>"$T/sv.err" &
	sup=$!
	BG_PIDS+=("$sup")
	exec {feed}>"$T/probe.in"
	wait_file_has "$T/sv.out" "bind=0 errno=0"
}

# listen_conflict PORT: a SO_REUSEADDR listener takes PORT, then the fed
# probe goes on to its listen(), which conflicts; waits for its result.
listen_conflict() {
	bg "$PYTHON3" -c "$PY_HOLD_REUSE" "$1"
	wait_listen "$1"
	echo go >&"$feed"
	wait_file_has "$T/sv.out" "listen="
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
	run grep -E "^bindwatch:   probe_static\[[0-9]+\] bind\(fd [0-9]+, 127\.0\.0\.1:$port/tcp\) failed: Address already in use$" "$T/sv.err"
	assert_success
	assert_file_has "$T/sv.err" "held by pid $holder user "
	assert_file_has "$T/sv.err" "cause: listener: another process holds it: pid $holder"
	# The system call site and its caller, from the binary's .symtab.
	run grep -E "^bindwatch:     #0 (__)?bind\+0x[0-9a-f]+ \(probe_static \+0x[0-9a-f]+\)$" "$T/sv.err"
	assert_success
	run grep -E "^bindwatch:     #1 main\+0x[0-9a-f]+ " "$T/sv.err"
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

	capture sv timeout 30 "$CLI" --supervise --stack-depth 32 -- "$D/gosrv" "127.0.0.1:$port"
	[ "$status" -eq 1 ]
	assert_equal "$(cat "$T/sv.out")" "listen error: listen tcp 127.0.0.1:$port: bind: address already in use"
	assert_file_has "$T/sv.err" "held by pid $holder"
	assert_file_has "$T/sv.err" "cause: listener: another process holds it: pid $holder"
	# Go keeps frame pointers: the walk reaches main.main.
	for fn in syscall.Bind net.Listen main.main; do
		run grep -E "^bindwatch:     #[0-9]+ $fn\+0x" "$T/sv.err"
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
	fed "$CLI" --supervise --remap "$port=next" --port-file "$T/ports" -- \
		"$D/probe_static" -r -l -p -w 0.0.0.0 "$port"
	probe=$(child_of "$sup")
	listen_conflict "$port"
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

# low_free_port: a free port below 1024, found by binding (we are root).
low_free_port() {
	"$PYTHON3" -c 'import socket
for p in range(1023, 600, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break'
}

@test "privileged ports: an unprivileged program still gets EACCES (the kernel checks its credentials, not ours)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop privileges"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	port=$(low_free_port)
	[ -n "$port" ]
	drop=(setpriv --reuid 65534 --regid 65534 --clear-groups)
	capture plain "${drop[@]}" "$D/probe_static" 127.0.0.1 "$port"
	capture sv "$CLI" --supervise -- "${drop[@]}" "$D/probe_static" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=13"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=13"
}

# need_low_port: skips unless root can drop to uid 65534 ($drop) and a
# free port ($low) lies below net.ipv4.ip_unprivileged_port_start.
need_low_port() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop privileges"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	low=$(low_free_port)
	[ -n "$low" ]
	[ "$low" -lt "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" ] ||
		skip "net.ipv4.ip_unprivileged_port_start is below $low here"
	drop=(setpriv --reuid 65534 --regid 65534 --clear-groups)
}

# always_listen PORT RULE: probe_static as $drop under --supervise
# --remap-mode always --remap RULE binds and listens on 127.0.0.1:PORT
# (in $sup, fed through $feed); returns once both calls succeeded.
always_listen() {
	mkfifo "$T/in"
	"$CLI" --supervise --remap-mode always --remap "$2" -- \
		"${drop[@]}" "$D/probe_static" -l -w 127.0.0.1 "$1" <"$T/in" >"$T/always.out" 2>"$T/always.err" &
	sup=$!
	BG_PIDS+=("$sup")
	exec {feed}>"$T/in"
	wait_file_has "$T/always.out" "listen="
	assert_equal "$(cat "$T/always.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
}

# always_done: lets always_listen's program end; bindwatch exits 0.
always_done() {
	echo done >&"$feed"
	exec {feed}>&-
	wait_exit "$sup" 10
	[ "$status" -eq 0 ]
}

@test "privileged ports: a remap or an always-mode move never gives an unprivileged program a port it could not bind" {
	need_low_port
	# Natively, nobody binding the low port: EACCES.
	capture plain "${drop[@]}" "$D/probe_static" 127.0.0.1 "$low"
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=13"

	# A conflict remapped to the low port: the move is refused as the
	# kernel would refuse it, the program keeps its EADDRINUSE.
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	capture sv "$CLI" --supervise --json --remap "$port=$low" -- "${drop[@]}" "$D/probe_static" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=98"
	run bw_json "$T/sv.err" 'j["remap"]["ok"]'
	assert_output "false"
	run ss -Hltn "sport = :$low"
	assert_output ""

	# Always-mode: the bind stays where the program asked.
	other=$(free_port)
	always_listen "$other" "$other=$low"
	run ss -Hltn "sport = :$other"
	assert_output --partial "127.0.0.1:$other"
	run ss -Hltn "sport = :$low"
	assert_output ""
	always_done
}

@test "privileged ports: an always-mode move of a port the program may not bind to one it may is made, as by the shim" {
	need_low_port
	high=$(free_port)
	always_listen "$low" "$low=$high"
	run ss -Hltnp "sport = :$high"
	assert_output --partial "probe_static"
	run ss -Hltn "sport = :$low"
	assert_output ""
	always_done
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
	# The conflict is reported; the program ended during the wait and
	# saw no error: nothing is said of a remap.
	assert_file_has "$T/sv.err" "127.0.0.1:$port"
	assert_file_lacks "$T/sv.err" "remap failed"
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
	# Dead, the program sees no error: the report says nothing of a remap.
	assert_file_has "$T/sv.err" "127.0.0.1:$port"
	assert_file_lacks "$T/sv.err" "remap failed"
}

# count_lines FILE LINE: how many lines of FILE are exactly LINE.
count_lines() {
	grep -cxF -- "$2" "$1" 2>/dev/null || true
}

# has_count FILE LINE N: FILE has at least N lines LINE.
has_count() {
	[ "$(count_lines "$1" "$2")" -ge "$3" ]
}

# intr_run OUT FLAGS...: intr_bind with FLAGS under --supervise (its
# output in $T/OUT.out, bindwatch's stderr in $T/OUT.err); sup: bindwatch.
intr_run() {
	local out=$1
	shift
	"$CLI" --supervise "$@" >"$T/$out.out" 2>"$T/$out.err" &
	sup=$!
	BG_PIDS+=("$sup")
}

@test "one result per call: signal handlers run during a wait:N bind, which then gets exactly one answer (with and without SA_RESTART)" {
	for restart in "" -R; do
		port=$(free_port)
		hold_tcp "$port" 127.0.0.1
		# Three SIGALRMs, 200 ms apart, while the bind waits for the port.
		intr_run run$restart --remap "$port=wait:30" -- "$D/intr_bind" $restart -t 200 -n 3 127.0.0.1 "$port"
		# Each handler runs at once, while bind() is still in progress...
		poll_until 200 has_count "$T/run$restart.out" "signal 14" 3
		assert_file_lacks "$T/run$restart.out" "bind="
		# ...which then succeeds once the holder is gone: never EINTR
		# (bind(2) has no such error), and the socket is bound exactly
		# once (a second bind: EINVAL, the kernel's answer).
		kill "$HOLDER_PID"
		wait_exit "$sup" 20
		[ "$status" -eq 0 ]
		run grep -v '^signal ' "$T/run$restart.out"
		assert_output "$(printf 'bind=0 errno=0 local=%s alarms=3\nagain=-1 errno=22' "$port")"
		run grep -c 'remapped: port' "$T/run$restart.err"
		assert_output 1
	done
}

@test "one result per call: a restarted call resumes the wait instead of starting it again" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# SIGALRM every 250 ms for 10 s (SA_RESTART), wait:3: each restart
	# resuming the same 3 s wait ends it long before the alarms stop; a
	# fresh wait per restart would last until 3 s after the last one.
	intr_run run --remap "$port=wait:3" -- "$D/intr_bind" -R -t 250 -n 40 127.0.0.1 "$port"
	wait_exit "$sup" 30
	[ "$status" -eq 0 ]
	run grep '^bind=' "$T/run.out"
	assert_output --regexp "^bind=-1 errno=98 local=0 alarms=[0-9]+$"
	alarms=$(sed -n 's/^bind=.* alarms=//p' "$T/run.out")
	[ "$alarms" -ge 4 ] && [ "$alarms" -lt 40 ]
	# Two calls (the second bind of the unbound socket waits too), two
	# reports: none for the restarted ones.
	assert_file_has "$T/run.out" "again=-1 errno=98"
	run grep -c "remap failed: rule '$port=wait:3'" "$T/run.err"
	assert_output 2
}

@test "signals keep flowing during wait:N: SIGTERM to bindwatch reaches the program at once" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	nr=49
	[ "$(uname -m)" = aarch64 ] && nr=200

	# A program that handles SIGTERM: its handler runs while the bind
	# still waits, and the bind goes on.
	intr_run handled --remap "$port=wait:60" -- "$D/intr_bind" -T 127.0.0.1 "$port"
	prog=$(child_of "$sup")
	poll_until 100 in_syscall "$prog" "$nr"
	kill -TERM "$sup"
	poll_until 200 grep -qx "signal 15" "$T/handled.out"
	assert_file_lacks "$T/handled.out" "bind="
	kill "$HOLDER_PID"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/handled.out" "bind=0 errno=0 local=$port alarms=0"

	# One that doesn't: SIGTERM ends it at once.
	hold_tcp "$port" 127.0.0.1
	intr_run plain --remap "$port=wait:60" -- "$D/intr_bind" 127.0.0.1 "$port"
	prog=$(child_of "$sup")
	poll_until 100 in_syscall "$prog" "$nr"
	kill -TERM "$sup"
	wait_exit "$sup" 10
	[ "$status" -eq 143 ]
}

# in_bind PID: a thread of PID sits in bind() (x86-64 49, aarch64 200).
in_bind() {
	local nr=49
	[ "$(uname -m)" = aarch64 ] && nr=200
	in_syscall "$1" "$nr"
}

@test "signals keep flowing during wait:N in a multi-threaded program: SIGTERM (to bindwatch, or straight to the program) runs the handler at once, though the signal is the process's, not the waiting thread's" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# The main thread binds; a second one sleeps, blocking nothing. The
	# kernel picks the waiting main thread for a process-directed signal
	# (complete_signal()) and tells no other.
	for to in sup prog; do
		intr_run mt-$to --remap "$port=wait:60" -- "$D/intr_bind" -P -T -R 127.0.0.1 "$port"
		prog=$(child_of "$sup")
		poll_until 100 in_bind "$prog"
		[ "$to" = sup ] && kill -TERM "$sup"
		[ "$to" = prog ] && kill -TERM "$prog"
		wait_file_has "$T/mt-$to.out" "signal 15"
		assert_file_lacks "$T/mt-$to.out" "bind="
		# The bind goes on, and is reported once.
		poll_until 100 in_bind "$prog"
		kill "$HOLDER_PID"
		wait_exit "$sup" 20
		[ "$status" -eq 0 ]
		assert_file_has "$T/mt-$to.out" "bind=0 errno=0 local=$port alarms=0"
		hold_tcp "$port" 127.0.0.1
	done
}

@test "go: SIGTERM to bindwatch during wait:N ends the Go program at once (143), not when the wait ends" {
	[ -x "$D/gosrv" ] || skip "go (Debian golang-go) not installed"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	intr_run go --remap "$port=wait:60" -- "$D/gosrv" "127.0.0.1:$port"
	prog=$(child_of "$sup")
	poll_until 100 in_bind "$prog"
	kill -TERM "$sup"
	wait_exit "$sup" 10
	[ "$status" -eq 143 ]
	assert_file_lacks "$T/go.out" "listen"
}

@test "signals: every catchable one sent to bindwatch reaches the program (SIGWINCH, SIGALRM, SIGRTMIN+3); bindwatch survives and still watches its binds" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	holder=$HOLDER_PID
	rt=$(kill -l RTMIN+3)
	"$CLI" --supervise -- "$D/sig_wait" "$port" "$(kill -l WINCH)" "$(kill -l ALRM)" "$rt" \
		>"$T/sv.out" 2>"$T/sv.err" &
	sup=$!
	BG_PIDS+=("$sup")
	wait_file_has "$T/sv.out" "ready"
	kill -WINCH "$sup"
	wait_file_has "$T/sv.out" "sig=$(kill -l WINCH) bind=0 errno=0"
	kill -ALRM "$sup"
	wait_file_has "$T/sv.out" "sig=$(kill -l ALRM) bind=0 errno=0"
	kill -s RTMIN+3 "$sup"
	wait_file_has "$T/sv.out" "sig=$rt bind=0 errno=0"
	wait_file_has "$T/sv.out" "bind=-1 errno=98"
	wait_exit "$sup" 10
	[ "$status" -eq 0 ]
	# Still supervised after the signals: the conflict is reported.
	assert_file_has "$T/sv.err" "held by pid $holder"
}

@test "automatic supervision degrades: under another seccomp supervisor a static program runs unwatched, with one notice; --supervise fails loudly" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	holder=$HOLDER_PID
	capture plain "$D/probe_static" 127.0.0.1 "$port"
	plain=$status

	# The outer bindwatch's filter has the listener: the inner one's
	# filter is refused (EBUSY), and it picked supervision by itself.
	capture nested "$CLI" --supervise -- "$CLI" -- "$D/probe_static" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/nested.out")" "bind=-1 errno=98"
	assert_equal "$status" "$plain"
	run grep -c '^bindwatch: .*probe_static: cannot supervise it (seccomp filter: Device or resource busy (another seccomp supervisor already watches this process)); running it unwatched$' "$T/nested.err"
	assert_output 1
	assert_file_lacks "$T/nested.err" "supervising it with seccomp"
	# The outer supervisor still watches it.
	assert_file_has "$T/nested.err" "held by pid $holder"

	# Asked for explicitly: 125 and why; the program never runs.
	capture explicit "$CLI" --supervise -- "$CLI" --supervise -- "$D/probe_static" 127.0.0.1 "$port"
	[ "$status" -eq 125 ]
	assert_equal "$(cat "$T/explicit.out")" ""
	assert_file_has "$T/explicit.err" "bindwatch: --supervise: cannot install the seccomp filter: Device or resource busy (another seccomp supervisor already watches this process)"
}

# outer_filter NAME FILTER... -- BINDWATCH-ARGS...: bindwatch under an
# outer seccomp filter: "kill|eperm SYSCALL" (seccomp_deny.py) or
# "service" (systemd's @system-service set, anything else kills:
# seccomp_run.py); output in NAME.out/NAME.err, exit in status.
outer_filter() {
	local name=$1
	shift
	if [ "$1" = service ]; then
		sh "$BW_SRCDIR/tests/fixtures/system-service.syscalls.sh" >"$T/service.syscalls"
		shift 2
		capture "$name" /usr/bin/python3 "$BW_SRCDIR/tests/helpers/seccomp_run.py" \
			"$T/service.syscalls" "$CLI" "$@"
	else
		local action=$1 sc=$2
		shift 3
		capture "$name" /usr/bin/python3 "$BW_SRCDIR/tests/helpers/seccomp_deny.py" \
			"$action" "$sc" "$CLI" "$@"
	fi
}

# outer_held: skips without python3-seccomp; a listener holds
# 127.0.0.1:$port (pid $holder) and $plain is the static probe's exit
# status binding it without bindwatch.
outer_held() {
	/usr/bin/python3 -c 'import seccomp' 2>/dev/null || skip "python3-seccomp not installed"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	holder=$HOLDER_PID
	capture plain "$D/probe_static" 127.0.0.1 "$port"
	plain=$status
}

# outer_denies WHY FILTER...: under the outer FILTER (outer_filter's
# words), bindwatch on the static probe binding the held $port: picked
# automatically, the program runs unwatched with the answer it gets
# without bindwatch ($plain, in auto.out), after one notice "cannot
# supervise it (WHY); running it unwatched" (WHY: a grep pattern);
# --supervise exits 125 and the program never runs (why in explicit.err).
outer_denies() {
	local why=$1
	shift
	outer_filter auto "$@" -- -- "$D/probe_static" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/auto.out")" "bind=-1 errno=98"
	assert_equal "$status" "$plain"
	run grep -c "^bindwatch: .*probe_static: cannot supervise it ($why); running it unwatched\$" "$T/auto.err"
	assert_output 1
	assert_file_lacks "$T/auto.err" "supervising it with seccomp"
	outer_filter explicit "$@" -- --supervise -- "$D/probe_static" 127.0.0.1 "$port"
	[ "$status" -eq 125 ]
	assert_equal "$(cat "$T/explicit.out")" ""
}

@test "an outer filter that denies pidfd_getfd (EPERM as Docker's default profile, SIGSYS as systemd's): no supervision, one notice, the program runs as without bindwatch; --supervise exits 125" {
	outer_held
	for action in eperm kill; do
		# Chosen automatically (a static program): it runs unwatched and
		# gets the kernel's answer (not ENOSYS, bindwatch is not killed).
		outer_denies "pidfd_getfd is denied here: .*" "$action" pidfd_getfd
		assert_file_has "$T/explicit.err" "bindwatch: --supervise: pidfd_getfd is denied here: "
	done
	assert_file_has "$T/explicit.err" "kills the caller with SIGSYS"
	outer_filter explicit eperm pidfd_getfd -- --supervise -- "$D/probe_static" 127.0.0.1 "$port"
	assert_file_has "$T/explicit.err" "Operation not permitted (seccomp: Docker's default profile needs --cap-add SYS_PTRACE)"
}

@test "an outer filter that kills on seccomp() (systemd's @system-service): bindwatch is not killed; a static program runs unwatched with one notice, --supervise exits 125" {
	outer_held
	for filter in "kill seccomp" service; do
		# shellcheck disable=SC2086 # the filter's words
		outer_denies "seccomp is denied here: a seccomp filter kills the caller with SIGSYS (systemd.s SystemCallFilter= by default)" $filter
		assert_file_has "$T/explicit.err" "bindwatch: --supervise: seccomp is denied here: a seccomp filter kills the caller with SIGSYS"
	done
}

@test "an outer filter that denies the listener's ioctls (EPERM above 0x5500, terminal ioctls pass): no supervision, the program's binds get the kernel's answers (never ENOSYS); --supervise exits 125" {
	outer_held
	outer_denies "ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID) is denied here: Operation not permitted" eperm 'ioctl:1>0x5500'
	assert_file_lacks "$T/auto.err" "listener failed"
	# A free port too: bound and listening, as without bindwatch.
	outer_filter free eperm 'ioctl:1>0x5500' -- -- "$D/probe_static" -l 127.0.0.1 0
	assert_equal "$(cat "$T/free.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
	[ "$status" -eq 0 ]
	assert_file_has "$T/explicit.err" "bindwatch: --supervise: ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID) is denied here: Operation not permitted"
}

@test "an outer filter that kills on bpf(): still supervised, the holder found through /proc; the program gets EADDRINUSE, not ENOSYS" {
	outer_held
	outer_filter sup kill bpf -- --supervise -- "$D/probe_static" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/sup.out")" "bind=-1 errno=98"
	[ "$status" -eq 1 ]
	assert_file_has "$T/sup.err" "held by pid $holder"
}

@test "a systemd unit with SystemCallFilter=@system-service: bindwatch on a static program succeeds and the program runs (unwatched, one notice); --supervise ends the unit with 125 and why" {
	CREATED+=("bw-sup-$$")
	systemd_container "bw-sup-$$"
	bindwatch_into "bw-sup-$$"
	docker_put "bw-sup-$$" "$D/probe_static" /usr/local/bin/probe_static
	for v in auto explicit; do
		opt=
		[ "$v" = explicit ] && opt=--supervise
		sd_unit "bw-sup-$$" "svc-$v.service" <<UNIT
[Service]
Type=oneshot
SystemCallFilter=@system-service
Environment=ASAN_OPTIONS=${ASAN_OPTIONS:-} UBSAN_OPTIONS=${UBSAN_OPTIONS:-}
ExecStart=/usr/local/bin/bindwatch $opt -- /usr/local/bin/probe_static -l 127.0.0.1 0
UNIT
		sd_start_show "bw-sup-$$" "svc-$v.service" "$T/$v"
		cat "$T/$v.show" "$T/$v.journal" >&2
	done
	# Killed by SIGSYS (bindwatch before) would be Result=signal.
	assert_file_has "$T/auto.show" "Result=success"
	assert_file_has "$T/auto.show" "ExecMainStatus=0"
	assert_file_has "$T/auto.journal" "bind=0 errno=0"
	assert_file_has "$T/auto.journal" "listen=0 errno=0"
	assert_file_has "$T/auto.journal" "probe_static: cannot supervise it (seccomp is denied here: a seccomp filter kills the caller with SIGSYS"
	# ExecMainCode=1: CLD_EXITED.
	assert_equal "$(cat "$T/explicit.show")" "$(printf 'Result=exit-code\nExecMainCode=1\nExecMainStatus=125')"
	assert_file_has "$T/explicit.journal" "bindwatch: --supervise: seccomp is denied here"
	assert_file_lacks "$T/explicit.journal" "bind="
}

@test "symbols are read only from regular files: a mapped path that became a FIFO does not hang bindwatch" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop privileges"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	# Unprivileged, bindwatch can't use /proc/PID/map_files and reads the
	# program's file by the path its maps show: the program decides what
	# is there. After the bind, the file is deleted (maps then shows
	# "PATH (deleted)") and a FIFO takes that name.
	# The test's own directory is root's alone: one nobody can reach.
	PUB=$(mktemp -d /tmp/bindwatch-fifo.XXXXXX)
	chmod 755 "$PUB"
	mkdir "$PUB/bin"
	cp "$D/probe_static" "$PUB/bin/prog"
	port=$(free_port)
	fed setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" --supervise -- \
		"$PUB/bin/prog" -r -l -p 0.0.0.0 "$port"
	rm "$PUB/bin/prog"
	mkfifo "$PUB/bin/prog (deleted)"
	chmod 666 "$PUB/bin/prog (deleted)"
	# A listen()-time conflict: the stack is symbolized from the file.
	bg "$PYTHON3" -c "$PY_HOLD_REUSE" "$port"
	wait_listen "$port"
	echo go >&"$feed"
	exec {feed}>&-
	# A bindwatch stuck in open() would not even die of SIGTERM.
	if ! wait_exit "$sup" 20; then
		kill -KILL "$sup"
		false
	fi
	[ "$status" -eq 1 ]
	assert_equal "$(cat "$T/sv.out")" "$(printf 'bind=0 errno=0\nlisten=-1 errno=98')"
	run grep -E "listen\(fd [0-9]+, 0\.0\.0\.0:$port/tcp\) failed: Address already in use" "$T/sv.err"
	assert_success
	assert_file_has "$T/sv.err" "(prog (deleted) +0x"
}

@test "listen()-time remap: the new socket belongs to the program's cgroup, not bindwatch's" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a cgroup"
	root=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
	[ -n "$root" ] || skip "no cgroup2 hierarchy mounted"
	mkdir "$root/bindwatch-test.$$" || skip "cannot make a cgroup under $root"
	CG=$root/bindwatch-test.$$
	port=$(free_port)
	# The program moves itself into the new cgroup, then binds.
	fed "$CLI" --supervise --remap "$port=next" --port-file "$T/ports" -- \
		sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" -r -l -p -w 0.0.0.0 "$3"' \
		sh "$CG" "$D/probe_static" "$port"
	probe=$(child_of "$sup")
	assert_equal "$(sed -n 's/^0:://p' /proc/"$probe"/cgroup)" "/bindwatch-test.$$"
	listen_conflict "$port"
	assert_equal "$(cat "$T/sv.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
	to=$(port_file_to "$T/ports")
	# sock_diag's cgroup id of the new listener (ss resolves it to a path).
	run ss -Hltnp --cgroup "sport = :$to"
	assert_output --partial "pid=$probe,"
	assert_output --partial "cgroup:/bindwatch-test.$$"
	echo done >&"$feed"
	exec {feed}>&-
	wait_exit "$sup" 10
	[ "$status" -eq 0 ]
}

# PY_UNIX ADDR: binds an AF_UNIX stream socket to ADDR (@NAME: the
# abstract NAME); prints "bind=0" or "bind=-1 errno=E".
PY_UNIX='import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind("\0" + a[1:] if a.startswith("@") else a)
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)'

# What must agree between the shim's and the supervisor's record (the
# stack, times and the failing pid differ by nature, and so does the
# hint's relation between holder and program: under the shim the program
# is the holder's sibling, under the supervisor bindwatch's child).
UNIX_FIELDS='j["event"], j["comm"], j["fd"], j["errno"], j["family"], j["proto"], j["path"], j["abstract"], j["cause"], [(h["pid"], h.get("state"), h["cause"]) for h in j["holders"]], j["holders_total"], j["hint"].split(";")[0]'

# unix_both NAME DIR ADDR: python3 binding ADDR from the directory DIR
# under the shim and under --supervise: $T/NAME-shim.*, $T/NAME-sv.*.
unix_both() {
	capture "$1-shim" sh -c 'cd "$1" && shift && exec "$@"' sh "$2" \
		"$CLI" --json -- "$PYTHON3" -c "$PY_UNIX" "$3"
	capture "$1-sv" sh -c 'cd "$1" && shift && exec "$@"' sh "$2" \
		"$CLI" --supervise --json -- "$PYTHON3" -c "$PY_UNIX" "$3"
}

@test "AF_UNIX: stale and live paths (absolute, relative to the program's cwd) and abstract names are diagnosed as by the shim" {
	mkdir "$T/run"
	# Stale: the file of a socket closed without unlink.
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])' "$T/run/stale.sock"
	[ -S "$T/run/stale.sock" ]
	hold unix "$T/run/live.sock"
	live=$HOLDER_PID
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + sys.argv[1])
s.listen(4)
time.sleep(600)' "bindwatch-test-$$"
	abstract=$!
	poll_until 100 grep -q "@bindwatch-test-$$" /proc/net/unix

	unix_both stale / "$T/run/stale.sock"
	unix_both live / "$T/run/live.sock"
	# bindwatch runs elsewhere: the path is the program's, from its cwd.
	unix_both rel "$T/run" live.sock
	unix_both abs / "@bindwatch-test-$$"
	n_other=$(other_named_netns)
	for name in stale live rel abs; do
		assert_equal "$(cat "$T/$name-sv.out")" "bind=-1 errno=98"
		assert_equal "$(cat "$T/$name-sv.out")" "$(cat "$T/$name-shim.out")"
		if [ "$name" = stale ] && [ "$n_other" != 0 ]; then
			# Another network namespace has named unix sockets (a
			# container): the supervisor, as root, searches it by the
			# file; the shim can't enter it, so it can't be sure.
			run bw_json "$T/stale-shim.err" 'j["cause"]'
			assert_output unix_unverified
			continue
		fi
		shim=$(bw_json "$T/$name-shim.err" "$UNIX_FIELDS")
		run bw_json "$T/$name-sv.err" "$UNIX_FIELDS"
		assert_output "$shim"
	done
	run bw_json "$T/stale-sv.err" 'j["cause"], j["path"]'
	assert_output "('unix_stale', '$T/run/stale.sock')"
	run bw_json "$T/rel-sv.err" 'j["cause"], j["path"], j["holders"][0]["pid"]'
	assert_output "('unix_live', 'live.sock', $live)"
	run bw_json "$T/abs-sv.err" 'j["holders"][0]["pid"]'
	assert_output "$abstract"

	# A free path: no report, the kernel's bind.
	capture free "$CLI" --supervise --json -- "$PYTHON3" -c "$PY_UNIX" "$T/run/free.sock"
	assert_equal "$(cat "$T/free.out")" "bind=0"
	assert_file_lacks "$T/free.err" '"event"'
	[ -S "$T/run/free.sock" ]
}

# stopped PID: PID is in job-control stop (state T in /proc/PID/stat).
stopped() {
	[ "$(sed 's/.*) //' /proc/"$1"/stat | cut -d' ' -f1)" = T ]
}

# not_stopped PID: PID runs (or sleeps), no longer stopped.
not_stopped() {
	[ -e /proc/"$1"/stat ] && ! stopped "$1"
}

@test "signals keep flowing during wait:N: SIGSTOP stops the program at once, and after SIGCONT its bind goes on" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	nr=49
	[ "$(uname -m)" = aarch64 ] && nr=200
	intr_run stop --remap "$port=wait:60" -- "$D/intr_bind" 127.0.0.1 "$port"
	prog=$(child_of "$sup")
	poll_until 100 in_syscall "$prog" "$nr"
	kill -STOP "$prog"
	poll_until 100 stopped "$prog"
	kill -CONT "$prog"
	# Back in the same bind(), which still waits for the port.
	poll_until 100 in_syscall "$prog" "$nr"
	assert_file_lacks "$T/stop.out" "bind="
	kill "$HOLDER_PID"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/stop.out" "bind=0 errno=0 local=$port alarms=0"
	run grep -c "remapped: port $port -> $port" "$T/stop.err"
	assert_output 1
}

# fifo_run OUT FLAGS...: like intr_run, with stdin from a FIFO written
# through $feed.
fifo_run() {
	local out=$1
	shift
	mkfifo "$T/$out.in"
	"$CLI" --supervise "$@" <"$T/$out.in" >"$T/$out.out" 2>"$T/$out.err" &
	sup=$!
	BG_PIDS+=("$sup")
	exec {feed}>"$T/$out.in"
}

# sockets_of PID: the sockets PID has descriptors of ("socket:[INODE]"),
# sorted.
sockets_of() {
	readlink /proc/"$1"/fd/* 2>/dev/null | grep '^socket:' | sort -u
}

# taken SUP PID [N]: bindwatch (SUP) has taken PID's call (N of its calls,
# default 1): it holds its copy of PID's socket while it handles the call.
# Before, a signal ends the notification before bindwatch sees it
# (seccomp_unotify(2)). Only a socket this shell lacks counts: both
# inherit its descriptors (bats' fd 3).
taken() {
	local n
	n=$(comm -12 <(sockets_of "$2") <(sockets_of "$1") | comm -23 - <(sockets_of $$) | wc -l)
	[ "$n" -ge "${3:-1}" ]
}

# pausing SUP PID: bindwatch (SUP) is in a wait:N for PID's call: taken,
# and between two attempts (in poll(2) with a timeout: it holds a call).
pausing() {
	local nr=7
	[ "$(uname -m)" = aarch64 ] && nr=73
	taken "$1" "$2" &&
		awk -v nr="$nr" '{ exit !($1 == nr && $4 != "0xffffffffffffffff") }' /proc/"$1"/syscall
}

# port_free PORT: nothing listens on PORT.
port_free() {
	! ss_has -Hltn "sport = :$1"
}

# taken_bind RUNNER NAME WAIT [OPTION...] -- [FLAG...]: a holder on a fresh
# 127.0.0.1:$port, then intr_bind FLAG... under RUNNER (intr_run or
# fifo_run) as NAME with --remap $port=wait:WAIT OPTION...; returns once
# bindwatch has taken the bind. $prog: the program; $nr: bind's number.
taken_bind() {
	local runner=$1 name=$2 wait=$3 opts=()
	shift 3
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	nr=49
	[ "$(uname -m)" = aarch64 ] && nr=200
	"$runner" "$name" --remap "$port=wait:$wait" "${opts[@]}" -- "$D/intr_bind" "$@" 127.0.0.1 "$port"
	prog=$(child_of "$sup")
	poll_until 100 in_syscall "$prog" "$nr"
	poll_until 100 taken "$sup" "$prog"
}

@test "one result per call: a wait interrupted by a handler, whose port is free once the call is made again, is reported and recorded as a wait that succeeded" {
	taken_bind fifo_run held 30 --port-file "$T/ports" -- -H
	# The handler runs (the call is restarted) and holds on until told;
	# meanwhile the holder goes away.
	kill -USR1 "$prog"
	wait_file_has "$T/held.out" "signal 10"
	kill "$HOLDER_PID"
	poll_until 100 port_free "$port"
	echo go >&"$feed"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/held.out" "bind=0 errno=0 local=$port alarms=0"
	# As natively: one record of the conflict, whose wait succeeded, and
	# its port-file line.
	run grep -c "remapped: port $port -> $port" "$T/held.err"
	assert_output 1
	assert_file_has "$T/held.err" "in use by"
	run cat "$T/ports"
	assert_output "tcp 127.0.0.1 $port $port $prog"
}

# clock_past T: the monotonic clock (as /proc/uptime shows it) is past T.
clock_past() {
	awk -v t="$1" '{ exit !($1 > t) }' /proc/uptime
}

@test "one result per call: a new bind after the program siglongjmp()ed out of its handler gets a wait of its own" {
	taken_bind fifo_run jump 2 -- -J
	started=$(cut -d' ' -f1 /proc/uptime)
	kill -USR1 "$prog"
	wait_file_has "$T/jump.out" "jumped"
	# The same bind, from the same place, once the first one's wait:2
	# would have ended: a new call, not the restart of the old one.
	poll_until 200 clock_past "$(awk -v t="$started" 'BEGIN { print t + 2.5 }')"
	echo go >&"$feed"
	poll_until 100 pausing "$sup" "$prog"
	assert_file_lacks "$T/jump.out" "bind="
	kill "$HOLDER_PID"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/jump.out" "bind=0 errno=0 local=$port alarms=0"
	assert_file_lacks "$T/jump.err" "still in use"
}

@test "job control: SIGTSTP to bindwatch stops the program (and bindwatch), SIGCONT runs both again, also during wait:N" {
	# The kernel discards a job-control stop in an orphaned process
	# group (no parent outside it in the session): then nothing can show.
	bg sleep 600
	kill -TSTP "$!"
	if ! poll_until 40 stopped "$!"; then
		skip "this test's process group is orphaned: the kernel discards SIGTSTP"
	fi
	kill -CONT "$!"

	# Idle: the program waits on its stdin after its bind.
	fifo_run idle -- "$D/intr_bind" -w 127.0.0.1 "$(free_port)"
	prog=$(child_of "$sup")
	wait_file_has "$T/idle.out" "again="
	kill -TSTP "$sup"
	poll_until 100 stopped "$prog"
	poll_until 100 stopped "$sup"
	kill -CONT "$sup"
	poll_until 100 not_stopped "$prog"
	poll_until 100 not_stopped "$sup"
	echo go >&"$feed"
	wait_exit "$sup" 10
	[ "$status" -eq 0 ]

	# In a wait:N bind: stopped at once, and after SIGCONT the same bind
	# goes on (and is reported once).
	taken_bind intr_run busy 60 --
	kill -TSTP "$sup"
	poll_until 100 stopped "$prog"
	poll_until 100 stopped "$sup"
	kill -CONT "$sup"
	poll_until 100 not_stopped "$prog"
	poll_until 100 in_syscall "$prog" "$nr"
	assert_file_lacks "$T/busy.out" "bind="
	kill "$HOLDER_PID"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/busy.out" "bind=0 errno=0 local=$port alarms=0"
	run grep -c "remapped: port $port -> $port" "$T/busy.err"
	assert_output 1
}

# all_stopped PID: every thread of PID is stopped ('T').
all_stopped() {
	local f
	for f in /proc/"$1"/task/*/stat; do
		[ "$(sed 's/.*) //' "$f" | cut -d' ' -f1)" = T ] || return 1
	done
}

@test "job control in a multi-threaded program: SIGTSTP to bindwatch during wait:N stops every thread of the program (and bindwatch); SIGCONT runs both and the bind goes on" {
	bg sleep 600
	kill -TSTP "$!"
	if ! poll_until 40 stopped "$!"; then
		skip "this test's process group is orphaned: the kernel discards SIGTSTP"
	fi
	kill -CONT "$!"
	taken_bind intr_run mt 60 -- -P
	kill -TSTP "$sup"
	poll_until 100 all_stopped "$prog"
	poll_until 100 stopped "$sup"
	kill -CONT "$sup"
	poll_until 100 not_stopped "$prog"
	poll_until 100 in_syscall "$prog" "$nr"
	assert_file_lacks "$T/mt.out" "bind="
	kill "$HOLDER_PID"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/mt.out" "bind=0 errno=0 local=$port alarms=0"
}

@test "job control in a multi-threaded program: Ctrl-Z in an interactive shell during wait:N stops the job, program included (every thread); fg runs it on and the bind goes on" {
	command -v script >/dev/null || skip "script (util-linux) not installed"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# bash -i on a pseudo-terminal (script): its job control, and the
	# terminal's ^Z to the foreground process group.
	mkfifo "$T/tty.in"
	script -qfec "bash --norc --noprofile -i" /dev/null <"$T/tty.in" >"$T/tty.out" 2>&1 &
	BG_PIDS+=("$!")
	exec {tty}>"$T/tty.in"
	printf '%s\n' "$CLI --supervise --remap $port=wait:60 -- $D/intr_bind -P 127.0.0.1 $port >$T/job.out 2>$T/job.err" >&"$tty"
	poll_until 100 pgrep -f "^$CLI --supervise --remap $port=" >/dev/null
	sup=$(pgrep -f "^$CLI --supervise --remap $port=")
	BG_PIDS+=("$sup")
	prog=$(child_of "$sup")
	poll_until 100 in_bind "$prog"
	printf '\032' >&"$tty"
	poll_until 100 all_stopped "$prog"
	poll_until 100 stopped "$sup"
	printf 'fg\n' >&"$tty"
	poll_until 100 not_stopped "$prog"
	poll_until 100 in_bind "$prog"
	assert_file_lacks "$T/job.out" "bind="
	kill "$HOLDER_PID"
	wait_file_has "$T/job.out" "bind=0 errno=0 local=$port alarms=0"
	printf 'exit\n' >&"$tty"
	exec {tty}>&-
}

@test "waits hold up no other call: while one thread's bind() waits (wait:6) on a held port, another thread binds and listens on a free port at once; the wait still succeeds" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# Thread 1 binds the held port; thread 2 binds 127.0.0.1:0 once told.
	fifo_run free --remap "$port=wait:6" -- "$D/threads_bind" -g 127.0.0.1 "$port" 0
	prog=$(child_of "$sup")
	poll_until 100 pausing "$sup" "$prog"
	echo go >&"$feed"
	# Thread 2's bind() and listen() return long before thread 1's wait
	# could end (within 2 s of 6; natively and under the shim: at once).
	poll_until 40 grep -qE '^0 bind=0 errno=0 local=[1-9][0-9]* listen=0 errno=0$' "$T/free.out"
	assert_file_lacks "$T/free.out" "$port bind="
	kill "$HOLDER_PID"
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/free.out" "$port bind=0 errno=0 local=$port listen=0 errno=0"
	run grep -c "remapped: port $port -> $port" "$T/free.err"
	assert_output 1
}

@test "waits run side by side: two threads in wait:N on two held ports each end at their own time (one when its holder goes, the other at its deadline)" {
	p1=$(free_port)
	hold_tcp "$p1" 127.0.0.1
	p2=$(free_port)
	hold_tcp "$p2" 127.0.0.1
	fifo_run two --remap "$p1=wait:4,$p2=wait:30" -- "$D/threads_bind" -g 127.0.0.1 "$p1" "$p2"
	prog=$(child_of "$sup")
	poll_until 100 pausing "$sup" "$prog"
	echo go >&"$feed"
	# Both calls in bindwatch's hands at once.
	poll_until 40 taken "$sup" "$prog" 2
	# The second's port frees: its wait succeeds, the first's goes on...
	kill "$HOLDER_PID"
	wait_file_has "$T/two.out" "$p2 bind=0 errno=0 local=$p2 listen=0 errno=0"
	assert_file_lacks "$T/two.out" "$p1 bind="
	# ...until its own 4 s are over.
	wait_exit "$sup" 20
	[ "$status" -eq 0 ]
	assert_file_has "$T/two.out" "$p1 bind=-1 errno=98 local=0 listen=-1 errno=0"
	assert_file_has "$T/two.err" "wait:4: still in use after 4s"
	run grep -c "remapped: port $p2 -> $p2" "$T/two.err"
	assert_output 1
}

@test "waits run side by side up to 64: a 65th call that would wait fails its wait:N at once, and the report says why" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# 65 threads, each with its own socket, bind the one held port.
	ports=()
	for _ in $(seq 65); do
		ports+=("$port")
	done
	fifo_run many --remap "$port=wait:60" -- "$D/threads_bind" -g 127.0.0.1 "${ports[@]}"
	prog=$(child_of "$sup")
	poll_until 100 pausing "$sup" "$prog"
	for _ in $(seq 64); do
		echo go
	done >&"$feed"
	# One of them is answered long before its 60 s, the others wait on.
	poll_until 600 grep -q "bind=" "$T/many.out"
	poll_until 600 taken "$sup" "$prog" 64
	run cat "$T/many.out"
	assert_output "$port bind=-1 errno=98 local=0 listen=-1 errno=0"
	run grep -c "wait: not waited: 64 other calls wait already" "$T/many.err"
	assert_output 1
	kill -TERM "$sup"
	wait_exit "$sup" 20
	[ "$status" -eq 143 ]
}

@test "a stop that outlasts wait:N: continued, the call makes one last attempt instead of a new wait, and the report gives the real wait" {
	taken_bind intr_run late 4 --
	started=$(cut -d' ' -f1 /proc/uptime)
	kill -STOP "$prog"
	poll_until 100 stopped "$prog"
	# Continued 6.5 s after the wait began, 2.5 s after it would have ended.
	poll_until 200 clock_past "$(awk -v t="$started" 'BEGIN { print t + 6.5 }')"
	kill -CONT "$prog"
	# Its bind() fails at once: well before a new 4 s wait could end.
	poll_until 40 grep -q '^bind=' "$T/late.out"
	assert_file_has "$T/late.out" "bind=-1 errno=98 local=0 alarms=0"
	# The wait counted from the first attempt, as in the shim: 6 s or so.
	waited=$(sed -n 's/.*wait:4: still in use after \([0-9]*\)s.*/\1/p' "$T/late.err" | head -n1)
	[ "$waited" -ge 6 ] && [ "$waited" -lt 30 ]
}

# stale_unix PATH: the file of a unix socket closed without unlink.
stale_unix() {
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])' "$1"
	[ -S "$1" ]
}

@test "AF_UNIX: 'to free it' names the stale file as the user reaches it (relative path, chroot, another mount namespace)" {
	need_stale_certain
	mkdir -p "$T/run" "$T/jail/run" "$T/ns"
	# The user (and bindwatch) here, the program binding from $T/run: a
	# path relative to its cwd is not the user's.
	cd "$T"
	stale_unix "$T/run/stale.sock"
	capture rel-shim "$CLI" --json -- sh -c 'cd "$1" && exec "$2" -c "$3" stale.sock' sh \
		"$T/run" "$PYTHON3" "$PY_UNIX"
	capture rel-sv "$CLI" --supervise --json -- sh -c 'cd "$1" && exec "$2" -c "$3" stale.sock' sh \
		"$T/run" "$PYTHON3" "$PY_UNIX"
	for name in rel-shim rel-sv; do
		assert_equal "$(cat "$T/$name.out")" "bind=-1 errno=98"
		run bw_json "$T/$name.err" 'j["cause"], j["path"], j["free_command"]'
		assert_output "('unix_stale', 'stale.sock', 'rm -- $T/run/stale.sock')"
	done

	# A program in a chroot: its /run is the user's $T/jail/run.
	cp "$D/unix_bind" "$T/jail/unix_bind"
	stale_unix "$T/jail/run/stale.sock"
	capture jail "$CLI" --supervise --json -- chroot "$T/jail" /unix_bind /run/stale.sock
	assert_equal "$(cat "$T/jail.out")" "bind=-1 errno=98"
	run bw_json "$T/jail.err" 'j["cause"], j["path"], j["free_command"]'
	assert_output "('unix_stale', '/run/stale.sock', 'rm -- $T/jail/run/stale.sock')"

	# In another mount namespace, where the file is not under the user's
	# name at all: through the program's root in /proc.
	capture ns "$CLI" --supervise --json -- unshare -m --propagation private sh -c \
		'mount -t tmpfs tmpfs "$1" && "$2" -c "import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])" "$1/stale.sock" && exec "$3" "$1/stale.sock"' sh "$T/ns" "$PYTHON3" "$D/unix_bind"
	assert_equal "$(cat "$T/ns.out")" "bind=-1 errno=98"
	[ ! -e "$T/ns/stale.sock" ]
	run bw_json "$T/ns.err" 'j["cause"], j["free_command"].replace("/proc/%d/" % j["pid"], "/proc/PID/")'
	assert_output "('unix_stale', 'rm -- /proc/PID/root$T/ns/stale.sock')"
}
