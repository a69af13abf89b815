#!/usr/bin/env bats
# User names like ps: the shim reads all of /etc/passwd (no NSS inside a
# host process), the CLI asks NSS (getpwuid_r). Each test runs its lookups
# in a private mount namespace (unshare -m) over a planted /etc/passwd or
# NSS configuration; the host's files are never touched.

load common

setup() {
	T=$BATS_TEST_TMPDIR
	[ "$(id -u)" = 0 ] || skip "needs root for unshare -m and setpriv"
	unshare -m true 2>/dev/null || skip "unshare -m is not allowed here"
}

# in_ns SETUP CMD...: runs CMD in a new mount namespace after the shell
# snippet SETUP (bind mounts) ran there.
in_ns() {
	local setup=$1
	shift
	unshare -m sh -c "$setup"' && exec "$@"' in_ns "$@"
}

@test "shim: a user listed after the first 16 KiB of /etc/passwd is named in the report" {
	uid=54322
	{
		cat /etc/passwd
		# 40 KiB of other users first: the entry we want sits far past 16 KiB.
		for i in $(seq 1 400); do
			printf 'filler%05d:x:%d:%d:%s:/nonexistent:/usr/sbin/nologin\n' "$i" $((60000 + i)) $((60000 + i)) "$(printf '%060d' 0)"
		done
		printf 'bwfaruser:x:%d:%d::/nonexistent:/usr/sbin/nologin\n' "$uid" "$uid"
	} >"$T/passwd"
	[ "$(grep -b '^bwfaruser:' "$T/passwd" | cut -d: -f1)" -gt 16384 ]
	port=$(free_port)
	bg setpriv --reuid "$uid" --regid "$uid" --clear-groups "$PYTHON3" "$BW_SRCDIR/tests/helpers/hold.py" tcp 0.0.0.0 "$port"
	wait_listen "$port"

	in_ns "mount --bind '$T/passwd' /etc/passwd" \
		"$CLI" --json -- "$PROBE" 0.0.0.0 "$port" >"$T/out" 2>"$T/err" || true
	run bw_json "$T/err" 'j["holders"][0]["uid"], j["holders"][0]["user"]'
	assert_output "($uid, 'bwfaruser')"
}

@test "who: user names come from NSS (a systemd userdb record no passwd file has)" {
	uid=54321
	mkdir -p "$T/userdb"
	printf '{"userName":"bwnssuser","uid":%d,"gid":%d,"disposition":"regular"}\n' "$uid" "$uid" >"$T/userdb/bwnssuser.user"
	ln -s bwnssuser.user "$T/userdb/$uid.user"
	printf 'passwd: files systemd\ngroup: files systemd\n' >"$T/nsswitch.conf"
	ns_setup="mount -t tmpfs bw-run /run && mkdir /run/userdb && cp -P '$T'/userdb/* /run/userdb/ && mount --bind '$T/nsswitch.conf' /etc/nsswitch.conf"
	in_ns "$ns_setup" getent passwd "$uid" | grep -q '^bwnssuser:' ||
		skip "nss-systemd does not read userdb drop-ins here"
	! grep -q ":$uid:" /etc/passwd
	port=$(free_port)
	bg setpriv --reuid "$uid" --regid "$uid" --clear-groups "$PYTHON3" "$BW_SRCDIR/tests/helpers/hold.py" tcp 0.0.0.0 "$port"
	wait_listen "$port"

	run in_ns "$ns_setup" "$CLI" who -H "$port"
	assert_success
	assert_output --partial "user=bwnssuser($uid)"
	run in_ns "$ns_setup" "$CLI" who -H -t
	assert_line --regexp "0\\.0\\.0\\.0:$port .*user=bwnssuser\\($uid\\)"
	# The shim inside the failing program never asks NSS (it could lock or
	# open sockets there): only the number.
	in_ns "$ns_setup" "$CLI" --json -- "$PROBE" 0.0.0.0 "$port" >"$T/out" 2>"$T/err" || true
	run bw_json "$T/err" 'j["holders"][0]["uid"], j["holders"][0]["user"]'
	assert_output "($uid, None)"
}
