"""The SOPS message authentication code over a document's plaintext leaves.

SHA-512 over the plaintext bytes of every leaf in document order (comments and
nulls excluded), upper-case hex.  With ``mac_only_encrypted`` only encrypted
leaves count and the hash starts with the 32 bytes of ``sha256(b"sops")`` so the
two modes never collide.  The MAC is stored encrypted with the data key, with the
``lastmodified`` string as additional data.
"""

from __future__ import annotations

import hashlib

from cfgc.base.errors import IntegrityError
from cfgc.secrets import cipher

MAC_ONLY_ENCRYPTED_INIT = hashlib.sha256(b"sops").digest()


class MacBuilder:
    """Accumulates leaves as the tree is walked."""

    def __init__(self, only_encrypted: bool = False) -> None:
        self.only_encrypted = only_encrypted
        self._h = hashlib.sha512()
        if only_encrypted:
            self._h.update(MAC_ONLY_ENCRYPTED_INIT)

    def __repr__(self) -> str:
        return f"MacBuilder(only_encrypted={self.only_encrypted})"

    def add(self, value: object, encrypted: bool) -> None:
        """Feed a plaintext leaf (comments are skipped by the caller)."""
        if self.only_encrypted and not encrypted:
            return
        self._h.update(cipher.to_bytes(value))

    def hexdigest(self) -> str:
        return self._h.hexdigest().upper()


def encrypt_mac(mac: str, data_key: bytes, lastmodified: str, iv: bytes | None = None) -> str:
    """The ``sops.mac`` field: the MAC encrypted with ``lastmodified`` as AAD."""
    return cipher.encrypt(mac, data_key, lastmodified, iv)


def decrypt_mac(enc_mac: str, data_key: bytes, lastmodified: str) -> str:
    """Decrypt ``sops.mac``; a wrong key or altered lastmodified → IntegrityError."""
    try:
        value, _ = cipher.decrypt(enc_mac, data_key, lastmodified)
    except IntegrityError:
        raise IntegrityError(
            "the file MAC does not verify (sops.mac or lastmodified altered)"
        ) from None
    if not isinstance(value, str):
        raise IntegrityError("sops.mac is not a string")
    return value


def verify(expected_enc: str, computed: str, data_key: bytes, lastmodified: str) -> None:
    """Raise IntegrityError unless the stored MAC equals the computed one."""
    import hmac

    stored = decrypt_mac(expected_enc, data_key, lastmodified)
    if not hmac.compare_digest(stored.upper(), computed.upper()):
        raise IntegrityError("MAC mismatch: the file was modified outside sops/cfgc")
