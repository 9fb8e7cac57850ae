"""A bundle store in a local (or shared, POSIX) directory: ``file:///abs/path``.

Layout::

    blobs/sha256/<hex>          write-once blobs
    versions/<version>.json     version documents (create-only)
    signatures/<version>.json   signature documents
    channels/<name>.json        channel pointers (compare-and-swap under a lock)

Every file is written to a temporary name in its final directory and then
published atomically: blobs and versions with ``link()`` (which fails if the
name exists, so concurrent writers cannot replace each other), signatures
and channels with ``rename()`` under an exclusive ``flock`` on ``.lock``.
A failed write or a Ctrl-C leaves no ``.tmp-*`` file; a killed writer may
leave one that no reader sees.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from cfgc.base.bounded_read import NotRegular
from cfgc.base.bounded_read import read_capped as read_regular_capped
from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.base.fslock import locked
from cfgc.base.interrupts import temp_file
from cfgc.stores.base import (
    ChannelRead,
    ConflictError,
    check_channel,
    check_version,
    digest_hex,
    verified,
)
from cfgc.stores.bounds import MANIFEST_MAX, POINTER_MAX, SIGNATURES_MAX, VERSION_MAX, check_length


class FileStore:
    """Store bundles below a directory."""

    def __init__(self, root: Path, must_exist: bool = False) -> None:
        """``must_exist``: a reader's store; a missing directory is an error (exit 4), not an
        empty store.  A publisher's store (the default) is created by the first write."""
        self.root = root
        self.must_exist = must_exist

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    def forget_connections(self) -> None:
        """Nothing to drop: a file store holds no connections."""

    # -- helpers -----------------------------------------------------------
    def _exists(self) -> None:
        if self.must_exist and not self.root.is_dir():
            raise ExternalError(f"store {self.url} does not exist: no directory {self.root}")

    def _blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest_hex(digest)

    def _read(self, path: Path, limit: int) -> bytes | None:
        """The file's bytes; reads at most ``limit`` + 1 of them (IntegrityError when larger)."""
        self._exists()
        try:
            # Non-blocking and a regular file only: a FIFO planted in a store must
            # not make a reader wait for a writer forever.
            return check_length(read_regular_capped(path, limit), limit, self._what(path))
        except NotRegular:
            raise IntegrityError(f"{self._what(path)} is not a regular file") from None
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ExternalError(f"cannot read {path}: {e.strerror}") from None

    def _what(self, path: Path) -> str:
        return f"{self.url}: {path.relative_to(self.root)}"

    @contextlib.contextmanager
    def _tmp(self, path: Path, data: bytes) -> Iterator[Path]:
        """``data`` in a new temporary file beside ``path``; removed when the block fails or is interrupted."""
        with contextlib.ExitStack() as stack:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                f, name = stack.enter_context(temp_file(path.parent, f".{path.name}.tmp-"))
                with f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise ExternalError(f"cannot write below {self.root}: {e.strerror}") from None
            yield Path(name)

    def _create(self, path: Path, data: bytes) -> bool:
        """Atomically create ``path``; False if it already exists."""
        with self._tmp(path, data) as tmp:
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.root)

    def _replace(self, path: Path, data: bytes) -> None:
        with self._tmp(path, data) as tmp:
            os.replace(tmp, path)

    # -- blobs -------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        self._exists()
        return self._blob_path(digest).is_file()

    def put_blob(self, digest: str, data: bytes) -> None:
        self._create(self._blob_path(digest), verified(digest, data, "the upload"))

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        data = self._read(self._blob_path(digest), max_bytes)
        if data is None:
            raise IntegrityError(f"blob {digest} is missing from {self.url}")
        return verified(digest, data, self.url)

    # -- versions ----------------------------------------------------------
    def get_version(self, version: str) -> bytes | None:
        return self._read(self.root / "versions" / f"{check_version(version)}.json", VERSION_MAX)

    def put_version(self, version: str, doc: bytes) -> bool:
        path = self.root / "versions" / f"{check_version(version)}.json"
        if self._create(path, doc):
            return True
        if self._read(path, VERSION_MAX) != doc:
            raise IntegrityError(f"version {version} already exists in {self.url} with other content; not replaced")
        return False

    def list_versions(self) -> list[str]:
        self._exists()
        d = self.root / "versions"
        return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []

    def get_signatures(self, version: str) -> bytes | None:
        return self._read(self.root / "signatures" / f"{check_version(version)}.json", SIGNATURES_MAX)

    def put_signatures(self, version: str, doc: bytes, version_doc: bytes) -> None:
        with self._locked():
            self._replace(self.root / "signatures" / f"{check_version(version)}.json", doc)

    # -- channels ----------------------------------------------------------
    def get_channel(self, name: str, etag: str | None = None) -> ChannelRead:
        data = self._read(self.root / "channels" / f"{check_channel(name)}.json", POINTER_MAX)
        if data is None:
            return ChannelRead(None, None)
        tag = sha256_digest(data)
        if etag is not None and etag == tag:
            return ChannelRead(None, tag, not_modified=True)
        return ChannelRead(data, tag)

    def put_channel(self, name: str, doc: bytes, if_match: str | None, version_doc: bytes) -> None:
        path = self.root / "channels" / f"{check_channel(name)}.json"
        with self._locked():
            current = self._read(path, POINTER_MAX)
            tag = sha256_digest(current) if current is not None else None
            if tag != if_match:
                raise ConflictError(f"channel {name} changed in {self.url} while it was being updated")
            self._replace(path, doc)

    def list_channels(self) -> list[str]:
        self._exists()
        d = self.root / "channels"
        return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []
