"""A folder planted where the cache's index or an in-place state goes: the write fails, and
leaves no temporary copy behind (every build would otherwise add one, the disk filling)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cfgc.bundle import outstate
from cfgc.bundle.cache_files import write_index
from tests.unit.bundle.test_outpack import state


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_an_index_that_cannot_replace_a_planted_folder_leaves_no_copy(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    for _ in range(3):
        with pytest.raises(OSError):
            write_index(tmp_path, "index", b"x" * 4096)
    assert _left(tmp_path) == [".gitignore"]


def test_a_state_that_cannot_replace_a_planted_folder_leaves_no_copy(tmp_path: Path) -> None:
    path = outstate.state_path(tmp_path, Path("/o"))
    path.mkdir(parents=True)
    for _ in range(3):
        outstate.save(tmp_path, Path("/o"), b"k" * 32, state(random.Random(1)))
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".state.")]
