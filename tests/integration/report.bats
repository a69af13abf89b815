#!/usr/bin/env bats
# The text report for the person paged at 3 a.m.: the answer on line 1,
# what to do on line 2, then the details and a short stack; JSON keeps
# every frame; on a terminal lines wrap at its width, and colour follows
# NO_COLOR and TERM=dumb.

load common
load stack_helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# on_tty OUT ENV...: conflict_probe binding 0.0.0.0:$P under the shim, its
# stderr a pseudo-terminal of 60 columns (script(1)); everything it wrote
# in OUT. ENV: extra VAR=value words for env.
on_tty() {
	local out=$1
	shift
	script -qec "stty cols 60; env $* LD_PRELOAD='$PRELOAD' BINDWATCH_STACK=0 '$PROBE' 0.0.0.0 $P" \
		/dev/null >"$out" 2>&1 || true
}

# report_lines FILE: the bindwatch lines of FILE.
report_lines() {
	grep '^bindwatch:' "$1"
}

@test "report: line 1 is the answer, line 2 what to do, and the whole report fits in 15 lines" {
	P=$(free_port)
	bg "$PYTHON3" -m http.server "$P" --bind 127.0.0.1
	H=$!
	wait_listen "$P"
	capture run "$CLI" -- "$PYTHON3" -m http.server "$P"
	[ "$status" -ne 0 ]
	report_lines "$T/run.err" >"$T/report"
	assert_equal "$(sed -n 1p "$T/report")" \
		"bindwatch: bind 0.0.0.0:$P/tcp: in use by python3 pid $H on 127.0.0.1:$P (wildcard_overlap)"
	# Line 2: the first remedy, as the JSON hint words it, with the command
	# that carries it out (no "to free it:" line then); the cause line does
	# not say it again.
	assert_equal "$(sed -n 2p "$T/report")" "bindwatch:   do: stop the holder: kill $H"
	assert_file_lacks "$T/report" "to free it:"
	capture json "$CLI" --json -- "$PYTHON3" -m http.server "$P"
	[[ $(bw_json "$T/json.err" 'j["hint"]') == *"remedies: stop the holder (pid $H)"* ]]
	grep '^bindwatch:   cause: ' "$T/report" >"$T/cause"
	assert_file_lacks "$T/cause" "stop the holder"
	assert_file_lacks "$T/cause" "remedies:"
	# Then the details: the failed call, the holder, the cause, the stack.
	grep -Eq "^bindwatch:   python3\[[0-9]+\] bind\(fd [0-9]+, 0\.0\.0\.0:$P/tcp\) failed: Address already in use$" "$T/report"
	assert_file_has "$T/report" "held by pid $H"
	assert_file_has "$T/report" "cause: wildcard_overlap: "
	assert_file_has "$T/report" "called from:"
	n=$(wc -l <"$T/report")
	[ "$n" -le 15 ] || { cat "$T/report" >&2; false; }
	# The default depth captured more than the text shows: one summary line.
	assert_file_has "$T/report" "more frames (all of them in the JSON record: --json)"
}

@test "report: JSON keeps every frame the text report sums up" {
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	capture text "$CLI" -- "$PYTHON3" -m http.server "$P"
	capture json "$CLI" --json -- "$PYTHON3" -m http.server "$P"
	frames=$(bw_json "$T/json.err" 'len(j["stack"])')
	shown=$(grep -c '^bindwatch:     #' "$T/text.err")
	[ "$frames" -gt "$shown" ]
	# An explicit depth shows them all in text too.
	capture deep "$CLI" --stack-depth 64 -- "$PYTHON3" -m http.server "$P"
	refute_output_file() { ! grep -q "more frames" "$1"; }
	refute_output_file "$T/deep.err"
	[ "$(grep -c '^bindwatch:     #' "$T/deep.err")" -gt "$shown" ]
}

@test "report: consecutive frames of one module without symbols fold into one line" {
	command -v cc >/dev/null || skip "no C compiler"
	write_nested_c "$T/nested.c" 0
	cc -O1 -fno-omit-frame-pointer -fasynchronous-unwind-tables -o "$T/nested" "$T/nested.c"
	strip --strip-all "$T/nested"
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	capture fold "$CLI" --stack-depth 16 -- "$T/nested" "$P"
	# level3, level2, level1, main: four frames of one stripped module, one line.
	grep -E "^bindwatch:     #0-#[3-9] \?\? x[4-9] \(nested( \+0x[0-9a-f]+){4,}\)$" "$T/fold.err" ||
		{ cat "$T/fold.err" >&2; false; }
	# JSON keeps them one by one.
	capture json "$CLI" --json --stack-depth 16 -- "$T/nested" "$P"
	run bw_json "$T/json.err" 'sum(1 for f in j["stack"] if f["module"].endswith("/nested") and f["symbol"] is None) >= 4'
	assert_output "true"
}

@test "report: on a terminal long lines wrap at its width; in a pipe they don't" {
	command -v script >/dev/null || skip "script(1) (util-linux) not installed"
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	on_tty "$T/tty.out" NO_COLOR=1
	tr -d '\r' <"$T/tty.out" | grep '^bindwatch' >"$T/tty.report" || true
	[ -s "$T/tty.report" ]
	# Every line within 60 columns, each continuation under the prefix.
	awk 'length($0) > 60 { print "too wide: " $0; bad = 1 } END { exit bad }' "$T/tty.report"
	assert_file_has "$T/tty.report" "cause: wildcard_overlap:"
	# The cause line is all there, only folded: join the lines back.
	hint=$(tr -d '\r' <"$T/tty.out" | tr '\n' ' ' | sed 's/bindwatch:  */ /g' | tr -s ' ')
	[[ $hint == *"already held by pid $HOLDER_PID (python3); or "* ]]
	# Not a terminal: one long line.
	capture pipe env LD_PRELOAD="$PRELOAD" BINDWATCH_STACK=0 "$PROBE" 0.0.0.0 "$P"
	awk 'length($0) > 60 { long = 1 } END { exit !long }' "$T/pipe.err"
}

@test "colour: TERM=dumb turns it off, as NO_COLOR does" {
	command -v script >/dev/null || skip "script(1) (util-linux) not installed"
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	on_tty "$T/color.out" TERM=xterm
	grep -q $'\e\\[1;31m' "$T/color.out"
	on_tty "$T/dumb.out" TERM=dumb
	grep -q 'held by pid' "$T/dumb.out"
	! grep -q $'\e\\[' "$T/dumb.out"
}

@test "colour: an empty NO_COLOR keeps it (no-color.org: present and not empty)" {
	command -v script >/dev/null || skip "script(1) (util-linux) not installed"
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	on_tty "$T/empty.out" TERM=xterm NO_COLOR=
	grep -q $'\e\\[1;31m' "$T/empty.out" || { cat -v "$T/empty.out" >&2; false; }
	on_tty "$T/set.out" TERM=xterm NO_COLOR=1
	grep -q 'held by pid' "$T/set.out"
	! grep -q $'\e\\[' "$T/set.out"
}

# strip_report FILE: FILE's bindwatch lines without the prefixes, the
# colour codes, the carriage returns and all white space: what a report
# says, however it was wrapped. What differs between two runs goes too:
# the failing pid, the holder's age, the relation (script(1) adds a parent).
strip_report() {
	tr -d '\r' <"$1" | grep '^bindwatch:' | sed -e 's/^bindwatch://' -e $'s/\e\\[[0-9;]*m//g' |
		tr -d ' \n' | sed -E -e 's/\[[0-9]+\]bind/[N]bind/' -e 's/\([0-9a-z]+ago\)//' -e 's/,relation(self|parent|ancestor|child|descendant|sibling|same_program)//'
}

@test "report: at 80 columns it is the piped report, wrapped only where a line is wider; no sentence twice, no filler" {
	command -v script >/dev/null || skip "script(1) (util-linux) not installed"
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	bind_py="import socket; socket.socket().bind(('127.0.0.1', $P))"
	capture pipe "$CLI" -- "$PYTHON3" -c "$bind_py"
	script -qec "stty cols 80; '$CLI' -- '$PYTHON3' -c \"$bind_py\"" /dev/null >"$T/tty.out" 2>&1 || true
	grep '^bindwatch:' "$T/pipe.err" >"$T/pipe.report"
	tr -d '\r' <"$T/tty.out" | grep '^bindwatch:' >"$T/tty.report"
	# The same words.
	assert_equal "$(strip_report "$T/tty.out")" "$(strip_report "$T/pipe.err")"
	# Every line within 80 columns (colour codes aside), and no more lines
	# than wrapping the wider piped lines needs: one more per 50 columns
	# past the 80th (a continuation line holds at least that much).
	sed $'s/\e\\[[0-9;]*m//g' "$T/tty.report" | awk 'length($0) > 80 { print "too wide: " $0; bad = 1 } END { exit bad }'
	budget=$(awk '{ n += 1; if (length($0) > 80) n += int((length($0) - 80 + 49) / 50) } END { print n }' "$T/pipe.report")
	tty_lines=$(wc -l <"$T/tty.report")
	[ "$tty_lines" -le "$budget" ] || { echo "tty $tty_lines lines, budget $budget" >&2; cat "$T/tty.report" >&2; false; }
	# No sentence twice: the do: line's remedy is not repeated on the cause line.
	todo=$(sed -n 2p "$T/pipe.report")
	todo=${todo#bindwatch:   do: }
	[ -n "$todo" ]
	assert_equal "$(grep -cF -- "$todo" "$T/pipe.report")" 1
	# No filler: two python3 processes running different code are not
	# "another instance", and the unreadable options note is left to JSON.
	assert_file_lacks "$T/pipe.report" "another instance"
	assert_file_lacks "$T/pipe.report" "same_program"
	assert_file_lacks "$T/pipe.report" "could not be read"
	capture json "$CLI" --json -- "$PYTHON3" -c "$bind_py"
	[[ $(bw_json "$T/json.err" 'j["hint"]') == *"could not be read"* ]]
}
