#!/usr/bin/env bats
# Sockets bound to a device (SO_BINDTODEVICE, a link-local address's scope
# id): the kernel skips a pair bound to two different devices
# (inet_bind_conflict(), udp_lib_lport_inuse()). In a network namespace of
# the test's own with a veth pair d0/d1 (this kernel kind may lack dummy),
# a python3 holder bound to d0; the shim's report and `who` must name its
# device as ss does, and call a bind on another device free (the kernel
# agrees: it succeeds).

load common

NS=

setup() {
	T=$BATS_TEST_TMPDIR
	[ "$(id -u)" = 0 ] || skip "needs root for a network namespace of its own (ip netns add)"
	NS=bw-dev-$$-$BATS_TEST_NUMBER
	ip netns add "$NS" 2>/dev/null || skip "ip netns add failed: no network namespace here"
	in_ns ip link set lo up
	in_ns ip link add d0 type veth peer name d1 2>/dev/null ||
		skip "ip link add type veth failed: no veth devices in this kernel"
	in_ns ip link set d0 up
	in_ns ip link set d1 up
	in_ns ip -6 addr add fe80::1/64 dev d0 nodad
}

teardown() {
	kill_bg
	[ -z "$NS" ] || ip netns del "$NS" 2>/dev/null || true
}

in_ns() {
	ip netns exec "$NS" "$@"
}

# hold_dev ADDR PORT [DEV]: a python3 TCP listener in the namespace on
# ADDR:PORT, bound to DEV with SO_BINDTODEVICE (none when empty); an
# fe80:: address gets d0's scope id. Waits until ss shows it.
hold_dev() {
	bg ip netns exec "$NS" "$PYTHON3" -c 'import socket, sys, time
addr, port, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam)
if dev:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
s.bind((addr, port, 0, socket.if_nametoindex("d0")) if addr.startswith("fe80") else (addr, port))
s.listen()
time.sleep(600)' "$1" "$2" "${3:-}"
	HOLDER_PID=$!
	poll_until 200 ns_listens "$2" || {
		echo "the holder on port $2 never listened" >&2
		return 1
	}
}

ns_listens() {
	[ -n "$(in_ns ss -Hltn "sport = :$1")" ]
}

# py_bind NAME ADDR PORT [DEV]: python3 in the namespace, under the shim
# (JSON records; FORMAT=text for the text report), binds ADDR:PORT (SO_BINDTODEVICE DEV when given); prints
# bind=0 or bind=-1 errno=N into NAME.out, the shim's record into NAME.err.
py_bind() {
	capture "$1" ip netns exec "$NS" env LD_PRELOAD="$PRELOAD" BINDWATCH_FORMAT="${FORMAT:-json}" \
		BINDWATCH_STACK=0 "$PYTHON3" -c 'import socket, sys
addr, port, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam)
if dev:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
try:
    s.bind((addr, port))
    print("bind=0")
except OSError as e:
    print("bind=-1 errno=%d" % e.errno)' "$2" "$3" "${4:-}"
}

@test "device: a holder bound to d0 is shown as ss shows it (127.0.0.1%d0:P) by who and the shim; a bind on lo succeeds and who calls it free" {
	P=$(free_port)
	hold_dev 127.0.0.1 "$P" d0
	ss_addr=$(in_ns ss -ltnH "sport = :$P" | awk '{print $4}')
	assert_equal "$ss_addr" "127.0.0.1%d0:$P"

	# who: the address as ss prints it, in the table and as JSON "dev".
	capture who in_ns "$CLI" who "$P"
	assert_equal "$status" 0
	assert_file_has "$T/who.out" "$ss_addr"
	assert_file_has "$T/who.out" "pid=$HOLDER_PID,"
	in_ns "$CLI" who --json "$P" >"$T/who.json"
	run bw_json "$T/who.json" 'j["holders"][0]["dev"], j["holders"][0]["addr"], j["holders"][0]["pid"]'
	assert_output "('d0', '127.0.0.1', $HOLDER_PID)"

	# The shim: a plain bind (no device) meets every device's socket.
	FORMAT=text py_bind text 127.0.0.1 "$P"
	assert_equal "$(cat "$T/text.out")" "bind=-1 errno=98"
	assert_file_has "$T/text.err" "in use by python3 pid $HOLDER_PID on $ss_addr (listener)"
	py_bind plain 127.0.0.1 "$P"
	assert_equal "$(cat "$T/plain.out")" "bind=-1 errno=98"
	run bw_json "$T/plain.err" 'j["holders"][0]["dev"], j["dev"], j["holders"][0]["pid"], "bound to device d0, this one to none" in j["hint"]'
	assert_output "('d0', None, $HOLDER_PID, True)"
	# Another device is a remedy (conditional: after the sure ones), and
	# the kernel takes it: bound to lo, the same bind succeeds.
	run bw_json "$T/plain.err" '[(f["kind"], f.get("name"), f.get("not"), "assumes" in f) for f in j["fixes"] if f["kind"] == "device"], j["fixes"][-1]["kind"]'
	assert_output "([('device', 'SO_BINDTODEVICE', ['d0'], True)], 'device')"
	py_bind onlo 127.0.0.1 "$P" lo
	assert_equal "$(cat "$T/onlo.out")" "bind=0"
	assert_file_lacks "$T/onlo.err" "bindwatch"
	# Bound to d0 too, the caller meets it: its own device is read on its
	# socket (SO_BINDTOIFINDEX), and no other-device fix is offered.
	py_bind ond0 127.0.0.1 "$P" d0
	assert_equal "$(cat "$T/ond0.out")" "bind=-1 errno=98"
	run bw_json "$T/ond0.err" 'j["dev"], j["holders"][0]["pid"], "both sockets are bound to device d0" in j["hint"], [f["kind"] for f in j["fixes"] if f["kind"] == "device"]'
	assert_output "('d0', $HOLDER_PID, True, [])"

	# The listing shows it as ss -ltn does.
	capture list in_ns "$CLI" who -t
	assert_equal "$status" 0
	assert_file_has "$T/list.out" "$ss_addr"

	# who with ss's ADDR%DEV form: on lo nothing holds it (the kernel
	# agrees, above); on d0 the holder does.
	capture onlo in_ns "$CLI" who "127.0.0.1%lo:$P"
	assert_equal "$status" 1
	assert_equal "$(cat "$T/onlo.out")" "nothing holds 127.0.0.1%lo:$P (tcp and udp): a bind there would succeed"
	capture ond0 in_ns "$CLI" who tcp "127.0.0.1%d0:$P"
	assert_equal "$status" 0
	assert_file_has "$T/ond0.out" "$ss_addr"
	assert_file_has "$T/ond0.out" "both sockets are bound to device d0"
	capture bad in_ns "$CLI" who "127.0.0.1%nosuchdev:$P"
	assert_equal "$status" 2
	assert_file_has "$T/bad.err" "bindwatch: who: '127.0.0.1%nosuchdev:$P': no network device 'nosuchdev'"
}

@test "device: a link-local holder ([fe80::1]%d0 by its scope id) is matched by who in both of ss's forms and blocks a wildcard bind" {
	P=$(free_port)
	hold_dev fe80::1 "$P"
	ss_addr=$(in_ns ss -ltnH "sport = :$P" | awk '{print $4}')
	assert_equal "$ss_addr" "[fe80::1]%d0:$P"
	for form in "[fe80::1%d0]:$P" "[fe80::1]%d0:$P"; do
		capture ll in_ns "$CLI" who "$form"
		assert_equal "$status" 0
		assert_file_has "$T/ll.out" "$ss_addr"
		assert_file_has "$T/ll.out" "pid=$HOLDER_PID,"
	done
	# [::] with no device covers it; the report names the device.
	py_bind wild :: "$P"
	assert_equal "$(cat "$T/wild.out")" "bind=-1 errno=98"
	assert_file_has "$T/wild.err" "$ss_addr"
	run bw_json "$T/wild.err" 'j["holders"][0]["dev"], j["holders"][0]["addr"]'
	assert_output "('d0', 'fe80::1')"
	# On lo it is free: the kernel and who agree.
	py_bind wildlo :: "$P" lo
	assert_equal "$(cat "$T/wildlo.out")" "bind=0"
	capture wl in_ns "$CLI" who tcp "[::]%lo:$P"
	assert_equal "$status" 1
	assert_file_has "$T/wl.out" "a bind there would succeed"
}
