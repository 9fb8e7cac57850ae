"""High-level operations on SOPS files: encrypt, decrypt, set, updatekeys, rotate.

Every operation that re-writes an encrypted file keeps the ciphertext of values
that did not change (same data key, same IV), so a git diff shows exactly which
secret changed.  Files whose plaintext did not change are not rewritten at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.errors import CfgcError, InputError
from cfgc.secrets import fileio
from cfgc.secrets.creation_rules import key_drift, rule_for
from cfgc.secrets.document import (
    DecryptedDocument,
    decrypt_document,
    encrypt_document,
    is_encrypted,
    split_document,
)
from cfgc.secrets.keypath import get_path as get_path  # re-exported for the CLI
from cfgc.secrets.keypath import parse_key_path as parse_key_path
from cfgc.secrets.keypath import set_path
from cfgc.secrets.keysources import DATA_KEY_SIZE, Keyring, default_keyring, delegate
from cfgc.secrets.metadata import SopsMetadata

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class KeyPlan:
    """What ``updatekeys``/``rotate`` does (or would do) to one file."""

    path: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    rotated: bool = False
    applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.rotated)


def _keyring(keyring: Keyring | None) -> Keyring:
    return keyring if keyring is not None else default_keyring()


def load_encrypted(path: PathLike, fmt: str | None = None) -> dict[str, Any]:
    doc = fileio.read(path, fmt)
    if not is_encrypted(doc):
        raise InputError(f"{path}: not a SOPS-encrypted file (no sops metadata)")
    return doc


def open_file(
    path: PathLike, keyring: Keyring | None = None, fmt: str | None = None, verify_mac: bool = True
) -> DecryptedDocument:
    """Decrypt ``path`` and keep what is needed to re-encrypt it stably.

    Needs a native key (age, AWS KMS): files only PGP/GCP/Azure/Vault keys open
    are read with :func:`decrypt_file` (through the sops binary) or edited with sops.
    """
    doc = load_encrypted(path, fmt)
    meta = _metadata(path, doc)
    try:
        data_key = _keyring(keyring).unwrap(meta)
    except CfgcError as e:
        kinds = delegate.delegated_kinds(meta)
        hint = (
            f"; it also has {' / '.join(kinds)} keys: change it with the sops binary"
            if kinds
            else ""
        )
        raise type(e)(f"{path}: {e.message}{hint}") from None
    return _decrypt(path, doc, data_key, verify_mac)


def _metadata(path: PathLike, doc: dict[str, Any]) -> SopsMetadata:
    try:
        return split_document(doc)[1]
    except InputError as e:
        raise InputError(f"{path}: {e.message}") from None


def _decrypt(
    path: PathLike, doc: dict[str, Any], data_key: bytes, verify_mac: bool = True
) -> DecryptedDocument:
    try:
        return decrypt_document(doc, lambda _: data_key, verify_mac)
    except InputError as e:
        raise type(e)(f"{path}: {e.message}") from None


def decrypt_file(
    path: PathLike, keyring: Keyring | None = None, fmt: str | None = None
) -> dict[str, Any]:
    """The plaintext tree of an encrypted file (MAC verified).

    When no native key (age, AWS KMS) unwraps the data key and the file also
    lists PGP / GCP KMS / Azure Key Vault / Vault keys, the sops binary decrypts it.
    """
    doc = load_encrypted(path, fmt)
    meta = _metadata(path, doc)
    try:
        data_key = _keyring(keyring).unwrap(meta)
    except CfgcError as e:
        if not delegate.delegated_kinds(meta):
            raise type(e)(f"{path}: {e.message}") from None
        return delegate.decrypt_with_sops(path, meta, fileio.format_for(path, fmt), e.message)
    return _decrypt(path, doc, data_key).tree


def encrypt_tree_for(
    path: PathLike,
    tree: dict[str, Any],
    keyring: Keyring | None = None,
    config: PathLike | None = None,
) -> dict[str, Any]:
    """Encrypt ``tree`` for the creation rule matching ``path`` (a fresh data key)."""
    rule, _ = rule_for(path, config)
    kr = _keyring(keyring)
    data_key = os.urandom(DATA_KEY_SIZE)
    groups = kr.wrap(rule.key_groups, data_key, rule.shamir_threshold)
    meta = SopsMetadata(
        key_groups=groups,
        rule=rule.rule,
        mac_only_encrypted=rule.mac_only_encrypted,
        shamir_threshold=rule.shamir_threshold if len(groups) > 1 else 0,
    )
    return encrypt_document(tree, meta, data_key)


def encrypt_file(
    path: PathLike,
    keyring: Keyring | None = None,
    config: PathLike | None = None,
    in_place: bool = False,
    fmt: str | None = None,
) -> str:
    """Encrypt a plaintext file; returns the encrypted text (written back if ``in_place``)."""
    tree = fileio.read(path, fmt)
    if is_encrypted(tree):
        raise InputError(f"{path}: already encrypted")
    f = fileio.format_for(path, fmt)
    text = fileio.dumps(encrypt_tree_for(path, tree, keyring, config), f)
    if in_place:
        fileio.write_atomic(path, text)
    return text


def save(
    path: PathLike, opened: DecryptedDocument, tree: dict[str, Any], fmt: str | None = None
) -> bool:
    """Re-encrypt ``tree`` into ``path`` with the file's data key and stash.

    Returns False (and leaves the file untouched) when nothing changed.
    """
    if tree == opened.tree and _same_types(tree, opened.tree):
        return False
    doc = encrypt_document(tree, opened.metadata, opened.data_key, opened.stash)
    fileio.write(path, doc, fmt)
    return True


def _same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


def set_value(
    path: PathLike, key_path: list[str | int], value: Any, keyring: Keyring | None = None
) -> bool:
    """Set one value in an encrypted file; other ciphertexts stay byte-identical."""
    opened = open_file(path, keyring)
    import copy

    tree = copy.deepcopy(opened.tree)
    set_path(tree, key_path, value)
    return save(path, opened, tree)


def edit_tree(
    path: PathLike,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    keyring: Keyring | None = None,
) -> bool:
    """Decrypt, apply ``change`` to a copy of the tree, re-encrypt stably."""
    import copy

    opened = open_file(path, keyring)
    return save(path, opened, change(copy.deepcopy(opened.tree)))


def updatekeys(
    path: PathLike,
    keyring: Keyring | None = None,
    config: PathLike | None = None,
    dry_run: bool = False,
) -> KeyPlan:
    """Re-wrap the data key for the recipients the creation rule names now.

    Values, MAC and lastmodified are untouched; recipients already present keep
    their wrapped key byte for byte.
    """
    doc = load_encrypted(path)
    _, meta = split_document(doc)
    rule, _ = rule_for(path, config)
    drift = key_drift(meta, rule)
    plan = KeyPlan(str(path), drift.added, drift.removed)
    if drift.groups_same or dry_run:
        return plan
    kr = _keyring(keyring)
    data_key = kr.unwrap(meta)
    groups = kr.wrap(rule.key_groups, data_key, rule.shamir_threshold, previous=meta)
    new_meta = meta.with_(
        key_groups=groups, shamir_threshold=rule.shamir_threshold if len(groups) > 1 else 0
    )
    doc = dict(doc)
    doc["sops"] = new_meta.to_dict()
    fileio.write(path, doc)
    return KeyPlan(plan.path, plan.added, plan.removed, applied=True)


def rotate(path: PathLike, keyring: Keyring | None = None, dry_run: bool = False) -> KeyPlan:
    """New data key, every value re-encrypted, wrapped for the file's current keys."""
    if dry_run:
        load_encrypted(path)
        return KeyPlan(str(path), rotated=True)
    opened = open_file(path, keyring)
    kr = _keyring(keyring)
    meta = opened.metadata
    data_key = os.urandom(DATA_KEY_SIZE)
    bare = tuple(tuple(_bare(k) for k in g) for g in meta.key_groups)
    groups = kr.wrap(bare, data_key, meta.shamir_threshold)
    doc = encrypt_document(opened.tree, meta.with_(key_groups=groups), data_key)
    fileio.write(path, doc)
    return KeyPlan(str(path), rotated=True, applied=True)


def _bare(key: Any) -> Any:
    from dataclasses import replace

    from cfgc.secrets.metadata import OpaqueKey

    if isinstance(key, OpaqueKey):
        return key
    return replace(key, enc="")


def find_encrypted_files(roots: list[Path]) -> list[Path]:
    """SOPS files under ``roots`` (files given directly are taken as they are)."""
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
            continue
        for p in sorted(root.rglob("*")):
            if (
                p.suffix.lower() in (".yaml", ".yml", ".json")
                and p.is_file()
                and ".git" not in p.parts
            ):
                try:
                    if b"sops" in p.read_bytes() and is_encrypted(fileio.read(p)):
                        out.append(p)
                except InputError:
                    continue
    return out
