#!/bin/sh
# tools/deps.sh build|test: makes sure the Debian packages bindwatch needs
# are installed, installing them with apt-get when run as root. Sourced by
# tools/bindwatch (build) and tools/test (test), run by .ci/run.
set -eu

BW_BUILD_PKGS="meson ninja-build gcc pkg-config"
BW_TEST_PKGS="$BW_BUILD_PKGS libnss-systemd netbase dpkg-dev man-db bash-completion jq g++ clang clang-tidy cppcheck libclang-rt-14-dev libc6-dev bats bats-support bats-assert python3 socat iproute2 procps psmisc lsof util-linux busybox-static golang-go systemd valgrind gnuplot-nox curl docker.io mmdebstrap nginx-light libcap2-bin strace python3-seccomp binutils lintian podman uidmap slirp4netns"

bw_missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$p"
	done
}

bw_install() {
	missing=$(bw_missing "$@")
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		echo "bindwatch: missing Debian packages: $missing" >&2
		echo "bindwatch: install them with: sudo apt-get install $missing" >&2
		return 1
	fi
	echo "bindwatch: installing $missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2
}

if [ "${1:-}" = build ]; then
	bw_install $BW_BUILD_PKGS
elif [ "${1:-}" = test ]; then
	bw_install $BW_TEST_PKGS
fi
