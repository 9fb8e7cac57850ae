"""Hostile store contents for the bounds tests: bombs, oversized blobs, forged layers, bad digests.

Each helper publishes through the store's own interface where it can and
replaces the (unsigned, immutable) version document by writing it directly,
the way an attacker with write access to the store would.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.bundle.attest import MANIFEST_TYPE, SIGNATURE
from cfgc.bundle.signing import Signer, sign_envelope
from cfgc.stores.base import Store
from cfgc.stores.layout import CONTENT_DIGEST, TITLE, version_id
from cfgc.stores.pointer import decode_pointer, encode_pointer

MIB = 1 << 20


def gzip_zeros(n: int) -> bytes:
    """One gzip member inflating to ``n`` zero bytes (``n`` a multiple of 1 MiB), built fast.

    After a full flush deflate restarts from scratch, so every 1 MiB segment
    compresses to the same bytes: compress one, repeat it, end the stream.
    """
    assert n % MIB == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    zero = bytes(MIB)
    for _ in range(n // MIB):
        crc = zlib.crc32(zero, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # an empty final block
    return header + segment * (n // MIB) + end + struct.pack("<II", crc, n & 0xFFFFFFFF)


def replace_version_doc(store: Store, version: str, doc: bytes) -> None:
    """Overwrite an immutable version document (file or S3 store), as an attacker would."""
    root = getattr(store, "root", None)
    if isinstance(root, Path):
        (root / "versions" / f"{version}.json").write_bytes(doc)
        return
    client: Any = store.client()  # type: ignore[attr-defined]
    client.put_object(Bucket=store.bucket, Key=store._key("versions", f"{version}.json"), Body=doc)  # type: ignore[attr-defined]


def version_doc(store: Store, version: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(store.get_version(version) or b"{}")
    return value


def swap_layer(store: Store, version: str, path: str, blob: bytes) -> str:
    """Make the version document point ``path``'s layer at ``blob`` (stored under its digest)."""
    digest = sha256_digest(blob)
    store.put_blob(digest, blob)
    doc = version_doc(store, version)
    for layer in doc["layers"]:
        if layer["annotations"][TITLE] == f"{path}.gz":
            layer["digest"], layer["size"] = digest, len(blob)
    replace_version_doc(store, version, canonical_json(doc))
    return digest


def add_layer(store: Store, version: str, path: str, content: bytes) -> str:
    """Add a layer the signed manifest does not list to a version document."""
    blob = zlib.compress(content)
    digest = sha256_digest(blob)
    store.put_blob(digest, blob)
    doc = version_doc(store, version)
    doc["layers"].append({"mediaType": "application/vnd.cfgc.target.v1.json+gzip", "digest": digest,
                          "size": len(blob), "annotations": {TITLE: f"{path}.gz",
                                                             CONTENT_DIGEST: sha256_digest(content)}})
    replace_version_doc(store, version, canonical_json(doc))
    return digest


def publish_forged_digest(store: Store, signer: Signer, channel: str, target: str, digest: str) -> str:
    """Publish a validly signed version whose manifest gives ``target`` the (bad) ``digest``.

    Copies the channel's current version, edits the manifest, signs it and the
    pointer with ``signer`` (a trusted test key): only the digest is hostile.
    """
    read = store.get_channel(channel)
    assert read.data is not None
    old = decode_pointer(channel, read.data)
    manifest = json.loads(store.get_blob(old.manifest_digest))
    manifest["targets"][target]["digest"] = digest
    raw = canonical_json(manifest)
    mdigest = sha256_digest(raw)
    version = version_id(mdigest)
    store.put_blob(mdigest, raw)
    doc = version_doc(store, old.version)
    doc["config"] = {**doc["config"], "digest": mdigest, "size": len(raw)}
    doc["annotations"]["org.opencontainers.image.version"] = version
    doc["annotations"]["dev.cfgc.manifest.digest"] = mdigest
    for layer in doc["layers"]:
        if layer["annotations"][TITLE] == f"targets/{target}.json.gz":
            layer["annotations"][CONTENT_DIGEST] = digest
    vdoc = canonical_json(doc)
    replace_version_doc(store, version, vdoc)
    sigs = canonical_json({SIGNATURE: sign_envelope(raw, MANIFEST_TYPE, [signer])})
    store.put_signatures(version, sigs, vdoc)
    # Same repository and lifetime as the good pointer: only the manifest's digest is hostile.
    pointer = dataclasses.replace(old, version=version, manifest_digest=mdigest, serial=old.serial + 1,
                                  previous=old.version)
    store.put_channel(channel, encode_pointer(pointer, [signer]), read.etag, vdoc)
    return version
