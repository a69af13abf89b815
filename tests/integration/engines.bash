# Real engines for the integration tests: a Docker daemon, a local busybox
# image, and a Debian container with systemd as pid 1 (../shared/TESTING.md).
# Loaded by the .bats files that need them (after common.bash). Nothing here
# reaches a registry: images come from local root filesystems.

# Debian's client; a newer one earlier in PATH negotiates the API anyway.
DOCKER=${BW_DOCKER:-docker}
BW_ENGINE_CACHE=${BW_ENGINE_CACHE:-/var/cache/bindwatch-tests}

# docker_up: the daemon answers (dockerd is started when none runs; .ci/run
# starts it up front). Status 1 when it can't be had.
docker_up() {
	"$DOCKER" info >/dev/null 2>&1 && return 0
	command -v dockerd >/dev/null || return 1
	[ "$(id -u)" -eq 0 ] || return 1
	mkdir -p "$BW_ENGINE_CACHE"
	(setsid dockerd >"$BW_ENGINE_CACHE/dockerd.log" 2>&1 3>&- </dev/null &)
	poll_until 1200 "$DOCKER" info >/dev/null 2>&1
}

# need_docker: skips the test, with the reason, when no daemon can be had.
need_docker() {
	command -v "$DOCKER" >/dev/null || skip "docker client not installed (Debian: docker.io)"
	docker_up || skip "no Docker daemon answers and dockerd could not be started (see $BW_ENGINE_CACHE/dockerd.log)"
}

# busybox_image: prints the name of a local image holding busybox-static
# (imported once, then reused); status 1, with the reason on stderr, when it
# can't be made. Use as img=$(busybox_image) after need_docker.
busybox_image() {
	local name=bindwatch-busybox:local root
	if ! "$DOCKER" image inspect "$name" >/dev/null 2>&1; then
		[ -x /bin/busybox ] || { echo "busybox-static not installed" >&2; return 1; }
		root=$(mktemp -d)
		mkdir -p "$root/bin" "$root/tmp" "$root/www"
		cp /bin/busybox "$root/bin/"
		for a in sh httpd nc sleep cat echo; do ln -s busybox "$root/bin/$a"; done
		tar -C "$root" -c . | "$DOCKER" import - "$name" >/dev/null
		rm -rf "$root"
	fi
	echo "$name"
}

# systemd_image: prints the name of a local Debian bookworm image with
# systemd as pid 1 (mmdebstrap once, ~20 s; cached as a Docker image);
# status 1, with the reason on stderr, when it can't be made.
systemd_image() {
	local name=bindwatch-systemd:bookworm tar
	if ! "$DOCKER" image inspect "$name" >/dev/null 2>&1; then
		command -v mmdebstrap >/dev/null || { echo "mmdebstrap not installed" >&2; return 1; }
		mkdir -p "$BW_ENGINE_CACHE"
		tar=$BW_ENGINE_CACHE/bookworm-systemd.tar
		if [ ! -s "$tar" ]; then
			rm -rf "$tar.part.tar"
			mmdebstrap --quiet --variant=minbase --format=tar \
				--include=systemd,systemd-sysv,python3,libunwind8,iproute2,procps \
				bookworm "$tar.part.tar" >"$BW_ENGINE_CACHE/mmdebstrap.log" 2>&1 || {
				echo "mmdebstrap failed: $(tail -n 3 "$BW_ENGINE_CACHE/mmdebstrap.log")" >&2
				return 1
			}
			mv "$tar.part.tar" "$tar"
		fi
		"$DOCKER" import -c 'CMD ["/lib/systemd/systemd"]' "$tar" "$name" >/dev/null
	fi
	echo "$name"
}

# systemd_container NAME: starts a container NAME with systemd as pid 1 and
# waits until it is up (running or degraded, 60 s at most). The caller
# removes it in teardown (docker rm -f NAME). Copy the shim in with
# `docker cp`; run units with `docker exec NAME systemctl ...`.
systemd_container() {
	local name=$1 img state
	need_docker
	img=$(systemd_image) || skip "no systemd image (see above)"
	"$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
	"$DOCKER" run -d --name "$name" --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
		--cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
		"$img" /lib/systemd/systemd >/dev/null ||
		skip "a systemd container does not start here"
	systemd_ready() {
		state=$("$DOCKER" exec "$name" systemctl is-system-running 2>/dev/null)
		[ "$state" = running ] || [ "$state" = degraded ]
	}
	poll_until 1200 systemd_ready || {
		"$DOCKER" logs "$name" 2>&1 | tail -n 5 >&2
		return 1
	}
}

# docker_put NAME SRC DST: copies a host file into container NAME.
docker_put() {
	"$DOCKER" cp "$2" "$1:$3" >/dev/null
}

# Containers a test created: it appends each name to CREATED, and
# remove_created (in this file's teardown) removes them.
CREATED=()

remove_created() {
	local c
	for c in "${CREATED[@]}"; do
		"$DOCKER" rm -f "$c" >/dev/null 2>&1 || true
	done
	CREATED=()
}

# The setup and teardown of a file that loads this one (after common.bash,
# whose teardown this replaces); a file with more to undo calls
# engines_teardown from its own.
setup() {
	T=$BATS_TEST_TMPDIR
	CREATED=()
}

engines_teardown() {
	kill_bg
	remove_created
}

teardown() {
	engines_teardown
}

# busybox_httpd NAME PUBLISH: a container NAME running busybox httpd on 80,
# published as PUBLISH (e.g. 127.0.0.1:P:80); in CREATED.
busybox_httpd() {
	local img
	img=$(busybox_image)
	"$DOCKER" rm -f "$1" >/dev/null 2>&1 || true
	CREATED+=("$1")
	"$DOCKER" run -d --name "$1" -p "$2" "$img" /bin/busybox httpd -f -p 80 >/dev/null
}

# publish_busybox PREFIX: a busybox httpd container published on a free
# 127.0.0.1 port; sets port and name (PREFIX-PORT), waits for the port.
publish_busybox() {
	need_docker
	port=$(free_port)
	name=$1-$port
	busybox_httpd "$name" "127.0.0.1:$port:80"
	wait_listen "$port"
}

# shim_bind_in NAME PORT: under `run`, python3 binding 127.0.0.1:PORT in
# container NAME under the shim bindwatch_into put there (no stack).
shim_bind_in() {
	"$DOCKER" exec -e ASAN_OPTIONS -e UBSAN_OPTIONS "$1" env BINDWATCH_STACK=0 \
		LD_PRELOAD="${BW_SANITIZER_PRELOAD:+$BW_SANITIZER_PRELOAD }/usr/local/lib/libbindwatch.so" \
		python3 -c "import socket; socket.socket().bind(('127.0.0.1', $2))"
}

# bindwatch_into NAME: the CLI and the shim inside container NAME
# (/usr/local/bin/bindwatch, /usr/local/lib/libbindwatch.so) with every
# library they need that the image lacks (a sanitizer build's runtime).
bindwatch_into() {
	local lib
	docker_put "$1" "$CLI" /usr/local/bin/bindwatch
	docker_put "$1" "$SHIM" /usr/local/lib/libbindwatch.so
	for lib in $(ldd "$CLI" "$SHIM" | awk '$3 ~ /^\// {print $3}' | sort -u) \
		${BW_SANITIZER_PRELOAD:-}; do
		# -L: the host's libasan.so.8 is a symlink to the real file.
		"$DOCKER" exec "$1" test -e "$lib" && continue
		"$DOCKER" exec "$1" mkdir -p "${lib%/*}"
		"$DOCKER" cp -L "$lib" "$1:$lib" >/dev/null
	done
}

# sd_unit NAME UNIT: writes stdin to /etc/systemd/system/UNIT in the
# systemd container NAME.
sd_unit() {
	"$DOCKER" exec -i "$1" sh -c "cat > /etc/systemd/system/$2"
}

# sd_start_show NAME UNIT OUT: daemon-reload, then starts UNIT in the
# systemd container NAME (its failure is the test's to judge); its
# Result, ExecMainCode and ExecMainStatus (systemctl show) in OUT.show, its
# journal in OUT.journal.
sd_start_show() {
	"$DOCKER" exec "$1" systemctl daemon-reload
	"$DOCKER" exec "$1" systemctl start "$2" || true
	"$DOCKER" exec "$1" systemctl show -p Result,ExecMainCode,ExecMainStatus "$2" >"$3.show"
	"$DOCKER" exec "$1" journalctl -o cat -u "$2" >"$3.journal"
}

# sd_listening NAME PORT: something in container NAME listens on TCP PORT.
sd_listening() {
	"$DOCKER" exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN
}
