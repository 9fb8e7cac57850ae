"""Microseconds of CPU per target to encode canonical JSON: json (the definition) against canonical_json.

    python3 benchmarks/canonical_bench.py BUNDLE_DIR [--repeat 5]

BUNDLE_DIR is a bundle built by ``cfgc build`` (for example from the corpus of
benchmarks/corpus.py); its targets are parsed back and encoded by both, and the
bytes must be the bundle's own.  Prints the median over the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from cfgc.base.canonical import canonical_json, reference_json


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    raw = [p.read_bytes() for p in sorted((args.bundle / "targets").rglob("*.json"))]
    if not raw:
        print(f"no targets under {args.bundle}/targets", file=sys.stderr)
        return 2
    values = [json.loads(b) for b in raw]
    for b, v in zip(raw, values, strict=True):
        if canonical_json(v) != b or reference_json(v) != b:
            print("an encoder does not give the bundle's bytes", file=sys.stderr)
            return 1
    for name, encode in (("json", reference_json), ("canonical_json", canonical_json)):
        runs = []
        for _ in range(args.repeat):
            start = time.process_time()
            for v in values:
                encode(v)
            runs.append((time.process_time() - start) / len(values) * 1e6)
        print(f"{name}: {statistics.median(runs):.1f} µs CPU per target (median of {args.repeat}, {len(values)} targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
