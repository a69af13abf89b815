#!/usr/bin/env bats
# bindwatch -- CMD where CMD runs in secure-execution mode (set-user-ID,
# set-group-ID, file capabilities): the loader ignores LD_PRELOAD there,
# and one line says so and what to do instead (like the Go notice).

load common

setup() {
	T=$BATS_TEST_TMPDIR
	# A directory others can enter: the copies run as another user too.
	D=$(mktemp -d /tmp/bw-setid.XXXXXX)
	chmod 755 "$D"
	[ "$(id -u)" -eq 0 ] || skip "needs root to make set-ID and capability copies"
	if [ "$(findmnt -n -o OPTIONS -T "$D" | tr ',' '\n' | grep -cx nosuid)" -ne 0 ]; then
		skip "$D is on a nosuid mount: set-ID bits would not apply"
	fi
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	cp "$PROBE" "$D/probe"
}

teardown() {
	kill_bg
	rm -rf "$D"
}

# notice_lines FILE: the secure-execution notices in FILE.
notice_lines() {
	grep -c 'the loader ignores LD_PRELOAD there' "$1" || true
}

@test "setid: a set-group-ID program gets one line saying LD_PRELOAD is ignored, and no report; --supervise watches it" {
	chgrp daemon "$D/probe"
	chmod 2755 "$D/probe"
	capture run "$CLI" -- "$D/probe" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/run.out")" "bind=-1 errno=98"
	assert_equal "$(notice_lines "$T/run.err")" 1
	assert_file_has "$T/run.err" "bindwatch: $D/probe is set-group-ID (group daemon, gid 1): the loader ignores LD_PRELOAD there"
	assert_file_has "$T/run.err" "use --supervise"
	# The notice is true: the shim never ran in it.
	assert_file_lacks "$T/run.err" "held by"
	# What it offers works: supervised, the conflict is reported.
	capture sv "$CLI" --supervise -- "$D/probe" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/sv.out")" "bind=-1 errno=98"
	assert_file_has "$T/sv.err" "held by pid $HOLDER_PID "
	# Found through PATH as well.
	PATH="$D:$PATH" capture path "$CLI" -- probe 127.0.0.1 "$port"
	assert_equal "$(notice_lines "$T/path.err")" 1
}

@test "setid: a set-user-ID program of another user gets the notice; a plain copy none, and its report" {
	chown 65534 "$D/probe"
	chmod 4755 "$D/probe"
	capture run "$CLI" -- "$D/probe" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/run.out")" "bind=-1 errno=98"
	assert_file_has "$T/run.err" "bindwatch: $D/probe is set-user-ID (owner uid 65534): the loader ignores LD_PRELOAD there"
	assert_file_lacks "$T/run.err" "held by"
	chmod 0755 "$D/probe"
	capture plain "$CLI" -- "$D/probe" 127.0.0.1 "$port"
	assert_equal "$(notice_lines "$T/plain.err")" 0
	assert_file_has "$T/plain.err" "held by pid $HOLDER_PID "
}

@test "setid: a program with file capabilities run by a non-root user gets the notice" {
	command -v setcap >/dev/null || skip "setcap not installed (libcap2-bin)"
	setcap cap_net_bind_service+ep "$D/probe" || skip "this file system does not take security.capability"
	capture run setpriv --reuid 65534 --regid 65534 --clear-groups "$CLI" -- "$D/probe" 127.0.0.1 "$port"
	assert_equal "$(cat "$T/run.out")" "bind=-1 errno=98"
	assert_equal "$(notice_lines "$T/run.err")" 1
	assert_file_has "$T/run.err" "bindwatch: $D/probe has file capabilities (security.capability): the loader ignores LD_PRELOAD there"
	assert_file_lacks "$T/run.err" "held by"
	# Root's own run of it is not secure execution: watched, no notice.
	capture root "$CLI" -- "$D/probe" 127.0.0.1 "$port"
	assert_equal "$(notice_lines "$T/root.err")" 0
	assert_file_has "$T/root.err" "held by pid $HOLDER_PID "
}
