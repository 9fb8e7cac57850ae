"""emit_strs (one check for a lookup template's parts) counts as emit part by part does."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from cfgc.base.limits import DEFAULT_LIMITS
from cfgc.compile import template_bounds


def _run(parts: list[str], cap: int, before: int, batched: bool) -> tuple[str, object, int]:
    token = template_bounds.enter(replace(DEFAULT_LIMITS, template_output_chars=cap))
    try:
        b = template_bounds.current()
        b.emitted = before
        try:
            if batched:
                out: object = template_bounds.emit_strs(parts)
            else:
                out = "".join([template_bounds.emit(p) for p in parts])
            return "ok", out, b.emitted
        except template_bounds.LimitExceeded as e:
            return "limit", str(e), b.emitted
    finally:
        template_bounds.leave(token)


@given(
    st.lists(st.text(max_size=12), max_size=8),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=0, max_value=60),
)
def test_emit_strs_is_emit_part_by_part(parts: list[str], cap: int, before: int) -> None:
    assert _run(parts, cap, before, True) == _run(parts, cap, before, False)


def test_an_overflow_fails_at_the_part_that_crosses() -> None:
    kind, message, emitted = _run(["abcd", "efgh", "ij"], 6, 0, True)
    assert kind == "limit" and "6 characters" in message
    assert emitted == 8  # the count when the second part crossed, not the whole
