"""Encrypting and decrypting whole SOPS documents (trees of plain Python data).

A tree is what a YAML/JSON load gives: dicts with string keys (order kept),
lists, and leaves (str, int, float, bool, None, datetime).  ``None`` is never
encrypted nor MACed, empty strings stay empty, list items share their parent's
key path as AAD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cfgc.base.errors import InputError, IntegrityError
from cfgc.secrets import cipher, comments
from cfgc.secrets.cipher import Comment
from cfgc.secrets.mac import MacBuilder, encrypt_mac, verify
from cfgc.secrets.metadata import SopsMetadata, now_rfc3339
from cfgc.secrets.rules import DEFAULT_RULE, EncryptionRule

SOPS_KEY = "sops"
Tree = dict[str, Any]


class Stash:
    """Remembers the IV of each decrypted (path, type, plaintext) so an unchanged
    value re-encrypts to byte-identical ciphertext under the same data key."""

    def __init__(self) -> None:
        # equal values under one key path (list items) each keep their own IV, in order
        self._ivs: dict[tuple[str, str, bytes], list[bytes]] = {}
        self._used: dict[tuple[str, str, bytes], int] = {}

    def __repr__(self) -> str:
        return f"Stash(<{len(self._ivs)} entries>)"

    def remember(self, aad: str, value: object, iv: bytes) -> None:
        if iv:
            self._ivs.setdefault((aad, cipher.value_type(value), cipher.to_bytes(value)), []).append(iv)

    def iv_for(self, aad: str, value: object) -> bytes | None:
        key = (aad, cipher.value_type(value), cipher.to_bytes(value))
        ivs = self._ivs.get(key)
        if not ivs:
            return None
        n = self._used.get(key, 0)
        self._used[key] = n + 1
        return ivs[n % len(ivs)]

    def __len__(self) -> int:
        return len(self._ivs)


@dataclass(frozen=True)
class DecryptedDocument:
    """A decrypted document; never printed with its contents."""

    tree: Tree = field(repr=False)
    metadata: SopsMetadata
    data_key: bytes = field(repr=False)
    stash: Stash = field(repr=False)
    # the tree with the file's comments (cfgc.secrets.comments); tree has none
    full: Tree = field(repr=False, default_factory=dict)


def is_encrypted(doc: object) -> bool:
    """Whether ``doc`` is a SOPS document: a top-level ``sops`` with ``mac`` and ``version``."""
    if not isinstance(doc, Mapping):
        return False
    meta = doc.get(SOPS_KEY)
    return isinstance(meta, Mapping) and "mac" in meta and "version" in meta


def split_document(doc: Mapping[str, Any]) -> tuple[Tree, SopsMetadata]:
    """Separate the body from its ``sops`` metadata."""
    if not is_encrypted(doc):
        raise InputError("not a SOPS-encrypted document (no sops metadata with mac and version)")
    body = {k: v for k, v in doc.items() if k != SOPS_KEY}
    return body, SopsMetadata.from_dict(doc[SOPS_KEY])


Leaf = Callable[[object, tuple[str, ...]], object]


def _walk(node: object, path: tuple[str, ...], leaf: Leaf) -> object:
    if isinstance(node, Comment):
        return leaf(node, path)
    if isinstance(node, Mapping):
        out: dict[Any, Any] = {}
        for k, v in node.items():
            if isinstance(k, Comment):
                # a comment in a mapping is a key without value (as in sops)
                c = leaf(k, path)
                out[c if isinstance(c, Comment) else Comment(str(c))] = None
                continue
            if not isinstance(k, str):
                raise InputError(
                    f"only string keys are supported (found {type(k).__name__} key under {':'.join(path) or 'the root'})"
                )
            out[k] = _walk(v, (*path, k), leaf)
        return out
    if isinstance(node, list):
        return [_walk(v, path, leaf) for v in node]
    if node is None:
        return None
    if isinstance(node, dt.date) and not isinstance(node, dt.datetime):
        node = dt.datetime(node.year, node.month, node.day, tzinfo=dt.UTC)
    return leaf(node, path)


def encrypt_tree(
    tree: Mapping[str, Any],
    data_key: bytes,
    rule: EncryptionRule = DEFAULT_RULE,
    stash: Stash | None = None,
    mac_only_encrypted: bool = False,
) -> tuple[Tree, str]:
    """Encrypt the leaves ``rule`` selects; returns (encrypted tree, MAC hex)."""
    mac = MacBuilder(mac_only_encrypted)

    def leaf(value: object, path: tuple[str, ...]) -> object:
        try:
            enc = rule.should_encrypt(path)
            if isinstance(value, Comment):
                if not enc or not value.value:
                    return value
            else:
                mac.add(value, enc)
            if not enc:
                return value
            aad = cipher.aad_for(path)
            iv = stash.iv_for(aad, value) if stash is not None else None
            return cipher.encrypt(value, data_key, aad, iv)
        except TypeError as e:
            raise InputError(f"{':'.join(path)}: {e}") from None

    out = _walk(tree, (), leaf)
    assert isinstance(out, dict)
    return out, mac.hexdigest()


def decrypt_tree(
    tree: Mapping[str, Any],
    data_key: bytes,
    rule: EncryptionRule = DEFAULT_RULE,
    mac_only_encrypted: bool = False,
    stash: Stash | None = None,
) -> tuple[Tree, str]:
    """Decrypt the leaves ``rule`` selects; returns (plain tree, computed MAC hex).

    Fills ``stash`` with the IVs seen, for stable re-encryption.
    """
    mac = MacBuilder(mac_only_encrypted)

    def leaf(value: object, path: tuple[str, ...]) -> object:
        enc = rule.should_encrypt(path)
        if isinstance(value, Comment):
            return _decrypt_comment(value, path, data_key, stash)
        if enc:
            if not isinstance(value, str):
                raise IntegrityError(
                    f"{':'.join(path)}: expected an encrypted value, found a plain {type(value).__name__}"
                )
            aad = cipher.aad_for(path)
            try:
                value, iv = cipher.decrypt(value, data_key, aad)
            except IntegrityError as e:
                raise IntegrityError(f"{':'.join(path)}: {e.message}") from None
            if stash is not None:
                stash.remember(aad, value, iv)
        if not isinstance(value, Comment):
            mac.add(value, enc)
        return value

    out = _walk(tree, (), leaf)
    assert isinstance(out, dict)
    return out, mac.hexdigest()


def _decrypt_comment(c: Comment, path: tuple[str, ...], key: bytes, stash: Stash | None) -> Comment:
    """A mapping comment (``#ENC[...]``): decrypted when encrypted, as it is otherwise."""
    if not cipher.is_encrypted_value(c.value):
        return c
    aad = cipher.aad_for(path)
    try:
        value, iv = cipher.decrypt(c.value, key, aad)
    except IntegrityError as e:
        raise IntegrityError(f"{':'.join(path) or 'the root'}: comment: {e.message}") from None
    out = value if isinstance(value, Comment) else Comment(str(value))
    if stash is not None:
        stash.remember(aad, out, iv)
    return out


def decrypt_document(
    doc: Mapping[str, Any], data_key_for: Callable[[SopsMetadata], bytes], verify_mac: bool = True
) -> DecryptedDocument:
    """Decrypt a whole document; ``data_key_for`` unwraps the data key from metadata."""
    body, meta = split_document(doc)
    data_key = data_key_for(meta)
    stash = Stash()
    plain, computed = decrypt_tree(body, data_key, meta.rule, meta.mac_only_encrypted, stash)
    if verify_mac:
        verify(meta.mac, computed, data_key, meta.lastmodified)
        # Remember the MAC's IV too: an unchanged document re-saves identically.
        stash.remember(meta.lastmodified, computed, cipher.parse(meta.mac).iv)
    return DecryptedDocument(comments.strip(plain), meta, data_key, stash, plain)


def encrypt_document(
    tree: Mapping[str, Any],
    metadata: SopsMetadata,
    data_key: bytes,
    stash: Stash | None = None,
    lastmodified: str | None = None,
) -> Tree:
    """Encrypt ``tree`` and attach ``metadata`` with a fresh MAC (``sops`` key last)."""
    if SOPS_KEY in tree:
        raise InputError("the document already has a top-level 'sops' key")
    enc, mac_hex = encrypt_tree(tree, data_key, metadata.rule, stash, metadata.mac_only_encrypted)
    lm = lastmodified or now_rfc3339()
    iv = stash.iv_for(lm, mac_hex) if stash is not None else None
    meta = metadata.with_(lastmodified=lm, mac=encrypt_mac(mac_hex, data_key, lm, iv))
    enc[SOPS_KEY] = meta.to_dict()
    return enc

