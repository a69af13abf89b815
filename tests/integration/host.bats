#!/usr/bin/env bats
# The host never pays for the diagnosis: a lookup is passive (no connect()
# to a holder's socket), a socket file is "stale" only when no socket is
# bound to it, and the stale-file recovery is not rate limited.

load common
load diag_helpers

# PY_ONE_CLIENT PATH READY: a unix stream server that accepts exactly one
# client and serves it: replies "served:" + what the client sent, then
# exits. READY is written once it listens.
PY_ONE_CLIENT='import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4)
open(sys.argv[2], "w").write("ready\n")
c, _ = s.accept()
c.sendall(b"served:" + c.recv(1024))
c.close()'

@test "passive: a one-client unix server keeps its client when a conflicting bind is diagnosed" {
	path=$BATS_TEST_TMPDIR/one.sock
	bg "$PYTHON3" -c "$PY_ONE_CLIENT" "$path" "$BATS_TEST_TMPDIR/ready"
	server=${BG_PIDS[-1]}
	wait_file "$BATS_TEST_TMPDIR/ready"
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		"$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "report" "$(jone "$BATS_TEST_TMPDIR/py.err" '[.cause, .holders[0].pid, .holders[0].state] | map(tostring) | @tsv')" \
		"$(printf 'unix_live\t%s\tLISTEN' "$server")"
	# The diagnosis took nothing from the server: its one client is ours.
	assert_eq "reply" "$(unix_ask "$path" hello)" "served:hello"
}

# PY_BOUND_ONLY PATH READY: binds PATH (a stream socket) and does not
# listen (a server between bind() and listen()); READY once bound.
PY_BOUND_ONLY='import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
open(sys.argv[2], "w").write("bound\n")
time.sleep(600)'

@test "stale means stale: UNIX_STALE=unlink leaves a path bound by a live process that has not listened yet" {
	path=$BATS_TEST_TMPDIR/early.sock
	bg "$PYTHON3" -c "$PY_BOUND_ONLY" "$path" "$BATS_TEST_TMPDIR/bound"
	holder=${BG_PIDS[-1]}
	wait_file "$BATS_TEST_TMPDIR/bound"
	inode=$(stat -c %i "$path")
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "report" "$(jone "$BATS_TEST_TMPDIR/py.err" '[.cause, .holders[0].pid, (.remap // "none")] | map(tostring) | @tsv')" \
		"$(printf 'unix_live\t%s\tnone' "$holder")"
	assert_eq "inode" "$(stat -c %i "$path")" "$inode"
}

@test "stale means stale: a bound unix datagram receiver keeps its path" {
	path=$BATS_TEST_TMPDIR/dgram.sock
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2], "w").write("bound\n")
time.sleep(600)' "$path" "$BATS_TEST_TMPDIR/bound"
	wait_file "$BATS_TEST_TMPDIR/bound"
	inode=$(stat -c %i "$path")
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "cause" "$(jone "$BATS_TEST_TMPDIR/py.err" .cause)" unix_live
	assert_eq "inode" "$(stat -c %i "$path")" "$inode"
}

@test "stale means stale: a server restarting in-process twice within the rate-limit window takes its path back both times" {
	path=$BATS_TEST_TMPDIR/restart.sock
	# Each round binds, listens and closes without unlink(): rounds 2 and
	# 3 find the previous round's stale file (default 10 s rate limit).
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c 'import socket, sys
for round in range(3):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(sys.argv[1])
        s.listen(4)
        print("round %d bind=0" % round)
    except OSError as e:
        print("round %d bind=-1 errno=%d" % (round, e.errno))
    s.close()' "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "$(printf 'round 0 bind=0\nround 1 bind=0\nround 2 bind=0')"
	assert_eq "reports" "$(jrec "$BATS_TEST_TMPDIR/py.err" 'map([.cause, .remap.ok] | map(tostring) | join(" ")) | join(",")')" \
		"unix_stale true,unix_stale true"
}

@test "stale means stale: without sock_diag (BINDWATCH_NETLINK=0) UNIX_STALE=unlink removes nothing and says why" {
	path=$BATS_TEST_TMPDIR/stale.sock
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()' "$path"
	inode=$(stat -c %i "$path")
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 BINDWATCH_NETLINK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "report" "$(jone "$BATS_TEST_TMPDIR/py.err" '[.cause, .remap.ok] | map(tostring) | @tsv')" \
		"$(printf 'unix_stale\tfalse')"
	[[ $(jone "$BATS_TEST_TMPDIR/py.err" .remap.note) == *"not removed: without sock_diag"* ]]
	assert_eq "inode" "$(stat -c %i "$path")" "$inode"
}
