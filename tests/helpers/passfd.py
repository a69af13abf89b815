# passfd.py recv PATH FILE | send PATH PORT: a TCP listener handed from one
# process to another that is not its descendant (SCM_RIGHTS, unix(7)), for
# the integration tests (tests/integration/holders.bats).
#   recv: listens on the unix path PATH, takes one fd, writes "PID" to FILE
#         once it holds it, and keeps it until killed.
#   send: listens on 127.0.0.1:PORT, sends that socket to PATH, and keeps
#         its own copy until killed.
import os
import socket
import sys
import time

mode, path = sys.argv[1], sys.argv[2]
if mode == "recv":
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind(path)
    u.listen(1)
    conn, _ = u.accept()
    _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    held = socket.socket(fileno=fds[0])
    with open(sys.argv[3] + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])
else:
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", int(sys.argv[3])))
    held.listen(8)
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect(path)
    socket.send_fds(u, [b"x"], [held.fileno()])
time.sleep(600)
