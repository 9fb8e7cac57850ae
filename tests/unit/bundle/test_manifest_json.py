"""cfgc.bundle.manifest_json: a manifest's bytes are canonical_json's, whatever its entries hold."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.canonical import canonical_json
from cfgc.bundle import manifest_json
from cfgc.bundle.manifest_json import manifest_bytes

ROOT = Path(__file__).resolve().parents[3]


class Text(str):
    """A str subclass: never plain by exact type."""


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.builds(Text, st.text(max_size=4)),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e-7, 1e16, 0.1, -0.0, 1e300, 5e-324]),
)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids,
                                                                                           max_size=3), max_leaves=8)
usual = st.fixed_dictionaries(
    {"digest": st.text(alphabet="0123456789abcdef:sh", max_size=12), "size": st.integers(0, 10**9),
     "vars": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)},
    optional={"prompts": st.lists(st.text(max_size=6), max_size=2), "secrets": st.lists(st.text(max_size=6), max_size=2)},
)
# An entry of the usual shape with one field swapped for anything.
odd = st.builds(lambda e, k, v: {**e, k: v}, usual, st.sampled_from(["digest", "size", "vars", "prompts", "secrets",
                                                                     "other"]), values)


def _same(manifest: Any) -> None:
    try:
        want: bytes | type[BaseException] = canonical_json(manifest)
    except (ValueError, TypeError) as e:
        want = type(e)
    try:
        got: bytes | type[BaseException] = manifest_bytes(manifest)
    except (ValueError, TypeError) as e:
        got = type(e)
    assert got == want


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.one_of(usual, odd, values), max_size=5), values)
def test_generated_manifests_encode_as_canonical_json(targets: dict[str, Any], rest: Any) -> None:
    _same({"format": "cfgc.bundle/v1", "targets": targets, "prompts": {}, "extra": rest})


@pytest.mark.parametrize("bad", [
    {"a": {"digest": "sha256:1e5", "size": 1.5, "vars": {}}},
    {"a": {"digest": "sha256:1e5", "size": 1e16, "vars": {}}},
    {"a": {"digest": "x", "size": 1, "vars": {"k": 1e-7}}},
    {"a": {"digest": "x", "size": 1, "vars": {}, "prompts": [math.inf]}},
    {"a": {"digest": "x", "size": True, "vars": {}}},
    {"a": {"digest": "x", "size": 1, "vars": {}, "secrets": ("t",)}},
    {"a": {"digest": "x", "size": 1, "vars": {1: "k"}}},
    {"a": ["digest", 1e-7]},
    [],
])
def test_entries_off_the_usual_shape_are_walked(bad: Any) -> None:
    _same({"targets": bad, "source": {"ref": None}})


def test_a_manifest_outside_the_targets_is_walked() -> None:
    _same({"targets": {"a": {"digest": "sha256:1e5", "size": 1, "vars": {}}}, "schemas": {"s": {"x": 1e-7}}})
    _same({"targets": {}, "source": {"x": math.nan}})


def test_the_usual_entries_skip_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = manifest_json.floats_plain
    monkeypatch.setattr(manifest_json, "floats_plain", lambda v: calls.append(v) or real(v))
    entries = {f"t{i}": {"digest": "sha256:1e" + "0" * 62, "size": i, "vars": {"env": "dev"}, "prompts": ["p@1"]}
               for i in range(100)}
    manifest = {"format": "f", "targets": entries, "source": {"ref": None}}
    assert manifest_bytes(manifest) == canonical_json(manifest)
    assert len(calls) == 1 and "targets" not in calls[0]  # type: ignore[operator]


def test_the_example_repo_manifest(tmp_path: Path) -> None:
    from cfgc.bundle.build import build_bundle
    from cfgc.repo.sources import DirSource

    done = build_bundle(DirSource(ROOT / "examples" / "repo"), tmp_path / "out", jobs=1)
    data = (tmp_path / "out" / "manifest.json").read_bytes()
    import json

    assert manifest_bytes(json.loads(data)) == data == canonical_json(json.loads(data))
    assert done.digest is not None
