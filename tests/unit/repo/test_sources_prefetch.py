"""DirSource.prefetch: the next read of each file comes from the bytes read then; never over
bytes already kept, never while reads are witnessed, and a bad file fails at its own read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.base.errors import CfgcError
from cfgc.repo import sources
from cfgc.repo.sources import DirSource


def _tree(root: Path) -> DirSource:
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        (root / name).write_bytes(name.encode())
    return DirSource(root)


def test_the_next_read_is_the_prefetched_bytes_and_the_one_after_reads_the_disk(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    assert src.prefetch(["a.yaml", "b.yaml"]) == ["a.yaml", "b.yaml"]
    (tmp_path / "a.yaml").write_bytes(b"changed")
    (tmp_path / "c.yaml").write_bytes(b"changed c")
    assert src.read("a.yaml") == b"a.yaml"  # what the prefetch read: one snapshot per file
    assert src.read("a.yaml") == b"changed"  # served once, then from disk
    assert src.read("c.yaml") == b"changed c"  # not prefetched


def test_bytes_already_kept_are_never_replaced(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    src.keep("a.yaml", b"hashed for a key")
    src.prefetch(["a.yaml", "b.yaml"])
    assert src.read("a.yaml") == b"hashed for a key"
    assert src._kept_bytes == len(b"b.yaml")  # kept once each, counted once


def test_nothing_is_prefetched_while_reads_are_witnessed(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    seen: list[tuple[str, bytes]] = []
    src.on_disk_read = lambda path, data: seen.append((path, data))
    src.prefetch(["a.yaml"])
    (tmp_path / "a.yaml").write_bytes(b"changed")
    assert src.read("a.yaml") == b"changed" and seen == [("a.yaml", b"changed")]


def test_a_file_that_cannot_be_read_fails_at_its_own_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _tree(tmp_path)
    (tmp_path / "big.yaml").write_bytes(b"x" * 64)
    (tmp_path / "dir.yaml").mkdir()
    monkeypatch.setattr(sources, "KEEP_MAX_BYTES", 10)
    src.prefetch(["gone.yaml", "dir.yaml", "../out.yaml", "big.yaml", "b.yaml"])
    assert src.read("b.yaml") == b"b.yaml"  # the files after a bad one are still prefetched
    assert src.read("big.yaml") == b"x" * 64  # past the bound: read again, as keep() does
    for bad in ("gone.yaml", "dir.yaml", "../out.yaml"):
        with pytest.raises(CfgcError) as prefetched:
            src.read(bad)
        with pytest.raises(CfgcError) as plain:
            DirSource(tmp_path).read(bad)
        assert str(prefetched.value) == str(plain.value) and prefetched.value.exit_code == plain.value.exit_code


def test_drop_forgets_what_was_not_read(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    src.keep("c.yaml", b"kept by someone else")
    fetched = src.prefetch(["a.yaml", "b.yaml", "c.yaml"])
    assert fetched == ["a.yaml", "b.yaml"]
    assert src.read("a.yaml") == b"a.yaml"
    src.drop(fetched)
    (tmp_path / "b.yaml").write_bytes(b"changed")
    assert src.read("b.yaml") == b"changed"
    assert src.read("c.yaml") == b"kept by someone else"
    assert src._kept == {} and src._kept_bytes == 0


def test_a_prefetch_holds_at_most_its_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(6):
        (tmp_path / f"f{i}.yaml").write_bytes(bytes([65 + i]) * 100)
    monkeypatch.setattr(sources, "PREFETCH_MAX_BYTES", 350)
    src = DirSource(tmp_path)
    kept = src.prefetch(f"f{i}.yaml" for i in range(6))
    assert kept == ["f0.yaml", "f1.yaml", "f2.yaml"]  # the fourth would pass 350 bytes: it stops there
    assert src._kept_bytes == 300
    for i in range(6):  # the rest are read from disk, the same bytes
        assert src.read(f"f{i}.yaml") == bytes([65 + i]) * 100


def test_only_the_paths_whose_bytes_are_kept_are_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A caller keys what prefetch returns as the bytes compiled (cfgc.review.check_ahead):
    # a path read but not kept (the keep bound full) is read again by its compile.
    src = _tree(tmp_path)
    monkeypatch.setattr(sources, "KEEP_MAX_BYTES", len(b"a.yaml"))
    assert src.prefetch(["a.yaml", "b.yaml"]) == ["a.yaml"]
    (tmp_path / "b.yaml").write_bytes(b"changed")
    assert src.read("b.yaml") == b"changed"
