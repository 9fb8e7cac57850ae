"""cfgc words schema violations itself: the text does not follow jsonschema's releases."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from cfgc.compile.schema_messages import describe, show

CASES: list[tuple[dict[str, Any], Any, str]] = [
    ({"type": "boolean"}, "yes", "'yes' is not of type 'boolean'"),
    ({"type": ["string", "null"]}, 3, "3 is not of type 'string' or 'null'"),
    ({"required": ["id", "name"]}, {"name": 1}, "'id' is a required property"),
    ({"enum": ["a", "b"]}, "c", "'c' is not one of 'a', 'b'"),
    ({"const": 1}, 2, "2 is not 1"),
    ({"maximum": 600}, 900, "900 is greater than the maximum of 600"),
    ({"minimum": 1}, 0, "0 is less than the minimum of 1"),
    ({"exclusiveMaximum": 1}, 1, "1 is not less than 1"),
    ({"exclusiveMinimum": 1}, 1, "1 is not greater than 1"),
    ({"multipleOf": 5}, 7, "7 is not a multiple of 5"),
    ({"minLength": 1}, "", "'' is shorter than 1 character"),
    ({"maxLength": 2}, "abc", "'abc' is longer than 2 characters"),
    ({"pattern": "^a"}, "b", "'b' does not match the pattern '^a'"),
    ({"minItems": 1}, [], "the array has fewer than 1 item"),
    ({"maxItems": 1}, [1, 2], "the array has more than 1 item"),
    ({"uniqueItems": True}, [1, 1], "the array has duplicate items"),
    ({"minProperties": 2}, {"a": 1}, "the object has fewer than 2 properties"),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2},
     "additional properties are not allowed ('b' was unexpected)"),
    ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, "'b' is required when 'a' is present"),
    ({"not": {"type": "string"}}, "x", "'x' must not match the schema under 'not'"),
    ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "x", "'x' matches more than one schema under 'oneOf'"),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1.5, "1.5 is not of type"),
    ({"contains": {"type": "string"}}, [1], "no item of the array matches the 'contains' schema"),
    ({"properties": {"a": False}}, {"a": 1}, "no value is allowed here"),
]


@pytest.mark.parametrize(("schema", "instance", "expected"), CASES)
def test_each_keyword_in_cfgc_words(schema: dict[str, Any], instance: Any, expected: str) -> None:
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    assert errors, "the case must be invalid"
    assert describe(errors[0]).startswith(expected)


def test_objects_and_long_strings_are_not_quoted() -> None:
    err = next(jsonschema.Draft202012Validator({"type": "string"}).iter_errors({"token": "s3cr3t"}))
    assert "s3cr3t" not in describe(err)
    assert show("x" * 500).endswith("...'") and len(show("x" * 500)) == 60
