"""Validation by top-level keys gives the whole target's answer (cfgc/compile/schema_split.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.secretrefs import SecretRef, secret_refs, with_placeholders
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.schema import _fast_registry, _fast_validator
from cfgc.compile.schema_refs import uri
from cfgc.compile.schema_split import split_of, valid_by_parts

DRAFT = "https://json-schema.org/draft/2020-12/schema"
MODEL = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "t": {"maximum": 1}}}
_subschemas = st.sampled_from([
    {"type": "string", "pattern": "^h"},
    {"type": "integer", "minimum": 1},
    {"type": "object", "required": ["a"], "additionalProperties": {"type": "integer"}},
    {"type": "object", "additionalProperties": {"$ref": "model.json"}},
    {"$ref": "#/$defs/small"},
    {"type": "array", "minItems": 1, "items": {"type": "string"}},
    {"type": "object", "unevaluatedProperties": False, "properties": {"a": True}},
    {"enum": [1, "x", None]},
    True,
    False,
])
_names = st.sampled_from(["a", "b", "c", "d"])
_schemas = st.builds(
    lambda props, required, typed: {
        "$schema": DRAFT,
        **({"type": "object"} if typed else {}),
        "required": required,
        "properties": props,
        "$defs": {"small": {"type": "object", "maxProperties": 1}},
    },
    st.dictionaries(_names, _subschemas, min_size=1, max_size=4),
    st.lists(_names, max_size=2, unique=True),
    st.booleans(),
)
_secret = st.builds(SecretRef, st.just("s.enc.yaml"), st.just(("k",)), st.sampled_from(["str", "int"]))
_leaf = st.one_of(st.integers(0, 2), st.sampled_from(["h", "x", "hi"]), st.none(), _secret)
_values = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["a", "id", "t", "z"]), inner, max_size=3),
    max_leaves=12,
)


def _whole_and_split(schema: dict[str, Any]) -> tuple[Any, Any]:
    docs = {"schemas/top.json": schema, "schemas/model.json": MODEL}
    registry = _fast_registry(docs)
    whole = _fast_validator({**schema, "$id": uri("schemas/top.json")}, registry)
    split = split_of(schema, uri("schemas/top.json"), docs, lambda d: _fast_validator(d, registry))
    return whole, split


@given(_schemas, st.lists(st.dictionaries(_names, _values, max_size=4), min_size=1, max_size=4), st.data())
@settings(max_examples=300, deadline=None)
def test_split_validation_gives_the_whole_targets_answer(schema: dict[str, Any], targets: list[Any], data: st.DataObject) -> None:
    whole, split = _whole_and_split(schema)
    assert whole is not None and split is not None
    shared = SharedNodes()
    # Later targets take some top-level subtrees from the first, as the very
    # same registered objects (the memo's case), the rest are their own.
    first = targets[0]
    shared.add(first)
    for target in targets[1:]:
        for k in data.draw(st.sets(st.sampled_from(sorted(first)))) if first else ():
            target[k] = first[k]
    for target in [*targets, *targets]:
        refs = tuple(secret_refs(target))
        expected = bool(whole.is_valid(with_placeholders(target)))
        assert valid_by_parts([split], target, refs, shared) == expected


@given(_schemas, st.sampled_from([
    {"additionalProperties": False}, {"patternProperties": {"^x": False}}, {"allOf": [{"required": ["a"]}]},
    {"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"unevaluatedProperties": False}, {"minProperties": 2},
    {"dependentRequired": {"a": ["b"]}}, {"propertyNames": {"maxLength": 1}}, {"$ref": "#/$defs/small"},
    {"$schema": "http://json-schema.org/draft-07/schema#"}, {"type": "array"},
]))
def test_schemas_whose_top_level_relates_keys_are_not_split(schema: dict[str, Any], extra: dict[str, Any]) -> None:
    assert _whole_and_split({**schema, **extra})[1] is None


def test_a_nested_base_or_a_dynamic_reference_or_an_odd_name_is_not_split() -> None:
    base = {"$schema": DRAFT, "properties": {"a": {"type": "string"}}}
    assert _whole_and_split(base)[1] is not None
    assert _whole_and_split({**base, "properties": {"a": {"$id": "https://x.example/a", "type": "string"}}})[1] is None
    assert _whole_and_split({**base, "properties": {"a": {"$dynamicRef": "#meta"}}})[1] is None
    assert _whole_and_split({**base, "properties": {"a b": {"type": "string"}}})[1] is None
    assert _whole_and_split({**base, "properties": {"a/b": {"type": "string"}}})[1] is None


def test_a_shared_subtree_is_validated_once_and_remembered_by_identity() -> None:
    _, split = _whole_and_split({"$schema": DRAFT, "properties": {"a": {"type": "object", "required": ["x"]}}})
    assert split is not None
    sub = {"x": 1}
    shared = SharedNodes()
    shared.add(sub)
    assert valid_by_parts([split], {"a": sub}, (), shared)
    assert len(split._memo) == 1
    assert valid_by_parts([split], {"a": sub, "b": 1}, (), shared) and len(split._memo) == 1
    assert not valid_by_parts([split], {"a": {"y": 1}}, (), shared)  # an equal-looking new object is checked
    assert not valid_by_parts([None, split], {"a": sub}, (), shared)  # a schema that cannot be split: the whole path


@pytest.mark.parametrize("claim", [
    '{"$id": "cfgc:///schemas/app.json", "properties": {"port": {}}}',  # a file taking the rule's URI
    '{"$defs": {"x": {"$id": "app.json", "properties": {"port": {}}}}}',  # an embedded resource, relative $id
])
def test_another_schema_file_claiming_the_rules_uri_does_not_answer_for_it(tmp_path: Path, claim: str) -> None:
    """The split checks keys against the rule's own schema object, never by
    looking its URI up in the registry that every schema file joins."""
    (tmp_path / "envs").mkdir()
    (tmp_path / "schemas").mkdir()
    (tmp_path / "cfgc.yaml").write_text(
        'version: 1\nhierarchy: ["envs/{env}.yaml"]\ntargets: "{env}"\nschemas:\n  - schema: schemas/app.json\n')
    (tmp_path / "envs" / "prod.yaml").write_text("port: x\n")
    (tmp_path / "schemas" / "app.json").write_text('{"type": "object", "properties": {"port": {"type": "integer"}}}')
    (tmp_path / "schemas" / "zz-notes.json").write_text(claim)
    done = subprocess.run([sys.executable, "-m", "cfgc", "validate", "--repo", str(tmp_path), "--no-cache"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "envs/prod.yaml:1:1: error: port: 'x' is not of type 'integer'" in done.stdout + done.stderr
