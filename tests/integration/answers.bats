#!/usr/bin/env bats
# Answers a new user got wrong (issue 10, second pass): each situation made
# for real with python3 programs, the kernel asked where it decides, and
# bindwatch's cause and fixes checked against it.

load common
load diag_helpers

teardown() {
	kill_bg
}

# fix_kinds FILE: the fixes of the JSON record in FILE as "target:kind[:name]" words.
fix_kinds() {
	jq -r '[.fixes[] | .target + ":" + .kind + (if .name then ":" + .name else "" end)] | join(" ")' "$1"
}

@test "who PORT: a listener with SO_REUSEADDR (python3 http.server) is a listener, never reuseaddr_mismatch" {
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P" --bind 127.0.0.1
	hp=${BG_PIDS[-1]}
	wait_listen "$P"
	# The kernel: a plain bind of the wildcard, even with SO_REUSEADDR, is refused.
	run "$PYTHON3" -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1]))); print("bound")
except OSError as e:
    print("errno=%d" % e.errno)' "$P"
	assert_output "errno=98"
	for q in "$P" "tcp $P"; do
		# shellcheck disable=SC2086 # q is two words on purpose
		"$CLI" who --json $q >"$BATS_TEST_TMPDIR/who.json"
		assert_equal "$q: $(jq -r '[.cause, .holders[0].cause, .holders[0].pid] | map(tostring) | join(" ")' "$BATS_TEST_TMPDIR/who.json")" \
			"$q: listener listener $hp"
		run fix_kinds "$BATS_TEST_TMPDIR/who.json"
		refute_output --partial SO_REUSEADDR
		assert_output --partial "holder:stop"
	done
	run "$CLI" who "$P"
	assert_output --partial "cause: listener"
	refute_output --partial "reuseaddr"
}

@test "who PORT: TIME-WAIT leftovers get the same remedies as who tcp ADDR:PORT" {
	P=$(free_port)
	make_time_wait "$P" 1
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	"$CLI" who --json "$P" >"$BATS_TEST_TMPDIR/port.json"
	"$CLI" who --json tcp "127.0.0.1:$P" >"$BATS_TEST_TMPDIR/addr.json"
	assert_equal "$(jq -r .cause "$BATS_TEST_TMPDIR/port.json")" time_wait
	assert_equal "$(fix_kinds "$BATS_TEST_TMPDIR/port.json")" "$(fix_kinds "$BATS_TEST_TMPDIR/addr.json")"
	assert_equal "$(fix_kinds "$BATS_TEST_TMPDIR/port.json")" "caller:sockopt:SO_REUSEADDR caller:wait caller:port"
}
