#!/usr/bin/env python3
"""Agent memory (RSS) on the 10,000-target corpus: at ready, after a sweep, after a version swap.

    python3 benchmarks/agent_memory.py [--work DIR] [--targets 10000] [--tree DIR ...] [--scope GLOB ...]

Prepares once (kept in --work, reused by later runs): the corpus of
benchmarks/corpus.py, two builds of it (v2 changes one base value, so every
target's bytes change) published to a file store.  Then for each source tree
(default: this one) and each scope (default: the whole bundle and one
tenant-environment) it promotes channel ``prod`` to v1, starts a real ``cfgc
agent --target SCOPE``, and reads VmRSS from /proc/PID/status:

    ready        /health/ready answered 200
    sweep        after GET /v1/targets/T and one /values/ path of every target served
    swap         after v2 was promoted and the agent serves it (v1 must be gone)
    swap+sweep   after a second sweep, over v2
    scraped      after one GET /metrics (prometheus_client is imported on the first scrape)

and VmHWM (peak) at the end; ``anon`` and ``file`` split the swap+sweep reading into
RssAnon + RssShmem (heap, Python objects and the version's map, a memfd: what the process itself holds) and
RssFile (the interpreter's and extensions' mapped code, shared and reclaimable).  A second table
gives, at the swap+sweep reading, ``children``: the private memory (USS) of the agent's child
processes (its verifiers' fork server), and ``pss``: the proportional set size of the agent and
its children together (what the pod holds).  ``budget`` is the sizing rule of docs/runtime.md:
40 MB plus twice the bytes of the targets served.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.agent_wrk import free_port  # noqa: E402

MB = 1e6
BASE_BUDGET = 40 * MB
SCOPES = ("*", "tenant-003/prod/*")


def cfgc(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cfgc", *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout


def prepare(work: Path, targets: int) -> dict[str, str]:
    """Corpus, two builds, both published (no channel yet): {"v1": id, "v2": id}."""
    done = work / "versions.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = work / "corpus"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "--targets", str(targets), "--seed", "1",
                    str(corpus)], check=True, stdout=subprocess.DEVNULL)
    cfgc("keys", "generate", str(work / "ci"))
    versions = {}
    for name in ("v1", "v2"):
        if name == "v2":
            base = corpus / "base" / "10-service.yaml"
            base.write_text(base.read_text().replace("burst: 50", "burst: 51", 1))
        cfgc("build", "--out", str(work / name), "--sign-key", str(work / "ci.key"), cwd=corpus)
        out = json.loads(cfgc("publish", str(work / name), "--to", f"file://{work / 'store'}", "--format", "json"))
        versions[name] = out["version"]
    if versions["v1"] == versions["v2"]:
        raise SystemExit("v2 did not change the bundle (benchmarks/corpus.py changed its base layer?)")
    done.write_text(json.dumps(versions))
    return versions


def rss(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) * 1024 / MB
    # The version's map is shared memory (a memfd the verifying child filled): the process's own, like the heap.
    out["RssAnon"] = out.get("RssAnon", 0.0) + out.pop("RssShmem", 0.0)
    return out


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def smaps(pid: int) -> dict[str, float]:
    """Pss and private (USS) of one process, in MB (0 when it is gone)."""
    out = {"Pss": 0.0, "Private": 0.0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Pss" or key.startswith("Private_"):
            out["Pss" if key == "Pss" else "Private"] += int(value.split()[0]) * 1024 / MB
    return out


def pod(pid: int) -> dict[str, float]:
    """What the agent's children (its fork server, between verifications) hold: their USS; the Pss of all."""
    kids = [smaps(c) for c in children(pid)]
    return {"children": sum(k["Private"] for k in kids), "pss": smaps(pid)["Pss"] + sum(k["Pss"] for k in kids)}


def get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path, headers={"Host": "localhost"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:200]!r}")
    return body


def sweep(port: int) -> tuple[int, int]:
    """GET every target served and one value of each: (targets, bytes of target JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    names = json.loads(get(conn, "/v1/targets"))["targets"]
    total = 0
    for t in names:
        total += len(get(conn, f"/v1/targets/{t}")) - 1  # the served body ends with a newline
        get(conn, f"/v1/targets/{t}/values/limits.rpm")
    conn.close()
    return len(names), total


def promote(work: Path, version: str) -> None:
    cfgc("promote", "--to", f"file://{work / 'store'}", "--channel", "prod", "--version", version,
         "--key", str(work / "ci.key"))


def wait_for(port: int, version: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if json.loads(get(conn, "/v1/status")).get("version") == version:
                return
        except (OSError, SystemExit):
            pass
        time.sleep(0.1)
    raise SystemExit(f"the agent did not serve version {version} in time")


def measure(tree: str, work: Path, versions: dict[str, str], scope: str, settle: float) -> dict[str, float]:
    promote(work, versions["v1"])
    port = free_port()
    env = {**os.environ, "PYTHONPATH": tree}
    with tempfile.TemporaryDirectory(prefix="cfgc-mem-") as tmp:
        proc = subprocess.Popen([sys.executable, "-m", "cfgc", "agent", "--from", f"file://{work / 'store'}",
                                 "--channel", "prod", "--key", str(work / "ci.pub"), "--target", scope,
                                 "--listen", f"127.0.0.1:{port}", "--interval", "0.5", "--log-level", "warning",
                                 "--state-file", f"{tmp}/serials.json"], env=env,
                                cwd=tree,  # `python -m` puts the cwd before PYTHONPATH on sys.path
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port, versions["v1"], time.monotonic() + 300)
            time.sleep(settle)
            row = {"ready": rss(proc.pid)["VmRSS"]}
            n, served = sweep(port)
            time.sleep(settle)
            row.update(targets=n, served=served / MB, sweep=rss(proc.pid)["VmRSS"])
            promote(work, versions["v2"])
            wait_for(port, versions["v2"], time.monotonic() + 300)
            time.sleep(settle)
            row["swap"] = rss(proc.pid)["VmRSS"]
            sweep(port)
            time.sleep(settle)
            mem = rss(proc.pid)
            row.update({"swap+sweep": mem["VmRSS"], "peak": mem["VmHWM"], "anon": mem["RssAnon"],
                        "file": mem["RssFile"], **pod(proc.pid)})
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            get(conn, "/metrics")
            conn.close()
            time.sleep(settle)
            row["scraped"] = rss(proc.pid)["VmRSS"]
        finally:
            proc.terminate()
            proc.wait(10)
    row["budget"] = (BASE_BUDGET + 2 * row["served"] * MB) / MB
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cfgc-agent-memory",
                    help="where the corpus, builds and store are kept (reused)")
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--tree", action="append", help="source tree to run the agent from (repeatable)")
    ap.add_argument("--scope", action="append", help="--target glob of the agent (repeatable)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait before each reading")
    args = ap.parse_args()
    versions = prepare(args.work.resolve(), args.targets)
    cols = ("ready", "sweep", "swap", "swap+sweep", "scraped", "peak", "budget", "anon", "file")
    pods = []
    print(f"{'tree':<28} {'scope':<20} {'targets':>7} {'served MB':>9} " + " ".join(f"{c:>10}" for c in cols))
    for tree in args.tree or [str(ROOT)]:
        for scope in args.scope or SCOPES:
            r = measure(tree, args.work.resolve(), versions, scope, args.settle)
            print(f"{tree[-28:]:<28} {scope:<20} {r['targets']:>7.0f} {r['served']:>9.1f} "
                  + " ".join(f"{r[c]:>10.1f}" for c in cols), flush=True)
            pods.append(f"{tree[-28:]:<28} {scope:<20} {r['children']:>10.1f} {r['pss']:>10.1f}")
    print(f"\n{'at swap+sweep: tree':<28} {'scope':<20} {'children':>10} {'pss':>10}")
    print("\n".join(pods))
    print("RSS in MB (10^6 bytes); command:", " ".join(sys.argv))


if __name__ == "__main__":
    main()
