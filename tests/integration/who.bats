#!/usr/bin/env bats
# bindwatch who: who holds an address, from outside the holder.

load common

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "who PORT: a python3 listener is named (exit 0); --json parses and names it too" {
	port=$(free_port)
	hold_tcp "$port"

	run "$CLI" who "$port"
	assert_success
	assert_output --partial "pid=$HOLDER_PID,fd="
	assert_output --partial "0.0.0.0:$port"
	assert_output --partial "cause: listener:"

	run "$CLI" who tcp "127.0.0.1:$port"
	assert_success
	assert_output --partial "pid=$HOLDER_PID,fd="

	"$CLI" who --json "$port" >"$T/who.json"
	"$PYTHON3" -m json.tool <"$T/who.json" >/dev/null
	run bw_json "$T/who.json" 'j["event"], j["port"], j["holders"][0]["pid"], j["holders"][0]["state"], j["holders_total"]'
	assert_output "('lookup', $port, $HOLDER_PID, 'LISTEN', 1)"
}

@test "who PORT: a free port exits 1" {
	port=$(free_port)
	run "$CLI" who "$port"
	assert_failure 1
	refute_output --partial "pid="

	# It says nothing holds it (the kernel agrees: a bind would succeed),
	# and offers no remedy for a problem that isn't there.
	assert_output "nothing holds *:$port (tcp and udp): a bind there would succeed"
	run "$CLI" who tcp "127.0.0.1:$port"
	assert_failure 1
	assert_output "nothing holds 127.0.0.1:$port/tcp: a bind there would succeed"

	run "$CLI" who --json "$port"
	assert_failure 1
	run bw_json <(printf '%s\n' "$output") 'j["holders"], j["holders_total"], j["fixes"], j["hint"]'
	assert_output "([], 0, [], 'nothing holds *:$port (tcp and udp): a bind there would succeed')"
}

@test "who: bad input exits 2 with a message on stderr" {
	for arg in notaport 70000 65536 "1.2.3.4:" "[::1]" "host:80"; do
		capture bad "$CLI" who "$arg"
		assert_equal "$status" 2
		assert_equal "$(cat "$T/bad.out")" ""
		assert_file_has "$T/bad.err" "bindwatch: "
		assert_file_has "$T/bad.err" "'$arg'"
	done
	capture bad "$CLI" who sctp 80
	assert_equal "$status" 2
	assert_file_has "$T/bad.err" "expected tcp, udp or unix"
	capture bad "$CLI" who tcp 80 81
	assert_equal "$status" 2
	one_error_line "$T/bad.err" "who: one address expected, got 3 words; accepted: [tcp|udp|unix] PORT"
	# Two addresses: one too many, not a bad protocol word.
	for cmd in who wait free; do
		capture bad "$CLI" $cmd 80 81
		assert_equal "$status" 2
		one_error_line "$T/bad.err" "$cmd: one address expected, got two ('80' and '81'); accepted: [tcp|udp|unix] PORT"
	done
	capture bad "$CLI" who http 81
	assert_equal "$status" 2
	one_error_line "$T/bad.err" "got two ('http' and '81')"
	# A protocol word alone: the address is missing, not malformed.
	for cmd in who wait free; do
		for p in tcp udp unix; do
			capture bad "$CLI" $cmd $p
			assert_equal "$status" 2
			one_error_line "$T/bad.err" "$cmd: '$p' needs an address after it: $p "
		done
	done
	# A mistyped subcommand is a command that isn't there: exit 127 (the
	# documented status), one line that names the subcommands.
	capture bad "$CLI" whoo 80
	assert_equal "$status" 127
	one_error_line "$T/bad.err" "cannot run 'whoo': No such file or directory (not in PATH; bindwatch's own subcommands are who, wait and free)"
}

# one_error_line FILE WORD: FILE is exactly one line, "bindwatch: ...",
# naming WORD (getopt's own message would be a second line).
one_error_line() {
	assert_equal "$(wc -l <"$1")" 1
	assert_file_has "$1" "bindwatch: "
	assert_file_has "$1" "$2"
	[ "$(head -c 11 "$1")" = "bindwatch: " ]
}

@test "who: contradictions and port 0 exit 2 with one line each; so do unknown options, here and before the subcommand" {
	for args in "udp /tmp/x.sock" "tcp @abstract" "unix 8000" "unix 127.0.0.1:80" "0" "tcp 0" \
		"127.0.0.1:0" "nosuchservice-bw" "tcp 1 --frob" "-z 80" "--json=x 80"; do
		# shellcheck disable=SC2086 # word splitting wanted
		capture bad "$CLI" who $args
		assert_equal "$status" 2
		assert_equal "$(cat "$T/bad.out")" ""
		one_error_line "$T/bad.err" "who: "
	done
	capture bad "$CLI" --frob -- true
	assert_equal "$status" 2
	one_error_line "$T/bad.err" "'--frob'"
	capture bad "$CLI" --log
	assert_equal "$status" 2
	one_error_line "$T/bad.err" "'--log'"
}

@test "who: options anywhere on the line; -H drops the header; -t/-u pick the protocol" {
	port=$(free_port)
	hold_tcp "$port"
	"$CLI" who "$port" --json >"$T/who.json"
	run bw_json "$T/who.json" 'j["holders"][0]["pid"]'
	assert_output "$HOLDER_PID"

	run "$CLI" who -H "$port"
	assert_success
	[[ ${lines[0]} == "tcp "*"0.0.0.0:$port "*"pid=$HOLDER_PID,fd="* ]]
	run "$CLI" who "$port" -H
	[[ ${lines[0]} == "tcp "* ]]

	run "$CLI" who -t "$port"
	assert_success
	run "$CLI" who "$port" -u
	assert_failure 1
}

@test "bindwatch [OPTIONS] who: --json before the subcommand works, run-only options say why, -- runs a program named who" {
	port=$(free_port)
	hold_tcp "$port"
	"$CLI" --json who "$port" >"$T/who.json"
	run bw_json "$T/who.json" 'j["holders"][0]["pid"]'
	assert_output "$HOLDER_PID"

	capture bad "$CLI" --remap 1=next who "$port"
	assert_equal "$status" 2
	one_error_line "$T/bad.err" "--remap applies when bindwatch runs a COMMAND"

	# After "--" the word is a command: coreutils' who, not ours.
	capture cw "$CLI" -- who --version
	assert_equal "$status" 0
	assert_file_has "$T/cw.out" "GNU coreutils"
}

@test "who SERVICE: a service name is looked up (getservbyname), alone or after an address" {
	grep -qE '^http[[:space:]]+80/tcp' /etc/services || skip "no http entry in /etc/services"
	"$CLI" who --json http >"$T/svc.json" || true
	run bw_json "$T/svc.json" 'j["port"], j["proto"]'
	assert_output "(80, 'unknown')"
	"$CLI" who --json tcp 127.0.0.1:http >"$T/svc.json" || true
	run bw_json "$T/svc.json" 'j["port"], j["proto"], j["addr"]'
	assert_output "(80, 'tcp', '127.0.0.1')"
}

@test "who PORT: nothing found prints the same hint as the JSON" {
	port=$(free_port)
	run "$CLI" who -H "$port"
	assert_failure 1
	hint=$("$CLI" who --json "$port" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["hint"])') || true
	[ -n "$hint" ]
	assert_output "$hint"
}

# listed_ports: the inet ports of `who -H` rows on stdin, in order.
listed_ports() {
	awk '$1 == "tcp" || $1 == "udp" { n = split($3, a, ":"); print a[n] }'
}

@test "who (no address): every listening socket, TCP, UDP and unix, sorted by port, with its process; -t -u -x -4 -6 filter" {
	p1=$(free_port)
	hold_tcp "$p1" 127.0.0.1
	tcp_pid=$HOLDER_PID
	p2=$(free_port udp)
	hold udp ::1 "$p2" 1
	udp_pid=$HOLDER_PID
	sock=$T/l.sock
	[ ${#sock} -lt 100 ] || skip "temp dir path too long for sun_path"
	hold unix "$sock"
	unix_pid=$HOLDER_PID

	run "$CLI" who
	assert_success
	[[ ${lines[0]} == Netid* ]]
	assert_line --regexp "^tcp +LISTEN +127\.0\.0\.1:$p1 .*pid=$tcp_pid,fd=[0-9]+ user=root\(0\)"
	assert_line --regexp "^udp +UNCONN +\[::1\]:$p2 .*pid=$udp_pid,fd="
	assert_line --regexp "^u_str +LISTEN +$sock .*pid=$unix_pid,fd="
	# Sorted by port, as ss -l would be with sort -n.
	"$CLI" who -H | listed_ports >"$T/ports"
	sort -n -c "$T/ports"

	"$CLI" who -H -t >"$T/t"
	assert_file_has "$T/t" "127.0.0.1:$p1 "
	assert_file_lacks "$T/t" "[::1]:$p2 "
	assert_file_lacks "$T/t" "$sock"
	"$CLI" who -H -u -6 >"$T/u6"
	assert_file_has "$T/u6" "[::1]:$p2 "
	assert_file_lacks "$T/u6" "127.0.0.1:$p1 "
	"$CLI" who -H -4 >"$T/4"
	assert_file_has "$T/4" "127.0.0.1:$p1 "
	assert_file_lacks "$T/4" "[::1]:$p2 "
	assert_file_lacks "$T/4" "$sock"
	"$CLI" who -H -x >"$T/x"
	assert_file_has "$T/x" "$sock"
	assert_file_lacks "$T/x" "127.0.0.1:$p1 "

	"$CLI" who --json >"$T/all.json"
	"$PYTHON3" - "$T/all.json" "$p1" "$tcp_pid" "$sock" "$unix_pid" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["event"] == "listing" and j["total"] == len(j["sockets"]), j
tcp = [s for s in j["sockets"] if s.get("port") == int(sys.argv[2]) and s["proto"] == "tcp"]
assert len(tcp) == 1 and tcp[0]["pid"] == int(sys.argv[3]) and tcp[0]["user"] == "root", tcp
ux = [s for s in j["sockets"] if s.get("path") == sys.argv[4]]
assert len(ux) == 1 and ux[0]["pid"] == int(sys.argv[5]), ux
PY
}

@test "who (no address): a socket shared by two processes (listen, then fork) is one entry" {
	port=$(free_port)
	bg "$PYTHON3" -c 'import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
child = os.fork()
if child == 0:
    time.sleep(600)
    os._exit(0)
open(sys.argv[2] + ".tmp", "w").write("%d\n" % child)
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(600)' "$port" "$T/child.pid"
	wait_file "$T/child.pid"
	BG_PIDS+=("$(cat "$T/child.pid")")
	wait_listen "$port"
	"$CLI" who -H -t >"$T/t"
	assert_equal "$(grep -c "127.0.0.1:$port " "$T/t")" 1
}

@test "who PATH: a unix listener is named" {
	sock=$T/who.sock
	[ ${#sock} -lt 100 ] || skip "temp dir path too long for sun_path"
	hold unix "$sock"
	run "$CLI" who "$sock"
	assert_success
	assert_output --partial "pid=$HOLDER_PID,fd="
}

# The same holders, whichever way the socket table is read.
who_summary() {
	"$CLI" who --json "$@" | "$PYTHON3" -c 'import json, sys
j = json.load(sys.stdin)
print(j["cause"], sorted((h["pid"], h["fd"], h["state"], h["addr"], h["port"], h["proto"]) for h in j["holders"]))'
}

@test "who: sock_diag and the /proc/net fallback (BINDWATCH_NETLINK=0) give the same answer" {
	port=$(free_port)
	hold_tcp "$port"
	hold udp ::1 "$port"
	via_netlink=$(who_summary "$port")
	via_proc=$(BINDWATCH_NETLINK=0 who_summary "$port")
	assert_equal "$via_proc" "$via_netlink"
	[[ $via_netlink == *"'LISTEN'"* && $via_netlink == *"'udp'"* ]]
}

@test "who: the owner lookup with and without the BPF iterator (BINDWATCH_BPF=0) names the same holder" {
	port=$(free_port)
	hold_tcp "$port"
	with_bpf=$(who_summary "$port")
	without=$(BINDWATCH_BPF=0 who_summary "$port")
	assert_equal "$without" "$with_bpf"
	[[ $with_bpf == *"($HOLDER_PID, "* ]]
}

@test "who: as root, a holder hidden by another pid namespace is said to be there, not 'run as root'" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	unshare -p -f --mount-proc true 2>/dev/null || skip "unshare -p failed: no pid namespace available"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# bindwatch in a pid namespace of its own: the holder's process is out of its sight.
	run unshare -p -f --mount-proc "$CLI" who tcp "127.0.0.1:$port"
	assert_output --partial "to free it:"
	assert_output --partial "another pid namespace"
	refute_output --partial "run as root"
}

@test "who: cmd=\"...\" keeps UTF-8 as it is and escapes '\"', '\\', control bytes and invalid bytes" {
	port=$(free_port)
	# Extra words after hold.py's own: the holder's command line.
	hold tcp 127.0.0.1 "$port" "" 'café' '"q" x' 'back\slash' $'tab\there' $'bad\xff'
	run "$CLI" who "$port"
	assert_success
	assert_output --partial "café \\x22q\\x22 x back\\x5cslash tab\\x09here bad\\xff\" "
	# The field ends at the first unescaped '"': exactly one cmd="..." pair.
	row=$(printf '%s\n' "$output" | grep "pid=$HOLDER_PID")
	rest=${row#*cmd=\"}
	[[ ${rest%%\"*} == *"bad\\xff" ]]
}

@test "who: an IPv6 wildcard listener says whether it is dual-stack (*:P) or IPv6-only ([::]:P), in text and JSON, local and peer columns as ss; unknown from /proc" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 here"
	dual=$(free_port)
	hold tcp :: "$dual" 0
	dual_pid=$HOLDER_PID
	only=$(free_port)
	hold tcp :: "$only" 1
	only_pid=$HOLDER_PID
	# The kernel's view first: a dual-stack [::] takes 0.0.0.0 too, the other doesn't.
	run "$PYTHON3" -c "import socket; socket.socket().bind(('0.0.0.0', $dual))"
	assert_failure
	"$PYTHON3" -c "import socket; socket.socket().bind(('0.0.0.0', $only))"

	run "$CLI" who -H "$dual"
	[[ ${lines[0]} == "tcp "*" *:$dual "*"pid=$dual_pid,"* ]]
	run "$CLI" who -H "$only"
	[[ ${lines[0]} == "tcp "*" [::]:$only "*"pid=$only_pid,"* ]]
	# Local and peer columns as ss prints them: "*:P *:*" and "[::]:P [::]:*".
	for p in "$dual" "$only"; do
		assert_equal "$("$CLI" who -H "$p" | awk 'NR == 1 { print $3, $4 }')" \
			"$(ss -Hltn "sport = :$p" | awk '{ print $4, $5 }')"
	done
	run "$CLI" who -t -H
	printf '%s\n' "$output" | grep -E "^tcp +LISTEN +\*:$dual .*pid=$dual_pid,"
	printf '%s\n' "$output" | grep -E "^tcp +LISTEN +\[::\]:$only .*pid=$only_pid,"
	"$CLI" who --json "$dual" >"$T/dual.json" || true
	assert_equal "$(bw_json "$T/dual.json" 'j["holders"][0]["v6only"]')" "false"
	"$CLI" who --json "$only" >"$T/only.json" || true
	assert_equal "$(bw_json "$T/only.json" 'j["holders"][0]["v6only"]')" "true"
	"$CLI" who -t --json >"$T/list.json"
	run bw_json "$T/list.json" "[s['v6only'] for p in ($dual, $only) for s in j['sockets'] if s['port'] == p]"
	assert_output "[False, True]"
	# /proc/net has no IPV6_V6ONLY: unknown, never a guess.
	BINDWATCH_NETLINK=0 "$CLI" who --json "$dual" >"$T/proc.json" || true
	assert_equal "$(bw_json "$T/proc.json" 'j["holders"][0]["v6only"]')" "null"
	run env BINDWATCH_NETLINK=0 "$CLI" who -H "$dual"
	[[ ${lines[0]} == "tcp "*" [::]:$dual "* ]]
}

# bind_errno ADDR PORT [UID]: the error text the kernel gives a plain TCP
# bind of ADDR:PORT (as UID, if given), or "ok".
bind_errno() {
	local pre=()
	[ -z "${3:-}" ] || pre=(setpriv --reuid "$3" --regid "$3" --clear-groups)
	"${pre[@]}" "$PYTHON3" -c 'import os, socket, sys
a, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
try:
    s.bind((a, p))
    print("ok")
except OSError as e:
    print(os.strerror(e.errno))' "$1" "$2"
}

@test "who: an address no bind can get here says why, exit 2, as wait does (the kernel decides)" {
	P=$(free_port)
	for a in 10.9.9.9 2001:db8::1 fe80::1234; do
		err=$(bind_errno "$a" "$P")
		[ "$err" != ok ] || skip "a bind to $a succeeds here"
		shown=$a
		[[ $a != *:* ]] || shown="[$a]"
		run "$CLI" who "$shown:$P"
		assert_failure 2
		assert_output "bindwatch: who: a bind to $shown:$P/tcp can never succeed here: $err"
	done
}

@test "who: as a user who may not bind a privileged port, says so and names the sysctl, exit 2" {
	[ "$(id -u)" = 0 ] || skip "needs root to run as nobody"
	setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null ||
		skip "setpriv cannot switch to uid 65534 here"
	start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	[ "$start" -gt 1 ] || skip "ip_unprivileged_port_start=$start: every port is unprivileged"
	low=$((start - 1))
	err=$(bind_errno 0.0.0.0 "$low" 65534)
	[ "$err" = "Permission denied" ] || skip "nobody's bind of port $low gives: $err"
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" who "$low"
	assert_failure 2
	assert_output "bindwatch: who: a bind to *:$low/tcp can never succeed here: Permission denied (ports below net.ipv4.ip_unprivileged_port_start=$start need CAP_NET_BIND_SERVICE)"
	# wait says the same words.
	run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" wait --quiet --timeout 1 "$low"
	assert_failure 2
	assert_output "bindwatch: wait: a bind to *:$low/tcp can never succeed here: Permission denied (ports below net.ipv4.ip_unprivileged_port_start=$start need CAP_NET_BIND_SERVICE)"
}

@test "who [::]:P models the caller's IPV6_V6ONLY from net.ipv6.bindv6only of the namespace; the kernel agrees" {
	unshare -n true 2>/dev/null || skip "unshare -n failed: no network namespace available"
	# In a private network namespace (its own sysctl): a 127.0.0.1:P
	# listener, then who '[::]:P' and a plain [::]:P bind, for both values.
	run timeout 60 unshare -n sh -c '
		ip link set lo up || exit 99
		"$1" -c "import socket, sys, time
s = socket.socket(); s.bind((\"127.0.0.1\", 8000)); s.listen(8)
open(sys.argv[1], \"w\").write(\"up\n\"); time.sleep(600)" "$2/up" &
		hp=$!
		i=0; while [ ! -s "$2/up" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
		for v in 1 0; do
			echo "$v" > /proc/sys/net/ipv6/bindv6only || { kill $hp; exit 99; }
			"$3" who "[::]:8000" >/dev/null; echo "v=$v who=$?"
			"$1" -c "import socket
s = socket.socket(socket.AF_INET6)
try:
    s.bind((\"::\", 8000)); print(\"kernel=0\")
except OSError as e:
    print(\"kernel=%d\" % e.errno)"
		done
		kill $hp' sh "$PYTHON3" "$BATS_TEST_TMPDIR" "$CLI"
	[ "$status" -ne 99 ] || skip "could not set up the namespace: $output"
	# who exits 1 when nothing holds the address, 0 when something does.
	assert_output "$(printf 'v=1 who=1\nkernel=0\nv=0 who=0\nkernel=98')"
}

@test "who: never lists its own process when it inherited the socket (the listener's child runs it with the fd open)" {
	port=$(free_port)
	# The listener runs sh with the socket open (pass_fds); sh
	# prints its pid and execs who, which keeps that pid and the fd.
	run "$PYTHON3" -c "import socket, subprocess, sys
s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen()
print('parent', __import__('os').getpid(), flush=True)
sys.exit(subprocess.call(['sh', '-c', 'echo who \$\$; exec \"\$0\" who \"\$1\"', '$CLI', '$port'], pass_fds=[s.fileno()]))"
	assert_success
	parent=$(sed -n 's/^parent //p' <<<"$output")
	self=$(sed -n 's/^who //p' <<<"$output")
	[ -n "$parent" ] && [ -n "$self" ]
	assert_output --partial "pid=$parent,"
	# Its answer, without the line that told its pid.
	answer=$(grep -v '^who ' <<<"$output")
	assert_equal "$(grep -Ec "(^|[^0-9])$self([^0-9]|\$)" <<<"$answer")" 0
	assert_equal "$(grep -c " other process" <<<"$answer")" 0
}
