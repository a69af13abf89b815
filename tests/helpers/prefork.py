# prefork.py KIND ADDR PORT N FILE: a pre-fork server for the integration
# tests (tests/integration/holders.bats). Binds ADDR:PORT (KIND tcp:
# listening; udp: bound; unix: ADDR is a path and PORT is ignored), forks N
# children that keep the socket, then writes "PARENT CHILD..." to FILE.
# SIGTERM to the parent ends the children too.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hold import make_socket  # noqa: E402

kind, addr, port, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
s = make_socket(kind, addr, port)
kids = []
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        time.sleep(600)
        os._exit(0)
    kids.append(pid)


def stop(*_):
    for k in kids:
        os.kill(k, signal.SIGTERM)
    for k in kids:
        os.waitpid(k, 0)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
with open(out + ".tmp", "w") as f:
    f.write(" ".join(str(p) for p in [os.getpid()] + kids) + "\n")
os.rename(out + ".tmp", out)
time.sleep(600)
stop()
