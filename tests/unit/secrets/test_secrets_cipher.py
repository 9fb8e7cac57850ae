from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.secrets import cipher

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (1.5e-7, "0.00000015"),
        (1e21, "1000000000000000000000"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (3.14159265358979, "3.14159265358979"),
        (123456789.125, "123456789.125"),
        (1e-300, "0." + "0" * 299 + "1"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_go_float_formatting(value: float, text: str) -> None:
    assert cipher.format_go_float(value) == text


@pytest.mark.parametrize(
    ("value", "raw", "type_"),
    [
        ("héllo", "héllo".encode(), "str"),
        (42, b"42", "int"),
        (-7, b"-7", "int"),
        (2.5, b"2.5", "float"),
        (True, b"True", "bool"),
        (False, b"False", "bool"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), b"2024-01-02T03:04:05Z", "time"),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            b"2024-01-02T03:04:05.12+02:00",
            "time",
        ),
        (cipher.Comment("note"), b"note", "comment"),
    ],
)
def test_value_encoding(value: object, raw: bytes, type_: str) -> None:
    assert cipher.to_bytes(value) == raw
    assert cipher.value_type(value) == type_
    back = cipher.from_bytes(raw, type_)
    same = back.value == value.value if isinstance(value, cipher.Comment) else back == value  # type: ignore[attr-defined]
    assert same and type(back) is type(value)


@pytest.mark.parametrize("value", ["secret", 0, 12, 2.25, True, False, "ünï"])
def test_round_trip(value: object) -> None:
    enc = cipher.encrypt(value, KEY, "a:b:")
    assert enc.startswith("ENC[AES256_GCM,data:") and enc.endswith(
        f"type:{cipher.value_type(value)}]"
    )
    out, iv = cipher.decrypt(enc, KEY, "a:b:")
    assert out == value and type(out) is type(value)
    assert len(iv) == 32
    # same iv → identical ciphertext
    assert cipher.encrypt(value, KEY, "a:b:", iv) == enc


def test_empty_string_is_not_encrypted() -> None:
    assert cipher.encrypt("", KEY, "a:") == ""
    assert cipher.decrypt("", KEY, "a:") == ("", b"")


def test_aad_binds_the_key_path() -> None:
    enc = cipher.encrypt("x", KEY, "db:password:")
    with pytest.raises(IntegrityError):
        cipher.decrypt(enc, KEY, "db:user:")
    with pytest.raises(IntegrityError):
        cipher.decrypt(enc, os.urandom(32), "db:password:")


def test_aad_format() -> None:
    assert cipher.aad_for(("db", "password")) == "db:password:"
    assert cipher.aad_for(()) == ":"


def test_tampered_ciphertext() -> None:
    ev = cipher.parse(cipher.encrypt("hello world", KEY, "k:"))
    flipped = bytes([ev.data[0] ^ 1]) + ev.data[1:]
    bad = cipher.EncryptedValue(flipped, ev.iv, ev.tag, ev.type).format()
    with pytest.raises(IntegrityError):
        cipher.decrypt(bad, KEY, "k:")


def test_known_vector_from_sops() -> None:
    """Go's AES-GCM with a 32-byte nonce, as written by the sops binary."""
    from cfgc.secrets import fileio
    from cfgc.secrets.keysources.age import AgeSource, load_identities
    from cfgc.secrets.metadata import SopsMetadata

    DATA = Path(__file__).parent / "data"

    doc = fileio.read(DATA / "sops-golden.enc.yaml")
    meta = SopsMetadata.from_dict(doc["sops"])
    ids, _ = load_identities(str(DATA / "test-age.key"))
    key = AgeSource(identities=ids).decrypt(meta.key_groups[0][0])
    assert cipher.decrypt(doc["db"]["port"], key, "db:port:")[0] == 5432
    assert cipher.decrypt(doc["db"]["big"], key, "db:big:")[0] == 1e21


@pytest.mark.parametrize(
    "bad", ["ENC[AES256_GCM,data:!!,iv:x,tag:y,type:str]", "plain", "ENC[AES256_GCM,data:AA==]"]
)
def test_malformed(bad: str) -> None:
    with pytest.raises(IntegrityError):
        cipher.decrypt(bad, KEY, "a:")


def test_unknown_type() -> None:
    with pytest.raises(IntegrityError):
        cipher.from_bytes(b"x", "weird")
