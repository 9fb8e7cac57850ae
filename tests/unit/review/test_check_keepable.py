"""Differential: what :func:`cfgc.review.check_cache.keepable` keeps is what
the JSON round trip it replaced kept (``_decode(orjson.loads(orjson.dumps(raw)))
== entry``), over generated entries of the exact types a check makes, and it
never keeps what the round trip would not (odd types, lone surrogates,
integers JSON cannot carry)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.review.check_cache import Entry, _decode, _encode, keepable


def _round_trip(entry: Entry) -> list[Any] | None:
    """The former check, without the time-budget and Rego-failure rules (both unchanged)."""
    raw = _encode(entry)
    try:
        same = _decode(orjson.loads(orjson.dumps(raw))) == entry
    except (TypeError, ValueError):
        same = False
    return raw if same else None


class Sub(str):
    pass


_texts = st.text(max_size=8) | st.sampled_from(["\ud800", "a\udfffb", "", "é", "\x00"])
_odd = st.sampled_from([None, 1, True, 1.5, b"x", Sub("s")])
_strs = _texts | _odd
_ints = st.integers() | st.sampled_from([2**63, 2**64, -(2**63) - 1, True]) | _odd
_locations = st.none() | st.builds(Location, _strs, _ints, _ints)
_findings = st.builds(Diagnostic, st.sampled_from(["error", "warning", "info"]) | _strs,
                      _texts | st.just(Sub("m")), _locations,
                      _strs, st.tuples(_strs) | st.lists(_texts, max_size=2) | st.tuples())
_entries = st.builds(Entry, _strs, st.booleans() | _odd, st.tuples(_strs) | st.lists(_texts, max_size=2),
                     st.tuples(*[_findings] * 2) | st.tuples(_findings) | st.lists(_findings, max_size=1))


@settings(max_examples=400, deadline=None)
@given(_entries)
def test_keeps_what_the_round_trip_keeps_and_never_more(entry: Entry) -> None:
    new, old = keepable(entry), _round_trip(entry)
    assert new is None or new == old
    if new is None and old is not None:  # only a subclass the round trip turned into its base may now be left out
        assert _subclassed(entry)


def _subclassed(entry: Entry) -> bool:
    fields: list[Any] = [entry.name, *entry.plain_files]
    for d in entry.findings:
        fields += [d.severity, d.message, d.rule, *d.targets]
        if d.location is not None:
            fields += [d.location.path, d.location.line, d.location.col]
    return any(type(x) is Sub or type(x) is bool for x in fields)


_plain_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=10)
_plain_findings = st.builds(Diagnostic, st.sampled_from(["error", "warning"]), _plain_text,
                            st.none() | st.builds(Location, _plain_text, st.integers(0, 10**6), st.integers(0, 999)),
                            _plain_text, st.lists(_plain_text, max_size=3).map(tuple))


@settings(max_examples=300, deadline=None)
@given(st.builds(Entry, _plain_text, st.booleans(), st.lists(_plain_text, max_size=3).map(tuple),
                 st.lists(_plain_findings, max_size=3).map(tuple)))
def test_an_entry_a_check_makes_is_kept_as_before(entry: Entry) -> None:
    assert keepable(entry) == _round_trip(entry)
    assert keepable(entry) is not None or any("limits.template_seconds" in d.message
                                              or d.message.startswith("Rego evaluation failed: ")
                                              for d in entry.findings)
