"""The kept answers of walk.shape and templates_after_extends are those computed afresh."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.compile import walk

_paths = st.lists(st.lists(st.sampled_from(["a", "b", 0, 1]), max_size=3).map(tuple), max_size=8)


@given(_paths)
@settings(max_examples=300, deadline=None)
def test_shape_is_the_prefixes_and_their_children(paths: list[tuple[Any, ...]]) -> None:
    for _ in range(2):  # the second answer comes from the memo
        dirty, kids = walk.shape(paths)
        assert dirty == walk.prefixes(paths)
        assert kids == {p: frozenset(ks) for p, ks in walk.children(walk.prefixes(paths)).items()}


def test_long_path_lists_are_not_kept() -> None:
    paths = [("k", i) for i in range(walk._SHAPE_PATHS + 1)]
    before = walk._shape_memo.cache_info().currsize
    dirty, _ = walk.shape(paths)
    assert len(dirty) == len(paths) + 2 and walk._shape_memo.cache_info().currsize == before


@given(_paths, _paths)
@settings(max_examples=300, deadline=None)
def test_kept_roots_are_the_outermost_extends_and_the_templates_outside_them(
    before: list[tuple[Any, ...]], extends: list[tuple[Any, ...]]
) -> None:
    for _ in range(2):
        roots, outside = walk._split((tuple(before), tuple(extends)))
        assert set(roots) == {e for e in extends if not any(e[: len(o)] == o and o != e for o in extends)}
        assert list(outside) == [p for p in before if not any(p[: len(e)] == e for e in extends)]
