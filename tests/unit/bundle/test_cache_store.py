"""How the build cache stores targets: the bundle file becomes the blob, and a blob is never trusted for existing."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cfgc.bundle.cache import BuildCache
from tests.unit.bundle.test_pipeline import build, many, tree  # noqa: F401 - many is a fixture


def _blob(cache: Path, data: bytes) -> Path:
    return cache / "blobs" / hashlib.sha256(data).hexdigest()


def test_a_cold_build_links_each_bundle_file_as_its_blob(many: Path, tmp_path: Path) -> None:  # noqa: F811
    cache = tmp_path / "cache"
    build(many, tmp_path / "out", cache=BuildCache(cache), jobs=2)
    targets = sorted((tmp_path / "out" / "targets").rglob("*.json"))
    assert len(targets) == 520
    for f in targets:
        blob = _blob(cache, f.read_bytes())
        assert os.path.samefile(f, blob)  # one file, two names: no second copy, no rename
        assert stat.S_IMODE(f.stat().st_mode) == 0o444  # read-only, so neither name is edited in place
    assert not [p for p in (cache / "blobs").iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_damaged_blob_is_replaced_when_the_target_is_stored_again(many: Path, tmp_path: Path) -> None:  # noqa: F811
    cache = tmp_path / "cache"
    _, m1 = build(many, tmp_path / "a", cache=BuildCache(cache))
    good = (tmp_path / "a/targets/dev/s001.json").read_bytes()
    blob = _blob(cache, good)
    blob.unlink()
    blob.write_bytes(b'{"model":"attacker"}')
    (cache / "index").unlink()  # nothing refers to the damaged blob: it is only found by name
    r, m2 = build(many, tmp_path / "b", cache=BuildCache(cache))
    assert r.cache_hits == 0 and m2 == m1
    assert blob.read_bytes() == good
    warnings: list[str] = []
    r, m3 = build(many, tmp_path / "c", cache=BuildCache(cache, warn=warnings.append))
    assert r.cache_hits == 520 and m3 == m1 and warnings == []
    assert tree(tmp_path / "c") == tree(tmp_path / "a")


def test_without_a_bundle_the_blob_is_written_on_its_own(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache")
    data = b'{"a":1}'
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    cache.store(digest, data)
    blob = _blob(tmp_path / "cache", data)
    assert blob.read_bytes() == data and stat.S_IMODE(blob.stat().st_mode) == 0o444


def test_a_bundle_on_another_file_system_gets_a_blob_of_its_own(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def no_link(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(18, "Invalid cross-device link")

    cache = BuildCache(tmp_path / "cache")
    data = b'{"b":2}'
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setattr(os, "link", no_link)
    cache.store("sha256:" + hashlib.sha256(data).hexdigest(), data, staging, "targets/x.json")
    monkeypatch.undo()
    blob = _blob(tmp_path / "cache", data)
    assert (staging / "targets/x.json").read_bytes() == data == blob.read_bytes()
    assert not os.path.samefile(staging / "targets/x.json", blob)


def test_blobs_swapped_for_a_link_after_the_index_was_read_are_not_written_through(many: Path, tmp_path: Path) -> None:  # noqa: F811
    # The links are made relative to a descriptor of blobs/ opened without
    # following a link: a blobs/ that became a link meanwhile gets nothing.
    cache = tmp_path / "cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    c = BuildCache(cache)
    cache.mkdir(exist_ok=True)
    (cache / "blobs").symlink_to(elsewhere)
    _, m1 = build(many, tmp_path / "a", cache=c, jobs=2)
    _, m2 = build(many, tmp_path / "b")
    assert m1 == m2  # the bundle is whole all the same
    assert list(elsewhere.iterdir()) == []
