"""The in-place span check of :func:`cfgc.bundle.splice.spans` against the reference that builds
the expected tail whole (the implementation before it): the same answer on canonical bytes,
on damaged bytes and on a manifest that does not match its bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.canonical import canonical_json
from cfgc.bundle import splice
from tests.unit.bundle.test_splice import entry, manifests, text


def reference(raw: bytes, manifest: Mapping[str, Any]) -> list[int] | None:
    """The spans as computed before: encode the whole tail, compare it, then walk it."""
    if sorted(manifest)[-2:] != ["source", "targets"]:
        return None
    targets = manifest["targets"]
    names = sorted(targets)
    try:
        source = orjson.dumps(manifest["source"], option=orjson.OPT_SORT_KEYS)
        keys = [orjson.dumps(n) for n in names]
        values = [orjson.dumps(targets[n], option=orjson.OPT_SORT_KEYS) for n in names]
    except TypeError:
        return None
    members = b",".join(k + b":" + v for k, v in zip(keys, values, strict=True))
    tail = b"".join((b',"source":', source, b',"targets":', b"{", members, b"}}"))
    if not raw.endswith(tail) or len(raw) == len(tail):
        return None
    at = len(raw) - len(tail) + len(b',"source":')
    found = [at, at + len(source)]
    at += len(source) + len(b',"targets":') + 1
    for k, v in zip(keys, values, strict=True):
        at += len(k) + 1
        found += (at, at + len(v))
        at += len(v) + 1
    return found


@settings(max_examples=300, deadline=None)
@given(manifests(), st.data())
def test_spans_agree_with_the_reference(manifest: dict[str, Any], data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        manifest["targets"] = data.draw(st.dictionaries(text, entry, max_size=4))  # also none at all
    raw = canonical_json(manifest)
    found = splice.spans(raw, manifest)
    assert found == reference(raw, manifest)
    assert found is not None
    # Damage the bytes: one byte changed, removed or added anywhere, or a prefix cut off.
    at = data.draw(st.integers(0, len(raw) - 1))
    damaged = data.draw(st.sampled_from([
        raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :],
        raw[:at] + raw[at + 1 :],
        raw[:at] + data.draw(st.sampled_from([b",", b"{", b"}", b'"', b":", b"a"])) + raw[at:],
        raw[at:],
    ]))
    assert splice.spans(damaged, manifest) == reference(damaged, manifest)
    # A manifest other than the one encoded.
    other = dict(manifest, targets=data.draw(st.dictionaries(text, entry, max_size=4)))
    assert splice.spans(raw, other) == reference(raw, other)


def test_the_tail_alone_has_no_spans() -> None:
    manifest = {"format": "f", "source": {"a": 1}, "targets": {"t": {"x": 1}}}
    raw = canonical_json(manifest)
    assert splice.spans(raw, manifest) == reference(raw, manifest) is not None
    tail = raw[raw.index(b',"source":') :]  # exactly the tail: not a manifest
    assert splice.spans(tail, manifest) is None and reference(tail, manifest) is None
