#!/usr/bin/env bats
# Settings do exactly what they say (issue 11, point 6): BINDWATCH_TRACE=off
# silences reports and nothing else; a successful call under TRACE=all
# leaves errno alone; a failed reuseaddr action restores SO_REUSEADDR; port
# 0 is never remapped; always-mode never reads an address the kernel has
# not checked; warnings about bad values wait for the first bind().

load common
load diag_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	EXACT=$HELPERS/exact_probe
	export BINDWATCH_SCAN_MS=60000
}

# PY_MOVED: binds 127.0.0.1:PORT, listens, prints "bind=0 port=N" (N: the
# port it got) or "bind=-1 errno=E".
PY_MOVED='import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
    print("bind=0 port=%d" % s.getsockname()[1])
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)'

@test "TRACE=off: a remap still moves the program (shim), the port file gets its line, stderr stays empty" {
	P=$(free_port)
	Q=$(free_port)
	hold_tcp "$P"
	capture off env LD_PRELOAD="$PRELOAD" BINDWATCH_TRACE=off BINDWATCH_REMAP="$P=$Q" \
		BINDWATCH_PORT_FILE="$T/ports" "$PYTHON3" -c "$PY_MOVED" "$P"
	assert_eq "program" "$(cat "$T/off.out")" "bind=0 port=$Q"
	assert_eq "stderr" "$(cat "$T/off.err")" ""
	assert_eq "port file" "$(cut -d' ' -f1,3,4 "$T/ports")" "tcp $P $Q"
}

@test "TRACE=off: a remap still moves the program under --supervise, silently" {
	P=$(free_port)
	Q=$(free_port)
	hold_tcp "$P"
	capture sv "$CLI" --supervise --trace off --remap "$P=$Q" -- "$PYTHON3" -c "$PY_MOVED" "$P"
	assert_eq "program" "$(cat "$T/sv.out")" "bind=0 port=$Q"
	assert_eq "stderr" "$(cat "$T/sv.err")" ""
}

@test "TRACE=all: a successful bind() and listen() leave the caller's errno as it was" {
	capture plain "$EXACT" errno 127.0.0.1
	assert_eq "without the shim" "$(cat "$T/plain.out")" "$(printf 'bind=0 errno=18\nlisten=0 errno=18')"
	capture all env LD_PRELOAD="$PRELOAD" BINDWATCH_TRACE=all BINDWATCH_FORMAT=json "$EXACT" errno 127.0.0.1
	assert_eq "under TRACE=all" "$(cat "$T/all.out")" "$(cat "$T/plain.out")"
	# The trace lines were written (the path that clobbered errno ran).
	assert_eq "trace lines" "$(grep -c '^{"event":"\(bind\|listen\)"' "$T/all.err")" 2
}

@test "remap reuseaddr that fails leaves SO_REUSEADDR as the program had it (0)" {
	P=$(free_port)
	make_time_wait "$P" 0
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$P=reuseaddr" "$EXACT" reuse 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$T/probe.out")" "bind=-1 errno=98 reuseaddr=0"
	assert_eq "remap tried" "$(jone "$T/probe.err" '[.remap.ok, .remap.action] | map(tostring) | @tsv')" \
		"$(printf 'false\tnull')"
	assert_file_has "$T/probe.err" "did not set SO_REUSEADDR"
}

@test "port 0 is never remapped: *=next with the ephemeral range exhausted fails as without the shim" {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	capture eph with_exhausted_ports LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP='*=next' -- "$PYTHON3" -c "$PY_MOVED" 0
	grep -q '^held=' "$T/eph.out" || skip "could not set up the namespace: $(cat "$T/eph.err")"
	assert_eq "program" "$(cat "$T/eph.out")" "$(printf 'held=40000,40001\nbind=-1 errno=98')"
	assert_eq "record" "$(jone "$T/eph.err" '[.cause, .remap] | map(tostring) | @tsv')" \
		"$(printf 'ephemeral_exhausted\tnull')"
}

@test "port 0 is never remapped: REMAP_MODE=always with *=+3 leaves bind(port 0) to the kernel" {
	capture al env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP='*=+3' BINDWATCH_REMAP_MODE=always \
		"$PYTHON3" -c "$PY_MOVED" 0
	[[ $(cat "$T/al.out") =~ ^bind=0\ port=([0-9]+)$ ]] || { cat "$T/al.out" >&2; false; }
	[ "${BASH_REMATCH[1]}" -ge 1024 ]
	assert_eq "stderr" "$(cat "$T/al.err")" ""
}

@test "REMAP_MODE=always: bind(fd, (void *)-1, 16) is EFAULT as without the shim, not SIGSEGV" {
	capture plain "$EXACT" efault
	assert_eq "without the shim" "$(cat "$T/plain.out")" "bind=-1 errno=14"
	capture al env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP='*=+1' BINDWATCH_REMAP_MODE=always "$EXACT" efault
	assert_eq "exit status" "$status" 0
	assert_eq "under always-mode" "$(cat "$T/al.out")" "bind=-1 errno=14"
}

@test "bad BINDWATCH_* values: nothing at start-up (x=\$(date 2>&1) stays clean), one warning at the first bind" {
	want=$(date +%Y)
	x=$(env BINDWATCH_FORMAT=xml BINDWATCH_STACK=maybe LD_PRELOAD="$PRELOAD" date +%Y 2>&1)
	assert_eq "captured output" "$x" "$want"
	capture py env BINDWATCH_FORMAT=xml LD_PRELOAD="$PRELOAD" "$PYTHON3" -c 'import socket, sys
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    print("bound", flush=True)
    sys.stderr.flush()'
	assert_eq "status" "$status" 0
	assert_eq "stdout" "$(cat "$T/py.out")" "$(printf 'bound\nbound\nbound')"
	run cat "$T/py.err"
	assert_equal "${#lines[@]}" 1
	assert_line --index 0 --regexp '^bindwatch: warning: BINDWATCH_FORMAT=xml is invalid \(accepted: text\|json\); using text$'
}
