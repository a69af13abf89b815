# Helpers shared by remap.bats, causes.bats and relation.bats (load after common):
# runs of free ports, UDP/unix clients, JSON record queries and the
# conflict situations TESTING.md describes.

# free_run N [tcp|udp]: a port B such that B..B+N-1 were all free at once
# (each bound at the same time on the dual-stack wildcard, then released).
free_run() {
	"$PYTHON3" - "$1" "${2:-tcp}" <<'PY'
import socket, sys
n, kind = int(sys.argv[1]), sys.argv[2]
t = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
def grab(port):
    s = socket.socket(socket.AF_INET6, t)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    return s
for _ in range(200):
    first = grab(0)
    base = first.getsockname()[1]
    held = [first]
    try:
        if base + n - 1 > 65535:
            raise OSError
        for p in range(base + 1, base + n):
            held.append(grab(p))
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no run of %d free ports found" % n)
PY
}

# wait_lines FILE N: polls until FILE has at least N complete lines (10 s max).
wait_lines() {
	poll_until 200 has_lines "$1" "$2" && return 0
	echo "$1 never reached $2 lines" >&2
	[ -f "$1" ] && cat "$1" >&2
	return 1
}

# udp_echo PORT MSG: sends MSG to 127.0.0.1:PORT and prints the reply.
udp_echo() {
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
print(s.recvfrom(1024)[0].decode())' "$1" "$2"
}

# unix_ask PATH MSG: connects to the AF_UNIX stream socket PATH, sends MSG
# and prints the reply.
unix_ask() {
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
print(s.recv(1024).decode())' "$1" "$2"
}

# records FILE: the bindwatch JSON records in FILE, one per line.
records() {
	grep '^{"event"' "$1" || true
}

# jrec FILE FILTER: runs the jq FILTER over the array of JSON records in
# FILE (-r: strings raw); fails when a record does not parse.
jrec() {
	records "$1" | jq -rs "$2"
}

# jone FILE FILTER: FILTER over the single record of FILE; fails (showing
# FILE) unless there is exactly one.
jone() {
	local n
	n=$(records "$1" | wc -l)
	if [ "$n" -ne 1 ]; then
		printf 'expected exactly one JSON record in %s, found %s:\n' "$1" "$n" >&2
		cat "$1" >&2
		return 1
	fi
	records "$1" | jq -r "$2"
}

# assert_eq WHAT ACTUAL EXPECTED
assert_eq() {
	if [ "$2" != "$3" ]; then
		printf '%s: expected [%s], got [%s]\n' "$1" "$3" "$2" >&2
		return 1
	fi
}

# make_time_wait PORT REUSE(0|1): leaves only a server-side TIME-WAIT socket
# on 127.0.0.1:PORT (TESTING.md): the listener (with or without
# SO_REUSEADDR) accepts one connection, the accepted socket closes first,
# then the client, then the listener.
make_time_wait() {
	"$PYTHON3" - "$1" "$2" <<'PY'
import socket, sys
port, reuse = int(sys.argv[1]), sys.argv[2] == "1"
l = socket.socket()
if reuse:
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(1)
c = socket.create_connection(("127.0.0.1", port))
a, _ = l.accept()
a.close()
c.close()
l.close()
PY
}

# has_time_wait PORT: a TIME-WAIT socket with local port PORT exists.
has_time_wait() {
	[ -n "$(ss -Htan state time-wait "sport = :$1" 2>/dev/null)" ]
}

# python3 -c "$PY_BIND_UNIX" PATH: binds an AF_UNIX stream socket to PATH;
# prints "bind=0" or "bind=-1 errno=E".
PY_BIND_UNIX='import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind(sys.argv[1])
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)'

# with_exhausted_ports NAME=VALUE... -- CMD...: runs CMD with the NAME=VALUE
# settings added to its environment, in a private network namespace whose
# ephemeral range (40000-40001) two python3 listeners hold; prints
# "held=40000,40001" first (TESTING.md: ephemeral ports exhausted).
with_exhausted_ports() {
	unshare -n sh -c 'ip link set lo up &&
		echo "40000 40001" >/proc/sys/net/ipv4/ip_local_port_range && exec "$@"' sh \
		"$PYTHON3" -c 'import os, socket, subprocess, sys
held = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    held.append(s)
print("held=" + ",".join(sorted(str(s.getsockname()[1]) for s in held)), flush=True)
args = sys.argv[1:]
sep = args.index("--")
env = dict(os.environ, **dict(a.split("=", 1) for a in args[:sep]))
sys.exit(subprocess.run(args[sep + 1:], env=env).returncode)' "$@"
}

# shim_probe NAME ARGS...: conflict_probe ARGS under the shim with JSON
# reports and no stack; output in NAME.out / NAME.err, exit in status.
shim_probe() {
	local name=$1
	shift
	capture "$name" env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$PROBE" "$@"
}

# shim_py NAME SCRIPT ARGS...: python3 -c SCRIPT under the shim (JSON, no stack).
shim_py() {
	local name=$1
	shift
	capture "$name" env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$PYTHON3" -c "$@"
}

# j NAME FILTER: FILTER over the single JSON record of NAME.err.
j() {
	jone "$BATS_TEST_TMPDIR/$1.err" "$2"
}

# hint_has NAME STRING: the record's hint contains STRING.
hint_has() {
	local hint
	hint=$(j "$1" .hint)
	if [[ $hint != *"$2"* ]]; then
		printf 'hint lacks [%s]: %s\n' "$2" "$hint" >&2
		return 1
	fi
}

# sup_py NAME SCRIPT ARGS...: python3 -c SCRIPT under bindwatch --supervise
# (JSON, no stack): the diagnosis runs in the bindwatch process, which may
# read a holder's socket options (pidfd_getfd); the shim inside a host may not.
sup_py() {
	local name=$1
	shift
	capture "$name" env BINDWATCH_FORMAT=json BINDWATCH_STACK=0 "$CLI" --supervise -- "$PYTHON3" -c "$@"
}

# probe_blocked NAME ADDR PORT CAUSE PID: conflict_probe's bind of
# ADDR:PORT under the shim fails with EADDRINUSE and its record names
# CAUSE, with PID as the first holder.
probe_blocked() {
	shim_probe "$1" "$2" "$3"
	assert_eq "probe" "$(cat "$BATS_TEST_TMPDIR/$1.out")" "bind=-1 errno=98"
	assert_eq "record" "$(j "$1" '[.cause, .holders[0].pid] | map(tostring) | @tsv')" \
		"$(printf '%s\t%s' "$4" "$5")"
}

# netns_py NAME "LO HI" SCRIPT ARGS...: python3 -c SCRIPT ARGS in a private
# network namespace with lo up and ip_local_port_range LO HI; output in
# NAME.out / NAME.err.
netns_py() {
	local name=$1 range=$2
	shift 2
	capture "$name" unshare -n sh -c 'ip link set lo up &&
		echo "$0" >/proc/sys/net/ipv4/ip_local_port_range && exec "$@"' "$range" \
		"$PYTHON3" -c "$@"
}
