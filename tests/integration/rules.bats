#!/usr/bin/env bats
# Issue 10's failing inputs, each produced for real and checked for the
# right cause and the remedies ("fixes") that the kernel's rules give; a
# caller-side fix is applied and the kernel must accept the bind then.
# The kernel-rules model itself is proven by tests/unit/test_bindmatrix.c.

load common
load diag_helpers

# Processes that are pid 1 of a pid namespace of their own: they ignore
# SIGTERM from outside, so teardown sends SIGKILL, by pid.
NS_INIT_PIDS=()

teardown() {
	local p
	for p in "${NS_INIT_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	kill_bg
}

# A listener that calls itself systemd-resolved (argv[0] and comm), as the
# real one on 127.0.0.53.
PY_RESOLVED='import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"systemd-resolved", 0, 0, 0)
s = socket.socket()
s.bind(("127.0.0.53", int(sys.argv[1])))
s.listen(8)
time.sleep(600)'

@test "issue 10 input 1: a process named systemd-resolved is a listener, not socket activation" {
	P=$(free_port)
	bg bash -c 'exec -a systemd-resolved "$0" -c "$1" "$2"' "$PYTHON3" "$PY_RESOLVED" "$P"
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	poll_until 200 grep -qx systemd-resolve "/proc/$hp/comm"
	probe_blocked probe 127.0.0.53 "$P" listener "$hp"
	assert_eq "comm" "$(j probe '.holders[0].comm')" "systemd-resolve"
	assert_eq "fixes" "$(j probe '[.fixes[] | .target + ":" + .kind] | join(" ")')" "holder:stop caller:port"
	assert_eq "stop names the holder" "$(j probe '.fixes[0].pid')" "$hp"
	# The wildcard against it.
	shim_probe wild 0.0.0.0 "$P"
	assert_eq "wildcard" "$(j wild .cause)" "wildcard_overlap"
	assert_eq "first fix" "$(j wild '.fixes[0] | [.target, .kind, .addr] | join(" ")')" \
		"caller address 127.0.0.1"
	run "$PROBE" 127.0.0.1 "$P"
	assert_output "bind=0 errno=0"
	# `who` gives the same answer.
	"$CLI" who --json 127.0.0.53:"$P" >"$BATS_TEST_TMPDIR/who.json"
	assert_eq "who" "$(jq -r .cause "$BATS_TEST_TMPDIR/who.json")" "listener"
}

# One process: IPv4 0.0.0.0:P, then IPv6 [::]:P with IPV6_V6ONLY=0 (nginx's
# "listen P; listen [::]:P ipv6only=off;"); then, as the fix says, the same
# bind with IPV6_V6ONLY=1.
PY_SELF_DUAL='import socket, sys
p = int(sys.argv[1])
a = socket.socket()
a.bind(("0.0.0.0", p))
a.listen(8)
b = socket.socket(socket.AF_INET6)
b.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
try:
    b.bind(("::", p))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)
c = socket.socket(socket.AF_INET6)
c.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
c.bind(("::", p))
print("fixed=0")'

@test "issue 10 input 2: one process dual-stack against its own IPv4 socket is dual_stack, IPV6_V6ONLY=1 on the caller" {
	P=$(free_port)
	shim_py py "$PY_SELF_DUAL" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "$(printf 'bind=-1 errno=98\nfixed=0')"
	assert_eq "cause" "$(j py .cause)" "dual_stack"
	assert_eq "first fix" "$(j py '.fixes[0] | [.target, .kind, .level, .name, (.value|tostring)] | join(" ")')" \
		"caller sockopt IPPROTO_IPV6 IPV6_V6ONLY 1"
	[[ $(j py .hint) == *"set IPV6_V6ONLY=1 on this socket"* ]]
	[[ $(j py .hint) != *"reuse that fd"* ]]
}

PY_SELF_REUSEPORT='import socket, sys
p = int(sys.argv[1])
a = socket.socket()
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
a.bind(("127.0.0.1", p))
a.listen(8)
b = socket.socket()
try:
    b.bind(("127.0.0.1", p))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)'

@test "a process blocked only by its own socket under dual_stack or reuseport_mismatch is never told to kill itself" {
	P=$(free_port)
	shim_py dual "$PY_SELF_DUAL" "$P"
	assert_eq "python" "$(head -1 "$BATS_TEST_TMPDIR/dual.out")" "bind=-1 errno=98"
	P=$(free_port)
	shim_py rp "$PY_SELF_REUSEPORT" "$P"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/rp.out")" "bind=-1 errno=98"
	for n in dual rp; do
		assert_eq "$n free" "$(j $n '[.cause, (.free_command|tostring), .free_note] | join(" | ")')" \
			"$(j $n .cause) | null | this process holds it itself: close that fd first"
		assert_eq "$n no holder:stop" "$(j $n '[.fixes[] | select(.target == "holder" and .kind == "stop")] | length')" 0
	done
	assert_eq "causes" "$(j dual .cause) $(j rp .cause)" "dual_stack reuseport_mismatch"
}

@test "issue 10 input 3: nc -l (SO_REUSEPORT) against a plain bind is listener from the shim and from who" {
	command -v nc.openbsd >/dev/null || skip "netcat-openbsd not installed"
	P=$(free_port)
	bg nc.openbsd -l 127.0.0.1 "$P"
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	probe_blocked probe 127.0.0.1 "$P" listener "$hp"
	"$CLI" who --json 127.0.0.1:"$P" >"$BATS_TEST_TMPDIR/who.json"
	assert_eq "who" "$(jq -r '[.cause, .holders[0].pid, .holders[0].reuseport] | map(tostring) | @tsv' \
		"$BATS_TEST_TMPDIR/who.json")" "$(printf 'listener\t%s\ttrue' "$hp")"
	assert_eq "fixes agree" "$(jq -c '[.fixes[] | .target + ":" + .kind]' "$BATS_TEST_TMPDIR/who.json")" \
		"$(j probe '[.fixes[] | .target + ":" + .kind]' | jq -c .)"
}

@test "issue 10 input 5: ten TCP sockets bound to port 0 and never connected exhaust a ten-port range" {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	netns_py eph "40000 40009" 'import os, socket, subprocess, sys
probe, preload = sys.argv[1], sys.argv[2]
held = []
for _ in range(10):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print("pid=%d" % os.getpid(), flush=True)
env = dict(os.environ, LD_PRELOAD=preload, BINDWATCH_FORMAT="json", BINDWATCH_STACK="0")
subprocess.run([probe, "127.0.0.1", "0"], env=env)
# The caller-side fix: IP_BIND_ADDRESS_NO_PORT (24, ip(7)) leaves the port to connect().
f = socket.socket()
f.setsockopt(socket.IPPROTO_IP, 24, 1)
f.bind(("127.0.0.1", 0))
print("fixed=0", flush=True)' "$PROBE" "$PRELOAD"
	grep -q '^pid=' "$BATS_TEST_TMPDIR/eph.out" ||
		skip "could not set up the namespace: $(cat "$BATS_TEST_TMPDIR/eph.err")"
	hp=$(sed -n 's/^pid=//p' "$BATS_TEST_TMPDIR/eph.out")
	assert_eq "output" "$(sed 1d "$BATS_TEST_TMPDIR/eph.out")" "$(printf 'bind=-1 errno=98\nfixed=0')"
	assert_eq "record" "$(j eph '[.cause, (.port_range | map(tostring) | join("-")), .ports_in_use, .holders[0].pid] | map(tostring) | @tsv')" \
		"$(printf 'ephemeral_exhausted\t40000-40009\t10\t%s' "$hp")"
	hint_has eph "10 ports in use"
	hint_has eph "the most held by pid $hp"
	assert_eq "first fix: stop the holder" "$(j eph '.fixes[0] | [.target, .kind, (.pid|tostring)] | join(" ")')" \
		"holder stop $hp"
	assert_eq "then, for a bind before connect()" "$(j eph '.fixes[1] | [.target, .kind, .level, .name, (.value|tostring)] | join(" ")')" \
		"caller sockopt IPPROTO_IP IP_BIND_ADDRESS_NO_PORT 1"
}

# A UDP socket on 127.0.0.1:PORT with SO_REUSEADDR when RA=1 (a port
# shared by design, as mDNS on 5353); stays when STAY=1.
PY_UDP_SHARED='import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if os.environ.get("RA") == "1":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bind=0", flush=True)
if os.environ.get("STAY") == "1":
    time.sleep(600)'

@test "point 8: a UDP port shared by design says SO_REUSEADDR is needed on every socket and which side lacks it" {
	P=$(free_port udp)
	RA=1 STAY=1 bg "$PYTHON3" -c "$PY_UDP_SHARED" "$P"
	hp=${BG_PIDS[-1]}
	wait_listen "$P" udp
	# --supervise reads the holder's options: it has SO_REUSEADDR, this
	# socket lacks it, and setting it is the fix.
	capture sup env BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$CLI" --supervise -- "$PROBE" -u 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/sup.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j sup '[.cause, .holders[0].pid, .holders[0].reuseaddr] | map(tostring) | @tsv')" \
		"$(printf 'reuseaddr_mismatch\t%s\ttrue' "$hp")"
	hint_has sup "only if every socket on it sets SO_REUSEADDR before bind(): this socket lacks it"
	assert_eq "first fix" "$(j sup '.fixes[0] | [.target, .kind, .name] | join(" ")')" "caller sockopt SO_REUSEADDR"
	run "$PROBE" -u -r 127.0.0.1 "$P"
	assert_output "bind=0 errno=0"
	# Inside the host the holder's options are unknown: the rule and this
	# socket's side are still said, and the fix carries its assumption.
	shim_probe shim -u 127.0.0.1 "$P"
	assert_eq "shim" "$(j shim .cause)" "listener"
	hint_has shim "a UDP port is shared only when every socket on it sets SO_REUSEADDR before bind(), and this socket does not"
	assert_eq "conditional fix" "$(j shim '[.fixes[] | select(.name == "SO_REUSEADDR") | .assumes] | join(",")')" \
		"the holder set SO_REUSEADDR too"
}

@test "point 8: the holder lacks SO_REUSEADDR on a UDP port this socket wants to share" {
	P=$(free_port udp)
	RA=0 STAY=1 bg "$PYTHON3" -c "$PY_UDP_SHARED" "$P"
	hp=${BG_PIDS[-1]}
	wait_listen "$P" udp
	shim_probe shim -u -r 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/shim.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j shim '[.cause, .holders[0].pid] | map(tostring) | @tsv')" \
		"$(printf 'reuseaddr_mismatch\t%s' "$hp")"
	hint_has shim "the holder pid $hp"
	hint_has shim "lacks it"
	assert_eq "first fix" "$(j shim '.fixes[0] | [.target, .kind, .name] | join(" ")')" "holder sockopt SO_REUSEADDR"
}

# An abstract AF_UNIX listener on @NAME; stays when a second argument is given.
PY_ABSTRACT='import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind("\0" + sys.argv[1])
    s.listen(1)
    print("bind=0", flush=True)
except OSError as e:
    print("bind=-1 errno=%d" % e.errno, flush=True)
    sys.exit(0)
if len(sys.argv) > 2:
    time.sleep(600)'

abstract_bound() {
	grep -q " @$1\$" /proc/net/unix
}

@test "point 8: an abstract unix name held from another pid namespace: names live per network namespace" {
	unshare -p -f --mount-proc --kill-child true 2>/dev/null || skip "no pid namespace available"
	name=bw-abstract-$$-$RANDOM
	bg unshare -p -f --mount-proc --kill-child "$PYTHON3" -c "$PY_ABSTRACT" "$name" stay
	poll_until 200 abstract_bound "$name"
	hp=$(pgrep -P "${BG_PIDS[-1]}")
	NS_INIT_PIDS+=("$hp")
	shim_py py "$PY_ABSTRACT" "$name"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j py '[.cause, .holders[0].pid] | map(tostring) | @tsv')" \
		"$(printf 'unix_live\t%s' "$hp")"
	hint_has py "in another pid namespace that shares this network namespace (abstract unix names live per network namespace"
	# From inside a pid namespace of its own the holder is not visible at
	# all; the hint says where abstract names live all the same.
	name2=bw-abstract2-$$-$RANDOM
	bg "$PYTHON3" -c "$PY_ABSTRACT" "$name2" stay
	poll_until 200 abstract_bound "$name2"
	capture inner unshare -p -f --mount-proc --kill-child env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json \
		BINDWATCH_STACK=0 "$PYTHON3" -c "$PY_ABSTRACT" "$name2"
	assert_eq "inner" "$(cat "$BATS_TEST_TMPDIR/inner.out")" "bind=-1 errno=98"
	assert_eq "inner cause" "$(j inner .cause)" "not_visible"
	hint_has inner "abstract unix names live per network namespace"
}
