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

	run "$CLI" who --json "$port"
	assert_failure 1
	run bw_json <(printf '%s\n' "$output") 'j["holders"], j["holders_total"]'
	assert_output "([], 0)"
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
	capture bad "$CLI" who
	assert_equal "$status" 2
	assert_file_has "$T/bad.err" "takes one address"
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
