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
