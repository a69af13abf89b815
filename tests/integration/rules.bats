#!/usr/bin/env bats
# Issue 10's failing inputs, each produced for real and checked for the
# right cause and the remedies ("fixes") that the kernel's rules give; a
# caller-side fix is applied and the kernel must accept the bind then.
# The kernel-rules model itself is proven by tests/unit/test_bindmatrix.c.

load common
load diag_helpers

teardown() {
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
