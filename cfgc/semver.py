"""Semantic versions and npm-style ranges for prompt references.

Supported ranges: ``1.2.3`` / ``=1.2.3`` (exact), ``1.2`` / ``1.x`` / ``*``
(partial), ``^1.2`` (compatible), ``~1.2`` (patch-level), comparators
``>=1.0 <2.0`` (all must hold) and alternatives joined with ``||``.
Pre-releases match only ranges that name a pre-release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\Z")
_PARTIAL = re.compile(r"(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?\Z")
_COMPARATOR = re.compile(r"(\^|~|>=|<=|>|<|=)?\s*(\S+)\Z")


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A semantic version; orders by precedence (pre-releases sort before)."""

    major: int
    minor: int
    patch: int
    pre: tuple[tuple[int, int | str], ...] = ()
    pre_text: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``1.2.3`` or ``1.2.3-rc.1``; raises ValueError otherwise."""
        m = _VERSION.match(text)
        if not m:
            raise ValueError(f"not a semantic version: {text!r}")
        pre = m.group(4) or ""
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), _pre_key(pre), pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A release sorts after its pre-releases.
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, self.pre)

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}-{self.pre_text}" if self.pre_text else base


def _pre_key(pre: str) -> tuple[tuple[int, int | str], ...]:
    if not pre:
        return ()
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))


_Bound = tuple[str, Version]


def _partial(text: str) -> tuple[list[int | None], str]:
    m = _PARTIAL.match(text)
    if not m:
        raise ValueError(f"not a version: {text!r}")
    parts: list[int | None] = [None if (g is None or g in "xX*") else int(g) for g in m.groups()[:3]]
    # Once a part is a wildcard, the following parts are too.
    for i in range(1, 3):
        if parts[i - 1] is None:
            parts[i] = None
    return parts, m.group(4) or ""


def _comparator(op: str, text: str) -> list[_Bound]:
    parts, pre = _partial(text)
    major, minor, patch = parts
    lo = Version(major or 0, minor or 0, patch or 0, _pre_key(pre), pre)
    if major is None:
        return []  # '*'
    if op == "^":
        if major > 0 or minor is None:
            hi = Version(major + 1, 0, 0)
        elif minor > 0 or patch is None:
            hi = Version(0, minor + 1, 0)
        else:
            hi = Version(0, 0, (patch or 0) + 1)
        return [(">=", lo), ("<", _floor(hi))]
    if op == "~":
        hi = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
        return [(">=", lo), ("<", _floor(hi))]
    if op in ("", "="):
        if minor is None:
            return [(">=", lo), ("<", _floor(Version(major + 1, 0, 0)))]
        if patch is None:
            return [(">=", lo), ("<", _floor(Version(major, minor + 1, 0)))]
        return [("=", lo)]
    return [(op, lo)]


def _floor(v: Version) -> Version:
    # '<2.0.0' must exclude 2.0.0-rc.1 as npm does: compare against the lowest pre-release.
    return Version(v.major, v.minor, v.patch, ((0, 0),), "0")


@dataclass(frozen=True)
class Range:
    """A parsed version range."""

    text: str
    alternatives: tuple[tuple[_Bound, ...], ...]
    allows_pre: bool

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse a range such as ``^1.2`` or ``>=1.0 <2.0 || 3.x``."""
        alts = []
        spec = text.strip()
        if not spec:
            raise ValueError("empty version range")
        for alt in spec.split("||"):
            tokens = re.findall(r"(?:\^|~|>=|<=|>|<|=)?\s*[^\s^~<>=|]+", alt.strip())
            if not tokens or "".join(t.replace(" ", "") for t in tokens) != alt.replace(" ", ""):
                raise ValueError(f"not a version range: {text!r}")
            bounds: list[_Bound] = []
            for tok in tokens:
                m = _COMPARATOR.match(tok.strip())
                if not m:
                    raise ValueError(f"not a version range: {text!r}")
                bounds.extend(_comparator(m.group(1) or "", m.group(2)))
            alts.append(tuple(bounds))
        return cls(text, tuple(alts), "-" in spec)

    def matches(self, v: Version) -> bool:
        """Whether ``v`` satisfies the range."""
        if v.pre and not self.allows_pre:
            return False
        return any(all(_holds(op, v, b) for op, b in alt) for alt in self.alternatives)

    def best(self, versions: list[Version]) -> Version | None:
        """The highest version that satisfies the range."""
        ok = [v for v in versions if self.matches(v)]
        return max(ok) if ok else None


def _holds(op: str, v: Version, b: Version) -> bool:
    if op == "=":
        return v._key() == b._key()
    if op == ">=":
        return not v < b
    if op == ">":
        return b < v
    if op == "<=":
        return not b < v
    return v < b
