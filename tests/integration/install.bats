#!/usr/bin/env bats
# Installs like a Debian tool: tools/mkdeb builds a .deb from `meson install
# --destdir` in a build directory whose path has a space; apt-get installs
# it; the installed CLI runs a real server against a held port, never
# looks into a build tree, has its man pages and bash completion; purge
# removes it all.

load common

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	command -v dpkg-deb >/dev/null && command -v apt-get >/dev/null || return 0
	dpkg -s bindwatch >/dev/null 2>&1 && return 0 # never replace an installed copy
	export BW_DEB_BUILD="$BATS_FILE_TMPDIR/build dir"
	# A maintainer address lintian accepts (the default is @localhost).
	DEBEMAIL=bindwatch-tests@example.org "$BW_SRCDIR/tools/mkdeb" --builddir "$BW_DEB_BUILD" --out "$BATS_FILE_TMPDIR" \
		>"$BATS_FILE_TMPDIR/mkdeb.out" 2>"$BATS_FILE_TMPDIR/mkdeb.err" || true
}

setup() {
	T=$BATS_TEST_TMPDIR
	[ "$(id -u)" = 0 ] || skip "installing a package needs root"
	command -v dpkg-deb >/dev/null || skip "dpkg-dev not installed"
	[ -n "${BW_DEB_BUILD:-}" ] || skip "a bindwatch package is already installed here: not replacing it"
	DEB=$(tail -n 1 "$BATS_FILE_TMPDIR/mkdeb.out" 2>/dev/null || true)
	[ -f "$DEB" ] || { cat "$BATS_FILE_TMPDIR/mkdeb.err" >&2; false; }
}

teardown() {
	kill_bg
	if [ -f "$BATS_FILE_TMPDIR/installed" ]; then
		apt-get -o DPkg::Lock::Timeout=300 purge -y bindwatch >/dev/null 2>&1 || true
		rm -f "$BATS_FILE_TMPDIR/installed"
	fi
}

@test "mkdeb: a build directory whose path has a space builds, and its CLI preloads its own shim" {
	[[ $BW_DEB_BUILD == *" "* ]]
	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	capture run "$BW_DEB_BUILD/tools/bindwatch" --no-stack -- "$PYTHON3" -m http.server "$P"
	assert_file_has "$T/run.err" "bindwatch: bind 0.0.0.0:$P/tcp: in use by python3 pid $HOLDER_PID on 127.0.0.1:$P (wildcard_overlap)"
	# The package: Debian's paths, gzipped man pages, the completion, and
	# libgcc_s (dlopen()ed by the shim) among the dependencies.
	dpkg-deb -c "$DEB" >"$T/contents"
	for f in ./usr/bin/bindwatch "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/bindwatch/libbindwatch.so" \
		./usr/share/man/man1/bindwatch.1.gz ./usr/share/man/man7/libbindwatch.7.gz \
		./usr/share/bash-completion/completions/bindwatch ./usr/share/doc/bindwatch/copyright \
		./usr/share/doc/bindwatch/changelog.gz; do
		assert_file_has "$T/contents" " $f"
	done
	# The copyright file in Debian's machine-readable format, with COPYING's
	# notice and license text.
	dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/doc/bindwatch/copyright >"$T/copyright"
	assert_equal "$(head -n 1 "$T/copyright")" "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
	assert_file_has "$T/copyright" "Copyright: $(sed -n 's/^Copyright (c) //p' "$BW_SRCDIR/COPYING")"
	assert_file_has "$T/copyright" "License: Expat"
	assert_file_has "$T/copyright" " $(grep -m1 '^THE SOFTWARE IS PROVIDED' "$BW_SRCDIR/COPYING")"
	dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/doc/bindwatch/changelog.gz | gzip -dc >"$T/changelog"
	grep -Eq '^bindwatch \([^)]+\) unstable; urgency=medium$' "$T/changelog"
	run dpkg-deb -f "$DEB" Depends
	assert_output --partial "libgcc-s1"
	assert_output --partial "libc6"
}

@test "apt-get install ./bindwatch_*.deb: bindwatch -- python3 -m http.server on a held port, man pages, completion; purge removes it" {
	cp "$DEB" "$T/"
	# Another apt-get on the machine (an upgrade, a parallel job) holds
	# dpkg's lock for a while: wait for it rather than fail.
	(cd "$T" && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "./$(basename "$DEB")") \
		>"$T/apt.out" 2>&1 ||
		{ cat "$T/apt.out" >&2; false; }
	touch "$BATS_FILE_TMPDIR/installed"
	[ -x /usr/bin/bindwatch ]

	P=$(free_port)
	hold_tcp "$P" 127.0.0.1
	# The installed CLI, with its installed shim: it never opens anything
	# in the build tree (strace lists every path it touches).
	if command -v strace >/dev/null; then
		capture run strace -f -qq -e trace=%file -o "$T/strace" /usr/bin/bindwatch -- python3 -m http.server "$P"
		! grep -F "$BW_DEB_BUILD" "$T/strace"
		! grep -F "$BW_SRCDIR" "$T/strace"
		# Nor a build-tree layout next to itself (/usr/bin/../shim/...).
		! grep -F '/../shim/' "$T/strace"
		grep -F "$(dpkg -L bindwatch | grep '/libbindwatch\.so$')" "$T/strace" >/dev/null
	else
		capture run /usr/bin/bindwatch -- python3 -m http.server "$P"
	fi
	[ "$status" -ne 0 ]
	assert_file_has "$T/run.err" "bindwatch: bind 0.0.0.0:$P/tcp: in use by python3 pid $HOLDER_PID on 127.0.0.1:$P (wildcard_overlap)"
	assert_file_has "$T/run.err" "OSError: [Errno 98] Address already in use"

	# Man pages with the version and the installed shim path filled in.
	version=$(dpkg-deb -f "$DEB" Version)
	MANPAGER=cat MANWIDTH=200 man bindwatch >"$T/man1" 2>&1
	assert_file_has "$T/man1" "bindwatch $version"
	assert_file_has "$T/man1" "bindwatch wait"
	MANPAGER=cat MANWIDTH=200 man libbindwatch >"$T/man7" 2>&1
	shim=$(dpkg -L bindwatch | grep '/libbindwatch\.so$')
	[ -f "$shim" ]
	assert_file_has "$T/man7" "LD_PRELOAD=$shim"
	assert_file_lacks "$T/man7" "@SHIM_PATH@"

	# bash-completion finds it by itself: subcommands, options, values.
	[ -f /usr/share/bash-completion/bash_completion ] || skip "bash-completion not installed"
	complete_words() {
		bash -c 'source /usr/share/bash-completion/bash_completion
			_completion_loader bindwatch
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
			$(complete -p bindwatch | sed -n "s/.*-F \([^ ]*\) .*/\1/p") bindwatch "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
			printf "%s\n" "${COMPREPLY[@]}"' complete "$@"
	}
	run complete_words bindwatch w
	assert_line who
	assert_line wait
	run complete_words bindwatch --remap-m
	assert_output "--remap-mode"
	run complete_words bindwatch --trace ""
	assert_equal "$(echo "$output" | sort | tr '\n' ' ')" "all conflicts off "
	run complete_words bindwatch who --js
	assert_output "--json"
	run complete_words bindwatch wait --t
	assert_output "--timeout"
	run complete_words bindwatch fr
	assert_line free
	run complete_words bindwatch free --d
	assert_output "--dry-run"
	run complete_words bindwatch -- pyth
	assert_line python3

	apt-get -o DPkg::Lock::Timeout=300 purge -y bindwatch >"$T/purge.out" 2>&1
	rm -f "$BATS_FILE_TMPDIR/installed"
	[ ! -e /usr/bin/bindwatch ]
	[ ! -e "$shim" ]
	[ ! -e /usr/share/bash-completion/completions/bindwatch ]
	! dpkg -s bindwatch >/dev/null 2>&1
}

@test "mkdeb: lintian finds no error or warning (copyright, changelog, md5sums, stripped binaries)" {
	command -v lintian >/dev/null || skip "lintian not installed (tools/deps.sh installs it)"
	lintian --allow-root -L '>=warning' "$DEB" >"$T/lintian" 2>&1 || true
	grep -E '^[EW]: ' "$T/lintian" && { cat "$T/lintian" >&2; false; }
	# It does look: the info level names what a hand-made package lacks.
	lintian --allow-root -L '>=info' "$DEB" >"$T/lintian.info" 2>&1 || true
	assert_file_lacks "$T/lintian.info" "no-md5sums-control-file"
}

@test "mkdeb: a missing value or an unknown argument is one line, exit 2; a build directory of other options is refused, never reconfigured" {
	for args in "--out" "--builddir" "--out $T/x --builddir" "--frob"; do
		# shellcheck disable=SC2086 # word splitting wanted
		capture bad "$BW_SRCDIR/tools/mkdeb" $args
		assert_equal "$status" 2
		assert_equal "$(wc -l <"$T/bad.err")" 1
		assert_file_has "$T/bad.err" "mkdeb: "
		assert_equal "$(cat "$T/bad.out")" ""
	done
	assert_file_has "$T/bad.err" "'--frob'"
	# Someone's own build: other options. mkdeb leaves them as they are.
	meson setup "$T/mine" "$BW_SRCDIR" -Dtests=false >/dev/null
	options() { meson introspect --buildoptions "$T/mine" | "$PYTHON3" -c 'import json,sys; print(sorted((o["name"], str(o["value"])) for o in json.load(sys.stdin)))'; }
	before=$(options)
	capture mine "$BW_SRCDIR/tools/mkdeb" --builddir "$T/mine" --out "$T"
	assert_equal "$status" 2
	assert_equal "$(wc -l <"$T/mine.err")" 1
	assert_file_has "$T/mine.err" "prefix=/usr/local"
	assert_equal "$(options)" "$before"
	! ls "$T"/bindwatch_*.deb 2>/dev/null
	# A directory that holds something else is refused too.
	mkdir "$T/other" && touch "$T/other/file"
	capture other "$BW_SRCDIR/tools/mkdeb" --builddir "$T/other" --out "$T"
	assert_equal "$status" 2
	assert_file_has "$T/other.err" "not empty"
	# The package's own build directory (setup_file's) is used as it is.
	capture again "$BW_SRCDIR/tools/mkdeb" --builddir "$BW_DEB_BUILD" --out "$T"
	assert_equal "$status" 0
	[ -f "$(tail -n 1 "$T/again.out")" ]
}
