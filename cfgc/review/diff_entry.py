"""One target's record as a diff reads it (:mod:`cfgc.review.diff_cache`)."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.base.loading import Path
from cfgc.base.secretrefs import SecretRef


class Subtrees(Protocol):
    """Where a record's subtrees are (the record file)."""

    def assemble(self, keys: tuple[str, ...], idx: list[int], into: dict[SecretRef, str]) -> dict[str, Any]:
        """A record's value from its subtrees; their comparison tokens go to ``into``."""
        ...


class Unlocated(LookupError):
    """A record does not hold the location of a path a diff needs (or holds it malformed)."""


class Located(NamedTuple):
    """The head-side locations a record holds (:meth:`locate` as Provenance's),
    checked when used: most records of a diff are asked for one path or none."""

    where: list[Any]

    def locate(self, path: Path) -> Location:
        """The stored location of ``path``; :class:`Unlocated` when not stored
        (or stored malformed: the target is compiled for it)."""
        return Location(*self.spot(path))

    def spot(self, path: Path) -> tuple[str, int, int]:
        """:meth:`locate` as ``(file, line, col)``: a diff shares one
        :class:`Location` among the targets whose records name the same one."""
        want = list(path)
        for w in self.where:
            if type(w) is list and len(w) == 4 and w[0] == want:
                _, file, line, col = w
                if key_path(w[0]) and type(file) is str and type(line) is int and type(col) is int:
                    return file, line, col
                break
        raise Unlocated(path)


class Record:
    """One target as a diff compares it (``value`` holds its SecretRefs; its
    top-level subtrees are shared with other records and never to be mutated).

    ``keys`` and ``idx`` name each top-level subtree by its index in the record file.
    Subtrees are stored once by content id (the id covers the references'
    places and tokens), so two records of one file that name the same index
    for a key hold equal comparable values there: a diff need not look inside.

    ``value`` is assembled on first use, when the record's subtrees'
    comparison tokens also go to its side's (``into``): a global change
    compares most records by their indices alone.  Every subtree it names
    was decoded and checked when the record was read, and the file was
    authenticated as a whole before that, so what is assembled later is
    what was checked.  (A class with slots, not a dataclass: a diff makes
    20,000 of them, and a frozen dataclass's constructor costs several times this one's.)
    """

    __slots__ = ("keys", "idx", "secrets", "findings", "where", "_file", "_into", "_value")

    def __init__(self, keys: tuple[str, ...], idx: list[Any], secrets: tuple[str, ...],
                 findings: tuple[Diagnostic, ...], where: list[Any], file: Subtrees,
                 into: dict[SecretRef, str]) -> None:
        self.keys = keys  # its top-level keys (one object per shape in the file)
        self.idx = idx  # the index of each key's subtree
        self.secrets = secrets
        self.findings = findings
        self.where = where  # the stored locations, checked when used
        self._file = file
        self._into = into
        self._value: dict[str, Any] | None = None

    @property
    def value(self) -> dict[str, Any]:
        """The compiled value, its references in place (assembled once)."""
        value = self._value
        if value is None:
            value = self._value = self._file.assemble(self.keys, self.idx, self._into)
        return value

    @property
    def provenance(self) -> Located:
        """Its stored head-side locations."""
        return Located(self.where)


def key_path(v: Any) -> bool:
    if type(v) is not list:
        return False
    for k in v:  # noqa: SIM110 - a loop, not all(): this runs for every located record
        if type(k) is not str and type(k) is not int:
            return False
    return True
