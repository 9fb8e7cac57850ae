#!/usr/bin/env python3
"""Latency of ``GET /metrics`` on a real agent, per source tree (e.g. main vs a branch).

    python3 benchmarks/agent_metrics.py --tree MAIN_WORKTREE --tree . [--rounds 5] [--requests 300]

Starts one ``cfgc agent`` per tree (see agent_wrk.py), then, round after round and tree
after tree (interleaved, so machine load falls on both alike), sends N keep-alive requests
for /metrics (text, then OpenMetrics) and another N for a target; prints medians and p99
of the per-request latency in milliseconds.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.agent_wrk import T, start  # noqa: E402
from cfgc.bundle.signing import generate_keypair, load_signer  # noqa: E402
from cfgc.stores import open_store  # noqa: E402
from tests.unit.runtime.bundles import Publisher, chat  # noqa: E402

PATHS = {"metrics(text)": ("/metrics", None),
         "metrics(openmetrics)": ("/metrics", "application/openmetrics-text; version=1.0.0"),
         "target": (f"/v1/targets/{T}", None)}


def timings(port: int, path: str, accept: str | None, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    headers = {"Host": "localhost", **({"Accept": accept} if accept else {})}
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        conn.getresponse().read()
        out.append((time.perf_counter() - t) * 1e3)
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", action="append")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    trees = args.tree or [str(ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        key, pub = generate_keypair(d / "ci")
        store = open_store(f"file://{d / 'store'}")
        Publisher(store, d, load_signer(key)).publish({T: chat(1)})
        agents = [start(t, d / "store", pub) for t in trees]
        results: dict[tuple[str, str], list[float]] = {}
        try:
            for _ in range(args.rounds):
                for tree, (_, port) in zip(trees, agents, strict=True):
                    for name, (path, accept) in PATHS.items():
                        results.setdefault((tree, name), []).extend(timings(port, path, accept, args.requests))
        finally:
            for proc, _ in agents:
                proc.terminate()
                proc.wait(10)
    print(f"{'tree':40} {'route':22} {'median ms':>10} {'p99 ms':>8}")
    for (tree, name), xs in results.items():
        xs.sort()
        print(f"{tree[-40:]:40} {name:22} {statistics.median(xs):10.3f} {xs[int(len(xs) * 0.99)]:8.3f}")


if __name__ == "__main__":
    main()
