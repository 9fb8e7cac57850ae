"""Deterministic SOPS files for the synthetic benchmark corpus.

The corpus must be byte-identical for a given seed, but real encryption is
random three times over: the SOPS data key, every value's IV, and the age
wrapping of the data key (an ephemeral X25519 key, a file key and a payload
nonce).  Here all of them come from SHA-256 of (seed, file, purpose), and the
age envelope (age-encryption.org/v1, one X25519 stanza) is written by hand so
the ephemeral key can be chosen.  The values, the MAC and the metadata are
written by cfgc's own SOPS code, so the files are exactly what cfgc reads.

Synthetic data only: keys derived from a public seed protect nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cfgc.secrets import fileio
from cfgc.secrets.cipher import NONCE_SIZE
from cfgc.secrets.document import encrypt_document
from cfgc.secrets.metadata import AgeKey, SopsMetadata

# A fixed timestamp: `lastmodified` is part of the MAC, so it must not be "now".
LASTMODIFIED = "2026-01-01T00:00:00Z"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def derive(seed: int, *purpose: str, size: int = 32) -> bytes:
    """``size`` bytes that depend only on the seed and the purpose."""
    h = hashlib.sha256(f"cfgc-corpus:{seed}:{':'.join(purpose)}".encode()).digest()
    while len(h) < size:
        h += hashlib.sha256(h).digest()
    return h[:size]


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32(hrp: str, data: bytes) -> str:
    """BIP-173 Bech32 of ``data`` (the encoding of age keys), lowercase."""
    acc, bits, words = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            words.append((acc >> bits) & 31)
    if bits:
        words.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = _polymod(expanded + words + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[w] for w in words + checksum)


def age_identity(seed: int, tenant: str) -> tuple[str, str]:
    """(``AGE-SECRET-KEY-1…``, ``age1…``) of ``tenant``, derived from the seed."""
    secret = derive(seed, "age-identity", tenant)
    public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return bech32("age-secret-key-", secret).upper(), bech32("age", public)


def _bech32_payload(text: str) -> bytes:
    words = [_BECH32.index(c) for c in text[text.rindex("1") + 1 : -6]]
    acc, bits, out = 0, 0, bytearray()
    for w in words:
        acc = (acc << 5) | w
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return bytes(out)


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def age_encrypt(plaintext: bytes, recipient: str, seed: int, purpose: str) -> str:
    """Armored age v1 encryption of ``plaintext`` to one X25519 recipient, deterministic."""
    their = _bech32_payload(recipient)
    eph = X25519PrivateKey.from_private_bytes(derive(seed, purpose, "ephemeral"))
    eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(their))
    wrap_key = _hkdf(shared, eph_pub + their, b"age-encryption.org/v1/X25519")
    file_key = derive(seed, purpose, "file-key", size=16)
    body = ChaCha20Poly1305(wrap_key).encrypt(b"\0" * 12, file_key, None)
    header = f"age-encryption.org/v1\n-> X25519 {_b64(eph_pub)}\n{_b64(body)}\n---"
    mac = hmac.new(_hkdf(file_key, b"", b"header"), header.encode(), hashlib.sha256).digest()
    nonce = derive(seed, purpose, "payload-nonce", size=16)
    # One STREAM chunk: 11-byte counter 0, then the last-chunk flag.
    payload = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload")).encrypt(b"\0" * 11 + b"\1", plaintext, None)
    raw = f"{header} {_b64(mac)}\n".encode() + nonce + payload
    b64 = base64.b64encode(raw).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN AGE ENCRYPTED FILE-----\n" + "\n".join(lines) + "\n-----END AGE ENCRYPTED FILE-----\n"


class _SeededIVs:
    """Stands in for cfgc's IV stash: every value's IV derived from the seed."""

    def __init__(self, seed: int, purpose: str) -> None:
        self._seed, self._purpose = seed, purpose

    def iv_for(self, aad: str, value: object) -> bytes:
        return derive(self._seed, self._purpose, "iv", aad, repr(value), size=NONCE_SIZE)


def write_sops_file(path: Path, tree: dict[str, Any], recipient: str, seed: int, purpose: str) -> None:
    """Write ``tree`` to ``path`` as a SOPS file for one age recipient, deterministically."""
    data_key = derive(seed, purpose, "data-key")
    enc = age_encrypt(data_key, recipient, seed, purpose)
    meta = SopsMetadata(key_groups=((AgeKey(recipient, enc),),))
    doc = encrypt_document(tree, meta, data_key, _SeededIVs(seed, purpose), LASTMODIFIED)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fileio.dumps(doc, "yaml"))
