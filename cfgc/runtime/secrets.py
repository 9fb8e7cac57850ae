"""Decrypting the secrets a target references, with the runtime's own identity.

The SOPS documents ship in the bundle (``secrets/<file>``) still encrypted,
and stay encrypted in the cache.  A document is decrypted at most once per
version, on first use, with the keyring of this process (age identities from
``--age-key-file`` / ``SOPS_AGE_KEY`` / ``SOPS_AGE_KEY_FILE``, or AWS KMS);
the plaintext lives only in memory, in the snapshot's resolver, and goes away
with the version.  Nothing here logs or formats a plaintext value.
"""

from __future__ import annotations

import threading
from typing import Any

from cfgc.base.errors import CfgcError, ExternalError, InputError
from cfgc.runtime.snapshot import BundleSnapshot, SecretReference
from cfgc.secrets import Keyring
from cfgc.secrets.keypath import get_path

_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (float, int), "bool": (bool,)}


class SecretError(InputError):
    """A secret that cannot be produced (no identity for it, not a secret, wrong type)."""


class SecretResolver:
    """Plaintext of one version's secrets, decrypted lazily, once per document."""

    def __init__(self, snapshot: BundleSnapshot, keyring: Keyring) -> None:
        self._snapshot = snapshot
        self._keyring = keyring
        self._trees: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretResolver(version={self._snapshot.version}, decrypted={len(self._trees)} document(s))"

    def value(self, ref: SecretReference, where: str) -> Any:
        tree = self._trees.get(ref.file)
        if tree is None:
            with self._lock:
                tree = self._trees.get(ref.file)
                if tree is None:
                    tree = self._decrypt(ref.file, where)
                    self._trees[ref.file] = tree
        try:
            value = get_path(tree, list(ref.path))
        except InputError:
            raise SecretError(f"secret {where}: {ref.file} has no key {'.'.join(map(str, ref.path))}") from None
        want = _TYPES.get(ref.type)
        if want is not None and (not isinstance(value, want) or (ref.type != "bool" and isinstance(value, bool))):
            raise SecretError(f"secret {where}: declared {ref.type}, the document holds a {type(value).__name__}")
        return value

    def _decrypt(self, file: str, where: str) -> dict[str, Any]:
        from cfgc.secrets import fileio
        from cfgc.secrets.document import decrypt_document

        data = self._snapshot.file(f"secrets/{file}")
        if data is None:
            raise SecretError(f"secret {where}: {file} is not in version {self._snapshot.version}")
        try:
            doc = fileio.loads(data, fileio.format_for(file), file)
            return decrypt_document(doc, self._keyring.unwrap).tree
        except ExternalError as e:
            raise ExternalError(f"secret {where}: cannot decrypt {file}: {e.message}") from None
        except CfgcError as e:
            raise SecretError(f"secret {where}: cannot decrypt {file} with this runtime's identity "
                              f"(is it encrypted for this tenant?): {e.message}") from None


def resolve_tree(value: Any, resolver: SecretResolver, prefix: str = "") -> Any:
    """A copy of a target value with every secret reference replaced by its plaintext."""
    from cfgc.runtime.snapshot import secret_reference

    ref = secret_reference(value)
    if ref is not None:
        return resolver.value(ref, prefix)
    if type(value) is dict:
        return {k: resolve_tree(v, resolver, f"{prefix}.{k}" if prefix else k) for k, v in value.items()}
    if type(value) is list:
        return [resolve_tree(v, resolver, f"{prefix}.{i}") for i, v in enumerate(value)]
    return value
