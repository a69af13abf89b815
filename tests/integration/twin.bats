#!/usr/bin/env bats
# A listen()-time remap is faithful or refused (issue 11, point 4). The twin
# socket that replaces the program's fd must read back exactly like a socket
# that was set up the same way and listened normally (twin_probe compares
# every readable option, file flag, owner, signal and filter); what can't
# be carried refuses the remap: the program sees EADDRINUSE on its own,
# unchanged socket, and the report says why.

load common
load diag_helpers

setup() {
	T=$BATS_TEST_TMPDIR
	TWIN=$HELPERS/twin_probe
}

# faithful MODE [-6]: under '*=next' the twin moved, kept the fd number and
# differs from the reference in nothing.
faithful() {
	capture tw env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP='*=next' BINDWATCH_STACK=0 \
		BINDWATCH_FORMAT=json "$TWIN" "$@"
	assert_eq "exit status" "$status" 0
	assert_eq "twin_probe $*" "$(cat "$T/tw.out")" "listen=0 moved=1 same_fd=1 diffs=0"
	assert_eq "remap" "$(jone "$T/tw.err" '[.event, .remap.ok, .remap.action] | map(tostring) | @tsv')" \
		"$(printf 'listen_conflict\ttrue\tnext')"
}

# refused MODE WHY: the program's listen() fails with EADDRINUSE on its own
# socket (same inode, same port) and the report's note says WHY.
refused() {
	capture tw env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP='*=next' BINDWATCH_STACK=0 \
		BINDWATCH_FORMAT=json "$TWIN" "$1"
	assert_eq "exit status" "$status" 0
	assert_eq "twin_probe $1" "$(cat "$T/tw.out")" "listen=-1 errno=98 same_socket=1"
	assert_eq "remap ok" "$(jone "$T/tw.err" '.remap.ok')" false
	note=$(jone "$T/tw.err" .remap.note)
	[[ $note == *"not remapped: "*"$2"* ]] || { echo "note: $note" >&2; false; }
}

@test "twin carries SO_BINDTODEVICE (lo)" {
	faithful bindtodevice
}

@test "twin carries O_ASYNC with F_SETOWN and F_SETSIG" {
	faithful async
}

@test "twin carries F_SETOWN_EX (a thread)" {
	faithful setown_ex
}

@test "twin carries IP_TOS" {
	faithful tos
}

@test "twin carries IPV6_TCLASS" {
	faithful tclass -6
}

@test "twin carries SO_PRIORITY" {
	faithful priority
}

@test "twin carries TCP_MAXSEG" {
	faithful maxseg
}

@test "twin carries TCP_NODELAY" {
	faithful nodelay
}

@test "twin carries SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT" {
	faithful keepalive
}

@test "twin carries SO_LINGER" {
	faithful linger
}

@test "twin carries SO_RCVLOWAT" {
	faithful rcvlowat
}

@test "twin carries SO_MARK" {
	[ "$(id -u)" = 0 ] || skip "setting it needs CAP_NET_ADMIN"
	faithful mark
}

@test "twin carries IP_FREEBIND" {
	faithful freebind
}

@test "twin carries IP_TRANSPARENT" {
	[ "$(id -u)" = 0 ] || skip "setting it needs CAP_NET_ADMIN"
	faithful transparent
}

@test "twin carries TCP_DEFER_ACCEPT" {
	faithful defer_accept
}

@test "twin carries TCP_FASTOPEN" {
	faithful fastopen
}

@test "twin carries TCP_USER_TIMEOUT" {
	faithful user_timeout
}

@test "twin carries IPV6_V6ONLY" {
	faithful v6only -6
}

@test "twin carries O_NONBLOCK" {
	faithful nonblock
}

@test "twin carries FD_CLOEXEC" {
	faithful cloexec
}

@test "twin carries no option at all (buffers stay unset and unlocked)" {
	faithful plain
}

@test "twin carries no option at all, IPv6" {
	faithful plain -6
}

@test "twin carries SO_RCVBUF set by the program (same size, locked)" {
	faithful rcvbuf
}

@test "twin carries SO_SNDBUF set by the program (same size, locked)" {
	faithful sndbuf
}

@test "twin carries SO_RCVTIMEO" {
	faithful rcvtimeo
}

@test "twin carries TCP_CONGESTION (reno)" {
	faithful congestion
}

@test "twin carries a classic filter (SO_ATTACH_FILTER)" {
	faithful filter
}

@test "twin carries a classic filter locked (SO_LOCK_FILTER)" {
	faithful filter_lock
}

@test "twin carries SO_TIMESTAMPNS" {
	faithful timestampns
}

@test "twin carries TCP_NOTSENT_LOWAT" {
	faithful notsent_lowat
}

@test "twin carries TCP_WINDOW_CLAMP" {
	faithful window_clamp
}

@test "twin re-makes the epoll registration: an event loop that added the socket before listen() hears the connection, with its data" {
	capture tw env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP='*=next' BINDWATCH_STACK=0 BINDWATCH_FORMAT=json "$TWIN" epoll
	assert_eq "exit status" "$status" 0
	assert_eq "epoll" "$(cat "$T/tw.out")" "epoll_wait=1 data=deadbeefcafe accept=1"
	assert_eq "remap ok" "$(jone "$T/tw.err" '.remap.ok')" true
}

@test "refused: an eBPF socket filter (SO_ATTACH_BPF) can't be read back" {
	[ "$(id -u)" = 0 ] || skip "loading a BPF program needs root"
	refused refuse-ebpf "an eBPF socket filter (SO_ATTACH_BPF) can't be read back"
}

@test "refused: another descriptor still shares the socket" {
	refused refuse-dup "shares the socket"
}

@test "refused: a child process (fork) still holds the socket" {
	refused refuse-fork "shares the socket"
}

@test "refused: SO_REUSEPORT (a reuseport BPF program can't be seen or read back)" {
	refused refuse-reuseport "SO_REUSEPORT is set"
}

@test "refused: a disarmed EPOLLONESHOT registration can't be re-made" {
	refused refuse-oneshot "disarmed EPOLLONESHOT"
}

@test "autotuning: a connection accepted on the twin is unlocked and its receive buffer grows past the default" {
	read -r _ def _ </proc/sys/net/ipv4/tcp_rmem
	capture tw env LD_PRELOAD="$PRELOAD" BINDWATCH_REMAP='*=next' BINDWATCH_STACK=0 "$TWIN" autotune
	assert_eq "exit status" "$status" 0
	sed "s/^/# /" "$T/tw.out" >&3
	[[ $(cat "$T/tw.out") =~ remapped_rcvbuf=([0-9]+)\ remapped_buf_lock=([0-9]+) ]]
	assert_eq "SO_BUF_LOCK of the accepted connection" "${BASH_REMATCH[2]}" 0
	[ "${BASH_REMATCH[1]}" -gt "$((2 * def))" ] ||
		{ echo "SO_RCVBUF ${BASH_REMATCH[1]} did not grow past 2 x $def" >&2; false; }
}
