# hold.py KIND ADDR [PORT [V6ONLY]]: holds an address until killed, for the
# integration tests (tests/integration/common.bash: hold).
#   KIND tcp: listening (SO_REUSEADDR unset); udp: bound; unix: ADDR is a
#   path, an AF_UNIX stream listener. V6ONLY 0|1 sets IPV6_V6ONLY on an
#   IPv6 socket (default: the system's net.ipv6.bindv6only).
import socket
import sys
import time


def make_socket(kind, addr, port=None, v6only=""):
    """The socket hold.py holds (prefork.py shares it with its children)."""
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr)
    else:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
        if fam == socket.AF_INET6 and v6only != "":
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        s.bind((addr, int(port)))
    if kind != "udp":
        s.listen(8)
    return s


if __name__ == "__main__":
    held = make_socket(sys.argv[1], sys.argv[2], *sys.argv[3:5])
    time.sleep(600)
