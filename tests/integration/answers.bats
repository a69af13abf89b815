#!/usr/bin/env bats
# Answers a new user got wrong (issue 10, second pass): each situation made
# for real with python3 programs, the kernel asked where it decides, and
# bindwatch's cause and fixes checked against it.

load common
load diag_helpers

teardown() {
	kill_bg
}

# fix_kinds FILE: the fixes of the JSON record in FILE as "target:kind[:name]" words.
fix_kinds() {
	jq -r '[.fixes[] | .target + ":" + .kind + (if .name then ":" + .name else "" end)] | join(" ")' "$1"
}

@test "who PORT: a listener with SO_REUSEADDR (python3 http.server) is a listener, never reuseaddr_mismatch" {
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P" --bind 127.0.0.1
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	# The kernel: a plain bind of the wildcard, even with SO_REUSEADDR, is refused.
	run "$PYTHON3" -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1]))); print("bound")
except OSError as e:
    print("errno=%d" % e.errno)' "$P"
	assert_output "errno=98"
	for q in "$P" "tcp $P"; do
		# shellcheck disable=SC2086 # q is two words on purpose
		"$CLI" who --json $q >"$BATS_TEST_TMPDIR/who.json"
		assert_equal "$q: $(jq -r '[.cause, .holders[0].cause, .holders[0].pid] | map(tostring) | join(" ")' "$BATS_TEST_TMPDIR/who.json")" \
			"$q: listener listener $hp"
		run fix_kinds "$BATS_TEST_TMPDIR/who.json"
		refute_output --partial SO_REUSEADDR
		assert_output --partial "holder:stop"
	done
	run "$CLI" who "$P"
	assert_output --partial "cause: listener"
	refute_output --partial "reuseaddr"
}

@test "who PORT: TIME-WAIT leftovers get the same remedies as who tcp ADDR:PORT" {
	P=$(free_port)
	make_time_wait "$P" 1
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	"$CLI" who --json "$P" >"$BATS_TEST_TMPDIR/port.json"
	"$CLI" who --json tcp "127.0.0.1:$P" >"$BATS_TEST_TMPDIR/addr.json"
	assert_equal "$(jq -r .cause "$BATS_TEST_TMPDIR/port.json")" time_wait
	assert_equal "$(fix_kinds "$BATS_TEST_TMPDIR/port.json")" "$(fix_kinds "$BATS_TEST_TMPDIR/addr.json")"
	assert_equal "$(fix_kinds "$BATS_TEST_TMPDIR/port.json")" "caller:wait caller:port caller:sockopt:SO_REUSEADDR"
}

# exhaust_run NAME CODE: in a new network namespace with the local port
# range 40000-40009, a python3 process binds ten TCP sockets to
# 127.0.0.1:0 without listen() or connect(), prints "holder=PID", then
# runs python3 -c CODE under bindwatch --json; output in NAME.out/.err,
# its JSON record in NAME.json, that pid in HOLDER.
exhaust_run() {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	capture "$1" unshare -n sh -c 'ip link set lo up &&
		echo "40000 40009" >/proc/sys/net/ipv4/ip_local_port_range && exec "$@"' sh \
		"$PYTHON3" -c 'import os, signal, socket, subprocess, sys
cli, py, code = sys.argv[1], sys.argv[2], sys.argv[3]
pr, pw = os.pipe()
pid = os.fork()
if pid == 0:
    held = []
    for _ in range(10):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        held.append(s)
    os.write(pw, b"x")
    signal.pause()  # until the parent kills it
    os._exit(0)
os.read(pr, 1)
print("holder=%d" % pid, flush=True)
r = subprocess.run([cli, "--json", "--no-stack", "--", py, "-c", code])
os.kill(pid, 9)
os.waitpid(pid, 0)
sys.exit(r.returncode)' "$CLI" "$PYTHON3" "$2"
	grep -q '^holder=' "$BATS_TEST_TMPDIR/$1.out" ||
		skip "could not set up the namespace: $(cat "$BATS_TEST_TMPDIR/$1.err")"
	HOLDER=$(sed -n 's/^holder=//p' "$BATS_TEST_TMPDIR/$1.out")
	grep '^{' "$BATS_TEST_TMPDIR/$1.err" >"$BATS_TEST_TMPDIR/$1.json"
}

@test "ephemeral exhaustion by TCP sockets bound but not connected: counted, their holder named and its stop fix first" {
	exhaust_run eph 'import socket; socket.socket().bind(("127.0.0.1", 0))'
	holder=$HOLDER
	rec=$BATS_TEST_TMPDIR/eph.json
	assert_equal "$(jq -r '[.cause, .ports_in_use, .holders_total, .holders[0].pid] | map(tostring) | join(" ")' "$rec")" \
		"ephemeral_exhausted 10 10 $holder"
	assert_equal "$(jq -r '[.fixes[] | .kind + ":" + ((.pid // .name) | tostring)] | join(" ")' "$rec")" \
		"stop:$holder sockopt:IP_BIND_ADDRESS_NO_PORT"
	assert_file_has "$rec" "held by pid $holder"
	assert_file_has "$rec" "before connect()"
}

@test "ephemeral exhaustion met by listen() on an unbound socket: no IP_BIND_ADDRESS_NO_PORT" {
	exhaust_run lis 'import socket; socket.socket().listen()'
	holder=$HOLDER
	rec=$BATS_TEST_TMPDIR/lis.json
	assert_equal "$(jq -r '[.event, .cause, .ports_in_use, .holders[0].pid] | map(tostring) | join(" ")' "$rec")" \
		"listen_conflict ephemeral_exhausted 10 $holder"
	assert_file_lacks "$rec" "IP_BIND_ADDRESS_NO_PORT"
}

@test "owner scan out of budget (BINDWATCH_SCAN_MS=1): the cause stays the socket's, the hint says the scan stopped, never 'run as root' for root" {
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P" --bind 127.0.0.1
	wait_listen "$P"
	BINDWATCH_SCAN_MS=1 "$CLI" --json --no-stack -- "$PYTHON3" -c 'import socket, sys
socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$P" 2>"$BATS_TEST_TMPDIR/err" || true
	grep '^{' "$BATS_TEST_TMPDIR/err" >"$BATS_TEST_TMPDIR/rec.json"
	[ "$(jq -r .scan.complete "$BATS_TEST_TMPDIR/rec.json")" = false ] ||
		skip "the owner scan finished within 1 ms: no budget case to check"
	[ "$(jq -r '.holders[0].pid' "$BATS_TEST_TMPDIR/rec.json")" = 0 ] ||
		skip "the scan found the holder before its budget ran out"
	assert_equal "$(jq -r .cause "$BATS_TEST_TMPDIR/rec.json")" listener
	assert_file_has "$BATS_TEST_TMPDIR/rec.json" "BINDWATCH_SCAN_MS"
	if [ "$(id -u)" = 0 ]; then
		assert_file_lacks "$BATS_TEST_TMPDIR/rec.json" "run as root"
	fi
}

# PY_LISTEN_AT PORT: a python3 listener on 127.0.0.1:PORT, its socket fd
# written to stdout.
PY_LISTEN_AT='import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print(s.fileno(), flush=True)
time.sleep(600)'

@test "LISTEN_FDS counts only with LISTEN_PID the holder's own pid and the fd in 3..3+N-1 (sd_listen_fds(3))" {
	P=$(free_port)
	# Inherited environment: LISTEN_PID names another process.
	LISTEN_FDS=1 LISTEN_PID=1 "$PYTHON3" -c "$PY_LISTEN_AT" "$P" >"$BATS_TEST_TMPDIR/a.fd" &
	BG_PIDS+=("$!")
	wait_listen "$P"
	"$CLI" who --json tcp "127.0.0.1:$P" >"$BATS_TEST_TMPDIR/a.json"
	assert_equal "$(jq -r .cause "$BATS_TEST_TMPDIR/a.json")" listener
	# Its own: LISTEN_PID is its pid and the socket within fds 3..66.
	Q=$(free_port)
	sh -c 'LISTEN_PID=$$ LISTEN_FDS=64 exec "$@"' sh "$PYTHON3" -c "$PY_LISTEN_AT" "$Q" >"$BATS_TEST_TMPDIR/b.fd" &
	BG_PIDS+=("$!")
	wait_listen "$Q"
	poll_until 200 test -s "$BATS_TEST_TMPDIR/b.fd"
	[ "$(cat "$BATS_TEST_TMPDIR/b.fd")" -lt 67 ] || skip "python3 gave the socket an fd above 66"
	"$CLI" who --json tcp "127.0.0.1:$Q" >"$BATS_TEST_TMPDIR/b.json"
	assert_equal "$(jq -r .cause "$BATS_TEST_TMPDIR/b.json")" socket_activation
}

@test "unix listener in another network namespace: live (its process named), never stale" {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	path=$BATS_TEST_TMPDIR/other-netns.sock
	unshare -n "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(600)' "$path" &
	BG_PIDS+=("$!")
	poll_until 200 test -S "$path"
	"$CLI" who --json unix "$path" >"$BATS_TEST_TMPDIR/who.json" || true
	assert_equal "$(jq -r '[.cause, .holders[0].pid] | map(tostring) | join(" ")' "$BATS_TEST_TMPDIR/who.json")" \
		"unix_live ${BG_PIDS[-1]}"
	assert_file_lacks "$BATS_TEST_TMPDIR/who.json" "safe to remove"
	assert_file_lacks "$BATS_TEST_TMPDIR/who.json" "nobody listens"
	assert_file_lacks "$BATS_TEST_TMPDIR/who.json" "rm --"
}

@test "a bind of ::ffff:0.0.0.0 against 127.0.0.1:P: this bind is the wildcard, the holder the specific address" {
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	"$CLI" --json --no-stack -- "$PYTHON3" -c 'import socket, sys
socket.socket(socket.AF_INET6).bind(("::ffff:0.0.0.0", int(sys.argv[1])))' "$P" 2>"$BATS_TEST_TMPDIR/err" || true
	grep '^{' "$BATS_TEST_TMPDIR/err" >"$BATS_TEST_TMPDIR/rec.json"
	assert_equal "$(jq -r .cause "$BATS_TEST_TMPDIR/rec.json")" wildcard_overlap
	assert_file_has "$BATS_TEST_TMPDIR/rec.json" "this bind is to the wildcard address, which covers the specific address 127.0.0.1:$P"
}

@test "who with nothing on the port: cause unknown and no remedy offered (a bind there would succeed)" {
	P=$(free_port)
	"$CLI" who --json "$P" >"$BATS_TEST_TMPDIR/who.json" || true
	assert_equal "$(jq -r '[.cause, (.holders | length)] | map(tostring) | join(" ")' "$BATS_TEST_TMPDIR/who.json")" "unknown 0"
	assert_equal "$(jq -r '[.fixes[] | .kind] | join(" ")' "$BATS_TEST_TMPDIR/who.json")" ""
}
