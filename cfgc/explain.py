"""Explanations: the value of a path in a target and every layer behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cfgc.compiler import CompiledTarget
from cfgc.errors import InputError
from cfgc.loading import Path
from cfgc.merging import MISSING, dotted, get_path
from cfgc.provenance import Contribution


@dataclass(frozen=True)
class Explanation:
    """The resolved value at ``path`` and its contributions, last in force."""

    target: str
    path: Path
    value: Any
    contributions: tuple[Contribution, ...]


def explain(target: CompiledTarget, path: Path) -> Explanation:
    """Explain one path of a compiled target."""
    value = get_path(target.value, path)
    if value is MISSING:
        hist = target.provenance.history(path)
        if hist and hist[-1].action == "delete":
            return Explanation(target.name, path, MISSING, tuple(hist))
        raise InputError(f"{target.name} has no value at '{dotted(path)}'")
    return Explanation(target.name, path, value, tuple(target.provenance.history(path)))


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf (scalar or empty container) of a value with its path."""
    if type(value) is dict and value:
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif type(value) is list and value:
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path, value
