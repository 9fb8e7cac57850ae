"""outcheck.entries finds a folder's expected entries by bisection: the same answer as walking every bundle path."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.bundle import outcheck
from cfgc.bundle.outpack import target_files

_SEG = st.sampled_from(["a", "b", "ab", "a-b", "a.b", "b0", "z"])
_NAME = st.lists(_SEG, min_size=1, max_size=4).map("/".join)


def _walked(state: Any, rel: str) -> set[str]:
    """What every folder's entries were before: all bundle paths and folders, by parent."""
    children: dict[str, set[str]] = {}
    for p in (*state.bundle, *state.dirs):
        if p:
            parent, _, name = p.rpartition("/")
            children.setdefault(parent, set()).add(name)
    return children.get(rel, set())


def _state(names: list[str], extra: list[str]) -> Any:
    names = sorted(set(names))
    bundle = [*target_files(names), *extra]
    dirs = {""}
    for p in bundle:
        parts = p.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return SimpleNamespace(names=names, bundle=bundle, dirs=dict.fromkeys(sorted(dirs), 0))


@settings(max_examples=300, deadline=None)
@given(st.lists(_NAME, max_size=30), st.lists(st.sampled_from(
    ["manifest.json", "prompts/a/1.0.0.j2", "secrets/a.json", "targets/x", "targets/a/z.txt", "a.json"]), unique=True))
def test_entries_equal_the_walk(names: list[str], extra: list[str]) -> None:
    state = _state(names, extra)
    folders = {*state.dirs, "targets/a", "targets/ab", "targets/a/b", "prompts", "nowhere"}
    for rel in folders:
        assert outcheck.entries(state, rel) == _walked(state, rel), rel


def test_entries_hold_files_and_folders() -> None:
    state = _state(["t1/dev/svc", "t1/dev/api", "t1/prod/svc", "t10/dev/svc", "t1.x"], ["manifest.json"])
    assert outcheck.entries(state, "targets/t1/dev") == {"svc.json", "api.json"}
    assert outcheck.entries(state, "targets/t1") == {"dev", "prod"}
    assert outcheck.entries(state, "targets") == {"t1", "t10", "t1.x.json"}
    assert outcheck.entries(state, "") == {"manifest.json", "targets"}
