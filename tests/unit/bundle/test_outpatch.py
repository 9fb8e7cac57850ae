"""An out state saved over the one just loaded is patched in place: it reads back as saved, and a
patch cut short reads as no state at all, never as a state with some rows old and some new."""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import pytest

from cfgc.bundle import outpack, outpatch, outstate
from tests.unit.bundle.test_outpack import state

KEY = b"k" * 32
OUT = Path("/o")


def changed(s: outstate.OutState, rng: random.Random) -> outstate.OutState:
    """What an in-place build changes: some stamps and digests, bundle stamps, spans and the volatile fields."""
    stamps, bundle_stamps, spans = outpack.ints(s.stamps), outpack.ints(s.bundle_stamps), outpack.ints(s.spans)
    for arr in (stamps, bundle_stamps, spans):
        for i in rng.sample(range(len(arr)), min(3, len(arr))):
            arr[i] = rng.randrange(-1, 2**62)
    digests = bytearray(s.digests)
    digests[0] ^= 0xFF
    return dataclasses.replace(s, stamps=stamps, bundle_stamps=bundle_stamps, spans=spans, digests=bytes(digests),
                               manifest=f"sha256:{rng.random()}", dirs={"": rng.randrange(10**9)},
                               warned=s.names[:1], renders={"reads": [], "results": [["k" * rng.randrange(50), ["s", "v"]]]})


def loaded_once(tmp_path: Path, s: outstate.OutState) -> outstate.OutState:
    outstate.save(tmp_path, OUT, KEY, s)
    got = outstate.load(tmp_path, OUT, KEY)
    assert got == s
    return got


@pytest.mark.parametrize("seed", range(5))
def test_a_patched_state_reads_back_as_saved_in_the_same_file(tmp_path: Path, seed: int) -> None:
    patched_three_times(tmp_path, random.Random(seed))


def patched_three_times(tmp_path: Path, rng: random.Random) -> outstate.OutState:
    """A state saved, loaded, then changed and saved three times: each save patches the
    same file (its inode stays) and reads back as saved.  Returns the last state."""
    s = loaded_once(tmp_path, state(rng, n=400))
    path = outstate.state_path(tmp_path, OUT)
    inode = os.stat(path).st_ino
    for _ in range(3):
        s = changed(s, rng)
        outstate.save(tmp_path, OUT, KEY, s)
        assert os.stat(path).st_ino == inode  # patched, not written anew
        assert outstate.load(tmp_path, OUT, KEY) == s
    return s


def test_other_names_or_files_are_written_whole(tmp_path: Path) -> None:
    rng = random.Random(7)
    s = loaded_once(tmp_path, state(rng, n=400))
    path = outstate.state_path(tmp_path, OUT)
    inode = os.stat(path).st_ino
    other = dataclasses.replace(s, listed=[*s.listed, "zzz.yaml"])
    outstate.save(tmp_path, OUT, KEY, other)
    assert os.stat(path).st_ino != inode
    assert outstate.load(tmp_path, OUT, KEY) == other


def test_a_file_replaced_since_it_was_read_is_written_whole(tmp_path: Path) -> None:
    rng = random.Random(8)
    s = loaded_once(tmp_path, state(rng, n=400))
    path = outstate.state_path(tmp_path, OUT)
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data + b"x")  # not the file that was loaded
    new = changed(s, rng)
    outstate.save(tmp_path, OUT, KEY, new)
    assert outstate.load(tmp_path, OUT, KEY) == new


@pytest.mark.parametrize("dropped", ["first", "last", "mac"])
def test_a_torn_patch_reads_as_no_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dropped: str) -> None:
    """Some writes reach the disk and others not (a crash between them): authentication fails."""
    rng = random.Random(9)
    s = loaded_once(tmp_path, state(rng, n=400))
    writes: list[tuple[int, int]] = []
    real = os.pwrite

    def pwrite(fd: int, data: Any, at: int) -> int:
        writes.append((at, len(data)))
        n = len(writes)
        skip = {"first": n == 1, "mac": at == len(outstate.MAGIC)}.get(dropped, False)
        if dropped == "last" and at != len(outstate.MAGIC):
            skip = n > 1
        return len(data) if skip else real(fd, data, at)

    monkeypatch.setattr(outpatch.os, "pwrite", pwrite)
    outstate.save(tmp_path, OUT, KEY, changed(s, rng))
    assert len(writes) >= 3
    assert outstate.load(tmp_path, OUT, KEY) is None


def test_a_failed_patch_leaves_no_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = loaded_once(tmp_path, state(random.Random(10), n=400))

    def full(fd: int, data: Any, at: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outpatch.os, "pwrite", full)
    outstate.save(tmp_path, OUT, KEY, changed(s, random.Random(11)))
    assert outstate.load(tmp_path, OUT, KEY) is None
