# seccomp_run.py SYSCALLS COMMAND [ARGS...]: runs COMMAND under a seccomp
# filter that allows exactly the system calls listed in the file SYSCALLS
# (one name per line) and kills the whole process on any other: what
# systemd's SystemCallFilter= does with its default action. Names this
# libseccomp does not know on this architecture are skipped. Needs
# Debian's python3-seccomp (run it with /usr/bin/python3).
import os
import sys

import seccomp

names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
f = seccomp.SyscallFilter(seccomp.KILL_PROCESS)
for name in names:
    try:
        f.add_rule(seccomp.ALLOW, name)
    except (RuntimeError, ValueError, OSError):
        pass  # not a system call on this architecture
f.load()
os.execvp(sys.argv[2], sys.argv[2:])
