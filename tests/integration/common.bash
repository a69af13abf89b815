# Shared by every .bats file: loads bats-support/bats-assert and gives
# helpers to start real servers, pick free ports and wait for readiness.
bats_load_library bats-support
bats_load_library bats-assert

CLI=${BINDWATCH_CLI:?run through meson test}
SHIM=${BINDWATCH_SHIM_PATH:?}
HELPERS=${BW_HELPERS:?}
PROBE="$HELPERS/conflict_probe"
# What LD_PRELOAD must hold to load the shim directly (the ASan runtime
# first in a sanitizer build); the CLI adds the same by itself.
PRELOAD="${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }$SHIM"

# The interpreter itself, not a wrapper script in front of it (pyenv's
# shim runs bash and a dozen helpers, each of which would load the shim
# too and change the pid that holds a socket).
PYTHON3=$(python3 -c 'import sys; print(sys.executable)') || PYTHON3=python3

BG_PIDS=()
HOLDER_PID=

# free_port [tcp|udp]: a port the kernel just handed out and released.
free_port() {
	"$PYTHON3" - "${1:-tcp}" <<'PY'
import socket, sys
t = socket.SOCK_DGRAM if sys.argv[1:] == ["udp"] else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET6, t)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 0))
print(s.getsockname()[1])
PY
}

# poll_until TRIES CMD...: runs CMD every 50 ms until it succeeds, at most
# TRIES times (200 = 10 s); status 1 when it never did. The suite's one
# readiness loop: tests wait for a state, never for a fixed time.
poll_until() {
	local tries=$1
	shift
	for _ in $(seq 1 "$tries"); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# ss_has FLAGS FILTER: ss lists at least one socket.
ss_has() {
	[ -n "$(ss "$1" "$2" 2>/dev/null)" ]
}

# wait_listen PORT [tcp|udp]: polls ss until something is bound (10 s max).
wait_listen() {
	local port=$1 proto=${2:-tcp} flag=-Hltn
	[ "$proto" = udp ] && flag=-Hlun
	poll_until 200 ss_has "$flag" "sport = :$port" && return 0
	echo "port $port/$proto never became ready" >&2
	return 1
}

# unix_listening PATH: a unix socket file at PATH that something listens on.
unix_listening() {
	[ -S "$1" ] && ss -Hxl 2>/dev/null | grep -qF "$1"
}

# wait_unix PATH: polls until a unix socket listens on PATH (10 s max).
wait_unix() {
	poll_until 200 unix_listening "$1" && return 0
	echo "unix socket $1 never became ready" >&2
	return 1
}

# wait_file_line FILE LINE: polls until FILE has the line LINE (10 s max).
wait_file_line() {
	poll_until 200 grep -sqxF -- "$2" "$1" && return 0
	echo "$1 never got the line: $2" >&2
	return 1
}

# wait_file FILE: polls until FILE exists and is not empty (10 s max).
wait_file() {
	poll_until 200 test -s "$1" && return 0
	echo "$1 never appeared" >&2
	return 1
}

# has_lines FILE N: FILE exists and has at least N complete lines.
has_lines() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# port_file_to FILE: the to_port of the single line in a port file, after
# checking the line is "proto addr from to pid" with numbers where due.
port_file_to() {
	local n
	n=$(wc -l <"$1")
	if [ "$n" -ne 1 ] || ! grep -Eq '^(tcp|udp) [0-9a-f.:]+ [0-9]+ [0-9]+ [0-9]+$' "$1"; then
		echo "port file $1 is not one 'proto addr from to pid' line:" >&2
		cat "$1" >&2
		return 1
	fi
	cut -d' ' -f4 "$1"
}

# http_body PORT PATH: the body of GET http://127.0.0.1:PORT/PATH; fails
# unless the status is 200.
http_body() {
	curl -sS --fail --max-time 5 "http://127.0.0.1:$1/$2"
}

# bg CMD...: starts CMD in the background and remembers its pid for teardown.
bg() {
	"$@" >/dev/null 2>&1 &
	BG_PIDS+=("$!")
}

# bg_err ERRFILE CMD...: like bg, but keeps CMD's stderr in ERRFILE.
bg_err() {
	local err=$1
	shift
	"$@" >/dev/null 2>"$err" &
	BG_PIDS+=("$!")
}

# hold_tcp PORT [ADDR]: a python3 listener (SO_REUSEADDR unset) holding the
# port; its pid is left in HOLDER_PID.
hold_tcp() {
	hold tcp "${2:-0.0.0.0}" "$1"
}

# hold tcp|udp ADDR PORT [V6ONLY]: a python3 process holding ADDR:PORT
# (TCP: listening; UDP: bound; SO_REUSEADDR unset; V6ONLY 0|1 sets
# IPV6_V6ONLY on an IPv6 socket). hold unix PATH: a python3 AF_UNIX stream
# listener on PATH. Waits until the socket is visible; pid in HOLDER_PID.
hold() {
	bg "$PYTHON3" "$BW_SRCDIR/tests/helpers/hold.py" "$@"
	HOLDER_PID=$!
	if [ "$1" = unix ]; then
		wait_unix "$2"
	else
		wait_listen "$3" "$1"
	fi
}

# nginx_conf DIR WORKERS SERVER...: writes DIR/nginx.conf for Debian's nginx
# run in the foreground with a master and WORKERS workers: pid DIR/nginx.pid,
# error log DIR/err.log, temp paths under DIR/tmp, no access log, and the
# SERVER lines (e.g. "server { listen 127.0.0.1:P; return 204; }") in http.
# Run it as: nginx -p DIR -c DIR/nginx.conf.
nginx_conf() {
	local dir=$1 workers=$2
	shift 2
	mkdir -p "$dir/tmp" "$dir/logs"
	{
		printf 'daemon off;\nmaster_process on;\nworker_processes %s;\n' "$workers"
		printf 'pid %s/nginx.pid;\nerror_log %s/err.log;\n' "$dir" "$dir"
		printf 'events { worker_connections 16; }\nhttp {\n\taccess_log off;\n'
		local t
		for t in client_body proxy fastcgi uwsgi scgi; do
			printf '\t%s_temp_path %s/tmp/%s;\n' "$t" "$dir" "$t"
		done
		printf '\t%s\n' "$@"
		printf '}\n'
	} >"$dir/nginx.conf"
}

# stop_nginx: ends the nginx started in the background with its pid in
# NGINX_PID (the master; its workers follow it), if any.
stop_nginx() {
	[ -n "${NGINX_PID:-}" ] || return 0
	kill "$NGINX_PID" 2>/dev/null || true
	wait "$NGINX_PID" 2>/dev/null || true
}

# proc_cmdline PID: the command line of PID as a text report shows it
# (arguments joined by spaces; well-formed UTF-8 characters as they are;
# control bytes, '"', backslashes, other bytes and invisible characters
# as \xHH per byte).
proc_cmdline() {
	"$PYTHON3" -c 'import sys
raw = open("/proc/%s/cmdline" % sys.argv[1], "rb").read().rstrip(b"\0").replace(b"\0", b" ")
def char_at(i):
    for n in (2, 3, 4):
        try:
            ch = raw[i:i + n].decode("utf-8")
        except UnicodeDecodeError:
            continue
        cp = ord(ch)
        if 0x80 <= cp <= 0x9f or 0x200b <= cp <= 0x200f or 0x2028 <= cp <= 0x202e or 0x2060 <= cp <= 0x2069 or cp == 0xfeff:
            return None, 0
        return ch, n
    return None, 0
out, i = [], 0
while i < len(raw):
    c = raw[i]
    ch, n = char_at(i) if c >= 0x80 else (None, 0)
    if 0x20 <= c < 0x7f and c not in (0x22, 0x5c):
        out.append(chr(c)); i += 1
    elif ch:
        out.append(ch); i += n
    else:
        out.append("\\x%02x" % c); i += 1
print("".join(out))' "$1"
}

# capture NAME CMD...: runs CMD with stdout and stderr in
# $BATS_TEST_TMPDIR/NAME.out and NAME.err; its exit status in $status.
capture() {
	local name=$1
	shift
	status=0
	"$@" >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" || status=$?
}

# assert_file_has FILE STRING: FILE contains STRING (fixed string); shows
# the file when it does not.
assert_file_has() {
	if ! grep -qF -- "$2" "$1"; then
		printf 'expected %s to contain: %s\n--- %s ---\n' "$1" "$2" "$1" >&2
		cat "$1" >&2
		return 1
	fi
}

# assert_file_lacks FILE STRING
assert_file_lacks() {
	if grep -qF -- "$2" "$1"; then
		printf 'expected %s not to contain: %s\n--- %s ---\n' "$1" "$2" "$1" >&2
		cat "$1" >&2
		return 1
	fi
}

# bw_json FILE EXPR: the single bindwatch JSON record in FILE (a line that
# starts with {"event") parsed as j; prints the python expression EXPR
# (str() of it; booleans as true/false). Fails unless exactly one record
# is there and it parses.
bw_json() {
	"$PYTHON3" -c 'import json, sys
recs = [l for l in open(sys.argv[1], encoding="utf-8", errors="replace") if l.startswith("{\"event\"")]
if len(recs) != 1:
    sys.exit("expected exactly one JSON record in %s, found %d:\n%s" % (sys.argv[1], len(recs), open(sys.argv[1]).read()))
j = json.loads(recs[0])
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, bool) or v is None else v)' "$1" "$2"
}

# fake_syslog FILE: a python3 datagram server on /dev/log (which must not
# exist: the caller removes it in teardown) writing each record to FILE as
# one line; returns once it is bound (10 s max).
fake_syslog() {
	local ready="$1.ready"
	bg "$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[2], "w").write("bound\n")
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).replace(b"\n", b"\\n") + b"\n")' "$1" "$ready"
	wait_file "$ready"
}

# test_cgroups NAME...: child cgroups NAME... of a directory of this test's
# own under the cgroup2 mount ($CG); skips unless root can make them. The
# test's teardown removes them (remove_cgroups, once their processes
# ended: poll_until 100 remove_cgroups).
test_cgroups() {
	local root
	[ "$(id -u)" = 0 ] || skip "moving processes between cgroups needs root"
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified ""; do
		[ -n "$root" ] && [ "$(stat -fc %T "$root" 2>/dev/null)" = cgroup2fs ] && break
	done
	[ -n "$root" ] || skip "no cgroup2 mount (/sys/fs/cgroup, /sys/fs/cgroup/unified)"
	mkdir "$root/bindwatch-test-$$" || skip "can't create a cgroup under $root"
	CG=$root/bindwatch-test-$$
	for n; do mkdir "$CG/$n"; done
}

remove_cgroups() {
	local d
	for d in "$CG"/*/; do
		[ -d "$d" ] && { rmdir "$d" 2>/dev/null || return 1; }
	done
	rmdir "$CG"
}

kill_bg() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	BG_PIDS=()
	HOLDER_PID=
}

teardown() {
	kill_bg
}

# other_named_netns: how many network namespaces other than ours have a
# unix socket with a name (/proc/PID/net/unix, told apart by its inode).
# The shim can search those only by name, so while one exists it calls a
# socket file no socket owns unix_unverified, not unix_stale.
other_named_netns() {
	local self p ino seen=" " n=0
	self=$(stat -L -c %i /proc/self/net/unix)
	for p in /proc/[0-9]*; do
		ino=$(stat -L -c %i "$p/net/unix" 2>/dev/null) || continue
		if [ "$ino" = "$self" ] || [[ $seen == *" $ino "* ]]; then
			continue
		fi
		seen+="$ino "
		awk 'NR > 1 && NF >= 8 { named = 1 } END { exit !named }' "$p/net/unix" 2>/dev/null &&
			n=$((n + 1))
	done
	echo "$n"
}

# need_stale_certain: skips unless the shim can be sure a socket file is
# stale (no other network namespace has named unix sockets).
need_stale_certain() {
	local n
	n=$(other_named_netns)
	[ "$n" = 0 ] || skip "$n other network namespace(s) with named unix sockets exist (a container?): the shim searches them by name only, so no file is certainly stale"
}
