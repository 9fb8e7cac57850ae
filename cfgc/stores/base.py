"""The one small interface every bundle store implements.

A store holds four kinds of things:

* **blobs**, keyed by ``sha256:<hex>`` of their bytes (targets and prompts
  gzip-compressed, the bundle manifest as is); write-once;
* **versions**: one document per version id (an OCI image manifest listing
  the blobs, see :mod:`cfgc.stores.layout`); immutable;
* **signatures** of a version: the DSSE envelopes of its manifest and
  provenance; may gain signatures, never loses them;
* **channels**: small signed pointer documents naming a version, updated
  only by compare-and-swap (``if_match`` is the ETag last read, or None to
  create).

Readers (``cfgc pull``, the runtime client) need only ``get_channel``,
``get_version`` and ``get_blob``; every read that is keyed by a digest is
verified, and a mismatch raises IntegrityError.  Every read is bounded
(:mod:`cfgc.stores.bounds`): documents by fixed limits, blobs by the
``max_bytes`` the caller derives from the signed manifest; a store streams and
stops one byte past the bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import ExternalError, IntegrityError, UsageError
from cfgc.stores.bounds import MANIFEST_MAX

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_VERSION = re.compile(r"^[0-9a-f]{12}$")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class ConflictError(ExternalError):
    """A conditional write lost a race (someone else wrote first)."""


@dataclass(frozen=True)
class ChannelRead:
    """The result of reading a channel pointer.

    ``data`` is None when the channel does not exist or, with
    ``not_modified`` set, when it still has the ETag the caller passed.
    """

    data: bytes | None
    etag: str | None
    not_modified: bool = False


class Store(Protocol):
    """A bundle store (file directory, S3 prefix or OCI repository)."""

    @property
    def url(self) -> str: ...

    def has_blob(self, digest: str) -> bool:
        """Whether a blob is present (not verified)."""
        ...

    def forget_connections(self) -> None:
        """Drop pooled connections without closing them for the peer (in a forked child).

        A child that used its parent's pooled connection would leave the parent's TLS state
        out of step with the server's; the child calls this first and opens its own.
        """
        ...

    def put_blob(self, digest: str, data: bytes) -> None:
        """Store a blob; a blob already present is left alone."""
        ...

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        """A blob's bytes, verified against ``digest`` (IntegrityError if they differ).

        At most ``max_bytes`` are read; a larger blob is an IntegrityError.
        """
        ...

    def get_version(self, version: str) -> bytes | None:
        """The version document (at most VERSION_MAX bytes), or None."""
        ...

    def put_version(self, version: str, doc: bytes) -> bool:
        """Create a version; False if the identical document exists; IntegrityError if another does."""
        ...

    def list_versions(self) -> list[str]:
        """Every version id, sorted."""
        ...

    def get_signatures(self, version: str) -> bytes | None:
        """The signatures document of a version (at most SIGNATURES_MAX bytes), or None."""
        ...

    def put_signatures(self, version: str, doc: bytes, version_doc: bytes) -> None:
        """Write the signatures document of a version (replacing the previous one)."""
        ...

    def get_channel(self, name: str, etag: str | None = None) -> ChannelRead:
        """A channel pointer (at most POINTER_MAX bytes); with ``etag``, a conditional read."""
        ...

    def put_channel(self, name: str, doc: bytes, if_match: str | None, version_doc: bytes) -> None:
        """Compare-and-swap a channel pointer; ConflictError if it changed since ``if_match``."""
        ...

    def list_channels(self) -> list[str]:
        """Every channel name, sorted."""
        ...


def check_digest(digest: object) -> str:
    """``digest`` if it is ``sha256:`` + 64 lower-case hex digits, else IntegrityError.

    Digests come from stored documents; this is the one check every digest
    passes before it becomes part of a path or key (store, runtime cache).
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise IntegrityError(f"not a sha256 digest: {str(digest)[:100]!r}")
    return digest


def digest_hex(digest: object) -> str:
    """The 64 hex digits of a checked digest: the only form a digest takes in a path."""
    return check_digest(digest)[7:]


def check_version(version: str) -> str:
    """``version`` if it is a version id (12 hex digits)."""
    if not _VERSION.fullmatch(version):
        raise UsageError(f"not a version id (12 hex digits): {version!r}")
    return version


def check_channel(name: str) -> str:
    """``name`` if it is a valid channel name (and cannot be mistaken for a version)."""
    if not _CHANNEL.fullmatch(name) or _VERSION.fullmatch(name):
        raise UsageError(
            f"bad channel name {name!r}: lower-case letters, digits, '-' and '_', starting with a letter"
        )
    return name


def verified(digest: str, data: bytes, where: str) -> bytes:
    """``data`` if it hashes to ``digest``; IntegrityError naming ``where`` otherwise."""
    actual = sha256_digest(data)
    if actual != digest:
        raise IntegrityError(f"blob {digest} in {where} is corrupt: its bytes hash to {actual}")
    return data
