"""The runtime reads only what the signed manifest names, at most its signed size; cache paths never come from data."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.bundle.signing import load_signer, load_verifier
from cfgc.runtime.cache import BundleCache
from cfgc.runtime.sync import Syncer
from cfgc.stores.bounds import MANIFEST_MAX
from cfgc.stores.file import FileStore
from cfgc.stores.reader import BundleReader
from tests.unit.runtime.bundles import Publisher
from tests.unit.runtime.tamper import add_layer, gzip_zeros, publish_forged_digest, swap_layer

T = "acme/prod/big"
PAD = 100_000  # the signed target is ~100 kB, so its blob may take ~100 kB


class RecordingStore(FileStore):
    """Records every blob read and the bound it was read with."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[tuple[str, int]] = []

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        self.reads.append((digest, max_bytes))
        return super().get_blob(digest, max_bytes)


@pytest.fixture
def env(tmp_path: Path, signing_key):
    store = RecordingStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    v1 = pub.publish({T: {"pad": "a" * PAD, "n": 1}})
    sync = Syncer(store, [load_verifier(signing_key[1])], "prod", (T,), tmp_path / "cache", interval=0)
    sync.refresh()
    return store, pub, sync, v1


def _v2(pub: Publisher) -> str:
    return pub.publish({T: {"pad": "b" * PAD, "n": 2}})


def test_gzip_bomb_is_stopped_at_the_signed_size_and_the_old_version_stays(env) -> None:
    store, pub, sync, v1 = env
    v2 = _v2(pub)
    bomb = gzip_zeros(90 << 20)  # ~90 kB of gzip, 90 MiB inflated: within the blob bound, far over the size
    digest = swap_layer(store, v2, f"targets/{T}.json", bomb)
    with pytest.raises(IntegrityError, match="decompression bomb") as e:
        sync.refresh()
    assert e.value.exit_code == 5 and T in e.value.message
    assert sync.snapshot is not None and sync.snapshot.version == v1  # still serving
    assert sync.status()["last_error_reason"] == "verification"
    bound = dict(store.reads)[digest]
    assert len(bomb) <= bound < 2 * PAD


def test_oversized_blob_is_not_read_past_its_bound(env) -> None:
    store, pub, sync, v1 = env
    v2 = _v2(pub)
    swap_layer(store, v2, f"targets/{T}.json", os.urandom(3 * PAD))
    with pytest.raises(IntegrityError, match="larger than its limit"):
        sync.refresh()
    assert sync.snapshot is not None and sync.snapshot.version == v1


def test_extra_unsigned_layer_is_refused_before_any_blob_is_read(env, signing_key) -> None:
    store, pub, sync, v1 = env
    v2 = _v2(pub)
    extra = add_layer(store, v2, "targets/acme/prod/evil.json", b'{"evil": true}')
    store.reads.clear()
    with pytest.raises(IntegrityError, match="signed manifest does not"):
        sync.refresh()
    assert store.reads == [] and sync.snapshot.version == v1
    with pytest.raises(IntegrityError, match="signed manifest does not"):
        BundleReader(store, [load_verifier(signing_key[1])]).files(v2)
    assert extra not in dict(store.reads)


def test_traversal_digest_in_a_signed_manifest_touches_nothing(env, signing_key, tmp_path: Path) -> None:
    store, pub, sync, v1 = env
    victim = tmp_path / "victim"  # cache/blobs/sha256/../../../victim
    victim.write_text("keep me")
    publish_forged_digest(store, load_signer(signing_key[0]), "prod", T, "sha256:../../../victim")
    with pytest.raises(IntegrityError, match="not a sha256 digest") as e:
        sync.refresh()
    assert e.value.exit_code == 5
    assert victim.read_text() == "keep me" and sync.snapshot.version == v1
    cache = BundleCache(tmp_path / "cache", store.url, "prod", (T,))
    with pytest.raises(IntegrityError):
        cache.blob("sha256:../../../victim")
    assert victim.read_text() == "keep me"


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def test_cache_modes_are_0700_and_0600_even_when_they_were_wrong(env, tmp_path: Path) -> None:
    store, pub, sync, _ = env
    root = tmp_path / "cache"
    modes = _modes(root)
    assert modes[".lock"] == 0o600 and modes["state"] == 0o700 and modes["blobs/sha256"] == 0o700
    assert all(m == (0o700 if (root / p).is_dir() else 0o600) for p, m in modes.items()), modes
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    _v2(pub)
    assert sync.refresh() is True
    modes = _modes(root)
    assert all(m == (0o700 if (root / p).is_dir() else 0o600) for p, m in modes.items()), modes
