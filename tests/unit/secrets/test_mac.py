"""cfgc.secrets.mac: the MAC digest, its encryption under lastmodified, and verification messages."""

from __future__ import annotations

import hashlib

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.secrets import cipher
from cfgc.secrets.mac import MacBuilder, decrypt_mac, encrypt_mac, verify

KEY = bytes(range(32))
OTHER_KEY = bytes(32)
LM = "2026-01-01T00:00:00Z"
MAC = hashlib.sha512(b"x").hexdigest().upper()


def test_builder_modes() -> None:
    plain = MacBuilder()
    plain.add("public", False)
    plain.add(7, True)
    assert plain.hexdigest() == hashlib.sha512(b"public7").hexdigest().upper()
    assert repr(plain) == "MacBuilder(only_encrypted=False)"
    assert repr(MacBuilder(only_encrypted=True)) == "MacBuilder(only_encrypted=True)"
    assert MacBuilder(True).hexdigest() != MacBuilder().hexdigest()


def test_encrypted_mac_round_trips_with_lastmodified_as_aad() -> None:
    iv = bytes(range(32))
    enc = encrypt_mac(MAC, KEY, LM, iv)
    assert enc == cipher.encrypt(MAC, KEY, LM, iv)
    assert cipher.decrypt(enc, KEY, LM) == (MAC, iv)
    assert decrypt_mac(enc, KEY, LM) == MAC
    assert encrypt_mac(MAC, KEY, LM) != encrypt_mac(MAC, KEY, LM)  # a fresh nonce without iv


@pytest.mark.parametrize(("key", "lastmodified"), [(OTHER_KEY, LM), (KEY, "2026-01-02T00:00:00Z")])
def test_wrong_key_or_altered_lastmodified_is_refused(key: bytes, lastmodified: str) -> None:
    enc = encrypt_mac(MAC, KEY, LM)
    with pytest.raises(IntegrityError) as info:
        decrypt_mac(enc, key, lastmodified)
    assert info.value.message == "the file MAC does not verify (sops.mac or lastmodified altered)"


def test_a_mac_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(IntegrityError) as info:
        decrypt_mac(cipher.encrypt(12, KEY, LM), KEY, LM)
    assert info.value.message == "sops.mac is not a string"


def test_verify_compares_case_insensitively_and_names_a_mismatch() -> None:
    enc = encrypt_mac(MAC, KEY, LM)
    verify(enc, MAC.lower(), KEY, LM)
    verify(encrypt_mac(MAC.lower(), KEY, LM), MAC, KEY, LM)
    with pytest.raises(IntegrityError) as info:
        verify(enc, hashlib.sha512(b"y").hexdigest(), KEY, LM)
    assert info.value.message == "MAC mismatch: the file was modified outside sops/cfgc"
    with pytest.raises(IntegrityError, match="does not verify"):
        verify(enc, MAC, OTHER_KEY, LM)
