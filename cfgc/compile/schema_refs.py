"""``$ref`` between schema files: base URIs, the files a schema needs, containment.

Every schema file is registered under a base URI made from its repo path,
``cfgc:///schemas/app.json``, and under its ``$id`` when it has one.  A
relative ``$ref`` in a schema without ``$id`` therefore resolves against the
file's place in the repo (``model.json`` -> ``cfgc:///schemas/model.json``,
``../common/x.json#/$defs/y`` -> ``cfgc:///common/x.json``), identically for
jsonschema-rs and for jsonschema/referencing.  The files such references name
are read from the repo (with the containment rules of :mod:`cfgc.base.repopath`);
a reference that climbs above the repo root is an error at the schema file,
never clamped to the root as RFC 3986 would.  Nothing is fetched.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

from cfgc.base.errors import InputError, Location
from cfgc.base.jsonvalue import JSONObject
from cfgc.base.repopath import relative_problem

SCHEME = "cfgc"
ROOT = f"{SCHEME}:///"
#: Schema files one repo may hold (declared, beside them, or reached by ``$ref``).
MAX_SCHEMA_FILES = 1000

# referencing joins a reference to its base with urllib.parse.urljoin, which
# resolves relative references only for the schemes listed here: without this,
# 'model.json' under cfgc:///schemas/app.json stayed 'model.json' and could not
# be found, while jsonschema-rs (RFC 3986) found it.  Adding our own scheme
# changes nothing for any other URL.
for _schemes in (urllib.parse.uses_relative, urllib.parse.uses_netloc):
    if SCHEME not in _schemes:
        _schemes.append(SCHEME)

# Keywords whose value is a schema, a list of schemas, or a mapping to schemas
# (2020-12, with the draft-07 spellings), so that a "$ref" key inside data such
# as "const" or "examples" is never taken for a reference.
_IN_VALUE = {"additionalItems", "additionalProperties", "contains", "contentSchema", "else", "if", "items",
             "not", "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"}
_IN_ARRAY = {"allOf", "anyOf", "oneOf", "prefixItems", "items"}
_IN_MAPPING = {"$defs", "definitions", "dependentSchemas", "patternProperties", "properties", "dependencies"}
_REF_KEYWORDS = ("$ref", "$dynamicRef")


def uri(path: str) -> str:
    """The base URI of the schema file at repo path ``path``."""
    return ROOT + path


def pointer(parts: Any) -> str:
    """The JSON pointer (RFC 6901) of a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _refs(node: Any, base: str, path: tuple[Any, ...]) -> Iterator[tuple[str, str, tuple[Any, ...]]]:
    """(reference, base URI, schema path of the reference) of every $ref in a schema."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get("$id"), str):
        base = urllib.parse.urljoin(base, node["$id"])
    for key, value in node.items():
        if key in _REF_KEYWORDS and isinstance(value, str):
            yield value, base, (*path, key)
        elif key in _IN_VALUE and isinstance(value, dict):
            yield from _refs(value, base, (*path, key))
        if key in _IN_ARRAY and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _refs(sub, base, (*path, key, i))
        elif key in _IN_MAPPING and isinstance(value, dict):
            for name, sub in value.items():
                yield from _refs(sub, base, (*path, key, name))


def referenced_files(path: str, doc: Any) -> list[str]:
    """Repo paths of the files the ``$ref`` of schema file ``path`` name.

    References resolved against an ``$id`` outside ``cfgc:`` are left to the
    registry (they resolve only to a schema registered under that ``$id``).
    InputError at ``path`` for a reference that leaves the repo.
    """
    out: list[str] = []
    for ref, base, where in _refs(doc, uri(path), ()):
        target = _target(ref, base, path, where)
        if target is not None and target != path and target not in out:
            out.append(target)
    return out


def _target(ref: str, base: str, path: str, where: tuple[Any, ...]) -> str | None:
    parts = urllib.parse.urlsplit(ref)
    if parts.scheme and parts.scheme != SCHEME:
        return None
    if not parts.scheme and not base.startswith(ROOT):
        return None
    if not parts.path:
        return None  # "#/$defs/x": the same document
    at = Location(path)
    what = f"$ref {ref!r} at #{pointer(where)}"
    if parts.netloc or "%" in parts.path:
        raise InputError(f"{what}: only plain relative paths name schema files in the repo", at)
    folder = [] if parts.path.startswith("/") or parts.scheme else base[len(ROOT):].split("/")[:-1]
    segments = folder
    for seg in parts.path.lstrip("/").split("/"):
        if seg == "..":
            if not segments:
                raise InputError(f"{what} leaves the repo; schemas can only refer to files inside it", at)
            segments = segments[:-1]
        elif seg not in ("", "."):
            segments = [*segments, seg]
    target = "/".join(segments)
    problem = relative_problem(target)
    if problem:
        raise InputError(f"{what}: {problem}", at)
    return target


def keyword_index(docs: JSONObject) -> dict[int, tuple[str, str]]:
    """(file, JSON pointer) of every object of the parsed schema files, by identity.

    jsonschema reports the subschema holding a failing keyword as the very
    object of the parsed file (references are followed, never copied), so its
    identity names the file and the place of the rule.
    """
    index: dict[int, tuple[str, str]] = {}

    def walk(node: object, file: str, parts: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            index.setdefault(id(node), (file, pointer(parts)))
            for k, v in node.items():
                walk(v, file, (*parts, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, file, (*parts, i))

    for file, doc in docs.items():
        walk(doc, file, ())
    return index
