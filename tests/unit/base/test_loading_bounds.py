"""YAML bounds: numbers JSON cannot carry and alias expansion, refused at their line;
the credential scan costs the file's size, not the aliases' expansion."""

import time

import pytest

from cfgc.base.errors import InputError
from cfgc.base.loading import MAX_EXPANDED_CHARS, load_yaml
from cfgc.compile import hygiene


def load(text: str):
    return load_yaml(text.encode(), "f.yaml")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("9" * 100_000, "64-bit range"),  # past Python's 4300-digit int conversion limit
        ("9223372036854775808", "64-bit range"),
        ("-9223372036854775809", "64-bit range"),
        ("0x8000000000000000", "64-bit range"),
        ("0o1000000000000000000000", "64-bit range"),
        ("!!int 99999999999999999999", "64-bit range"),
        ("1e400", "overflows"),
        ("!!float -1e400", "overflows"),
        (".inf", "infinity or NaN"),
        (".NaN", "infinity or NaN"),
    ],
)
def test_numbers_json_cannot_carry_are_refused_at_their_line(value: str, fragment: str) -> None:
    for text, where in ((f"a: 1\nb: {value}\n", "f.yaml:2:4"), (f"a: 1\nb: [1, {value}]\n", "f.yaml:2:8")):
        with pytest.raises(InputError) as info:
            load(text)
        assert str(info.value.location) == where and fragment in info.value.message
        assert value[:30] not in info.value.message or len(value) < 30  # long numbers are shortened


@pytest.mark.parametrize(
    ("text", "value"),
    [("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -(2**63)), ("0x7fffffffffffffff", 2**63 - 1),
     ("0" * 50 + "1", 1), ("1e-400", 0.0), ("1.5e308", 1.5e308)],
)
def test_numbers_at_the_bounds_load(text: str, value: object) -> None:
    assert load(f"v: {text}\n").data == {"v": value}


def test_numeric_looking_keys_stay_keys() -> None:
    assert load("1e400: a\n99999999999999999999: b\n").data == {"1e400": "a", "99999999999999999999": "b"}


def _scalar_grid(scalar_chars: int, n: int) -> str:
    return (
        f"a: 1\nbig: &s {'k' * scalar_chars}\n"
        + "row: &r [" + ", ".join(["*s"] * n) + "]\n"
        + "grid: [" + ", ".join(["*r"] * n) + "]\n"
    )


def test_alias_expansion_is_limited_by_characters_with_the_location() -> None:
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        load(_scalar_grid(1 << 16, 400))  # 64 KiB x 160,000: 10 GiB expanded
    assert str(info.value.location) == "f.yaml:3:6"  # the first list that crosses the limit
    assert f"more than {MAX_EXPANDED_CHARS} characters" in info.value.message
    assert time.monotonic() - start < 60  # safety net, not a timing target


def test_aliases_under_the_limit_still_load() -> None:
    doc = load(_scalar_grid(100, 20))
    assert len(doc.data["grid"]) == 20 and doc.data["grid"][3][4] == "k" * 100


def test_credential_scan_visits_each_aliased_node_once(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "sk-" + "A1b2C3d4" * 4
    doc = load(f"creds: &c {{api_key: {token}}}\nrow: &r [" + ", ".join(["*c"] * 50) + "]\ngrid: ["
               + ", ".join(["*r"] * 50) + "]\n")
    seen = []
    real = hygiene.classify
    monkeypatch.setattr(hygiene, "classify", lambda k, v: seen.append(v) or real(k, v))
    found = hygiene.plaintext_findings(doc)
    assert len(seen) == 1  # not 2,501 times
    assert len(found) == 1 and "creds.api_key" in found[0].message and token not in found[0].message


def test_credential_scan_judges_an_aliased_value_under_each_key_name() -> None:
    # The entropy warning depends on the key: the same value under a secret-sounding key is still found.
    value = "Zq8xW3vR9tK2mP7yL4bN"
    doc = load(f"note: &v {value}\napi_token: *v\n")
    found = hygiene.plaintext_findings(doc)
    assert [f.location.line for f in found] == [2]
