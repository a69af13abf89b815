"""What tools/bench/sigdelay and tools/bench/waitlat share: building
bindwatch into build-bench/, and looking at a program bindwatch --supervise
runs (its child, whether bindwatch has taken its call)."""
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(TOP, "build-bench")


def build():
    """Builds build-bench/ (release, no tests); returns its directory."""
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        subprocess.run(["meson", "setup", BUILD, TOP, "-Dbuildtype=release", "-Dtests=false"],
                       check=True, capture_output=True)
    subprocess.run(["ninja", "-C", BUILD], check=True, capture_output=True)
    return BUILD


def links(pid):
    """What pid's descriptors are ("socket:[N]", paths)."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def taken(sup, prog):
    """bindwatch holds its copy of the program's socket (a socket both
    have that we lack: they inherit our descriptors)."""
    try:
        return any(l.startswith("socket:")
                   for l in (links(prog) & links(sup)) - links(os.getpid()))
    except OSError:
        return False


def child(sup, exe):
    """The child of bindwatch (sup) that runs exe, once it has exec'd it
    (before its exec it shares bindwatch's socketpair: taken() would hold
    at once), or None. Not simply the first child: bindwatch first forks a
    short-lived one to try pidfd_getfd."""
    try:
        kids = open(f"/proc/{sup}/task/{sup}/children").read().split()
    except OSError:
        return None
    for kid in kids:
        try:
            if os.readlink(f"/proc/{kid}/exe") == os.path.realpath(exe):
                return int(kid)
        except OSError:
            pass
    return None


def until(cond, what, timeout=10.0):
    """Polls cond every ms; exits naming what when it never held."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            sys.exit(f"{what}: timed out")
        time.sleep(0.001)
