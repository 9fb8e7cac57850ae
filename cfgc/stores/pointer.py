"""Channel pointers: signed documents naming the version a channel is at.

A pointer is a DSSE envelope (payload type ``application/vnd.cfgc.channel+json``)
over the canonical JSON of ``{channel, version, manifest_digest, serial,
previous}``.  ``serial`` only grows: every move, rollbacks included, takes the
current serial plus one, so a reader can refuse a pointer older than one it
has seen (a replayed or rolled-back store).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from cfgc.canonical import canonical_json
from cfgc.errors import IntegrityError
from cfgc.signing import Signer, Verifier, decode_payload, sign_envelope, verify_envelope
from cfgc.stores.layout import CHANNEL_TYPE


@dataclass(frozen=True)
class Pointer:
    """Where a channel points."""

    channel: str
    version: str
    manifest_digest: str
    serial: int
    previous: str | None = None


def encode_pointer(pointer: Pointer, signers: list[Signer]) -> bytes:
    """The signed pointer document."""
    return canonical_json(sign_envelope(canonical_json(asdict(pointer)), CHANNEL_TYPE, signers))


def decode_pointer(name: str, data: bytes, verifiers: list[Verifier] | None = None) -> Pointer:
    """Parse a pointer document; with ``verifiers``, its signature must verify.

    Without verifiers the signature is not checked (publishers read the
    current pointer only to take its serial); readers always pass verifiers.
    """
    what = f"channel {name}"
    try:
        env = json.loads(data)
    except ValueError:
        raise IntegrityError(f"{what}: pointer is not JSON") from None
    if verifiers is not None:
        payload, _ = verify_envelope(env, CHANNEL_TYPE, verifiers, what)
    elif isinstance(env, dict) and env.get("payloadType") == CHANNEL_TYPE:
        payload = decode_payload(env, what)
    else:
        raise IntegrityError(f"{what}: pointer is not a cfgc channel envelope")
    try:
        value = json.loads(payload)
        p = Pointer(str(value["channel"]), str(value["version"]), str(value["manifest_digest"]),
                    int(value["serial"]), value.get("previous"))
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{what}: malformed pointer payload") from None
    if p.channel != name:
        raise IntegrityError(f"{what}: the stored pointer is for channel {p.channel!r}")
    return p
