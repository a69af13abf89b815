#!/usr/bin/env bats
# Every process that holds a socket: a socket open in several processes
# (pre-fork servers, nginx master + workers, a parent and the child it
# forked) lists all of them, in the shim's report and in `who` alike, one
# entry per socket; identical sockets fold into one line with a count.

load common
load diag_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	export BINDWATCH_SCAN_MS=60000 BINDWATCH_RATELIMIT=0
	NGINX_PID=
}

teardown() {
	stop_nginx
	kill_bg
	if [ -n "${CG:-}" ]; then
		poll_until 100 remove_cgroups || true
	fi
}

# in_cgroup NAME CMD...: CMD started in cgroup $CG/NAME (the shell execs
# it: same pid), in the background, remembered for teardown.
in_cgroup() {
	local cg=$CG/$1
	shift
	bg sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@"
}

# prefork KIND ADDR PORT N: tests/helpers/prefork.py (a socket shared by a
# parent and N forked children); PARENT and CHILDREN (array) are set.
prefork() {
	bg "$PYTHON3" "$BW_SRCDIR/tests/helpers/prefork.py" "$@" "$T/prefork.pids"
	wait_file "$T/prefork.pids"
	read -r PARENT rest <"$T/prefork.pids"
	read -r -a CHILDREN <<<"$rest"
}

# start_nginx PORT WORKERS: Debian's nginx, master + WORKERS workers,
# listening on 127.0.0.1:PORT with reuseport (a socket per worker, each
# open in the master and in the workers). Waits for all sockets and workers.
start_nginx() {
	command -v nginx >/dev/null || skip "nginx not installed (nginx-light)"
	nginx_conf "$T/ngx" "$2" "server { listen 127.0.0.1:$1 reuseport; return 204; }"
	nginx -p "$T/ngx" -c "$T/ngx/nginx.conf" >/dev/null 2>&1 &
	NGINX_PID=$!
	poll_until 200 nginx_ready "$1" "$2" || {
		cat "$T/ngx/err.log" >&2
		return 1
	}
}

nginx_ready() {
	[ "$(ss -Hltn "sport = :$1" | wc -l)" -eq "$2" ] && [ "$(pgrep -P "$NGINX_PID" | wc -l)" -eq "$2" ]
}

# holder_set FILE: the single record's holders, one line per socket:
# inode, state, address and its processes' sorted (pid, fds) pairs; sorted.
holder_set() {
	"$PYTHON3" -c 'import json, sys
recs = [l for l in open(sys.argv[1]) if l.startswith("{\"event\"")]
assert len(recs) == 1, "expected one record in %s: %r" % (sys.argv[1], recs)
j = json.loads(recs[0])
rows = []
for h in j["holders"]:
    procs = sorted((p["pid"], sorted(p["fds"])) for p in h["processes"])
    rows.append("%s %s %s %s %s" % (h["inode"], h["state"], h.get("addr", h.get("path")), h.get("port", ""), procs))
print("\n".join(sorted(rows)))
print("total", j["holders_total"])' "$1"
}

# same_holders tcp|udp|unix ADDR [PORT]: a bind of ADDR:PORT under the shim
# fails and its report names the same sockets, each with the same
# processes, as `bindwatch who` on that address. Leaves the two sets in
# $T/shim.set and $T/who.set.
same_holders() {
	local proto=$1 addr=$2 port=${3:-}
	if [ "$proto" = unix ]; then
		capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
			"$PYTHON3" -c "$PY_BIND_UNIX" "$addr"
		assert_eq "bind" "$(cat "$T/shim.out")" "bind=-1 errno=98"
		"$CLI" who --json unix "$addr" >"$T/who.json"
	else
		local flags=()
		[ "$proto" = udp ] && flags=(-u)
		capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
			"$PROBE" "${flags[@]}" "$addr" "$port"
		assert_eq "bind" "$(cat "$T/shim.out")" "bind=-1 errno=98"
		"$CLI" who --json "$proto" "$addr:$port" >"$T/who.json"
	fi
	holder_set "$T/shim.err" >"$T/shim.set"
	holder_set "$T/who.json" >"$T/who.set"
	if ! diff -u "$T/shim.set" "$T/who.set" >&2; then
		echo "shim and who disagree" >&2
		return 1
	fi
}

# ss_pids PORT: the pids ss -p lists for TCP listeners on PORT, sorted.
ss_pids() {
	ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -n | uniq
}

@test "who: a listener that a parent shares with the child it forked lists both processes, as ss -p does" {
	port=$(free_port)
	prefork tcp 127.0.0.1 "$port" 1
	"$CLI" who --json "$port" >"$T/who.json"
	run jq -r '[.holders_total, (.holders | length), (.holders[0].processes | length),
		.holders[0].pid, .holders[0].processes[0].pid, .holders[0].processes[1].pid,
		.holders[0].processes[1].inherited, .holders[0].processes[1].inherited_from,
		.holders[0].processes[1].across_exec] | map(tostring) | join(" ")' "$T/who.json"
	assert_output "1 1 2 $PARENT $PARENT ${CHILDREN[0]} true $PARENT false"
	# The same set of processes as ss -p.
	assert_equal "$(jq -r '.holders[].processes[].pid' "$T/who.json" | sort -n | uniq)" "$(ss_pids "$port")"
	# Text: one line for the socket, the parent to act on first, the child folded in.
	run "$CLI" who "$port"
	assert_success
	assert_line --partial "pid=$PARENT,fd="
	assert_output --partial "+ 1 worker (pid ${CHILDREN[0]})"
	assert_equal "$(grep -c LISTEN <<<"$output")" 1
}

@test "shim and who: a plain listener" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	same_holders tcp 127.0.0.1 "$port"
	grep -q "\[($HOLDER_PID, " "$T/who.set"
}

@test "shim and who: a pre-fork parent and its children" {
	port=$(free_port)
	prefork tcp 127.0.0.1 "$port" 3
	same_holders tcp 127.0.0.1 "$port"
	# One socket, four processes, the parent first in the record.
	assert_equal "$(jq -r '.holders | length' "$T/who.json")" 1
	assert_equal "$(jq -r '.holders[0].processes | map(.pid) | sort | map(tostring) | join(" ")' "$T/who.json")" \
		"$(printf '%s\n' "$PARENT" "${CHILDREN[@]}" | sort | tr '\n' ' ' | sed 's/ $//')"
	assert_equal "$(jone "$T/shim.err" '.holders[0].processes[0].pid')" "$PARENT"
	assert_equal "$(jq -r '.holders[0].pid' "$T/who.json")" "$PARENT"
	assert_file_has "$T/shim.err" "\"relation\":\"sibling\""
}

@test "shim and who: nginx master and workers with reuseport fold into one line with a count" {
	port=$(free_port)
	start_nginx "$port" 4
	same_holders tcp 127.0.0.1 "$port"
	master=$NGINX_PID
	# Four sockets, each open in the master and the four workers, the master first.
	run jq -r '[.holders_total, (.holders | length), ([.holders[].processes | length] | unique | map(tostring) | join(",")),
		([.holders[].pid] | unique | map(tostring) | join(","))] | map(tostring) | join(" ")' "$T/who.json"
	assert_output "4 4 5 $master"
	assert_equal "$(jq -r '[.holders[].processes[].pid] | unique | length' "$T/who.json")" 5
	assert_equal "$(jq -r '[.holders[].processes[].pid] | unique | map(tostring) | join("\n")' "$T/who.json")" "$(ss_pids "$port")"
	# Text: the four sockets are one line.
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$port"
	assert_file_has "$T/text.err" "4 sockets held by pid $master user "
	assert_file_has "$T/text.err" "+ 4 workers (pids "
	assert_equal "$(grep -c 'held by' "$T/text.err")" 1
	run "$CLI" who "$port"
	assert_output --partial "pid=$master,fd="
	assert_output --partial "[4 sockets]"
	assert_equal "$(grep -c LISTEN <<<"$output")" 1
}

@test "shim and who: TIME-WAIT leftovers; forty of them fold into one line with their count" {
	port=$(free_port)
	"$PYTHON3" - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(64)
for _ in range(40):
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = l.accept()
    a.close()
    c.close()
l.close()
PY
	n=$(ss -Htan state time-wait "sport = :$port" | wc -l)
	[ "$n" -ge 33 ] || skip "the kernel left only $n TIME-WAIT sockets on port $port"
	same_holders tcp 127.0.0.1 "$port"
	assert_equal "$(jq -r .holders_total "$T/who.json")" "$n"
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$port"
	assert_file_has "$T/text.err" "blocked by $n TIME-WAIT sockets 127.0.0.1:$port"
	assert_equal "$(grep -c 'blocked by' "$T/text.err")" 1
	assert_file_lacks "$T/text.err" "more sockets on this address"
}

@test "shim and who: a unix path shared by a parent and its child" {
	path=$T/pf.sock
	[ ${#path} -lt 100 ] || skip "temp dir path too long for sun_path"
	prefork unix "$path" 0 1
	same_holders unix "$path"
	assert_equal "$(jq -r '.holders[0].processes | length' "$T/who.json")" 2
}

@test "shim and who: a UDP socket shared by a parent and its children" {
	port=$(free_port udp)
	prefork udp 127.0.0.1 "$port" 2
	wait_listen "$port" udp
	same_holders udp 127.0.0.1 "$port"
	assert_equal "$(jq -r '.holders[0].processes | length' "$T/who.json")" 3
}

@test "shim and who: a dual-stack IPv6 listener and a bind to the IPv4 wildcard" {
	port=$(free_port)
	hold tcp :: "$port" 0
	same_holders tcp 0.0.0.0 "$port"
	grep -q "\[($HOLDER_PID, " "$T/who.set"
}

@test "shim and who: socat listening, forked children serving two clients" {
	command -v socat >/dev/null || skip "socat not installed"
	port=$(free_port)
	bg socat "TCP-LISTEN:$port,bind=127.0.0.1,fork" EXEC:cat
	wait_listen "$port"
	# Two connections: socat forks a child per client (each keeps the listener open
	# only until it closes it; whatever holds it, both answers must agree).
	exec 7<>"/dev/tcp/127.0.0.1/$port" 8<>"/dev/tcp/127.0.0.1/$port"
	# Until socat has accepted both, a connection still in the accept queue
	# (no process has it yet) may be in one answer and not the other.
	served() {
		[ "$(ss -Htnp state established "( sport = :$port )" | grep -c 'pid=')" -eq 2 ]
	}
	poll_until 200 served
	same_holders tcp 127.0.0.1 "$port"
	exec 7>&- 8>&-
	grep -q "\[($!, " "$T/who.set"
}

@test "shim and who: a listener inherited by a child that moved to another cgroup lists both (the socket's cgroup, then its holders' children)" {
	test_cgroups a.service b.scope
	port=$(free_port)
	in_cgroup a.service "$PYTHON3" "$BW_SRCDIR/tests/helpers/prefork.py" tcp 127.0.0.1 "$port" 1 "$T/prefork.pids"
	wait_file "$T/prefork.pids"
	read -r PARENT CHILD <"$T/prefork.pids"
	# systemd-run --scope does this: the child moves, its fds stay.
	echo "$CHILD" >"$CG/b.scope/cgroup.procs"
	assert_file_has "/proc/$CHILD/cgroup" "/bindwatch-test-$$/b.scope"
	same_holders tcp 127.0.0.1 "$port"
	assert_equal "$(jq -r '.holders[0].processes | map(.pid) | sort | map(tostring) | join(" ")' "$T/who.json")" \
		"$(printf '%s\n' "$PARENT" "$CHILD" | sort -n | tr '\n' ' ' | sed 's/ $//')"
	assert_equal "$(jq -r '.holders[0].processes | map(.pid) | sort | map(tostring) | join(" ")' "$T/who.json")" \
		"$(ss_pids "$port" | tr '\n' ' ' | sed 's/ $//')"
	# The socket's cgroup answered, not a scan of every process.
	assert_equal "$(jq -r '.scan.method' "$T/who.json")" cgroup
	assert_equal "$(jone "$T/shim.err" '.scan.method')" cgroup
	# Stopping the unit would leave the moved child holding the port: the
	# command covers it too (a scope's process: nothing restarts it).
	for f in "$T/who.json" "$T/shim.err"; do
		assert_equal "$(jone "$f" '[.free_command, .free_kind, (.free_note // "")] | join(" | ")')" \
			"systemctl stop a.service && kill $CHILD | manager | "
	done
}

@test "who: a listener passed over a unix socket to a process in another cgroup: the answer says where it searched; --all lists both, as ss -p" {
	test_cgroups a.service c.service
	in_cgroup c.service "$PYTHON3" "$BW_SRCDIR/tests/helpers/passfd.py" recv "$T/pass.sock" "$T/recv.pid"
	wait_unix "$T/pass.sock"
	port=$(free_port)
	in_cgroup a.service "$PYTHON3" "$BW_SRCDIR/tests/helpers/passfd.py" send "$T/pass.sock" "$port"
	SENDER=$!
	wait_file "$T/recv.pid"
	RECV=$(cat "$T/recv.pid")
	assert_equal "$(ss_pids "$port" | tr '\n' ' ')" "$(printf '%s\n' "$SENDER" "$RECV" | sort -n | tr '\n' ' ')"
	# By default the search stops at the socket's cgroup, and says so.
	"$CLI" who --json "$port" >"$T/who.json"
	assert_equal "$(jq -r '[.scan.method, .scan.complete, (.holders[0].processes | map(.pid) | map(tostring) | join(" "))] | map(tostring) | join(" ")' "$T/who.json")" \
		"cgroup false $SENDER"
	run "$CLI" who "$port"
	assert_success
	assert_output --partial "pid=$SENDER,"
	assert_output --partial "(holders searched in the socket's cgroup and its holders' child processes; 'bindwatch who --all' searches every process)"
	# --all: every process, both holders.
	"$CLI" who --all --json "$port" >"$T/all.json"
	assert_equal "$(jq -r '[.scan.complete, (.holders[0].processes | map(.pid) | sort | map(tostring) | join(" "))] | map(tostring) | join(" ")' "$T/all.json")" \
		"true $(printf '%s\n' "$SENDER" "$RECV" | sort -n | tr '\n' ' ' | sed 's/ $//')"
	run "$CLI" who --all "$port"
	assert_output --partial "pid=$RECV"
	refute_output --partial "holders searched in"
	# The shim's report says the same about its search.
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_file_has "$T/shim.err" "(holders searched in the socket's cgroup and its holders' child processes;"
}

# A python3 server that dup()s its listener (fds F1 F2 F3 of one socket on
# 0.0.0.0:P) and also listens on an IPv6-only [::]:P (fd F4); writes
# "F1 F2 F3 F4" to FILE.
PY_DUP_HOLDER='import os, socket, sys, time
p = int(sys.argv[1])
s = socket.socket()
s.bind(("0.0.0.0", p))
s.listen()
d1, d2 = os.dup(s.fileno()), os.dup(s.fileno())
s6 = socket.socket(socket.AF_INET6)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s6.bind(("::", p))
s6.listen()
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d %d %d %d\n" % (s.fileno(), d1, d2, s6.fileno()))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(600)'

# ss_fds PORT ADDR: the fds ss -p lists for the TCP listener ADDR:PORT, sorted.
ss_fds() {
	ss -Hltnp "src $2:$1" | grep -o 'fd=[0-9]*' | cut -d= -f2 | sort -n | tr '\n' ' ' | sed 's/ $//'
}

@test "shim and who: one process holding a socket on three fds (dup) and a second blocking socket: the process once, every fd listed, as ss -p" {
	port=$(free_port)
	bg "$PYTHON3" -c "$PY_DUP_HOLDER" "$port" "$T/fds"
	H=$!
	wait_file "$T/fds"
	read -r F1 F2 F3 F4 <"$T/fds"
	wait_listen "$port"
	# The kernel's own view: one socket on three fds, the other on one.
	assert_equal "$(ss_fds "$port" 0.0.0.0)" "$F1 $F2 $F3"
	assert_equal "$(ss_fds "$port" '[::]')" "$F4"

	# A dual-stack bind of [::]:P: both sockets block it. The shim and who
	# name the same sockets, each with the same processes and fds.
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		"$PROBE" -6 -V 0 :: "$port"
	assert_eq "bind" "$(cat "$T/shim.out")" "bind=-1 errno=98"
	"$CLI" who --json tcp "[::]:$port" >"$T/who.json"
	assert_equal "$(holder_set "$T/shim.err")" "$(holder_set "$T/who.json")"
	for f in "$T/who.json" "$T/shim.err"; do
		# Each pid once per socket, every fd of the socket in "fds", "fd"
		# the first; processes_total counts processes.
		assert_equal "$(jone "$f" '[.holders[] | [.addr, .processes_total, (.processes | length),
			(.processes | map(.pid) | unique | length), (.processes[0].fds | sort | map(tostring) | join(",")),
			.processes[0].fd] | map(tostring) | join(" ")] | sort | join(" / ")')" \
			"0.0.0.0 1 1 1 $F1,$F2,$F3 $F1 / :: 1 1 1 $F4 $F4"
	done

	# Text: the process said once, each socket on a line with its fds.
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" -6 -V 0 :: "$port"
	assert_equal "$(grep -c "held by pid $H " "$T/text.err")" 1
	assert_file_has "$T/text.err" "bindwatch:     fds $F1, $F2 and $F3, LISTEN 0.0.0.0:$port"
	assert_file_has "$T/text.err" "bindwatch:     fd $F4, LISTEN [::]:$port IPV6_V6ONLY"
	# The who table: a row per socket (as ss), every fd on it.
	run "$CLI" who "$port"
	assert_success
	assert_output --partial "pid=$H,fd=$F1,$F2,$F3 "
	assert_output --partial "pid=$H,fd=$F4 "
	assert_equal "$(grep -c "pid=$H," <<<"$output")" 2
}
