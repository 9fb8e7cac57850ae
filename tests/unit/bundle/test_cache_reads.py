"""The build cache's readers (index, blobs, key, OUT's files checked in place) go through the
shared bounded reader: a FIFO, a folder or an oversized file planted in the cache folder is
refused at once (CacheCorrupt: a recompile and one warning), never waited on, never read whole."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cfgc.base import bounded_read
from cfgc.bundle import cache_files
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.cache_index import CacheCorrupt, cache_key
from tests.fixtures.files import no_hang

DATA = b'{"model":"m"}'
HEX = hashlib.sha256(DATA).hexdigest()
HUGE = 1 << 32  # a sparse file: reading it whole would take 4 GiB


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    asked: list[int] = []
    real = os.read

    def counting(fd: int, n: int) -> bytes:
        asked.append(n)
        return real(fd, n)

    monkeypatch.setattr(bounded_read.os, "read", counting)
    return asked


def _plant(blobs: Path, kind: str) -> None:
    blobs.mkdir(parents=True, exist_ok=True)
    path = blobs / HEX
    if kind == "link":
        (blobs.parent / "elsewhere").write_bytes(DATA)
        path.symlink_to(blobs.parent / "elsewhere")
    else:
        _plant_at(path, kind)


def test_a_genuine_blob_is_read_and_placed(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / HEX).write_bytes(DATA)
    assert cache_files.use_blob(str(blobs), HEX, len(DATA), tmp_path / "stage", "targets/a.json")
    assert (tmp_path / "stage" / "targets" / "a.json").read_bytes() == DATA
    assert not cache_files.use_blob(str(blobs), "0" * 64, 1, None, "x")  # missing: just compile


@pytest.mark.parametrize("kind", ["fifo", "folder", "oversize"])
def test_a_blob_that_is_not_a_small_regular_file_is_refused_at_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = tmp_path / "blobs"
    _plant(blobs, kind)
    asked = _count_reads(monkeypatch)
    with no_hang(5), pytest.raises(CacheCorrupt, match="not a regular file" if kind != "oversize" else "bytes, not"):
        cache_files.use_blob(str(blobs), HEX, len(DATA), None, "x")
    assert sum(asked) == 0  # refused from its fstat, before any byte is read


def test_a_blob_through_a_link_is_refused(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    _plant(blobs, "link")
    with pytest.raises(OSError):  # ELOOP: the caller reports the cache as corrupt
        cache_files.use_blob(str(blobs), HEX, len(DATA), None, "x")


def _plant_at(path: Path, kind: str) -> None:
    """A FIFO, a folder or a sparse file over the bound where cfgc expects a small regular file."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        with open(path, "wb") as f:
            f.truncate(HUGE)


@pytest.mark.parametrize("kind", ["fifo", "folder", "oversize"])
def test_an_index_that_is_not_a_small_regular_file_is_refused_at_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    _plant_at(index, kind)
    asked = _count_reads(monkeypatch)
    with no_hang(5), pytest.raises(CacheCorrupt):
        cache_files.read_index(index, 1 << 20)
    assert sum(asked) == 0


@pytest.mark.parametrize("kind", ["fifo", "folder", "oversize"])
def test_a_build_cache_over_a_planted_index_warns_once_and_compiles(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFGC_CACHE_SECRET", "s")
    root = tmp_path / "cache"
    root.mkdir()
    index = root / "index"
    _plant_at(index, kind)
    warned: list[str] = []
    with no_hang(5):
        BuildCache(root, warned.append)
    assert len(warned) == 1 and "is corrupt (index:" in warned[0], warned


def test_a_cache_key_file_that_is_a_fifo_or_a_folder_disables_the_cache_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CFGC_CACHE_SECRET", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    key = tmp_path / "state" / "cfgc" / "cache-secret"
    key.parent.mkdir(parents=True)
    os.mkfifo(key)
    with no_hang(5), pytest.raises(OSError, match="not a regular file"):
        cache_key()
    key.unlink()
    key.mkdir()
    with no_hang(5), pytest.raises(OSError, match="not a regular file"):
        cache_key()
    key.rmdir()
    key.write_bytes(b"x" * 10_000)
    with pytest.raises(OSError, match="does not hold a cache key"):
        cache_key()
    key.unlink()
    assert len(cache_key()) == 64  # created afresh


def _outside_blobs(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(150):
        (outside / f"{i:064x}").write_bytes(b"mine")
    return outside


def test_pruning_never_unlinks_through_a_blobs_folder_swapped_for_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = _outside_blobs(tmp_path)
    blobs = tmp_path / "cache" / "blobs"
    blobs.parent.mkdir()
    blobs.symlink_to(outside)
    # The link appears after any check by path: a check by path says "not a link".
    monkeypatch.setattr(cache_files.os.path, "islink", lambda p: False)
    cache_files.prune_blobs(str(blobs), set())
    assert len(list(outside.iterdir())) == 150


def test_pruning_drops_unkept_blobs_and_lists_a_bounded_number_per_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = _outside_blobs(tmp_path)
    keep = {f"{i:064x}" for i in range(10)}
    monkeypatch.setattr(cache_files, "PRUNE_BATCH", 20)
    cache_files.prune_blobs(str(blobs), keep)  # lists 2*10+100+20 = 140 of 150 names
    left = {p.name for p in blobs.iterdir()}
    assert keep <= left and 10 <= len(left) - len(keep) <= 20
    cache_files.prune_blobs(str(blobs), keep)  # under the threshold now: nothing more to do
    assert {p.name for p in blobs.iterdir()} == left
