"""A policy finding's path is parsed once per text (cfgc.review.policy_findings._parsed):
the same result or error as ``parse_dotted`` every time, and the memo stays bounded."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.compile.merging import parse_dotted
from cfgc.review import policy_findings


def _outcome(f: Any, text: str) -> Any:
    try:
        return ("ok", f(text))
    except Exception as e:  # noqa: BLE001 - the error is part of the outcome
        return ("error", type(e), str(e))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab.[]0123456789\"'\\ é", max_size=16))
def test_a_kept_path_is_parse_dotteds(text: str) -> None:
    want = _outcome(parse_dotted, text)
    assert _outcome(policy_findings._parsed, text) == want  # noqa: SLF001
    assert _outcome(policy_findings._parsed, text) == want  # noqa: SLF001 - the second time, from the memo


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_findings, "_PATHS", {})
    monkeypatch.setattr(policy_findings, "_PATHS_MAX", 3)
    for i in range(10):
        assert policy_findings._parsed(f"a.b{i}") == ("a", f"b{i}")  # noqa: SLF001
    assert len(policy_findings._PATHS) == 3  # noqa: SLF001
    long = "a." + "b" * policy_findings._PATH_MAX_CHARS  # noqa: SLF001
    monkeypatch.setattr(policy_findings, "_PATHS", {})
    policy_findings._parsed(long)  # noqa: SLF001
    assert policy_findings._PATHS == {}  # noqa: SLF001
