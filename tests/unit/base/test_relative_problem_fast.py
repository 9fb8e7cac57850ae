"""relative_problem's substring shortcut answers what the segment-by-segment
check answers (the reference below is the check as it was written before)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.repopath import relative_problem


def _reference(path: str) -> str | None:
    if not path:
        return "the path is empty"
    if "\0" in path:
        return "the path holds a NUL character"
    if path.startswith("/"):
        return f"{path!r} is absolute; paths are relative to their root"
    parts = path.split("/")
    if ".." in parts:
        return f"{path!r} leaves its root ('..')"
    if "" in parts or "." in parts:
        return f"{path!r} is not normalised (empty or '.' segment)"
    return None


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", "/", "\0", "..", "-", "é"]), max_size=14).map("".join))
def test_same_answer_as_the_segment_check(path: str) -> None:
    assert relative_problem(path) == _reference(path)


def test_edges() -> None:
    for path in ["", ".", "..", "a/..", "a/.", "./a", "a//b", "/a", "a/", "a/.b", ".a", "a\0", "a/b.json", "a..b"]:
        assert relative_problem(path) == _reference(path), path
