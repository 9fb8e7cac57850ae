"""Key paths into a document tree: sops' ``["a"]["b"][0]`` or dotted ``a.b.0``."""

from __future__ import annotations

import json
import re
from typing import Any

from cfgc.base.errors import InputError


def parse_key_path(text: str) -> list[str | int]:
    """``["a"]["b"][0]`` (sops style) or dotted ``a.b.0``."""
    text = text.strip()
    if text.startswith("["):
        parts = re.findall(r'\[\s*("(?:[^"\\]|\\.)*"|-?\d+)\s*\]', text)
        if "".join(f"[{p}]" for p in parts).replace(" ", "") != text.replace(" ", ""):
            raise InputError(f'invalid key path {text!r}: use ["a"]["b"] or a.b')
        return [json.loads(p) for p in parts]
    if not text or any(not p for p in text.split(".")):
        raise InputError(f"invalid key path {text!r}")
    return [int(p) if p.isdigit() else p for p in text.split(".")]


def get_path(tree: Any, path: list[str | int]) -> Any:
    node = tree
    for i, part in enumerate(path):
        where = ".".join(str(p) for p in path[: i + 1])
        if isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        else:
            raise InputError(f"key path {where} not found")
    return node


def set_path(tree: dict[str, Any], path: list[str | int], value: Any) -> None:
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
