#!/usr/bin/env bats
# The remap policy (BINDWATCH_REMAP, libbindwatch(7)) with real servers
# under the real shim: every action must leave a server that actually
# answers on the port it announced (port file, JSON report).

load common
load diag_helpers

# serve_http RULE PORT [CLI OPTIONS...]: python3 http.server on
# 127.0.0.1:PORT under "$CLI --json --remap RULE --port-file", serving a
# file whose content ($TOKEN) proves the answer came from this server.
# Sets SERVER_PID (the CLI execs, so it is the server's pid), PORT_FILE
# and REPORT (the JSON log).
serve_http() {
	local rule=$1 port=$2
	shift 2
	mkdir -p "$BATS_TEST_TMPDIR/www"
	TOKEN="bindwatch-token-$port-$RANDOM"
	echo "$TOKEN" >"$BATS_TEST_TMPDIR/www/token.txt"
	PORT_FILE=$BATS_TEST_TMPDIR/ports
	REPORT=$BATS_TEST_TMPDIR/report.json
	bg_err "$BATS_TEST_TMPDIR/server.err" "$CLI" --json --log "$REPORT" --remap "$rule" \
		--port-file "$PORT_FILE" "$@" -- \
		"$PYTHON3" -m http.server "$port" --bind 127.0.0.1 --directory "$BATS_TEST_TMPDIR/www"
	SERVER_PID=${BG_PIDS[-1]}
}

# served_port FROM: waits for the port file, checks its one line is
# "tcp 127.0.0.1 FROM TO SERVER_PID", that SERVER_PID listens on TO and
# that GET /token.txt there returns $TOKEN with 200. Sets TO.
served_port() {
	local from=$1 body
	wait_file "$PORT_FILE"
	wait_lines "$PORT_FILE" 1
	TO=$(port_file_to "$PORT_FILE")
	assert_eq "port file line" "$(cat "$PORT_FILE")" "tcp 127.0.0.1 $from $TO $SERVER_PID"
	[ "$TO" != "$from" ]
	wait_listen "$TO"
	if ! ss -Hltnp "sport = :$TO" | grep -q "pid=$SERVER_PID,"; then
		echo "pid $SERVER_PID does not listen on $TO:" >&2
		ss -Hltnp "sport = :$TO" >&2
		return 1
	fi
	body=$(http_body "$TO" token.txt)
	assert_eq "HTTP body from port $TO" "$body" "$TOKEN"
	wait_file "$REPORT"
}

# remap_json FILTER: FILTER (jq) over the single record of $REPORT.
remap_json() {
	jone "$REPORT" "$1"
}

@test "remap PORT: a taken port moves to the named port, which serves HTTP" {
	P=$(free_port)
	hold_tcp "$P"
	Q=$(free_port)
	serve_http "$P=$Q" "$P"
	served_port "$P"
	assert_eq "to_port" "$TO" "$Q"
	assert_eq "remap" "$(remap_json '[.remap.rule, .remap.ok, .remap.from_port, .remap.to_port, .remap.action, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf '%s\ttrue\t%s\t%s\tport\t1' "$P=$Q" "$P" "$Q")"
	assert_eq "event" "$(remap_json .event)" bind_conflict
	# The holder still has the original port: nothing was taken from it.
	ss -Hltnp "sport = :$P" | grep -q "pid=$HOLDER_PID,"
}

@test "remap +N: the server serves on PORT+N" {
	B=$(free_run 4)
	hold_tcp "$B"
	serve_http "$B=+3" "$B"
	served_port "$B"
	assert_eq "to_port" "$TO" "$((B + 3))"
	assert_eq "remap" "$(remap_json '[.remap.rule, .remap.from_port, .remap.to_port, .remap.action, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf '%s\t%s\t%s\toffset\t1' "$B=+3" "$B" "$((B + 3))")"
}

@test "remap next: skips a second taken port and serves on the first free one above" {
	B=$(free_run 3)
	hold_tcp "$B"
	hold_tcp "$((B + 1))"
	serve_http "$B=next" "$B"
	served_port "$B"
	assert_eq "to_port" "$TO" "$((B + 2))"
	assert_eq "remap" "$(remap_json '[.remap.rule, .remap.from_port, .remap.to_port, .remap.action, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf '%s\t%s\t%s\tnext\t2' "$B=next" "$B" "$((B + 2))")"
}

@test "remap next:N: tries exactly N ports above" {
	B=$(free_run 4)
	hold_tcp "$B"
	hold_tcp "$((B + 1))"
	hold_tcp "$((B + 2))"
	serve_http "$B=next:3" "$B"
	served_port "$B"
	assert_eq "to_port" "$TO" "$((B + 3))"
	assert_eq "attempts" "$(remap_json .remap.attempts)" 3
	assert_eq "action" "$(remap_json .remap.action)" next
}

@test "remap next:N: gives up after N ports and the program sees EADDRINUSE" {
	B=$(free_run 4)
	hold_tcp "$B"
	hold_tcp "$((B + 1))"
	hold_tcp "$((B + 2))"
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$B=next:2" "$PROBE" 127.0.0.1 "$B"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "exit status" "$status" 1
	assert_eq "remap" "$(jone "$BATS_TEST_TMPDIR/probe.err" '[.remap.ok, .remap.to_port, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf 'false\tnull\t2')"
}

@test "remap range:LO-HI: serves on the first free port of the range" {
	P=$(free_port)
	hold_tcp "$P"
	R=$(free_run 3)
	hold_tcp "$R"
	serve_http "$P=range:$R-$((R + 2))" "$P"
	served_port "$P"
	assert_eq "to_port" "$TO" "$((R + 1))"
	assert_eq "remap" "$(remap_json '[.remap.rule, .remap.from_port, .remap.to_port, .remap.action, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf '%s\t%s\t%s\trange\t2' "$P=range:$R-$((R + 2))" "$P" "$((R + 1))")"
}

@test "remap auto: the kernel picks a port and the server serves there" {
	P=$(free_port)
	hold_tcp "$P"
	serve_http "$P=auto" "$P"
	served_port "$P"
	[ "$TO" -gt 0 ]
	assert_eq "remap" "$(remap_json '[.remap.from_port, .remap.to_port, .remap.action, .remap.attempts, .remap.ok] | map(tostring) | @tsv')" \
		"$(printf '%s\t%s\tauto\t1\ttrue' "$P" "$TO")"
}

@test "remap next for UDP: an echo server answers from the new port" {
	B=$(free_run 2 udp)
	hold udp 127.0.0.1 "$B"
	PORT_FILE=$BATS_TEST_TMPDIR/ports
	REPORT=$BATS_TEST_TMPDIR/report.json
	bg "$CLI" --json --log "$REPORT" --remap "udp/$B=next" --port-file "$PORT_FILE" -- \
		"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(1024)
    s.sendto(data, peer)' "$B"
	SERVER_PID=${BG_PIDS[-1]}
	wait_file "$PORT_FILE"
	TO=$(port_file_to "$PORT_FILE")
	assert_eq "port file line" "$(cat "$PORT_FILE")" "udp 127.0.0.1 $B $((B + 1)) $SERVER_PID"
	wait_listen "$TO" udp
	msg="echo-$RANDOM"
	assert_eq "echo" "$(udp_echo "$TO" "$msg")" "$msg"
	wait_file "$REPORT"
	assert_eq "remap" "$(jone "$REPORT" '[.proto, .remap.rule, .remap.from_port, .remap.to_port, .remap.action, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf 'udp\t%s\t%s\t%s\tnext\t1' "udp/$B=next" "$B" "$((B + 1))")"
}

@test "remap: a tcp/ rule leaves a UDP conflict alone" {
	P=$(free_port udp)
	hold udp 127.0.0.1 "$P"
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="tcp/$P=next" BINDWATCH_PORT_FILE="$BATS_TEST_TMPDIR/ports" \
		"$PROBE" -u 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "remap" "$(jone "$BATS_TEST_TMPDIR/probe.err" '.remap // "none"')" none
	[ ! -e "$BATS_TEST_TMPDIR/ports" ]
}

@test "remap wait:5: succeeds once the holder exits about 1 s later" {
	P=$(free_port)
	hold_tcp "$P"
	bg sh -c "sleep 1; kill $HOLDER_PID"
	t0=$(date +%s%N)
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$P=wait:5" "$PROBE" -l 0.0.0.0 "$P"
	ms=$((($(date +%s%N) - t0) / 1000000))
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
	assert_eq "exit status" "$status" 0
	# It waited for the holder, and stopped as soon as the port was free.
	[ "$ms" -ge 700 ] || { echo "returned after ${ms} ms, before the holder exited" >&2; false; }
	[ "$ms" -lt 4500 ] || { echo "took ${ms} ms: kept waiting after the holder exited" >&2; false; }
	assert_eq "remap" "$(jone "$BATS_TEST_TMPDIR/probe.err" '[.remap.ok, .remap.action, .remap.from_port, .remap.to_port] | map(tostring) | @tsv')" \
		"$(printf 'true\twait\t%s\t%s' "$P" "$P")"
	[ "$(jone "$BATS_TEST_TMPDIR/probe.err" .remap.attempts)" -gt 1 ]
}

@test "remap wait:1: a holder that stays leaves the original EADDRINUSE" {
	P=$(free_port)
	hold_tcp "$P"
	# Start mid-second: a deadline kept in whole seconds (tv_sec only)
	# would then expire at the next second boundary, about 0.5 s early.
	"$PYTHON3" -c 'import time; time.sleep((0.5 - time.time() % 1) % 1)'
	t0=$(date +%s%N)
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$P=wait:1" "$PROBE" 0.0.0.0 "$P"
	ms=$((($(date +%s%N) - t0) / 1000000))
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "exit status" "$status" 1
	[ "$ms" -ge 1000 ] || { echo "gave up after ${ms} ms, before wait:1 elapsed" >&2; false; }
	[ "$ms" -lt 4000 ]
	assert_eq "remap" "$(jone "$BATS_TEST_TMPDIR/probe.err" '[.remap.ok, .remap.to_port, .errno] | map(tostring) | @tsv')" \
		"$(printf 'false\tnull\t98')"
	assert_file_has "$BATS_TEST_TMPDIR/probe.err" "wait:1: still in use after 1s"
	kill -0 "$HOLDER_PID"
}

# sleeping PID: PID sits in clock_nanosleep(2) (x86-64: 230, aarch64: 115),
# the shim's pause between two attempts of wait:N.
sleeping() {
	local nr=230
	[ "$(uname -m)" = aarch64 ] && nr=115
	[ "$(cut -d' ' -f1 /proc/"$1"/syscall 2>/dev/null)" = "$nr" ]
}

@test "remap wait:2: a program stopped past the wait's end makes one last attempt when continued, and the note gives the real wait" {
	P=$(free_port)
	hold_tcp "$P"
	env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 BINDWATCH_REMAP="$P=wait:2" "$PROBE" 0.0.0.0 "$P" \
		>"$BATS_TEST_TMPDIR/probe.out" 2>"$BATS_TEST_TMPDIR/probe.err" &
	probe=$!
	BG_PIDS+=("$probe")
	poll_until 100 sleeping "$probe"
	started=$(cut -d' ' -f1 /proc/uptime)
	kill -STOP "$probe"
	# Continued 4.5 s after, 2.5 s past the wait's end.
	poll_until 200 awk -v t="$started" '{ exit !($1 > t + 4.5) }' /proc/uptime
	kill -CONT "$probe"
	poll_until 100 grep -q "bind=" "$BATS_TEST_TMPDIR/probe.out"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	waited=$(sed -n 's/.*wait:2: still in use after \([0-9]*\)s.*/\1/p' "$BATS_TEST_TMPDIR/probe.err")
	[ "$waited" -ge 4 ] && [ "$waited" -lt 30 ]
}

@test "remap reuseaddr: binds over a TIME-WAIT whose listener had SO_REUSEADDR" {
	P=$(free_port)
	make_time_wait "$P" 1
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	# Without the rule the same bind fails: the TIME-WAIT socket is in the way.
	capture plain env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" -l 127.0.0.1 "$P"
	assert_eq "probe without remap" "$(cat "$BATS_TEST_TMPDIR/plain.out")" "bind=-1 errno=98"
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$P=reuseaddr" "$PROBE" -l 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
	assert_eq "remap" "$(jone "$BATS_TEST_TMPDIR/probe.err" '[.cause, .remap.ok, .remap.action, .remap.to_port, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf 'time_wait\ttrue\treuseaddr\t%s\t1' "$P")"
}

@test "remap reuseaddr: fails over a TIME-WAIT whose listener lacked SO_REUSEADDR, and says why" {
	P=$(free_port)
	make_time_wait "$P" 0
	has_time_wait "$P" || skip "the kernel left no TIME-WAIT socket on port $P"
	capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$P=reuseaddr" "$PROBE" 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/probe.out")" "bind=-1 errno=98"
	assert_eq "remap" "$(jone "$BATS_TEST_TMPDIR/probe.err" '[.cause, .remap.ok, .remap.to_port] | map(tostring) | @tsv')" \
		"$(printf 'time_wait\tfalse\tnull')"
	note=$(jone "$BATS_TEST_TMPDIR/probe.err" .remap.note)
	[[ $note == *SO_REUSEADDR* ]] || { echo "note: $note" >&2; false; }
	[[ $note =~ expires\ in\ ([0-9]+)s ]] || { echo "note has no seconds left: $note" >&2; false; }
	[ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" -le 60 ]
	# The text report carries the same explanation.
	capture text env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 \
		BINDWATCH_REMAP="$P=reuseaddr" "$PROBE" 127.0.0.1 "$P"
	assert_file_has "$BATS_TEST_TMPDIR/text.err" "remap failed: rule '$P=reuseaddr'"
	assert_file_has "$BATS_TEST_TMPDIR/text.err" "did not set SO_REUSEADDR"
}

@test "remap reuseaddr|next: a live listener skips reuseaddr and falls through to next" {
	B=$(free_run 2)
	hold_tcp "$B"
	serve_http "$B=reuseaddr|next" "$B"
	served_port "$B"
	assert_eq "to_port" "$TO" "$((B + 1))"
	assert_eq "remap" "$(remap_json '[.remap.rule, .remap.action, .remap.attempts] | map(tostring) | @tsv')" \
		"$(printf '%s\tnext\t1' "$B=reuseaddr|next")"
	note=$(remap_json .remap.note)
	[[ $note == *"reuseaddr: skipped"* ]] || { echo "note: $note" >&2; false; }
}

@test "BINDWATCH_REMAP_MODE=always moves a bind that had no conflict, and reports it" {
	P=$(free_port)
	Q=$(free_port)
	[ "$P" != "$Q" ] || Q=$(free_port)
	serve_http "$P=$Q" "$P" --remap-mode always
	served_port "$P"
	assert_eq "to_port" "$TO" "$Q"
	[ -z "$(ss -Hltn "sport = :$P")" ]
	assert_eq "report" "$(remap_json '[.event, .pid, .remap.rule, .remap.from_port, .remap.to_port, .remap.action, .remap.ok] | map(tostring) | @tsv')" \
		"$(printf 'remap\t%s\t%s\t%s\t%s\tport\ttrue' "$SERVER_PID" "$P=$Q" "$P" "$Q")"
}

@test "BINDWATCH_REMAP_MODE=always leaves a non-fixed rule (next) to conflicts only" {
	P=$(free_port)
	serve_http "$P=next" "$P" --remap-mode always
	wait_listen "$P"
	assert_eq "HTTP body" "$(http_body "$P" token.txt)" "$TOKEN"
	ss -Hltnp "sport = :$P" | grep -q "pid=$SERVER_PID,"
	[ ! -e "$PORT_FILE" ]
	[ ! -s "$REPORT" ]
}

# stale_unix PATH: bind PATH and close without unlink: the file stays.
stale_unix() {
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()' "$1"
	[ -S "$1" ]
}

@test "BINDWATCH_UNIX_STALE=unlink: a server takes over a stale socket file and answers" {
	need_stale_certain
	path=$BATS_TEST_TMPDIR/stale.sock
	stale_unix "$path"
	bg_err "$BATS_TEST_TMPDIR/server.err" env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json \
		BINDWATCH_STACK=0 BINDWATCH_UNIX_STALE=unlink BINDWATCH_LOG="$BATS_TEST_TMPDIR/report.json" \
		"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4)
while True:
    c, _ = s.accept()
    c.sendall(b"pong:" + c.recv(1024))
    c.close()' "$path"
	wait_unix "$path"
	assert_eq "reply" "$(unix_ask "$path" hello)" "pong:hello"
	wait_file "$BATS_TEST_TMPDIR/report.json"
	assert_eq "report" "$(jone "$BATS_TEST_TMPDIR/report.json" '[.cause, .path, .remap.rule, .remap.ok] | map(tostring) | @tsv')" \
		"$(printf 'unix_stale\t%s\tBINDWATCH_UNIX_STALE=unlink\ttrue' "$path")"
	note=$(jone "$BATS_TEST_TMPDIR/report.json" .remap.note)
	[[ $note == *removed* ]] || { echo "note: $note" >&2; false; }
}

@test "BINDWATCH_UNIX_STALE unset: the bind fails with cause unix_stale and the file stays" {
	need_stale_certain
	path=$BATS_TEST_TMPDIR/stale.sock
	stale_unix "$path"
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		"$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "report" "$(jone "$BATS_TEST_TMPDIR/py.err" '[.cause, .path, (.remap // "none")] | map(tostring) | @tsv')" \
		"$(printf 'unix_stale\t%s\tnone' "$path")"
	[ -S "$path" ]
}

@test "BINDWATCH_UNIX_STALE=unlink never removes a regular file at the path" {
	path=$BATS_TEST_TMPDIR/not-a-socket
	echo precious >"$path"
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=-1 errno=98"
	assert_eq "file" "$(cat "$path")" precious
	assert_eq "cause" "$(jone "$BATS_TEST_TMPDIR/py.err" .cause)" unix_not_socket
}

@test "BINDWATCH_UNIX_STALE=unlink: the text report says the file was removed, not a port move" {
	need_stale_certain
	path=$BATS_TEST_TMPDIR/stale.sock
	stale_unix "$path"
	capture py env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 BINDWATCH_UNIX_STALE=unlink \
		"$PYTHON3" -c "$PY_BIND_UNIX" "$path"
	assert_eq "python" "$(cat "$BATS_TEST_TMPDIR/py.out")" "bind=0"
	assert_file_has "$BATS_TEST_TMPDIR/py.err" "cause: unix_stale"
	assert_file_has "$BATS_TEST_TMPDIR/py.err" "removed the stale socket file"
	assert_file_lacks "$BATS_TEST_TMPDIR/py.err" "port 0 -> 0"
}

# Malformed policies, each with the 1-based column the parser must blame.
BAD_POLICIES=(
	"|1" "=|1" "8080|5" "8080=|6" "8080=nxt|6" "65536=1|1" "8080=+70000|7"
	"8080=70000|6" "8000-7000=next|5" "x=1|1" "8080=range:10|14"
	"8080=range:20-10|6" "8080=wait:|11" "8080=wait:0|11" "tcp/=1|5" "[::1=1|1"
	"1.2.3:80=1|1" "8080=1,|8" ",8080=1|1" "8080=1||next|8" "8080=next:0|11"
	"8080=1||8" "8080==1|6" "8080=auto junk|11" "8080=range:0-10|12"
	"8080=wait:3601|11" "udp/[::1]=1|10" "8080=reuse|6" "8080=-0|7" "sctp/8080=1|1"
	"[::g]:80=1|2" "8080-=1|6" "8080=1|1|1|1|1|1|1|1|1|22"
)

@test "malformed BINDWATCH_REMAP: one warning, no crash, no remap, the normal failure" {
	P=$(free_port)
	hold_tcp "$P"
	local fails=0 entry bad
	for entry in "${BAD_POLICIES[@]}"; do
		bad=${entry%|*}
		bad=${bad//8080/$P}
		capture probe env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
			BINDWATCH_REMAP="$bad" BINDWATCH_PORT_FILE="$BATS_TEST_TMPDIR/ports" \
			"$PROBE" 127.0.0.1 "$P"
		out=$(cat "$BATS_TEST_TMPDIR/probe.out")
		warns=$(grep -c 'warning' "$BATS_TEST_TMPDIR/probe.err" || true)
		rwarns=$(grep -Ec '^bindwatch: warning: BINDWATCH_REMAP=.* is invalid at column [0-9]+: ' \
			"$BATS_TEST_TMPDIR/probe.err" || true)
		remap=$(jone "$BATS_TEST_TMPDIR/probe.err" '.remap // "none"' 2>&1 || true)
		if [ "$status" -ne 1 ] || [ "$out" != "bind=-1 errno=98" ] || [ "$warns" -ne 1 ] ||
			[ "$rwarns" -ne 1 ] || [ "$remap" != none ] || [ -e "$BATS_TEST_TMPDIR/ports" ]; then
			printf 'BINDWATCH_REMAP=[%s]: status %s, stdout [%s], %s warnings (%s about BINDWATCH_REMAP), remap %s\n' \
				"$bad" "$status" "$out" "$warns" "$rwarns" "$remap" >&2
			cat "$BATS_TEST_TMPDIR/probe.err" >&2
			fails=$((fails + 1))
		fi
	done
	[ "$fails" -eq 0 ]
}

@test "malformed --remap: exit 2 naming the column, and the command never runs" {
	local fails=0 entry bad col
	marker=$BATS_TEST_TMPDIR/ran
	for entry in "${BAD_POLICIES[@]}"; do
		bad=${entry%|*}
		col=${entry##*|}
		capture cli "$CLI" --remap "$bad" -- touch "$marker"
		# One line (no caret line under it), naming the column and the rules.
		if [ "$status" -ne 2 ] || ! grep -q "column $col:" "$BATS_TEST_TMPDIR/cli.err" ||
			[ "$(wc -l <"$BATS_TEST_TMPDIR/cli.err")" -ne 1 ] ||
			! grep -q "^bindwatch: --remap .*rules: MATCH=ACTION" "$BATS_TEST_TMPDIR/cli.err" ||
			[ -e "$marker" ]; then
			printf -- '--remap [%s]: status %s (want 2), want "column %s", ran: %s\n' \
				"$bad" "$status" "$col" "$([ -e "$marker" ] && echo yes || echo no)" >&2
			cat "$BATS_TEST_TMPDIR/cli.err" >&2
			rm -f "$marker"
			fails=$((fails + 1))
		fi
	done
	[ "$fails" -eq 0 ]
	# The same command with a good rule does run: the check above can fail.
	capture good "$CLI" --remap "8080=next|auto" -- touch "$marker"
	assert_eq "exit status with a good rule" "$status" 0
	[ -e "$marker" ]
}

@test "listen()-time remap: a twin socket on the next port replaces the program's fd, which then accepts" {
	P=$(free_port)
	capture lsn "$CLI" --json --no-stack --remap "$P=next" -- "$PYTHON3" -c 'import socket, sys
port = int(sys.argv[1])
def reuse():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s
a = reuse(); a.bind(("127.0.0.1", port))
h = reuse(); h.bind(("127.0.0.1", port)); h.listen(8)  # now a.listen() must fail
fd = a.fileno()
a.listen(8)
new = a.getsockname()[1]
print("same_fd=%s moved=%s acceptconn=%d" % (a.fileno() == fd, new != port,
      a.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)))
c = socket.create_connection(("127.0.0.1", new))
conn, _ = a.accept()
c.sendall(b"hi")
print(conn.recv(2).decode())' "$P"
	assert_eq "status" "$status" 0
	assert_eq "program" "$(cat "$BATS_TEST_TMPDIR/lsn.out")" "$(printf 'same_fd=True moved=True acceptconn=1\nhi')"
	rec=$(grep '^{' "$BATS_TEST_TMPDIR/lsn.err")
	assert_eq "event" "$(jq -r .event <<<"$rec")" "listen_conflict"
	assert_eq "remap" "$(jq -r '[.remap.ok, .remap.from_port, .remap.action] | map(tostring) | @tsv' <<<"$rec")" \
		"$(printf 'true\t%s\tnext' "$P")"
	[ "$(jq -r .remap.to_port <<<"$rec")" -gt "$P" ]
}

# A bind succeeds on a port that another SO_REUSEADDR socket is bound to
# while neither listens (inet_csk_bind_conflict); the listen() of the one
# that comes second then fails. A remap must not go there.
@test "remap next: skips a port the program's own other socket has bound and not yet listened on" {
	B=$(free_run 3)
	hold_tcp "$B"
	capture own "$CLI" --json --no-stack --remap "$B=next" -- "$PYTHON3" -c 'import socket, sys
port = int(sys.argv[1])
def reuse():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s
b = reuse(); b.bind(("127.0.0.1", port + 1))
a = reuse(); a.bind(("127.0.0.1", port))   # held elsewhere: remapped
a.listen(8)
b.listen(8)
print("a=+%d b=+%d" % (a.getsockname()[1] - port, b.getsockname()[1] - port))' "$B"
	assert_eq "status" "$status" 0
	assert_eq "program" "$(cat "$BATS_TEST_TMPDIR/own.out")" "a=+2 b=+1"
	rec=$(grep '^{' "$BATS_TEST_TMPDIR/own.err")
	assert_eq "remap" "$(jq -r '[.remap.ok, .remap.from_port, .remap.to_port, .remap.attempts] | map(tostring) | @tsv' <<<"$rec")" \
		"$(printf 'true\t%s\t%s\t2' "$B" "$((B + 2))")"
}

@test "remap next for UDP: skips a port another SO_REUSEADDR socket is bound to" {
	B=$(free_run 3 udp)
	hold udp 127.0.0.1 "$B"
	capture udp "$CLI" --json --no-stack --remap "udp/$B=next" -- "$PYTHON3" -c 'import socket, sys
port = int(sys.argv[1])
def reuse():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s
b = reuse(); b.bind(("127.0.0.1", port + 1))
a = reuse(); a.bind(("127.0.0.1", port))   # held elsewhere: remapped
print("a=+%d" % (a.getsockname()[1] - port))' "$B"
	assert_eq "status" "$status" 0
	assert_eq "program" "$(cat "$BATS_TEST_TMPDIR/udp.out")" "a=+2"
}

# The kernel as the oracle, every address kind: socket b (SO_REUSEADDR)
# bound to B_ADDR:P+1, not listening; socket a (SO_REUSEADDR) wants
# A_ADDR:P, which a listener holds; after the remap both listen() calls
# must succeed, b's where it was bound (in a private network namespace:
# fixed ports are free).
@test "remap next: after the move both sockets listen, for every pair of address kinds" {
	unshare -n true 2>/dev/null || skip "unshare -n not permitted here"
	capture matrix unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
		"$CLI" --no-stack --remap "20000-29999=next" -- "$PYTHON3" -c 'import errno, socket
addrs = ["127.0.0.1", "0.0.0.0", "::", "::1", "::ffff:127.0.0.1"]
def sock(addr, reuse):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s
port, bad, n = 20000, [], 0
for b_addr in addrs:
    for a_addr in addrs:
        port += 10
        h = sock(a_addr, False); h.bind((a_addr, port)); h.listen(1)
        b = sock(b_addr, True); b.bind((b_addr, port + 1))
        a = sock(a_addr, True); a.bind((a_addr, port))
        for name, s in (("a", a), ("b", b)):
            try:
                s.listen(1)
            except OSError as e:
                bad.append("%s@%s vs b@%s: %s.listen: %s" % (a_addr, port, b_addr, name, errno.errorcode[e.errno]))
        if b.getsockname()[1] != port + 1:  # the rule covers b too: its listen was remapped
            bad.append("%s@%s vs b@%s: b moved to %d" % (a_addr, port, b_addr, b.getsockname()[1]))
        n += 1
        for s in (h, a, b):
            s.close()
print("pairs=%d" % n)
print("\n".join(bad))'
	assert_eq "status" "$status" 0
	assert_eq "listen failures" "$(cat "$BATS_TEST_TMPDIR/matrix.out")" "pairs=25"
}

# A Go program (static: the CLI supervises it) binds 32 listeners the way
# net.Listen does, highest port first, then listens on all of them at
# once; every fourth port is held by the driver. Each held one is moved
# under "BASE-END=next", and must land on a port none of the program's
# other listeners asked for (they are bound, not yet listening, when it
# moves). In a private network namespace: the fixed ports are free.
@test "remap next under the supervisor: a Go program's many listeners get no port another of them asked for" {
	command -v go >/dev/null || skip "go (Debian golang-go) not installed"
	unshare -n true 2>/dev/null || skip "unshare -n not permitted here"
	d=$BATS_TEST_TMPDIR/go
	mkdir -p "$d"
	cp "$BW_SRCDIR/tests/helpers/listen_many.go" "$d/main.go"
	(cd "$d" && GOCACHE=$d/cache GOPATH=$d/path CGO_ENABLED=0 go build -o listen_many main.go)
	capture many unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$PYTHON3" -c 'import socket, subprocess, sys
cli, prog, base, n = sys.argv[1], sys.argv[2], 20000, 32
held = []
for p in range(base + 3, base + n, 4):
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.listen(1); held.append(s)
r = subprocess.run([cli, "--no-stack", "--remap", "%d-%d=next" % (base, base + n - 1), "--",
                    prog, str(base), str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
sys.stderr.write(r.stderr)
asked, got, bad = set(range(base, base + n)), {}, []
for line in r.stdout.splitlines():
    f = line.split()
    if len(f) != 2 or not f[1].isdigit():
        bad.append(line)
        continue
    a, g = int(f[0]), int(f[1])
    got[a] = g
    if g != a and g in asked:
        bad.append("%d got %d, which the program asked for" % (a, g))
    if (g != a) != (a in range(base + 3, base + n, 4)):
        bad.append("%d got %d" % (a, g))
print("exit=%d listeners=%d ports=%d" % (r.returncode, len(got), len(set(got.values()))))
print("\n".join(bad))' "$CLI" "$d/listen_many"
	assert_eq "status" "$status" 0
	assert_eq "listeners" "$(cat "$BATS_TEST_TMPDIR/many.out")" "exit=0 listeners=32 ports=32"
	assert_file_has "$BATS_TEST_TMPDIR/many.err" "is a Go program"
}
