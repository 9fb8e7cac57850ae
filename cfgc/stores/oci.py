"""A bundle store in an OCI registry: ``oci://host[:port]/repository``.

* a version is an image manifest tagged with the version id (config = the
  bundle manifest, one gzip layer per target and prompt; see layout.py);
* its signatures are an artifact (``artifactType``
  ``application/vnd.cfgc.signatures.v1+json``) whose ``subject`` is the
  version manifest, tagged ``sha256-<hex>.sig`` after the version manifest's
  digest (the tag fallback; registries without the referrers API find it);
* a channel is a tag ``<channel>`` on an artifact (``artifactType``
  ``application/vnd.cfgc.channel+json``) holding the signed pointer, with the
  version manifest as its ``subject``.

Registries have no conditional writes, so channel updates check the tag's
digest before tagging and verify it after; a lost race is reported, never
silent for the writer that loses at verification time.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from cfgc.canonical import canonical_json, sha256_digest
from cfgc.errors import ExternalError, IntegrityError
from cfgc.stores.base import (
    ChannelRead,
    ConflictError,
    check_channel,
    check_digest,
    check_version,
    verified,
)
from cfgc.stores.bounds import MANIFEST_MAX, POINTER_MAX, SIGNATURES_MAX, VERSION_MAX, check_length
from cfgc.stores.layout import CHANNEL_TYPE, OCI_MANIFEST, SIGNATURES_TYPE, TITLE
from cfgc.stores.oci_http import Registry

EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
_VERSION_TAG = re.compile(r"^[0-9a-f]{12}$")


class OciStore:
    """Store bundles in one repository of an OCI registry."""

    def __init__(self, registry: Registry, repository: str) -> None:
        self.registry = registry
        self.repository = repository

    @property
    def url(self) -> str:
        return f"oci://{self.registry.host}/{self.repository}"

    def _path(self, kind: str, ref: str) -> str:
        return f"/v2/{self.repository}/{kind}/{ref}"

    def _unexpected(self, what: str, status: int) -> ExternalError:
        return ExternalError(f"registry {self.registry.host}: {what} in {self.repository} answered HTTP {status}")

    # -- manifests ---------------------------------------------------------
    def get_manifest(self, ref: str, etag: str | None = None,
                     max_bytes: int = VERSION_MAX) -> tuple[bytes | None, str | None]:
        """A manifest and its digest; (None, etag) when unchanged; (None, None) when absent.

        At most ``max_bytes`` are read (IntegrityError when the manifest is larger).
        """
        headers = {"Accept": OCI_MANIFEST}
        if etag:
            headers["If-None-Match"] = f'"{etag}"'
        r = self.registry.request("GET", self._path("manifests", ref), headers=headers, max_bytes=max_bytes)
        if r.status == 304:
            return None, etag
        if r.status == 404:
            return None, None
        if r.status != 200:
            raise self._unexpected(f"GET manifest {ref}", r.status)
        check_length(r.body, max_bytes, f"{self.url}: manifest {ref}")
        digest = sha256_digest(r.body)
        if etag and digest == etag:
            return None, etag
        return r.body, digest

    def head_manifest(self, ref: str) -> str | None:
        r = self.registry.request("HEAD", self._path("manifests", ref), headers={"Accept": OCI_MANIFEST})
        if r.status == 404:
            return None
        if r.status != 200:
            raise self._unexpected(f"HEAD manifest {ref}", r.status)
        return r.header("Docker-Content-Digest") or self.get_manifest(ref)[1]

    def put_manifest(self, ref: str, doc: bytes) -> str:
        r = self.registry.request("PUT", self._path("manifests", ref), doc, {"Content-Type": OCI_MANIFEST})
        for delay in (0.1, 0.3, 0.6):
            # Concurrent uploads of the same blob make distribution rewrite its link file, and a
            # manifest PUT that reads it meanwhile sees MANIFEST_BLOB_UNKNOWN for a moment.
            if r.status != 400 or b"BLOB_UNKNOWN" not in r.body:
                break
            time.sleep(delay)
            r = self.registry.request("PUT", self._path("manifests", ref), doc, {"Content-Type": OCI_MANIFEST})
        if r.status not in (200, 201):
            raise self._unexpected(f"PUT manifest {ref}: {r.body[:200]!r}", r.status)
        return sha256_digest(doc)

    # -- blobs -------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        r = self.registry.request("HEAD", self._path("blobs", check_digest(digest)))
        return r.status == 200

    def put_blob(self, digest: str, data: bytes) -> None:
        verified(check_digest(digest), data, "the upload")
        r = self.registry.request("POST", f"/v2/{self.repository}/blobs/uploads/", b"")
        location = r.header("Location")
        if r.status != 202 or not location:
            raise self._unexpected("start blob upload", r.status)
        sep = "&" if "?" in location else "?"
        r = self.registry.request("PUT", f"{location}{sep}digest={digest}", data,
                                  {"Content-Type": "application/octet-stream"})
        if r.status not in (201, 204):
            raise self._unexpected(f"upload of blob {digest}", r.status)

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        """The verified blob; BodyTooLarge (exit 5) once more than ``max_bytes`` arrive."""
        r = self.registry.request("GET", self._path("blobs", check_digest(digest)), max_bytes=max_bytes)
        if r.status == 404:
            raise IntegrityError(f"blob {digest} is missing from {self.url}")
        if r.status != 200:
            raise self._unexpected(f"GET blob {digest}", r.status)
        return verified(digest, check_length(r.body, max_bytes, f"blob {digest} in {self.url}"), self.url)

    def _artifact(self, artifact_type: str, title: str, doc: bytes, subject: bytes) -> bytes:
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
        })

    def _artifact_doc(self, manifest: bytes, artifact_type: str, ref: str, max_bytes: int) -> bytes:
        try:
            value: Any = json.loads(manifest)
            layer = value["layers"][0]
            ok = value.get("artifactType") == artifact_type
        except (ValueError, KeyError, IndexError, TypeError):
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

    def _tags(self) -> list[str]:
        tags: list[str] = []
        path: str | None = f"/v2/{self.repository}/tags/list?n=1000"
        while path:
            r = self.registry.request("GET", path)
            if r.status == 404:
                return []
            if r.status != 200:
                raise self._unexpected("list tags", r.status)
            tags += json.loads(r.body).get("tags") or []
            link = re.match(r"<([^>]+)>", r.header("Link") or "")
            path = link.group(1) if link else None
        return tags

    def list_versions(self) -> list[str]:
        return sorted(t for t in self._tags() if _VERSION_TAG.match(t))

    def _sig_tag(self, version_doc: bytes) -> str:
        return sha256_digest(version_doc).replace(":", "-") + ".sig"

    def get_signatures(self, version: str) -> bytes | None:
        doc = self.get_version(version)
        if doc is None:
            return None
        manifest, _ = self.get_manifest(self._sig_tag(doc), max_bytes=POINTER_MAX)
        if manifest is None:
            return None
        return self._artifact_doc(manifest, SIGNATURES_TYPE, self._sig_tag(doc), SIGNATURES_MAX)

    def put_signatures(self, version: str, doc: bytes, version_doc: bytes) -> None:
        manifest = self._artifact(SIGNATURES_TYPE, "signatures.json", doc, version_doc)
        self.put_manifest(self._sig_tag(version_doc), manifest)

    # -- channels ----------------------------------------------------------
    def get_channel(self, name: str, etag: str | None = None) -> ChannelRead:
        manifest, digest = self.get_manifest(check_channel(name), etag, max_bytes=POINTER_MAX)
        if manifest is None:
            return ChannelRead(None, digest, not_modified=digest is not None)
        return ChannelRead(self._artifact_doc(manifest, CHANNEL_TYPE, name, POINTER_MAX), digest)

    def put_channel(self, name: str, doc: bytes, if_match: str | None, version_doc: bytes) -> None:
        manifest = self._artifact(CHANNEL_TYPE, "channel.json", doc, version_doc)
        if self.head_manifest(check_channel(name)) != if_match:
            raise ConflictError(f"channel {name} changed in {self.url} while it was being updated")
        self.put_manifest(name, manifest)
        if self.head_manifest(name) != sha256_digest(manifest):
            raise ConflictError(f"channel {name} in {self.url} was re-tagged by someone else meanwhile")

    def list_channels(self) -> list[str]:
        return sorted(t for t in self._tags() if not _VERSION_TAG.match(t) and not t.endswith(".sig"))
