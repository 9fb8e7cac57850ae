"""Key paths into a document tree: sops' ``["a"]["b"][0]`` or dotted ``a.b.0``."""

from __future__ import annotations

from typing import Any

from cfgc.base.errors import InputError
from cfgc.base.paths import MISSING, PathError, lookup, parse


def parse_key_path(text: str) -> list[str | int]:
    """``["a"]["b"][0]`` (sops style), dotted ``a.b.0`` or ``a.b[0]`` (:func:`cfgc.base.paths.parse`)."""
    try:
        return list(parse(text))
    except PathError as e:
        raise InputError(str(e)) from None


def get_path(tree: Any, path: list[str | int]) -> Any:
    """The value at ``path`` (a negative index counts from a list's end); InputError naming the first miss."""
    value = lookup(tree, tuple(path), negative=True)
    if value is MISSING:
        end = next(i for i in range(1, len(path) + 1) if lookup(tree, tuple(path[:i]), negative=True) is MISSING)
        raise InputError(f"key path {'.'.join(str(p) for p in path[:end])} not found")
    return value


def set_path(tree: dict[str, Any], path: list[str | int], value: object) -> None:
    node: Any = tree
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list) and isinstance(part, int):
            if not -len(node) <= part < len(node):
                raise InputError(f"list index {part} out of range")
            if last:
                node[part] = value
            else:
                node = node[part]
            continue
        if not isinstance(node, dict):
            raise InputError(
                f"cannot set {'.'.join(map(str, path))}: {'.'.join(map(str, path[:i]))} is not a mapping"
            )
        key = str(part)
        if last:
            node[key] = value
        else:
            node = node.setdefault(key, {})
