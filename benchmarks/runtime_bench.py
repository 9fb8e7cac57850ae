#!/usr/bin/env python3
"""Runtime figures: client.get latency, agent latency at a fixed request rate, bytes of a no-change poll.

    python3 benchmarks/runtime_bench.py [--rate 1000] [--seconds 10]

Prints a table and the command line.  The agent is a real ``cfgc agent``
subprocess on 127.0.0.1; the load generator is this process, pacing one
request per 1/rate seconds over a keep-alive connection and measuring from
the scheduled send time to the last byte of the answer (so a stall is not
hidden by coordinated omission).  The no-change poll is measured on the wire
through a counting TCP proxy in front of a real OCI registry (docker-registry)
when installed.
"""

from __future__ import annotations

import argparse
import os
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
from cfgc.runtime import ConfigClient  # noqa: E402
from cfgc.secrets import default_keyring  # noqa: E402
from cfgc.stores import open_store  # noqa: E402
from tests.unit.runtime.bundles import ACME_KEY, Publisher, chat  # noqa: E402
from tests.unit.runtime.proxy import Proxy  # noqa: E402

T = "acme/prod/chat"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_get(url: str, pub_key: Path, n: int = 200_000) -> tuple[float, float]:
    c = ConfigClient(source=url, channel="prod", target=T, trusted_keys=[pub_key], background=False,
                     keyring=default_keyring(str(ACME_KEY)))
    get, clock = c.get, time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        get("models.primary.timeout_s")
        samples.append(clock() - t0)
    overhead = statistics.median([-clock() + clock() for _ in range(10000)])
    return (pct(samples, 0.5) + overhead) / 1000, (pct(samples, 0.99) + overhead) / 1000


def bench_agent(store: Path, pub_key: Path, rate: int, seconds: float) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cfgc", "agent", "--from", f"file://{store}", "--channel", "prod",
                             "--key", str(pub_key), "--listen", f"127.0.0.1:{port}", "--interval", "30",
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("agent did not become ready") from None
                time.sleep(0.05)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = f"GET /v1/targets/{T} HTTP/1.1\r\nHost: x\r\n\r\n".encode()

        def one() -> None:
            sock.sendall(req)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            head, body = buf.split(b"\r\n\r\n", 1)
            length = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
            while len(body) < length:
                body += sock.recv(65536)

        for _ in range(500):  # warm up
            one()
        lat: list[float] = []
        service: list[float] = []
        interval = 1.0 / rate
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            scheduled = start + i * interval
            while (now := time.perf_counter()) < scheduled:
                if scheduled - now > 0.0003:
                    time.sleep(scheduled - now - 0.0002)  # then spin briefly
            sent = time.perf_counter()
            one()
            done = time.perf_counter()
            lat.append(done - scheduled)
            service.append(done - sent)
        elapsed = time.perf_counter() - start
        sock.close()
        return {"n": n, "rps": n / elapsed, "p50": pct(lat, 0.5) * 1e3, "p99": pct(lat, 0.99) * 1e3,
                "max": max(lat) * 1e3,
                "s50": pct(service, 0.5) * 1e3, "s99": pct(service, 0.99) * 1e3}
    finally:
        proc.terminate()
        proc.wait(10)


def bench_poll_oci(tmp: Path, signer, pub_key: Path) -> int | None:
    exe = Path("/usr/bin/docker-registry")
    if not exe.exists():
        return None
    port = free_port()
    (tmp / "reg.yml").write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: "
                                 f"{{rootdirectory: {tmp / 'reg'}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n")
    proc = subprocess.Popen([str(exe), "serve", str(tmp / "reg.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
        Publisher(open_store(f"oci://127.0.0.1:{port}/bench"), tmp / "oci", signer).publish(
            {T: chat(1), **{f"acme/prod/svc{i}": chat(i) for i in range(12)}})
        proxy = Proxy(("127.0.0.1", port))
        c = ConfigClient(source=f"oci://127.0.0.1:{proxy.port}/bench", channel="prod", target=T,
                         trusted_keys=[pub_key], background=False, keyring=default_keyring(str(ACME_KEY)))
        proxy.reset_counts()
        assert c.refresh() is False
        time.sleep(0.1)
        return proxy.bytes_in + proxy.bytes_out
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        key, pub_key = generate_keypair(tmp / "k")
        signer = load_signer(key)
        (tmp / "store").mkdir()
        store = open_store(f"file://{tmp / 'store'}")
        Publisher(store, tmp, signer).publish({T: chat(1), **{f"acme/prod/svc{i}": chat(i) for i in range(12)}})
        p50, p99 = bench_get(store.url, pub_key)
        agent = bench_agent(tmp / "store", pub_key, args.rate, args.seconds)
        poll = bench_poll_oci(tmp, signer, pub_key)
        pointer = len((tmp / "store/channels/prod.json").read_bytes())
    print(f"command: python3 benchmarks/runtime_bench.py --rate {args.rate} --seconds {args.seconds:g}")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("| measure | value |\n|---|---|")
    print(f"| client.get p50 / p99 | {p50:.2f} µs / {p99:.2f} µs |")
    print(f"| agent GET /v1/targets/{T} at {agent['rps']:.0f} req/s ({agent['n']} requests) "
          f"p50 / p99 / max (from scheduled send) | {agent['p50']:.3f} ms / {agent['p99']:.3f} ms / "
          f"{agent['max']:.3f} ms |")
    print(f"| same, from actual send (service time) p50 / p99 | {agent['s50']:.3f} ms / {agent['s99']:.3f} ms |")
    if poll is not None:
        print(f"| no-change poll, OCI registry (bytes on the wire, both directions) | {poll} B |")
    print(f"| no-change poll, file store (pointer read) | {pointer} B |")


if __name__ == "__main__":
    main()
