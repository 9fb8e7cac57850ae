"""``cfgc pull --target``: the target as JSON, secrets for this identity only, exit 5 leaves the cache alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfgc.bundle.signing import load_signer
from cfgc.stores.file import FileStore
from tests.unit.runtime.bundles import ACME_KEY, Publisher, chat

pytestmark = pytest.mark.integration
T = "acme/prod/chat"


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_pull_target_json(tmp_path: Path, signing_key, run_cfgc) -> None:
    store = FileStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    v1 = pub.publish({T: chat(1), "globex/prod/chat": chat(2, tenant="globex")})
    cache = tmp_path / "cache"
    base = ["pull", "--from", store.url, "--channel", "prod", "--key", signing_key[1], "--cache-dir", cache]
    r = run_cfgc(*base, "--target", T, "--age-key-file", ACME_KEY)
    assert r.returncode == 0, r.stderr
    value = json.loads(r.stdout)
    assert value["models"]["primary"]["timeout_s"] == 1 and "CANARY" in value["models"]["primary"]["api_key"]

    r = run_cfgc(*base, "--target", "globex/prod/chat", "--age-key-file", ACME_KEY)
    assert r.returncode == 1 and "cannot decrypt tenants/globex" in r.stderr
    assert "CANARY" not in r.stdout + r.stderr
    r = run_cfgc(*base, "--target", "globex/prod/chat", "--secrets", "refs")
    assert r.returncode == 0 and "$secret" in r.stdout and "CANARY" not in r.stdout

    # verification failure: exit 5, the cache exactly as it was
    v2 = pub.publish({T: chat(3), "globex/prod/chat": chat(2, tenant="globex")})
    before = tree(cache)
    doc = json.loads(store.get_version(v2) or b"{}")
    digest = next(x["digest"] for x in doc["layers"]
                  if x["annotations"]["org.opencontainers.image.title"] == f"targets/{T}.json.gz")
    blob = store.root / "blobs/sha256" / digest.split(":")[1]
    good = blob.read_bytes()
    blob.write_bytes(b"x" + good)
    r = run_cfgc(*base, "--target", T, "--age-key-file", ACME_KEY)
    assert r.returncode == 5 and "Traceback" not in r.stderr and tree(cache) == before
    blob.write_bytes(good)

    # source unreachable: the cached version, with a warning
    store.root.rename(tmp_path / "away")
    r = run_cfgc(*base, "--target", T, "--secrets", "refs")
    assert r.returncode == 0 and "cached version " + v1 in r.stderr
    assert json.loads(r.stdout)["models"]["primary"]["timeout_s"] == 1
    (tmp_path / "away").rename(store.root)

    # --out keeps working, and both at once
    r = run_cfgc("pull", "prod", "--from", store.url, "--out", tmp_path / "b", "--key", signing_key[1],
                 "--target", T, "--secrets", "refs")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["models"]["primary"]["timeout_s"] == 3 and (tmp_path / "b/manifest.json").is_file()
    r = run_cfgc("pull", "--from", store.url, "--channel", "prod")
    assert r.returncode == 2 and "--target" in r.stderr
