"""cfgc's own wording for JSON Schema violations.

jsonschema's messages are its own and change between releases (4.21 turned
"[] is too short" into "[] should be non-empty"); they also quote whole objects,
which can be large or hold values that must not reach a CI log.  cfgc words a
violation from the keyword and its parameters instead, so what a user reads
does not depend on the installed jsonschema.  Values are shown only when they
are scalars, shortened; objects and arrays are named by their kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import best_match

_MAX_SHOWN = 60
# jsonschema.ValidationError or SchemaError (both carry validator, instance, schema)
_Error = Any


def show(value: object) -> str:
    """A short, safe rendering of an instance value for a message."""
    if isinstance(value, dict):
        return "the object"
    if isinstance(value, list):
        return "the array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 4] + "...'"


def _types(t: object) -> str:
    names = t if isinstance(t, list) else [t]
    return " or ".join(repr(n) for n in names)


def _count(n: object, what: str) -> str:
    plural = what[:-1] + "ies" if what.endswith("y") else what + "s"
    return f"{n} {what}" if n == 1 else f"{n} {plural}"


def _additional(err: _Error) -> str:
    inst, schema = err.instance, err.schema if isinstance(err.schema, dict) else {}
    if not isinstance(inst, dict):
        return "additional properties are not allowed"
    known = set(schema.get("properties") or {})
    patterns = [re.compile(p) for p in schema.get("patternProperties") or {}]
    extra = sorted(k for k in inst if k not in known and not any(p.search(k) for p in patterns))
    names = ", ".join(repr(k) for k in extra[:5]) + (", ..." if len(extra) > 5 else "")
    return f"additional properties are not allowed ({names} {'was' if len(extra) == 1 else 'were'} unexpected)"


def _dependent(err: _Error) -> str:
    inst = err.instance if isinstance(err.instance, dict) else {}
    for prop, needs in (err.validator_value or {}).items():
        if prop in inst:
            for need in needs:
                if need not in inst:
                    return f"{need!r} is required when {prop!r} is present"
    return "a dependent property is missing"


def _required(err: _Error) -> str:
    inst = err.instance if isinstance(err.instance, dict) else {}
    missing = [p for p in err.validator_value or [] if p not in inst]
    return f"{missing[0]!r} is a required property" if missing else "a required property is missing"


_Render = Callable[[_Error], str]
_BY_KEYWORD: dict[str, _Render] = {
    "type": lambda e: f"{show(e.instance)} is not of type {_types(e.validator_value)}",
    "required": _required,
    "enum": lambda e: f"{show(e.instance)} is not one of {', '.join(show(v) for v in e.validator_value)}",
    "const": lambda e: f"{show(e.instance)} is not {show(e.validator_value)}",
    "minimum": lambda e: f"{show(e.instance)} is less than the minimum of {e.validator_value}",
    "maximum": lambda e: f"{show(e.instance)} is greater than the maximum of {e.validator_value}",
    "exclusiveMinimum": lambda e: f"{show(e.instance)} is not greater than {e.validator_value}",
    "exclusiveMaximum": lambda e: f"{show(e.instance)} is not less than {e.validator_value}",
    "multipleOf": lambda e: f"{show(e.instance)} is not a multiple of {e.validator_value}",
    "minLength": lambda e: f"{show(e.instance)} is shorter than {_count(e.validator_value, 'character')}",
    "maxLength": lambda e: f"{show(e.instance)} is longer than {_count(e.validator_value, 'character')}",
    "pattern": lambda e: f"{show(e.instance)} does not match the pattern {e.validator_value!r}",
    "format": lambda e: f"{show(e.instance)} is not a valid {e.validator_value}",
    "minItems": lambda e: f"the array has fewer than {_count(e.validator_value, 'item')}",
    "maxItems": lambda e: f"the array has more than {_count(e.validator_value, 'item')}",
    "uniqueItems": lambda e: "the array has duplicate items",
    "minProperties": lambda e: f"the object has fewer than {_count(e.validator_value, 'property')}",
    "maxProperties": lambda e: f"the object has more than {_count(e.validator_value, 'property')}",
    "additionalProperties": _additional,
    "unevaluatedProperties": lambda e: "properties not allowed by the schema are present",
    "unevaluatedItems": lambda e: "items not allowed by the schema are present",
    "items": lambda e: "the array has more items than the schema allows",
    "prefixItems": lambda e: "the array has more items than the schema allows",
    "contains": lambda e: "no item of the array matches the 'contains' schema",
    "minContains": lambda e: "too few items of the array match the 'contains' schema",
    "maxContains": lambda e: "too many items of the array match the 'contains' schema",
    "dependentRequired": _dependent,
    "dependencies": _dependent,
    "not": lambda e: f"{show(e.instance)} must not match the schema under 'not'",
    "oneOf": lambda e: f"{show(e.instance)} matches more than one schema under 'oneOf'",
    "anyOf": lambda e: f"{show(e.instance)} matches none of the schemas under 'anyOf'",
    "false": lambda e: "no value is allowed here (the schema is false)",
}


def describe(err: _Error) -> str:
    """cfgc's message for one validation error (without the instance path)."""
    if err.validator in ("anyOf", "oneOf") and err.context:
        return describe(best_match(err.context))
    keyword = str(err.validator) if err.validator is not None else "false"
    render = _BY_KEYWORD.get(keyword)
    return render(err) if render else f"{show(err.instance)} fails the schema keyword {keyword!r}"
