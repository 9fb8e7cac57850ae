"""The runtime's on-disk cache: the last verified version, kept to start without the source.

Layout below the cache directory (created 0700, files 0600)::

    blobs/sha256/<hex>     content-addressed files: bundle manifest, targets,
                           prompt templates, SOPS documents (still encrypted)
    state/<key>.json       per (source, channel, targets): the signed channel
                           pointer, its ETag, the manifest signature envelope,
                           the newest serial seen, when it was fetched

Nothing read back is trusted: loading re-verifies the pointer and manifest
signatures and every digest, exactly as a download is verified.  A blob whose
bytes no longer match its name is deleted (and downloaded again by the next
refresh).  Writes are atomic (temporary file, ``fsync``, ``rename``), and a
version is written only after it verified, so a failed refresh leaves the
cache as it was.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from cfgc.canonical import sha256_digest
from cfgc.errors import IntegrityError
from cfgc.fslock import locked
from cfgc.runtime.fetch import Verified, check_manifest_signature, needed_files, select_targets
from cfgc.signing import Verifier
from cfgc.stores.pointer import decode_pointer

FORMAT = "cfgc.runtime-cache/v1"


class CacheError(IntegrityError):
    """The cache holds no usable verified version (missing, corrupt, or signed by another key)."""


class BundleCache:
    """A cache directory (thread- and process-safe writes)."""

    def __init__(self, root: Path, source: str, channel: str, patterns: tuple[str, ...]) -> None:
        self.root = root
        key = hashlib.sha256("\0".join([source, channel, *patterns]).encode()).hexdigest()[:24]
        self.state_path = root / "state" / f"{key}.json"
        self.source = source
        self.channel = channel
        self.patterns = patterns
        self.corrupt_blobs = 0

    # -- blobs -------------------------------------------------------------
    def _blob(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def blob(self, digest: str) -> bytes | None:
        """Cached content with this digest (verified), or None; a corrupt file is removed."""
        path = self._blob(digest)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if sha256_digest(data) != digest:
            self.corrupt_blobs += 1
            path.unlink(missing_ok=True)
            return None
        return data

    # -- state -------------------------------------------------------------
    def read_state(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise CacheError(f"cache {self.state_path} is unreadable: {e}") from None
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise CacheError(f"cache {self.state_path} is not a {FORMAT} state file")
        return value

    def serial_seen(self) -> int:
        """The newest channel serial recorded (0 if none or unreadable)."""
        try:
            state = self.read_state()
        except CacheError:
            return 0
        return int(state.get("serial_seen", 0)) if state else 0

    def load(self, verifiers: list[Verifier]) -> tuple[Verified, float] | None:
        """The cached version, fully re-verified, and when it was fetched; None if there is none."""
        state = self.read_state()
        if state is None:
            return None
        try:
            pointer_doc = base64.b64decode(state["pointer"])
            signature = base64.b64decode(state["signature"])
            etag = state.get("etag")
            fetched_at = float(state["fetched_at"])
        except (KeyError, TypeError, ValueError) as e:
            raise CacheError(f"cache {self.state_path} is malformed: {e}") from None
        pointer = decode_pointer(self.channel, pointer_doc, verifiers)
        raw = self.blob(pointer.manifest_digest)
        if raw is None:
            raise CacheError(f"cache: the manifest of version {pointer.version} is missing or corrupt")
        check_manifest_signature(raw, signature, verifiers, pointer.version)
        manifest = json.loads(raw)
        targets = select_targets(manifest, self.patterns, pointer.version)
        files: dict[str, bytes] = {}
        for path, entry in needed_files(manifest, targets).items():
            data = self.blob(str(entry.get("digest")))
            if data is None:
                raise CacheError(f"cache: {path} of version {pointer.version} is missing or corrupt")
            files[path] = data
        return Verified(pointer, pointer_doc, etag, raw, signature, targets, files), fetched_at

    def save(self, v: Verified, serial_seen: int, fetched_at: float | None = None) -> None:
        """Write a verified version (new blobs first, then the state), then drop unused blobs."""
        with self._locked():
            for digest, data in v.new_blobs.items():
                if not self._blob(digest).is_file():
                    _write(self._blob(digest), data)
            manifest = v.manifest
            digests = sorted({v.pointer.manifest_digest} | {str(e["digest"]) for e in
                                                            needed_files(manifest, v.targets).values()})
            state = {
                "format": FORMAT, "source": self.source, "channel": self.channel, "targets": list(self.patterns),
                "version": v.version, "serial": v.pointer.serial, "serial_seen": max(serial_seen, v.pointer.serial),
                "etag": v.etag, "fetched_at": time.time() if fetched_at is None else fetched_at,
                "pointer": base64.b64encode(v.pointer_doc).decode(),
                "signature": base64.b64encode(v.signature).decode(), "blobs": digests,
            }
            _write(self.state_path, json.dumps(state, indent=1, sort_keys=True).encode())
            self._collect()

    def touch(self, etag: str | None) -> None:
        """Record a successful no-change poll (fetched_at, ETag) without rewriting blobs."""
        with self._locked():
            try:
                state = self.read_state()
            except CacheError:
                return
            if state is None:
                return
            state["fetched_at"] = time.time()
            state["etag"] = etag
            _write(self.state_path, json.dumps(state, indent=1, sort_keys=True).encode())

    def _collect(self) -> None:
        """Remove blobs no state file references (caller holds the lock)."""
        keep: set[str] = set()
        for p in (self.root / "state").glob("*.json"):
            try:
                keep.update(d.removeprefix("sha256:") for d in json.loads(p.read_bytes()).get("blobs", []))
            except (OSError, ValueError, AttributeError):
                return  # an unreadable state file: keep everything
        for p in (self.root / "blobs" / "sha256").glob("*"):
            if p.name not in keep and not p.name.startswith("."):
                p.unlink(missing_ok=True)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.root, mode=0o700)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
