"""The out state's tag from chunk digests: a save that rehashes only the chunks it rewrote gives
the digests (and tag) of hashing the new body whole, and the tag notices any changed byte."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.bundle import outmac, outstate
from tests.unit.bundle.test_outpatch import KEY, OUT, patched_three_times

SMALL = 64  # a chunk size that gives small bodies many chunks


@settings(max_examples=300, deadline=None)
@given(length=st.integers(0, 20 * SMALL), edits=st.lists(st.tuples(st.integers(0, 20 * SMALL), st.integers(0, 3 * SMALL)),
                                                          max_size=6),
       cut=st.integers(0, 20 * SMALL), grow=st.integers(0, 8 * SMALL), seed=st.integers(0, 2**32))
def test_updated_digests_equal_the_new_body_hashed_whole(length: int, edits: list[tuple[int, int]], cut: int,
                                                         grow: int, seed: int) -> None:
    rng = random.Random(seed)
    saved = outmac.CHUNK
    outmac.CHUNK = SMALL
    try:
        old = rng.randbytes(length)
        body = bytearray(old)
        dirty = []
        for at, size in edits:  # rewritten in place, as outpatch writes its pieces
            at %= len(body) + 1
            piece = rng.randbytes(min(size, len(body) - at))
            body[at : at + len(piece)] = piece
            dirty.append((at, at + len(piece)))
        cut %= len(body) + 1
        new = bytes(body[:cut]) + rng.randbytes(grow)  # the tail replaced: longer, shorter or as long
        dirty.append((cut, len(new)))
        assert outmac.updated(outmac.digests(old), new, dirty) == outmac.digests(new)
    finally:
        outmac.CHUNK = saved


def test_the_tag_changes_with_any_byte_and_with_the_length() -> None:
    rng = random.Random(3)
    body = rng.randbytes(3 * outmac.CHUNK + 100)
    tag = outmac.tag(KEY, len(body), outmac.digests(body))
    assert tag == outmac.tag(KEY, len(body), outmac.digests(bytes(body)))
    for at in (0, outmac.CHUNK - 1, outmac.CHUNK, 2 * outmac.CHUNK + 7, len(body) - 1):
        other = bytearray(body)
        other[at] ^= 1
        assert outmac.tag(KEY, len(other), outmac.digests(other)) != tag
    assert outmac.tag(KEY, len(body) + 1, outmac.digests(body + b"\0")) != tag
    assert outmac.tag(b"j" * 32, len(body), outmac.digests(body)) != tag


@pytest.mark.parametrize("seed", range(3))
def test_a_state_patched_over_many_chunks_reads_back_and_equals_one_written_whole(
        tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outmac, "CHUNK", 512)
    s = patched_three_times(tmp_path, random.Random(seed))
    patched = outstate.state_path(tmp_path, OUT).read_bytes()
    whole = tmp_path / "whole"
    outstate.save(whole, OUT, KEY, s)  # no state loaded for this file: written whole
    assert outstate.state_path(whole, OUT).read_bytes() == patched
