#!/usr/bin/env bats
# Stack frames of binaries whose symbols were split off, as Debian ships
# them: the debug file under /usr/lib/debug/.build-id/xx/yyyy.debug (found
# by the NT_GNU_BUILD_ID note), or named by .gnu_debuglink. The helper is
# split with objcopy here; the build-id tree is a tmpfs over
# /usr/lib/debug in a private mount namespace (the host's is untouched).

load common
load stack_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	command -v cc >/dev/null && command -v objcopy >/dev/null || skip "needs cc and objcopy (binutils)"
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
}

# split NAME VARIANT BUILDID(--build-id|--build-id=none): builds $T/NAME
# with -g, keeps its debug info in $T/NAME.debug and strips the binary of
# every symbol.
split() {
	write_nested_c "$T/$1.c" "$2"
	cc -g -O1 -Wl,"$3" -o "$T/$1" "$T/$1.c"
	objcopy --only-keep-debug "$T/$1" "$T/$1.debug"
	objcopy --strip-all "$T/$1"
	! readelf -S "$T/$1" | grep -q '\.symtab'
}

# frames FILE: the function names of the JSON record's frames in FILE.
frames() {
	bw_json "$1" '" ".join(f["symbol"] or "??" for f in j["stack"][:4])'
}

@test "stack: a stripped binary gets its function names from /usr/lib/debug/.build-id" {
	[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null || skip "needs root and unshare -m"
	[ -d /usr/lib/debug ] || skip "no /usr/lib/debug to mount over"
	split nested 0 --build-id
	id=$(readelf -n "$T/nested" | awk '/Build ID:/ { print $3 }')
	[ -n "$id" ]
	# Without the debug file: no names.
	capture plain "$CLI" --json -- "$T/nested" "$P"
	run frames "$T/plain.err"
	assert_output "?? ?? ?? ??"
	unshare -m sh -c 'mount -t tmpfs bw-debug /usr/lib/debug &&
		mkdir -p "/usr/lib/debug/.build-id/${2%"${2#??}"}" &&
		cp "$3" "/usr/lib/debug/.build-id/${2%"${2#??}"}/${2#??}.debug" &&
		exec "$4" --json -- "$5" "$6"' sh "" "$id" "$T/nested.debug" "$CLI" "$T/nested" "$P" \
		>"$T/dbg.out" 2>"$T/dbg.err" || true
	run frames "$T/dbg.err"
	assert_output "level3 level2 level1 main"
}

@test "stack: .gnu_debuglink names the debug file (next to the binary, in .debug/); another build's is refused" {
	split nested 0 --build-id=none
	objcopy --add-gnu-debuglink="$T/nested.debug" "$T/nested"
	mkdir -p "$T/.debug"
	mv "$T/nested.debug" "$T/.debug/nested.debug"
	capture dl "$CLI" --json -- "$T/nested" "$P"
	run frames "$T/dl.err"
	assert_output "level3 level2 level1 main"
	# The text report names them too.
	capture txt "$CLI" -- "$T/nested" "$P"
	assert_file_has "$T/txt.err" " level3+0x"

	# With build-ids, a debug file of another build is not trusted.
	split good 0 --build-id
	split other 1 --build-id
	objcopy --add-gnu-debuglink="$T/other.debug" "$T/good"
	capture bad "$CLI" --json -- "$T/good" "$P"
	run frames "$T/bad.err"
	assert_output "?? ?? ?? ??"
}
