#!/usr/bin/env bats
# What libbindwatch.so adds to every process it is loaded into: only the
# two interposed names, and no unwinder symbols that could take over C++
# exception handling (the unwinder, libgcc_s, is dlopen()ed RTLD_LOCAL).

load common

setup() {
	export BINDWATCH_SCAN_MS=60000
}

@test "footprint: the shim defines and exports exactly bind and listen" {
	command -v nm >/dev/null || skip "nm (binutils) not installed"
	run bash -c "nm -D --defined-only '$SHIM' | awk '{print \$NF}' | sort"
	assert_success
	assert_output "$(printf 'bind\nlisten')"
}

@test "footprint: no _Unwind_ or unw_ symbol is defined or exported, and libunwind is not linked" {
	command -v nm >/dev/null || skip "nm (binutils) not installed"
	run bash -c "nm -D '$SHIM' | grep -E ' (_Unwind_|_?U?unw_|_U[Lx]?x86_64_)'"
	assert_output ""
	run bash -c "nm -D --defined-only '$SHIM' | grep -iE 'unwind|unw_'"
	assert_output ""
	run bash -c "readelf -d '$SHIM' | grep NEEDED"
	refute_output --partial libunwind
	refute_output --partial libgcc_s
}

@test "footprint: after a reported failure, _Unwind_* in the global scope still is not libunwind's" {
	port=$(free_port)
	hold_tcp "$port"
	# A conflict first, so the failure path (and the unwinder) has run; then
	# look _Unwind_RaiseException up the way the C++ runtime's callers do.
	run env LD_PRELOAD="$PRELOAD" "$PYTHON3" -c '
import ctypes, socket, sys
try:
    socket.socket().bind(("0.0.0.0", int(sys.argv[1])))
except OSError as e:
    print("errno", e.errno)
class DlInfo(ctypes.Structure):
    _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]
glob = ctypes.CDLL(None)
libc = ctypes.CDLL("libc.so.6")
maps = open("/proc/self/maps").read()
print("libunwind mapped:", "libunwind" in maps)
for name in ("_Unwind_RaiseException", "_Unwind_Backtrace", "_Unwind_GetIP"):
    try:
        fn = getattr(glob, name)
    except AttributeError:
        print(name, "absent")
        continue
    info = DlInfo()
    libc.dladdr(ctypes.cast(fn, ctypes.c_void_p), ctypes.byref(info))
    print(name, "from", info.fname.decode())' "$port"
	assert_success
	assert_line "errno 98"
	assert_output --partial "held by pid $HOLDER_PID "
	refute_output --regexp '_Unwind_[A-Za-z]+ from .*libunwind'
}
