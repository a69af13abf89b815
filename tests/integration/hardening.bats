#!/usr/bin/env bats
# Hardening: the shim under many threads, in a signal handler, across fork,
# exec, dlopen and early constructors, with stdio closed, in secure-execution
# mode, with odd addresses, and under ThreadSanitizer. Each test checks what
# the program (or a reader of the report) can observe.

load common

SECURE_LIB=
SECURE_DIR=
DEVLOG_OURS=

setup() {
	T=$BATS_TEST_TMPDIR
	# A sanitizer build is several times slower: fewer iterations there.
	if [ -n "${BW_SANITIZER_PRELOAD:-}" ]; then
		STRESS_N=2000
	else
		STRESS_N=10000
	fi
}

teardown() {
	kill_bg
	# Setuid copies made by the secure-execution test, and a /dev/log
	# only if this file created it (none existed before).
	[ -n "$SECURE_LIB" ] && rm -f "$SECURE_LIB"
	[ -n "$SECURE_DIR" ] && rm -rf "$SECURE_DIR"
	[ -n "$DEVLOG_OURS" ] && rm -f /dev/log
	true
}

# netns_run CMD: runs the shell command CMD in a private network and pid
# namespace, with a python3 listener holding 127.0.0.1:$PORT (PORT is
# exported to CMD; picked by the kernel there). Only a handful of processes
# are visible in that /proc, so a full diagnosis costs ~1 ms instead of
# ~15 ms and thousands of reported conflicts fit the time budget. Exported
# to CMD as well: T, HELPERS, PRELOAD, SHIM. Everything in the namespace
# dies with it (unshare --kill-child). Output and status as from CMD.
netns_run() {
	export -f poll_until ss_has wait_listen
	T=$T HELPERS=$HELPERS PRELOAD=$PRELOAD SHIM=$SHIM PYTHON3=$PYTHON3 \
		unshare -n -p -f --mount-proc --kill-child bash -c '
set -e
ip link set lo up
PORT=$("$PYTHON3" -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")
"$PYTHON3" "$BW_SRCDIR/tests/helpers/hold.py" tcp 127.0.0.1 "$PORT" >/dev/null 2>&1 &
wait_listen "$PORT" || { echo "netns_run: holder never listened" >&2; exit 90; }
export PORT T HELPERS PRELOAD SHIM
set +e
bash -c "$1"' netns_run "$1"
}

need_netns() {
	unshare -n -p -f --mount-proc --kill-child true 2>/dev/null ||
		skip "unshare -n -p (network and pid namespaces) is not available"
}

# json_tally FILE: every line of FILE must be one JSON object (a torn or
# interleaved record fails to parse). Prints
#   lines=N bad=B bind_conflict=C repeated=K repeated_sum=R
json_tally() {
	"$PYTHON3" - "$1" <<'PY'
import json, sys
n = bad = conflicts = reps = rep_sum = 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        n += 1
        try:
            j = json.loads(raw)
        except ValueError:
            bad += 1
            if bad <= 3:
                sys.stderr.write("unparsable line %d: %r\n" % (n, raw[:200]))
            continue
        if j.get("event") == "bind_conflict":
            conflicts += 1
        elif j.get("event") == "repeated":
            reps += 1
            rep_sum += j["count"]
print("lines=%d bad=%d bind_conflict=%d repeated=%d repeated_sum=%d" % (n, bad, conflicts, reps, rep_sum))
PY
}

# --- 1. many threads ---------------------------------------------------------

@test "threads: 32 threads x N binds (every 50th a conflict), rate limit off: no hang, every conflict logged once, no torn record" {
	need_netns
	log=$T/stress.log
	start=$SECONDS
	run netns_run "BINDWATCH_LOG='$log' BINDWATCH_FORMAT=json BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=0 \
		LD_PRELOAD=\"\$PRELOAD\" timeout -s KILL 150 \"\$HELPERS/stress_bind\" -e 50 \"\$PORT\" $STRESS_N"
	echo "# stress_bind -e 50 N=$STRESS_N: $((SECONDS - start)) s, status $status" >&3
	# 137: killed by timeout (a deadlock); 128+N: a crash.
	assert_success
	conflicts=$((32 * STRESS_N / 50))
	assert_output "threads=32 binds=$((32 * STRESS_N)) conflicts=$conflicts ok=$((32 * STRESS_N - conflicts)) other=0"
	run json_tally "$log"
	echo "# $output" >&3
	assert_output "lines=$conflicts bad=0 bind_conflict=$conflicts repeated=0 repeated_sum=0"
}

@test "threads: with the default rate limiter, one full report and 'repeated' counts make up every conflict (40 runs, all threads racing on the first)" {
	need_netns
	# stress_bind's first bind in every thread is the conflict: 32 threads
	# meet the empty rate-limit table at once (a race window of a few
	# instructions, hence many short runs). Each run takes well under the
	# default 10 s window: exactly one full report is due per run.
	runs=40
	run netns_run "for i in \$(seq 1 $runs); do
		BINDWATCH_LOG=\"\$T/rl.\$i.log\" BINDWATCH_FORMAT=json BINDWATCH_STACK=0 \
			LD_PRELOAD=\"\$PRELOAD\" timeout -s KILL 60 \"\$HELPERS/stress_bind\" -e 10 \"\$PORT\" 100 || exit \$?
	done"
	assert_success
	for i in $(seq 1 $runs); do
		assert_line --index $((i - 1)) "threads=32 binds=3200 conflicts=320 ok=2880 other=0"
	done
	summary= dup=0
	for i in $(seq 1 $runs); do
		tally=$(json_tally "$T/rl.$i.log")
		[[ $tally =~ bad=0\ bind_conflict=([0-9]+)\ repeated=[0-9]+\ repeated_sum=([0-9]+) ]]
		full=${BASH_REMATCH[1]} sum=${BASH_REMATCH[2]}
		# Nothing lost: every conflict is either reported or counted.
		[ $((full + sum)) -eq 320 ] || { echo "run $i: $tally" >&2; false; }
		if [ "$full" -ne 1 ]; then
			dup=$((dup + 1))
			summary+=" run$i:full=$full,repeated=$sum"
		fi
	done
	echo "# runs with more than one full report: $dup of $runs;$summary" >&3
	[ "$dup" -eq 0 ] || { echo "identical conflicts within one window got more than one full report:$summary" >&2; false; }
}

# --- 2. signal handlers ----------------------------------------------------

# MALLOC_PERTURB_ makes glibc fill every block it hands out or takes back:
# the main thread then spends most of its time inside malloc/free with the
# arena lock held, which is where SIGALRM should find it (meson test sets it
# too).

# sig_bind_run STACK LOG: sig_bind for 2 s in netns_run (SIGALRM every 1 ms,
# each handler binding the held port) with BINDWATCH_STACK=STACK, JSON
# records in LOG, no rate limit; killed after 30 s. Sets run's variables.
sig_bind_run() {
	local start=$SECONDS
	run netns_run "MALLOC_PERTURB_=165 BINDWATCH_LOG='$2' BINDWATCH_FORMAT=json BINDWATCH_STACK=$1 BINDWATCH_RATELIMIT=0 \
		LD_PRELOAD=\"\$PRELOAD\" timeout -s KILL 30 \"\$HELPERS/sig_bind\" \"\$PORT\" 2000"
	echo "# sig_bind STACK=$1: $((SECONDS - start)) s, status $status: $output" >&3
}

@test "signal handler: bind() from SIGALRM every 1 ms interrupting malloc/free for 2 s, BINDWATCH_STACK=0: finishes, every bind -1/EADDRINUSE, every one logged" {
	need_netns
	log=$T/sig.log
	sig_bind_run 0 "$log"
	assert_success
	[[ $output =~ ^handler_calls=([0-9]+)\ eaddrinuse=([0-9]+)\ other=0\ loops=[0-9]+$ ]]
	calls=${BASH_REMATCH[1]}
	[ "$calls" -gt 100 ]
	[ "${BASH_REMATCH[2]}" -eq "$calls" ]
	run json_tally "$log"
	assert_output "lines=$calls bad=0 bind_conflict=$calls repeated=0 repeated_sum=0"
}

@test "signal handler: the same with BINDWATCH_STACK=1 (may take the loader lock, see SAFETY CONTRACT) still finishes" {
	need_netns
	# 137: killed by timeout: the handler's bind never returned.
	sig_bind_run 1 "$T/sig1.log"
	assert_success
	assert_output --regexp '^handler_calls=[1-9][0-9]* eaddrinuse=[0-9]+ other=0 loops=[0-9]+$'
}

# --- 3. process life ---------------------------------------------------------

@test "fork: 200 children forked while 4 threads are unwinding each get their own report and exit 0" {
	need_netns
	log=$T/fork.log
	# Rate limit off: the parent's threads are in the full failure path
	# (stack capture included, the default) whenever fork() happens, and
	# trace on: each of their successful binds walks the stack as well.
	# So children are born with a copy of the loader's lock taken (without
	# the fork guard in shim/stack/unwind.c, 1 to 3 of 200 hung here). A child
	# that does not exit within 5 s is reported as hung.
	run netns_run "BINDWATCH_LOG='$log' BINDWATCH_FORMAT=json BINDWATCH_RATELIMIT=0 BINDWATCH_TRACE=all \
		LD_PRELOAD=\"\$PRELOAD\" timeout -s KILL 600 \"\$HELPERS/life_bind\" fork \"\$PORT\" 200"
	echo "# $(printf '%s\n' "${lines[@]}" | grep -c ' status=0$') of 200 children exited 0; others: $(printf '%s\n' "${lines[@]}" | grep ' status=' | grep -v ' status=0$' | tr '\n' ' ')" >&3
	assert_success
	for k in $(seq 1 200); do
		assert_line "child $k status=0"
		assert_line --regexp "^child $k pid=[0-9]+ bind=-1 errno=98$"
	done
	# One bind_conflict record per child pid, naming the child; each has
	# a stack, or says why it has none.
	pids=$(printf '%s\n' "${lines[@]}" | sed -n 's/^child [0-9]* pid=\([0-9]*\) .*/\1/p' | sort -n | tr '\n' ' ')
	run "$PYTHON3" -c 'import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = set(int(p) for p in sys.argv[2].split())
got = [r for r in recs if r["event"] == "bind_conflict" and r["pid"] in want]
print("children=%d reported=%d distinct=%d" % (len(want), len(got), len(set(r["pid"] for r in got))))
why = set(r.get("stack_missing") for r in got if not r["stack"])
print("stackless=%d reasons=%s" % (sum(1 for r in got if not r["stack"]), sorted(why)))' "$log" "$pids"
	echo "# ${lines[1]}" >&3
	assert_line "children=200 reported=200 distinct=200"
	assert_line --regexp "^stackless=[0-9]+ reasons=(\[\]|\['this process was forked while another thread was unwinding'\])$"
}

@test "vfork+exec and posix_spawn: a program started either way is reported, with errno and exit status unchanged" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	for how in vfork spawn; do
		capture "$how" env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 \
			"$HELPERS/life_bind" "$how" "$PROBE" 127.0.0.1 "$port"
		assert_equal "$status" 0
		assert_equal "$(cat "$T/$how.out")" "$(printf 'bind=-1 errno=98\nexit=1')"
		assert_file_has "$T/$how.err" "bindwatch:   conflict_probe["
		assert_file_has "$T/$how.err" "127.0.0.1:$port/tcp) failed: Address already in use"
		assert_file_has "$T/$how.err" "held by pid $HOLDER_PID "
	done
}

@test "exec chain: sh execs python3, which execs python3, which binds: still reported (LD_PRELOAD inherited)" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	cat >"$T/chain.sh" <<'SH'
#!/bin/sh
exec "$PYTHON3" -c 'import os, sys
code = """import os, socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    print("bind=0 pid=%d" % os.getpid())
except OSError as e:
    print("bind=-1 errno=%d pid=%d" % (e.errno, os.getpid()))
"""
os.execv(sys.executable, [sys.executable, "-c", code, sys.argv[1]])' "$1"
SH
	capture chain env PYTHON3="$PYTHON3" LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 sh "$T/chain.sh" "$port"
	assert_equal "$status" 0
	[[ $(cat "$T/chain.out") =~ ^bind=-1\ errno=98\ pid=([0-9]+)$ ]]
	pid=${BASH_REMATCH[1]}
	assert_file_has "$T/chain.err" "[$pid] bind(fd "
	assert_file_has "$T/chain.err" "held by pid $HOLDER_PID "
}

@test "early constructor: a library that binds in its constructor (LD_PRELOAD before the shim, after it, or DT_NEEDED) gets the right errno and a report" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	asan=${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }
	# Which constructor runs first is the loader's business: record it.
	for order in early-first shim-first needed; do
		case $order in
		early-first) pre="$asan$HELPERS/libearly.so $SHIM" prog=$HELPERS/conflict_probe ;;
		shim-first) pre="$asan$SHIM $HELPERS/libearly.so" prog=$HELPERS/conflict_probe ;;
		needed) pre=$PRELOAD prog=$HELPERS/early_main ;;
		esac
		rm -f "$T/ld.$order".*
		capture "$order" env EARLY_PORT="$port" BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=0 LD_PRELOAD="$pre" \
			LD_DEBUG=files LD_DEBUG_OUTPUT="$T/ld.$order" "$prog" 127.0.0.1 "$port"
		# The constructor's bind got the kernel's answer ...
		assert_file_has "$T/$order.out" "early ctor bind=-1 errno=98"
		# ... and was reported (plus conflict_probe's own bind, where it runs).
		assert_file_has "$T/$order.err" "127.0.0.1:$port/tcp) failed: Address already in use"
		assert_file_has "$T/$order.err" "held by pid $HOLDER_PID "
		inits=$(grep -ho 'calling init: .*\(libearly\|libbindwatch\)[^ ]*' "$T/ld.$order".* |
			sed 's|.*/||' | tr '\n' ' ')
		echo "# $order: init order: $inits" >&3
	done
	assert_file_has "$T/needed.out" "main sees: early ctor bind=-1 errno=98"
	assert_equal "$(grep -c 'failed: Address already in use' "$T/early-first.err")" 2
	# As a DT_NEEDED (and after the shim in LD_PRELOAD) libearly's
	# constructor runs before the shim's: the lazy start-up path was used.
	for order in needed shim-first; do
		inits=$(grep -ho 'calling init: .*\(libearly\|libbindwatch\)[^ ]*' "$T/ld.$order".* | sed 's|.*/||' | tr '\n' ' ')
		assert_equal "$inits" "libearly.so libbindwatch.so "
	done
}

@test "start-up race: a bind that fails while another thread is still loading the settings passes through with its errno, unreported; the loading thread's is reported" {
	command -v cc >/dev/null || skip "no C compiler"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	cat >"$T/librace.c" <<'C'
/* A library whose constructor runs before the shim's: a thread it starts
 * binds a taken port first, so the shim loads its settings in that thread;
 * isatty(), which the shim calls while loading, holds that thread until
 * this (the loading) thread has bound the taken port too. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t racer;
static int racer_started, in_load, ctor_done;

int isatty(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "isatty");
	pthread_mutex_lock(&mu);
	if (racer_started && pthread_equal(pthread_self(), racer) && !in_load) {
		struct timespec t;
		in_load = 1;
		pthread_cond_broadcast(&cv);
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 20;
		while (!ctor_done && pthread_cond_timedwait(&cv, &mu, &t) == 0)
			;
	}
	pthread_mutex_unlock(&mu);
	return real(fd);
}

static void try_bind(const char *who)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(getenv("RACE_PORT")))};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r, e;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	errno = 0;
	r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	close(fd);
	printf("%s bind=%d errno=%d\n", who, r, e);
	fflush(stdout);
}

static void *race(void *arg)
{
	(void)arg;
	try_bind("racer");
	return NULL;
}

__attribute__((constructor)) static void ctor(void)
{
	struct timespec t;
	int loading;
	if (!getenv("RACE_PORT"))
		return;
	pthread_mutex_lock(&mu);
	racer_started = 1;
	pthread_create(&racer, NULL, race, NULL);
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 20;
	while (!in_load && pthread_cond_timedwait(&cv, &mu, &t) == 0)
		;
	loading = in_load;
	pthread_mutex_unlock(&mu);
	printf("racer is loading the settings: %s\n", loading ? "yes" : "no");
	try_bind("meanwhile");
	pthread_mutex_lock(&mu);
	ctor_done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(racer, NULL);
}
C
	cc -shared -fPIC -O1 -pthread -o "$T/librace.so" "$T/librace.c" -ldl
	asan=${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }
	# The shim first in LD_PRELOAD: librace's constructor runs before the
	# shim's (see "early constructor" above), its isatty() interposes the
	# one the shim calls while loading.
	capture race env RACE_PORT="$port" BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=0 \
		LD_PRELOAD="$asan$SHIM $T/librace.so" "$HELPERS/conflict_probe" 127.0.0.1 "$port"
	assert_file_has "$T/race.out" "racer is loading the settings: yes"
	assert_file_has "$T/race.out" "meanwhile bind=-1 errno=98"
	assert_file_has "$T/race.out" "racer bind=-1 errno=98"
	# The racer's failure and conflict_probe's own, after start-up: two
	# reports, none from half-loaded settings (no colour: not a terminal).
	assert_equal "$(grep -c 'failed: Address already in use' "$T/race.err")" 2
	! grep -q $'\e\\[' "$T/race.err"
}

@test "dlopen: a module loaded later that binds (in its constructor and when called) is reported both times" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	capture dl env EARLY_PORT="$port" BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=0 LD_PRELOAD="$PRELOAD" \
		"$HELPERS/life_bind" dlopen "$HELPERS/libearly.so" "$port"
	assert_equal "$status" 0
	assert_equal "$(cat "$T/dl.out")" "$(printf 'early ctor bind=-1 errno=98\ndlopen bind=-1 errno=98')"
	assert_equal "$(grep -c "life_bind\[[0-9]*\] bind(fd [0-9]*, 127.0.0.1:$port/tcp) failed" "$T/dl.err")" 2
	assert_equal "$(grep -c "held by pid $HOLDER_PID " "$T/dl.err")" 2
}

@test "close_range(0, ~0U): three conflicts after closing every fd are all in BINDWATCH_LOG, and the program's fd table is as without the shim" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	log=$T/closeall.log
	capture plain "$HELPERS/life_bind" closeall "$port" 3 "$T/plain.result"
	assert_equal "$status" 1
	assert_equal "$(cat "$T/plain.result")" "bind=-1 errno=98 binds=3 fds=0"
	# Default settings (the stack included), as a daemon gets them.
	capture shim env BINDWATCH_LOG="$log" BINDWATCH_RATELIMIT=0 LD_PRELOAD="$PRELOAD" \
		"$HELPERS/life_bind" closeall "$port" 3 "$T/shim.result"
	assert_equal "$status" 1
	assert_equal "$(grep -c "life_bind\[[0-9]*\] bind(fd 0, 127.0.0.1:$port/tcp) failed" "$log")" 3
	assert_equal "$(grep -c "held by pid $HOLDER_PID " "$log")" 3
	assert_equal "$(cat "$T/shim.result")" "$(cat "$T/plain.result")"
}

@test "stderr closed: the socket lands on fd 2; the program prints and exits as without the shim (no SIGPIPE)" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	# conflict_probe's socket() gets fd 2; a report written there goes
	# into the socket that just failed to bind.
	status=0
	(exec 2>&-; "$PROBE" 127.0.0.1 "$port") >"$T/plain.out" || status=$?
	plain=$status
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=98"
	status=0
	(exec 2>&-; LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 127.0.0.1 "$port") \
		>"$T/shim.out" || status=$?
	echo "# exit without the shim $plain, with it $status" >&3
	assert_equal "$(cat "$T/shim.out")" "$(cat "$T/plain.out")"
	assert_equal "$status" "$plain"
}

@test "stderr closed: a TCP connection accepted onto fd 2 receives nothing from the shim" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	status=0
	(exec 2>&-; "$HELPERS/life_bind" stderr-conn "$port") >"$T/plain.out" || status=$?
	assert_equal "$status" 0
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=98 peer_received=0"
	status=0
	(exec 2>&-; LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$HELPERS/life_bind" stderr-conn "$port") \
		>"$T/shim.out" || status=$?
	assert_equal "$status" 0
	# The report must not become part of the program's own TCP stream.
	assert_equal "$(cat "$T/shim.out")" "bind=-1 errno=98 peer_received=0"
}

@test "stderr closed and no BINDWATCH_LOG: the record goes to /dev/log, the program is unchanged" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	syslog=
	if [ ! -e /dev/log ]; then
		syslog=$T/syslog.txt
		fake_syslog "$syslog"
		[ -S /dev/log ]
		DEVLOG_OURS=1
	fi
	capture plain "$HELPERS/life_bind" closeall "$port" 1 "$T/plain.result"
	plain=$status
	# BINDWATCH_STACK=0: the fd count is about stderr here, not the unwinder.
	capture shim env BINDWATCH_STACK=0 LD_PRELOAD="$PRELOAD" \
		"$HELPERS/life_bind" closeall "$port" 1 "$T/shim.result"
	assert_equal "$status" "$plain"
	assert_equal "$(cat "$T/shim.result")" "$(cat "$T/plain.result")"
	if [ -n "$syslog" ]; then
		poll_until 100 test -s "$syslog" || true
		assert_file_has "$syslog" "<28>bindwatch["
		assert_file_has "$syslog" "bind(fd 0, 127.0.0.1:$port/tcp) failed: Address already in use"
	else
		echo "# /dev/log belongs to the system logger: record not checked" >&3
	fi
}

# --- 4. footprint ------------------------------------------------------------

# leak_check OUTPUT N: leak_bind's line shows N conflicts and no other
# result; the heap (allocator bytes in use) after the last bind equals the
# count after warm-up (no growth per call) and the count before the first
# bind (the failure path never calls malloc: SAFETY CONTRACT); fds and
# mappings are as before; resident memory after the last bind is within
# 64 kB of the count after warm-up.
leak_check() {
	local line
	line=$(grep '^conflicts=' <<<"$1")
	[[ $line =~ conflicts=([0-9]+)\ other=0\ fds=([0-9]+)/([0-9]+)\ heap=([0-9]+)/([0-9]+)/([0-9]+)\ maps=([0-9]+)/([0-9]+)\ rss_kb=([0-9]+)/([0-9]+)/([0-9]+) ]] ||
		{ echo "unexpected: $1" >&2; return 1; }
	local m=("${BASH_REMATCH[@]}")
	assert_equal "conflicts ${m[1]}" "conflicts $2"
	# after (actual) against before (expected), all at once
	assert_equal "fds=${m[3]} heap=${m[6]} maps=${m[8]} heap-growth-after-warm-up=$((m[6] - m[5]))" \
		"fds=${m[2]} heap=${m[4]} maps=${m[7]} heap-growth-after-warm-up=0"
	[ $((m[11] - m[10])) -le 64 ] || { echo "rss grew from ${m[10]} to ${m[11]} kB" >&2; return 1; }
}

@test "footprint: 10,000 reported conflicts in one process (BINDWATCH_STACK=0) leave fds, heap, mappings and RSS as they were" {
	need_netns
	log=$T/leak.log
	start=$SECONDS
	run netns_run "BINDWATCH_LOG='$log' BINDWATCH_RATELIMIT=0 BINDWATCH_STACK=0 LD_PRELOAD=\"\$PRELOAD\" \
		timeout -s KILL 150 \"\$HELPERS/leak_bind\" \"\$PORT\" 10000"
	echo "# STACK=0 $((SECONDS - start)) s: $(grep '^conflicts=' <<<"$output")" >&3
	assert_success
	leak_check "$output" 10000
	assert_equal "$(grep -c 'failed: Address already in use' "$log")" 10000
}

@test "footprint: the same with the default stack capture (1,000 conflicts): fds and mappings unchanged, the heap untouched (no malloc on the failure path)" {
	need_netns
	log=$T/leak1.log
	start=$SECONDS
	run netns_run "BINDWATCH_LOG='$log' BINDWATCH_RATELIMIT=0 LD_PRELOAD=\"\$PRELOAD\" \
		timeout -s KILL 150 \"\$HELPERS/leak_bind\" \"\$PORT\" 1000"
	echo "# STACK=1 $((SECONDS - start)) s: $(grep '^conflicts=' <<<"$output")" >&3
	assert_success
	assert_equal "$(grep -c 'failed: Address already in use' "$log")" 1000
	leak_check "$output" 1000
}

@test "errno: ENOTSOCK (a pipe) and EAFNOSUPPORT (AF_INET6 address, AF_INET socket) are the same with and without the shim, and unreported" {
	port=$(free_port)
	mkdir "$T/a" "$T/b"
	capture plain "$HELPERS/odd_sockaddr" "$port" "$T/a"
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_RATELIMIT=0 "$HELPERS/odd_sockaddr" "$port" "$T/b"
	for line in "pipe fd (ENOTSOCK): ret=-1 errno=88" "inet6 address on inet socket: ret=-1 errno=97" \
		"unknown family on inet socket: ret=-1 errno=97"; do
		assert_file_has "$T/plain.out" "$line"
		assert_file_has "$T/shim.out" "$line"
	done
	# Reports only for the EADDRINUSE answers (the helper's own AF_UNIX
	# names here: nothing holds the port).
	assert_equal "$(grep -c 'failed: ' "$T/shim.err")" "$(grep -c 'errno=98' "$T/shim.out")"
}

# --- 5. secure execution -------------------------------------------------------

@test "secure-exec (setuid root, run as nobody): BINDWATCH_LOG, BINDWATCH_REMAP and BINDWATCH_UNIX_STALE are ignored; the report goes to stderr" {
	need_stale_certain
	[ "$(id -u)" -eq 0 ] || skip "needs root to make setuid-root copies"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	# ld.so(8): in secure-execution mode LD_PRELOAD names with a slash are
	# ignored, and a name without one is loaded only from the standard
	# search directories and only if the file is set-user-ID.
	multiarch=$(gcc -print-multiarch 2>/dev/null || true)
	trusted=/usr/lib/$multiarch
	[ -n "$multiarch" ] && [ -d "$trusted" ] || skip "no multiarch system library directory"
	SECURE_DIR=$(mktemp -d /var/tmp/bw-secure.XXXXXX)
	chmod 755 "$SECURE_DIR"
	if findmnt -no OPTIONS -T "$SECURE_DIR" | grep -qw nosuid; then
		skip "/var/tmp is mounted nosuid"
	fi
	name=libbindwatch-hardening-test-$$.so
	SECURE_LIB=$trusted/$name
	install -m 4755 -o root -g root "$SHIM" "$SECURE_LIB"
	install -m 4755 -o root -g root "$HELPERS/life_bind" "$SECURE_DIR/life_bind"
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	stale=$SECURE_DIR/stale.sock
	make_stale() {
		rm -f "$stale"
		"$PYTHON3" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$stale"
	}
	bw_env=(BINDWATCH_LOG="$SECURE_DIR/bw.log" BINDWATCH_PORT_FILE="$SECURE_DIR/ports"
		BINDWATCH_REMAP="$port=next" BINDWATCH_UNIX_STALE=unlink BINDWATCH_STACK=0)

	# Control, not secure (root runs its own copy): every setting acts.
	make_stale
	capture control env "${bw_env[@]}" LD_PRELOAD="${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }$name" \
		"$SECURE_DIR/life_bind" secure "$port" "$stale"
	assert_equal "$status" 0
	assert_equal "$(cat "$T/control.out")" "$(printf 'at_secure=0 euid=0\ntcp bind=0 errno=0\nunix bind=0 errno=0')"
	[ -s "$SECURE_DIR/bw.log" ]
	rm -f "$SECURE_DIR/bw.log" "$SECURE_DIR/ports"

	# Setuid root, started by nobody: AT_SECURE.
	make_stale
	capture secure setpriv --reuid 65534 --regid 65534 --clear-groups \
		env "${bw_env[@]}" LD_PRELOAD="$name" "$SECURE_DIR/life_bind" secure "$port" "$stale"
	assert_equal "$status" 0
	assert_equal "$(cat "$T/secure.out")" "$(printf 'at_secure=1 euid=0\ntcp bind=-1 errno=98\nunix bind=-1 errno=98')"
	# The shim was loaded and reported, to stderr only.
	assert_file_has "$T/secure.err" "bindwatch:   life_bind["
	assert_file_has "$T/secure.err" "127.0.0.1:$port/tcp) failed: Address already in use"
	assert_file_has "$T/secure.err" "held by pid $HOLDER_PID "
	assert_file_has "$T/secure.err" "cause: unix_stale"
	[ ! -e "$SECURE_DIR/bw.log" ]
	[ ! -e "$SECURE_DIR/ports" ]
	[ -S "$stale" ]
}

# --- 6. odd socket addresses ---------------------------------------------------

@test "odd sockaddrs: lengths, families, NULL, unterminated and abstract AF_UNIX names give the same result with and without the shim; names escaped in full" {
	port=$(free_port)
	hold_tcp "$port" 127.0.0.1
	mkdir "$T/a" "$T/b"
	capture plain "$HELPERS/odd_sockaddr" "$port" "$T/a"
	plain=$status
	capture shim env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=0 \
		"$HELPERS/odd_sockaddr" "$port" "$T/b"
	assert_equal "$plain" 0
	assert_equal "$status" "$plain"
	run diff "$T/plain.out" "$T/shim.out"
	assert_success
	# The interesting answers, as the kernel gives them.
	for line in "inet len 0: ret=-1 errno=22" "inet taken len 17 unaligned: ret=-1 errno=98" \
		"inet taken len storage+100: ret=-1 errno=22" "NULL len 0: ret=-1 errno=22" \
		"NULL len 16: ret=-1 errno=14" "unix path 108 no NUL taken: ret=-1 errno=98" \
		"unix abstract with NULs taken: ret=-1 errno=98" "unix abstract padded taken: ret=-1 errno=98"; do
		assert_file_has "$T/plain.out" "$line"
	done
	# One report per EADDRINUSE, none for the rest.
	assert_equal "$(grep -c 'failed: Address already in use' "$T/shim.err")" "$(grep -c 'errno=98' "$T/plain.out")"
	assert_equal "$(grep -c "127.0.0.1:$port/tcp) failed" "$T/shim.err")" 3
	# Names exactly as passed, up to addrlen: 108 bytes without a NUL;
	# abstract names with their NULs, control bytes and backslash escaped,
	# the padded one with all 94 trailing NULs.
	p108=$(printf 'p%.0s' $(seq 1 108))
	assert_file_has "$T/shim.err" ", unix_stream $p108) failed"
	abstract='@bw\x00odd\x01\xff\x5cname'
	assert_file_has "$T/shim.err" ", unix_stream $abstract) failed"
	pad=$(printf '\\x00%.0s' $(seq 1 94))
	assert_file_has "$T/shim.err" ", unix_stream $abstract$pad) failed"
}

# --- 7. ThreadSanitizer --------------------------------------------------------

# tsan_sources: the shim's C files: the front end and the engine, less the
# modules only the CLI and supervisor link (BPF, pidfd_getfd).
tsan_sources() {
	local f
	for f in "$BW_SRCDIR"/shim/*.c "$BW_SRCDIR"/shim/*/*.c; do
		case ${f##*/} in foreign.c | bpfiter.c | btf.c | pidfd.c) continue ;; esac
		echo "$f"
	done
}

# tsan_build: a TSan-instrumented shim (built from shim/*.c with the
# meson build's config.h) and stress_bind, once per file run. Skips when
# gcc can't build or run TSan programs here.
tsan_build() {
	local dir=$BATS_FILE_TMPDIR/tsan conf
	TSAN_SHIM=$dir/libbw-tsan.so TSAN_STRESS=$dir/stress_bind
	TSAN_RUN=()
	if [ ! -e "$dir/ok" ]; then
		mkdir -p "$dir"
		conf=$(dirname "$(dirname "$SHIM")")
		[ -f "$conf/config.h" ] || skip "config.h not found next to the shim's build dir"
		gcc -fsanitize=thread -O1 -g -pthread -o "$TSAN_STRESS" "$BW_SRCDIR/tests/helpers/stress_bind.c" \
			2>"$dir/cc.err" || skip "gcc -fsanitize=thread does not build here: $(head -c 200 "$dir/cc.err")"
		gcc -shared -fPIC -fsanitize=thread -O1 -g -std=gnu17 -D_GNU_SOURCE -fvisibility=hidden \
			-I"$conf" -I"$BW_SRCDIR/shim" \
			$(tsan_sources) -Wl,--version-script="$BW_SRCDIR/shim/libbindwatch.map" -ldl \
			-o "$TSAN_SHIM" 2>"$dir/cc.err" || { cat "$dir/cc.err" >&2; return 1; }
		# Some kernels' mmap layout (high ASLR entropy) breaks the TSan
		# runtime: retry without randomization.
		# (PORT 1 and no binds: a start-up check only.)
		if "$TSAN_STRESS" -t 1 1 0 >/dev/null 2>"$dir/run.err"; then
			echo >"$dir/ok"
		elif setarch "$(uname -m)" -R "$TSAN_STRESS" -t 1 1 0 >/dev/null 2>&1; then
			echo setarch >"$dir/ok"
		else
			skip "TSan programs do not run here: $(head -c 200 "$dir/run.err")"
		fi
	fi
	[ "$(cat "$dir/ok")" = setarch ] && TSAN_RUN=(setarch "$(uname -m)" -R)
	true
}

# tsan_stress RUNS ENV...: 8 threads x 500 binds (every 10th a conflict)
# under the TSan shim in a private namespace, ENV added, RUNS times (the
# races looked for are in the first concurrent conflicts of a process);
# stops at the first failing run. Output and status as run's.
tsan_stress() {
	local runs=$1
	shift
	run netns_run "for i in \$(seq 1 $runs); do
		TSAN_OPTIONS='halt_on_error=1 exitcode=66' BINDWATCH_FORMAT=json BINDWATCH_LOG=\"\$T/tsan.log\" $* \
			LD_PRELOAD='$TSAN_SHIM' timeout -s KILL 120 ${TSAN_RUN[*]} '$TSAN_STRESS' -t 8 -e 10 \"\$PORT\" 500 2>&1 || exit \$?
	done"
}

@test "tsan: 8 threads x 500 binds under a TSan-built shim (stack off; rate limit off, then on): exit 0, no ThreadSanitizer report" {
	need_netns
	tsan_build
	# The rate limiter's table is claimed by the first conflicts of each
	# process: more runs for it.
	for rl_runs in 0:3 10:10; do
		rl=${rl_runs%:*} runs=${rl_runs#*:}
		tsan_stress "$runs" BINDWATCH_STACK=0 BINDWATCH_RATELIMIT=$rl
		echo "# ratelimit=$rl status $status: $(printf '%s\n' "${lines[@]}" | grep -m1 -e SUMMARY -e threads=)" >&3
		refute_output --partial "WARNING: ThreadSanitizer"
		assert_success
		assert_output "$(for _ in $(seq 1 "$runs"); do echo 'threads=8 binds=4000 conflicts=400 ok=3600 other=0'; done)"
	done
}

@test "tsan: the same with the default stack capture (the unwinder), rate limit off: exit 0, no ThreadSanitizer report" {
	need_netns
	tsan_build
	tsan_stress 3 BINDWATCH_RATELIMIT=0
	echo "# stack on, status $status: $(printf '%s\n' "${lines[@]}" | grep -m1 -e SUMMARY -e threads=)" >&3
	refute_output --partial "WARNING: ThreadSanitizer"
	assert_success
	assert_output "$(printf 'threads=8 binds=4000 conflicts=400 ok=3600 other=0\n%.0s' 1 2 3)"
}
