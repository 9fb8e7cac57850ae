"""High-level operations on SOPS files: encrypt, decrypt, set, updatekeys, rotate.

Every operation that re-writes an encrypted file keeps the ciphertext of values
that did not change (same data key, same IV), so a git diff shows exactly which
secret changed.  Files whose plaintext did not change are not rewritten at all.
Every write reads the file again under its lock and refuses to overwrite bytes
it did not read (:mod:`cfgc.secrets.txn`): concurrent changes are kept or
refused, never lost.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cfgc.base.errors import CfgcError, InputError
from cfgc.secrets import comments, fileio, txn
from cfgc.secrets.creation_rules import rule_for_new_file
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


def keyring_or_default(keyring: Keyring | None) -> Keyring:
    """``keyring``, or this machine's default identities when None."""
    return keyring if keyring is not None else default_keyring()


def load_encrypted(path: PathLike, fmt: str | None = None) -> dict[str, Any]:
    """The parsed document of an encrypted file (not decrypted)."""
    return encrypted_snapshot(path, fmt).doc


def encrypted_snapshot(path: PathLike, fmt: str | None = None) -> txn.Snapshot:
    """The file's bytes and parsed document; InputError unless it is SOPS-encrypted."""
    snap = txn.read(path, fmt)
    if not is_encrypted(snap.doc):
        raise InputError(f"{path}: not a SOPS-encrypted file (no sops metadata)")
    return snap


@dataclass(frozen=True)
class Opened:
    """A decrypted file and the digest of the bytes it was decrypted from."""

    document: DecryptedDocument
    digest: str


def open_file(
    path: PathLike, keyring: Keyring | None = None, fmt: str | None = None, verify_mac: bool = True
) -> DecryptedDocument:
    """Decrypt ``path`` and keep what is needed to re-encrypt it stably.

    Needs a native key (age, AWS KMS): files only PGP/GCP/Azure/Vault keys open
    are read with :func:`decrypt_file` (through the sops binary) or edited with sops.
    """
    return open_snapshot(path, keyring, fmt, verify_mac).document


def open_snapshot(
    path: PathLike, keyring: Keyring | None = None, fmt: str | None = None, verify_mac: bool = True
) -> Opened:
    """:func:`open_file`, plus the digest of the bytes read (to detect later changes)."""
    snap = encrypted_snapshot(path, fmt)
    meta = _metadata(path, snap.doc)
    try:
        data_key = keyring_or_default(keyring).unwrap(meta)
    except CfgcError as e:
        kinds = delegate.delegated_kinds(meta)
        hint = (
            f"; it also has {' / '.join(kinds)} keys: change it with the sops binary"
            if kinds
            else ""
        )
        raise type(e)(f"{path}: {e.message}{hint}") from None
    return Opened(_decrypt(path, snap.doc, data_key, verify_mac), snap.digest)


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
    path: PathLike,
    keyring: Keyring | None = None,
    fmt: str | None = None,
    with_comments: bool = False,
) -> dict[str, Any]:
    """The plaintext tree of an encrypted file (MAC verified); its comments too if asked.

    When no native key (age, AWS KMS) unwraps the data key and the file also
    lists PGP / GCP KMS / Azure Key Vault / Vault keys, the sops binary decrypts it.
    """
    doc = load_encrypted(path, fmt)
    meta = _metadata(path, doc)
    try:
        data_key = keyring_or_default(keyring).unwrap(meta)
    except CfgcError as e:
        if not delegate.delegated_kinds(meta):
            raise type(e)(f"{path}: {e.message}") from None
        return delegate.decrypt_with_sops(path, meta, fileio.format_for(path, fmt), e.message)
    opened = _decrypt(path, doc, data_key)
    return opened.full if with_comments else opened.tree


def encrypt_tree_for(
    path: PathLike,
    tree: dict[str, Any],
    keyring: Keyring | None = None,
    config: PathLike | None = None,
) -> dict[str, Any]:
    """Encrypt ``tree`` for the creation rule matching ``path`` (a fresh data key).

    ``$SOPS_AGE_RECIPIENTS``, when set, names the recipients instead (as sops).
    """
    rule = rule_for_new_file(path, config)
    kr = keyring_or_default(keyring)
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
    f = fileio.format_for(path, fmt)
    with txn.locked(path) if in_place else no_lock():
        snap = txn.read(path, fmt)
        if is_encrypted(snap.doc):
            raise InputError(f"{path}: already encrypted")
        if isinstance(snap.doc, fileio.EmptyDocument):
            raise InputError(f"{path}: the file is empty: sops cannot encrypt an empty document")
        doc = encrypt_tree_for(path, snap.doc, keyring, config)
        if in_place:
            txn.write(path, doc, f, snap.digest)
    return fileio.dumps(doc, f)


def create_file(
    path: PathLike,
    tree: dict[str, Any],
    keyring: Keyring | None = None,
    config: PathLike | None = None,
    fmt: str | None = None,
) -> None:
    """Write a new encrypted file; refuses (exit 4) if ``path`` exists by then."""
    with txn.locked(path):
        doc = encrypt_tree_for(path, tree, keyring, config)
        txn.write(path, doc, fileio.format_for(path, fmt), None)


@contextlib.contextmanager
def no_lock() -> Iterator[None]:
    """Stands in for ``txn.locked`` when nothing will be written (dry runs, printing)."""
    yield


def save(
    path: PathLike,
    opened: DecryptedDocument | Opened,
    tree: dict[str, Any],
    fmt: str | None = None,
    with_comments: bool = False,
) -> bool:
    """Re-encrypt ``tree`` into ``path`` with the file's data key and stash.

    ``with_comments``: ``tree`` holds the comments to write (an edited file);
    otherwise the file's comments are kept around the changed values.

    Returns False (and leaves the file untouched) when nothing changed.  Given
    an :class:`Opened`, refuses with :class:`~cfgc.secrets.txn.ConcurrentChange`
    (exit 4) when the file no longer holds the bytes it was opened from.
    """
    with txn.locked(path):
        if isinstance(opened, Opened):
            return _save(path, opened.document, tree, fmt, opened.digest, with_comments)
        return _save(path, opened, tree, fmt, txn.digest_of(path), with_comments)


def _save(
    path: PathLike,
    opened: DecryptedDocument,
    tree: dict[str, Any],
    fmt: str | None,
    expect: str | None,
    with_comments: bool = False,
) -> bool:
    # a comment-free tree (set) keeps the file's comments around the change
    full = tree if with_comments else comments.graft(tree, opened.full or opened.tree)
    plain = comments.strip(full)
    if (
        plain == opened.tree
        and _same_types(plain, opened.tree)
        and comments.texts(full) == comments.texts(opened.full)
    ):
        return False
    doc = encrypt_document(full, opened.metadata, opened.data_key, opened.stash)
    txn.write(path, doc, fmt, expect)
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

    def change(tree: dict[str, Any]) -> dict[str, Any]:
        set_path(tree, key_path, value)
        return tree

    return edit_tree(path, change, keyring)


def edit_tree(
    path: PathLike,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    keyring: Keyring | None = None,
    fmt: str | None = None,
) -> bool:
    """Under the file's lock: decrypt, apply ``change`` to a copy of the tree, re-encrypt stably."""
    with txn.locked(path):
        opened = open_snapshot(path, keyring, fmt)
        tree = change(copy.deepcopy(opened.document.tree))
        return _save(path, opened.document, tree, fmt, opened.digest)


def __getattr__(name: str) -> Any:
    # updatekeys/rotate moved to rekey (module size); keep ops.<name> working.
    if name in ("KeyPlan", "updatekeys", "rotate", "find_encrypted_files"):
        from cfgc.secrets import rekey

        return getattr(rekey, name)
    raise AttributeError(f"module 'cfgc.secrets.ops' has no attribute {name!r}")
