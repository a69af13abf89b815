#!/usr/bin/env python3
"""Counts results across meson test logs: one per unit test, one per TAP
case of the bats suites (a bats file is one meson test but many cases).
Prints the closing line "N passed, N failed, N skipped"; exits 1 on any
failure or when nothing ran."""
import json
import re
import sys

passed = failed = skipped = 0
args = sys.argv[1:]
if args[:1] == ["--checks"]:
    # "name PASS|FAIL" lines from tools/test's extra checks
    for line in open(args[1]):
        name, result = line.split()
        if result == "PASS":
            passed += 1
        else:
            failed += 1
            print(f"FAILED check {name}")
    args = args[2:]
for build in args:
    try:
        log = open(f"{build}/meson-logs/testlog.json")
    except OSError as e:
        print(f"no test log in {build}: {e}", file=sys.stderr)
        failed += 1
        continue
    for line in log:
        t = json.loads(line)
        out = t.get("stdout") or ""
        tap = [l for l in out.splitlines() if re.match(r"(not )?ok \d+", l)]
        # A bats suite is one meson test; count its cases. (testlog.json
        # does not say which protocol a test spoke: its output does.)
        if tap:
            bad = 0
            for l in tap:
                if l.startswith("not ok"):
                    bad += 1
                    print(f"FAILED [{build}] {t['name']}: {l}")
                elif re.search(r"#\s*skip", l, re.I):
                    skipped += 1
                else:
                    passed += 1
            failed += bad
            # A suite that failed as a whole without a failing case (a
            # cut-short stream, a timeout) is one failure more; one that
            # already named its failing cases is not. One with no TAP
            # output at all is counted below, as any failed test.
            if t["result"] not in ("OK", "EXPECTEDFAIL") and not bad:
                failed += 1
                print(f"FAILED [{build}] {t['name']}: {t['result']} (TAP stream incomplete)")
            continue
        r = t["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED [{build}] {t['name']}: {r}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
