#!/usr/bin/env bats
# BINDWATCH_* settings: a bad value gives one warning naming the variable
# and the program runs on; BINDWATCH_LOG=/path delivers records even from a
# process that closed every fd.

load common

setup() {
	T=$BATS_TEST_TMPDIR
	# What is checked is who holds the address, not how fast this machine
	# scans /proc: no 1 s scan budget to run out on a loaded CI runner.
	export BINDWATCH_SCAN_MS=60000
}

# warns_once VAR VALUE: VAR=VALUE gives exactly one well-formed warning line
# naming VAR (at the first of two binds: warnings wait for a bind), and
# python3 still prints 42 and exits 0.
warns_once() {
	local var=$1 value=$2
	capture run42 env "$var=$value" LD_PRELOAD="$PRELOAD" "$PYTHON3" -c 'import socket
for _ in range(2):
    socket.socket().bind(("127.0.0.1", 0))
print(42)'
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$T/run42.out")" 42
	run cat "$T/run42.err"
	assert_equal "${#lines[@]}" 1
	assert_line --index 0 --regexp "^bindwatch: warning: $var=.* is invalid \(accepted: .+\); using [^ ]+$"
	assert_line --index 0 --partial "$var=$value is invalid"
}

@test "settings: each bad BINDWATCH_* value gives exactly one warning naming it; the program runs on" {
	warns_once BINDWATCH_FORMAT xml
	warns_once BINDWATCH_STACK_DEPTH -5
	warns_once BINDWATCH_STACK_DEPTH 0
	warns_once BINDWATCH_STACK_DEPTH 65
	warns_once BINDWATCH_STACK maybe
	warns_once BINDWATCH_LOG relative/path
	warns_once BINDWATCH_DISABLE perhaps
	warns_once BINDWATCH_SCAN_MS soon
}

@test "settings: several bad values give one warning each, and the defaults are used" {
	port=$(free_port)
	hold_tcp "$port"
	cd "$T"
	capture bad env BINDWATCH_FORMAT=xml BINDWATCH_STACK_DEPTH=-5 BINDWATCH_STACK=maybe \
		BINDWATCH_LOG=relative/path LD_PRELOAD="$PRELOAD" "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/bad.out")" "bind=-1 errno=98"
	[ "$status" -eq 1 ]
	run grep -c '^bindwatch: warning: ' "$T/bad.err"
	assert_output 4
	for var in BINDWATCH_FORMAT BINDWATCH_STACK_DEPTH BINDWATCH_STACK BINDWATCH_LOG; do
		run grep -c "^bindwatch: warning: $var=" "$T/bad.err"
		assert_output 1
	done
	# Defaults: a text report (not JSON) with a stack, on stderr, and no
	# file created at the relative path.
	assert_file_has "$T/bad.err" "held by pid $HOLDER_PID "
	assert_file_has "$T/bad.err" "bindwatch:   called from:"
	assert_file_lacks "$T/bad.err" '{"event"'
	[ ! -e "$T/relative/path" ] && [ ! -e "$T/relative" ]

	# And the same program with good values: no warning at all.
	capture good env BINDWATCH_FORMAT=json BINDWATCH_STACK=1 BINDWATCH_STACK_DEPTH=64 \
		BINDWATCH_LOG=stderr BINDWATCH_DISABLE=0 BINDWATCH_SCAN_MS=500 LD_PRELOAD="$PRELOAD" \
		"$PYTHON3" -c 'print(42)'
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$T/good.out")" 42
	assert_equal "$(cat "$T/good.err")" ""
}

@test "settings: BINDWATCH_DISABLE=1 reports nothing, BINDWATCH_STACK=0 drops the stack, BINDWATCH_STACK_DEPTH caps it" {
	port=$(free_port)
	hold_tcp "$port"

	capture off env BINDWATCH_DISABLE=1 LD_PRELOAD="$PRELOAD" "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/off.out")" "bind=-1 errno=98"
	assert_equal "$(cat "$T/off.err")" ""

	capture nostack "$CLI" --json --no-stack -- "$PROBE" 0.0.0.0 "$port"
	run bw_json "$T/nostack.err" 'j["stack"], j["holders"][0]["pid"]'
	assert_output "([], $HOLDER_PID)"

	capture depth env BINDWATCH_FORMAT=json BINDWATCH_STACK_DEPTH=2 LD_PRELOAD="$PRELOAD" \
		"$PROBE" 0.0.0.0 "$port"
	run bw_json "$T/depth.err" 'len(j["stack"]), j["stack"][0]["symbol"]'
	assert_output "(2, 'main')"
}

@test "log file: a daemon that closed fds 0-1023 gets its record into BINDWATCH_LOG, and no fd is left open" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	log=$T/bindwatch.log

	# Without the shim: the helper itself leaves nothing open.
	capture plain "$HELPERS/closefds_bind" 127.0.0.1 "$port" "$T/plain.result"
	[ "$status" -eq 1 ]
	assert_equal "$(cat "$T/plain.result")" "bind=-1 errno=98 sock_fd=0 extra_fds=0"

	capture shim env BINDWATCH_LOG="$log" LD_PRELOAD="$PRELOAD" \
		"$HELPERS/closefds_bind" 127.0.0.1 "$port" "$T/shim.result"
	[ "$status" -eq 1 ]
	# Nothing on the (closed) stdio, the record in the file.
	assert_equal "$(cat "$T/shim.out")" ""
	assert_equal "$(cat "$T/shim.err")" ""
	assert_file_has "$log" "closefds_bind["
	assert_file_has "$log" "held by pid $HOLDER_PID "
	assert_file_has "$log" "bindwatch:   cause: listener:"
	# Same errno, and the failure path left no fd behind (libraries it
	# loads included).
	assert_equal "$(cat "$T/shim.result")" "bind=-1 errno=98 sock_fd=0 extra_fds=0"

	# The file is opened per record and appended to: a JSON record follows.
	capture json env BINDWATCH_LOG="$log" BINDWATCH_FORMAT=json LD_PRELOAD="$PRELOAD" \
		"$HELPERS/closefds_bind" 127.0.0.1 "$port" "$T/json.result"
	run grep -c 'bindwatch:   cause: listener:' "$log"
	assert_output 1
	run bw_json "$log" 'j["comm"], j["fd"], j["holders"][0]["pid"]'
	assert_output "('closefds_bind', 0, $HOLDER_PID)"
	assert_equal "$(cat "$T/json.result")" "bind=-1 errno=98 sock_fd=0 extra_fds=0"
}
