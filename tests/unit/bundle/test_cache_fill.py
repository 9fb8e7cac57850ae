"""The first fill of the build cache keys its targets in the workers: the same index,
the same memo and the same in-place state as keying them in the parent."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from cfgc.bundle import outstate
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.cache_index import cache_key, decode_index
from cfgc.bundle.outrecord import scan_out
from cfgc.bundle.outstate import Stamp
from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_pipeline import build, many, tree  # noqa: F401 - many is a fixture


def _settled(root: Path) -> BuildCache:
    cache = BuildCache(root)
    cache.digests._racy = time.time_ns() + 10**12  # the test's files count as settled: remembered by stat
    return cache


def _index(cache: Path) -> tuple[object, object]:
    _, files, targets = decode_index(cache_key(), (cache / "index").read_bytes())
    return files, targets


@pytest.mark.parametrize("jobs", [1, 2])
def test_keys_made_in_the_workers_equal_keys_made_in_the_parent(
    many: Path, tmp_path: Path, jobs: int, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    fast = _settled(tmp_path / "fast")
    assert fast.keys_in_workers(DirSource(many))  # an empty cache: nothing to look up
    r1, m1 = build(many, tmp_path / "a", cache=fast, jobs=jobs)
    monkeypatch.setattr(BuildCache, "keys_in_workers", lambda self, source: False)
    r2, m2 = build(many, tmp_path / "b", cache=_settled(tmp_path / "slow"), jobs=jobs)
    assert m1 == m2 and tree(tmp_path / "a") == tree(tmp_path / "b")
    assert _index(tmp_path / "fast") == _index(tmp_path / "slow")
    files, targets = _index(tmp_path / "fast")
    assert isinstance(files, dict) and len(files) == 523 and isinstance(targets, dict) and len(targets) == 520
    # and the next build is fully warm
    r3, m3 = build(many, tmp_path / "c", cache=_settled(tmp_path / "fast"), jobs=jobs)
    assert r3.cache_hits == 520 and m3 == m1


def test_a_cache_with_entries_is_looked_up_in_the_parent(many: Path, tmp_path: Path) -> None:  # noqa: F811
    build(many, tmp_path / "a", cache=BuildCache(tmp_path / "c"), jobs=1)
    assert not BuildCache(tmp_path / "c").keys_in_workers(DirSource(many))


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_two_workers_saw_differently_gets_no_digest_and_no_stamp(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "c")
    a, b = _hex(b"one"), _hex(b"two")
    cache.adopt([("x.yaml", a, "1:2:3:4"), ("y.yaml", a, "5:6:7:8")])
    assert cache.memo("x.yaml") == ("1:2:3:4", a)
    cache.adopt([("x.yaml", b, "1:9:3:4"), ("y.yaml", a, "5:6:7:8")])
    assert cache.memo("x.yaml") is None  # changed during the build: no in-place state from it
    assert cache.memo("y.yaml") == ("5:6:7:8", a)


def test_the_same_bytes_under_another_stamp_keep_the_digest_but_no_stamp(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "c")
    a = _hex(b"one")
    cache.adopt([("x.yaml", a, "1:2:3:4")])
    cache.adopt([("x.yaml", a, "1:5:3:4")])
    assert cache.memo("x.yaml") == ("", a)  # hashed by the next build, never trusted by stat
    cache.adopt([("r.yaml", a, "")])  # racy in the worker: never remembered
    assert cache.memo("r.yaml") == ("", a)


def _walked(out: Path, now: int) -> tuple[dict[str, Stamp], dict[str, int]]:
    # The scan before it read folders through descriptors: os.walk and a stat by path.
    files: dict[str, Stamp] = {}
    dirs: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(out):
        rel = os.path.relpath(dirpath, out)
        rel = "" if rel == "." else rel
        dirs[rel] = outstate.dir_stamp(os.stat(dirpath), now)
        for name in filenames:
            p = f"{rel}/{name}" if rel else name
            files[p] = outstate.out_stamp(os.stat(os.path.join(dirpath, name), follow_symlinks=False), now)
        dirnames.sort()
    return files, dirs


def test_scan_out_equals_a_walk(many: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "o"
    build(many, out, jobs=1)
    (out / "to-folder").symlink_to("targets")
    (out / "to-file").symlink_to("manifest.json")
    (out / "dangling").symlink_to("nowhere")
    for now in (time.time_ns(), time.time_ns() + 10**12):  # fresh stamps left out; every stamp kept
        files, dirs = scan_out(out, now)
        assert (files, dirs) == _walked(out, now)
        assert list(files) == list(_walked(out, now)[0]) and list(dirs) == list(_walked(out, now)[1])
    assert {"to-file", "dangling"} <= set(files) and "to-folder" not in files
    assert -1 not in files["targets/dev/s000.json"]
