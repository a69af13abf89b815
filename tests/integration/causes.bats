#!/usr/bin/env bats
# Diagnosis: every cause bindwatch names, produced for real (TESTING.md),
# checked in the JSON report (cause, the hint's key fact, the holder), plus
# the rate limiter, trace mode and report delivery from a daemon.

load common
load diag_helpers

NOBODY_DIR=
DEVLOG_OURS=

teardown() {
	kill_bg
	[ -n "$NOBODY_DIR" ] && rm -rf "$NOBODY_DIR"
	# Only a /dev/log this test created itself (none existed before).
	[ -n "$DEVLOG_OURS" ] && rm -f /dev/log
	true
}

# fd_of PID INODE: the fd number under which PID holds socket INODE.
fd_of() {
	local f
	for f in /proc/"$1"/fd/*; do
		if [ "$(readlink "$f")" = "socket:[$2]" ]; then
			basename "$f"
			return 0
		fi
	done
	return 1
}

@test "cause listener: a python3 http.server holds the port" {
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P" --bind 127.0.0.1
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	shim_probe probe 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j probe '[.event, .cause, .errno, .port, (.holders | length), .holders[0].pid, .holders[0].cause, .holders[0].state] | map(tostring) | @tsv')" \
		"$(printf 'bind_conflict\tlistener\t98\t%s\t1\t%s\tlistener\tLISTEN' "$P" "$hp")"
	hint_has probe "pid $hp ($(cat /proc/"$hp"/comm))"
	[[ $(j probe .holders[0].cmdline) == *http.server* ]]
	inode=$(j probe .holders[0].inode)
	assert_eq "holder fd" "$(j probe .holders[0].fd)" "$(fd_of "$hp" "$inode")"
}

@test "cause self: one process binds the same port twice" {
	P=$(free_port)
	shim_py py 'import os, socket, sys
port = int(sys.argv[1])
spare = [os.open("/dev/null", os.O_RDONLY) for _ in range(4)]  # the socket is not fd 3
a = socket.socket()
a.bind(("127.0.0.1", port))
a.listen(8)
print("first_fd=%d pid=%d" % (a.fileno(), os.getpid()))
b = socket.socket()
try:
    b.bind(("127.0.0.1", port))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)' "$P"
	out=$BATS_TEST_TMPDIR/py.out
	[[ $(head -1 "$out") =~ ^first_fd=([0-9]+)\ pid=([0-9]+)$ ]]
	fd=${BASH_REMATCH[1]} pid=${BASH_REMATCH[2]}
	assert_eq "second bind" "$(sed -n 2p "$out")" "bind=-1 errno=98"
	[ "$fd" -gt 3 ]
	assert_eq "record" "$(j py '[.cause, .pid, .holders[0].pid, .holders[0].fd, .holders[0].cause] | map(tostring) | @tsv')" \
		"$(printf 'self\t%s\t%s\t%s\tself' "$pid" "$pid" "$fd")"
	hint_has py "its own fd $fd"
}

@test "cause self: a listening fd inherited from the parent across fork/exec" {
	P=$(free_port)
	shim_py py 'import os, socket, subprocess, sys
port = int(sys.argv[1])
a = socket.socket()
a.bind(("127.0.0.1", port))
a.listen(8)
os.dup2(a.fileno(), 17)  # inheritable, and a number nobody gets by chance
os.set_inheritable(17, True)
print("parent=%d" % os.getpid(), flush=True)
child = """import os, socket, stat, sys
port, fd = int(sys.argv[1]), int(sys.argv[2])
assert stat.S_ISSOCK(os.fstat(fd).st_mode), "fd not inherited"
print("child=%d" % os.getpid(), flush=True)
b = socket.socket()
try:
    b.bind(("127.0.0.1", port))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)
"""
sys.exit(subprocess.run([sys.executable, "-c", child, str(port), "17"], pass_fds=(17,)).returncode)' "$P"
	out=$BATS_TEST_TMPDIR/py.out
	assert_eq "exit status" "$status" 0
	parent=$(sed -n 's/^parent=//p' "$out")
	child=$(sed -n 's/^child=//p' "$out")
	[ -n "$parent" ] && [ -n "$child" ] && [ "$parent" != "$child" ]
	assert_eq "child bind" "$(tail -1 "$out")" "bind=-1 errno=98"
	# The parent holds the socket too, but the failing process's own copy wins.
	assert_eq "record" "$(j py '[.cause, .pid, .holders[0].pid, .holders[0].fd, .holders[0].cause, .holders[0].state] | map(tostring) | @tsv')" \
		"$(printf 'self\t%s\t%s\t17\tself\tLISTEN' "$child" "$child")"
	hint_has py "its own fd 17"
	hint_has py "inherited across fork/exec"
}

@test "cause time_wait: only a TIME-WAIT socket is left on the port" {
	P=$(free_port)
	make_time_wait "$P" 1
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	shim_probe probe 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j probe '[.cause, .holders[0].state, .holders[0].pid, .holders[0].visible, .holders[0].cause] | map(tostring) | @tsv')" \
		"$(printf 'time_wait\tTIME-WAIT\t0\tfalse\ttime_wait')"
	exp=$(j probe .holders[0].expires_in_s)
	[ "$exp" -gt 0 ] && [ "$exp" -le 60 ]
	[[ $(j probe .hint) =~ expire\ in\ ([0-9]+)s ]]
	[ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" -le 60 ]
	hint_has probe "SO_REUSEADDR"
	# No process owns a TIME-WAIT socket: no search to suggest, in the
	# shim's text report nor in who's.
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$P"
	assert_file_has "$BATS_TEST_TMPDIR/text.err" "cause: time_wait"
	run grep -c "who --all" "$BATS_TEST_TMPDIR/text.err"
	assert_output 0
	run "$CLI" who "127.0.0.1:$P"
	assert_line --partial "cause: time_wait"
	refute_output --partial "who --all"
}

@test "cause wildcard_overlap: a wildcard bind against a specific holder" {
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	shim_probe probe 0.0.0.0 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j probe '[.cause, .holders[0].pid, .holders[0].addr, .holders[0].overlap] | map(tostring) | @tsv')" \
		"$(printf 'wildcard_overlap\t%s\t127.0.0.1\twildcard' "$HOLDER_PID")"
	hint_has probe "this bind is to the wildcard address"
	hint_has probe "127.0.0.1:$P already held by pid $HOLDER_PID"
}

@test "cause wildcard_overlap: a specific bind against a wildcard holder" {
	P=$(free_port)
	hold_tcp "$P" 0.0.0.0
	shim_probe probe 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j probe '[.cause, .holders[0].pid, .holders[0].addr] | map(tostring) | @tsv')" \
		"$(printf 'wildcard_overlap\t%s\t0.0.0.0' "$HOLDER_PID")"
	hint_has probe "the wildcard 0.0.0.0:$P held by pid $HOLDER_PID"
}

@test "cause dual_stack: an IPv6 [::] socket without IPV6_V6ONLY covers IPv4" {
	P=$(free_port)
	hold tcp :: "$P" 0
	shim_probe probe 0.0.0.0 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j probe '[.cause, .holders[0].pid, .holders[0].family, .holders[0].addr] | map(tostring) | @tsv')" \
		"$(printf 'dual_stack\t%s\tinet6\t::' "$HOLDER_PID")"
	hint_has probe "IPV6_V6ONLY"
	hint_has probe "[::]:$P"
}

@test "dual_stack control: with IPV6_V6ONLY=1 on the holder the IPv4 bind succeeds" {
	P=$(free_port)
	hold tcp :: "$P" 1
	shim_probe probe 0.0.0.0 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=0 errno=0"
	[ ! -s "$BATS_TEST_TMPDIR/probe.err" ]
}

@test "cause unix_live: a python3 unix listener holds the path" {
	path=$BATS_TEST_TMPDIR/live.sock
	hold unix "$path"
	shim_py py "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .family, .path, .holders[0].pid, .holders[0].state, .holders[0].cause] | map(tostring) | @tsv')" \
		"$(printf 'unix_live\tunix\t%s\t%s\tLISTEN\tunix_live' "$path" "$HOLDER_PID")"
	hint_has py "pid $HOLDER_PID"
}

@test "cause unix_stale: a socket file nobody listens on" {
	need_stale_certain
	path=$BATS_TEST_TMPDIR/stale.sock
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()' "$path"
	[ -S "$path" ]
	shim_py py "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .path, (.holders | length)] | map(tostring) | @tsv')" \
		"$(printf 'unix_stale\t%s\t0' "$path")"
	hint_has py "no socket in any network namespace is bound to it"
}

@test "cause unix_not_socket: a regular file at the path is named as not a socket" {
	path=$BATS_TEST_TMPDIR/plain-file
	echo data >"$path"
	shim_py py "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "cause" "$(j py .cause)" unix_not_socket
	hint_has py "is a regular file, not a socket"
	[[ $(j py .hint) != *"nobody listens"* ]]
}

@test "cause ephemeral_exhausted: bind(port 0) with a two-port range, both taken" {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	capture eph with_exhausted_ports LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		-- "$PROBE" 127.0.0.1 0
	# No "held=" line: the namespace setup (lo, the sysctl) failed before
	# anything of ours ran.
	grep -q '^held=' "$BATS_TEST_TMPDIR/eph.out" ||
		skip "could not set up the namespace: $(cat "$BATS_TEST_TMPDIR/eph.err")"
	assert_eq "output" "$(cat "$BATS_TEST_TMPDIR/eph.out")" "$(printf 'held=40000,40001\nbind=-1 errno=98')"
	assert_eq "record" "$(j eph '[.cause, .port, (.port_range | map(tostring) | join("-")), .ports_in_use] | map(tostring) | @tsv')" \
		"$(printf 'ephemeral_exhausted\t0\t40000-40001\t2')"
	hint_has eph "40000-40001"
	hint_has eph "ip_local_port_range"
	# The "do:" fix and "to free it" name the same process.
	stop=$(j eph '[.fixes[] | select(.target == "holder" and .kind == "stop") | .pid] | first')
	[ -n "$stop" ] && [ "$stop" != null ]
	assert_eq "free" "$(j eph .free_command)" "kill $stop"
}

@test "cause not_visible: the holder runs as root, the failing program as nobody" {
	setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null ||
		skip "setpriv cannot switch to uid 65534 here"
	# nobody must be able to load the shim and run the probe: copies in a
	# world-readable directory (the build tree may sit under a private home).
	NOBODY_DIR=$(mktemp -d /tmp/bindwatch-nobody.XXXXXX)
	chmod 755 "$NOBODY_DIR"
	cp "$SHIM" "$PROBE" "$NOBODY_DIR"/
	chmod 755 "$NOBODY_DIR"/*
	P=$(free_port)
	hold_tcp "$P"
	capture probe setpriv --reuid 65534 --regid 65534 --clear-groups \
		env LD_PRELOAD="${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }$NOBODY_DIR/libbindwatch.so" \
		BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$NOBODY_DIR/conflict_probe" 0.0.0.0 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j probe '[.cause, .holders[0].pid, .holders[0].visible, .holders[0].uid, .holders[0].cause] | map(tostring) | @tsv')" \
		"$(printf 'not_visible\t0\tfalse\t0\tnot_visible')"
	hint_has probe "uid 0"
	hint_has probe "inode $(j probe .holders[0].inode)"
	[ "$(j probe .scan.unreadable)" -gt 0 ]
}

PY_RETRY='import socket, sys, time
port, fails = int(sys.argv[1]), 0
for _ in range(50):
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
    except OSError as e:
        fails += e.errno == 98
    s.close()
    time.sleep(0.04)
print("fails=%d" % fails)'

@test "rate limit: 50 identical conflicts in 2 s give one report and 'repeated 49 times'" {
	P=$(free_port)
	hold_tcp "$P"
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PYTHON3" -c "$PY_RETRY" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "fails=50"
	err=$BATS_TEST_TMPDIR/py.err
	assert_eq "full reports" "$(grep -c ') failed: Address already in use' "$err")" 1
	assert_eq "cause lines" "$(grep -c 'cause: ' "$err")" 1
	assert_eq "repeat lines" "$(grep -c 'repeated' "$err")" 1
	assert_file_has "$err" "0.0.0.0:$P/tcp): repeated 49 times"
}

@test "rate limit (JSON): exactly one bind_conflict and one 'repeated' event with count 49" {
	P=$(free_port)
	hold_tcp "$P"
	shim_py py "$PY_RETRY" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "fails=50"
	f=$BATS_TEST_TMPDIR/py.err
	assert_eq "events" "$(jrec "$f" 'map(.event) | join(",")')" "bind_conflict,repeated"
	assert_eq "repeated" "$(jrec "$f" '.[1] | [.count, .pid] | map(tostring) | @tsv')" \
		"$(jrec "$f" '.[0] | [49, .pid] | map(tostring) | @tsv')"
	[[ $(jrec "$f" '.[1].conflict') == *"0.0.0.0:$P/tcp"* ]]
}

@test "rate limit off (BINDWATCH_RATELIMIT=0): every conflict is reported" {
	P=$(free_port)
	hold_tcp "$P"
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_RATELIMIT=0 "$PYTHON3" -c "$PY_RETRY" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "fails=50"
	assert_eq "events" "$(jrec "$BATS_TEST_TMPDIR/py.err" 'group_by(.event) | map("\(.[0].event)=\(length)") | join(",")')" \
		"bind_conflict=50"
}

@test "BINDWATCH_TRACE=all lists every successful bind with its options" {
	P1=$(free_port)
	P2=$(free_port)
	P3=$(free_port)
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_TRACE=all \
		"$PYTHON3" -c 'import socket, sys
p1, p2, p3 = (int(a) for a in sys.argv[1:4])
a = socket.socket()
a.bind(("127.0.0.1", p1))
b = socket.socket()
b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
b.bind(("127.0.0.1", p2))
c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
c.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
c.bind(("::1", p3))
print("ok")' "$P1" "$P2" "$P3"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" ok
	f=$BATS_TEST_TMPDIR/py.err
	assert_eq "bind events" \
		"$(jrec "$f" 'map(select(.event == "bind")) | map("\(.addr) \(.port) \(.result) \(.options | join("+"))") | join(",")')" \
		"127.0.0.1 $P1 0 ,127.0.0.1 $P2 0 SO_REUSEADDR,::1 $P3 0 IPV6_V6ONLY"
	assert_eq "other events" "$(jrec "$f" 'map(select(.event != "bind")) | length')" 0
	assert_eq "callers" "$(jrec "$f" 'map(select(.caller == null)) | length')" 0
}

@test "BINDWATCH_TRACE=off silences conflict reports" {
	P=$(free_port)
	hold_tcp "$P"
	# Control: the same conflict is reported by default.
	capture on env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 0.0.0.0 "$P"
	assert_file_has "$BATS_TEST_TMPDIR/on.err" "cause: listener"
	capture off env LD_PRELOAD="$PRELOAD" BINDWATCH_TRACE=off "$PROBE" 0.0.0.0 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/off.out")" "bind=-1 errno=98"
	assert_eq "exit status" "$status" 1
	[ ! -s "$BATS_TEST_TMPDIR/off.err" ] || { cat "$BATS_TEST_TMPDIR/off.err" >&2; false; }
}

# write_daemon FILE: a python3 daemon: double fork, setsid, stdio on
# /dev/null, then bind 0.0.0.0:PORT and write "bind=... pid=N" to RESULT.
write_daemon() {
	cat >"$1" <<'PY'
import os, socket, sys
port, result = int(sys.argv[1]), sys.argv[2]
if os.fork() > 0:
    os._exit(0)
os.setsid()
if os.fork() > 0:
    os._exit(0)
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
s = socket.socket()
try:
    s.bind(("0.0.0.0", port))
    r = "bind=0"
except OSError as e:
    r = "bind=-1 errno=%d" % e.errno
with open(result + ".tmp", "w") as f:
    f.write("%s pid=%d\n" % (r, os.getpid()))
os.rename(result + ".tmp", result)
PY
}

@test "a daemon with stdio on /dev/null gets its report into BINDWATCH_LOG" {
	P=$(free_port)
	hold_tcp "$P"
	write_daemon "$BATS_TEST_TMPDIR/daemon.py"
	log=$BATS_TEST_TMPDIR/bindwatch.log
	result=$BATS_TEST_TMPDIR/result
	env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_LOG="$log" \
		"$PYTHON3" "$BATS_TEST_TMPDIR/daemon.py" "$P" "$result"
	wait_file "$result"
	[[ $(cat "$result") =~ ^bind=-1\ errno=98\ pid=([0-9]+)$ ]]
	dpid=${BASH_REMATCH[1]}
	wait_file "$log"
	assert_eq "record" "$(jone "$log" '[.pid, .port, .cause, .holders[0].pid] | map(tostring) | @tsv')" \
		"$(printf '%s\t%s\tlistener\t%s' "$dpid" "$P" "$HOLDER_PID")"
}

@test "a daemon with stdio on /dev/null and no BINDWATCH_LOG reports to syslog (/dev/log)" {
	[ ! -e /dev/log ] || skip "/dev/log exists: not standing in for the system logger"
	syslog=$BATS_TEST_TMPDIR/syslog.txt
	fake_syslog "$syslog"
	# Ours now: teardown removes it.
	DEVLOG_OURS=1
	[ -S /dev/log ]
	P=$(free_port)
	hold_tcp "$P"
	write_daemon "$BATS_TEST_TMPDIR/daemon.py"
	result=$BATS_TEST_TMPDIR/result
	env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PYTHON3" "$BATS_TEST_TMPDIR/daemon.py" "$P" "$result"
	wait_file "$result"
	[[ $(cat "$result") =~ ^bind=-1\ errno=98\ pid=([0-9]+)$ ]]
	dpid=${BASH_REMATCH[1]}
	wait_file "$syslog"
	assert_file_has "$syslog" "<28>bindwatch[$dpid]: bindwatch: bind 0.0.0.0:$P/tcp: in use by python3"
	assert_file_has "$syslog" "python3[$dpid] bind(fd"
	assert_file_has "$syslog" "0.0.0.0:$P/tcp) failed"
	assert_file_has "$syslog" "cause: listener"
}

# A python3 listener on 127.0.0.1:PORT with SO_REUSEPORT when RP=1 in its
# environment (so two instances can have one command line; further
# arguments are ignored and tell programs apart); prints "bind=0" or
# "bind=-1 errno=E"; stays 600 s after a bind when STAY=1.
PY_REUSEPORT='import os, socket, sys, time
s = socket.socket()
if os.environ.get("RP") == "1":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(8)
    print("bind=0", flush=True)
except OSError as e:
    print("bind=-1 errno=%d" % e.errno, flush=True)
    sys.exit(0)
if os.environ.get("STAY") == "1":
    time.sleep(600)'

@test "cause listener, not reuseport_mismatch: another program set SO_REUSEPORT, this one did not" {
	P=$(free_port)
	RP=1 STAY=1 bg "$PYTHON3" -c "$PY_REUSEPORT" "$P" holder
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	# --supervise reads the holder's options: SO_REUSEPORT is set, and
	# still no remedy: sharing a port with an unrelated listener splits
	# its traffic (issue 10).
	RP=0 sup_py py "$PY_REUSEPORT" "$P" other
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .holders[0].pid, .holders[0].reuseport] | map(tostring) | @tsv')" \
		"$(printf 'listener\t%s\ttrue' "$hp")"
	assert_eq "fixes" "$(j py '[.fixes[] | .target + ":" + .kind + ":" + (.name // "")] | join(" ")')" \
		"holder:stop: caller:port:"
	[[ $(j py .hint) != *SO_REUSEPORT=1* ]]
	# The shim can't read them inside its host, and the hint says so.
	RP=0 shim_py py "$PY_REUSEPORT" "$P" other
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .holders[0].pid, .holders[0].reuseport] | map(tostring) | @tsv')" \
		"$(printf 'listener\t%s\tnull' "$hp")"
	hint_has py "the holder's SO_REUSEADDR/SO_REUSEPORT could not be read here ('bindwatch who' reads them"
	# ...and 'bindwatch who' does read them.
	run "$CLI" who --json "127.0.0.1:$P"
	assert_success
	assert_eq "who" "$(echo "$output" | jq -r '[.cause, .holders[0].reuseport] | map(tostring) | @tsv')" \
		"$(printf 'listener\ttrue')"
}

@test "cause reuseport_mismatch: another instance of the same program lacks SO_REUSEPORT; the fix works" {
	P=$(free_port)
	RP=1 STAY=1 bg "$PYTHON3" -c "$PY_REUSEPORT" "$P"
	wait_listen "$P"
	RP=0 sup_py py "$PY_REUSEPORT" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "cause" "$(j py .cause)" "reuseport_mismatch"
	hint_has py "only the holder set SO_REUSEPORT"
	assert_eq "first fix" "$(j py '.fixes[0] | [.target, .kind, .level, .name, (.value|tostring)] | join(" ")')" \
		"caller sockopt SOL_SOCKET SO_REUSEPORT 1"
	# Applying it: the kernel accepts the second instance.
	RP=1 sup_py py2 "$PY_REUSEPORT" "$P"
	assert_eq "with the fix" "$(cat "$BATS_TEST_TMPDIR/py2.out")" "bind=0"
}

@test "cause reuseport_mismatch: both set SO_REUSEPORT under different uids" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run the holder as another uid"
	P=$(free_port)
	# /usr/bin/python3: a pyenv interpreter under /root is not readable by nobody.
	RP=1 STAY=1 bg setpriv --reuid 65534 --regid 65534 --clear-groups /usr/bin/python3 -c "$PY_REUSEPORT" "$P"
	wait_listen "$P"
	# The same program (executable and arguments) under another uid,
	# under --supervise, which reads the holder's options.
	capture py env RP=1 BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$CLI" --supervise -- \
		/usr/bin/python3 -c "$PY_REUSEPORT" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "cause" "$(j py .cause)" "reuseport_mismatch"
	hint_has py "is uid 65534, this process uid 0"
	# Under the shim the holder's options are unknown; the hint still
	# names the uid rule and both uids.
	RP=1 shim_py py "$PY_REUSEPORT" "$P" other
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	hint_has py "the holder is uid 65534, this process uid 0"
}

@test "reuseport control: both set SO_REUSEPORT under one uid share the port, nothing reported" {
	P=$(free_port)
	RP=1 STAY=1 bg "$PYTHON3" -c "$PY_REUSEPORT" "$P"
	wait_listen "$P"
	RP=1 shim_py py "$PY_REUSEPORT" "$P" other
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=0"
	[ ! -s "$BATS_TEST_TMPDIR/py.err" ]
}

@test "cause socket_activation: systemd-socket-activate holds the port for a service" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
	P=$(free_port)
	# It listens itself and starts the service at the first connection.
	bg systemd-socket-activate -l "127.0.0.1:$P" "$PYTHON3" -c 'import time; time.sleep(600)'
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	probe_blocked probe 127.0.0.1 "$P" socket_activation "$hp"
	hint_has probe "socket unit"
}

@test "colour: on a terminal the holder and the cause are highlighted; NO_COLOR turns it off" {
	command -v script >/dev/null || skip "script(1) (util-linux) not installed"
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P" --bind 127.0.0.1
	wait_listen "$P"
	# script(1) gives the program a pseudo-terminal as its stderr.
	script -qec "env LD_PRELOAD='$PRELOAD' BINDWATCH_STACK=0 '$PROBE' 127.0.0.1 $P" \
		/dev/null >"$BATS_TEST_TMPDIR/tty.out" 2>&1 || true
	script -qec "env NO_COLOR=1 LD_PRELOAD='$PRELOAD' BINDWATCH_STACK=0 '$PROBE' 127.0.0.1 $P" \
		/dev/null >"$BATS_TEST_TMPDIR/nocolor.out" 2>&1 || true
	grep -q $'\e\\[1;31mheld by pid' "$BATS_TEST_TMPDIR/tty.out"
	grep -q $'\e\\[1;33mcause: listener' "$BATS_TEST_TMPDIR/tty.out"
	grep -q 'held by pid' "$BATS_TEST_TMPDIR/nocolor.out"
	! grep -q $'\e\\[' "$BATS_TEST_TMPDIR/nocolor.out"
	# Not a terminal: no colour either.
	shim_probe pipe 127.0.0.1 "$P"
	! grep -q $'\e\\[' "$BATS_TEST_TMPDIR/pipe.err"
}

PY_REUSE_BIND='import socket, sys
b = socket.socket()
b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(sys.argv[2]))
try:
    b.bind(("127.0.0.1", int(sys.argv[1])))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)'

# estab_on PORT: an established TCP connection has local port PORT.
estab_on() {
	[ -n "$(ss -Htn state established "sport = :$1" 2>/dev/null)" ]
}

PY_CLIENT='import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
time.sleep(600)'

@test "a listener with live connections: cause listener, only the listener is killed; the kernel then accepts a SO_REUSEADDR bind" {
	command -v socat >/dev/null || skip "socat not installed"
	P=$(free_port)
	bg socat "TCP-LISTEN:$P,fork,reuseaddr,bind=127.0.0.1" EXEC:cat
	lp=${BG_PIDS[-1]}
	wait_listen "$P"
	bg_err "$BATS_TEST_TMPDIR/client.log" "$PYTHON3" -c "$PY_CLIENT" "$P"
	# socat's child that serves the connection (ESTAB 127.0.0.1:P).
	poll_until 200 estab_on "$P"
	child=$(ss -Htnp state established "sport = :$P" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
	[ -n "$child" ] && [ "$child" != "$lp" ]
	BG_PIDS+=("$child")
	shim_py py "$PY_REUSE_BIND" "$P" 1
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .holders[0].pid, .holders[0].state, .free_command] | map(tostring) | @tsv')" \
		"$(printf 'listener\t%s\tLISTEN\tkill %s' "$lp" "$lp")"
	assert_eq "stop" "$(j py '[.fixes[] | select(.kind == "stop") | .pids | map(tostring) | join(",")] | join(" ")')" "$lp"
	# The kernel as oracle: with the listener gone (its connection still
	# served by the child), a bind with SO_REUSEADDR succeeds, a plain one not.
	kill "$lp"
	poll_until 200 sh -c "! ss -Hltn 'sport = :$P' | grep -q ."
	estab_on "$P"
	run "$PYTHON3" -c "$PY_REUSE_BIND" "$P" 1
	assert_output "bind=0"
	run "$PYTHON3" -c "$PY_REUSE_BIND" "$P" 0
	assert_output "bind=-1 errno=98"
}

@test "a python3 listener with SO_REUSEADDR and one accepted connection: cause listener, not reuseaddr_mismatch" {
	P=$(free_port)
	STAY=1 bg "$PYTHON3" -c 'import socket, sys, time
p = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", p))
s.listen(8)
c = socket.create_connection(("127.0.0.1", p))
a, _ = s.accept()
time.sleep(600)' "$P"
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	poll_until 200 estab_on "$P"
	shim_py py "$PY_REUSE_BIND" "$P" 1
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .holders[0].pid, .holders[0].state] | map(tostring) | @tsv')" \
		"$(printf 'listener\t%s\tLISTEN' "$hp")"
	assert_eq "holder causes" "$(j py '[.holders[] | .state + ":" + .cause] | sort | join(" ")')" \
		"ESTAB:reuseaddr_mismatch LISTEN:listener"
	run "$CLI" who "127.0.0.1:$P"
	assert_line --partial "cause: listener:"
}

@test "cause bound_only: a TCP socket bound without listen() (ss UNCONN) is not called a listener, by who or the shim" {
	P=$(free_port)
	# ss lists no bound-only TCP socket (Linux < 6.8): the holder says when.
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").write("bound\n")
time.sleep(600)' "$P" "$BATS_TEST_TMPDIR/bound"
	hp=${BG_PIDS[-1]}
	wait_file_line "$BATS_TEST_TMPDIR/bound" bound
	run "$CLI" who --json "127.0.0.1:$P"
	assert_success
	assert_eq "who" "$(echo "$output" | jq -r '[.cause, .holders[0].pid, .holders[0].state, .holders[0].cause] | map(tostring) | @tsv')" \
		"$(printf 'bound_only\t%s\tUNCONN\tbound_only' "$hp")"
	[[ $(echo "$output" | jq -r .hint) == *"bound it without listening"* ]]
	shim_py py "$PY_REUSE_BIND" "$P" 0
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "shim" "$(j py '[.cause, .holders[0].pid] | map(tostring) | @tsv')" \
		"$(printf 'bound_only\t%s' "$hp")"
}

@test "cause time_wait: an orphaned FIN-WAIT-2 connection is named as such, with net.ipv4.tcp_fin_timeout's seconds, not as TIME-WAIT" {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	# In a private namespace: this side closes (the accepted socket, then
	# the listener), the peer keeps its end open, so no FIN comes back.
	capture fw2 unshare -n sh -c 'ip link set lo up &&
		echo 20 >/proc/sys/net/ipv4/tcp_fin_timeout &&
		"$1" -c "
import socket, sys, time
l = socket.socket(); l.bind((\"127.0.0.1\", 7555)); l.listen(1)
c = socket.create_connection((\"127.0.0.1\", 7555))
a, _ = l.accept()
a.close(); l.close()
print(\"ready\", flush=True)
time.sleep(60)" >"$2/peer.out" &
		peer=$!
		for _ in $(seq 200); do grep -q ready "$2/peer.out" && break; sleep 0.05; done
		ss -Htan "sport = :7555" | cut -d" " -f1
		"$3" who 127.0.0.1:7555
		kill $peer' sh "$PYTHON3" "$BATS_TEST_TMPDIR" "$CLI"
	assert_file_has "$BATS_TEST_TMPDIR/fw2.out" "FIN-WAIT-2"
	assert_file_has "$BATS_TEST_TMPDIR/fw2.out" "only closed connections that no process owns remain (gone in "
	assert_file_has "$BATS_TEST_TMPDIR/fw2.out" "1 in FIN-WAIT-2 (this side closed and the peer has not; the kernel drops them after net.ipv4.tcp_fin_timeout)"
	assert_file_lacks "$BATS_TEST_TMPDIR/fw2.out" "in TIME-WAIT remain"
	assert_file_has "$BATS_TEST_TMPDIR/fw2.out" "(closed connections no process owns free themselves; nothing to stop)"
	# Its timer is tcp_fin_timeout's, not TIME-WAIT's 60 s.
	[[ $(cat "$BATS_TEST_TMPDIR/fw2.out") =~ gone\ in\ ([0-9]+)s\ at\ most ]]
	[ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" -le 20 ]
}
