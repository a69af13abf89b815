#!/usr/bin/env bats
# The core feature with real programs under the real shim: a bind() or
# listen() that fails with EADDRINUSE is reported (holder pid, command
# line, cause, stack) and the program sees exactly what it would without us.

load common

setup() {
	T=$BATS_TEST_TMPDIR
	# What is checked is who holds the address, not how fast this machine
	# scans /proc: no 1 s scan budget to run out on a loaded CI runner.
	export BINDWATCH_SCAN_MS=60000
}

# has_ipv6_loopback: ::1 is configured (IPv6 may be disabled in a container).
has_ipv6_loopback() {
	grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

@test "tcp: http.server under bindwatch names the holder's pid and command line, a cause and a stack; exit status unchanged" {
	port=$(free_port)
	hold_tcp "$port"
	holder=$HOLDER_PID
	cmdline=$(proc_cmdline "$holder")

	capture plain timeout 60 "$PYTHON3" -m http.server "$port"
	plain=$status
	capture shim timeout 60 "$CLI" -- "$PYTHON3" -m http.server "$port"

	# It really failed, and failed the same way with the shim.
	[ "$plain" -ne 0 ] && [ "$plain" -ne 124 ]
	assert_equal "$status" "$plain"
	assert_file_has "$T/plain.err" "Errno 98"
	assert_file_has "$T/shim.err" "Errno 98"
	assert_file_lacks "$T/plain.err" "bindwatch:"

	assert_file_has "$T/shim.err" "held by pid $holder user "
	assert_file_has "$T/shim.err" "$cmdline"
	assert_file_has "$T/shim.err" "bindwatch:   cause: listener: another process holds it: pid $holder"
	assert_file_has "$T/shim.err" "bindwatch:   called from:"
	# A frame: its symbol and the module's file name with the offset in it.
	run grep -cE '^bindwatch:     #[0-9]+ [^ ]+ \([^ /]+ \+0x[0-9a-f]+\)$' "$T/shim.err"
	[ "$output" -ge 1 ]
	# Exactly one report.
	run grep -c 'bindwatch:   cause:' "$T/shim.err"
	assert_output 1
}

@test "udp: a python3 UDP holder is named, probe output and status unchanged" {
	port=$(free_port udp)
	hold udp 0.0.0.0 "$port"
	holder=$HOLDER_PID

	capture plain "$PROBE" -u 0.0.0.0 "$port"
	plain=$status
	capture shim "$CLI" --json -- "$PROBE" -u 0.0.0.0 "$port"

	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=98"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_equal "$status" "$plain"
	run bw_json "$T/shim.err" 'j["proto"], j["holders"][0]["pid"], j["holders"][0]["proto"], j["cause"]'
	assert_output "('udp', $holder, 'udp', 'listener')"
}

@test "ipv6: a [::1] holder is named for a bind to ::1" {
	has_ipv6_loopback || skip "no IPv6 loopback here"
	port=$(free_port)
	hold tcp ::1 "$port"
	holder=$HOLDER_PID

	capture plain "$PROBE" -6 ::1 "$port"
	plain=$status
	capture shim "$CLI" --json -- "$PROBE" -6 ::1 "$port"

	assert_equal "$(cat "$T/shim.out")" "$(cat "$T/plain.out")"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_equal "$status" "$plain"
	run bw_json "$T/shim.err" 'j["family"], j["addr"], j["port"], j["holders"][0]["pid"], j["holders"][0]["addr"], j["cause"]'
	assert_output "('inet6', '::1', $port, $holder, '::1', 'listener')"
}

@test "dual-stack: an IPv6 [::] holder with IPV6_V6ONLY=0 blocks 0.0.0.0; cause dual_stack" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 in this kernel"
	port=$(free_port)
	hold tcp :: "$port" 0
	holder=$HOLDER_PID

	capture shim "$CLI" --json -- "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	[ "$status" -eq 1 ]
	run bw_json "$T/shim.err" 'j["cause"], j["holders"][0]["pid"], j["holders"][0]["family"], j["holders"][0]["overlap"]'
	assert_output "('dual_stack', $holder, 'inet6', 'dual_stack')"
}

@test "wildcard: 127.0.0.1 held, a bind to 0.0.0.0 fails; cause wildcard_overlap" {
	port=$(free_port)
	hold tcp 127.0.0.1 "$port"
	holder=$HOLDER_PID

	capture shim "$CLI" --json -- "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	run bw_json "$T/shim.err" 'j["cause"], j["addr"], j["holders"][0]["pid"], j["holders"][0]["addr"]'
	assert_output "('wildcard_overlap', '0.0.0.0', $holder, '127.0.0.1')"
}

@test "wildcard: 0.0.0.0 held, a bind to 127.0.0.1 fails; cause wildcard_overlap" {
	port=$(free_port)
	hold tcp 0.0.0.0 "$port"
	holder=$HOLDER_PID

	capture shim "$CLI" --json -- "$PROBE" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	run bw_json "$T/shim.err" 'j["cause"], j["addr"], j["holders"][0]["pid"], j["holders"][0]["addr"]'
	assert_output "('wildcard_overlap', '127.0.0.1', $holder, '0.0.0.0')"
}

# listen_conflict NAME [CMD-PREFIX...]: the listen()-time conflict, run
# under CMD-PREFIX (e.g. the CLI). Both sockets set SO_REUSEADDR; the probe
# binds first and pauses, then the holder (conflict_probe -r -l -w) binds
# and listens, then the probe's listen() fails. A socket that already
# listens blocks even a SO_REUSEADDR bind, so the order matters. The
# probe's output is in NAME.out/NAME.err, its exit status in $status, the
# holder's pid in $holder.
listen_conflict() {
	local name=$1 port probe_in holder_in feed_probe feed_holder probe
	shift
	port=$(free_port)
	probe_in=$T/$name.probe.in
	holder_in=$T/$name.holder.in
	mkfifo "$probe_in" "$holder_in"

	"$@" "$PROBE" -r -l -p 0.0.0.0 "$port" <"$probe_in" \
		>"$T/$name.out" 2>"$T/$name.err" &
	probe=$!
	BG_PIDS+=("$probe")
	# Opening a fifo's write end completes the reader's open.
	exec {feed_probe}>"$probe_in"
	wait_file_line "$T/$name.out" "bind=0 errno=0"

	"$PROBE" -r -l -w 0.0.0.0 "$port" <"$holder_in" \
		>"$T/$name.holder.out" 2>&1 &
	holder=$!
	BG_PIDS+=("$holder")
	exec {feed_holder}>"$holder_in"
	wait_listen "$port"
	assert_equal "$(cat "$T/$name.holder.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"

	echo go >&"$feed_probe"
	exec {feed_probe}>&-
	status=0
	wait "$probe" || status=$?
	exec {feed_holder}>&-
}

@test "listen(): both SO_REUSEADDR, bind succeeds, listen fails with 98; event listen_conflict names the holder" {
	listen_conflict plain
	plain=$status
	listen_conflict shim "$CLI" --json --

	expected=$(printf 'bind=0 errno=0\nlisten=-1 errno=98')
	assert_equal "$(cat "$T/plain.out")" "$expected"
	assert_equal "$(cat "$T/shim.out")" "$expected"
	assert_equal "$plain" 1
	assert_equal "$status" "$plain"
	assert_equal "$(cat "$T/plain.err")" ""
	run bw_json "$T/shim.err" 'j["event"], j["errno"], j["error"], j["addr"], j["holders"][0]["pid"], j["holders"][0]["state"], j["cause"]'
	assert_output "('listen_conflict', 98, 'EADDRINUSE', '0.0.0.0', $holder, 'LISTEN', 'listener')"
	# listen() has no address argument: the report found it with getsockname().
	run bw_json "$T/shim.err" 'j["port"] == j["holders"][0]["port"] > 0'
	assert_output true
}

@test "success path: a python3 server and a probe under the shim print nothing" {
	port=$(free_port)
	bg_err "$T/server.err" "$CLI" -- "$PYTHON3" -m http.server --bind 127.0.0.1 "$port"
	wait_listen "$port"
	# http.client: no proxy from the environment gets in the way.
	"$PYTHON3" -c 'import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
c.request("GET", "/")
assert c.getresponse().status == 200' "$port"
	kill_bg
	# http.server logs each request to stderr; nothing else may be there.
	run grep -v '"GET / HTTP/1.1" 200 -$' "$T/server.err"
	assert_output ""
	assert_file_has "$T/server.err" '"GET / HTTP/1.1" 200'

	port=$(free_port)
	capture probe "$CLI" -- "$PROBE" -l 127.0.0.1 "$port"
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$T/probe.out")" "$(printf 'bind=0 errno=0\nlisten=0 errno=0')"
	assert_equal "$(cat "$T/probe.err")" ""

	capture py env LD_PRELOAD="$PRELOAD" "$PYTHON3" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
print("ok")'
	[ "$status" -eq 0 ]
	assert_equal "$(cat "$T/py.out")" "ok"
	assert_equal "$(cat "$T/py.err")" ""
}

@test "json: the record parses and has every documented field" {
	port=$(free_port)
	hold_tcp "$port"
	holder=$HOLDER_PID

	capture shim "$CLI" --json -- "$PROBE" 0.0.0.0 "$port"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	# Exactly one line on stderr, and it is one JSON object.
	run wc -l <"$T/shim.err"
	assert_output 1
	"$PYTHON3" -m json.tool <"$T/shim.err" >/dev/null

	run bw_json "$T/shim.err" 'sorted(k for k in ["event", "time", "pid", "comm", "fd", "family", "proto", "addr", "port", "errno", "error", "cause", "hint", "holders", "holders_total", "scan", "stack"] if k not in j)'
	assert_output "[]"
	run bw_json "$T/shim.err" 'sorted(k for k in ["pid", "visible", "comm", "cmdline", "uid", "user", "ppid", "since", "cgroup", "fd", "state", "proto", "family", "addr", "port", "inode", "overlap", "cause"] if k not in j["holders"][0])'
	assert_output "[]"

	run bw_json "$T/shim.err" 'j["event"], j["comm"], j["family"], j["proto"], j["addr"], j["port"], j["errno"], j["error"], j["cause"]'
	assert_output "('bind_conflict', 'conflict_probe', 'inet', 'tcp', '0.0.0.0', $port, 98, 'EADDRINUSE', 'listener')"
	run bw_json "$T/shim.err" 'j["holders"][0]["pid"], j["holders"][0]["visible"], j["holders"][0]["comm"], j["holders"][0]["user"], j["holders"][0]["state"], j["holders"][0]["port"], j["holders_total"] >= 1'
	assert_output "($holder, True, '$(cat /proc/$holder/comm)', '$(id -un)', 'LISTEN', $port, True)"
	run bw_json "$T/shim.err" 'j["holders"][0]["cmdline"] == open("/proc/%d/cmdline" % j["holders"][0]["pid"]).read().rstrip("\0").replace("\0", " ")'
	assert_output true
	# The pid and fd are the failing process's own.
	run bw_json "$T/shim.err" 'j["pid"] > 0 and j["pid"] != '"$holder"' and j["fd"] >= 0 and j["hint"] != "" and isinstance(j["scan"], dict)'
	assert_output true

	# A non-empty stack whose frames name absolute module paths, the probe's own main among them.
	run bw_json "$T/shim.err" 'len(j["stack"]) > 0 and all(f["module"].startswith("/") and f["pc"].startswith("0x") and f["module_offset"].startswith("0x") and "offset" in f and "symbol" in f for f in j["stack"])'
	assert_output true
	run bw_json "$T/shim.err" 'any(f["symbol"] == "main" and f["module"].endswith("/conflict_probe") for f in j["stack"])'
	assert_output true
	# No frame of the shim itself.
	run bw_json "$T/shim.err" 'any("libbindwatch" in f["module"] for f in j["stack"])'
	assert_output false
}

@test "stack: the main program's frames name its absolute path, also when it was started through PATH" {
	port=$(free_port)
	hold_tcp "$port"
	exe=$(readlink -f "$PROBE")

	# The CLI execvp()s a bare name: argv[0] is "conflict_probe".
	capture shim env PATH="$HELPERS:$PATH" "$CLI" --json -- conflict_probe 0.0.0.0 "$port"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	run bw_json "$T/shim.err" '[f["module"] for f in j["stack"] if f["symbol"] == "main"]'
	assert_output "['$exe']"
}

@test "unix: a path held by a live python3 listener is reported with the path and the holder pid" {
	sock=$T/held.sock
	[ ${#sock} -lt 100 ] || skip "temp dir path too long for sun_path"
	hold unix "$sock"
	holder=$HOLDER_PID

	capture shim "$CLI" --json -- "$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind(sys.argv[1])
except OSError as e:
    print("bind errno", e.errno)
    sys.exit(3)' "$sock"
	[ "$status" -eq 3 ]
	assert_equal "$(cat "$T/shim.out")" "bind errno 98"
	run bw_json "$T/shim.err" 'j["family"], j["path"], j["holders"][0]["pid"], j["holders"][0]["path"], j["holders"][0]["state"], j["cause"]'
	assert_output "('unix', '$sock', $holder, '$sock', 'LISTEN', 'unix_live')"

	# The text report names them too.
	capture text "$CLI" -- "$PYTHON3" -c 'import socket, sys
try:
    socket.socket(socket.AF_UNIX).bind(sys.argv[1])
except OSError:
    sys.exit(3)' "$sock"
	[ "$status" -eq 3 ]
	assert_file_has "$T/text.err" "$sock"
	assert_file_has "$T/text.err" "held by pid $holder "
}
