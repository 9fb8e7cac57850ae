"""DirSource.keep's bound is on the bytes held now: a kept file read back frees its share."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.repo import sources
from cfgc.repo.sources import DirSource


def test_reading_a_kept_file_frees_its_share_of_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "KEEP_MAX_BYTES", 10)
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_bytes(b"disk")
    src = DirSource(tmp_path)
    src.keep("a.yaml", b"kept-a")  # 6 of 10
    assert src.read("a.yaml") == b"kept-a"
    src.keep("b.yaml", b"kept-b")  # held again: 6 of 10, not 12
    assert src.read("b.yaml") == b"kept-b"


def test_past_the_bound_files_are_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "KEEP_MAX_BYTES", 10)
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_bytes(b"disk")
    src = DirSource(tmp_path)
    src.keep("a.yaml", b"kept-a")
    src.keep("b.yaml", b"kept-b")  # 12 > 10: not kept
    assert src.read("b.yaml") == b"disk"
    assert src.read("a.yaml") == b"kept-a"
