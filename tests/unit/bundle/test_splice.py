"""Patched manifest bytes are the canonical bytes of the patched manifest (cfgc.bundle.splice)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.canonical import canonical_json
from cfgc.bundle import splice

# Names and values with what escaping and key order get wrong: quotes, backslashes,
# control characters, non-ASCII, keys that sort differently by code point.
text = st.text(alphabet=st.sampled_from(list('ab/-_."\\{}:,\n\x00é\u2028😀z')), max_size=8)
digest = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)
entry = st.fixed_dictionaries(
    {"digest": digest, "size": st.integers(0, 2**40), "vars": st.dictionaries(text, text, max_size=3)},
    optional={"prompts": st.lists(text, max_size=2), "secrets": st.lists(text, max_size=2)},
)
source = st.fixed_dictionaries({"commit": st.none() | digest, "dirty": st.booleans(), "ref": st.none() | text,
                                "path": text, "repo_url": st.none() | text, "commit_time": st.none() | st.integers(-(2**63), 2**63 - 1)})


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "format": "cfgc.bundle/v1",
        "cfgc_version": draw(text),
        "prompts": draw(st.dictionaries(text, st.fixed_dictionaries({"path": text, "digest": digest}), max_size=2)),
        "source": draw(source),
        "targets": draw(st.dictionaries(text, entry, min_size=1, max_size=6)),
    }


@settings(max_examples=150, deadline=None)
@given(manifests(), st.data())
def test_a_splice_writes_the_bytes_of_encoding_the_patched_manifest(manifest: dict[str, Any], data: st.DataObject) -> None:
    raw = canonical_json(manifest)
    found = splice.spans(raw, manifest)
    assert found is not None
    names = sorted(manifest["targets"])
    for i, n in enumerate(names):
        assert splice.entry(raw, found, i, n) == manifest["targets"][n]
        if len(names) > 1:
            with pytest.raises(ValueError):  # another target's span
                splice.entry(raw, found, (i + 1) % len(names), n)
    changed = data.draw(st.lists(st.sampled_from(range(len(names))), unique=True))
    new_entries = {i: data.draw(entry) for i in changed}
    new_source = data.draw(source)
    patched, new_found = splice.splice(raw, found, canonical_json(new_source),
                                       {i: canonical_json(e) for i, e in new_entries.items()})
    expected = {**manifest, "source": new_source,
                "targets": {**manifest["targets"], **{names[i]: e for i, e in new_entries.items()}}}
    assert patched == canonical_json(expected)
    assert new_found == splice.spans(patched, expected)  # the next splice starts from the right places


def test_spans_are_refused_when_the_bytes_are_not_the_manifest() -> None:
    manifest = {"format": "f", "source": {"dirty": False}, "targets": {"a": {"digest": "d", "size": 1, "vars": {}}}}
    raw = canonical_json(manifest)
    assert splice.spans(raw, manifest) is not None
    assert splice.spans(raw.replace(b'"size":1', b'"size":2'), manifest) is None
    assert splice.spans(raw + b" ", manifest) is None
    # Another last section than targets: the layout the offsets assume does not hold.
    other = {**manifest, "zz": 1}
    assert splice.spans(canonical_json(other), other) is None
    # Floats are not in a manifest cfgc writes; orjson's bytes for some differ: no spans, never wrong ones.
    odd = {**manifest, "targets": {"a": {"digest": "d", "size": 1e-7, "vars": {}}}}
    assert splice.spans(canonical_json(odd), odd) is None
