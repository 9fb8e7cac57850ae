"""cfgc.yaml: the contract of a config repo (version 1)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from cfgc.base.errors import InputError, Location, MultipleErrors
from cfgc.base.kept import Kept, digest
from cfgc.base.limits import CEILING_ENV, DEFAULT_LIMITS, Limits, operator_ceiling
from cfgc.base.loading import Document, load_yaml
from cfgc.base.repopath import relative_problem, target_name_problem
from cfgc.repo.sources import CONFIG_FILE, Source

# cfgc.yaml's source positions by its bytes, as [key path, line, column] lists:
# an in-place build is handed those the last build kept (cfgc.base.kept), so
# an unchanged cfgc.yaml takes the fast path and PyYAML is not imported.
MARKS = Kept()
#: The sha256 of each cfgc.yaml whose parsed data cfgc's own schema accepted
#: (the schema ships with cfgc): checked once per process, and a diff keeps
#: them with its side files (:mod:`cfgc.review.diff_sides`, authenticated).
ACCEPTED: dict[str, None] = {}
MAX_ACCEPTED = 16
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SchemaRule:
    """A JSON Schema that every target whose name matches ``match`` satisfies."""

    schema: str
    match: str
    location: Location


@dataclass(frozen=True)
class LevelPattern:
    """One hierarchy entry, such as ``tenants/{tenant}/tenant.yaml``."""

    pattern: str
    variables: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class RepoConfig:
    """The parsed and checked cfgc.yaml."""

    hierarchy: tuple[LevelPattern, ...]
    targets: str
    target_location: Location
    target_parts: tuple[tuple[str, bool], ...]  # (text, is a variable) of ``targets``, parsed once
    schemas: tuple[SchemaRule, ...]
    prompts: str | None
    policies: str | None
    production: tuple[str, ...]
    max_secret_age_days: int | None
    document: Document
    limits: Limits = DEFAULT_LIMITS
    # The bytes it was parsed from: a cache key names these, not a later read of the file.
    raw: bytes = b""

    @property
    def variables(self) -> tuple[str, ...]:
        """The hierarchy variables, in the order the last entry names them."""
        return self.hierarchy[-1].variables

    def target_name(self, bindings: dict[str, str]) -> str:
        """The target name for one binding of the variables (``targets`` expanded by cfgc, never str.format)."""
        # A list, not a generator: join builds one anyway, and this runs once per target file.
        return "".join([bindings[t] if var else t for t, var in self.target_parts])


if TYPE_CHECKING:
    import jsonschema


@cache
def verdict_stamp() -> str:
    """What a kept verdict on cfgc.yaml (:data:`ACCEPTED`, kept across processes
    by ``cfgc diff``) also depends on besides the file's bytes: cfgc's own schema
    and the installed validators that judge it (once per process: a diff reads
    and writes the kept verdicts)."""
    import hashlib

    from cfgc.base.installed import install_stamps

    text = _schema_bytes()
    return "\n".join([hashlib.sha256(text).hexdigest(), *install_stamps(("jsonschema", "jsonschema_rs"))])


@cache
def config_schema() -> dict[str, Any]:
    """cfgc's own JSON Schema for cfgc.yaml."""
    data: dict[str, Any] = json.loads(_schema_bytes().decode("utf-8"))
    return data


def _schema_bytes() -> bytes:
    """cfgc/data/cfgc.schema.json through the package's loader (a wheel, a zip).

    pkgutil rather than importlib.resources: the latter imports tempfile, random
    and zipfile, a few milliseconds of every build's start-up."""
    import pkgutil

    data = pkgutil.get_data("cfgc", "data/cfgc.schema.json")
    if data is None:  # pragma: no cover - a loader that cannot read package data
        raise OSError("cfgc's data/cfgc.schema.json cannot be read")
    return data


def load_config(source: Source) -> RepoConfig:
    """Read and check cfgc.yaml; every problem is reported with its line."""
    doc, data, raw = _parse(source)
    accepted = digest(raw)
    if accepted not in ACCEPTED:
        _raise(_schema_errors(data, doc))
        ACCEPTED.setdefault(accepted)
        while len(ACCEPTED) > MAX_ACCEPTED:
            del ACCEPTED[next(iter(ACCEPTED))]
    # Each check collects what it finds so one run reports them together;
    # a later check needs what the earlier ones vouched for.
    levels = _levels(data, doc)
    target_loc = doc.location(("targets",))
    errors = _unbound_variables(levels)
    parts = parse_targets(data["targets"], target_loc)
    errors += _target_variable_errors(parts, levels[-1], target_loc)
    _raise(errors)
    schemas = _schema_rules(data, doc)
    _raise(_outside_repo(data, schemas, doc))
    return RepoConfig(
        hierarchy=levels,
        targets=data["targets"],
        target_location=target_loc,
        target_parts=parts,
        schemas=schemas,
        prompts=_folder(data.get("prompts")),
        policies=_folder(data.get("policies")),
        production=tuple(data.get("production", ())),
        max_secret_age_days=data.get("secrets", {}).get("max_age_days"),
        document=doc,
        limits=Limits.from_config(data.get("limits"), operator_ceiling(os.environ.get(CEILING_ENV))),
        raw=raw,
    )


def _parse(source: Source) -> tuple[Document, dict[str, Any], bytes]:
    raw = source.read(CONFIG_FILE)
    doc = _known(raw)
    if doc is None:
        doc = load_yaml(raw, CONFIG_FILE)
        MARKS.put(raw, [[list(p), line, col] for p, (line, col) in doc.marks.items()])
    if not isinstance(doc.data, dict):
        raise InputError("cfgc.yaml must be a mapping with 'version', 'hierarchy' and 'targets'", doc.location())
    return doc, doc.data, raw


def _known(raw: bytes) -> Document | None:
    """cfgc.yaml from the fast path with the positions kept for these very bytes, or None."""
    kept = MARKS.get(raw)
    if not isinstance(kept, list):
        return None
    marks = {}
    for entry in kept:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], list)
                and all(type(x) in (str, int) for x in entry[0]) and all(type(x) is int for x in entry[1:])):
            return None
        marks[tuple(entry[0])] = (entry[1], entry[2])
    doc = load_yaml(raw, CONFIG_FILE, reload=lambda: raw)
    return Document(CONFIG_FILE, doc.data, marks, doc.features)


def _raise(errors: list[InputError]) -> None:
    if errors:
        raise errors[0] if len(errors) == 1 else MultipleErrors(list(errors))


def _schema_errors(data: dict[str, Any], doc: Document) -> list[InputError]:
    """cfgc.yaml against cfgc's own schema: known keys, types, version 1."""
    if _quick_valid(data):
        return []
    import jsonschema  # only for the detailed errors

    validator = jsonschema.Draft202012Validator(config_schema())
    found = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [_schema_error(err, doc) for err in found]


def _levels(data: dict[str, Any], doc: Document) -> tuple[LevelPattern, ...]:
    return tuple(
        LevelPattern(p, tuple(dict.fromkeys(_VAR.findall(p))), doc.location(("hierarchy", i)))
        for i, p in enumerate(data["hierarchy"])
    )


def _unbound_variables(levels: tuple[LevelPattern, ...]) -> list[InputError]:
    """``**`` patterns, and variables the last hierarchy entry does not name."""
    errors: list[InputError] = []
    last = levels[-1]
    bound = set(last.variables)
    for lv in levels:
        if "**" in lv.pattern:
            errors.append(InputError("'**' is not supported in hierarchy patterns; use '*' per path segment", lv.location))
        for var in lv.variables:
            if var not in bound:
                errors.append(
                    InputError(
                        f"variable {{{var}}} is not bound: the last hierarchy entry "
                        f"({last.pattern!r}) must name every variable",
                        lv.location,
                    )
                )
    return errors


def _target_variable_errors(parts: tuple[tuple[str, bool], ...], last: LevelPattern,
                            target_loc: Location) -> list[InputError]:
    """``targets`` must use exactly the variables of the last hierarchy entry."""
    errors: list[InputError] = []
    bound = set(last.variables)
    tvars = [t for t, var in parts if var]
    for var in tvars:
        if var not in bound:
            errors.append(InputError(f"targets uses {{{var}}}, which the last hierarchy entry does not bind", target_loc))
    missing = [v for v in last.variables if v not in tvars]
    if missing:
        errors.append(
            InputError(
                "targets must use every variable of the last hierarchy entry; missing "
                + ", ".join("{" + v + "}" for v in missing),
                target_loc,
            )
        )
    return errors


def _schema_rules(data: dict[str, Any], doc: Document) -> tuple[SchemaRule, ...]:
    return tuple(
        SchemaRule(s["schema"], s.get("match", "*"), doc.location(("schemas", i)))
        for i, s in enumerate(data.get("schemas", []))
    )


def _outside_repo(data: dict[str, Any], schemas: tuple[SchemaRule, ...], doc: Document) -> list[InputError]:
    """Schema files and the prompts and policies folders must be inside the repo."""
    errors: list[InputError] = []
    for i, rule in enumerate(schemas):
        _inside_repo(rule.schema, "schema", doc.location(("schemas", i, "schema")), errors)
    for key in ("prompts", "policies"):
        if data.get(key):
            _inside_repo(data[key].rstrip("/"), key, doc.location((key,)), errors)
    return errors


def parse_targets(template: str, location: Location) -> tuple[tuple[str, bool], ...]:
    """``targets`` as (text, is a variable) parts; only ``{var}`` placeholders are accepted.

    cfgc expands the template itself: ``str.format`` would reach attributes
    (``{tenant.__class__}``), indexes and format specs (``{service:>1000000000}``).
    """
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in _VAR.finditer(template):
        parts.append((template[pos : m.start()], False))
        parts.append((m.group(1), True))
        pos = m.end()
    parts.append((template[pos:], False))
    parts = [p for p in parts if p[0]]
    _check_literal_text(parts, location)
    # Every variable value is a safe segment (checked where it is taken from a
    # file name), so a template that is valid with a sample value is valid with all.
    problem = target_name_problem("".join("x" if var else text for text, var in parts))
    if problem:
        raise InputError(f"targets: {problem}", location)
    return tuple(parts)


def _check_literal_text(parts: list[tuple[str, bool]], location: Location) -> None:
    """A brace outside a ``{var}`` placeholder (``{a.b}``, ``{0}``, ``{x:>9}``) is refused."""
    for text, var in parts:
        if not var and ("{" in text or "}" in text):
            bad = re.search(r"\{[^{}]*\}?|\}", text)
            shown = bad.group(0) if bad else text
            raise InputError(
                f"targets: {shown!r} is not a placeholder; targets accepts only {{var}} "
                "with a hierarchy variable's name (no attributes, indexes or format specs)",
                location,
            )


def _inside_repo(path: str, key: str, location: Location, errors: list[InputError]) -> None:
    problem = relative_problem(path)
    if problem:
        errors.append(InputError(f"{key}: {problem}; cfgc reads only files inside the repo", location))


def _quick_valid(data: object) -> bool:
    """jsonschema-rs's verdict on cfgc.yaml, when it is installed (it imports much faster)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - then jsonschema decides
        return False
    return bool(jsonschema_rs.validator_for(config_schema()).is_valid(data))


def _folder(value: str | None) -> str | None:
    return value.strip("/") if value else None


def _schema_error(err: jsonschema.ValidationError, doc: Document) -> InputError:
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        if extra:
            known = ", ".join(sorted(err.schema.get("properties", {})))
            return InputError(f"unknown key {extra[0]!r} (known: {known})", doc.location((*path, extra[0])))
    if err.validator == "const" and path == ("version",):
        return InputError(f"unsupported version {err.instance!r}: this cfgc reads version 1", doc.location(path))
    where = ".".join(map(str, path)) or "cfgc.yaml"
    return InputError(f"{where}: {err.message}", doc.location(path))
