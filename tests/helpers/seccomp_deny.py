# seccomp_deny.py ACTION SYSCALL COMMAND [ARGS...]: runs COMMAND under a
# seccomp filter that allows every system call but SYSCALL, which gets
# ACTION: "eperm" fails it with EPERM (Docker's default profile on
# pidfd_getfd without CAP_SYS_PTRACE), "kill" kills the whole process
# with SIGSYS (systemd's SystemCallFilter= default action). SYSCALL may be
# NAME:N>VALUE: only when its argument N is greater than VALUE (e.g.
# ioctl:1>0x5500, a sandbox that lets only terminal ioctls through).
# Needs Debian's python3-seccomp (run it with /usr/bin/python3).
import errno
import os
import sys

import seccomp

action = {"eperm": seccomp.ERRNO(errno.EPERM), "kill": seccomp.KILL_PROCESS}[sys.argv[1]]
f = seccomp.SyscallFilter(seccomp.ALLOW)
name, _, cond = sys.argv[2].partition(":")
if cond:
    arg, value = cond.split(">")
    f.add_rule(action, name, seccomp.Arg(int(arg), seccomp.GT, int(value, 0)))
else:
    f.add_rule(action, name)
f.load()
os.execvp(sys.argv[3], sys.argv[3:])
