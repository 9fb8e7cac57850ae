"""The signing half of the public API: sign and verify bundles, manage signing keys."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cfgc.bundle.attest import VerifyReport

PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class SignResult:
    """What :func:`cfgc.sign_bundle` wrote into the bundle."""

    bundle: Path
    manifest_digest: str  # sha256 of manifest.json, the bytes the signature covers
    signature: str  # the DSSE envelope's file name in the bundle (manifest.sig.json)
    provenance: str  # the signed in-toto provenance's file name (provenance.intoto.json)


@dataclass(frozen=True)
class KeyPair:
    """A key pair :func:`cfgc.generate_keys` wrote: the private key file (mode 0600) and the public one."""

    private: Path
    public: Path
    keyid: str  # what signatures by this key carry


def sign_bundle(bundle: PathArg, *, keys: Sequence[PathArg] = (), kms_keys: Sequence[str] = ()) -> SignResult:
    """Sign ``bundle``'s manifest with every key and write its signed provenance.

    ``keys`` are ed25519 private key files, ``kms_keys`` AWS KMS ARNs (AWS
    credentials from the environment).  Signing again with another key adds
    its signature.  Raises :class:`~cfgc.base.errors.UsageError` without any key.
    """
    from cfgc.bundle.attest import sign_bundle as sign
    from cfgc.bundle.manifest import PROVENANCE, SIGNATURE
    from cfgc.bundle.signing import signers_from

    digest = sign(Path(bundle), signers_from([Path(k) for k in keys], kms_keys))
    return SignResult(Path(bundle), digest, SIGNATURE, PROVENANCE)


def verify_bundle(bundle: PathArg, *, keys: Sequence[PathArg] = (), kms_keys: Sequence[str] = ()) -> VerifyReport:
    """Verify ``bundle``: a valid signature by one of the keys, and every listed file's digest and size.

    ``keys`` are public (or private) key files, ``kms_keys`` AWS KMS ARNs.
    Raises :class:`cfgc.VerificationFailed` (an
    :class:`~cfgc.base.errors.IntegrityError`, exit 5) whose ``report`` names
    every problem: a changed, missing or unlisted file, a bad signature,
    provenance that does not match the targets.
    """
    from cfgc.bundle.attest import verify_bundle as verify
    from cfgc.bundle.signing import verifiers_from

    return verify(Path(bundle), verifiers_from([Path(k) for k in keys], kms_keys))


def generate_keys(name: PathArg, *, force: bool = False) -> KeyPair:
    """Write an ed25519 key pair: ``name``.key (PEM, mode 0600) and ``name``.pub.

    Refuses (:class:`~cfgc.base.errors.UsageError`) to replace existing files
    unless ``force``.
    """
    from cfgc.bundle.signing import generate_keypair, load_verifier

    key, pub = generate_keypair(Path(name), force=force)
    return KeyPair(key, pub, load_verifier(pub).keyid)


def key_id(key: PathArg) -> str:
    """The key id signatures by ``key`` (a public or private key file) carry."""
    from cfgc.bundle.signing import load_verifier

    return load_verifier(Path(key)).keyid


def export_kms_key(arn: str, out: PathArg) -> Path:
    """Write the public key of the AWS KMS signing key ``arn`` to ``out`` as PEM, for offline verification.

    Signatures keep the ARN as their key id, so pass the file to
    :func:`verify_bundle` or :func:`cfgc.pull` as a key.
    """
    from cryptography.hazmat.primitives import serialization

    from cfgc.bundle.signing import KmsSigner

    verifier = KmsSigner(arn).verifier()
    Path(out).write_bytes(verifier.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return Path(out)
