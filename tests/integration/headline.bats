#!/usr/bin/env bats
# Lines 1 and 2 of a report on an 80-column terminal: line 1 the answer
# (who holds the address, why) without wrapping, line 2 what to do. After a
# successful remap both say where the bind went instead; for a holder this
# user can't see, line 2 says how to see it.

load common

setup() {
	T=$BATS_TEST_TMPDIR
	export BINDWATCH_RATELIMIT=0
	NGINX_PID=
}

teardown() {
	stop_nginx
	kill_bg
	[ -z "${NOBODY_DIR:-}" ] || rm -rf "$NOBODY_DIR"
}

# on_80 OUT: conflict_probe binding 0.0.0.0:$P under the shim, its stderr a
# pseudo-terminal of 80 columns (script(1)), COLUMNS=80; the bindwatch
# lines it wrote in OUT, colour codes and carriage returns taken out.
on_80() {
	script -qec "stty cols 80; env COLUMNS=80 LD_PRELOAD='$PRELOAD' BINDWATCH_STACK=0 '$PROBE' 0.0.0.0 $P" \
		/dev/null >"$T/tty.raw" 2>&1 || true
	sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r$//' "$T/tty.raw" | grep '^bindwatch:' >"$1"
}

# fits_80 OUT COMM PID: line 1 is the whole answer, within 80 columns, and
# line 2 the "do:" line.
fits_80() {
	local l1 l2
	l1=$(sed -n 1p "$1")
	l2=$(sed -n 2p "$1")
	assert_equal "$l1" "bindwatch: bind 0.0.0.0:$P/tcp: in use by $2 pid $3 (listener)"
	[ "${#l1}" -le 80 ] || { echo "line 1 has ${#l1} columns: $l1" >&2; false; }
	[[ $l2 == "bindwatch:   do: "?* ]] || { cat "$1" >&2; false; }
}

@test "headline: line 1 fits 80 columns and line 2 says what to do: python3 holder" {
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P"
	H=$!
	wait_listen "$P"
	on_80 "$T/report"
	fits_80 "$T/report" python3 "$H"
	# One holder, one command: the do: line names it, no second line does.
	assert_equal "$(sed -n 2p "$T/report")" "bindwatch:   do: stop the holder: kill $H"
	assert_file_lacks "$T/report" "to free it:"
}

@test "headline: line 1 fits 80 columns and line 2 says what to do: socat holder" {
	command -v socat >/dev/null || skip "socat not installed"
	P=$(free_port)
	bg socat "TCP-LISTEN:$P,fork" /dev/null
	H=$!
	wait_listen "$P"
	on_80 "$T/report"
	fits_80 "$T/report" socat "$H"
}

@test "headline: line 1 fits 80 columns and line 2 says what to do: nginx holder" {
	command -v nginx >/dev/null || skip "nginx not installed (nginx-light)"
	P=$(free_port)
	nginx_conf "$T/ngx" 1 "server { listen 0.0.0.0:$P; return 204; }"
	nginx -p "$T/ngx" -c "$T/ngx/nginx.conf" >/dev/null 2>&1 &
	NGINX_PID=$!
	wait_listen "$P"
	on_80 "$T/report"
	fits_80 "$T/report" nginx "$NGINX_PID"
}

@test "headline: after a successful remap, lines 1 and 2 say where the bind went, not what to kill" {
	P=$(free_port)
	hold_tcp "$P"
	capture run env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 BINDWATCH_REMAP="$P=next" \
		"$PROBE" 0.0.0.0 "$P"
	to=$(sed -n 's/.*remapped: port [0-9]* -> \([0-9]*\) .*/\1/p' "$T/run.err")
	[ -n "$to" ] && [ "$to" != "$P" ]
	grep '^bindwatch:' "$T/run.err" >"$T/report"
	assert_equal "$(sed -n 1p "$T/report")" \
		"bindwatch: bind 0.0.0.0:$P/tcp: in use by python3 pid $HOLDER_PID; moved to $to (BINDWATCH_REMAP)"
	assert_equal "$(sed -n 2p "$T/report")" \
		"bindwatch:   do: nothing: the program got port $to instead (rule '$P=next')"
	assert_file_lacks "$T/report" "to free it:"
	assert_file_has "$T/report" "to get port $P back: kill $HOLDER_PID"
}

@test "headline: as another user, line 2 says how to see a holder this user can't see" {
	[ "$(id -u)" = 0 ] || skip "needs root to run the failing program as nobody"
	setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null ||
		skip "setpriv cannot switch to uid 65534 here"
	# Copies nobody can load, and a report file nobody can write.
	NOBODY_DIR=$(mktemp -d /tmp/bindwatch-nobody.XXXXXX)
	chmod 777 "$NOBODY_DIR"
	cp "$SHIM" "$PROBE" "$NOBODY_DIR"/
	chmod 755 "$NOBODY_DIR"/libbindwatch.so "$NOBODY_DIR"/conflict_probe
	P=$(free_port)
	hold_tcp "$P"
	setpriv --reuid 65534 --regid 65534 --clear-groups sh -c \
		"LD_PRELOAD='${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }$NOBODY_DIR/libbindwatch.so' BINDWATCH_STACK=0 '$NOBODY_DIR/conflict_probe' 0.0.0.0 $P 2>'$NOBODY_DIR/err'" || true
	grep '^bindwatch:' "$NOBODY_DIR/err" >"$T/report"
	assert_equal "$(sed -n 1p "$T/report")" "bindwatch: bind 0.0.0.0:$P/tcp: in use by a process of uid 0 (not_visible)"
	assert_equal "$(sed -n 2p "$T/report")" \
		"bindwatch:   do: run 'sudo bindwatch who 0.0.0.0:$P' to see the holder, then stop it"
	# And that command does show it.
	capture who "$CLI" who "0.0.0.0:$P"
	assert_file_has "$T/who.out" "pid=$HOLDER_PID,"
}
