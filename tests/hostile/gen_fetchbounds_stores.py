"""Regenerate the hostile stores of the ``fetchbounds-*`` corpus cases (run from the repo root).

    PYTHONPATH=. python3 tests/hostile/gen_fetchbounds_stores.py

Each case's ``repo/`` gets ``store/`` (a file store a tampered publisher left)
and ``trusted.pub`` (the key that signed it; the private key is thrown away).
The pointers expire a week after generation, so the cases pull with
``--allow-expired`` (everything else is still verified).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from cfgc.bundle.signing import generate_keypair, load_signer
from cfgc.stores.file import FileStore
from tests.unit.runtime.bundles import Publisher
from tests.unit.runtime.tamper import add_layer, gzip_zeros, publish_forged_digest, swap_layer

DATA = Path(__file__).resolve().parents[1] / "data" / "hostile"
T = "acme/prod/chat"
PAD = 20_000  # the signed target is ~20 kB: its blob may take ~21 kB


def build(case: str, tamper: str) -> None:
    repo = DATA / case / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        key, pub = generate_keypair(Path(tmp) / "k")
        shutil.copy(pub, repo / "trusted.pub")
        signer = load_signer(key)
        store = FileStore(repo / "store")
        good = Publisher(store, Path(tmp), signer, channel="good")
        good.publish({T: {"pad": "a" * PAD, "n": 1}})
        prod = Publisher(store, Path(tmp), signer, channel="prod")
        prod.n = 10
        version = prod.publish({T: {"pad": "b" * PAD, "n": 2}})
        if tamper == "bomb":
            swap_layer(store, version, f"targets/{T}.json", gzip_zeros(16 << 20))
        elif tamper == "oversized":
            swap_layer(store, version, f"targets/{T}.json", gzip_zeros(16 << 20) * 3)
        elif tamper == "extra-layer":
            add_layer(store, version, "targets/acme/prod/evil.json", b'{"evil": true}')
        elif tamper == "traversal":
            publish_forged_digest(store, signer, "prod", T, "sha256:../../../../../outside/secret.txt")


if __name__ == "__main__":
    build("fetchbounds-gzip-bomb-layer", "bomb")
    build("fetchbounds-oversized-blob", "oversized")
    build("fetchbounds-extra-unsigned-layer", "extra-layer")
    build("fetchbounds-traversal-digest", "traversal")
