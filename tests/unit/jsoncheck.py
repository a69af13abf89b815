#!/usr/bin/env python3
"""Validates bindwatch JSON records for test_report.c.

usage: jsoncheck.py MODE FILE

Every line of FILE is one record and must be a JSON object, valid UTF-8 (bytes that are not UTF-8 escaped as \\udcNN),
without duplicate keys. MODE adds:
  valid   nothing more (truncated records)
  full    the full bind_conflict schema: top-level, holder and stack keys
  lookup  a `bindwatch who` record: no pid of its own
Prints one line per problem; exit status 1 if there was any.
"""
import json
import sys

TOP = ["event", "time", "pid", "comm", "fd", "family", "proto", "addr", "port", "errno",
       "holders", "stack", "cause", "hint"]
HOLDER = ["pid", "comm", "cmdline", "uid", "user", "fd", "state", "addr", "port", "since"]
PROCESS = ["pid", "fd", "fds", "comm"]
FRAME = ["pc", "symbol", "offset", "module", "module_offset"]


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    dups = {k for k in keys if keys.count(k) > 1}
    if dups:
        raise ValueError(f"duplicate keys {sorted(dups)}")
    return dict(pairs)


def missing(obj, keys):
    return [k for k in keys if k not in obj]


def check(mode, n, line, problems):
    def bad(msg):
        problems.append(f"line {n}: {msg}: {line[:200]!r}")

    try:
        rec = json.loads(line, object_pairs_hook=no_dups)
    except ValueError as e:
        bad(f"invalid JSON ({e})")
        return
    if not isinstance(rec, dict):
        bad("not an object")
        return
    if mode == "full":
        if missing(rec, TOP):
            bad(f"missing keys {missing(rec, TOP)}")
        if not rec.get("holders"):
            bad("no holders")
        for i, h in enumerate(rec.get("holders") or []):
            if missing(h, HOLDER):
                bad(f"holder {i} misses {missing(h, HOLDER)}")
            procs = h.get("processes") or []
            # One entry per process, "fd" among its "fds".
            if len({p.get("pid") for p in procs}) != len(procs):
                bad(f"holder {i} lists a pid twice")
            for p in procs:
                if missing(p, PROCESS) or p["fd"] not in (p["fds"] or []):
                    bad(f"holder {i} process {p.get('pid')}: no fd among fds")
        if not rec.get("stack") and not rec.get("stack_missing"):
            bad("no stack, and no stack_missing saying why")
        if rec.get("stack") and "stack_missing" in rec:
            bad("a stack and a stack_missing")
        for i, f in enumerate(rec.get("stack") or []):
            if missing(f, FRAME):
                bad(f"frame {i} misses {missing(f, FRAME)}")
        if not isinstance(rec.get("pid"), int) or not isinstance(rec.get("errno"), int):
            bad("pid/errno are not numbers")
    elif mode == "lookup":
        if missing(rec, ["event", "time", "family", "proto", "cause", "hint", "holders"]):
            bad("missing lookup keys")
        if "pid" in rec:
            bad("a lookup has no pid of its own")


def main():
    mode, path = sys.argv[1], sys.argv[2]
    problems = []
    with open(path, "rb") as f:
        data = f.read()
    try:
        # Strict: bytes that are not UTF-8 must have been escaped (\udcNN).
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        print(f"{path}: bytes that are not UTF-8")
        return 1
    lines = text.split("\n")
    if lines[-1] != "":
        problems.append("the last record does not end in a newline")
    lines = lines[:-1]
    if not lines:
        problems.append("no records")
    for n, line in enumerate(lines, 1):
        check(mode, n, line, problems)
    for p in problems[:8]:
        print(p)
    if len(problems) > 8:
        print(f"... and {len(problems) - 8} more problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
