"""cfgc.compile.semver against node-semver's own fixtures (tests/data/node-semver, see its README).

Every row runs except those that pass node-semver's ``loose`` option, which
cfgc does not support (docs/config-reference.md, Prompts).  Those rows are left
out of the parametrisation (a skip would be noise in every run) and counted by
``test_only_loose_rows_are_left_out``, so a fixture update that adds another
kind of unsupported row fails instead of disappearing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cfgc.compile import semver, semver_re
from cfgc.compile.semver import Range, Version, max_satisfying, satisfies

DATA = Path(__file__).resolve().parents[2] / "data" / "node-semver"


@pytest.fixture(autouse=True)
def _cold_caches() -> None:
    """Each test parses and compiles from scratch: a range or pattern cached by an
    earlier test would hide what this one exercises (and, under mutation testing,
    which code it reaches)."""
    semver._parse_range.cache_clear()
    semver._version.cache_clear()
    for name in semver_re._SOURCES:
        vars(semver_re).pop(name, None)


LEFT_OUT: dict[str, int] = {}  # fixture name -> rows using the unsupported ``loose`` option


def _rows(name: str) -> list[Any]:
    """The fixture rows as pytest params, without the ``loose`` rows."""
    out = []
    for i, row in enumerate(json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))):
        opts = row[2] if name != "valid-versions" and len(row) > 2 and isinstance(row[2], dict) else {}
        if opts.get("loose"):
            LEFT_OUT[name] = LEFT_OUT.get(name, 0) + 1
            continue
        out.append(pytest.param(*row, id=f"{name}[{i}]"))
    return out


def _js(value: Any) -> Any:
    """A fixture's non-string JavaScript value as the closest Python value."""
    if not isinstance(value, dict):
        return value
    if value["js_type"] == "regexp":
        return re.compile(value["text"][1:-1])
    if value["js_type"] == "boolean":
        return value["text"] == "true"

    class WithToString:
        def __str__(self) -> str:
            return str(value["text"])

    return WithToString()


def _inc(opts: dict[str, bool]) -> bool:
    return bool(opts.get("includePrerelease"))


@pytest.mark.parametrize(("rng", "version", "opts"), _rows("range-include"))
def test_range_include(rng: str, version: str, opts: dict[str, bool]) -> None:
    assert Range.parse(rng, _inc(opts)).test(version)
    assert satisfies(version, rng, _inc(opts))


@pytest.mark.parametrize(("rng", "version", "opts"), _rows("range-exclude"))
def test_range_exclude(rng: str, version: Any, opts: dict[str, bool]) -> None:
    r = Range.parse(rng, _inc(opts))  # node-semver's test constructs the range: it must be valid
    assert not r.test(_js(version))


@pytest.mark.parametrize(("rng", "version", "opts"), _rows("version-gt-range") + _rows("version-lt-range"))
def test_a_version_above_or_below_a_range_does_not_satisfy_it(rng: str, version: str, opts: dict[str, bool]) -> None:
    """node-semver's gtr/ltr fixtures: cfgc has neither, but such a version is outside the range."""
    assert Version.parse(version)
    assert not Range.parse(rng, _inc(opts)).test(version)
    assert not satisfies(version, rng, _inc(opts))


@pytest.mark.parametrize(("rng", "expect", "opts"), _rows("range-parse"))
def test_range_parse(rng: str, expect: str | None, opts: dict[str, bool]) -> None:
    if expect is None:
        with pytest.raises(ValueError, match="invalid version range"):
            Range.parse(rng, _inc(opts))
        return
    assert (str(Range.parse(rng, _inc(opts))) or "*") == expect
    assert str(Range.parse(rng, _inc(opts))) == str(Range.parse(expect))


@pytest.mark.parametrize(("v0", "v1", "opts"), _rows("comparisons"))
def test_comparisons(v0: str, v1: str, opts: dict[str, bool]) -> None:
    a, b = Version.parse(v0), Version.parse(v1)
    assert a > b and b < a and a != b and not a <= b
    assert a == Version.parse(v0) and b == Version.parse(v1)


@pytest.mark.parametrize(("v0", "v1", "opts"), _rows("equality"))
def test_equality(v0: str, v1: str, opts: dict[str, bool]) -> None:
    a, b = Version.parse(v0), Version.parse(v1)
    assert a == b and hash(a) == hash(b) and not a < b and not b < a


@pytest.mark.parametrize(("text", "major", "minor", "patch", "pre", "build"), _rows("valid-versions"))
def test_valid_versions(text: str, major: int, minor: int, patch: int, pre: list[Any], build: list[str]) -> None:
    v = Version.parse(text)
    assert (v.major, v.minor, v.patch, list(v.prerelease), list(v.build)) == (major, minor, patch, pre, build)


@pytest.mark.parametrize(("value", "reason", "opts"), _rows("invalid-versions"))
def test_invalid_versions(value: Any, reason: str, opts: dict[str, bool]) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        Version.parse(_js(value))


ORACLE = json.loads((DATA / "oracle.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", ORACLE["cases"], ids=[f"oracle[{i}]" for i in range(len(ORACLE["cases"]))])
def test_satisfying_set_and_max_match_npm(case: dict[str, Any]) -> None:
    """Per range: validity, every pool version's verdict and ``maxSatisfying`` as node-semver computed them."""
    pool: list[str] = ORACLE["versions"]
    inc = _inc(case["options"])
    if not case["valid"]:
        with pytest.raises(ValueError):
            Range.parse(case["range"], inc)
        assert max_satisfying(pool, case["range"], inc) is None
        return
    r = Range.parse(case["range"], inc)
    assert [i for i, v in enumerate(pool) if r.test(v)] == case["satisfying"]
    assert max_satisfying(pool, case["range"], inc) == case["max"]
    best = r.best(Version.parse(v) for v in pool)
    assert (str(best) if best else None) == (str(Version.parse(case["max"])) if case["max"] else None)


@pytest.mark.parametrize(("versions", "rng", "expect"), [
    # test/ranges/max-satisfying.js of node-semver (its loose row left out).
    (["1.2.3", "1.2.4"], "1.2", "1.2.4"),
    (["1.2.4", "1.2.3"], "1.2", "1.2.4"),
    (["1.2.3", "1.2.4", "1.2.5", "1.2.6"], "~1.2.3", "1.2.6"),
    ([], "some frogs and sneks-v2.5.6", None),
    # Equal versions: the first one listed wins, as in npm.
    (["v1.2.3", "1.2.3+b", "1.2.3"], "1.x", "v1.2.3"),
])
def test_max_satisfying(versions: list[str], rng: str, expect: str | None) -> None:
    assert max_satisfying(versions, rng) == expect


@pytest.mark.parametrize(("rng", "version", "ok"), [
    # cfgc issue 13, each against npm's answer.
    ("<=1.2", "1.2.3", True), ("<=0.7.x", "0.7.2", True), (">1", "1.0.1", False), (">1.2", "1.2.8", False),
    ("^1.0.0-alpha", "1.2.3-beta", False), ("^1.0.0-alpha", "1.0.0-beta", True),
    ("<2.0.0-rc.2", "1.0.0-alpha", False), ("<2.0.0-rc.2", "2.0.0-rc.1", True),
    ("1.2.3 - 2.3.4", "2.3.4", True), ("~>1.2", "1.2.9", True), ("v1.2.3", "1.2.3", True),
    ("^1.2.3+build", "1.3.0", True), ("||", "9.9.9", True),
])
def test_issue_13_ranges(rng: str, version: str, ok: bool) -> None:
    assert Range.parse(rng).test(version) is ok


@pytest.mark.parametrize("bad", ["1.x.5", "x.1", ">01.02.03", "^^1", ">=x.y.z.w", "1.2.3.4.5", "abc",
                                 # npm drops the first star only: "*" is left and refused.
                                 "**", ">=**", "1.2.3 **",
                                 # Python whitespace that JavaScript's \s is not: no separator.
                                 "1.2.3\x85", ">=1.2.3\x1c<2.0.0"])
def test_ranges_npm_rejects_are_refused_naming_the_comparator(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid version range .*is not a valid comparator"):
        Range.parse(bad)


def test_include_prerelease_admits_any_prerelease_in_range() -> None:
    assert not Range.parse("^1.0.0").test("1.5.0-rc.1")
    assert Range.parse("^1.0.0", include_prerelease=True).test("1.5.0-rc.1")


def test_huge_numeric_prerelease_identifiers_compare_as_javascript_numbers() -> None:
    # node-semver keeps 90071992547409910 as a string and compares it as a double.
    big = Version.parse("1.2.3-beta.90071992547409910")
    assert big.prerelease == ("beta", "90071992547409910")
    assert big == Version.parse("1.2.3-beta.90071992547409911")
    assert Version.parse("1.2.3-beta.9") < big < Version.parse("1.2.3-beta.x")


def test_only_loose_rows_are_left_out() -> None:
    """80 rows use ``loose`` (documented as unsupported); nothing else is left out."""
    assert sum(LEFT_OUT.values()) == 80, LEFT_OUT


# --- Bounds pinned by mutation testing (scripts/mutation.sh semver), each npm's answer ---

@pytest.mark.parametrize(("rng", "canonical"), [
    ("^0.0.3", ">=0.0.3 <0.0.4-0"), ("^0.2.3", ">=0.2.3 <0.3.0-0"), ("^1.2.3", ">=1.2.3 <2.0.0-0"),
    ("^0.0", "<0.1.0-0"), ("^0.x", "<1.0.0-0"), ("^1.2", ">=1.2.0 <2.0.0-0"),
    ("~1", ">=1.0.0 <2.0.0-0"), ("~1.2", ">=1.2.0 <1.3.0-0"), ("~1.2.3", ">=1.2.3 <1.3.0-0"),
    ("~1.2.3-rc.1", ">=1.2.3-rc.1 <1.3.0-0"), ("^0.0.3-rc.1", ">=0.0.3-rc.1 <0.0.4-0"),
    (">1.2.3", ">1.2.3"), ("<=1.2.3", "<=1.2.3"), (">1", ">=2.0.0"), (">1.2", ">=1.3.0"),
    ("<=1", "<2.0.0-0"), ("<=1.2", "<1.3.0-0"), ("<1.2", "<1.2.0-0"), (">=1.2", ">=1.2.0"),
    ("1.2.3 - 2", ">=1.2.3 <3.0.0-0"), ("1.2 - 2.3", ">=1.2.0 <2.4.0-0"), ("* *", ""), ("1.2.3 - 2.3.4-rc.1", ">=1.2.3 <=2.3.4-rc.1"),
])
def test_desugared_bounds(rng: str, canonical: str) -> None:
    assert str(Range.parse(rng)) == canonical


@pytest.mark.parametrize(("rng", "canonical"), [
    ("^1.2", ">=1.2.0-0 <2.0.0-0"), ("~1", ">=1.0.0-0 <2.0.0-0"), ("1.2.3 - 1.2.4", ">=1.2.3-0 <1.2.5-0"),
    ("1.x", ">=1.0.0-0 <2.0.0-0"), ("*", ""), ("1 - 2.x", ">=1.0.0-0 <3.0.0-0"),
    # A pre-release bound of a hyphen range is kept as written, not given another "-0".
    ("1.2.3-pre - 2", ">=1.2.3-pre <3.0.0-0"), ("1.2.3 - 2.3.4-rc.1", ">=1.2.3-0 <=2.3.4-rc.1"),
])
def test_desugared_bounds_with_prereleases(rng: str, canonical: str) -> None:
    assert str(Range.parse(rng, include_prerelease=True)) == canonical


@pytest.mark.parametrize(("rng", "inside", "outside"), [
    ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2", "0.1.0"]),
    ("~1", ["1.0.0", "1.9.9"], ["2.0.0", "0.9.9"]),
    ("~1.2", ["1.2.0", "1.2.99"], ["1.3.0", "1.1.9"]),
    (">1.2.3", ["1.2.4", "2.0.0"], ["1.2.3", "1.0.0"]),
    ("<=1.2.3", ["1.2.3", "0.0.1"], ["1.2.4"]),
    ("<1.2.3", ["1.2.2"], ["1.2.3"]),
    (">=1.2.3", ["1.2.3"], ["1.2.2"]),
    ("1.2.3", ["1.2.3", "v1.2.3+b"], ["1.2.4"]),
])
def test_comparator_operators(rng: str, inside: list[str], outside: list[str]) -> None:
    r = Range.parse(rng)
    assert all(r.test(v) for v in inside), inside
    assert not any(r.test(v) for v in outside), outside


@pytest.mark.parametrize(("rng", "version", "ok"), [
    # A pre-release passes only with a comparator that has the same [major, minor, patch] and a pre-release.
    (">=1.2.3-rc.1 <2.0.0", "1.2.3-rc.2", True), (">=1.2.3-rc.1 <2.0.0", "1.2.4-rc.1", False),
    (">=1.2.3 <2.0.0", "1.5.0-rc.1", False), ("<2.0.0-rc.2", "2.0.0-rc.1", True),
    (">1.2.3-rc.1", "1.2.3", True), (">=1.2.3-rc.1", "1.2.3-rc.0", False),
])
def test_prerelease_exclusion(rng: str, version: str, ok: bool) -> None:
    assert Range.parse(rng).test(version) is ok


def test_version_text_and_ordering() -> None:
    assert str(Version.parse("v1.2.3-rc.1+b.7")) == "1.2.3-rc.1"
    assert str(Version.parse("1.2.3+b")) == "1.2.3"
    assert Version.parse("1.2.3-rc.1") < Version.parse("1.2.3") < Version.parse("1.2.4-0")
    assert Version.parse("1.2.3-2") < Version.parse("1.2.3-10") < Version.parse("1.2.3-a")
    assert Version.parse("1.2.3").__lt__("1.2.3") is NotImplemented
    assert Version.parse("1.2.3") != "1.2.3"


def test_comparator_value_and_any() -> None:
    from cfgc.compile.semver import Comparator

    assert Comparator.parse("=1.2.3").value == "1.2.3"
    assert Comparator.parse(">= 1.2.3").value == ">=1.2.3"
    assert Comparator.parse("").value == "" and Comparator.parse("").test(Version.parse("0.0.0"))


def test_non_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="not a version range"):
        Range.parse(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a string"):
        Version.parse(1)  # type: ignore[arg-type]
    assert not satisfies("1.2.3", "%%%") and max_satisfying(["1.2.3"], "%%%") is None
    assert not Range.parse("*").test("") and not Range.parse("*").test("nope")


def test_defaults_exclude_prereleases() -> None:
    """satisfies and max_satisfying without the option, as npm's defaults."""
    assert not satisfies("1.5.0-rc.1", "^1.0.0")
    assert max_satisfying(["1.5.0-rc.1", "1.4.0"], "^1.0.0") == "1.4.0"


def test_best_picks_the_first_of_equal_versions() -> None:
    a, b = Version.parse("1.2.3+a"), Version.parse("1.2.3+b")
    best = Range.parse("1.2.3").best([a, b])
    assert best is not None and best.build == ("a",)


def test_distinct_versions_hash_apart() -> None:
    """Versions key dicts and sets (selection, caches): equal hashes for all would make them linear."""
    texts = [f"{M}.{m}.{p}" for M in range(4) for m in range(4) for p in range(4)] + ["1.2.3-rc.1", "1.2.3-rc.2"]
    assert len({hash(Version.parse(t)) for t in texts}) == len(texts)


def test_length_limit_is_256_characters_inclusive() -> None:
    longest = "1.2.3-" + "a" * 250  # 256 characters: npm's MAX_LENGTH, still valid
    assert Version.parse(longest).prerelease == ("a" * 250,)
    with pytest.raises(ValueError, match="longer than 256"):
        Version.parse(longest + "a")


def test_numeric_prerelease_identifiers_below_max_safe_integer_become_numbers() -> None:
    # npm: ``num >= 0 && num < MAX_SAFE_INTEGER``; MAX_SAFE_INTEGER itself stays a string.
    assert Version.parse("1.2.3-9007199254740990").prerelease == (9007199254740990,)
    assert Version.parse("1.2.3-9007199254740991").prerelease == ("9007199254740991",)


# npm's \d is ASCII and its \s is JavaScript's whitespace set: each of these is
# invalid for node-semver 7.8.5 (`semver.valid` / `semver.validRange` give null),
# while Python's own \d and \s would accept them.
@pytest.mark.parametrize("text", ["1.2.1\u0663", "1\u0663.2.3", "1.2.3-1\u0663"])
def test_non_ascii_digits_are_not_digits(text: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        Version.parse(text)
    with pytest.raises(ValueError, match="invalid version range"):
        Range.parse(text)


@pytest.mark.parametrize(
    "text", ["1.2.3\x1c-\x1c2.0.0", "1.2.3 -\x1c2.0.0", ">=\x1c1.2.3", "^\x1c1.2.3", "~\x851.2.3", "<\x1f2.0.0"]
)
def test_python_only_whitespace_is_not_whitespace_inside_a_range(text: str) -> None:
    with pytest.raises(ValueError, match="invalid version range"):
        Range.parse(text)


def test_an_unknown_pattern_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'NOPE'"):
        semver_re.NOPE  # noqa: B018
