#!/usr/bin/env bats
# The host never pays for the diagnosis: a lookup is passive (no connect()
# to a holder's socket), a socket file is "stale" only when no socket is
# bound to it, and the stale-file recovery is not rate limited.

load common
load diag_helpers
load engines

teardown() {
	kill_bg
	unit_teardown
}

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
	need_stale_certain
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
	need_stale_certain
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

# --- system calls: systemd's @system-service set ---------------------------

# service_set: the set, expanded, in $BATS_TEST_TMPDIR/service.syscalls.
service_set() {
	sh "$BW_SRCDIR/tests/fixtures/system-service.syscalls.sh" >"$BATS_TEST_TMPDIR/service.syscalls"
	[ -s "$BATS_TEST_TMPDIR/service.syscalls" ]
}

# need_seccomp_py: Debian's python3-seccomp for tests/helpers/seccomp_run.py.
need_seccomp_py() {
	/usr/bin/python3 -c 'import seccomp' 2>/dev/null || skip "python3-seccomp not installed"
	service_set
}

# filtered NAME CMD...: CMD under the @system-service filter (default
# action: kill the process); stdout/stderr in NAME.out/NAME.err, exit in
# status (159 = 128 + SIGSYS when the filter killed it).
filtered() {
	local name=$1
	shift
	capture "$name" /usr/bin/python3 "$BW_SRCDIR/tests/helpers/seccomp_run.py" \
		"$BATS_TEST_TMPDIR/service.syscalls" "$@"
}

@test "@system-service: /bin/true under the filter starts and exits 0 with the shim, as without" {
	need_seccomp_py
	filtered plain /bin/true
	assert_eq "without the shim" "$status" 0
	filtered shim env LD_PRELOAD="$PRELOAD" /bin/true
	assert_eq "with the shim (159: killed by SIGSYS)" "$status" 0
}

@test "@system-service: a C program under the filter reports a conflict and exits exactly as without the shim" {
	need_seccomp_py
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	filtered plain "$PROBE" 127.0.0.1 "$P"
	plain_status=$status
	plain_out=$(cat "$BATS_TEST_TMPDIR/plain.out")
	assert_eq "without the shim" "$plain_out" "bind=-1 errno=98"
	filtered shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json "$PROBE" 127.0.0.1 "$P"
	assert_eq "status" "$status" "$plain_status"
	assert_eq "output" "$(cat "$BATS_TEST_TMPDIR/shim.out")" "$plain_out"
	assert_eq "report" "$(jone "$BATS_TEST_TMPDIR/shim.err" '[.cause, .holders[0].pid, (.stack | length > 0)] | map(tostring) | @tsv')" \
		"$(printf 'listener\t%s\ttrue' "$HOLDER_PID")"
}

@test "@system-service: python3 under the filter reports a conflict, a unix one too, and exits as without the shim" {
	need_stale_certain
	need_seccomp_py
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	script='import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    u.bind(sys.argv[2])
    print("unix bind=0")
except OSError as e:
    print("unix bind=-1 errno=%d" % e.errno)
sys.exit(3)'
	path=$BATS_TEST_TMPDIR/held.sock
	"$PYTHON3" -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(sys.argv[1])' "$path"
	filtered plain "$PYTHON3" -c "$script" "$P" "$path"
	assert_eq "without the shim" "$status" 3
	filtered shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_UNIX_STALE=unlink \
		"$PYTHON3" -c "$script" "$P" "$path"
	assert_eq "status" "$status" 3
	assert_eq "output" "$(cat "$BATS_TEST_TMPDIR/shim.out")" "$(printf 'bind=-1 errno=98\nunix bind=0')"
	assert_eq "reports" "$(jrec "$BATS_TEST_TMPDIR/shim.err" 'map(.cause) | join(",")')" "listener,unix_stale"
}

@test "@system-service: every system call the shim makes on a conflict (start-up, diagnosis, stack, report) is in the set" {
	command -v strace >/dev/null || skip "strace not installed"
	service_set
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	# As root too: the BPF owner search and pidfd_getfd (outside the set)
	# are what root would have used; the shim must not.
	# BINDWATCH_TRACE=all: a successful bind()/listen() is traced (with
	# its caller) before the busy port is tried.
	capture run strace -f -qq -e trace=all -o "$BATS_TEST_TMPDIR/trace" \
		env LD_PRELOAD="$PRELOAD" BINDWATCH_TRACE=all "$PYTHON3" -c 'import socket, sys
free = socket.socket()
free.bind(("127.0.0.1", 0))
free.listen(1)
try:
    socket.socket().bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)' "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/run.out")" "bind=-1 errno=98"
	assert_file_has "$BATS_TEST_TMPDIR/run.err" "held by pid $HOLDER_PID"
	assert_file_has "$BATS_TEST_TMPDIR/run.err" "called from:"
	sed -E 's/^[0-9]+ +//; s/\(.*//' "$BATS_TEST_TMPDIR/trace" | grep -E '^[a-z_0-9]+$' | sort -u >"$BATS_TEST_TMPDIR/made"
	[ -s "$BATS_TEST_TMPDIR/made" ]
	run comm -23 "$BATS_TEST_TMPDIR/made" "$BATS_TEST_TMPDIR/service.syscalls"
	assert_output ""
}

@test "@system-service: the shim does not contain the BPF owner search or pidfd_getfd" {
	command -v nm >/dev/null || skip "nm (binutils) not installed"
	run bash -c "nm '$SHIM' | grep -E 'bw_bpf_owner_find|bw_pidfd_getfd|bw_btf_|bw_netns_unix_query|setns'"
	assert_output ""
}

# --- small stacks: at most 8 KiB of the caller's stack ----------------------

# small_run MODE [VAR=VALUE...]: tests/helpers/small_stack MODE binds a
# port a python3 listener holds, under the shim (with the settings given);
# output in run.out/run.err. Checks it exited 0 (139: it crashed) and that
# the report names the holder.
small_run() {
	local mode=$1
	shift
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	capture run env LD_PRELOAD="$PRELOAD" "$@" "$HELPERS/small_stack" "$mode" "$P"
	assert_eq "status (139: SIGSEGV)" "$status" 0
	assert_file_has "$BATS_TEST_TMPDIR/run.err" "held by pid $HOLDER_PID"
}

@test "small stacks: a thread with a 32 KiB stack binds a busy port: report written, no crash" {
	small_run thread
	assert_eq "output" "$(cat "$BATS_TEST_TMPDIR/run.out")" "bind=-1 errno=98"
	assert_file_has "$BATS_TEST_TMPDIR/run.err" "thread_main"
}

@test "small stacks: a handler on a 16 KiB sigaltstack binds a busy port: report written, not a byte outside the alternate stack changes" {
	small_run altstack
	assert_eq "output" "$(sed -n '1,2p' "$BATS_TEST_TMPDIR/run.out")" "$(printf 'bind=-1 errno=98\noutside changed 0')"
	# The stack in the report runs from the handler through the signal
	# frame into main: the unwinder crossed both stack switches.
	assert_file_has "$BATS_TEST_TMPDIR/run.err" " main+"
}

@test "small stacks: the failure path (diagnosis, stack, report) uses at most 8 KiB of the caller's stack" {
	small_run peak
	assert_file_has "$BATS_TEST_TMPDIR/run.err" "called from:"
	peak=$(sed -n 's/^peak //p' "$BATS_TEST_TMPDIR/run.out")
	echo "# caller's stack used by a reported bind(): $peak bytes" >&3
	[ -n "$peak" ] && [ "$peak" -le 8192 ]
}

@test "small stacks: BINDWATCH_TRACE=all and a remap run off the caller's stack too" {
	small_run thread BINDWATCH_TRACE=all "BINDWATCH_REMAP=*=auto"
	assert_eq "output" "$(cat "$BATS_TEST_TMPDIR/run.out")" "bind=0"
}

# --- a real systemd unit with SystemCallFilter=@system-service --------------

SYSD=

unit_teardown() {
	[ -n "$SYSD" ] && "$DOCKER" rm -f "$SYSD" >/dev/null 2>&1
	SYSD=
}

@test "@system-service: a systemd unit with SystemCallFilter=@system-service runs, reports and ends as without the shim" {
	[ -z "$BW_SANITIZER_PRELOAD" ] || skip "the sanitizer build's shim needs its runtime, which the container lacks"
	SYSD=bw-host-$$
	systemd_container "$SYSD"
	docker_put "$SYSD" "$SHIM" /usr/local/lib/libbindwatch.so
	# The holder, then two runs of the same hardened service: without and
	# with the shim. The service binds the held port, prints its errno and
	# exits 3 (so Result is exit-code either way).
	"$DOCKER" exec -i "$SYSD" sh -c 'cat > /usr/local/bin/svc.py' <<'PY'
import socket, sys
try:
    socket.socket().bind(("127.0.0.1", 7777))
    print("bind=0", flush=True)
except OSError as e:
    print("bind=-1 errno=%d" % e.errno, flush=True)
sys.exit(3)
PY
	"$DOCKER" exec "$SYSD" systemd-run --unit=holder --property=Type=simple \
		python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 7777)); s.listen(1); time.sleep(600)'
	poll_until 200 "$DOCKER" exec "$SYSD" sh -c 'ss -Hltn "sport = :7777" | grep -q .'
	for v in plain shim; do
		env=
		[ "$v" = shim ] && env="Environment=LD_PRELOAD=/usr/local/lib/libbindwatch.so"
		"$DOCKER" exec -i "$SYSD" sh -c "cat > /etc/systemd/system/svc-$v.service" <<UNIT
[Service]
Type=oneshot
SystemCallFilter=@system-service
$env
ExecStart=/usr/bin/python3 /usr/local/bin/svc.py
UNIT
		sd_start_show "$SYSD" "svc-$v.service" "$BATS_TEST_TMPDIR/$v"
	done
	cat "$BATS_TEST_TMPDIR/shim.show" "$BATS_TEST_TMPDIR/shim.journal" >&2
	assert_file_has "$BATS_TEST_TMPDIR/plain.show" "ExecMainStatus=3"
	assert_eq "systemctl show" "$(cat "$BATS_TEST_TMPDIR/shim.show")" "$(cat "$BATS_TEST_TMPDIR/plain.show")"
	assert_file_has "$BATS_TEST_TMPDIR/shim.journal" "bind=-1 errno=98"
	assert_file_has "$BATS_TEST_TMPDIR/shim.journal" "bindwatch:   python3["
	assert_file_has "$BATS_TEST_TMPDIR/shim.journal" "cause: listener"
	assert_file_has "$BATS_TEST_TMPDIR/shim.journal" "called from:"
}

@test "stale means stale: a connected client that bound its own path keeps it (UNIX_STALE=unlink)" {
	srv=$BATS_TEST_TMPDIR/srv.sock
	cli=$BATS_TEST_TMPDIR/cli.sock
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.bind(sys.argv[2]); c.connect(sys.argv[1])
a, _ = s.accept()
open(sys.argv[3], "w").write("connected\n")
time.sleep(600)' "$srv" "$cli" "$BATS_TEST_TMPDIR/ready"
	wait_file "$BATS_TEST_TMPDIR/ready"
	inode=$(stat -c %i "$cli")
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$cli"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "inode" "$(stat -c %i "$cli")" "$inode"
}

@test "stale means stale: two instances taking over one stale file at once never both bind (UNIX_STALE=unlink)" {
	need_stale_certain
	path=$BATS_TEST_TMPDIR/race.sock
	# Each instance binds and listens, says whether its bind succeeded,
	# and keeps its socket until both have said so (file "done"; at most
	# 20 s): an instance that had exited would leave a really stale file,
	# which the other may rightly take over.
	prog='import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind(sys.argv[1]); s.listen(4); print(1)
except OSError:
    print(0)
sys.stdout.flush()
end = time.time() + 20
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.01)'
	said() { [ -s "$BATS_TEST_TMPDIR/a" ] && [ -s "$BATS_TEST_TMPDIR/b" ]; }
	both=0
	for round in $(seq 1 20); do
		rm -f "$path" "$BATS_TEST_TMPDIR/done" "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
		"$PYTHON3" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$path"
		sleep 0.02 # a later file never shares the stale one's ctime tick
		env LD_PRELOAD="$PRELOAD" BINDWATCH_UNIX_STALE=unlink BINDWATCH_LOG=/dev/null BINDWATCH_STACK=0 \
			"$PYTHON3" -c "$prog" "$path" "$BATS_TEST_TMPDIR/done" >"$BATS_TEST_TMPDIR/a" &
		env LD_PRELOAD="$PRELOAD" BINDWATCH_UNIX_STALE=unlink BINDWATCH_LOG=/dev/null BINDWATCH_STACK=0 \
			"$PYTHON3" -c "$prog" "$path" "$BATS_TEST_TMPDIR/done" >"$BATS_TEST_TMPDIR/b" &
		poll_until 200 said
		touch "$BATS_TEST_TMPDIR/done"
		wait
		[ "$(cat "$BATS_TEST_TMPDIR/a")$(cat "$BATS_TEST_TMPDIR/b")" = 11 ] && both=$((both + 1))
	done
	assert_eq "rounds where both bound" "$both" 0
}

@test "stale means stale: a live listener on overlayfs (upper and lower on different filesystems) keeps its path" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace"
	d=$BATS_TEST_TMPDIR/ovl
	mkdir -p "$d/lower" "$d/up" "$d/m"
	run unshare -m sh -c '
		set -e
		d=$1
		mount -t tmpfs tmpfs "$d/up"
		mkdir "$d/up/u" "$d/up/w"
		mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/up/u,workdir=$d/up/w" "$d/m"
		"$2" -c "import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
open(sys.argv[2], \"w\").write(\"ready\")
time.sleep(30)" "$d/m/live.sock" "$d/ready" &
		holder=$!
		i=0; while [ ! -s "$d/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		before=$(stat -c %i "$d/m/live.sock")
		env LD_PRELOAD="$3" BINDWATCH_UNIX_STALE=unlink BINDWATCH_STACK=0 BINDWATCH_LOG=/dev/null \
			"$2" -c "$4" "$d/m/live.sock"
		echo "inode $( [ "$(stat -c %i "$d/m/live.sock")" = "$before" ] && echo same || echo changed)"
		kill $holder' sh "$d" "$PYTHON3" "$PRELOAD" "$PY_BIND_UNIX"
	assert_success
	assert_output "$(printf 'bind=-1 errno=98\ninode same')"
}
