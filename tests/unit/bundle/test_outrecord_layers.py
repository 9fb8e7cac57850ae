"""outrecord.layers (one comprehension, first appearance by setdefault, then the memo per
file) against the loop it replaced, on generated targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.bundle import outstate
from cfgc.bundle.outpack import ints
from cfgc.bundle.outrecord import layers
from cfgc.repo.sources import DirSource


@dataclass(frozen=True)
class _Spec:
    name: str
    layers: tuple[str, ...]


class _Compiler:
    def __init__(self, specs: list[_Spec]) -> None:
        self.specs = specs

    def selected(self, select: str | None) -> list[_Spec]:
        return self.specs


class _Cache:
    def __init__(self, memo: dict[str, tuple[str, str]]) -> None:
        self._memo = memo

    def memo(self, path: str) -> tuple[str, str] | None:
        return self._memo.get(path)


def _reference(specs: list[_Spec], cache: _Cache) -> tuple[Any, ...] | None:
    # The loop before, as it was in outrecord._record.
    index: dict[str, int] = {}
    paths: list[str] = []
    stamps: list[int] = []
    digests: list[str] = []
    names: list[str] = []
    counts: list[int] = []
    flat: list[int] = []
    for spec in sorted(specs, key=lambda s: s.name):
        for p in spec.layers:
            i = index.get(p)
            if i is None:
                known = cache.memo(p)
                if known is None:
                    return None
                i = index[p] = len(paths)
                paths.append(p)
                stamps += outstate.parse_stamp(known[0])
                digests.append(known[1])
            flat.append(i)
        names.append(spec.name)
        counts.append(len(spec.layers))
    return paths, ints(stamps), bytes.fromhex("".join(digests)), names, ints(counts), ints(flat)


_FILES = [f"l{i}.yaml" for i in range(8)]


@settings(max_examples=200, deadline=None)
@given(
    targets=st.dictionaries(
        st.text("abc/", min_size=1, max_size=4), st.lists(st.sampled_from(_FILES), max_size=5), max_size=12
    ),
    hashed=st.sets(st.sampled_from(_FILES)),
    stamped=st.sets(st.sampled_from(_FILES)),
)
def test_layers_equal_the_loop_before(
    targets: dict[str, list[str]], hashed: set[str], stamped: set[str], tmp_path_factory: Any
) -> None:
    root: Path = tmp_path_factory.mktemp("repo")
    specs = [_Spec(n, tuple(ls)) for n, ls in targets.items()]  # in no particular order
    memo = {f: (f"{i}:{i + 1}:{i + 2}:{i + 3}" if f in stamped else "", f"{i:064x}") for i, f in enumerate(_FILES)
            if f in hashed}
    cache = _Cache(memo)
    made = layers(DirSource(root), _Compiler(specs), None, root / "out", cache)  # type: ignore[arg-type]
    want = _reference(specs, cache)
    if want is None:
        assert made is None
        return
    assert made is not None
    assert (made.paths, made.stamps, made.digests, made.names, made.counts, made.flat) == want
