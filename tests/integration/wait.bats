#!/usr/bin/env bats
# bindwatch wait: returns as soon as a bind to the address would succeed,
# 1 at the timeout. The holder here exits when the test kills it, after
# wait is seen waiting; a TIME-WAIT leftover (60 s) is only shown to keep
# the address busy.

load common
load diag_helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# start_wait ERRFILE ARGS...: bindwatch wait ARGS in the background; its pid
# in WAIT_PID. Returns once it says what it waits for, and checks it is
# still waiting then (the address is busy).
start_wait() {
	local err=$1
	shift
	"$CLI" wait "$@" >/dev/null 2>"$err" &
	WAIT_PID=$!
	BG_PIDS+=("$WAIT_PID")
	wait_file "$err"
	assert_file_has "$err" "bindwatch: wait: waiting until a bind to "
	kill -0 "$WAIT_PID"
}

# wait_status: waits for WAIT_PID (in this shell: a $(...) subshell can't)
# and leaves its exit status in WAIT_ST.
wait_status() {
	WAIT_ST=0
	wait "$WAIT_PID" || WAIT_ST=$?
}

# free_after_kill MODE PROTO: a holder of PORT is killed while wait waits;
# wait exits 0 and only after the holder is gone.
free_after_kill() {
	local proto=$1
	port=$(free_port "$proto")
	hold "$proto" 0.0.0.0 "$port"
	start_wait "$T/wait.err" --timeout 60 "$proto" "$port"
	# Still busy: wait must not have returned yet.
	kill -0 "$WAIT_PID"
	kill "$HOLDER_PID"
	wait_status
	assert_equal "$WAIT_ST" 0
	assert_file_has "$T/wait.err" "bindwatch: wait: *:$port/$proto is free"
}

@test "wait tcp PORT: exits 0 once the holder is gone (sock_diag destroy events)" {
	free_after_kill tcp
	assert_file_has "$T/wait.err" "watching sock_diag socket-destroy events"
}

# binds_during OUT ARGS...: runs `bindwatch wait -q ARGS` under strace and
# leaves how many bind() calls it made (its re-checks) in OUT.
binds_during() {
	local out=$1
	shift
	run strace -f -qq -c -e trace=bind -o "$T/strace.$out" "$@"
	assert_equal "$status" 1
	printf -v "$out" '%s' "$(awk '$NF == "bind" { print $4 }' "$T/strace.$out")"
}

@test "wait PORT: sleeps while the holder stays (few re-checks in 2 s, root and nobody, tcp and udp), wakes when it goes" {
	command -v strace >/dev/null || skip "strace is not installed"
	setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null ||
		skip "setpriv cannot switch to uid 65534 here"
	for proto in tcp udp; do
		port=$(free_port "$proto")
		hold "$proto" 0.0.0.0 "$port"
		# Each re-check's own test socket is destroyed too: those events
		# must not wake the next re-check (they did: ~4000 binds a second).
		binds_during n_root "$CLI" wait -q -t 2 "$proto" "$port"
		binds_during n_nobody setpriv --reuid 65534 --regid 65534 --clear-groups \
			"$CLI" wait -q -t 2 "$proto" "$port"
		echo "# $proto: root $n_root, nobody $n_nobody test binds in 2 s" >&3
		[ "$n_root" -ge 1 ] && [ "$n_root" -lt 20 ]
		[ "$n_nobody" -ge 1 ] && [ "$n_nobody" -lt 20 ]
		kill "$HOLDER_PID"
	done
	# As nobody too it wakes when the holder goes.
	port=$(free_port)
	hold tcp 0.0.0.0 "$port"
	setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" wait -t 60 "$port" 2>"$T/nobody.err" &
	WAIT_PID=$!
	BG_PIDS+=("$WAIT_PID")
	wait_file "$T/nobody.err"
	assert_file_has "$T/nobody.err" "watching sock_diag socket-destroy events"
	kill -0 "$WAIT_PID"
	kill "$HOLDER_PID"
	wait_status
	assert_equal "$WAIT_ST" 0
	assert_file_has "$T/nobody.err" "is free"
}

@test "wait udp PORT: the same for a UDP holder" {
	free_after_kill udp
}

@test "wait PORT: polling when sock_diag is off (BINDWATCH_NETLINK=0) works the same" {
	export BINDWATCH_NETLINK=0
	free_after_kill tcp
	assert_file_has "$T/wait.err" "polling every 100 ms"
}

@test "wait PORT: a holder that never leaves: exit 1 at the timeout, naming it" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	capture w "$CLI" wait --timeout 0.3 "$port"
	assert_equal "$status" 1
	assert_file_has "$T/w.err" "waiting until a bind to *:$port/tcp would succeed"
	assert_file_has "$T/w.err" "still in use (pid $HOLDER_PID, python3)"
	# The cause's name, not its hint naming the pid again.
	grep -Eq "still in use \(pid $HOLDER_PID, python3\): [a-z_]+$" "$T/w.err"
	# The same as `wait 127.0.0.1:PORT`, with the options after the address.
	capture w "$CLI" wait "127.0.0.1:$port" -t 0.2
	assert_equal "$status" 1
}

@test "wait PORT: a TIME-WAIT leftover keeps a plain bind failing, so wait times out" {
	port=$(free_port)
	make_time_wait "$port" 0
	has_time_wait "$port" || skip "the kernel left no TIME-WAIT socket on port $port"
	capture w "$CLI" wait --timeout 0.3 "127.0.0.1:$port"
	assert_equal "$status" 1
	assert_file_has "$T/w.err" "time_wait"
}

@test "wait unix PATH: exits 0 once the socket file is gone (inotify)" {
	sock=$T/w.sock
	[ ${#sock} -lt 100 ] || skip "temp dir path too long for sun_path"
	hold unix "$sock"
	kill "$HOLDER_PID"
	# A stale file is left: bind() would still fail.
	[ -S "$sock" ]
	start_wait "$T/wait.err" --timeout 60 unix "$sock"
	kill -0 "$WAIT_PID"
	rm "$sock"
	wait_status
	assert_equal "$WAIT_ST" 0
	assert_file_has "$T/wait.err" "watching its directory with inotify"
}

@test "wait: a free address returns 0 at once; bad input exits 2 with one line" {
	port=$(free_port)
	run "$CLI" wait "$port"
	assert_success
	for args in "" "0" "udp /x" "--timeout x 80" "--timeout -1 80" "--frob 80"; do
		# shellcheck disable=SC2086 # word splitting wanted
		capture bad "$CLI" wait $args
		assert_equal "$status" 2
		assert_equal "$(wc -l <"$T/bad.err")" 1
		assert_file_has "$T/bad.err" "bindwatch: wait: "
	done
}
