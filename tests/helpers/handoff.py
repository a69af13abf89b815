# handoff.py PORT FILE [PREFIX...]: a server that hands its listening
# socket to a helper it starts, for the integration tests (free.bats,
# managers.bats). Listens on 127.0.0.1:PORT, starts PREFIX... python3 (a
# sleeper) with the socket open (pass_fds: as a server hands a socket to a
# helper), writes "PARENT CHILD" to FILE and sleeps. The helper outlives
# the server: SIGTERM ends the server alone. PREFIX such as
# `systemd-run --scope --unit=U` starts the helper in a unit of its own.
import os
import socket
import subprocess
import sys
import time

s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
child = subprocess.Popen(sys.argv[3:] + [sys.executable, "-c", "import time; time.sleep(600)"],
                         pass_fds=[s.fileno()])
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d %d\n" % (os.getpid(), child.pid))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(600)
