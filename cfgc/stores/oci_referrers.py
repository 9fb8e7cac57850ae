"""Referrers of a manifest (OCI distribution 1.1): the referrers API, else the referrers tag schema.

* Listing: ``GET /v2/<repo>/referrers/<digest>?artifactType=T``.  A registry
  may filter by ``artifactType`` (it says so with ``OCI-Filters-Applied``) and
  paginate (``Link: <...>; rel="next"``); the type filter is applied here
  again either way, so a registry that ignores it lists nothing more.  A 404
  means the registry has no referrers API (distribution 2.8, for one): the
  listing is then the image index tagged ``sha256-<hex>`` after the subject's
  digest (the referrers tag schema).  That answer is remembered for the
  store's lifetime, so polls do not pay for the 404 again.
* Adding: a manifest with a ``subject`` is pushed by digest.  When the
  registry's answer carries ``OCI-Subject`` it indexed the manifest itself;
  otherwise the writer adds its descriptor to the tag schema index: read it
  (noting its digest), modify, check the digest again, write, and read back
  until the descriptor is listed (a concurrent writer may have replaced the
  index with its own: then redo, at most ``RETRIES`` times).  Descriptors the
  new one supersedes (an older pointer of the same channel, an older
  signatures document) leave the index then; on a registry with the API
  they are deleted (best effort: a registry may refuse deletes).

Every listing is bounded (:mod:`cfgc.stores.bounds`: bytes a page, pages,
descriptors); a descriptor without a ``sha256:`` digest is dropped.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.stores.base import ConflictError, check_digest
from cfgc.stores.bounds import MAX_REFERRER_PAGES, MAX_REFERRERS, REFERRERS_MAX

if TYPE_CHECKING:
    from cfgc.stores.oci import OciStore

INDEX = "application/vnd.oci.image.index.v1+json"
RETRIES = 6
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

Descriptor = dict[str, Any]


@dataclass(frozen=True)
class Listing:
    """The referrers of one subject of one artifact type, and the ETag of the listing."""

    descriptors: tuple[Descriptor, ...]
    etag: str | None  # digest of the tag schema index or of the API pages; None when there is none
    not_modified: bool = False


def schema_tag(subject: str) -> str:
    """The referrers tag schema tag of a digest: ``sha256-<hex>``."""
    return check_digest(subject).replace(":", "-")


def list_referrers(store: OciStore, subject: str, artifact_type: str, etag: str | None = None) -> Listing:
    """The referrers of ``subject`` with ``artifact_type``; with ``etag``, not_modified when unchanged."""
    if store.referrers_api is not False:
        listing = _api(store, subject, artifact_type, etag)
        if listing is not None:
            return listing
        store.referrers_api = False
    doc, digest = store.get_manifest(schema_tag(subject), etag, max_bytes=REFERRERS_MAX, accept=INDEX)
    if doc is None:
        return Listing((), digest, not_modified=digest is not None)
    return Listing(_typed(_descriptors(doc, store.url), artifact_type), digest)


def _api(store: OciStore, subject: str, artifact_type: str, etag: str | None) -> Listing | None:
    path: str | None = (f"/v2/{store.repository}/referrers/{check_digest(subject)}"
                        f"?artifactType={urllib.parse.quote(artifact_type, safe='')}")
    bodies: list[bytes] = []
    found: list[Descriptor] = []
    while path:
        if len(bodies) >= MAX_REFERRER_PAGES:
            raise IntegrityError(f"{store.url}: the referrers of {subject} take more than "
                                 f"{MAX_REFERRER_PAGES} pages; not read further")
        r = store.registry.request("GET", path, headers={"Accept": INDEX}, max_bytes=REFERRERS_MAX)
        if r.status == 404 and not bodies:
            return None  # no referrers API (a registry that has one never answers 404 here)
        if r.status != 200:
            raise store.unexpected(f"GET referrers of {subject}", r.status)
        store.referrers_api = True
        bodies.append(r.body)
        found += _descriptors(r.body, store.url)
        if len(found) > MAX_REFERRERS:
            raise IntegrityError(f"{store.url}: {subject} has more than {MAX_REFERRERS} referrers; not read further")
        link = _NEXT.search(r.header("Link") or "")
        path = link.group(1) if link else None
    digest = sha256_digest(b"\n".join(bodies))
    if etag is not None and etag == digest:
        return Listing((), etag, not_modified=True)
    return Listing(_typed(found, artifact_type), digest)


def _typed(found: list[Descriptor], artifact_type: str) -> tuple[Descriptor, ...]:
    return tuple(d for d in found if d.get("artifactType") == artifact_type)


def _descriptors(doc: bytes, where: str) -> list[Descriptor]:
    """The well-formed descriptors of an image index (at most MAX_REFERRERS)."""
    try:
        value = json.loads(doc)
        manifests = value["manifests"] if value.get("mediaType", INDEX) == INDEX else None
    except (ValueError, KeyError, TypeError, AttributeError):
        manifests = None
    if not isinstance(manifests, list):
        raise IntegrityError(f"{where}: a referrers listing is not an OCI image index")
    if len(manifests) > MAX_REFERRERS:
        raise IntegrityError(f"{where}: a referrers index lists more than {MAX_REFERRERS} manifests; not read")
    out = []
    for d in manifests:
        try:
            check_digest(d.get("digest"))
        except (IntegrityError, AttributeError):
            continue
        out.append(d)
    return out


def add_referrer(store: OciStore, subject: str, manifest: bytes, artifact_type: str,
                 supersedes: Callable[[Descriptor], bool]) -> Descriptor:
    """Push ``manifest`` (whose ``subject`` is ``subject``) and make it listed; its descriptor."""
    value = json.loads(manifest)
    descriptor: Descriptor = {"mediaType": value["mediaType"], "digest": sha256_digest(manifest),
                              "size": len(manifest), "artifactType": artifact_type}
    if value.get("annotations"):
        descriptor["annotations"] = value["annotations"]
    r = store.put_manifest(descriptor["digest"], manifest)
    if r.header("OCI-Subject") == subject:
        store.referrers_api = True
        _delete_superseded(store, subject, artifact_type, descriptor, supersedes)
        return descriptor
    ensure_listed(store, subject, descriptor, supersedes)
    return descriptor


def ensure_listed(store: OciStore, subject: str, descriptor: Descriptor,
                  supersedes: Callable[[Descriptor], bool]) -> None:
    """Put ``descriptor`` in the tag schema index of ``subject`` (read, modify, write, read back)."""
    tag = schema_tag(subject)
    for _ in range(RETRIES):
        doc, before = store.get_manifest(tag, max_bytes=REFERRERS_MAX, accept=INDEX)
        present = _descriptors(doc, store.url) if doc is not None else []
        if any(d["digest"] == descriptor["digest"] for d in present):
            return
        keep = [d for d in present if not supersedes(d)]
        if len(keep) >= MAX_REFERRERS:
            raise IntegrityError(f"{store.url}: {tag} already lists {len(keep)} referrers; not adding more")
        index = canonical_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": [*keep, descriptor]})
        if store.head_manifest(tag, accept=INDEX) != before:
            continue  # another writer changed the index since we read it
        store.put_manifest(tag, index, INDEX)
    doc, _ = store.get_manifest(tag, max_bytes=REFERRERS_MAX, accept=INDEX)
    if doc is not None and any(d["digest"] == descriptor["digest"] for d in _descriptors(doc, store.url)):
        return
    raise ConflictError(f"{store.url}: {tag} kept changing while a referrer was added; try again")


def _delete_superseded(store: OciStore, subject: str, artifact_type: str, new: Descriptor,
                       supersedes: Callable[[Descriptor], bool]) -> None:
    try:
        for d in list_referrers(store, subject, artifact_type).descriptors:
            if d["digest"] != new["digest"] and supersedes(d):
                store.registry.request("DELETE", f"/v2/{store.repository}/manifests/{d['digest']}")
    except (ExternalError, IntegrityError):
        pass  # an old referrer left behind is harmless: readers pick the newest
