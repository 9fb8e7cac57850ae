"""Explanations: the value of a path in a target and every layer behind it.

Values come out redacted (:mod:`cfgc.secrets.redact`): a credential or SOPS value is
its marker, and the layers that set it are still listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from cfgc.base.errors import InputError, Location
from cfgc.base.loading import Path
from cfgc.compile.compiler import CompiledTarget, Compiler
from cfgc.compile.merging import MISSING, dotted, get_path
from cfgc.compile.trace import Contribution
from cfgc.repo.hierarchy import TargetSpec
from cfgc.secrets.redact import redact, sensitive_strings


@dataclass(frozen=True)
class Explanation:
    """The resolved value at ``path`` and its contributions, last in force."""

    target: str
    path: Path
    value: Any
    contributions: tuple[Contribution, ...]


def find_target(compiler: Compiler, name: str) -> TargetSpec:
    """The spec of target ``name``; an input error naming close names when there is none."""
    specs = {s.name: s for s in compiler.specs()}
    spec = specs.get(name)
    if spec is None:
        close = [n for n in specs if name.split("/")[0] in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown target {name!r}{hint}")
    return spec


def explain(target: CompiledTarget, path: Path) -> Explanation:
    """Explain one path of a compiled target (values redacted).

    A key removed by ``!delete`` explains as MISSING with the value it removed
    and the delete; a value a whole-value template rendered (a mapping or list
    no layer spelled out) explains by the template's contributions.
    """
    value = get_path(target.value, path)
    node, depth = target.provenance.node(path)
    if value is MISSING and not (depth == len(path) and node.gone):
        raise InputError(f"{target.name} has no value at '{dotted(path)}'")
    known = sensitive_strings(target.value)
    # Contributions are redacted at the path of the node they belong to.
    where = path[:depth]
    hist = tuple(replace(c, value=redact(c.value, where, known)) for c in node.hist)
    shown = MISSING if value is MISSING else redact(value, path, known)
    return Explanation(target.name, path, shown, hist)


def shown_leaves(target: CompiledTarget) -> list[tuple[Path, Any, Location]]:
    """Every leaf of a target, redacted, with the location that set it."""
    known = sensitive_strings(target.value)
    return [(p, redact(v, p, known), target.provenance.locate(p)) for p, v in leaves(target.value)]


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
