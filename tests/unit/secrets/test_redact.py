"""The redaction rule: what is sensitive, and what its marker reveals."""

from __future__ import annotations

from typing import Any

import pytest

from cfgc.base.secretrefs import SecretRef
from cfgc.secrets import redact
from cfgc.secrets.redact import MARKER, is_sensitive, marker, mask

OPENAI = "sk-live-CANARYabcdefghijklmnop0123456789"
WEAK = "hunter2hunter2"
ENC = "ENC[AES256_GCM,data:Q0FOQVJZ,iv:aXY=,tag:dGFn,type:str]"


@pytest.mark.parametrize(("path", "value"), [
    (("models", "primary", "api_key"), OPENAI),
    (("note",), OPENAI),  # a known format is a credential under any key
    (("db", "password"), WEAK),  # not random, still a password
    (("auth", "token"), "abc"),
    (("x",), ENC),
    (("x",), "https://user:s3cr3tpass@db.example.com/x"),
    (("api", "key"), SecretRef("secrets.enc.yaml", ("api", "key"), "str")),
    (("list", 0), "\x00cfgc-secret:abcdef"),
])
def test_sensitive(path: tuple[Any, ...], value: Any) -> None:
    assert is_sensitive(path, value)


@pytest.mark.parametrize(("path", "value"), [
    (("db", "password"), "${DB_PASSWORD}"),  # a reference, not a value
    (("api_key_env",), "OPENAI_API_KEY"),
    (("ca_key",), "certs/ca.pem"),
    (("token_url",), "https://auth.example.com/token"),
    (("max_tokens",), 4096),
    (("name",), WEAK),
    (("password",), ""),
])
def test_not_sensitive(path: tuple[Any, ...], value: Any) -> None:
    assert not is_sensitive(path, value)


def test_marker_is_stable_in_a_run_keyed_and_short() -> None:
    m = marker(WEAK)
    assert MARKER.fullmatch(m) and WEAK not in m
    assert marker(WEAK) == m and marker(WEAK + "x") != m
    old = redact.set_key(b"another run")
    try:
        assert marker(WEAK) != m  # a new key, a new marker: nothing to brute-force across runs
    finally:
        redact.set_key(old)
    assert marker(WEAK) == m


def test_redact_replaces_sensitive_leaves_and_copies() -> None:
    value = {"db": {"password": WEAK, "host": "db.example.com"}, "note": f"pw is {WEAK}!", "n": 3}
    out = redact.redact(value, (), redact.sensitive_strings(value))
    assert out["db"]["password"] == marker(WEAK) and out["db"]["host"] == "db.example.com"
    assert MARKER.fullmatch(out["note"]) and out["n"] == 3
    assert value["db"]["password"] == WEAK  # not modified in place


def test_mask_free_text() -> None:
    text = (f"'{WEAK}' is not of type 'integer'; key {OPENAI}; {ENC}; "
            "postgres://u:s3cr3tpass@h/db; \"hunter2\\\"q\"")
    out = mask(text, {WEAK, 'hunter2"q'})
    for secret in (WEAK, OPENAI, "Q0FOQVJZ", "s3cr3tpass", "hunter2"):
        assert secret not in out
    assert "is not of type 'integer'" in out and out.count("<redacted hmac:") == 5
    assert mask("no secrets here") == "no secrets here"
