#!/usr/bin/env python3
"""Sharded builds: N shards of one corpus built one after another, then merged.

    python3 benchmarks/shards.py --size 1000x4x250 --shards 8 --work /work/tmp/shard
    python3 benchmarks/shards.py --size 50x4x500 --shards 8 --single --work /tmp/s   # also one process

Generates the corpus with benchmarks/corpus.py (seed 1; reused when --work
already holds it), then runs ``cfgc build --shard I/N --no-cache`` for every
shard and ``cfgc bundle merge``, each as its own process, and prints each
one's wall time and peak RSS.  The projected wall time with N runners is the
slowest shard plus the merge (artifact upload and download not included).
With --single it also times ``cfgc build --no-cache`` of the whole corpus and
checks that the merged bundle's manifest is byte-identical to it.  Every
process gets the machine's cores (--jobs default), as a CI runner would.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import _size, cfgc, generate, run_once  # noqa: E402  (benchmarks/run.py, beside this file)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=_size, default=(1000, 4, 250), metavar="TxExS",
                   help="corpus shape, tenants x envs x services (default 1000x4x250: 1,000,000 targets)")
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--work", type=Path, required=True, help="corpus and outputs go here (several GB at 1M)")
    p.add_argument("--single", action="store_true", help="also build the whole corpus in one process")
    p.add_argument("--keep", action="store_true", help="keep the parts and bundles afterwards")
    args = p.parse_args(argv)
    t, e, s = args.size
    repo = args.work / f"corpus-{t}x{e}x{s}"
    print(f"corpus {repo} ({t * e * s:,} targets)", flush=True)
    generate(repo, t, e, s, plain=False)
    rows: list[tuple[str, float, float]] = []

    def timed(name: str, cmd: list[str]) -> float:
        secs, mb = run_once(cmd)
        rows.append((name, secs, mb))
        print(f"  {name:<34} {secs:9.1f} s {mb:8.0f} MB", flush=True)
        return secs

    n = args.shards
    parts = [args.work / f"part-{i}" for i in range(1, n + 1)]
    shard_times = [timed(f"build --shard {i}/{n}", cfgc("build", "--repo", repo, "--shard", f"{i}/{n}",
                                                         "--out", part, "--no-cache"))
                   for i, part in enumerate(parts, 1)]
    merged = args.work / "merged"
    merge_time = timed(f"bundle merge ({n} parts)", cfgc("bundle", "merge", *parts, "--out", merged))
    print(f"  {'projected wall, ' + str(n) + ' runners':<34} {max(shard_times) + merge_time:9.1f} s"
          f"   (slowest shard {max(shard_times):.1f} s + merge {merge_time:.1f} s;"
          f" shards in sequence {sum(shard_times):.1f} s)")
    if args.single:
        whole = args.work / "whole"
        timed("build (one process)", cfgc("build", "--repo", repo, "--out", whole, "--no-cache"))
        same = _digest(whole) == _digest(merged)
        print(f"  merged manifest {'==' if same else '!='} single build's: {_digest(merged)[:19]}…")
        if not same:
            return 1
        if not args.keep:
            shutil.rmtree(whole, ignore_errors=True)
    if not args.keep:
        for d in [*parts, merged]:
            shutil.rmtree(d, ignore_errors=True)
    return 0


def _digest(bundle: Path) -> str:
    return "sha256:" + hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
