#!/usr/bin/env bats
# The shim changes nothing the program can see: bind()/listen() return the
# same value and errno for every error, and C++ exceptions thrown right
# after a reported failure unwind exactly as without it.

load common

setup() {
	T=$BATS_TEST_TMPDIR
	# What is checked is who holds the address, not how fast this machine
	# scans /proc: no 1 s scan budget to run out on a loaded CI runner.
	export BINDWATCH_SCAN_MS=60000
}

@test "errno: EADDRINUSE from bind() is the same with and without the shim" {
	port=$(free_port)
	hold_tcp "$port"

	for args in "0.0.0.0 $port" "127.0.0.1 $port" "-r 0.0.0.0 $port"; do
		# shellcheck disable=SC2086
		capture plain "$PROBE" $args
		plain=$status
		# shellcheck disable=SC2086
		capture shim env LD_PRELOAD="$PRELOAD" "$PROBE" $args
		assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=98"
		assert_equal "$(cat "$T/shim.out")" "$(cat "$T/plain.out")"
		assert_equal "$status" "$plain"
		# The shim was there and saw it.
		assert_file_has "$T/shim.err" "held by pid $HOLDER_PID "
	done
}

@test "errno: EACCES (port 80 as uid 65534) is the same with and without the shim, and unreported" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to uid 65534"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
	[ "$start" -gt 80 ] || skip "ip_unprivileged_port_start=$start lets anyone bind port 80"
	as_nobody=(setpriv --reuid 65534 --regid 65534 --clear-groups)

	capture plain "${as_nobody[@]}" "$PROBE" 127.0.0.1 80
	plain=$status
	capture shim "${as_nobody[@]}" env LD_PRELOAD="$PRELOAD" "$PROBE" 127.0.0.1 80
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=13"
	assert_equal "$(cat "$T/shim.out")" "$(cat "$T/plain.out")"
	assert_equal "$status" "$plain"
	assert_equal "$(cat "$T/shim.err")" ""
}

@test "errno: EADDRNOTAVAIL (192.0.2.1, TEST-NET-1) is the same with and without the shim, and unreported" {
	if ip -o addr show 2>/dev/null | grep -q ' 192\.0\.2\.1/'; then
		skip "192.0.2.1 is configured on this machine"
	fi
	port=$(free_port)
	for proto in "" -u; do
		# shellcheck disable=SC2086
		capture plain "$PROBE" $proto 192.0.2.1 "$port"
		plain=$status
		# shellcheck disable=SC2086
		capture shim env LD_PRELOAD="$PRELOAD" "$PROBE" $proto 192.0.2.1 "$port"
		assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=99"
		assert_equal "$(cat "$T/shim.out")" "$(cat "$T/plain.out")"
		assert_equal "$status" "$plain"
		assert_equal "$(cat "$T/shim.err")" ""
	done
}

@test "errno: EINVAL (double bind), EBADF and EOPNOTSUPP are the same with and without the shim, and unreported" {
	cat >"$T/errors.py" <<'PY'
import os, socket, sys

def show(name, f):
    try:
        f()
        print("%s: ret=0 errno=0" % name)
    except OSError as e:
        print("%s: ret=-1 errno=%d" % (name, e.errno))

s = socket.socket()
s.bind(("127.0.0.1", 0))
show("bind twice", lambda: s.bind(("127.0.0.1", 0)))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
show("udp bind twice", lambda: u.bind(("127.0.0.1", 0)) or u.bind(("127.0.0.1", 0)))
show("listen udp", lambda: u.listen(1))
c = socket.socket()
os.close(c.fileno())
show("bind closed fd", lambda: c.bind(("127.0.0.1", 0)))
show("listen closed fd", lambda: c.listen(1))
c.detach()
sys.stderr.write("shim loaded: %s\n" % ("libbindwatch" in open("/proc/self/maps").read()))
PY
	capture plain "$PYTHON3" "$T/errors.py"
	plain=$status
	capture shim env LD_PRELOAD="$PRELOAD" "$PYTHON3" "$T/errors.py"

	run cat "$T/plain.out"
	assert_output "$(printf '%s\n' 'bind twice: ret=-1 errno=22' 'udp bind twice: ret=-1 errno=22' \
		'listen udp: ret=-1 errno=95' 'bind closed fd: ret=-1 errno=9' 'listen closed fd: ret=-1 errno=9')"
	assert_equal "$(cat "$T/shim.out")" "$(cat "$T/plain.out")"
	assert_equal "$status" "$plain"
	assert_equal "$(cat "$T/plain.err")" "shim loaded: False"
	assert_equal "$(cat "$T/shim.err")" "shim loaded: True"
}

@test "c++: exceptions thrown through frames after a reported bind failure unwind the same with and without the shim" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1

	capture plain "$HELPERS/cxx_throw" 127.0.0.1 "$port"
	plain=$status
	[ "$plain" -eq 3 ]
	assert_file_has "$T/plain.out" "main caught runtime_error what=wrapped: bind: Address already in use"
	assert_file_has "$T/plain.out" "main rethrown int=42"
	assert_file_has "$T/plain.out" "main caught again code=98"
	assert_equal "$(cat "$T/plain.err")" ""

	# BINDWATCH_RATELIMIT=0: the second, identical failure gets the full
	# failure path (stack capture included) too, not just a count.
	for how in preload cli; do
		if [ "$how" = preload ]; then
			capture shim env BINDWATCH_RATELIMIT=0 LD_PRELOAD="$PRELOAD" \
				"$HELPERS/cxx_throw" 127.0.0.1 "$port"
		else
			capture shim env BINDWATCH_RATELIMIT=0 "$CLI" -- "$HELPERS/cxx_throw" 127.0.0.1 "$port"
		fi
		assert_equal "$status" "$plain"
		run diff "$T/plain.out" "$T/shim.out"
		assert_success
		# Both failures were reported, each with the throwing function on the stack.
		run grep -c 'bindwatch:   cause: listener:' "$T/shim.err"
		assert_output 2
		run grep -c 'bindwatch:     #[0-9]* [^ ]*bind_or_throw' "$T/shim.err"
		assert_output 2
		assert_file_has "$T/shim.err" "held by pid $HOLDER_PID "
	done
}
