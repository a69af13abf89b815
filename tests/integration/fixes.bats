#!/usr/bin/env bats
# The remedies ("fixes") as a program would apply them: a sure fix before
# one that rests on a fact bindwatch can't see (`assumes`), a "stop" that
# covers every process and socket that blocks (its free command is run and
# the bind must succeed then), and a caller that got the socket from its
# parent told to use it, not to stop itself. Each fix a test names is
# applied, and the kernel decides.

load common
load diag_helpers

setup() {
	export BINDWATCH_SCAN_MS=60000 BINDWATCH_RATELIMIT=0
}

# bind_ok PROTO ADDR PORT: a plain bind of ADDR:PORT succeeds now.
bind_ok() {
	"$PROBE" ${1:+$1} "$2" "$3" | grep -qx 'bind=0 errno=0'
}

@test "sure before conditional: a UDP holder on 127.0.0.53:P, a bind of 0.0.0.0:P is told to bind 127.0.0.1 first" {
	P=$(free_port udp)
	hold udp 127.0.0.53 "$P"
	shim_probe probe -u 0.0.0.0 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	# SO_REUSEADDR would work only if the holder set it too (it did not,
	# and the shim can't see that): it comes after every sure fix.
	assert_eq "fixes" "$(j probe '[.fixes[] | .target + ":" + .kind + ":" + (.addr // .name // "") + (if .assumes then "?" else "" end)] | join(" ")')" \
		"caller:address:127.0.0.1 caller:port: holder:stop: caller:sockopt:SO_REUSEADDR?"
	# The text report's "do:" line says the sure one.
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" -u 0.0.0.0 "$P"
	assert_eq "do line" "$(sed -n 2p "$BATS_TEST_TMPDIR/text.err")" \
		"bindwatch:   do: bind the specific address 127.0.0.1 instead of the wildcard"
	# Applied, the first fix works; the conditional one does not here.
	run "$PROBE" -u 127.0.0.1 "$P"
	assert_output "bind=0 errno=0"
	run "$PROBE" -u -r 0.0.0.0 "$P"
	assert_output "bind=-1 errno=98"
}

@test "sure before conditional: a TIME-WAIT leftover says wait first; SO_REUSEADDR assumes the old socket had it" {
	P=$(free_port)
	make_time_wait "$P" 0
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	shim_probe probe 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "cause" "$(j probe .cause)" "time_wait"
	assert_eq "fixes" "$(j probe '[.fixes[] | .target + ":" + .kind + ":" + (.name // "") + (if .assumes then "?" else "" end)] | join(" ")')" \
		"caller:wait: caller:port: caller:sockopt:SO_REUSEADDR?"
	secs=$(j probe '.fixes[0].seconds')
	((secs > 0 && secs <= 60))
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$P"
	assert_eq "do line" "$(sed -n 2p "$BATS_TEST_TMPDIR/text.err")" "bindwatch:   do: wait ${secs}s until it expires"
	# The TIME-WAIT socket kept its listener's SO_REUSEADDR (off here):
	# the kernel refuses the conditional fix (inet_bind_conflict() wants
	# sk_reuse on both sockets; tw_reuse is the old socket's).
	run "$PROBE" -r 127.0.0.1 "$P"
	assert_output "bind=-1 errno=98"
}

# A parent listens on 127.0.0.1:P and starts a child under the shim with
# that socket (pass_fds); the child binds 127.0.0.1:P itself. Then, as
# the fixes say, the child closes its copy and the parent its own, and the
# child's bind succeeds.
PY_PASSED='import os, socket, subprocess, sys
port, preload = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(8)
print("parent=%d fd=%d" % (os.getpid(), s.fileno()), flush=True)
child = """import os, socket, sys
port, fd = int(sys.argv[1]), int(sys.argv[2])
print("child=%d" % os.getpid(), flush=True)
try:
    socket.socket().bind(("127.0.0.1", port))
    print("bind=0", flush=True)
except OSError as e:
    print("bind=-1 errno=%d" % e.errno, flush=True)
have = socket.socket(fileno=os.dup(fd))
print("fd %d: %s:%d" % ((fd,) + have.getsockname()), flush=True)
have.close()
os.close(fd)
os.write(int(sys.argv[3]), b"x")  # closed here
sys.stdin.readline()  # the parent closed its copy
b = socket.socket()
b.bind(("127.0.0.1", port))
print("after close: bind=0", flush=True)
"""
env = dict(os.environ, LD_PRELOAD=preload)
r, w = os.pipe()
p = subprocess.Popen([sys.executable, "-c", child, str(port), str(s.fileno()), str(w)],
                     pass_fds=(s.fileno(), w), env=env, stdin=subprocess.PIPE)
os.close(w)
os.read(r, 1)  # the child closed its copy (or died: EOF)
s.close()
p.communicate(b"\n")
sys.exit(p.returncode)'

@test "self through an inherited socket: use the fd, have the spawning parent close its copy; never stop itself" {
	P=$(free_port)
	T=$BATS_TEST_TMPDIR
	# The parent runs without the shim; only the child has it.
	capture py env BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$PYTHON3" -c "$PY_PASSED" "$P" "$PRELOAD"
	assert_eq "exit" "$status" 0
	parent=$(sed -n 's/^parent=\([0-9]*\) .*/\1/p' "$T/py.out")
	pfd=$(sed -n 's/^parent=[0-9]* fd=//p' "$T/py.out")
	child=$(sed -n 's/^child=//p' "$T/py.out")
	assert_file_has "$T/py.out" "bind=-1 errno=98"
	assert_eq "cause" "$(j py .cause)" "self"
	assert_eq "fixes" "$(j py '[.fixes[] | .target + ":" + .kind] | join(" ")')" "caller:use_fd caller:port holder:close"
	# The fd named is the inherited socket, bound to the address.
	assert_eq "use_fd" "$(j py '.fixes[0].fd')" "$pfd"
	assert_file_has "$T/py.out" "fd $pfd: 127.0.0.1:$P"
	# The close fix names the parent (by pid) and the child's own copy.
	assert_eq "close" "$(j py '.fixes[2] | [.pid, .fd, .own_fd, (.pids | join(","))] | map(tostring) | join(" ")')" \
		"$parent $pfd $pfd $parent"
	hint_has py "have pid $parent (python3, which passed the socket on to this process) close its copy"
	hint_has py "this process (pid $child) inherited it from pid $parent across exec"
	# Never a stop of the caller itself, nor a command that kills a copy
	# while the caller keeps its own.
	assert_eq "no self stop" "$(j py "[.fixes[] | select(.kind == \"stop\")] | length")" 0
	assert_eq "free_command" "$(j py .free_command)" "null"
	# Both copies closed, as the fix says: the bind succeeds.
	assert_file_has "$T/py.out" "after close: bind=0"
	# The text report's "do:" line says to use the fd.
	capture text env BINDWATCH_STACK=0 "$PYTHON3" -c "$PY_PASSED" "$(free_port)" "$PRELOAD"
	assert_eq "do line" "$(sed -n 2p "$T/text.err")" \
		"bindwatch:   do: use the socket this process already has on fd $pfd (bound to this address) instead of binding another one"
}

# Processes a test started that are not in BG_PIDS (children of a
# holder), killed in teardown by pid.
EXTRA_PIDS=()

teardown() {
	local p
	for p in "${EXTRA_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	kill_bg
}

# free_works NAME PROBE-ARGS...: the record's free_command, run as it is
# printed, frees the address: the probe's bind succeeds within 10 s.
free_works() {
	local name=$1 cmd
	shift
	cmd=$(j "$name" .free_command)
	[[ $cmd == kill\ * ]] || { echo "free_command: $cmd" >&2; return 1; }
	sh -c "$cmd"
	poll_until 200 bind_ok "$@" || { echo "still in use after: $cmd" >&2; return 1; }
}

# bind_ok PROBE-ARGS...: conflict_probe's bind succeeds now.
bind_ok() {
	"$PROBE" "$@" | grep -qx 'bind=0 errno=0'
}

# python3 -c "$PY_PASS_ON" PORT FILE: listens on 127.0.0.1:PORT, starts
# `sleep` with the socket (pass_fds), writes "PARENT CHILD" to FILE.
PY_PASS_ON='import os, socket, subprocess, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
p = subprocess.Popen(["sleep", "300"], pass_fds=(s.fileno(),))
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d %d\n" % (os.getpid(), p.pid))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(600)'

@test "stop covers every process of a socket: a parent and the child it passed the socket to" {
	P=$(free_port)
	T=$BATS_TEST_TMPDIR
	bg "$PYTHON3" -c "$PY_PASS_ON" "$P" "$T/pids"
	wait_file "$T/pids"
	read -r parent child <"$T/pids"
	EXTRA_PIDS+=("$child")
	shim_probe probe 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$T/probe.out")" "bind=-1 errno=98"
	assert_eq "fixes" "$(j probe '[.fixes[] | .target + ":" + .kind] | join(" ")')" "holder:stop caller:port"
	assert_eq "stop" "$(j probe '.fixes[0] | [.pid, (.pids | join(","))] | map(tostring) | join(" ")')" \
		"$parent $parent,$child"
	hint_has probe "stop pid $parent (python3) and the 1 other process that has its socket open (pid $child)"
	assert_eq "free_command" "$(j probe .free_command)" "kill $child $parent"
	# Stopping the parent alone would leave the child's copy open. The
	# process to act on first goes last: a master that ends its workers
	# must not have done so before kill(1) signals them.
	free_works probe 127.0.0.1 "$P"
}

@test "stop covers every process of a socket: a pre-fork master and its workers" {
	P=$(free_port)
	T=$BATS_TEST_TMPDIR
	bg "$PYTHON3" "$BW_SRCDIR/tests/helpers/prefork.py" tcp 127.0.0.1 "$P" 3 "$T/pids"
	wait_file "$T/pids"
	read -r master w1 w2 w3 <"$T/pids"
	EXTRA_PIDS+=("$w1" "$w2" "$w3")
	shim_probe probe 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$T/probe.out")" "bind=-1 errno=98"
	assert_eq "stop" "$(j probe '.fixes[0] | [.kind, .pid, (.pids | join(","))] | map(tostring) | join(" ")')" \
		"stop $master $master,$w1,$w2,$w3"
	hint_has probe "stop pid $master (python3) and the 3 other processes that have its socket open (pid $w1, pid $w2, pid $w3)"
	assert_eq "free_command" "$(j probe .free_command)" "kill $w1 $w2 $w3 $master"
	free_works probe 127.0.0.1 "$P"
}

@test "stop covers every blocking socket: 0.0.0.0:P and an IPv6-only [::]:P both block a dual-stack [::]:P" {
	P=$(free_port)
	hold tcp 0.0.0.0 "$P"
	v4=$HOLDER_PID
	bg "$PYTHON3" "$BW_SRCDIR/tests/helpers/hold.py" tcp :: "$P" 1
	v6=${BG_PIDS[-1]}
	# hold's readiness check would see the IPv4 socket: wait for [::]:P.
	poll_until 200 ss_has -Hltn "src [::] and sport = :$P"
	shim_probe probe -6 -V 0 :: "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "holders" "$(j probe '[.holders[].pid] | sort | map(tostring) | join(" ")')" \
		"$(printf '%s\n' "$v4" "$v6" | sort -n | tr '\n' ' ' | sed 's/ $//')"
	# Each side alone is no way out: a fix names both, and so does the
	# command (in either order: the cause's holder first).
	assert_eq "stop pids" "$(j probe '[.fixes[] | select(.kind == "stop") | .pids | sort | map(tostring) | join(" ")] | join(";")')" \
		"$(printf '%s\n' "$v4" "$v6" | sort -n | tr '\n' ' ' | sed 's/ $//')"
	run j probe .free_command
	assert_output --regexp "^kill ($v4 $v6|$v6 $v4)\$"
	free_works probe -6 -V 0 :: "$P"
}
