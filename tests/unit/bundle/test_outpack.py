"""The packed out state: it reads back what was written, and nothing else is accepted."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.bundle import outpack, outstate


def state(rng: random.Random, n: int = 40) -> outstate.OutState:
    listed = sorted({f"svc/{rng.choice('abc')}/s{i}.yaml" for i in range(n)} | {"cfgc.yaml", "b/é😀.yaml"})
    paths = rng.sample(listed, len(listed) // 2)
    names = sorted(f"t/{i}" for i in range(n // 4))
    counts = [rng.randrange(0, 4) for _ in names]
    stamp = outstate.NO_STAMP, (2**62, -(2**40), 123, 2**63 - 1)
    bundle = [*outpack.target_files(names), "manifest.json", "prompts/p/1.0.0.j2"]
    return outstate.OutState(
        out="/o", root="/r", select=None, toolchain="t", listing="x", listed=listed, folders={"": "1:2"},
        entries={"": "d"}, source={"dirty": True}, varnames=["a"], globals={"cfgc.yaml": "ab"},
        paths=paths, stamps=outpack.ints(x for _ in paths for x in rng.choice(stamp)),
        digests=b"".join(hashlib.sha256(p.encode()).digest() for p in paths),
        names=names, counts=outpack.ints(counts),
        layers=outpack.ints(rng.randrange(len(paths)) for _ in range(sum(counts))),
        warned=[], manifest="sha256:0", bundle=bundle,
        bundle_stamps=outpack.ints(x for _ in bundle for x in rng.choice(stamp)),
        dirs={"": 5}, spans=outpack.ints(rng.randrange(10**6) for _ in range(2 + 2 * len(names))),
        pins={"hi\0^1": "1.0.0"},
    )


def packed(s: outstate.OutState) -> outpack.Packed:
    return outpack.Packed(s.paths, s.stamps, s.digests, s.bundle, s.bundle_stamps, s.spans, s.counts, s.layers)


@pytest.mark.parametrize("seed", range(5))
def test_a_saved_state_loads_as_it_was(tmp_path: Path, seed: int) -> None:
    s = state(random.Random(seed))
    outstate.save(tmp_path, Path("/o"), b"k" * 32, s)
    assert outstate.load(tmp_path, Path("/o"), b"k" * 32) == s


def test_any_changed_byte_is_refused(tmp_path: Path) -> None:
    s = state(random.Random(1))
    outstate.save(tmp_path, Path("/o"), b"k" * 32, s)
    path = outstate.state_path(tmp_path, Path("/o"))
    good = path.read_bytes()
    rng = random.Random(2)
    for at in [len(good) - 1, len(good) - 200, len(good) // 2, *rng.sample(range(len(outstate.MAGIC), len(good)), 20)]:
        bad = bytearray(good)
        bad[at] ^= 0x01
        path.write_bytes(bytes(bad))
        assert outstate.load(tmp_path, Path("/o"), b"k" * 32) is None
    path.write_bytes(good)
    assert outstate.load(tmp_path, Path("/o"), b"other key" * 4) is None  # written under another key


def test_bodies_of_another_shape_raise_rather_than_load_garbage() -> None:
    s = state(random.Random(3))
    head = {k: v for k, v in s.to_json().items() if k not in outstate.PACKED}
    body = outpack.pack(head, packed(s))
    assert outpack.unpack(body)[1] == packed(s)
    for cut in (body[:-8], body + b"\0" * 8, body[:-1], body[:4]):
        with pytest.raises((ValueError, KeyError, TypeError, IndexError)):
            outpack.unpack(cut)
    with pytest.raises(KeyError):  # a layer file the listing does not hold
        outpack.pack(head, dataclasses.replace(packed(s), paths=[*s.paths[:-1], "not/listed.yaml"]))
    with pytest.raises(ValueError):
        outpack.pack(head, dataclasses.replace(packed(s), digests=s.digests[:-1]))
    with pytest.raises(ValueError):  # the targets' files first, in name order
        outpack.pack(head, dataclasses.replace(packed(s), bundle=s.bundle[::-1]))


def test_reach_finds_the_targets_of_changed_files() -> None:
    s = state(random.Random(4))
    at, expected = 0, {}
    for name, count in zip(s.names, s.counts, strict=True):
        mine = s.layers[at : at + count]
        at += count
        if 0 in mine or name == s.names[-1]:
            expected[name] = mine
    assert s.reach({0}, {s.names[-1]}) == expected


def reach_by_loop(s: outstate.OutState, changed: set[int], also: set[str]) -> dict[str, object]:
    """The walk over every target that reach replaced."""
    found, at = {}, 0
    for name, count in zip(s.names, s.counts, strict=True):
        mine = s.layers[at : at + count]
        at += count
        if name in also or not changed.isdisjoint(mine):
            found[name] = mine
    return found


@given(seed=st.integers(0, 10**6), n=st.integers(4, 200), k=st.integers(0, 6), a=st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_reach_finds_what_a_walk_over_every_target_finds(seed: int, n: int, k: int, a: int) -> None:
    rng = random.Random(seed)
    s = state(rng, n)
    changed = {rng.randrange(-1, len(s.paths) + 1) for _ in range(k)}
    also = {rng.choice([*s.names, "not/a/target", ""]) for _ in range(a)}
    got = s.reach(changed, also)
    want = reach_by_loop(s, changed, also)
    assert list(got) == list(want) and got == want
