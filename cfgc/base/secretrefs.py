"""Secrets inside the compiler: references, never plaintext.

A layer file with a top-level ``sops`` key is a SOPS document.  The compiler
never decrypts it: each encrypted leaf becomes a :class:`SecretRef` naming the
document and the key path, and the document itself travels in the bundle as it
is, for the runtime to decrypt with its own identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cfgc.base.jsonvalue import JSONObject
from cfgc.base.shared_nodes import REFS, SharedNodes

if TYPE_CHECKING:  # the runtime imports this module: it must not load the YAML parser
    from cfgc.base.loading import Document, Path

_ENC = re.compile(r"ENC\[AES256_GCM,data:[^,]*,iv:[^,]*,tag:[^,]*,type:(\w+)\]\Z")
SECRET_KEY = "$secret"

# A typed stand-in for each SOPS type, so schemas check the declared type.
_PLACEHOLDER: JSONObject = {"str": "<secret>", "int": 0, "float": 0.0, "bool": False, "bytes": "<secret>",
                                "time": "1970-01-01T00:00:00Z"}


class SecretInterpolationError(TypeError):
    """A template tried to turn a secret into text."""


@dataclass(frozen=True)
class SecretRef:
    """An encrypted leaf: which SOPS document, which key path, which type."""

    file: str
    path: Path
    type: str

    def to_json(self) -> JSONObject:
        """The form a compiled target carries: ``{"$secret": {...}}``."""
        return {SECRET_KEY: {"file": self.file, "path": list(self.path), "type": self.type}}

    def placeholder(self) -> Any:
        """A value of the declared type, for schema validation."""
        return _PLACEHOLDER.get(self.type, "<secret>")

    def __str__(self) -> str:
        raise SecretInterpolationError(
            f"secret {self.file}:{'.'.join(map(str, self.path))} cannot be interpolated into a string; "
            "reference the whole value instead ('{{ config.path.to.secret }}')"
        )


def is_sops_document(data: object) -> bool:
    """Whether a parsed file is SOPS-encrypted (top-level ``sops`` with mac and version)."""
    meta = data.get("sops") if type(data) is dict else None
    return type(meta) is dict and "mac" in meta and "version" in meta


def secret_document(doc: Document) -> Document:
    """The layer view of a SOPS document: metadata dropped, ENC leaves as references."""
    data = {k: _convert(v, doc.path, (k,)) for k, v in doc.data.items() if k != "sops"}
    return replace(doc, data=data, features=doc.features | {"secret"})


def _convert(value: Any, file: str, path: Path) -> Any:
    t = type(value)
    if t is str:
        m = _ENC.match(value)
        return SecretRef(file, path, m.group(1)) if m else value
    if t is dict:
        return {k: _convert(v, file, (*path, k)) for k, v in value.items()}
    if t is list:
        return [_convert(v, file, (*path, i)) for i, v in enumerate(value)]
    return value


def secret_refs(value: Any, path: Path = (), shared: SharedNodes | None = None) -> list[tuple[Path, SecretRef]]:
    """Every secret reference in a compiled value, with its target path (depth first).

    ``shared`` gives the references of registered subtrees without walking
    them again (:mod:`cfgc.base.shared_nodes`); the answer, order included,
    is the same (tests/unit/compile/test_shared_walks.py).
    """
    if type(value) is SecretRef:
        return [(path, value)]
    out: list[tuple[Path, SecretRef]] = []
    _refs(value, path, out, shared)
    return out


def _refs(value: Any, path: Path, out: list[tuple[Path, SecretRef]], shared: SharedNodes | None) -> None:
    # Every target is walked for its references on each compile and validation:
    # scalars are looked at in the loop, without a call or a path of their own.
    t = type(value)
    items: Any = value.items() if t is dict else enumerate(value) if t is list else ()
    for k, v in items:
        tv = type(v)
        if tv is SecretRef:
            out.append(((*path, k), v))
        elif tv is dict or tv is list:
            e = shared.nodes.get(id(v)) if shared is not None else None
            if e is None or e[0] is not v:
                _refs(v, (*path, k), out, shared)
                continue
            rel = e[REFS]
            if rel is None:
                rel = e[REFS] = secret_refs(v, (), shared)
            if rel:
                at = (*path, k)
                out += [(at + p, ref) for p, ref in rel]


def with_placeholders(value: Any) -> Any:
    """``value`` with each secret replaced by a value of its declared type
    (subtrees without a secret are shared, not copied)."""
    t = type(value)
    if t is SecretRef:
        return value.placeholder()
    if t is dict:
        out = {k: with_placeholders(v) if type(v) in _NESTED else v for k, v in value.items()}
        return out if any(out[k] is not v for k, v in value.items()) else value
    if t is list:
        items = [with_placeholders(v) if type(v) in _NESTED else v for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


_NESTED = frozenset((dict, list, SecretRef))


def jsonable(obj: Any) -> Any:
    """``json.dumps(default=...)`` hook: secret references as their JSON form."""
    if type(obj) is SecretRef:
        return obj.to_json()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
