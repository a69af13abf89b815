#!/usr/bin/env bats
# Unix socket paths that are not simply live or stale: a socket in another
# network namespace (a path-bound socket is reached through the file
# system, so it owns the file from there), a path that is no socket, a
# path whose directory is missing, a path with control bytes. The kernel
# (a python3 bind) says what bind(2) does; bindwatch must agree and never
# offer to remove a file that may be live.

load common
load diag_helpers

D=

setup() {
	# Short (sun_path) and searchable by nobody.
	T=$BATS_TEST_TMPDIR
	D=$(mktemp -d /tmp/bwu.XXXXXX)
	chmod 755 "$D"
}

teardown() {
	kill_bg
	[ -n "$D" ] && rm -rf "$D"
	true
}

as_nobody() {
	setpriv --reuid 65534 --regid 65534 --clear-groups "$@"
}

need_nobody() {
	as_nobody true 2>/dev/null || skip "setpriv cannot switch to uid 65534 here"
}

# py_bind NAME PATH: the kernel's answer for a unix stream bind to PATH
# (bind=0, or bind=-1 errno=N), under no shim.
py_bind() {
	capture "$1" "$PYTHON3" -c "$PY_BIND_UNIX" "$2"
	cat "$BATS_TEST_TMPDIR/$1.out"
}

# hold_elsewhere PATH SETUP FILE: a python3 unix listener on PATH in a
# network namespace (and mount namespace) of its own, after the shell
# commands SETUP ran there; waits until FILE, its socket file as seen
# here, appears.
hold_elsewhere() {
	unshare -m -n true 2>/dev/null || skip "unshare -m -n failed: no namespaces available"
	bg unshare -m -n sh -c "$2 && exec \"\$0\" \"\$1\" unix \"\$2\"" \
		"$PYTHON3" "$BW_SRCDIR/tests/helpers/hold.py" "$1"
	HOLDER_PID=${BG_PIDS[-1]}
	poll_until 200 test -S "$3"
}

@test "unix: a live socket in another network namespace is live, never stale: who, free and the shim" {
	need_nobody
	sock=$D/live.sock
	hold_elsewhere "$sock" true "$sock"
	assert_equal "$(py_bind k "$sock")" "bind=-1 errno=98"
	# Root searches the other namespace (by the file) and finds the process.
	capture who "$CLI" who unix "$sock"
	assert_equal "$status" 0
	assert_file_has "$T/who.out" "cause: unix_live"
	assert_file_has "$T/who.out" "pid=$HOLDER_PID"
	capture dry "$CLI" free --dry-run "$sock"
	assert_file_has "$T/dry.out" "to free it: kill $HOLDER_PID"
	assert_file_lacks "$T/dry.out" "rm --"
	# Without root the name in its /proc/PID/net/unix still shows it.
	capture nwho as_nobody "$CLI" who unix "$sock"
	assert_equal "$status" 0
	assert_file_lacks "$T/nwho.out" "unix_stale"
	capture nfree as_nobody "$CLI" free --yes "$sock"
	assert_equal "$status" 1
	[ -S "$sock" ]
	# The shim too, even asked to remove stale files.
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$sock"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_equal "$(jone "$T/shim.err" .cause)" unix_live
	[ -S "$sock" ]
	kill -0 "$HOLDER_PID"
}

@test "unix: a socket of another namespace bound under another name (bind mount) is found by its file as root; unix_unverified, never removed, otherwise" {
	need_nobody
	mkdir "$D/a" "$D/b"
	chmod 755 "$D/a" "$D/b"
	# The holder binds $D/b/x.sock, which its private bind mount makes the
	# file $D/a/x.sock here: no table names $D/a/x.sock.
	hold_elsewhere "$D/b/x.sock" "mount --bind $D/a $D/b" "$D/a/x.sock"
	sock=$D/a/x.sock
	[ ! -e "$D/b/x.sock" ]
	assert_equal "$(py_bind k "$sock")" "bind=-1 errno=98"
	capture who "$CLI" who --json unix "$sock"
	assert_equal "$status" 0
	assert_equal "$(jq -r '[.cause, .holders[0].pid] | map(tostring) | join(" ")' "$T/who.out")" \
		"unix_live $HOLDER_PID"
	# Without root only names can be compared: maybe live, so no rm.
	capture nwho as_nobody "$CLI" who --json unix "$sock"
	assert_equal "$status" 0
	assert_equal "$(jq -r .cause "$T/nwho.out")" unix_unverified
	[[ "$(jq -r .hint "$T/nwho.out")" == *"could only be searched by name"* ]]
	assert_equal "$(jq -r '.free_command // "none"' "$T/nwho.out")" none
	capture nfree as_nobody "$CLI" free --yes "$sock"
	assert_equal "$status" 1
	assert_file_has "$T/nfree.err" "refused"
	[ -S "$sock" ]
	# The shim can't enter namespaces: unverified, and not unlinked.
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
		BINDWATCH_UNIX_STALE=unlink "$PYTHON3" -c "$PY_BIND_UNIX" "$sock"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_equal "$(jone "$T/shim.err" .cause)" unix_unverified
	[[ "$(jone "$T/shim.err" .remap.note)" == *"not removed"* ]]
	[ -S "$sock" ]
	kill -0 "$HOLDER_PID"
}

@test "unix: a path that is no socket (regular file, directory, /) is named for what it is; nothing offers to remove it" {
	need_nobody
	echo data >"$D/file"
	mkdir "$D/dir"
	for path in "$D/file" "$D/dir" /; do
		case $path in
		"$D/file") what="a regular file" ;;
		*) what="a directory" ;;
		esac
		assert_equal "$(py_bind k "$path")" "bind=-1 errno=98"
		capture who "$CLI" who unix "$path"
		assert_equal "$status" 0
		assert_file_has "$T/who.out" "cause: unix_not_socket: the path exists and is $what, not a socket"
		assert_file_lacks "$T/who.out" "stale"
		assert_file_lacks "$T/who.out" "rm --"
		capture free "$CLI" free --yes "$path"
		assert_equal "$status" 1
		assert_file_has "$T/free.err" "refused"
		[ -e "$path" ]
	done
	[ "$(cat "$D/file")" = data ]
	# The shim binding over the regular file, as the kernel refuses it.
	shim_py shim "$PY_BIND_UNIX" "$D/file"
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98"
	assert_equal "$(jone "$T/shim.err" .cause)" unix_not_socket
	[[ "$(jone "$T/shim.err" .hint)" == *"a regular file"* ]]
	[[ "$(jone "$T/shim.err" .hint)" != *"stale"* ]]
}

@test "unix: a path whose directory is missing (or is a file) can never be bound: who, wait and free exit 2 with one line" {
	echo data >"$D/file"
	for path in "$D/nodir/x.sock" "$D/file/x.sock"; do
		k=$(py_bind k "$path")
		case $k in
		"bind=-1 errno=2") why="does not exist" ;;
		"bind=-1 errno=20") why="is not a directory" ;;
		*) false "the kernel bound $path: $k" ;;
		esac
		for cmd in who wait free; do
			capture c "$CLI" "$cmd" unix "$path"
			assert_equal "$status" 2
			assert_equal "$(wc -l <"$T/c.err")" 1
			assert_file_has "$T/c.err" "bindwatch: $cmd: a bind to unix $path can never succeed here: its directory ${path%/x.sock} $why"
		done
	done
}

@test "unix: free's rm for a stale file whose name has a newline and a quote names that file when run" {
	command -v bash >/dev/null || skip "bash is not installed"
	sock=$D/$'nl\nx\'q.sock'
	"$PYTHON3" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()' "$sock"
	# A file named as the old single-quoted line would have named it.
	decoy=$D/'nl\x0ax'"'"'q.sock'
	echo decoy >"$decoy"
	capture dry "$CLI" free --dry-run unix "$sock"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$T/dry.out")" 1
	line=$(sed -n 's/^to free it: //p' "$T/dry.out")
	[[ $line == "rm -- "* ]]
	bash -c "$line"
	[ ! -e "$sock" ]
	[ "$(cat "$decoy")" = decoy ]
}
