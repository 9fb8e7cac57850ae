"""Signing and verification: DSSE envelopes over canonical bytes.

A :class:`Signer` turns bytes into a signature; a :class:`Verifier` checks one.
Two kinds exist: local ed25519 key files (``cfgc keys generate``) and AWS KMS
keys (``ECC_NIST_P256``, signed with ``MessageType=RAW``).  Signatures are
carried in DSSE envelopes (https://github.com/secure-systems-lab/dsse): the
signed bytes are the PAE of the payload type and the payload, never the raw
payload, so a signature cannot be replayed for another type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cfgc.base.awserrors import describe as describe_aws
from cfgc.base.bounded_read import FileTooLarge, NotRegular, read_file
from cfgc.base.errors import ExternalError, InputError, IntegrityError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

# cryptography is imported where it is used: a third of a warm build's start-up
# otherwise, for a build that signs nothing (and stores that only read pointers).


class Signer(Protocol):
    """Anything that signs bytes under a stable key id."""

    @property
    def keyid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    """Anything that checks a signature made by one key."""

    @property
    def keyid(self) -> str: ...

    def verify(self, data: bytes, sig: bytes) -> bool: ...


def keyid_of(public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> str:
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo: the same for a key and its .pub."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class PublicKeyVerifier:
    """Verifies ed25519 or ECDSA P-256/SHA-256 signatures with a public key."""

    public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    keyid: str

    def verify(self, data: bytes, sig: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        try:
            if isinstance(self.public_key, ed25519.Ed25519PublicKey):
                self.public_key.verify(sig, data)
            else:
                self.public_key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Ed25519Signer:
    """Signs with a local ed25519 private key."""

    private_key: ed25519.Ed25519PrivateKey
    keyid: str

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


class KmsSigner:
    """Signs with an AWS KMS ``ECC_NIST_P256`` key (ECDSA_SHA_256, MessageType RAW).

    RAW, not DIGEST: KMS hashes the message itself (and moto hashes a DIGEST
    message again, which would make its signatures unverifiable elsewhere).
    The key id is the key's ARN.
    """

    def __init__(self, key_arn: str, client: Any = None) -> None:
        self.key_arn = key_arn
        self._client = client

    @property
    def keyid(self) -> str:
        return self.key_arn

    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms")
        return self._client

    def sign(self, data: bytes) -> bytes:
        try:
            r = self.client().sign(
                KeyId=self.key_arn, Message=data, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
            )
        except Exception as e:  # noqa: BLE001 - botocore raises many kinds
            raise ExternalError(f"KMS sign with {self.key_arn} failed: {describe_aws(e)}") from None
        return bytes(r["Signature"])

    def verifier(self) -> PublicKeyVerifier:
        """A local verifier for this key, from KMS GetPublicKey."""
        try:
            der = self.client().get_public_key(KeyId=self.key_arn)["PublicKey"]
        except Exception as e:  # noqa: BLE001
            raise ExternalError(f"KMS get-public-key for {self.key_arn} failed: {describe_aws(e)}") from None
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = serialization.load_der_public_key(bytes(der))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise UsageError(f"KMS key {self.key_arn} is not an ECC_NIST_P256 key")
        return PublicKeyVerifier(key, self.key_arn)


def generate_keypair(name: Path, force: bool = False) -> tuple[Path, Path]:
    """Write ``NAME.key`` (PKCS8 PEM, mode 0600) and ``NAME.pub``; returns both paths."""
    if name.suffix in (".key", ".pub"):
        name = name.with_suffix("")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key_path, pub_path = Path(f"{name}.key"), Path(f"{name}.pub")
    if not force:
        for p in (key_path, pub_path):
            if p.exists():
                raise UsageError(f"{p} exists; pass --force to replace it")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_path.with_name(f".{key_path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, key_path)
    pub_path.write_bytes(pub)
    return key_path, pub_path


def load_signer(path: Path) -> Ed25519Signer:
    """An ed25519 signer from a PEM private key file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        key = serialization.load_pem_private_key(read_file(path), password=None)
    except OSError as e:
        raise UsageError(f"cannot read key {path}: {e.strerror}") from None
    except (ValueError, TypeError):
        raise InputError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InputError(f"{path}: not an ed25519 key (use --kms-key for KMS keys)")
    return Ed25519Signer(key, keyid_of(key.public_key()))


def load_verifier(path: Path) -> PublicKeyVerifier:
    """A verifier from a PEM public key (ed25519 or EC P-256), or from a private key file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        data = read_file(path)
    except OSError as e:
        raise UsageError(f"cannot read key {path}: {e.strerror}") from None
    try:
        if b"PRIVATE KEY" in data:
            priv = serialization.load_pem_private_key(data, password=None)
            pub: Any = priv.public_key()
        else:
            pub = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise InputError(f"{path}: not a PEM public key") from None
    if not isinstance(pub, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise InputError(f"{path}: unsupported key type (ed25519 or EC P-256 expected)")
    return PublicKeyVerifier(pub, keyid_of(pub))


def signers_from(keys: Iterable[Path], kms_keys: Iterable[str]) -> list[Signer]:
    """Signers for ed25519 key files and AWS KMS key ARNs; at least one is needed."""
    out: list[Signer] = [load_signer(k) for k in keys]
    out.extend(KmsSigner(arn) for arn in kms_keys)
    if not out:
        raise UsageError("give a signing key: --key NAME.key or --kms-key ARN")
    return out


def verifiers_from(keys: Iterable[Path], kms_keys: Iterable[str]) -> list[Verifier]:
    """Verifiers for public key files and AWS KMS key ARNs (public keys fetched from KMS)."""
    out: list[Verifier] = [load_verifier(k) for k in keys]
    out.extend(KmsSigner(arn).verifier() for arn in kms_keys)
    if not out:
        raise UsageError("give a public key to verify with: --key NAME.pub or --kms-key ARN")
    return out


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(payload: bytes, payload_type: str, signers: list[Signer]) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` with one signature per signer."""
    msg = pae(payload_type, payload)
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [{"keyid": s.keyid, "sig": base64.b64encode(s.sign(msg)).decode("ascii")} for s in signers],
    }


def add_signatures(envelope: dict[str, Any], signers: list[Signer]) -> dict[str, Any]:
    """``envelope`` with signatures of ``signers`` added (replacing earlier ones by the same key)."""
    payload, payload_type = decode_payload(envelope), str(envelope["payloadType"])
    new = sign_envelope(payload, payload_type, signers)
    mine = {s.keyid for s in signers}
    kept = [s for s in envelope.get("signatures", []) if s.get("keyid") not in mine]
    return {**new, "signatures": kept + new["signatures"]}


def decode_payload(envelope: dict[str, Any], what: str = "envelope") -> bytes:
    """The payload bytes of an envelope (no signature check)."""
    try:
        return base64.b64decode(str(envelope["payload"]), validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise IntegrityError(f"{what}: malformed DSSE envelope (payload)") from None


def verify_envelope(
    envelope: Any, payload_type: str, verifiers: list[Verifier], what: str = "envelope"
) -> tuple[bytes, list[str]]:
    """Check ``envelope``; returns its payload and the key ids that verified.

    Raises IntegrityError unless the payload type matches and at least one
    signature verifies with one of ``verifiers``.
    """
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signatures"), list):
        raise IntegrityError(f"{what}: not a DSSE envelope")
    if envelope.get("payloadType") != payload_type:
        raise IntegrityError(f"{what}: payload type is {envelope.get('payloadType')!r}, expected {payload_type!r}")
    payload = decode_payload(envelope, what)
    msg = pae(payload_type, payload)
    good: list[str] = []
    for s in envelope["signatures"]:
        try:
            sig = base64.b64decode(str(s.get("sig", "")), validate=True)
        except (binascii.Error, AttributeError):
            continue
        for v in verifiers:
            if v.keyid not in good and v.verify(msg, sig):
                good.append(v.keyid)
    if not good:
        ids = ", ".join(str(s.get("keyid")) for s in envelope["signatures"] if isinstance(s, dict)) or "none"
        raise IntegrityError(f"{what}: no valid signature by the given key(s) (signed by: {ids})")
    return payload, good


def load_envelope(path: Path) -> dict[str, Any]:
    """Read a DSSE envelope file."""
    try:
        env = json.loads(read_file(path))
    except FileNotFoundError:
        raise IntegrityError(f"{path.name} is missing: the bundle is not signed") from None
    except (OSError, ValueError) as e:
        raise IntegrityError(f"{path.name}: unreadable envelope: {e}") from None
    except (FileTooLarge, NotRegular) as e:  # a bundle's own file: its integrity
        raise IntegrityError(f"{path}: {e.message}") from None
    if not isinstance(env, dict):
        raise IntegrityError(f"{path.name}: not a DSSE envelope")
    return env
