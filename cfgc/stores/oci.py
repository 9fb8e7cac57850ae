"""A bundle store in an OCI registry: ``oci://host[:port]/repository``; OCI 1.1 conventions.

* a version is an image manifest tagged with the version id (config = the
  bundle manifest, one gzip layer per target, prompt and secret, optionally a
  Flux content layer; ``org.opencontainers.image.*`` annotations; see layout.py);
* a channel ``prod`` is the tag ``prod`` on that same version manifest, so any
  OCI client (oras, skopeo, Flux) gets the bundle at ``:prod``, plus a signed
  pointer artifact that refers to it (see oci_channels.py);
* its signatures are an artifact (``artifactType``
  ``application/vnd.cfgc.signatures.v1+json``) whose ``subject`` is the
  version manifest, pushed by digest, never tagged;
* referrers are found through the referrers API where the registry has it,
  else through the referrers tag schema (``sha256-<hex>`` tags holding an
  image index; see oci_referrers.py).  No tag ever uses cosign's
  ``sha256-<hex>.sig`` names.

Stores written before this layout (channel tags on channel artifacts,
signatures under ``sha256-<hex>.sig``) are still read; the next channel move
rewrites the channel the new way.

Registries have no conditional writes, so channel updates check the tag's
digest before tagging and verify it after; a lost race is reported, never
silent for the writer that loses at verification time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.stores.base import (
    ChannelRead,
    check_channel,
    check_digest,
    check_version,
    verified,
)
from cfgc.stores.bounds import (
    MANIFEST_MAX,
    MAX_LISTED_TAGS,
    MAX_TAG_PAGES,
    POINTER_MAX,
    SIGNATURES_MAX,
    TAGS_MAX,
    VERSION_MAX,
    check_length,
)
from cfgc.stores.layout import OCI_MANIFEST, SIGNATURES_TYPE, TITLE, version_id
from cfgc.stores.oci_channels import read_channel, write_channel, writer_read
from cfgc.stores.oci_http import Registry, Response
from cfgc.stores.oci_referrers import Descriptor, add_referrer, list_referrers

EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
_VERSION_TAG = re.compile(r"^[0-9a-f]{12}$")
# Channel names (base.check_channel); leaves out sha256-<hex> referrers tags and old .sig tags.
_CHANNEL_TAG = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class OciStore:
    """Store bundles in one repository of an OCI registry."""

    def __init__(self, registry: Registry, repository: str) -> None:
        self.registry = registry
        self.repository = repository
        self.referrers_api: bool | None = None  # learnt on first use: has the registry the referrers API?
        self.listing_etags: dict[str, tuple[str, str | None, str]] = {}  # channel -> (subject, listing, pointer)

    @property
    def url(self) -> str:
        return f"oci://{self.registry.host}/{self.repository}"

    def forget_connections(self) -> None:
        self.registry.forget_connections()

    def _path(self, kind: str, ref: str) -> str:
        return f"/v2/{self.repository}/{kind}/{ref}"

    def unexpected(self, what: str, status: int) -> ExternalError:
        return ExternalError(f"registry {self.registry.host}: {what} in {self.repository} answered HTTP {status}")

    # -- manifests ---------------------------------------------------------
    def get_manifest(self, ref: str, etag: str | None = None, max_bytes: int = VERSION_MAX,
                     accept: str = OCI_MANIFEST) -> tuple[bytes | None, str | None]:
        """A manifest and its digest; (None, etag) when unchanged; (None, None) when absent.

        At most ``max_bytes`` are read (IntegrityError when the manifest is larger).
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = f'"{etag}"'
        r = self.registry.request("GET", self._path("manifests", ref), headers=headers, max_bytes=max_bytes)
        if r.status == 304:
            return None, etag
        if r.status == 404:
            return None, None
        if r.status != 200:
            raise self.unexpected(f"GET manifest {ref}", r.status)
        check_length(r.body, max_bytes, f"{self.url}: manifest {ref}")
        digest = sha256_digest(r.body)
        if etag and digest == etag:
            return None, etag
        return r.body, digest

    def head_manifest(self, ref: str, accept: str = OCI_MANIFEST) -> str | None:
        r = self.registry.request("HEAD", self._path("manifests", ref), headers={"Accept": accept})
        if r.status == 404:
            return None
        if r.status != 200:
            raise self.unexpected(f"HEAD manifest {ref}", r.status)
        return r.header("Docker-Content-Digest") or self.get_manifest(ref, accept=accept)[1]

    def put_manifest(self, ref: str, doc: bytes, media_type: str = OCI_MANIFEST) -> Response:
        """PUT a manifest under a tag or its digest; the registry's answer (``OCI-Subject``...)."""
        r = self.registry.request("PUT", self._path("manifests", ref), doc, {"Content-Type": media_type})
        for delay in (0.1, 0.3, 0.6):
            # Concurrent uploads of the same blob make distribution rewrite its link file, and a
            # manifest PUT that reads it meanwhile sees MANIFEST_BLOB_UNKNOWN for a moment.
            if r.status != 400 or b"BLOB_UNKNOWN" not in r.body:
                break
            time.sleep(delay)
            r = self.registry.request("PUT", self._path("manifests", ref), doc, {"Content-Type": media_type})
        if r.status not in (200, 201):
            raise self.unexpected(f"PUT manifest {ref}: {r.body[:200]!r}", r.status)
        return r

    # -- blobs -------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        r = self.registry.request("HEAD", self._path("blobs", check_digest(digest)))
        return r.status == 200

    def put_blob(self, digest: str, data: bytes) -> None:
        verified(check_digest(digest), data, "the upload")
        r = self.registry.request("POST", f"/v2/{self.repository}/blobs/uploads/", b"")
        location = r.header("Location")
        if r.status != 202 or not location:
            raise self.unexpected("start blob upload", r.status)
        sep = "&" if "?" in location else "?"
        r = self.registry.request("PUT", f"{location}{sep}digest={digest}", data,
                                  {"Content-Type": "application/octet-stream"})
        if r.status not in (201, 204):
            raise self.unexpected(f"upload of blob {digest}", r.status)

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        """The verified blob; BodyTooLarge (exit 5) once more than ``max_bytes`` arrive."""
        r = self.registry.request("GET", self._path("blobs", check_digest(digest)), max_bytes=max_bytes)
        if r.status == 404:
            raise IntegrityError(f"blob {digest} is missing from {self.url}")
        if r.status != 200:
            raise self.unexpected(f"GET blob {digest}", r.status)
        return verified(digest, check_length(r.body, max_bytes, f"blob {digest} in {self.url}"), self.url)

    def artifact(self, artifact_type: str, title: str, doc: bytes, subject: bytes,
                 annotations: dict[str, str] | None = None) -> bytes:
        """Upload ``doc`` and return the manifest of an artifact holding it, about ``subject``."""
        for d in (EMPTY, doc):
            if not self.has_blob(sha256_digest(d)):
                self.put_blob(sha256_digest(d), d)
        return canonical_json({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_TYPE, "digest": sha256_digest(EMPTY), "size": len(EMPTY)},
            "layers": [{"mediaType": artifact_type, "digest": sha256_digest(doc), "size": len(doc),
                        "annotations": {TITLE: title}}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": sha256_digest(subject), "size": len(subject)},
            **({"annotations": annotations} if annotations else {}),
        })

    def artifact_doc(self, manifest: bytes, artifact_type: str, ref: str, max_bytes: int) -> bytes:
        try:
            value: Any = json.loads(manifest)
            layer = value["layers"][0]
            ok = value.get("artifactType") == artifact_type
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            ok = False
        if not ok:
            raise IntegrityError(f"{self.url}:{ref} is not a cfgc {artifact_type} artifact")
        return self.get_blob(str(layer["digest"]), max_bytes)

    # -- versions ----------------------------------------------------------
    def get_version(self, version: str) -> bytes | None:
        return self.get_manifest(check_version(version))[0]

    def put_version(self, version: str, doc: bytes) -> bool:
        existing, _ = self.get_manifest(check_version(version))
        if existing == doc:
            return False
        if existing is not None:
            raise IntegrityError(f"version {version} already exists in {self.url} with other content; not replaced")
        self.put_manifest(version, doc)
        if self.head_manifest(version) != sha256_digest(doc):
            raise IntegrityError(f"version tag {version} in {self.url} changed under us (concurrent publish?)")
        return True

    def _tags(self, wanted: Callable[[str], bool]) -> list[str]:
        """The repository's tags that ``wanted`` takes, page by page (a hostile registry
        can list a million tags: only those asked for are kept, at most MAX_LISTED_TAGS)."""
        tags: list[str] = []
        path: str | None = f"/v2/{self.repository}/tags/list?n=1000"
        for _ in range(MAX_TAG_PAGES):
            if not path:
                return tags
            r = self.registry.request("GET", path, max_bytes=TAGS_MAX)
            if r.status == 404:
                return []
            if r.status != 200:
                raise self.unexpected("list tags", r.status)
            try:
                doc = json.loads(r.body)
            except (ValueError, RecursionError):
                doc = None
            # A repository without tags is listed as "tags": null by some registries.
            page = (doc.get("tags") or []) if isinstance(doc, dict) else None
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise IntegrityError(f"{self.url}: the registry's tag listing is not a JSON object with a list of tags")
            tags += filter(wanted, page)
            if len(tags) > MAX_LISTED_TAGS:
                raise IntegrityError(f"{self.url}: the tag listing holds more than {MAX_LISTED_TAGS} tags of one kind")
            link = re.match(r"<([^>]+)>", r.header("Link") or "")
            path = link.group(1) if link else None
        if path:
            raise IntegrityError(f"{self.url}: the tag listing goes on past {MAX_TAG_PAGES} pages")
        return tags

    def list_versions(self) -> list[str]:
        return sorted(self._tags(lambda t: _VERSION_TAG.match(t) is not None))

    @staticmethod
    def digest_of(doc: bytes) -> str:
        return sha256_digest(doc)

    def subject(self, version_doc: bytes) -> bytes:
        """The stored manifest of ``version_doc``'s version (another cfgc release may have written
        it with other annotations), else ``version_doc`` itself (not yet written)."""
        try:
            version = version_id(json.loads(version_doc)["config"]["digest"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return version_doc
        stored = self.get_version(version)
        return stored if stored is not None else version_doc

    def get_signatures(self, version: str) -> bytes | None:
        doc = self.get_version(version)
        if doc is None:
            return None
        found = list_referrers(self, sha256_digest(doc), SIGNATURES_TYPE).descriptors
        # Each write supersedes the one before (it is their union); the largest is the newest.
        for d in sorted(found, key=lambda d: (-_size(d), str(d["digest"])))[:4]:
            manifest, got = self.get_manifest(str(d["digest"]), max_bytes=POINTER_MAX)
            if manifest is not None and got == d["digest"] and _subject(manifest) == sha256_digest(doc):
                return self.artifact_doc(manifest, SIGNATURES_TYPE, str(d["digest"]), SIGNATURES_MAX)
        old_tag = sha256_digest(doc).replace(":", "-") + ".sig"  # written before signatures were referrers
        manifest, _ = self.get_manifest(old_tag, max_bytes=POINTER_MAX)
        return None if manifest is None else self.artifact_doc(manifest, SIGNATURES_TYPE, old_tag, SIGNATURES_MAX)

    def put_signatures(self, version: str, doc: bytes, version_doc: bytes) -> None:
        subject = self.subject(version_doc)
        manifest = self.artifact(SIGNATURES_TYPE, "signatures.json", doc, subject)
        add_referrer(self, sha256_digest(subject), manifest, SIGNATURES_TYPE,
                     lambda d: d.get("artifactType") == SIGNATURES_TYPE)

    # -- channels ----------------------------------------------------------
    def get_channel(self, name: str, etag: str | None = None) -> ChannelRead:
        return read_channel(self, check_channel(name), etag)

    def writer_channel(self, name: str) -> ChannelRead:
        """``get_channel`` for a publisher: a channel whose tag was moved without the key can be repaired."""
        return writer_read(self, check_channel(name))

    def read_etag(self, name: str) -> str | None:
        """The ETag a channel has now (what ``put_channel``'s ``if_match`` must equal)."""
        return self.writer_channel(name).etag

    def put_channel(self, name: str, doc: bytes, if_match: str | None, version_doc: bytes) -> None:
        write_channel(self, check_channel(name), doc, if_match, version_doc)

    def list_channels(self) -> list[str]:
        return sorted(self._tags(lambda t: _CHANNEL_TAG.match(t) is not None and not _VERSION_TAG.match(t)))


def _size(d: Descriptor) -> int:
    size = d.get("size")
    return size if isinstance(size, int) else 0


def _subject(manifest: bytes) -> object:
    try:
        value: Any = json.loads(manifest)
        return value["subject"]["digest"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
