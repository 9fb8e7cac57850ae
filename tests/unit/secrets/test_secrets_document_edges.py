"""cfgc.secrets.document edges pinned by mutation testing (scripts/mutation.sh secrets/document)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

import pytest

from cfgc.base.errors import InputError, IntegrityError
from cfgc.secrets import cipher
from cfgc.secrets.cipher import Comment
from cfgc.secrets.document import (
    Stash,
    decrypt_document,
    decrypt_tree,
    encrypt_document,
    encrypt_tree,
    is_encrypted,
    split_document,
)
from cfgc.secrets.mac import decrypt_mac
from cfgc.secrets.metadata import AgeKey, SopsMetadata
from cfgc.secrets.rules import EncryptionRule

KEY = os.urandom(32)
META = SopsMetadata(key_groups=((AgeKey("age1example", "-----BEGIN AGE..."),),))
LM = "2024-01-01T00:00:00Z"
IV1, IV2, IV3 = b"1" * 32, b"2" * 32, b"3" * 32


def _sha(*parts: bytes) -> str:
    return hashlib.sha512(b"".join(parts)).hexdigest().upper()


def test_stash_cycles_through_the_ivs_of_equal_values_in_order() -> None:
    s = Stash()
    assert len(s) == 0 and repr(s) == "Stash(<0 entries>)"
    s.remember("l:", "x", IV1)
    s.remember("l:", "x", IV2)
    s.remember("l:", "y", b"")  # no IV (an empty value): nothing to remember
    assert len(s) == 1 and repr(s) == "Stash(<1 entries>)"
    assert [s.iv_for("l:", "x") for _ in range(3)] == [IV1, IV2, IV1]
    s.remember("n:", "x", IV1)
    s.remember("n:", "x", IV2)
    s.remember("n:", "x", IV3)
    assert [s.iv_for("n:", "x") for _ in range(4)] == [IV1, IV2, IV3, IV1]
    assert s.iv_for("l:", "y") is None
    assert s.iv_for("m:", "x") is None  # another key path


def test_equal_list_items_keep_their_own_ciphertext() -> None:
    doc = encrypt_document({"l": ["x", "x"]}, META, KEY, lastmodified=LM)
    opened = decrypt_document(doc, lambda m: KEY)
    again = encrypt_document(opened.tree, opened.metadata, KEY, opened.stash, LM)
    assert again["l"] == doc["l"] and doc["l"][0] != doc["l"][1]
    assert again["sops"]["mac"] == doc["sops"]["mac"]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"sops": {"mac": "m", "version": "3"}}, True),
        ({"sops": {"version": "3"}}, False),
        ({"sops": {"mac": "m"}}, False),
        ({"sops": "mac version"}, False),
        ({"sops": None}, False),
        ({}, False),
        (["sops"], False),
        ("sops", False),
    ],
)
def test_is_encrypted_needs_mac_and_version_in_a_mapping(doc: Any, expected: bool) -> None:
    assert is_encrypted(doc) is expected


def test_split_document() -> None:
    doc = encrypt_document({"a": 1, "b_unencrypted": 2}, META, KEY, lastmodified=LM)
    body, meta = split_document(doc)
    assert list(body) == ["a", "b_unencrypted"] and body["b_unencrypted"] == 2
    assert meta.lastmodified == LM
    with pytest.raises(InputError) as info:
        split_document({"a": 1})
    assert info.value.message == "not a SOPS-encrypted document (no sops metadata with mac and version)"


@pytest.mark.parametrize(("tree", "where"), [({1: "x"}, "the root"), ({"db": {2: "x"}}, "db"),
                                             ({"a": {"b": [{None: 1}]}}, "a:b")])
def test_non_string_keys_are_refused_naming_where(tree: Any, where: str) -> None:
    with pytest.raises(InputError) as info:
        encrypt_tree(tree, KEY)
    kind = type(next(iter(_innermost(tree)))).__name__
    assert info.value.message == f"only string keys are supported (found {kind} key under {where})"


def _innermost(tree: Any) -> Any:
    while True:
        v = next(iter(tree.values())) if isinstance(tree, dict) else None
        if isinstance(v, list):
            v = v[0]
        if not isinstance(v, dict):
            return tree
        tree = v


def test_leaves_the_cipher_cannot_encode_are_refused_with_their_path() -> None:
    with pytest.raises(InputError) as info:
        encrypt_tree({"db": {"pw": {1, 2}}}, KEY)
    assert info.value.message == "db:pw: cannot encode a value of type set"  # the MAC reads it first
    with pytest.raises(InputError) as info:
        encrypt_tree({"db": {"pw_unencrypted": {1, 2}}}, KEY)  # not encrypted, but MACed
    assert info.value.message == "db:pw_unencrypted: cannot encode a value of type set"


def test_mac_covers_every_non_null_leaf_in_order() -> None:
    tree = {"a": "x", "n": None, "b_unencrypted": 7, "l": [True, 1.5], "e": ""}
    enc, mac = encrypt_tree(tree, KEY)
    assert mac == _sha(b"x", b"7", b"True", b"1.5", b"")
    assert enc["n"] is None and enc["e"] == "" and enc["b_unencrypted"] == 7
    plain, mac2 = decrypt_tree(enc, KEY)
    assert plain == tree and mac2 == mac


def test_mac_only_encrypted_skips_plain_leaves() -> None:
    from cfgc.secrets.mac import MAC_ONLY_ENCRYPTED_INIT

    tree = {"a": "x", "b_unencrypted": 7}
    enc, mac = encrypt_tree(tree, KEY, mac_only_encrypted=True)
    assert mac == _sha(MAC_ONLY_ENCRYPTED_INIT, b"x")
    assert decrypt_tree(enc, KEY, mac_only_encrypted=True)[1] == mac
    assert decrypt_tree(enc, KEY)[1] == _sha(b"x", b"7")


def test_dates_are_encrypted_as_midnight_utc_times() -> None:
    enc, mac = encrypt_tree({"d": dt.date(2024, 2, 3)}, KEY)
    assert cipher.parse(enc["d"]).type == "time"
    assert mac == _sha(b"2024-02-03T00:00:00Z")
    plain, _ = decrypt_tree(enc, KEY)
    assert plain == {"d": dt.datetime(2024, 2, 3, tzinfo=dt.UTC)}


def test_comments_are_encrypted_unless_unencrypted_or_empty_and_never_maced() -> None:
    c, empty, keyc, plainc = Comment("note"), Comment(""), Comment("k"), Comment("p")
    tree = {"a": [c, "v", empty], keyc: None, "x_unencrypted": [plainc]}
    enc, mac = encrypt_tree(tree, KEY)
    assert mac == _sha(b"v")
    # a comment item becomes an ENC[...] string; a comment key stays a Comment with ENC text
    assert cipher.parse(enc["a"][0]).type == "comment" and enc["a"][2] is empty
    assert enc["x_unencrypted"][0] is plainc
    key_comment = [k for k in enc if isinstance(k, Comment)]
    assert len(key_comment) == 1 and cipher.is_encrypted_value(key_comment[0].value)
    assert enc[key_comment[0]] is None
    stash = Stash()
    plain, mac2 = decrypt_tree(enc, KEY, stash=stash)
    assert mac2 == mac
    assert [x.value if isinstance(x, Comment) else x for x in plain["a"]] == ["note", "v", ""]
    assert [k.value for k in plain if isinstance(k, Comment)] == ["k"]
    assert plain["x_unencrypted"][0] is plainc
    assert len(stash) == 3  # "note", "v" and the key comment "k" (under the root: AAD ":")
    again, _ = encrypt_tree(plain, KEY, stash=stash)
    assert again["a"][0] == enc["a"][0]
    assert [k.value for k in again if isinstance(k, Comment)] == [key_comment[0].value]


def test_a_plain_value_where_ciphertext_belongs_is_an_integrity_error() -> None:
    with pytest.raises(IntegrityError) as info:
        decrypt_tree({"db": {"pw": 5}}, KEY)
    assert info.value.message == "db:pw: expected an encrypted value, found a plain int"


def test_ciphertext_moved_to_another_path_names_the_path() -> None:
    enc, _ = encrypt_tree({"a": {"b": "x"}, "c": "y"}, KEY)
    with pytest.raises(IntegrityError) as info:
        decrypt_tree({"a": {"b": enc["c"]}}, KEY)
    assert info.value.message.startswith("a:b: ")
    assert info.value.message != "a:b: "


def test_encrypted_comment_under_the_wrong_path_names_it() -> None:
    enc, _ = encrypt_tree({"a": {Comment("c"): None}}, KEY)
    with pytest.raises(IntegrityError) as info:
        decrypt_tree({"b": {"d": enc["a"]}}, KEY)
    assert info.value.message.startswith("b:d: comment: ")
    moved = next(iter(enc["a"]))
    with pytest.raises(IntegrityError) as info:
        decrypt_tree({moved: None}, KEY)
    assert info.value.message.startswith("the root: comment: ")
    plain, _ = decrypt_tree({Comment("not encrypted"): None}, KEY)
    assert [k.value for k in plain] == ["not encrypted"]


def test_decrypt_document_without_verifying_the_mac() -> None:
    doc = encrypt_document({"a": "x", "p_unencrypted": 1}, META, KEY, lastmodified=LM)
    doc["p_unencrypted"] = 2
    with pytest.raises(IntegrityError):
        decrypt_document(doc, lambda m: KEY)
    opened = decrypt_document(doc, lambda m: KEY, verify_mac=False)
    assert opened.tree == {"a": "x", "p_unencrypted": 2}
    assert opened.data_key == KEY and opened.metadata.lastmodified == LM


def test_decrypt_document_keeps_comments_apart_and_unwraps_with_the_metadata() -> None:
    seen: list[SopsMetadata] = []

    def unwrap(m: SopsMetadata) -> bytes:
        seen.append(m)
        return KEY

    c = Comment("hello")
    doc = encrypt_document({"a": [c, "x"]}, META, KEY, lastmodified=LM)
    opened = decrypt_document(doc, unwrap)
    assert seen[0].lastmodified == LM and seen[0].key_groups == META.key_groups
    assert opened.tree == {"a": ["x"]}
    assert opened.full["a"][0].value == "hello" and opened.full["a"][1] == "x"


def test_encrypt_document_puts_a_fresh_mac_last() -> None:
    tree = {"a": "x", "b_unencrypted": 2}
    doc = encrypt_document(tree, META, KEY, lastmodified=LM)
    assert list(doc) == ["a", "b_unencrypted", "sops"]
    assert doc["sops"]["lastmodified"] == LM
    assert decrypt_mac(doc["sops"]["mac"], KEY, LM) == encrypt_tree(tree, KEY)[1]
    fresh = encrypt_document(tree, META, KEY)
    assert fresh["sops"]["lastmodified"] != LM
    assert dt.datetime.fromisoformat(fresh["sops"]["lastmodified"].replace("Z", "+00:00")).year >= 2024
    with pytest.raises(InputError) as info:
        encrypt_document({"sops": 1}, META, KEY)
    assert info.value.message == "the document already has a top-level 'sops' key"


def test_reencrypting_with_the_stash_keeps_the_mac_ciphertext_only_for_the_same_lastmodified() -> None:
    doc = encrypt_document({"a": "x"}, META, KEY, lastmodified=LM)
    opened = decrypt_document(doc, lambda m: KEY)
    later = encrypt_document(opened.tree, opened.metadata, KEY, opened.stash, "2025-01-01T00:00:00Z")
    assert later["a"] == doc["a"] and later["sops"]["mac"] != doc["sops"]["mac"]
    opened = decrypt_document(doc, lambda m: KEY)
    same = encrypt_document(opened.tree, opened.metadata, KEY, opened.stash, LM)
    assert same["sops"]["mac"] == doc["sops"]["mac"]


def test_rule_from_the_metadata_selects_what_is_encrypted() -> None:
    meta = SopsMetadata(META.key_groups, rule=EncryptionRule("encrypted_suffix", "_secret"))
    doc = encrypt_document({"pw_secret": "s", "name": "n"}, meta, KEY, lastmodified=LM)
    assert doc["name"] == "n" and cipher.is_encrypted_value(doc["pw_secret"])
    assert decrypt_document(doc, lambda m: KEY).tree == {"pw_secret": "s", "name": "n"}


def test_an_encrypted_non_comment_in_a_comment_key_reads_as_comment_text() -> None:
    key = Comment(cipher.encrypt(12, KEY, cipher.aad_for(("a",))))
    plain, _ = decrypt_tree({"a": {key: None}}, KEY)
    (only,) = plain["a"]
    assert isinstance(only, Comment) and only.value == "12"
