"""Publishing bundles to stores, moving channels, listing versions.

Writes happen in an order that keeps every store consistent at every moment,
whatever is interrupted: blobs first, then the signatures, then the version
document (which only then makes the version visible), then the channel
pointer.  A re-run uploads only what is missing.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.canonical import canonical_json
from cfgc.base.errors import ExternalError, InputError, IntegrityError, UsageError
from cfgc.bundle.signing import Signer
from cfgc.stores.base import ConflictError, Store, check_channel, check_version
from cfgc.stores.layout import Prepared, parse_version, prepare
from cfgc.stores.pointer import (
    Pointer,
    check_repository,
    decode_pointer,
    encode_pointer,
    format_time,
)

RETRIES = 8
DEFAULT_EXPIRES = 7 * 86400  # --expires default: a weekly `cfgc channel refresh` leaves a day of slack


@dataclass(frozen=True)
class PointerTerms:
    """What a new pointer says besides its version: repository identity and lifetime.

    ``repository`` None keeps the channel's current repository, else the one
    the store's other channels name, else a new random ``cfgc-<hex>`` id.
    """

    repository: str | None = None
    expires_in: int = DEFAULT_EXPIRES


@dataclass(frozen=True)
class ChannelMove:
    """What happened to a channel: ``moved`` or ``unchanged`` (already there)."""

    action: str
    pointer: Pointer


@dataclass(frozen=True)
class PublishReport:
    """What ``publish`` uploaded and skipped."""

    url: str
    version: str
    manifest_digest: str
    uploaded: tuple[tuple[str, int], ...]  # (bundle path, stored bytes)
    skipped: tuple[tuple[str, int], ...]
    version_created: bool
    signatures: str  # uploaded | unchanged | absent
    channel: ChannelMove | None
    dry_run: bool

    @property
    def uploaded_bytes(self) -> int:
        return sum(n for _, n in self.uploaded)

    def as_json(self) -> dict[str, Any]:
        ch = self.channel
        return {
            "url": self.url, "version": self.version, "manifest_digest": self.manifest_digest,
            "dry_run": self.dry_run, "version_created": self.version_created, "signatures": self.signatures,
            "uploaded": [{"path": p, "bytes": n} for p, n in self.uploaded],
            "skipped": [{"path": p, "bytes": n} for p, n in self.skipped],
            "counts": {"uploaded": len(self.uploaded), "skipped": len(self.skipped),
                       "uploaded_bytes": self.uploaded_bytes},
            "channel": None if ch is None else {"action": ch.action, "name": ch.pointer.channel,
                                                "serial": ch.pointer.serial, "previous": ch.pointer.previous,
                                                "repository": ch.pointer.repository,
                                                "expires": ch.pointer.expires},
        }


def publish(store: Store, bundle: Path, channel: str | None = None, signers: list[Signer] | None = None,
            dry_run: bool = False, terms: PointerTerms | None = None, flux: bool = False) -> PublishReport:
    """Publish a bundle directory to ``store`` (and move ``channel`` to it).

    ``flux`` adds a Flux content layer (the bundle tree as tar.gz) to a new version.
    """
    if channel is not None:
        check_channel(channel)
        if not signers:
            raise UsageError("moving a channel needs a signing key (--key or --kms-key): pointers are signed")
    prep = prepare(bundle, flux)
    uploaded: list[tuple[str, int]] = []
    skipped: list[tuple[str, int]] = []
    seen: set[str] = set()
    for blob in prep.blobs:
        if blob.digest in seen or store.has_blob(blob.digest):
            skipped.append((blob.path, len(blob.data)))
            continue
        seen.add(blob.digest)
        if not dry_run:
            store.put_blob(blob.digest, blob.data)
        uploaded.append((blob.path, len(blob.data)))
    sigs = _publish_signatures(store, prep, dry_run)
    if sigs == "uploaded" and prep.signatures_doc is not None:
        uploaded.append(("signatures", len(prep.signatures_doc)))
    existing = store.get_version(prep.version)
    if dry_run or (existing is not None and _same_bundle(prep.version, existing, prep.manifest_digest)):
        # A version is immutable: one written by another cfgc release (other annotations, no Flux
        # layer) for the same signed manifest stays as it is.
        created = existing is None
    else:
        created = store.put_version(prep.version, prep.version_doc)
    if created:
        uploaded.append(("version manifest", len(prep.version_doc)))
    move = None
    if channel is not None and signers:
        move = move_channel(store, channel, prep.version, prep.manifest_digest, prep.version_doc, signers, dry_run,
                            terms)
    return PublishReport(store.url, prep.version, prep.manifest_digest, tuple(uploaded), tuple(skipped),
                         created, sigs, move, dry_run)


def _same_bundle(version: str, doc: bytes, manifest_digest: str) -> bool:
    try:
        return parse_version(version, doc).manifest_digest == manifest_digest
    except IntegrityError:
        return False


def _publish_signatures(store: Store, prep: Prepared, dry_run: bool) -> str:
    if prep.signatures_doc is None:
        return "absent"
    old = store.get_signatures(prep.version)
    merged = merge_signatures(old, prep.signatures_doc)
    if merged == old:
        return "unchanged"
    if not dry_run:
        store.put_signatures(prep.version, merged, prep.version_doc)
    return "uploaded"


def merge_signatures(old: bytes | None, new: bytes) -> bytes:
    """Union of two signature documents: an envelope over the same payload gains signatures."""
    if old is None:
        return new
    try:
        a: dict[str, Any] = json.loads(old)
        b: dict[str, Any] = json.loads(new)
    except ValueError:
        return new
    out = dict(a)
    for name, env in b.items():
        prev = a.get(name)
        if isinstance(prev, dict) and prev.get("payload") == env.get("payload"):
            sigs = list(prev.get("signatures", []))
            sigs += [s for s in env.get("signatures", []) if s not in sigs]
            out[name] = {**env, "signatures": sigs}
        else:
            out[name] = env
    return canonical_json(out)


def move_channel(store: Store, name: str, version: str, manifest_digest: str, version_doc: bytes,
                 signers: list[Signer], dry_run: bool = False, terms: PointerTerms | None = None,
                 resign: bool = False) -> ChannelMove:
    """Point ``name`` at ``version`` by compare-and-swap, retrying when another writer won.

    A channel already at ``version`` is left alone unless ``resign`` (``cfgc
    channel refresh``) or its pointer is legacy or names another repository.
    """
    terms = terms or PointerTerms()
    for _ in range(RETRIES):
        # An OCI store reads a channel whose tag was moved without the key from its pointers (repair).
        read = getattr(store, "writer_channel", store.get_channel)(name)
        cur = decode_pointer(name, read.data) if read.data is not None else None
        repository = _repository(store, name, cur, terms.repository)
        if (cur is not None and cur.version == version and not resign and not cur.legacy
                and cur.repository == repository):
            return ChannelMove("unchanged", cur)
        now = time.time()
        previous = cur.previous if resign and cur is not None else (cur.version if cur else None)
        new = Pointer(name, version, manifest_digest, cur.serial + 1 if cur else 1, previous,
                      repository, format_time(now), format_time(now + terms.expires_in))
        if dry_run:
            return ChannelMove("moved", new)
        try:
            store.put_channel(name, encode_pointer(new, signers), read.etag, version_doc)
            return ChannelMove("moved", new)
        except ConflictError:
            continue
    raise ExternalError(f"channel {name} in {store.url} kept changing during {RETRIES} attempts; try again")


def _repository(store: Store, name: str, cur: Pointer | None, wanted: str | None) -> str:
    """The repository identity the new pointer names (see :class:`PointerTerms`)."""
    known = cur.repository if cur is not None and cur.repository else _store_repository(store, name)
    if wanted is not None:
        check_repository(wanted)
        if known is not None and known != wanted:
            raise InputError(f"channel {name} in {store.url} belongs to repository {known!r}, not {wanted!r}: "
                             "runtimes pinned to it would refuse the move (publish to a new store instead)")
        return wanted
    return known or f"cfgc-{secrets.token_hex(8)}"


def _store_repository(store: Store, skip: str) -> str | None:
    for other in store.list_channels():
        if other == skip:
            continue
        try:
            read = store.get_channel(other)
            p = decode_pointer(other, read.data) if read.data is not None else None
        except IntegrityError:
            continue  # not a cfgc channel (e.g. an OCI tag "latest")
        if p is not None and p.repository:
            return p.repository
    return None


def refresh_channel(store: Store, channel: str, signers: list[Signer], terms: PointerTerms | None = None,
                    dry_run: bool = False) -> ChannelMove:
    """Re-sign a channel's current pointer with a higher serial and a new expiry (same version)."""
    check_channel(channel)
    read = store.get_channel(channel)
    if read.data is None:
        raise InputError(f"no channel {channel} in {store.url} (see `cfgc versions --from {store.url}`)")
    cur = decode_pointer(channel, read.data)
    doc = store.get_version(cur.version)
    if doc is None:
        raise ExternalError(f"channel {channel} names version {cur.version}, which is not in {store.url}")
    return move_channel(store, channel, cur.version, cur.manifest_digest, doc, signers, dry_run, terms, resign=True)


def promote(store: Store, channel: str, version: str, signers: list[Signer], dry_run: bool = False,
            terms: PointerTerms | None = None) -> ChannelMove:
    """Move a channel to a version already in the store (rollback: an older version, a higher serial)."""
    check_channel(channel)
    doc = store.get_version(check_version(version))
    if doc is None:
        raise InputError(f"no version {version} in {store.url} (see `cfgc versions --from {store.url}`)")
    info = parse_version(version, doc)
    missing = [str(d["digest"]) for d in info.layers if not store.has_blob(str(d["digest"]))]
    if not store.has_blob(info.manifest_digest):
        missing.append(info.manifest_digest)
    if missing:
        raise ExternalError(f"version {version} in {store.url} is incomplete: {len(missing)} blob(s) missing")
    return move_channel(store, channel, version, info.manifest_digest, doc, signers, dry_run, terms)


@dataclass(frozen=True)
class VersionRow:
    """One line of ``cfgc versions``."""

    version: str
    manifest_digest: str
    commit: str | None
    created: str | None
    channels: tuple[str, ...]
    signed: bool


def list_versions(store: Store) -> list[VersionRow]:
    """Every version in a store with its commit, time and the channels at it (newest first)."""
    at: dict[str, list[str]] = {}
    for name in store.list_channels():
        try:
            read = store.get_channel(name)
            if read.data is not None:
                at.setdefault(decode_pointer(name, read.data).version, []).append(name)
        except IntegrityError:
            continue  # a tag someone else put in the repository (e.g. "latest"), not a cfgc channel
    rows = []
    for v in store.list_versions():
        doc = store.get_version(v)
        if doc is None:
            continue
        info = parse_version(v, doc)
        rows.append(VersionRow(v, info.manifest_digest, info.commit, info.created, tuple(sorted(at.get(v, []))),
                               store.get_signatures(v) is not None))
    return sorted(rows, key=lambda r: (r.created or "", r.version), reverse=True)
