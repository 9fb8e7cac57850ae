import pytest

from cfgc.semver import Range, Version

VERSIONS = [Version.parse(v) for v in ["0.3.1", "0.3.5", "1.0.0", "1.2.0", "1.10.1", "2.0.0-rc.1", "2.0.0"]]


@pytest.mark.parametrize(
    ("spec", "best"),
    [
        ("^1.0", "1.10.1"), ("~1.2", "1.2.0"), ("1.x", "1.10.1"), ("*", "2.0.0"),
        (">=1.0 <2.0", "1.10.1"), ("1.2.0", "1.2.0"), ("=1.0.0", "1.0.0"), ("^0.3", "0.3.5"),
        ("^0.3.1", "0.3.5"), ("^3 || 1.2", "1.2.0"), ("2.0.0-rc.1", "2.0.0-rc.1"), ("<1.0.0", "0.3.5"),
        ("^3", None),
    ],
)
def test_best_match(spec: str, best: str | None) -> None:
    got = Range.parse(spec).best(VERSIONS)
    assert (str(got) if got else None) == best


def test_prerelease_sorts_before_release() -> None:
    assert Version.parse("2.0.0-rc.1") < Version.parse("2.0.0")
    assert Version.parse("1.0.0-alpha") < Version.parse("1.0.0-alpha.1") < Version.parse("1.0.0-beta")


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3.4.5", "^^1", ">=x.y.z.w"])
def test_bad_ranges_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        Range.parse(bad)


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "v1.2.3", "1.2.3-"])
def test_bad_versions_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        Version.parse(bad)
