from __future__ import annotations

import hashlib

import pytest

from cfgc.base.errors import InputError
from cfgc.secrets import shamir
from cfgc.secrets.mac import MAC_ONLY_ENCRYPTED_INIT, MacBuilder
from cfgc.secrets.rules import DEFAULT_RULE, EncryptionRule, rule_from_mapping


@pytest.mark.parametrize(
    ("rule", "path", "expected"),
    [
        (DEFAULT_RULE, ("db", "password"), True),
        (DEFAULT_RULE, ("db_unencrypted", "password"), False),
        (DEFAULT_RULE, ("db", "user_unencrypted"), False),
        (EncryptionRule("encrypted_suffix", "_secret"), ("db", "pw_secret"), True),
        (EncryptionRule("encrypted_suffix", "_secret"), ("db", "pw"), False),
        (EncryptionRule("encrypted_suffix", "_secret"), ("db_secret", "pw"), True),
        (EncryptionRule("encrypted_regex", "^(data|stringData)$"), ("data", "x"), True),
        (EncryptionRule("encrypted_regex", "^(data|stringData)$"), ("metadata", "name"), False),
        (EncryptionRule("encrypted_regex", "pass"), ("db", "my_password"), True),  # unanchored
        (EncryptionRule("unencrypted_regex", "^public"), ("public_key",), False),
        (EncryptionRule("unencrypted_regex", "^public"), ("private_key",), True),
    ],
)
def test_should_encrypt(rule: EncryptionRule, path: tuple[str, ...], expected: bool) -> None:
    assert rule.should_encrypt(path) is expected


def test_rule_from_mapping() -> None:
    assert rule_from_mapping({}) == DEFAULT_RULE
    assert rule_from_mapping({"encrypted_regex": "^x$"}) == EncryptionRule("encrypted_regex", "^x$")
    with pytest.raises(InputError, match="only one"):
        rule_from_mapping({"encrypted_regex": "a", "unencrypted_suffix": "_u"})
    with pytest.raises(InputError):
        EncryptionRule("encrypted_regex", "(")
    with pytest.raises(InputError):
        EncryptionRule("bogus", "x")


def test_mac_matches_definition() -> None:
    m = MacBuilder()
    for v in ("a", 1, 2.5, True):
        m.add(v, True)
    assert m.hexdigest() == hashlib.sha512(b"a12.5True").hexdigest().upper()


def test_mac_only_encrypted() -> None:
    m = MacBuilder(only_encrypted=True)
    m.add("secret", True)
    m.add("public", False)
    expected = hashlib.sha512(hashlib.sha256(b"sops").digest() + b"secret").hexdigest().upper()
    assert m.hexdigest() == expected
    assert MAC_ONLY_ENCRYPTED_INIT.hex().startswith("8a3fd2ad")


def test_shamir_round_trip() -> None:
    secret = bytes(range(32))
    parts = shamir.split(secret, 5, 3)
    assert all(len(p) == 33 for p in parts)
    assert shamir.combine(parts[:3]) == secret
    assert shamir.combine([parts[4], parts[1], parts[2]]) == secret
    assert shamir.combine(parts[:2]) != secret
