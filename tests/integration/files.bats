#!/usr/bin/env bats
# Files bindwatch writes can't be turned against it (issue 11, point 7):
# BINDWATCH_LOG and BINDWATCH_PORT_FILE are opened O_NOFOLLOW|O_NONBLOCK and
# written only if they are regular files owned by the effective user (or
# new, mode 0600); anything else gets one warning and no write, and the
# report still reaches stderr.

load common
load diag_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	export BINDWATCH_SCAN_MS=60000 BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=0
}

# two_conflicts FILE-VAR PATH: a python3 program under the shim with VAR=PATH
# binds a held port twice; its stdout/stderr in $T/two.out/.err (10 s max:
# a hang fails the test instead of the suite).
two_conflicts() {
	P=$(free_port)
	hold_tcp "$P"
	capture two timeout 10 env LD_PRELOAD="$PRELOAD" "$1=$2" "$PYTHON3" -c 'import socket, sys
for _ in range(2):
    try:
        socket.socket().bind(("127.0.0.1", int(sys.argv[1])))
    except OSError as e:
        print("errno=%d" % e.errno)' "$P"
	assert_eq "exit status (124: hung)" "$status" 0
	assert_eq "program" "$(cat "$T/two.out")" "$(printf 'errno=98\nerrno=98')"
}

# refused VAR WHY: exactly one warning about VAR saying WHY, and both
# reports on stderr.
refused() {
	assert_eq "warnings" "$(grep -c "^bindwatch: warning: $1=" "$T/two.err")" 1
	assert_file_has "$T/two.err" "$1=$T/log $2 (errno "
	assert_file_has "$T/two.err" "; nothing is written there"
	assert_eq "reports on stderr" "$(grep -c "failed: Address already in use" "$T/two.err")" 2
}

@test "BINDWATCH_LOG: a FIFO with no reader neither hangs bind() nor gets written" {
	mkfifo "$T/log"
	two_conflicts BINDWATCH_LOG "$T/log"
	refused BINDWATCH_LOG "is not a regular file"
	[ -p "$T/log" ]
}

# has_open PID PATH: PID has PATH open.
has_open() {
	[ "$(readlink "/proc/$1/fd/3" 2>/dev/null)" = "$2" ]
}

@test "BINDWATCH_LOG: a FIFO with a reader gets nothing" {
	mkfifo "$T/log"
	# The reader opens the FIFO as fd 3 (blocking until a writer comes),
	# then copies what it reads until end of file.
	"$PYTHON3" -c 'import os, sys
os.dup2(os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK), 3)
os.set_blocking(3, True)
data = b""
import select
select.select([3], [], [])
while True:
    b = os.read(3, 65536)
    if not b:
        break
    data += b
open(sys.argv[2], "wb").write(data)' "$T/log" "$T/fifo.got" &
	BG_PIDS+=("$!")
	reader=$!
	poll_until 200 has_open "$reader" "$T/log"
	two_conflicts BINDWATCH_LOG "$T/log"
	refused BINDWATCH_LOG "is not a regular file"
	# The shim opened and closed it without a byte: the reader saw end of
	# file and wrote what it got.
	poll_until 200 test -e "$T/fifo.got"
	assert_eq "bytes through the FIFO" "$(wc -c <"$T/fifo.got")" 0
}

@test "BINDWATCH_LOG: a symlink is not followed, its target is not touched" {
	echo keep >"$T/target"
	ln -s "$T/target" "$T/log"
	two_conflicts BINDWATCH_LOG "$T/log"
	refused BINDWATCH_LOG "is a symbolic link"
	assert_eq "target" "$(cat "$T/target")" keep
}

@test "BINDWATCH_LOG: a file owned by another user is not written" {
	[ "$(id -u)" = 0 ] || skip "needs root to chown a file to nobody"
	echo keep >"$T/log"
	chown 65534 "$T/log"
	two_conflicts BINDWATCH_LOG "$T/log"
	refused BINDWATCH_LOG "is owned by another user"
	assert_eq "file" "$(cat "$T/log")" keep
}

@test "BINDWATCH_LOG: a new file is created mode 0600 (umask 022) and gets both reports" {
	umask 022
	two_conflicts BINDWATCH_LOG "$T/log"
	assert_eq "mode" "$(stat -c %a "$T/log")" 600
	assert_eq "reports in the file" "$(grep -c 'failed: Address already in use' "$T/log")" 2
	assert_eq "stderr" "$(cat "$T/two.err")" ""
}

@test "BINDWATCH_PORT_FILE: a FIFO does not hang the remap; one warning, the program moves" {
	mkfifo "$T/ports"
	P=$(free_port)
	Q=$(free_port)
	hold_tcp "$P"
	capture rm timeout 10 env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP="$P=$Q" BINDWATCH_PORT_FILE="$T/ports" \
		"$PYTHON3" -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
print("port=%d" % s.getsockname()[1])' "$P"
	assert_eq "exit status (124: hung)" "$status" 0
	assert_eq "program" "$(cat "$T/rm.out")" "port=$Q"
	assert_eq "warnings" "$(grep -c '^bindwatch: warning: BINDWATCH_PORT_FILE=' "$T/rm.err")" 1
	assert_file_has "$T/rm.err" "BINDWATCH_PORT_FILE=$T/ports is not a regular file (errno "
	[ -p "$T/ports" ]
}

@test "BINDWATCH_PORT_FILE: a symlink is refused, a new file is mode 0600" {
	P=$(free_port)
	hold_tcp "$P"
	ln -s "$T/elsewhere" "$T/ports"
	capture ln env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP="$P=next" BINDWATCH_PORT_FILE="$T/ports" \
		"$PROBE" 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$T/ln.out")" "bind=0 errno=0"
	assert_file_has "$T/ln.err" "BINDWATCH_PORT_FILE=$T/ports is a symbolic link"
	[ ! -e "$T/elsewhere" ]
	capture new sh -c 'umask 022 && exec "$@"' sh env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP="$P=next" \
		BINDWATCH_PORT_FILE="$T/new" "$PROBE" 127.0.0.1 "$P"
	assert_eq "mode" "$(stat -c %a "$T/new")" 600
	assert_eq "lines" "$(wc -l <"$T/new")" 1
}
