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

if TYPE_CHECKING:  # the runtime imports this module: it must not load the YAML parser
    from cfgc.base.loading import Document, Path

_ENC = re.compile(r"ENC\[AES256_GCM,data:[^,]*,iv:[^,]*,tag:[^,]*,type:(\w+)\]\Z")
SECRET_KEY = "$secret"

# A typed stand-in for each SOPS type, so schemas check the declared type.
_PLACEHOLDER: dict[str, Any] = {"str": "<secret>", "int": 0, "float": 0.0, "bool": False, "bytes": "<secret>",
                                "time": "1970-01-01T00:00:00Z"}


class SecretInterpolationError(TypeError):
    """A template tried to turn a secret into text."""


@dataclass(frozen=True)
class SecretRef:
    """An encrypted leaf: which SOPS document, which key path, which type."""

    file: str
    path: Path
    type: str

    def to_json(self) -> dict[str, Any]:
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


def is_sops_document(data: Any) -> bool:
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


def secret_refs(value: Any, path: Path = ()) -> list[tuple[Path, SecretRef]]:
    """Every secret reference in a compiled value, with its target path (depth first, in order)."""
    if type(value) is SecretRef:
        return [(path, value)]
    out: list[tuple[Path, SecretRef]] = []
    if type(value) is dict or type(value) is list:
        _refs(value, list(path), out)
    return out


def _refs(node: Any, stack: list[Any], out: list[tuple[Path, SecretRef]]) -> None:
    # Every node of every target is visited: a path is built only where a
    # reference is found, and leaves cost no call.
    items: Any = node.items() if type(node) is dict else enumerate(node)
    for k, v in items:
        t = type(v)
        if t is SecretRef:
            out.append(((*stack, k), v))
        elif t is dict or t is list:
            stack.append(k)
            _refs(v, stack, out)
            stack.pop()


def with_placeholders(value: Any, refs: list[tuple[Path, SecretRef]] | None = None) -> Any:
    """``value`` with each secret replaced by a value of its declared type.

    With ``refs`` (from :func:`secret_refs` of this value) only the paths that
    lead to a reference are copied; every other subtree is shared.
    """
    if refs is not None:
        return _replace_at(value, {p: ref.placeholder() for p, ref in refs})
    t = type(value)
    if t is SecretRef:
        return value.placeholder()
    if t is dict:
        return {k: with_placeholders(v) for k, v in value.items()}
    if t is list:
        return [with_placeholders(v) for v in value]
    return value


def _replace_at(root: Any, values: dict[Path, Any]) -> Any:
    if () in values:
        return values[()]
    dirty = {p[:i] for p in values for i in range(len(p))}

    def rebuild(path: Path, node: Any) -> Any:
        if path in values:
            return values[path]
        if path not in dirty:
            return node
        if type(node) is dict:
            return {k: rebuild((*path, k), v) for k, v in node.items()}
        return [rebuild((*path, i), v) for i, v in enumerate(node)]

    return rebuild((), root)


def jsonable(obj: Any) -> Any:
    """``json.dumps(default=...)`` hook: secret references as their JSON form."""
    if type(obj) is SecretRef:
        return obj.to_json()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
