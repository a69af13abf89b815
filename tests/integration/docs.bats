#!/usr/bin/env bats
# The documentation says what the code does: every JSON field a real
# record carries is in libbindwatch(7)'s schema, every BINDWATCH_ variable
# the code reads is documented, the systemd drop-in example works as
# printed, and the README's valgrind command runs as written.

load common
load engines

setup() {
	T=$BATS_TEST_TMPDIR
	MAN7=$BW_SRCDIR/shim/libbindwatch.7
	CONTAINER=
}

teardown() {
	kill_bg
	[ -z "$CONTAINER" ] || "$DOCKER" rm -f "$CONTAINER" >/dev/null 2>&1 || true
}

# section FILE NAME: the roff source of section .SH NAME of FILE.
section() {
	awk -v want=".SH $2" '$0 == want { on = 1; next } /^\.SH / { on = 0 } on' "$1"
}

@test "libbindwatch(7): every field of real JSON records is in the schema (conflicts, remap, trace, repeats, who, the listing)" {
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	sock=$T/s.sock
	[ ${#sock} -lt 100 ] || skip "temp dir path too long for sun_path"
	# A conflict with a stack and one remapped, a traced bind and listen, an
	# always-mode move, the rate limiter's repeat line, a unix conflict.
	"$CLI" --json -- "$PYTHON3" -m http.server "$P" 2>"$T/records" >/dev/null || true
	"$CLI" --json --remap "$P=next" -- "$PROBE" 0.0.0.0 "$P" 2>>"$T/records" >/dev/null || true
	Q=$(free_port)
	"$CLI" --json --trace all -- "$PROBE" -l 127.0.0.1 "$Q" 2>>"$T/records" >/dev/null || true
	"$CLI" --json --remap "$Q=+1" --remap-mode always -- "$PROBE" 127.0.0.1 "$Q" 2>>"$T/records" >/dev/null || true
	BINDWATCH_RATELIMIT=60 "$CLI" --json -- "$PYTHON3" -c 'import socket, sys
for _ in range(2):
    try:
        socket.socket().bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        pass' "$P" 2>>"$T/records" >/dev/null || true
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])' "$sock"
	"$CLI" --json -- "$PYTHON3" -c 'import socket, sys
try:
    socket.socket(socket.AF_UNIX).bind(sys.argv[1])
except OSError:
    pass' "$sock" 2>>"$T/records" >/dev/null || true
	"$CLI" who --json "$P" >>"$T/records" || true
	"$CLI" who --json >>"$T/records" || true
	section "$MAN7" "JSON SCHEMA" >"$T/schema"
	"$PYTHON3" - "$T/records" "$T/schema" <<'PY'
import json, re, sys
keys, events = set(), set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            keys.add(k)
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
for line in open(sys.argv[1]):
    if line.startswith("{"):
        rec = json.loads(line)
        events.add(rec.get("event"))
        walk(rec)
schema = open(sys.argv[2]).read()
words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", schema.replace("\\-", "-")))
need = {"bind_conflict", "remap", "bind", "listen", "repeated", "lookup", "listing"}
assert need <= events, "records missing: %s" % (need - events)
missing = sorted(k for k in keys | events if k not in words)
assert not missing, "fields written but not in libbindwatch(7) JSON SCHEMA: %s" % missing
print(len(keys), "fields checked")
PY
}

@test "every BINDWATCH_ variable the code reads is documented (shim: libbindwatch(7) ENVIRONMENT; CLI: bindwatch(1))" {
	section "$MAN7" ENVIRONMENT >"$T/env7"
	for v in $(grep -rhoE '"BINDWATCH_[A-Z_]+"' "$BW_SRCDIR/shim" | tr -d '"' | sort -u); do
		grep -q "$v" "$T/env7" || { echo "$v is not in libbindwatch(7) ENVIRONMENT" >&2; false; }
	done
	for v in $(grep -hoE '"BINDWATCH_[A-Z_]+"' "$BW_SRCDIR"/tools/*.c | tr -d '"' | sort -u); do
		grep -q "$v" "$T/env7" "$BW_SRCDIR/tools/bindwatch.1" ||
			{ echo "$v is documented nowhere" >&2; false; }
	done
	grep -q 'BINDWATCH_NETLINK' "$T/env7"
	grep -q 'BINDWATCH_BPF' "$T/env7"
}

@test "README: the valgrind command runs the unit tests under memcheck as written" {
	build=$(cd "$(dirname "$CLI")/.." && pwd)
	[ -z "${BW_SANITIZER_PRELOAD:-}" ] || skip "an ASan build: memcheck can't run sanitized programs"
	command -v valgrind >/dev/null || skip "valgrind not installed"
	cmd=$(grep -o 'meson test -C build --suite unit --setup valgrind' "$BW_SRCDIR/README")
	[ -n "$cmd" ]
	# As written, with -C pointing at this build.
	run ${cmd/-C build/-C $build} --no-rebuild
	assert_success
	assert_output --regexp "Ok: +[1-9][0-9]*"
	assert_output --regexp "Fail: +0"
}

@test "libbindwatch(7): the systemd drop-in, as the man page prints it, gets a hardened service's conflict into the journal" {
	[ -z "${BW_SANITIZER_PRELOAD:-}" ] || skip "an ASan shim needs the ASan runtime in the container too"
	build=$(cd "$(dirname "$CLI")/.." && pwd)
	# The man page as meson configured it, the drop-in between .nf and .fi.
	section "$build/shim/libbindwatch.7" "UNDER SYSTEMD" | awk '/^\.nf/ { on = 1; next } /^\.fi/ { exit } on' >"$T/dropin.conf"
	grep -qx '\[Service\]' "$T/dropin.conf"
	shim=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$T/dropin.conf")
	[[ $shim == /*/libbindwatch.so ]]
	CONTAINER=bw-dropin-$$
	systemd_container "$CONTAINER"
	"$DOCKER" exec "$CONTAINER" mkdir -p "$(dirname "$shim")" /etc/systemd/system/myapp.service.d
	docker_put "$CONTAINER" "$SHIM" "$shim"
	docker_put "$CONTAINER" "$T/dropin.conf" /etc/systemd/system/myapp.service.d/bindwatch.conf
	"$DOCKER" exec -i "$CONTAINER" sh -c 'cat > /etc/systemd/system/myapp.service' <<'UNIT'
[Service]
ExecStart=/usr/bin/python3 -m http.server 8080
SystemCallFilter=@system-service
NoNewPrivileges=yes
UNIT
	# Something else holds 8080 inside the container.
	"$DOCKER" exec -d "$CONTAINER" python3 -m http.server 8080 --bind 127.0.0.1
	held() { [ -n "$("$DOCKER" exec "$CONTAINER" ss -Hltn 'sport = :8080')" ]; }
	poll_until 200 held
	"$DOCKER" exec "$CONTAINER" systemctl daemon-reload
	"$DOCKER" exec "$CONTAINER" systemctl start myapp || true
	journal_has() {
		"$DOCKER" exec "$CONTAINER" journalctl -u myapp --no-pager -o cat >"$T/journal" 2>&1 &&
			grep -q 'bindwatch: bind 0.0.0.0:8080/tcp: in use by python3' "$T/journal" &&
			grep -q 'OSError: \[Errno 98\] Address already in use' "$T/journal"
	}
	# Polled until python3's traceback is in too (it follows the report).
	poll_until 400 journal_has || { cat "$T/journal" >&2; false; }
	assert_file_has "$T/journal" "wildcard_overlap"
	# The holder shares the container the service runs in: never 'docker stop' it.
	assert_file_lacks "$T/journal" "docker stop"
}
