"""Semantic versions and ranges with the exact semantics of npm's ``semver`` package.

A port of node-semver 7.x (``SemVer``, ``Comparator``, ``Range``, ``satisfies``,
``maxSatisfying``) with its default options: strict parsing (``loose`` is not
supported) and ``includePrerelease`` false unless asked for.  The grammar is
documented in docs/config-reference.md (Prompts); node-semver's own fixtures
run against this module in tests/unit/compile/test_semver.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache, total_ordering

from cfgc.compile import semver_re as R
from cfgc.compile.semver_desugar import desugar

_PreKey = tuple[tuple[int, float | str], ...]


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A semantic version (``SemVer``); orders by precedence, build metadata ignored."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()
    _key: tuple[int, int, int, int, _PreKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # node-semver compares two numeric identifiers as JavaScript numbers,
        # so huge ones (kept as strings) compare by their double value.
        pre = tuple((0, float(p)) if type(p) is int or R.NUMERIC.match(str(p)) else (1, str(p))
                    for p in self.prerelease)
        object.__setattr__(self, "_key", (self.major, self.minor, self.patch, 0 if pre else 1, pre))

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse as ``new SemVer(text)``: ``1.2.3``, ``v1.2.3-rc.1+b.7``, surrounding
        whitespace allowed; raises ValueError otherwise."""
        if not isinstance(text, str):
            raise ValueError(f"not a semantic version: {text!r} is not a string")
        if len(text) > R.MAX_LENGTH:
            raise ValueError(f"not a semantic version: longer than {R.MAX_LENGTH} characters")
        m = R.FULL.match(R.js_trim(text))
        if m is None:
            raise ValueError(f"not a semantic version: {text!r}")
        nums = [int(g) for g in m.group(1, 2, 3)]
        if any(n > R.MAX_SAFE_INTEGER for n in nums):
            raise ValueError(f"not a semantic version: {text!r} has a number above {R.MAX_SAFE_INTEGER}")
        pre = tuple(int(p) if R.NUMERIC.match(p) and int(p) < R.MAX_SAFE_INTEGER else p
                    for p in (m.group(4).split(".") if m.group(4) else ()))
        build = tuple(m.group(5).split(".")) if m.group(5) else ()
        return cls(nums[0], nums[1], nums[2], pre, build)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return base + "-" + ".".join(map(str, self.prerelease)) if self.prerelease else base


@dataclass(frozen=True)
class Comparator:
    """``<op><version>``, op one of ``''`` (equal), ``<``, ``<=``, ``>``, ``>=``; no version: any."""

    operator: str
    version: Version | None

    @classmethod
    def parse(cls, text: str) -> Comparator:
        """Parse one desugared comparator; raises ValueError."""
        m = R.COMPARATOR.match(" ".join(R.js_split_ws(R.js_trim(text))))
        if m is None:
            raise ValueError(f"{text!r} is not a valid comparator")
        op = m.group(1) or ""
        return cls("" if op == "=" else op, Version.parse(m.group(2)) if m.group(2) else None)

    @property
    def value(self) -> str:
        """The canonical text, ``''`` for any version."""
        return "" if self.version is None else f"{self.operator}{self.version}"

    def test(self, v: Version) -> bool:
        """Whether ``v`` passes this comparator alone (pre-release rule not applied)."""
        b = self.version
        if b is None:
            return True
        op = self.operator
        return {"": v == b, "<": v < b, "<=": v <= b, ">": v > b, ">=": v >= b}[op]


@dataclass(frozen=True)
class Range:
    """An npm range: alternatives (``||``), each a set of comparators that must all hold."""

    text: str
    sets: tuple[tuple[Comparator, ...], ...]
    include_prerelease: bool = False

    @classmethod
    def parse(cls, text: str, include_prerelease: bool = False) -> Range:
        """Parse as ``new Range(text)``; raises ValueError naming the bad comparator."""
        if not isinstance(text, str):
            raise ValueError(f"not a version range: {text!r}")
        return _parse_range(text, include_prerelease)

    def __str__(self) -> str:
        """The canonical form, node-semver's ``range.range`` (``''`` for any version)."""
        return "||".join(" ".join(c.value for c in s) for s in self.sets)

    def matches(self, v: Version) -> bool:
        """Whether ``v`` satisfies the range (``range.test``)."""
        return any(self._test_set(s, v) for s in self.sets)

    def test(self, version: str) -> bool:
        """``range.test(string)``: an unparsable version satisfies nothing."""
        try:
            return bool(version) and self.matches(_version(version))
        except ValueError:
            return False

    def _test_set(self, comps: tuple[Comparator, ...], v: Version) -> bool:
        if not all(c.test(v) for c in comps):
            return False
        if v.prerelease and not self.include_prerelease:
            # A pre-release passes only if some comparator names a pre-release
            # of the same major.minor.patch: ^1.2.3-rc.1 admits 1.2.3-rc.2, not 1.2.4-rc.1.
            return any(c.version is not None and c.version.prerelease
                       and c.version._key[:3] == v._key[:3] for c in comps)
        return True

    def best(self, versions: Iterable[Version]) -> Version | None:
        """The highest version that satisfies the range (first of equals), as ``maxSatisfying``."""
        top: Version | None = None
        for v in versions:
            if self.matches(v) and (top is None or top < v):
                top = v
        return top


@lru_cache(maxsize=256)
def _parse_range(text: str, inc_pre: bool) -> Range:
    raw = " ".join(R.js_split_ws(R.js_trim(text)))
    sets = []
    for alt in raw.split("||"):
        try:
            parsed = [Comparator.parse(c) for c in desugar(R.js_trim(alt), inc_pre)]
        except ValueError as e:
            raise ValueError(f"invalid version range {text!r}: {e}") from None
        # Duplicates collapse, '*' beside anything else drops, the null set wins.
        comps: dict[str, Comparator] = {}
        for comp in parsed:
            if comp.value == _NULL_SET:
                comps = {comp.value: comp}
                break
            comps[comp.value] = comp
        else:
            if len(comps) > 1:
                comps.pop("", None)
        sets.append(tuple(comps.values()))
    if len(sets) > 1:
        live = [s for s in sets if s[0].value != _NULL_SET] or sets[:1]
        sets = next(([s] for s in live if len(s) == 1 and s[0].version is None), live)
    return Range(text, tuple(sets), inc_pre)


_NULL_SET = "<0.0.0-0"


@lru_cache(maxsize=1024)
def _version(text: str) -> Version:
    # Versions are immutable; selection re-tests the same strings range after range.
    return Version.parse(text)


def satisfies(version: str, range_text: str, include_prerelease: bool = False) -> bool:
    """npm's ``semver.satisfies``: false for an invalid version or range."""
    try:
        return Range.parse(range_text, include_prerelease).test(version)
    except ValueError:
        return False


def max_satisfying(versions: Iterable[str], range_text: str, include_prerelease: bool = False) -> str | None:
    """npm's ``semver.maxSatisfying``: the highest satisfying string (first of equals), or None."""
    try:
        rng = Range.parse(range_text, include_prerelease)
    except ValueError:
        return None
    top: tuple[Version, str] | None = None
    for s in versions:
        if rng.test(s):
            v = _version(s)
            if top is None or top[0] < v:
                top = (v, s)
    return top[1] if top else None
