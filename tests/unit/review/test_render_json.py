"""``render_json``'s text written by orjson is json.dumps(indent=2)'s, byte for byte
(cfgc.review.report.diagnostics.indented_json), over generated documents: any text
(control characters, DEL, non-ASCII, lone surrogates), big integers, floats, odd keys."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.review.report.diagnostics import indented_json, render_json

TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), TEXT,
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["\x7f", "\ud800", "é", "\u2028"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(TEXT, st.integers(0, 3)), inner, max_size=4)), max_leaves=20)


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_indented_json_is_json_dumps(doc: dict[str, Any]) -> None:
    assert indented_json(doc) == json.dumps(doc, indent=2, sort_keys=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["error", "warning"]), TEXT, st.one_of(st.none(), TEXT),
                          st.integers(0, 10**6), st.lists(TEXT, max_size=3)), max_size=8),
       st.lists(TEXT, max_size=5))
def test_render_json_is_json_dumps(rows: list[Any], targets: list[str]) -> None:
    diags = [Diagnostic(sev, msg, Location(path, line, 1) if path is not None else None, "policy.x", tuple(ts))
             for sev, msg, path, line, ts in rows]
    extra = {"changed": sorted(targets), "baseline_states": None}
    got = render_json(diags, targets, **extra)
    import cfgc.review.report.diagnostics as mod

    # The same document written as before orjson (json.dumps alone): a field
    # dropped or reordered by the fast path shows here, not only a text change.
    real = mod.indented_json
    try:
        mod.indented_json = lambda doc: json.dumps(doc, indent=2)  # type: ignore[assignment]
        slow = render_json(diags, targets, **extra)
    finally:
        mod.indented_json = real
    assert got == slow


def test_the_corpus_shape_takes_orjson() -> None:
    doc = {"ok": True, "diagnostics": [{"file": "a.yaml", "line": 3, "targets": ["t/a"]}], "targets": ["t/a"],
           "changed": None}
    assert indented_json(doc) == json.dumps(doc, indent=2)
    import orjson

    assert indented_json(doc) == orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
