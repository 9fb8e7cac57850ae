"""Differential: a worker's entries come back as JSON text (check_cache.keepable_text)
and check-results is written from them as they are: the same bytes as the entries'
JSON form written whole, and the same entries read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc import __version__
from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.review.check_cache import (
    FILE_NAME,
    MAGIC,
    MAX_FILE_BYTES,
    CheckCache,
    Entry,
    _body,
    keepable,
    keepable_text,
)
from cfgc.review.sealed import read_sealed

_text = st.text(max_size=8)  # lone surrogates included: neither form keeps those
_findings = st.builds(Diagnostic, st.sampled_from(["error", "warning"]), _text | st.just("limits.template_seconds"),
                      st.none() | st.builds(Location, _text, st.integers(0, 2**70), st.integers(0, 999)),
                      _text, st.lists(_text, max_size=2).map(tuple))
_entries = st.builds(Entry, _text, st.booleans(), st.lists(_text, max_size=3).map(tuple),
                     st.lists(_findings, max_size=3).map(tuple))


@settings(max_examples=400, deadline=None)
@given(_entries)
def test_the_text_is_the_kept_form_written(entry: Entry) -> None:
    raw, text = keepable(entry), keepable_text(entry)
    assert (raw is None) == (text is None)
    if raw is not None:
        assert text == orjson.dumps(raw)


_keys = st.text("0123456789abcdef", min_size=64, max_size=64)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, st.tuples(_entries, st.booleans()), max_size=5))
def test_a_body_of_texts_and_forms_is_the_body_of_the_forms(chosen: dict[str, tuple[Entry, bool]]) -> None:
    forms: dict[str, Any] = {}
    mixed: dict[str, Any] = {}
    for k, (entry, as_text) in chosen.items():
        raw = keepable(entry)
        if raw is not None:
            forms[k] = raw
            mixed[k] = orjson.dumps(raw) if as_text else raw
    assert _body(mixed) == orjson.dumps({"cfgc": __version__, "entries": forms})


def test_entries_put_as_text_are_served_and_saved_as_entries(tmp_path: Path) -> None:
    entry = Entry("acme/prod/chat", True, ("base/a.yaml",),
                  (Diagnostic("warning", "é \"quoted\"", Location("a.yaml", 3, 1), "policy.warn", ("acme/prod/chat",)),))
    as_form, as_text = CheckCache(tmp_path / "form"), CheckCache(tmp_path / "text")
    as_form.put("a" * 64, entry)
    as_text.put_raw("a" * 64, keepable_text(entry))
    as_form.save()
    as_text.save()
    assert as_text.get("a" * 64, entry.name) == entry  # in the same process, after its save
    from cfgc.bundle.cache_index import cache_key

    def body(folder: Path) -> bytes:
        return read_sealed(folder / FILE_NAME, MAGIC, cache_key(), MAX_FILE_BYTES)

    assert body(tmp_path / "text") == body(tmp_path / "form")
    assert CheckCache(tmp_path / "text").get("a" * 64, entry.name) == entry
