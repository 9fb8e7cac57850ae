"""Publish/pull speed of the OCI client against a real registry (Debian docker-registry).

    PYTHONPATH=. python3 benchmarks/oci_client.py [--targets 60] [--rounds 3]

Starts ``/usr/bin/docker-registry`` on 127.0.0.1, then per round: publishes a
fresh signed bundle of N targets (each publish uploads N+4 blobs and a few
manifests) and pulls it back through ``BundleReader.files`` (every blob
fetched and verified).  Prints the best wall time of each phase and the
number of HTTP requests per second it implies.  Not a test: timings vary
with the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

# The bundles are written by the tests' helper (the real bundle assembly, without a repo).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _registry(d: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "config.yml").write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage:\n  filesystem: {{rootdirectory: {d / 'data'}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\nhealth: {{storagedriver: {{enabled: false}}}}\n")
    proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(d / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"127.0.0.1:{port}"


def _bundle(d: Path, n: int, key: Path) -> Path:
    from cfgc.bundle.signing import load_signer
    from tests.fixtures.bundles import write_bundle

    targets = {f"a/b/t{i}": {"model": f"m{i}", "nonce": uuid.uuid4().hex, "pad": "x" * 2000} for i in range(n)}
    return write_bundle(d / uuid.uuid4().hex, targets, signers=[load_signer(key)], repo_url="https://x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from cfgc.bundle.signing import generate_keypair, load_signer
    from cfgc.stores import open_store
    from cfgc.stores.publish import publish
    from cfgc.stores.reader import BundleReader

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        proc, host = _registry(d)
        try:
            key, _ = generate_keypair(d / "k")
            pub, pull = [], []
            for _ in range(args.rounds):
                b = _bundle(d, args.targets, key)
                store = open_store(f"oci://{host}/bench/{uuid.uuid4().hex[:8]}")
                t0 = time.perf_counter()
                report = publish(store, b, channel="prod", signers=[load_signer(key)])
                t1 = time.perf_counter()
                files = BundleReader(store).files(report.version)
                t2 = time.perf_counter()
                assert len(files) >= args.targets
                pub.append(t1 - t0)
                pull.append(t2 - t1)
            print(f"client={sys.modules['cfgc.stores.oci_http'].__doc__.splitlines()[0]}")
            print(f"targets={args.targets} publish best={min(pub) * 1000:.0f} ms "
                  f"pull best={min(pull) * 1000:.0f} ms (of {args.rounds} rounds)")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
