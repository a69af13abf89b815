#!/usr/bin/env bats
# The benchmark runs here only to prove it works (tiny fixture, no timing
# assertions): every tool must name the same holder, or it fails loudly.
load common

@test "bench: tiny fixture, all tools agree on the holder, shim cost measured" {
	[ "$(id -u)" -eq 0 ] || skip "the benchmark fixture needs root (a second uid)"
	command -v valgrind >/dev/null || skip "valgrind not installed"
	run timeout 600 python3 "$BW_SRCDIR/tools/bench/bench" --procs 20 --fds 10 --runs 1 --iters 200 \
		--tools bindwatch,ss,fuser,lsof
	assert_success
	assert_output --partial "same uid: 20 processes x 10 fds"
	assert_output --partial "own uid: 20 processes x 10 fds"
	assert_output --regexp "bindwatch +[0-9.]+ms +1\.0x"
	assert_output --regexp "ss -p +[0-9.]+ms"
	assert_output --partial "heap allocations under the shim"
	assert_output --regexp "difference 0: per-call allocations"
	refute_output --partial "MISMATCH"
}

@test "bench --fdscan: every way to read an fd reads the same fds and sockets on a tiny fixture" {
	[ "$(id -u)" -eq 0 ] || skip "the benchmark fixture needs root (a cgroup and a second uid)"
	run timeout 300 python3 "$BW_SRCDIR/tools/bench/bench" --fdscan --procs 20 --fds 10 --runs 1
	assert_success
	for m in list readlink probe lstat stat statx fdinfo uring kcmp; do
		assert_output --regexp "$m +1 thread +fastest +[0-9.]+ ms, least CPU +[0-9.]+ ms = +[0-9]+ ns/fd"
	done
	assert_output --regexp "probe +2 fork +fastest"
	assert_output --regexp "kcmp .* fds, 1 the holder's\)"
	refute_output --partial "MISMATCH"
}

@test "sigdelay: signals sent to a supervised program during wait:N reach its handler (tiny run, no timing asserted)" {
	"$BINDWATCH_CLI" --supervise -- true 2>/dev/null || skip "no seccomp user notification here"
	run timeout 120 python3 "$BW_SRCDIR/tools/bench/sigdelay" --runs 3 --idle 0.5 \
		--cli "$BINDWATCH_CLI" --probe "$(dirname "$BINDWATCH_CLI")/bench/sigprobe"
	assert_success
	assert_output --regexp "signal to handler, 3 runs: median [0-9.]+ ms, .* CPU during the wait: [0-9.]+%"
}

@test "waitlat: another thread's bind of a free port returns while one thread of a supervised program is in wait:N (tiny run, no timing asserted)" {
	"$BINDWATCH_CLI" --supervise -- true 2>/dev/null || skip "no seccomp user notification here"
	run timeout 120 python3 "$BW_SRCDIR/tools/bench/waitlat" --runs 1 --wait 20 --cli "$BINDWATCH_CLI"
	assert_success
	assert_output --regexp "while another thread is in wait:20, 1 runs: median [0-9.]+ ms"
}
