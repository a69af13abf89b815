#!/usr/bin/env python3
"""Captures real socket tables as fuzz seeds: /proc/net/{tcp,tcp6,udp,udp6,unix}
text for fuzz_socktab and raw NETLINK_SOCK_DIAG dump bytes for fuzz_sockdiag.

usage (as root, in a fresh network namespace so the tables hold only the
sockets made here):

    unshare -n python3 tests/fuzz/capture-net.py tests/fuzz/corpus

Writes CORPUS/socktab/proc-<table> (first byte: the table, as fuzz_socktab
reads it) and CORPUS/sockdiag/<request>-<n> (first byte: the request, one
file per recv(), as bw_sockdiag_parse gets them).
"""
import os
import socket
import struct
import sys
import tempfile

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
UDIAG_SHOW_ALL = 0xFF  # name, vfs, peer, icons, rqlen, meminfo, uid
UDIAG_SHOW_NAME, UDIAG_SHOW_UID = 0x01, 0x40

# fuzz_socktab: data[0] % 5 picks the table
TABLES = {"tcp": 0, "tcp6": 1, "udp": 2, "udp6": 3, "unix": 4}
# fuzz_sockdiag: data[0] % 3 picks the request
TCP, UDP, UNIX = 0, 1, 2


def make_sockets(tmp):
    """A small zoo of sockets in every state the parsers distinguish."""
    keep = []
    os.system("ip link set lo up")

    def tcp(fam, addr, **kw):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, kw.get("v6only", 0))
        s.bind(addr)
        keep.append(s)
        return s

    lst = tcp(socket.AF_INET, ("127.0.0.1", 0))
    lst.listen()
    tcp(socket.AF_INET6, ("::", 0)).listen()                     # dual-stack
    tcp(socket.AF_INET6, ("::1", 0), v6only=1).listen()          # v6only
    tcp(socket.AF_INET6, ("::ffff:127.0.0.1", 0)).listen()       # v4-mapped
    tcp(socket.AF_INET, ("127.0.0.2", 0))                        # bound, not listening

    # An established pair, and a server-side TIME_WAIT (../shared/TESTING.md).
    cli = socket.create_connection(lst.getsockname())
    acc, _ = lst.accept()
    keep += [cli, acc]
    tw_l = tcp(socket.AF_INET, ("127.0.0.1", 0))
    tw_l.listen()
    tw_c = socket.create_connection(tw_l.getsockname())
    tw_a, _ = tw_l.accept()
    tw_a.close()
    tw_c.close()

    for fam, addr in ((socket.AF_INET, ("0.0.0.0", 0)), (socket.AF_INET6, ("::1", 0))):
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind(addr)
        keep.append(u)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.connect(("127.0.0.1", 9))                                  # connected UDP
    keep.append(c)

    us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    us.bind(os.path.join(tmp, "stream.sock"))
    us.listen()
    ud = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ud.bind(os.path.join(tmp, "dgram.sock"))
    ua = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ua.bind(b"\0bw-fuzz\0x")                                    # abstract, NUL inside
    ua.listen()
    uc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    uc.connect(os.path.join(tmp, "stream.sock"))
    keep += [us, ud, ua, uc, *socket.socketpair()]
    return keep + [tw_l]


def nlmsg(payload):
    return struct.pack("=IHHII", 16 + len(payload), SOCK_DIAG_BY_FAMILY,
                       NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + payload


def inet_req(family, proto, ext):
    # inet_diag_req_v2: family, protocol, ext, pad, states, inet_diag_sockid (48 bytes)
    return nlmsg(struct.pack("=BBBBI", family, proto, ext, 0, 0xFFFFFFFF) + bytes(48))


def unix_req(show):
    # unix_diag_req: family, protocol, pad, states, ino, show, cookie[2]
    return nlmsg(struct.pack("=BBHIII8s", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, show, bytes(8)))


def dump(req):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    s.sendto(req, (0, 0))
    chunks = []
    while True:
        b = s.recv(32768)
        chunks.append(b)
        # the chunk holding NLMSG_DONE (type 3) ends the dump
        off, done = 0, False
        while off + 16 <= len(b):
            ln, ty = struct.unpack_from("=IH", b, off)
            done |= ty in (2, 3)
            off += (ln + 3) & ~3 if ln else len(b)
        if done or not b:
            break
    s.close()
    return chunks


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "socktab"), exist_ok=True)
    os.makedirs(os.path.join(out, "sockdiag"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bw-fuzz-") as tmp:
        keep = make_sockets(tmp)
        for table, sel in TABLES.items():
            with open(f"/proc/net/{table}", "rb") as f:
                text = f.read()
            with open(os.path.join(out, "socktab", f"proc-{table}"), "wb") as f:
                f.write(bytes([sel]) + text)
        reqs = {
            "tcp4": (TCP, inet_req(socket.AF_INET, socket.IPPROTO_TCP, 0)),
            "tcp6": (TCP, inet_req(socket.AF_INET6, socket.IPPROTO_TCP, 0)),
            "tcp6-ext": (TCP, inet_req(socket.AF_INET6, socket.IPPROTO_TCP, 0xFF)),
            "udp4": (UDP, inet_req(socket.AF_INET, socket.IPPROTO_UDP, 0)),
            "udp6": (UDP, inet_req(socket.AF_INET6, socket.IPPROTO_UDP, 0)),
            "unix": (UNIX, unix_req(UDIAG_SHOW_NAME | UDIAG_SHOW_UID)),
            "unix-all": (UNIX, unix_req(UDIAG_SHOW_ALL)),
        }
        for name, (sel, req) in reqs.items():
            for i, chunk in enumerate(dump(req)):
                with open(os.path.join(out, "sockdiag", f"{name}-{i}"), "wb") as f:
                    f.write(bytes([sel]) + chunk)
        for s in keep:
            s.close()


if __name__ == "__main__":
    main()
