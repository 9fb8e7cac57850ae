#!/usr/bin/env python3
"""Agent throughput with wrk (Debian package ``wrk``) at 1, 10 and 100 connections.

    python3 benchmarks/agent_wrk.py [--tree DIR ...] [--rounds 3] [--seconds 5]

Publishes the example target (acme/prod/chat) to a file store, starts a real
``cfgc agent`` on 127.0.0.1 for each source tree given (default: this one;
give two trees, e.g. main's worktree and a branch, to compare them), and runs
``wrk`` against ``GET /v1/targets/acme/prod/chat``.  The trees are measured
interleaved, round after round, so that load from other processes on the
machine falls on both alike; the table shows the median of the rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cfgc.bundle.signing import generate_keypair, load_signer  # noqa: E402
from cfgc.stores import open_store  # noqa: E402
from tests.unit.runtime.bundles import Publisher, chat  # noqa: E402

T = "acme/prod/chat"
CONNECTIONS = (1, 10, 100)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tree: str, store: Path, pub_key: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.Popen([sys.executable, "-m", "cfgc", "agent", "--from", f"file://{store}", "--channel", "prod",
                             "--key", str(pub_key), "--listen", f"127.0.0.1:{port}", "--interval", "30",
                             "--log-level", "warning"], env=env, cwd=tree,  # `-m` puts the cwd before PYTHONPATH
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"agent from {tree} did not become ready") from None
            time.sleep(0.05)


def wrk(port: int, conns: int, seconds: float) -> tuple[float, float]:
    """(requests/s, p99 ms)."""
    out = subprocess.run(["wrk", "--latency", "-t", str(min(conns, 2)), "-c", str(conns), "-d", f"{int(seconds)}s",
                          f"http://127.0.0.1:{port}/v1/targets/{T}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    return rps, float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", help="source tree to run the agent from (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    trees = args.tree or [str(ROOT)]
    tmp = Path(tempfile.mkdtemp(prefix="cfgc-wrk-"))
    try:
        priv, pub_key = generate_keypair(tmp / "ci")
        store = open_store(f"file://{tmp / 'store'}")
        Publisher(store, tmp, load_signer(priv)).publish({T: chat(1)})
        agents = {t: start(t, tmp / "store", pub_key) for t in trees}
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for conns in CONNECTIONS:
                for t in trees:
                    results.setdefault((t, conns), []).append(wrk(agents[t][1], conns, args.seconds))
        for proc, _ in agents.values():
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'tree':<32} {'conns':>5} {'req/s (median)':>15} {'p99 ms (median)':>16}   rounds (req/s)")
    for conns in CONNECTIONS:
        for t in trees:
            rs = results[(t, conns)]
            print(f"{t[-32:]:<32} {conns:>5} {statistics.median(r for r, _ in rs):>15,.0f} "
                  f"{statistics.median(p for _, p in rs):>16.3f}   {', '.join(f'{r:,.0f}' for r, _ in rs)}")
    print("command:", " ".join(sys.argv), f"(rounds={args.rounds}, seconds={args.seconds})")


if __name__ == "__main__":
    main()
