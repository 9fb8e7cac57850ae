"""Channels in an OCI repository: the tag names the version, a signed referrer says it may.

A channel ``prod`` is two things:

* the tag ``prod`` on the version's image manifest, so ``oras pull
  repo:prod``, ``skopeo`` or a Flux ``OCIRepository`` with ``ref.tag: prod``
  get the bundle itself;
* a *pointer artifact*: an image manifest (``artifactType``
  ``application/vnd.cfgc.channel+json``, annotations ``dev.cfgc.channel`` and
  ``dev.cfgc.channel.serial``) whose one layer is the signed pointer and whose
  ``subject`` is the version manifest, found as a referrer of it.

Reading: the tag gives the version manifest; among its referrers of the
channel type, those annotated with this channel are tried highest serial
first (at most ``MAX_POINTER_TRIES``), and the first whose ``subject`` is that
manifest and whose (not yet verified) pointer names that very version and
bundle manifest is returned.  None: the tag was moved by someone without the
key (IntegrityError).  The caller verifies the pointer's signature and
serial, as for every store; annotations only choose, they are never trusted.

A tag still on a channel artifact (stores written before this layout) is read
as before.  The ETag of a channel is ``<tag digest> <pointer digest>``; the
store remembers the listing's ETag, so a no-change poll is a conditional GET
of the tag and one of the listing (two 304s on a registry without the
referrers API; on one with it, the listing of the channel type is read).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from cfgc.base.errors import IntegrityError
from cfgc.bundle.signing import decode_payload
from cfgc.stores.base import ChannelRead, ConflictError, check_digest
from cfgc.stores.bounds import MAX_POINTER_TRIES, POINTER_MAX, VERSION_MAX
from cfgc.stores.layout import ARTIFACT_TYPE, CHANNEL_TYPE, version_id
from cfgc.stores.oci_referrers import Descriptor, add_referrer, ensure_listed, list_referrers
from cfgc.stores.pointer import Pointer, decode_pointer

if TYPE_CHECKING:
    from cfgc.stores.oci import OciStore

CHANNEL_NOTE = "dev.cfgc.channel"
SERIAL_NOTE = "dev.cfgc.channel.serial"
_VERSION = re.compile(r"^[0-9a-f]{12}$")


def read_channel(store: OciStore, name: str, etag: str | None) -> ChannelRead:
    """The pointer of channel ``name`` (unverified) with its ETag ``<tag digest> <pointer digest>``."""
    parts = etag.split(" ") if etag else []
    doc, digest = store.get_manifest(name, parts[0] if parts else None, max_bytes=VERSION_MAX)
    if doc is None and digest is None:
        return ChannelRead(None, None)
    listing = None
    if doc is None:  # the tag did not move
        if len(parts) < 2:  # an old-layout channel artifact, unchanged
            return ChannelRead(None, etag, not_modified=True)
        # The listing as last read (by anyone in this process) picked (subject, etag) -> pointer:
        # when it is unchanged and picked the caller's pointer, nothing changed.
        seen = store.listing_etags.get(name)
        known = seen is not None and seen[0] == digest and seen[2] == parts[1]
        listing = list_referrers(store, str(digest), CHANNEL_TYPE, seen[1] if known and seen else None)
        if listing.not_modified:
            return ChannelRead(None, etag, not_modified=True)
        doc, _ = store.get_manifest(str(digest), max_bytes=VERSION_MAX)
        if doc is None:
            raise IntegrityError(f"{store.url}: channel {name} names manifest {digest}, which is gone")
    kind = _artifact_type(doc)
    if kind == CHANNEL_TYPE:  # the layout before channel tags named the version itself
        return ChannelRead(store.artifact_doc(doc, CHANNEL_TYPE, name, POINTER_MAX), digest)
    if kind != ARTIFACT_TYPE:
        raise IntegrityError(f"{store.url}:{name} is neither a cfgc version nor a cfgc channel")
    subject = str(digest)
    if listing is None:
        listing = list_referrers(store, subject, CHANNEL_TYPE)
    pointer, pointer_digest = _pick(store, name, doc, subject, listing.descriptors)
    if len(store.listing_etags) > 64:
        store.listing_etags.clear()
    store.listing_etags[name] = (subject, listing.etag, pointer_digest)
    new_etag = f"{subject} {pointer_digest}"
    if new_etag == etag:  # only other referrers of the version changed
        return ChannelRead(None, etag, not_modified=True)
    return ChannelRead(pointer, new_etag)


def _artifact_type(doc: bytes) -> object:
    try:
        value: Any = json.loads(doc)
        return value.get("artifactType")
    except (ValueError, AttributeError):
        return None


def _serial(d: Descriptor) -> int:
    text = str((d.get("annotations") or {}).get(SERIAL_NOTE, ""))
    return int(text) if text.isdigit() and len(text) <= 18 else -1


def _pick(store: OciStore, name: str, version_doc: bytes, subject: str,
          found: tuple[Descriptor, ...]) -> tuple[bytes, str]:
    try:
        manifest_digest = check_digest(json.loads(version_doc)["config"]["digest"])
    except (ValueError, KeyError, TypeError, IntegrityError):
        raise IntegrityError(f"{store.url}:{name} is not a cfgc version manifest") from None
    mine = [d for d in found if isinstance(d.get("annotations"), dict) and d["annotations"].get(CHANNEL_NOTE) == name]
    first: IntegrityError | None = None
    for d in sorted(mine, key=lambda d: (-_serial(d), str(d["digest"])))[:MAX_POINTER_TRIES]:
        manifest, got = store.get_manifest(str(d["digest"]), max_bytes=POINTER_MAX)
        if manifest is None or got != d["digest"] or _subject(manifest) != subject:
            continue  # a referrer of something else, or not what the listing says: ignored
        try:
            doc = store.artifact_doc(manifest, CHANNEL_TYPE, str(d["digest"]), POINTER_MAX)
            p = decode_pointer(name, doc)
        except IntegrityError as e:
            first = first or e  # reported if no other pointer fits: it says what is wrong
            continue
        if p.version == version_id(manifest_digest) and p.manifest_digest == manifest_digest:
            return doc, str(d["digest"])
    if first is not None:
        raise first
    raise IntegrityError(f"channel {name}: the tag is on version {version_id(manifest_digest)}, but no pointer "
                         f"of {name} among its referrers names it (was the tag moved without the signing key?)")


def _subject(manifest: bytes) -> object:
    try:
        value: Any = json.loads(manifest)
        return value["subject"]["digest"]
    except (ValueError, KeyError, TypeError):
        return None


def writer_read(store: OciStore, name: str) -> ChannelRead:
    """The channel as a publisher sees it: a tag moved without the key is repairable.

    When the tag's version has no pointer of ``name`` (or the tag is on
    something else), the newest pointer of ``name`` among the referrers of
    every version is taken (its serial is what the next pointer must exceed);
    the ETag then names the tag and ``repair``.
    """
    try:
        return read_channel(store, name, None)
    except IntegrityError:
        pass
    best: tuple[int, str] | None = None
    for v in store.list_versions():
        doc = store.get_version(v)
        try:
            found = list_referrers(store, store.digest_of(doc), CHANNEL_TYPE).descriptors if doc else ()
        except IntegrityError:
            continue
        for d in found:
            notes = d.get("annotations")
            if isinstance(notes, dict) and notes.get(CHANNEL_NOTE) == name and (best is None or _serial(d) > best[0]):
                best = (_serial(d), str(d["digest"]))
    data = None
    if best is not None:
        manifest, _ = store.get_manifest(best[1], max_bytes=POINTER_MAX)
        data = store.artifact_doc(manifest, CHANNEL_TYPE, best[1], POINTER_MAX) if manifest else None
    return ChannelRead(data, f"{store.head_manifest(name)} repair")


def write_channel(store: OciStore, name: str, doc: bytes, if_match: str | None, version_doc: bytes) -> None:
    """Add the pointer as a referrer of the version, then move the tag (compare-and-swap)."""
    claimed = _claims(doc)
    # The pointer is a referrer of the version it names (the tag follows it there), so the pair
    # (tag, pointer) always agrees when written through this API; the caller's version_doc serves
    # when that version is not stored yet.
    stored = store.get_version(claimed.version) if claimed is not None and _VERSION.match(claimed.version) else None
    subject_doc = stored if stored is not None else store.subject(version_doc)
    subject = store.digest_of(subject_doc)
    serial = claimed.serial if claimed is not None else 0
    if store.read_etag(name) != if_match:
        raise ConflictError(f"channel {name} changed in {store.url} while it was being updated")
    manifest = store.artifact(CHANNEL_TYPE, "channel.json", doc, subject_doc,
                              {CHANNEL_NOTE: name, SERIAL_NOTE: str(serial)})

    def older(d: Descriptor) -> bool:
        notes = d.get("annotations") or {}
        return (d.get("artifactType") == CHANNEL_TYPE and isinstance(notes, dict)
                and notes.get(CHANNEL_NOTE) == name and _serial(d) < serial)

    descriptor = add_referrer(store, subject, manifest, CHANNEL_TYPE, older)
    before = (if_match or "").split(" ")[0] or None
    if store.head_manifest(name) != before:
        raise ConflictError(f"channel {name} changed in {store.url} while it was being updated")
    store.put_manifest(name, subject_doc)
    if store.head_manifest(name) != subject:
        raise ConflictError(f"channel {name} in {store.url} was re-tagged by someone else meanwhile")
    if store.referrers_api is False:
        ensure_listed(store, subject, descriptor, older)  # a concurrent index write may have dropped it


def _claims(doc: bytes) -> Pointer | None:
    """What a pointer says (whichever channel it names; no signature check), or None."""
    try:
        env = json.loads(doc)
        channel = json.loads(decode_payload(env, "pointer"))["channel"]
        return decode_pointer(str(channel), doc)
    except (IntegrityError, ValueError, KeyError, TypeError, AttributeError):
        return None
