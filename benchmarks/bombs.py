#!/usr/bin/env python3
"""Resource bombs against the real console script: wall time and peak RSS of each.

    python3 benchmarks/bombs.py            # every tests/data/hostile/bounds-* case
    python3 benchmarks/bombs.py --as-mb 2048   # with an address-space cap (RLIMIT_AS) per run

Each case's repo is copied to a scratch directory and ``cfgc <command>`` runs
there, once per command of the case (validate, build, check).  Each run is
measured by its own measuring process, so ru_maxrss of RUSAGE_CHILDREN is that
run's peak and not the largest of all runs so far.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "data" / "hostile"


def _cfgc() -> list[str]:
    found = shutil.which("cfgc")
    return [found] if found and not os.environ.get("PYTHONPATH") else [sys.executable, "-m", "cfgc"]


def measure_one(args: list[str], as_mb: int | None) -> dict[str, float | int]:
    """Run one command; its exit code, wall seconds and peak RSS in MB."""

    def cap() -> None:
        if as_mb:
            resource.setrlimit(resource.RLIMIT_AS, (as_mb << 20, as_mb << 20))

    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, preexec_fn=cap, timeout=600)
    wall = time.monotonic() - start
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"exit": proc.returncode, "seconds": round(wall, 2), "rss_mb": round(rss_kb / 1024, 1),
            "first_line": (proc.stdout + proc.stderr).splitlines()[0][:110] if proc.stdout + proc.stderr else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--as-mb", type=int, default=None, help="RLIMIT_AS for each run, in MiB")
    ap.add_argument("--one", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.one:  # the measuring process of one run
        print(json.dumps(measure_one(opts.one, opts.as_mb)))
        return 0
    print("| case | command | exit | wall s | peak RSS MB | first line of output |")
    print("| --- | --- | --- | --- | --- | --- |")
    worst = 0
    for case in sorted(p for p in CASES.glob("bounds-*") if (p / "case.yaml").is_file()):
        spec = yaml.safe_load((case / "case.yaml").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "repo"
            shutil.copytree(case / "repo", repo)
            for step in spec["commands"]:
                args = [a.replace("{repo}", str(repo)).replace("{out}", str(Path(tmp) / "out")) for a in step["args"]]
                cmd = [sys.executable, __file__, *(["--as-mb", str(opts.as_mb)] if opts.as_mb else []), "--one",
                       *_cfgc(), *args]
                r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=repo).stdout)
                worst = max(worst, r["exit"] != step["exit"])
                print(f"| {case.name} | {args[0]} | {r['exit']} | {r['seconds']} | {r['rss_mb']} | "
                      f"`{r['first_line'].replace('|', '/')}` |", flush=True)
    return worst


if __name__ == "__main__":
    sys.exit(main())
