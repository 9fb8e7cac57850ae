"""$ref between schema files: one resolution for jsonschema-rs and jsonschema, errors at file#pointer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import InputError
from cfgc.compile.provenance import Provenance
from cfgc.compile.schema import SchemaSet, schema_files
from cfgc.compile.schema_refs import referenced_files
from cfgc.repo.config import load_config
from cfgc.repo.sources import DirSource

CONFIG = ("version: 1\nhierarchy: ['envs/{env}.yaml']\ntargets: '{env}'\n"
          "schemas:\n  - schema: {top}\n")
NUM = {"type": "number", "maximum": 10}
MODEL = {"type": "object", "properties": {"timeout_s": {"$ref": "#/$defs/t"}}, "$defs": {"t": NUM}}

# name -> (files, top schema): every layout of references the issue names.
LAYOUTS: dict[str, tuple[dict[str, Any], str]] = {
    "sibling": ({"schemas/app.json": {"additionalProperties": {"$ref": "model.json"}},
                 "schemas/model.json": MODEL}, "schemas/app.json"),
    "dot-sibling": ({"schemas/app.json": {"additionalProperties": {"$ref": "./model.json"}},
                     "schemas/model.json": MODEL}, "schemas/app.json"),
    "pointer-into-other": ({"schemas/app.json": {"additionalProperties": {"type": "object",
                                "properties": {"timeout_s": {"$ref": "defs.json#/$defs/t"}}}},
                            "schemas/defs.json": {"$defs": {"t": NUM}}}, "schemas/app.json"),
    "subdir-up": ({"schemas/svc/app.json": {"additionalProperties": {"$ref": "../../common/model.json"}},
                   "common/model.json": MODEL}, "schemas/svc/app.json"),
    "chained-subdirs": ({"a/b/app.json": {"additionalProperties": {"$ref": "../m/model.json"}},
                         "a/m/model.json": {"type": "object", "properties": {"timeout_s": {"$ref": "../../t/num.json"}}},
                         "t/num.json": NUM}, "a/b/app.json"),
    "root-absolute": ({"schemas/app.json": {"additionalProperties": {"$ref": "/common/model.json"}},
                       "common/model.json": MODEL}, "schemas/app.json"),
    "with-id": ({"schemas/app.json": {"$id": "https://example.com/s/app.json",
                                      "additionalProperties": {"$ref": "model.json"}},
                 "schemas/model.json": {**MODEL, "$id": "https://example.com/s/model.json"}},
                "schemas/app.json"),
    "same-file": ({"schemas/app.json": {"additionalProperties": {"$ref": "#/$defs/m"}, "$defs": {
                      "m": {"type": "object", "properties": {"timeout_s": {"$ref": "#/$defs/t"}}}, "t": NUM}}},
                  "schemas/app.json"),
}
INSTANCES = [{}, {"a": {"timeout_s": 3}}, {"a": {"timeout_s": 30}}, {"a": {"timeout_s": "x"}},
             {"a": {"timeout_s": 3}, "b": {"timeout_s": 11}}, {"a": 5}]


def _schemas(make_repo, files: dict[str, Any], top: str) -> SchemaSet:
    root = make_repo({k: json.dumps(v) for k, v in files.items()}, config=CONFIG.replace("{top}", top))
    src = DirSource(root)
    return SchemaSet(src, load_config(src))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fast_and_detailed_verdicts_agree(make_repo, layout: str) -> None:
    loaded = _schemas(make_repo, *LAYOUTS[layout]).schemas[0]
    assert loaded.fast is not None, "jsonschema-rs must compile every layout (else no differential)"
    verdicts = []
    for instance in INSTANCES:
        fast = loaded.fast.is_valid(instance)
        detailed = not list(loaded.validator.iter_errors(instance))
        assert fast == detailed, (layout, instance)
        verdicts.append(fast)
    # the layouts do check through their references: two valid instances, four invalid
    assert verdicts == [True, True, False, False, False, False]


def test_error_names_the_file_and_pointer_of_the_rule(make_repo) -> None:
    files, top = LAYOUTS["subdir-up"]
    found = _schemas(make_repo, files, top).validate("dev", {"a": {"timeout_s": 30}}, Provenance((), {}))
    assert [d.message for d in found] == [
        "a.timeout_s: 30 is greater than the maximum of 10 (common/model.json#/$defs/t/maximum)"]


def test_error_in_the_top_schema_names_it(make_repo) -> None:
    files = {"schemas/app.json": {"required": ["x"], "properties": {"a/b": {"type": "string"}}}}
    found = _schemas(make_repo, files, "schemas/app.json").validate("dev", {"a/b": 1}, Provenance((), {}))
    assert sorted(d.message for d in found) == [
        "(root): 'x' is a required property (schemas/app.json#/required)",
        "a/b: 1 is not of type 'string' (schemas/app.json#/properties/a~1b/type)"]


@pytest.mark.parametrize("ref", ["sub/../../../x.json", "../../x.json", "cfgc:///../x.json", "a/../../../x.json",
                                 "/../x.json", "%2e%2e/x.json", "cfgc://host/x.json"])
def test_a_ref_leaving_the_repo_is_an_error_at_the_schema_file(make_repo, ref: str) -> None:
    root = make_repo({"s/app.json": json.dumps({"properties": {"a": {"$ref": ref}}}), "x.json": "{}"},
                     config=CONFIG.replace("{top}", "s/app.json"))
    src = DirSource(root)
    with pytest.raises(InputError) as info:
        schema_files(src, load_config(src))
    assert info.value.location is not None and info.value.location.path == "s/app.json"
    assert ref in str(info.value)


def test_refs_in_data_keywords_are_not_references() -> None:
    doc = {"const": {"$ref": "../../x"}, "examples": [{"$ref": "../../y"}], "properties": {"$ref": {"$ref": "a.json"}}}
    assert referenced_files("s/app.json", doc) == ["s/a.json"]


def test_a_missing_target_is_an_error_at_the_referring_file(make_repo) -> None:
    root = make_repo({"s/app.json": json.dumps({"$ref": "sub/none.json"})},
                     config=CONFIG.replace("{top}", "s/app.json"))
    src = DirSource(root)
    with pytest.raises(InputError, match="s/sub/none.json") as info:
        schema_files(src, load_config(src))
    assert info.value.location is not None and info.value.location.path == "s/app.json"


def test_referenced_files_are_schema_inputs(make_repo, tmp_path: Path) -> None:
    files, top = LAYOUTS["chained-subdirs"]
    root = make_repo({k: json.dumps(v) for k, v in files.items()}, config=CONFIG.replace("{top}", top))
    src = DirSource(root)
    # the cache key and the provenance inputs hash these: an edit of t/num.json must invalidate
    assert sorted(schema_files(src, load_config(src))) == ["a/b/app.json", "a/m/model.json", "t/num.json"]
