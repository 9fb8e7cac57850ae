"""Indicators inside whole-line double-quoted values (Jinja2 filters: ``"{{ x | round(2) }}"``)
no longer send a file to the careful path, and both paths still agree on generated documents."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast
from cfgc.base.loading import MAX_DEPTH
from tests.unit.base.test_yaml_fast_differential import assert_fast_agrees, assert_same

pytestmark = pytest.mark.skipif(not yaml_fast.AVAILABLE, reason="yaml-rs is not installed")

TEMPLATED = (
    'budget:\n  monthly_usd: 3000\n  daily_usd: "{{ (config.budget.monthly_usd / 30) | round(2) }}"\n'
    'endpoint: "https://{{ service }}.{{ env }}"\nprompts:\n  system: !prompt chat-system@^1.0\n'
)


def test_a_filter_inside_a_quoted_value_takes_the_fast_path() -> None:
    assert yaml_fast.fast_value(TEMPLATED, MAX_DEPTH) is not yaml_fast.MISS
    assert_same(TEMPLATED.encode())


@pytest.mark.parametrize("text", [
    'a: "x | y"\nb: &anchor 1\n',  # an anchor outside the quotes still declines
    'a: "x | y"\nb: it\'s\n',  # a single quote anywhere: searched as it is
    'a: "x | y" # c\n',  # a comment after the value: not a whole-line value
    'a: "x\n  | y"\n',  # a quoted scalar over two lines
    'a: "x" "| y"\n',
    'a: say "x | y"\n',  # quotes inside a plain scalar
])
def test_anything_but_a_whole_line_quoted_value_is_searched_as_before(text: str) -> None:
    assert yaml_fast.fast_value(text, MAX_DEPTH) is yaml_fast.MISS
    assert_same(text.encode())


_INSIDE = st.lists(st.sampled_from([*"&*!|>?@`:#,[]{}'\"\\ -~%", "{{ x }}", " | ", ": ", " #", "a", "1", "\n"]),
                   max_size=8).map("".join)
_KEY = st.sampled_from(["a", "b_1", "$extends", "x.y", "- k", "1"])
_LINE = st.one_of(
    st.tuples(_KEY, _INSIDE).map(lambda p: f'{p[0]}: "{p[1]}"'),
    st.tuples(_KEY, _INSIDE).map(lambda p: f"{p[0]}: {p[1]}"),
    st.tuples(_KEY, _INSIDE).map(lambda p: f"  {p[0]}: '{p[1]}'"),
    _KEY.map(lambda k: f"{k}:"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, min_size=1, max_size=6).map(lambda lines: "\n".join(lines) + "\n"))
@example('a: "&x"\nb: "*x"\n')
@example('a: "!tag |"\nb:\n  c: "> x"\n')
def test_documents_with_quoted_values_load_the_same_either_way(text: str) -> None:
    assert_same(text.encode())
    assert_fast_agrees(text)
