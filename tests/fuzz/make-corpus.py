#!/usr/bin/env python3
"""Writes the hand-made fuzz seeds under CORPUS/<target>/ (default
tests/fuzz/corpus): policies, environments, sockaddrs, /proc/<pid> text,
passwd text, strings, report bytes and a synthetic BTF blob. The captured
ones (socket tables, sock_diag dumps) come from capture-net.py.

usage: python3 tests/fuzz/make-corpus.py [CORPUS]

Deterministic: run it again and only real changes show up in git (the two
seeds taken from this machine, procinfo/stat-real and btf/vmlinux-head,
are written only when missing). A seed's
first bytes are whatever selector its target reads first (see the comment
at the top of tests/fuzz/fuzz_<target>.c).
"""
import os
import random
import socket
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def write(target, name, data, once=False):
    """once: a seed taken from this machine, kept as first captured."""
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if once and os.path.exists(os.path.join(d, name)):
        return
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- policy: BINDWATCH_REMAP text --------------------------------------------------------
POLICIES = {
    "port": "8080=8081",
    "offset": "tcp/8080=+1",
    "negative": "3000=-1000",
    "udp-v4": "udp/127.0.0.1:53=5353",
    "v6-range": "[::1]:8000-8010=next:20|auto",
    "wildcard": "*=range:20000-20100",
    "wait": "3000=wait:5|reuseaddr|next",
    "several": "8080=8081, 9090=-10 ,tcp/[::]:443=8443|auto",
    "spaces": " \t tcp/ 0.0.0.0:80 = 8080 | next:5 \t",
    "mapped": "[::ffff:127.0.0.1]:8080=auto",
    "max-rules": ",".join(f"{1000 + i}=+1" for i in range(32)),
    "max-actions": "80=81|82|83|84|+5|-5|next|auto",
    "long-rule": "tcp/[0000:0000:0000:0000:0000:0000:0000:0001]:10000-20000=range:30000-40000|wait:3600|next:65535|reuseaddr",
    # rejected
    "bad-empty": "",
    "bad-no-action": "8080",
    "bad-empty-action": "8080=",
    "bad-port": "70000=1",
    "bad-target": "8080=0",
    "bad-range": "10-5=auto",
    "bad-v6": "[::1=80",
    "bad-v4": "1.2.3.4.5:80=81",
    "bad-next": "8080=next:0",
    "bad-wait": "8080=wait:4000",
    "bad-word": "a=b",
    "bad-trailing-comma": "8080=8081,",
    "bad-too-many-actions": "80=1|2|3|4|5|6|7|8|9",
    "bad-too-many-rules": ",".join(f"{1000 + i}=+1" for i in range(33)),
    "bad-proto": "sctp/80=81",
}
for name, text in POLICIES.items():
    write("policy", name, text)

# ---- settings: two bytes of "which variables are set", then NUL-separated values ---------
NAMES = ["LOG", "FORMAT", "STACK", "STACK_DEPTH", "SCAN_MS", "DISABLE", "RATELIMIT", "TRACE",
         "REMAP", "REMAP_MODE", "PORT_FILE", "UNIX_STALE", "NETLINK", "BPF", "NO_COLOR"]


def env(**kv):
    mask, vals = 0, []
    for i, n in enumerate(NAMES):
        if n in kv:
            mask |= 1 << i
            vals.append(kv[n].encode() if isinstance(kv[n], str) else kv[n])
    return struct.pack("<H", mask) + b"\0".join(vals)


SETTINGS = {
    "none": env(),
    "defaults-spelled": env(LOG="stderr", FORMAT="text", STACK="1", STACK_DEPTH="32", SCAN_MS="1000",
                            DISABLE="0", RATELIMIT="10", TRACE="conflicts", REMAP_MODE="conflict",
                            UNIX_STALE="keep", NETLINK="1", BPF="1"),
    "all-valid": env(LOG="/var/log/bindwatch.log", FORMAT="json", STACK="no", STACK_DEPTH="64",
                     SCAN_MS="0", DISABLE="off", RATELIMIT="86400", TRACE="all",
                     REMAP="8080=8081,tcp/[::1]:9000-9010=next|auto", REMAP_MODE="always",
                     PORT_FILE="/run/user/1000/ports", UNIX_STALE="unlink", NETLINK="false",
                     BPF="off", NO_COLOR="1"),
    "all-invalid": env(LOG="relative/path", FORMAT="xml", STACK="maybe", STACK_DEPTH="65",
                       SCAN_MS="-1", DISABLE="2", RATELIMIT="1e3", TRACE="some",
                       REMAP="8080=", REMAP_MODE="sometimes", PORT_FILE="ports",
                       UNIX_STALE="delete", NETLINK="yes please", BPF=""),
    "empty-values": env(**{n: "" for n in NAMES}),
    "syslog-trace-off": env(LOG="syslog", TRACE="off", RATELIMIT="0"),
    "long-values": env(LOG="/" + "x" * 300, REMAP="8080=" + "9" * 200,
                       FORMAT="\x1b[31m" + "\xff" * 100, PORT_FILE="/" + "p" * 5000),
    "control-bytes": env(FORMAT="json\n", TRACE="all\r", LOG="\x1b]0;pwn\x07",
                         REMAP="8080=8081\t,\t9090=auto"),
    "numbers": env(STACK_DEPTH="0032", SCAN_MS="60000", RATELIMIT="-0",
                   NO_COLOR=""),
    "huge-number": env(STACK_DEPTH="99999999999999999999", SCAN_MS="9223372036854775807"),
}
for name, data in SETTINGS.items():
    write("settings", name, data)

# ---- sockaddr: selector byte (bits 0-1 family: inet, inet6, unix, as given; bit 2 odd
# address), then the sockaddr bytes; the same bytes are also parsed as a string ------------
FAM = struct.Struct("=H")


def sin(ip, port):
    return FAM.pack(socket.AF_INET) + struct.pack(">H", port) + socket.inet_aton(ip) + bytes(8)


def sin6(ip, port, scope=0, flow=0):
    return (FAM.pack(socket.AF_INET6) + struct.pack(">HI", port, flow) +
            socket.inet_pton(socket.AF_INET6, ip) + struct.pack("=I", scope))


def sun(path):
    return FAM.pack(socket.AF_UNIX) + path


SOCKADDRS = {
    "inet-any": (0, sin("0.0.0.0", 8080)),
    "inet-loopback": (0, sin("127.0.0.1", 80)),
    "inet-short": (0, sin("10.1.2.3", 443)[:15]),
    "inet-long": (0, sin("192.168.1.1", 65535) + bytes(12)),
    "inet6-any": (1, sin6("::", 8080)),
    "inet6-mapped": (1, sin6("::ffff:127.0.0.1", 8000)),
    "inet6-scope": (1, sin6("fe80::1", 22, scope=2, flow=0x12345)),
    "inet6-rfc2133": (1, sin6("::1", 53)[:24]),
    "inet6-short": (1, sin6("::1", 53)[:23]),
    "unix-path": (2, sun(b"/run/app/app.sock\0")),
    "unix-path-no-nul": (2, sun(b"/tmp/x.sock")),
    "unix-nul-inside": (2, sun(b"/tmp/a\0b")),
    "unix-abstract": (2, sun(b"\0bw-fuzz\0x")),
    "unix-unnamed": (2, sun(b"")),
    "unix-full": (2, sun(b"/" + b"p" * 107)),
    "unix-overlong": (2, sun(b"/" + b"q" * 130)),
    "unix-odd": (6, sun(b"/run/odd.sock\0")),
    "inet-odd": (4, sin("127.0.0.1", 80)),
    "family-only": (3, FAM.pack(socket.AF_INET)),
    "one-byte": (3, b"\x02"),
    "netlink": (3, FAM.pack(socket.AF_NETLINK) + bytes(10)),
    "unspec": (3, FAM.pack(socket.AF_UNSPEC) + bytes(14)),
    # as strings (bw_addr_parse); their first two bytes make an unknown family
    "str-v4": (3, b"127.0.0.1:8080"),
    "str-v6": (3, b"[::1]:8080"),
    "str-mapped": (3, b"[::ffff:10.0.0.1]:443"),
    "str-port": (3, b"8080"),
    "str-wild": (3, b"*:80"),
    "str-path": (3, b"/run/x.sock"),
    "str-rel": (3, b"./x.sock"),
    "str-abstract": (3, b"@bw-fuzz@x"),
    "str-bad": (3, b"[::1]80"),
    "str-big-port": (3, b"1.2.3.4:65536"),
}
for name, (sel, data) in SOCKADDRS.items():
    write("sockaddr", name, bytes([sel]) + data)

# ---- procinfo: size byte, then /proc/<pid>/stat text or cmdline bytes -------------------
def stat_line(pid, comm, ppid, start):
    fields = ["S", str(ppid)] + ["0"] * 17 + [str(start)] + ["0"] * 30
    return f"{pid} ({comm}) " + " ".join(fields) + "\n"


PROC = {
    "stat-plain": stat_line(4243, "nginx", 4200, 12345),
    "stat-parens": stat_line(4242, "a) b) c", 1, 99),
    "stat-empty-comm": stat_line(7, "", 1, 0),
    "stat-zombie": "4245 (defunct thing) Z 4243 0 0 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n",
    "stat-negative": stat_line(1, "init", -1, 18446744073709551615),
    "stat-short": "12 (x) S 1 2 3\n",
    "stat-long-comm": stat_line(9, "kworker/u16:3-events_unbound_very_long_name_for_a_wq_worker", 2, 5),
    "cmdline-args": b"python3\0-m\0http.server\0--bind\0127.0.0.1\0",
    "cmdline-padded": b"nginx: master process /usr/sbin/nginx" + b"\0" * 40,
    "cmdline-hostile": b"ev\x1b[31mil\0\n\xff\0",
    "cmdline-long": b"\0".join([b"arg%d" % i for i in range(200)]),
    # cgroup paths (bw_proc_cgroup_identity)
    "cgroup-service": "/system.slice/nginx.service",
    "cgroup-user": "/user.slice/user-1000.slice/user@1000.service/app.slice/app-web.service",
    "cgroup-session": "/user.slice/user-1000.slice/session-2.scope",
    "cgroup-docker": "/system.slice/docker-" + "0123456789abcdef" * 4 + ".scope",
    "cgroup-podman": "/machine.slice/libpod-" + "fedcba9876543210" * 4 + ".scope/container",
    "cgroup-bare-docker": "/docker/" + "a1" * 32,
    "cgroup-socket": "/system.slice/system-sshd.slice/sshd.socket",
    "cgroup-hostile": "/user.slice/x\x1b[2J\n.scope",
}
for i, (name, data) in enumerate(PROC.items()):
    write("procinfo", name, bytes([i * 37 % 256]) + (data.encode() if isinstance(data, str) else data))
try:
    with open("/proc/self/stat", "rb") as f:
        write("procinfo", "stat-real", b"\x40" + f.read(), once=True)
except OSError:
    pass

# ---- users: uid selector, size byte, passwd text ---------------------------------------
PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
"""
EDGES = """no colons here
broken:x:abc:5::/:/bin/sh
truncated:x
+::::::
big:x:4294967294:4294967294::/:/bin/false
a_thirty_nine_character_long_user_name:x:888:888::/:/bin/sh
nonl:x:5:5::/:/bin/sh"""
USERS = {
    "debian-root": (0, 40, PASSWD),
    "debian-1000": (1, 63, PASSWD),
    "debian-nobody": (2, 5, PASSWD),
    "edges-big": (3, 63, EDGES),
    "edges-missing": (4, 63, EDGES),
    "edges-nonl": (5, 63, EDGES),
    "edges-888": (6, 10, EDGES),
    "raw-uid": (7, 63, "\0\0\x03\xe8" + PASSWD),
    "crlf": (1, 63, PASSWD.replace("\n", "\r\n")),
}
for name, (pick, size, text) in USERS.items():
    write("users", name, bytes([pick, size]) + text.encode("latin-1"))

# ---- fmt: small-buffer size, time_t, lo, hi, string ---------------------------------
def fmt_seed(small, t, lo, hi, s):
    return bytes([small]) + struct.pack(">qqq", t, lo, hi) + (s.encode("latin-1") if isinstance(s, str) else s)


FMT = {
    "number": fmt_seed(8, 1700000000, 0, 65535, "8080"),
    "negative": fmt_seed(3, 0, -10, 10, "-7"),
    "long-min": fmt_seed(200, -1, -(1 << 63), (1 << 63) - 1, "-9223372036854775808"),
    "overflow": fmt_seed(1, 253402300799, 0, 100, "99999999999999999999"),
    "hostile": fmt_seed(16, 86399, 0, 1, "ev\x1b[31mil\"q\"\\ \x01\x7f\xc3\xa9\xff\nforged\r"),
    "nul": fmt_seed(0, -62135596800, 0, 1, b"a\0b"),
    "plus": fmt_seed(5, 951782400, 0, 100, "+5"),
}
for name, data in FMT.items():
    write("fmt", name, data)

# ---- report: bytes the target turns into a conflict or a trace event -----------------
rng = random.Random(0xB1D)
for i, n in enumerate([64, 256, 1024, 4096]):
    write("report", f"random-{n}", bytes(rng.randrange(256) for _ in range(n)))
write("report", "zeros", bytes(512))
write("report", "ones", b"\xff" * 2048)
write("report", "trace", b"\x07\xff\x01" + bytes(rng.randrange(256) for _ in range(600)))

# ---- btf: a synthetic blob with what shim/lookup/bpfiter.c looks up --------------------------
KIND = dict(INT=1, PTR=2, ARRAY=3, STRUCT=4, UNION=5, ENUM=6, FWD=7, TYPEDEF=8, VOLATILE=9,
            CONST=10, RESTRICT=11, FUNC=12, FUNC_PROTO=13, VAR=14, DATASEC=15, FLOAT=16,
            DECL_TAG=17, TYPE_TAG=18, ENUM64=19)


class Btf:
    def __init__(self):
        self.strs = b"\0"
        self.types = b""
        self.n = 0

    def s(self, name):
        if not name:
            return 0
        off = len(self.strs)
        self.strs += name.encode() + b"\0"
        return off

    def t(self, kind, name, vlen=0, size_or_type=0, kflag=0, extra=b""):
        info = (kflag << 31) | (KIND[kind] << 24) | vlen
        self.types += struct.pack("<III", self.s(name), info, size_or_type) + extra
        self.n += 1
        return self.n

    def struct(self, name, size, members, kind="STRUCT", kflag=0):
        extra = b"".join(struct.pack("<III", self.s(m), ty, off) for m, ty, off in members)
        return self.t(kind, name, len(members), size, kflag, extra)

    def blob(self, type_off=0, pad=b""):
        hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, type_off, len(self.types),
                          type_off + len(self.types), len(self.strs))
        return hdr + pad + self.types + self.strs


def synthetic():
    b = Btf()
    i32 = b.t("INT", "int", 0, 4, extra=struct.pack("<I", (1 << 24) | 32))
    u64 = b.t("INT", "unsigned long", 0, 8, extra=struct.pack("<I", 64))
    vptr = b.t("PTR", "", 0, 0)
    b.struct("file", 8, [("f_count", u64, 0)])                # a "file" without f_inode first
    inode = b.struct("inode", 72, [("i_mode", i32, 0), ("i_ino", u64, 64 * 8)])
    iptr = b.t("PTR", "", 0, inode)
    anon_u = b.struct("", 8, [("f_llist", vptr, 0), ("f_rcuhead", vptr, 0)], kind="UNION")
    b.struct("file", 32, [("f_mode", i32, (4 << 24) | 0), ("", anon_u, 64), ("f_inode", iptr, 128)],
             kflag=1)                                          # bitfield-encoded offsets
    anon_s = b.struct("", 8, [("pid", i32, 0), ("tgid", i32, 32)])
    task = b.struct("task_struct", 128, [("__state", i32, 0), ("", anon_s, 64 * 8)])
    proto = b.t("FUNC_PROTO", "", 2, i32, extra=struct.pack("<IIII", b.s("ctx"), vptr, 0, 0))
    b.t("FUNC", "bpf_iter_task", 1, proto)                    # a near miss
    b.t("FUNC", "bpf_iter_task_file", 1, proto)
    b.t("ENUM", "sock_state", 2, 4, extra=struct.pack("<IiIi", b.s("SS_FREE"), 0, b.s("SS_UNCONNECTED"), 1))
    b.t("ARRAY", "", 0, 0, extra=struct.pack("<III", i32, i32, 16))
    pid_t = b.t("TYPEDEF", "pid_t", 0, i32)
    c = b.t("CONST", "", 0, pid_t)
    b.t("VOLATILE", "", 0, c)
    b.t("RESTRICT", "", 0, vptr)
    b.t("FWD", "sock", 0, 0)
    var = b.t("VAR", "init_task", 0, task, extra=struct.pack("<I", 1))
    b.t("DATASEC", ".data..percpu", 1, 128, extra=struct.pack("<III", var, 0, 128))
    b.t("FLOAT", "double", 0, 8)
    b.t("DECL_TAG", "user", 0, task, extra=struct.pack("<i", -1))
    b.t("TYPE_TAG", "rcu", 0, vptr)
    b.t("ENUM64", "big", 1, 8, extra=struct.pack("<III", b.s("BIG"), 1, 2))
    return b


syn = synthetic()
write("btf", "synthetic", syn.blob())
write("btf", "synthetic-type-off", syn.blob(type_off=8, pad=bytes(8)))
write("btf", "truncated", syn.blob()[:200])
bad = bytearray(syn.blob())
bad[0] = 0
write("btf", "bad-magic", bytes(bad))
bit = Btf()
u = bit.t("INT", "unsigned int", 0, 4, extra=struct.pack("<I", 32))
bit.struct("inode", 8, [("i_ino", u, (4 << 24) | 3)], kflag=1)   # not on a byte: -EINVAL path
write("btf", "bitfield-member", bit.blob())


def vmlinux_head(path="/sys/kernel/btf/vmlinux", budget=2500):
    """The first types of the running kernel's BTF, with their strings."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", data)
    types = data[hdr_len + type_off:hdr_len + type_off + type_len]
    strs = data[hdr_len + str_off:hdr_len + str_off + str_len]
    sizes = {1: 4, 3: 12, 4: 12, 5: 12, 6: 8, 13: 8, 14: 4, 15: 12, 17: 4, 19: 12}
    per_vlen = {4, 5, 6, 13, 15, 19}
    out = Btf()

    def name(off):
        return strs[off:strs.index(b"\0", off)].decode("latin-1")

    off = 0
    while off + 12 <= len(types) and len(out.types) < budget:
        name_off, info, st = struct.unpack_from("<III", types, off)
        kind, vlen = info >> 24 & 0x1F, info & 0xFFFF
        x = sizes.get(kind, 0) * (vlen if kind in per_vlen else 1)
        extra = bytearray(types[off + 12:off + 12 + x])
        # renumber the names inside members, enumerators and parameters
        if kind in (4, 5, 19) or kind in (6, 13):
            step = 12 if kind in (4, 5, 19) else 8
            for j in range(0, len(extra), step):
                struct.pack_into("<I", extra, j, out.s(name(struct.unpack_from("<I", extra, j)[0])))
        out.types += struct.pack("<III", out.s(name(name_off)), info, st) + bytes(extra)
        out.n += 1
        off += 12 + x
    return out


try:
    if not os.path.exists(os.path.join(OUT, "btf", "vmlinux-head")):
        write("btf", "vmlinux-head", vmlinux_head().blob())
except (OSError, ValueError, struct.error) as e:
    print(f"make-corpus: no vmlinux-head seed ({e})", file=sys.stderr)
