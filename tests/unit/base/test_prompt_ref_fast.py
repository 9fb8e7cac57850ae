"""The fast YAML path's ``!prompt`` references (:func:`cfgc.base.tags.prompt_ref`) are
the objects ``PromptRef.parse`` builds: equal, hashed, shown and located alike."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base import tags
from cfgc.base.errors import InputError, Location
from cfgc.base.tags import PromptRef, prompt_ref


def _parsed(text: str, path: str, line: int, col: int) -> PromptRef | None:
    try:
        return PromptRef.parse(text, Location(path, line, col))
    except InputError:
        return None


def assert_same(text: str, path: str = "t/a.yaml", line: int = 3, col: int = 14) -> None:
    for _ in range(2):  # parsed, then from the memo
        fast, slow = prompt_ref(text, path, line, col), _parsed(text, path, line, col)
        if slow is None:
            assert fast is None
            continue
        assert fast is not None
        assert type(fast) is PromptRef and type(fast.location) is Location
        assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow) and str(fast) == str(slow)
        assert fast.__dict__ == slow.__dict__ and list(fast.__dict__) == list(slow.__dict__)
        assert list(fast.location.__dict__) == list(slow.location.__dict__)
        assert str(fast.location) == str(slow.location) and fast.location == slow.location
        assert not fast.location < slow.location and not slow.location < fast.location


@pytest.mark.parametrize(
    "text",
    ["chat@^1.0", "  chat@>=1.0 <2.0  ", "a.b-c_d@1.x", "Chat@1", "x@ 1", "nope", "@1", "x@", "x@ ", "", "x@1\nb",
     "-x@1", "x@1 # c"],
)
def test_hand_written_references(text: str) -> None:
    assert_same(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.sampled_from("abcXY019_.-@^~<>= \n\t*"), max_size=16),
    st.text(max_size=8),
    st.integers(0, 10**6),
    st.integers(0, 10**4),
)
def test_generated_references(text: str, path: str, line: int, col: int) -> None:
    assert_same(text, path, line, col)


def test_a_frozen_reference_stays_frozen() -> None:
    ref = prompt_ref("chat@^1.0", "a.yaml", 1, 2)
    assert ref is not None
    with pytest.raises(AttributeError):
        ref.name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ref.location.line = 9  # type: ignore[misc]


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tags, "_REFS", {})
    for i in range(tags.REFS_MAX + 50):
        assert prompt_ref(f"p{i}@1", "a.yaml", 1, 1) is not None
    assert len(tags._REFS) == tags.REFS_MAX  # noqa: SLF001 - the bound under test
    long = "p@" + "1" * tags.REF_MAX_CHARS
    monkeypatch.setattr(tags, "_REFS", {})
    assert prompt_ref(long, "a.yaml", 1, 1) == _parsed(long, "a.yaml", 1, 1)
    assert tags._REFS == {}  # noqa: SLF001
