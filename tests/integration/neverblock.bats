#!/usr/bin/env bats
# A report never blocks the host or signals it: a stderr pipe whose reader
# has gone (SIGPIPE), a stderr pipe or FIFO nobody drains, a syslog that
# stopped reading (/dev/log's queue full). Each program finishes as it
# does without the shim; what could not be delivered is dropped.

load common
load diag_helpers

QUIET="$HELPERS/quiet_bind"
DEVLOG_OURS=
NOBODY_DIR=

teardown() {
	kill_bg
	# Only a /dev/log this test created itself (none existed before).
	[ -n "$DEVLOG_OURS" ] && rm -f /dev/log
	[ -n "$NOBODY_DIR" ] && rm -rf "$NOBODY_DIR"
	true
}

@test "stderr is a pipe whose reader has gone: the report does not kill the program with SIGPIPE" {
	P=$(free_port)
	hold_tcp "$P"
	# Bare: the program never writes to the pipe, so it lives.
	"$QUIET" "$P" 1 "$BATS_TEST_TMPDIR/bare" gone 2>&1 | true
	assert_eq "bare status" "${PIPESTATUS[0]}" 0
	assert_eq "bare result" "$(cat "$BATS_TEST_TMPDIR/bare")" "fails=1"
	env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$QUIET" "$P" 3 "$BATS_TEST_TMPDIR/shim" gone 2>&1 | true
	assert_eq "shim status (141: SIGPIPE)" "${PIPESTATUS[0]}" 0
	assert_eq "shim result" "$(cat "$BATS_TEST_TMPDIR/shim")" "fails=3"
}

@test "stderr is a FIFO nobody reads: 500 reports fill it, and the program still finishes; the drop is counted" {
	P=$(free_port)
	hold_tcp "$P"
	fifo=$BATS_TEST_TMPDIR/fifo
	mkfifo "$fifo"
	capture bare timeout 60 "$QUIET" "$P" 500 "$BATS_TEST_TMPDIR/bare"
	assert_eq "bare" "$status $(cat "$BATS_TEST_TMPDIR/bare")" "0 fails=500"
	# A reader that holds the FIFO open and reads nothing until told
	# (the file drain exists); then it empties it, says so (drained) and
	# keeps what comes after.
	cat >"$BATS_TEST_TMPDIR/reader.py" <<'PY'
import os, select, sys, time
fifo, d = sys.argv[1], sys.argv[2]
fd = os.open(fifo, os.O_RDWR)
open(d + "/open", "w").write("open\n")
while not os.path.exists(d + "/drain"):
    time.sleep(0.05)
while select.select([fd], [], [], 0)[0]:
    os.read(fd, 65536)
open(d + "/drained", "w").write("drained\n")
out = open(d + "/after", "wb", buffering=0)
while True:
    select.select([fd], [], [])
    out.write(os.read(fd, 65536))
PY
	bg "$PYTHON3" "$BATS_TEST_TMPDIR/reader.py" "$fifo" "$BATS_TEST_TMPDIR"
	wait_file "$BATS_TEST_TMPDIR/open"
	# The shim's program: 500 reports into the FIFO, then (once the
	# FIFO is drained) one more, which says how many were dropped.
	timeout 60 env LD_PRELOAD="$PRELOAD" BINDWATCH_RATELIMIT=0 \
		"$QUIET" "$P" 500 "$BATS_TEST_TMPDIR/shim" - "$BATS_TEST_TMPDIR/drained" 2>"$fifo" &
	shim=$!
	BG_PIDS+=("$shim")
	poll_until 1200 test -s "$BATS_TEST_TMPDIR/shim"
	assert_eq "shim (hung in bind if empty)" "$(cat "$BATS_TEST_TMPDIR/shim")" "fails=500"
	touch "$BATS_TEST_TMPDIR/drain"
	status=0
	wait "$shim" || status=$?
	assert_eq "shim status" "$status $(cat "$BATS_TEST_TMPDIR/shim.2")" "0 again"
	poll_until 200 grep -q "0.0.0.0:$P/tcp) failed" "$BATS_TEST_TMPDIR/after"
	assert_file_has "$BATS_TEST_TMPDIR/after" "earlier records dropped"
}

@test "stderr closed and a syslog that never reads /dev/log: 60 reports do not block the program" {
	[ ! -e /dev/log ] || skip "/dev/log exists: not standing in for the system logger"
	ready=$BATS_TEST_TMPDIR/devlog.ready
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1], "w").write("bound\n")
time.sleep(600)' "$ready"
	wait_file "$ready"
	DEVLOG_OURS=1
	P=$(free_port)
	hold_tcp "$P"
	status=0
	timeout 60 env LD_PRELOAD="$PRELOAD" BINDWATCH_RATELIMIT=0 BINDWATCH_STACK=0 \
		"$QUIET" "$P" 60 "$BATS_TEST_TMPDIR/shim" 2>&- || status=$?
	assert_eq "shim (124: it hung in bind)" "$status $(cat "$BATS_TEST_TMPDIR/shim")" "0 fails=60"
	# The queue took what it holds (net.unix.max_dgram_qlen datagrams).
	ss -Hxa | grep -F /dev/log | awk '$3 > 0 { found = 1 } END { exit !found }'
}

@test "the owner scan reads /proc/PID/fd links and never stats through them (a FUSE or dead NFS target would hang it)" {
	command -v strace >/dev/null || skip "strace is not installed"
	P=$(free_port)
	hold_tcp "$P"
	capture st strace -f -o "$BATS_TEST_TMPDIR/trace" -e trace=newfstatat,statx,stat,lstat,readlinkat \
		env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$QUIET" "$P" 1 "$BATS_TEST_TMPDIR/shim"
	assert_eq "shim" "$status $(cat "$BATS_TEST_TMPDIR/shim")" "0 fails=1"
	assert_file_has "$BATS_TEST_TMPDIR/st.err" "held by pid $HOLDER_PID"
	# The holder was found by reading its fd links...
	grep -q 'readlinkat(.*"socket:\[' "$BATS_TEST_TMPDIR/trace"
	# ...and nothing stat()ed a /proc/PID/fd/N entry (a numeric name
	# that is not a /proc/PID directory).
	! grep -E '(stat|statx)\(.*"[0-9]+", .*S_IF(SOCK|REG|CHR|FIFO|LNK)' "$BATS_TEST_TMPDIR/trace"
}

# nobody_copies: the shim and quiet_bind in a world-readable directory
# (the build tree may sit under a private home), and a directory nobody
# may write its results to; in NOBODY_DIR, removed in teardown.
nobody_copies() {
	setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null ||
		skip "setpriv cannot switch to uid 65534 here"
	NOBODY_DIR=$(mktemp -d /tmp/bindwatch-nobody.XXXXXX)
	chmod 755 "$NOBODY_DIR"
	cp "$SHIM" "$QUIET" "$NOBODY_DIR"/
	chmod 755 "$NOBODY_DIR"/*
	mkdir -m 1777 "$NOBODY_DIR/out"
	AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups
		env LD_PRELOAD="${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }$NOBODY_DIR/libbindwatch.so"
		BINDWATCH_STACK=0)
}

# A pipe made by root is a pipefs inode of mode 0600 owned by root: a
# program running as nobody can't reopen it through /proc/self/fd/2.
@test "stderr is root's pipe and the program runs as nobody: the report still arrives (as nobody: CMD 2>&1 | tee log)" {
	nobody_copies
	P=$(free_port)
	hold_tcp "$P"
	"${AS_NOBODY[@]}" "$NOBODY_DIR/quiet_bind" "$P" 1 "$NOBODY_DIR/out/r" 2>&1 | tee "$BATS_TEST_TMPDIR/log" >/dev/null
	assert_eq "program" "${PIPESTATUS[0]} $(cat "$NOBODY_DIR/out/r")" "0 fails=1"
	assert_file_has "$BATS_TEST_TMPDIR/log" "bindwatch: bind 0.0.0.0:$P/tcp"
	assert_file_has "$BATS_TEST_TMPDIR/log" "quiet_bind["
}

@test "stderr is root's pipe, nobody reads it and the program runs as nobody: 500 reports do not block it; the drop is counted" {
	nobody_copies
	P=$(free_port)
	hold_tcp "$P"
	# The reader makes the pipe, starts the program as nobody with the
	# pipe as its stderr and reads nothing until told (the file drain
	# exists); then it empties the pipe, says so (drained) and keeps what
	# comes after.
	cat >"$BATS_TEST_TMPDIR/reader.py" <<'PY'
import os, select, subprocess, sys, time
d, argv = sys.argv[1], sys.argv[2:]
r, w = os.pipe()
p = subprocess.Popen(argv, stderr=w)
os.close(w)
open(d + "/pid", "w").write("%d\n" % p.pid)
while not os.path.exists(d + "/drain"):
    time.sleep(0.05)
while select.select([r], [], [], 0)[0]:
    os.read(r, 65536)
open(d + "/drained", "w").write("drained\n")
out = open(d + "/after", "wb", buffering=0)
while True:
    b = os.read(r, 65536)
    if not b:
        break
    out.write(b)
sys.exit(p.wait())
PY
	bg "$PYTHON3" "$BATS_TEST_TMPDIR/reader.py" "$NOBODY_DIR/out" "${AS_NOBODY[@]}" \
		BINDWATCH_RATELIMIT=0 "$NOBODY_DIR/quiet_bind" "$P" 500 "$NOBODY_DIR/out/shim" - \
		"$NOBODY_DIR/out/drained"
	reader=${BG_PIDS[-1]}
	poll_until 1200 test -s "$NOBODY_DIR/out/shim"
	assert_eq "shim (hung in bind if empty)" "$(cat "$NOBODY_DIR/out/shim")" "fails=500"
	touch "$NOBODY_DIR/out/drain"
	status=0
	wait "$reader" || status=$?
	assert_eq "program status" "$status $(cat "$NOBODY_DIR/out/shim.2")" "0 again"
	assert_file_has "$NOBODY_DIR/out/after" "0.0.0.0:$P/tcp) failed"
	assert_file_has "$NOBODY_DIR/out/after" "earlier records dropped"
}
