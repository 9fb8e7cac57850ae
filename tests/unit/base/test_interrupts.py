"""made() and temp_file(): what a block made is removed when it raises, kept when it ends; no mask leaks."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cfgc.base.interrupts import HELD, made, temp_file


def _mask() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_a_failing_block_removes_the_file_and_an_ending_one_keeps_it(tmp_path: Path) -> None:
    before = _mask()
    with pytest.raises(ValueError), temp_file(tmp_path, ".x.") as (f, name):
        f.write(b"data")
        assert not HELD & _mask()  # the block runs with signals as they were
        raise ValueError
    assert os.listdir(tmp_path) == []
    with temp_file(tmp_path, ".x.") as (f, name):
        with f:
            f.write(b"data")
        os.replace(name, tmp_path / "kept")
    assert os.listdir(tmp_path) == ["kept"] and (tmp_path / "kept").read_bytes() == b"data"
    assert _mask() == before


def test_a_failing_create_restores_the_mask_and_removes_nothing() -> None:
    before = _mask()
    removed: list[object] = []

    def create() -> int:
        assert _mask() >= HELD  # held back while the thing is made
        raise OSError("no space")

    with pytest.raises(OSError), made(create, removed.append):
        pass
    assert removed == [] and _mask() == before
