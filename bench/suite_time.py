"""How long the README's test command takes (issue 16: at most 4 minutes on SQLite).

    .venv/bin/python bench/suite_time.py [--postgres URL]

Runs `scripts/test -q -p no:cacheprovider` (set-up check, catalog check, the whole suite with
the browser tests) and prints the wall time, pytest's own summary line, and the machine's load
average before and after (other work running makes the figure an upper bound).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", help="run the suite on this PostgreSQL URL instead (-m 'not browser')")
    args = ap.parse_args()
    env = dict(os.environ)
    cmd = ["scripts/test", "-q", "-p", "no:cacheprovider"]
    if args.postgres:
        env["TSUNAGARI_TEST_DATABASE_URL"] = args.postgres
        cmd += ["-m", "not browser"]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    summary = next((line for line in reversed(run.stdout.splitlines()) if " in " in line and "passed" in line), "?")
    print(f"command: {' '.join(cmd)}{' (PostgreSQL)' if args.postgres else ''}")
    print(f"wall time: {took:.1f} s ({int(took // 60)} min {took % 60:.0f} s); pytest: {summary.strip()}")
    print(f"load average: {load0:.2f} before, {os.getloadavg()[0]:.2f} after; exit status {run.returncode}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
