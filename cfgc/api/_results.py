"""The frozen result objects the public API returns (see docs/api.md).

:class:`BuildResult` lives in :mod:`cfgc.api._build_result` (re-exported here): a
`cfgc build` imports that alone, not the five dataclasses below it never returns.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.api._build_result import BuildResult

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic
    from cfgc.base.errors import Location
    from cfgc.compile.explain import Explanation
    from cfgc.repo.sources import SourceInfo


@dataclass(frozen=True)
class Leaf:
    """One leaf value of a target (redacted) and the ``file:line:col`` that set it."""

    path: str  # dotted: models.primary.timeout_s, routing.fallbacks[0]
    value: Any
    location: Location


@dataclass(frozen=True)
class Target:
    """A compiled target as the bundle holds it.

    ``value`` is read-only: mappings refuse changes and lists are tuples (as
    the runtime client serves them); secret references stay references.
    """

    name: str
    vars: Mapping[str, str]
    digest: str  # sha256 of the target's canonical JSON in the bundle
    value: Any = field(repr=False)
    _explain: Callable[[str, str], Explanation] = field(repr=False, compare=False)

    def get(self, path: str, default: Any = None) -> Any:
        """The value at a dotted ``path`` (``routing.fallbacks[0]``), or ``default``."""
        from cfgc.compile.merging import parse_dotted

        node = self.value
        for key in parse_dotted(path):
            # The value is frozen (FrozenDict, tuples): walk it by interface, not by exact type.
            in_list = isinstance(key, int) and isinstance(node, tuple) and -len(node) <= key < len(node)
            if not (in_list or (isinstance(key, str) and isinstance(node, Mapping) and key in node)):
                return default
            node = node[key]
        return node

    def explain(self, path: str) -> Explanation:
        """Which layers set the value at ``path``, in merge order, the last in force (values redacted)."""
        return self._explain(self.name, path)

    def source(self, path: str) -> Location:
        """The ``file:line:col`` whose value is in force at ``path``."""
        ex = self.explain(path)
        if not ex.contributions:
            from cfgc.base.errors import InputError

            raise InputError(f"{self.name}: no layer sets '{path}' directly")
        return ex.contributions[-1].location


@dataclass(frozen=True)
class Compilation:
    """Every selected target of a repo, compiled and valid (warnings in ``diagnostics``)."""

    targets: tuple[Target, ...]
    diagnostics: tuple[Diagnostic, ...]
    source: SourceInfo

    def __getitem__(self, name: str) -> Target:
        for t in self.targets:
            if t.name == name:
                return t
        from cfgc.base.errors import UsageError

        raise UsageError(f"no target {name!r} in this compilation")

    def __iter__(self) -> Iterator[Target]:
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def names(self) -> tuple[str, ...]:
        """The target names, sorted."""
        return tuple(t.name for t in self.targets)

    def select(self, glob: str) -> tuple[Target, ...]:
        """The targets whose name matches ``glob`` (``*/prod/*``)."""
        return tuple(t for t in self.targets if fnmatch.fnmatchcase(t.name, glob))


@dataclass(frozen=True)
class ValidationResult:
    """What :func:`cfgc.validate` found; ``ok`` when no finding is an error."""

    targets: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]
    cache_hits: int = 0

    @property
    def ok(self) -> bool:
        """True when no finding is an error (warnings do not fail)."""
        return not any(d.severity == "error" for d in self.diagnostics)


@dataclass(frozen=True)
class PullResult:
    """What :func:`cfgc.pull` fetched, every digest and (with keys) signature verified."""

    version: str
    out: Path | None = None  # where the bundle was written, with ``out=``
    verified: bool = False  # signatures checked (keys given)
    target: str | None = None
    value: Any = field(default=None, repr=False)  # the target's JSON value, with ``target=``
    warning: str | None = None  # set when the source was unreachable and a cached version was used

__all__ = ["BuildResult", "Compilation", "Leaf", "PullResult", "Target", "ValidationResult"]
