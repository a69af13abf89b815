#!/usr/bin/env bats
# Reports reach the reader (issue 11, point 8): a daemon that put its own
# log on fd 2 (nginx's dup2(error_log, 2)) gets the report there; without a
# syslog socket a record falls back to fd 2 instead of vanishing; JSON keeps
# UTF-8 as UTF-8 and escapes other bytes as \udcNN.

load common
load diag_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	export BINDWATCH_SCAN_MS=60000 BINDWATCH_STACK=0
}

teardown() {
	if [ -n "${NGINX_PID:-}" ]; then
		kill "$NGINX_PID" 2>/dev/null || true
		poll_until 200 sh -c "! kill -0 $NGINX_PID 2>/dev/null" || true
	fi
	kill_bg
}

# PY_REDIRECT: puts a file opened with FLAGS (python os.O_* names joined by
# |) on fd 2, then binds 127.0.0.1:PORT; prints errno.
PY_REDIRECT='import os, socket, sys
path, flags, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = 0
for name in flags.split("|"):
    f |= getattr(os, name)
os.dup2(os.open(path, f, 0o600), 2)
try:
    socket.socket().bind(("127.0.0.1", port))
except OSError as e:
    print("errno=%d" % e.errno)'

@test "a log file the program dup2()ed onto fd 2 (O_WRONLY|O_APPEND) gets the report" {
	P=$(free_port)
	hold_tcp "$P"
	capture py env LD_PRELOAD="$PRELOAD" "$PYTHON3" -c "$PY_REDIRECT" "$T/own.log" 'O_WRONLY|O_APPEND|O_CREAT' "$P"
	assert_eq "program" "$(cat "$T/py.out")" "errno=98"
	assert_file_has "$T/own.log" "127.0.0.1:$P/tcp) failed: Address already in use"
	assert_file_lacks "$T/py.err" "bindwatch:"
}

@test "no syslog socket: a record for syslog falls back to fd 2 (here a write-only file the program put there)" {
	[ ! -e /dev/log ] || skip "/dev/log exists here: the fallback is not reached"
	P=$(free_port)
	hold_tcp "$P"
	# Not a log by the fd 2 rule (no O_APPEND): the record goes to syslog,
	# which is missing, so to fd 2 as the last resort.
	capture py env LD_PRELOAD="$PRELOAD" "$PYTHON3" -c "$PY_REDIRECT" "$T/data" 'O_WRONLY|O_CREAT|O_TRUNC' "$P"
	assert_eq "program" "$(cat "$T/py.out")" "errno=98"
	assert_file_has "$T/data" "127.0.0.1:$P/tcp) failed: Address already in use"
	# BINDWATCH_LOG=syslog with no syslog socket: the program's stderr.
	capture sl env LD_PRELOAD="$PRELOAD" BINDWATCH_LOG=syslog "$PROBE" 127.0.0.1 "$P"
	assert_eq "probe" "$(cat "$T/sl.out")" "bind=-1 errno=98"
	assert_file_has "$T/sl.err" "127.0.0.1:$P/tcp) failed: Address already in use"
}

@test "JSON keeps UTF-8 (café stays café) and escapes other bytes as \\udcNN, which surrogateescape turns back" {
	P=$(free_port)
	bg "$PYTHON3" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(600)' "$P" "café" "$(printf 'x\377y')"
	wait_listen "$P"
	capture j env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json "$PROBE" 127.0.0.1 "$P"
	assert_file_has "$T/j.err" 'café'
	assert_file_has "$T/j.err" 'x\udcffy'
	run "$PYTHON3" -c 'import json, sys
rec = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.startswith("{")][0]
cmd = rec["holders"][0]["cmdline"]
print(cmd.encode("utf-8", "surrogateescape").split(b" ")[-2:] == [b"caf\xc3\xa9", b"x\xffy"])' "$T/j.err"
	assert_output True
	# jq reads it too.
	jone "$T/j.err" .cause >/dev/null
}

@test "nginx: a reload that hits a taken port reports into nginx's own error log (fd 2 after dup2)" {
	command -v nginx >/dev/null || skip "nginx not installed"
	D=$T/ngx
	F=$(free_port)
	B=$(free_port)
	write_conf() {
		nginx_conf "$D" 1 "server { listen 127.0.0.1:$F; return 200 \"ok\n\"; }" "$1"
	}
	write_conf ""
	env LD_PRELOAD="$PRELOAD" nginx -p "$D" -c "$D/nginx.conf" -e "$D/err.log" >"$T/ngx.out" 2>"$T/ngx.err" &
	NGINX_PID=$!
	wait_listen "$F"
	hold_tcp "$B" 127.0.0.1
	write_conf "server { listen 127.0.0.1:$B; return 200 \"b\\n\"; }"
	kill -HUP "$NGINX_PID"
	poll_until 200 grep -q "nginx\[$NGINX_PID\] bind(fd [0-9]*, 127.0.0.1:$B/tcp) failed" "$D/err.log" ||
		{ echo "--- err.log" >&2; cat "$D/err.log" >&2; echo "--- stderr" >&2; cat "$T/ngx.err" >&2; false; }
	assert_file_has "$D/err.log" "held by pid $HOLDER_PID"
	# nginx's own line about the same failure is in the same file, and the
	# old configuration still serves.
	assert_file_has "$D/err.log" "bind() to 127.0.0.1:$B failed (98: Address already in use)"
	[ "$(curl -sS --max-time 5 "http://127.0.0.1:$F/")" = ok ]
	assert_file_lacks "$T/ngx.err" "bindwatch:"
}
