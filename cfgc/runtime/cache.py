"""The runtime's on-disk cache: the last verified version, kept to start without the source.

Layout below the cache directory (directories 0700, files and ``.lock`` 0600;
wrong modes found on an existing cache are corrected, see :meth:`BundleCache.secure`)::

    blobs/sha256/<hex>     content-addressed files: bundle manifest, targets,
                           prompt templates, SOPS documents (still encrypted)
    state/<key>.json       per (source, channel, targets): the signed channel
                           pointer, its ETag, the manifest signature envelope,
                           the newest serial seen, when it was fetched

Nothing read back is trusted: loading re-verifies the pointer and manifest
signatures and every digest, exactly as a download is verified.  A blob whose
bytes no longer match its name is deleted (and downloaded again by the next
refresh).  A blob's name is always the 64 hex digits of a checked digest
(:func:`cfgc.stores.base.digest_hex`), so no digest read from a document can
name a file outside ``blobs/sha256``.  Writes are atomic (temporary file, ``fsync``, ``rename``), and a
version is written only after it verified, so a failed refresh leaves the
cache as it was.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import NotRegular, read_capped, read_file
from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import InputError, IntegrityError
from cfgc.bundle.signing import Verifier
from cfgc.runtime.fetch import (
    Verified,
    check_manifest_signature,
    kept_of,
    needed_files,
    parse_manifest,
    select_targets,
)
from cfgc.runtime.pack import PackWriter, StringTable, Writer
from cfgc.runtime.privfile import write_private
from cfgc.stores.base import digest_hex
from cfgc.stores.bounds import FILE_MAX, POINTER_MAX, SIGNATURES_MAX, signed_size
from cfgc.stores.pointer import decode_pointer

FORMAT = "cfgc.runtime-cache/v1"
# A state file holds a pointer and a signature envelope (base64): bounded by their read limits.
STATE_MAX = 2 * (POINTER_MAX + SIGNATURES_MAX)


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
        return self.root / "blobs" / "sha256" / digest_hex(digest)

    def blob(self, digest: str) -> bytes | None:
        """Cached content with this digest (verified), or None; a corrupt file is removed.

        IntegrityError when ``digest`` is not a sha256 digest (it never becomes a path).
        """
        path = self._blob(digest)
        try:
            data = read_capped(path, FILE_MAX, follow_links=False)
        except OSError:
            return None
        except NotRegular:  # a FIFO or a device planted there: not content, removed like a corrupt file
            data = b""
        if sha256_digest(data) != digest:
            self.corrupt_blobs += 1
            path.unlink(missing_ok=True)
            return None
        return data

    # -- state -------------------------------------------------------------
    def read_state(self) -> dict[str, Any] | None:
        try:
            data = read_capped(self.state_path, STATE_MAX)
            if len(data) > STATE_MAX:
                raise CacheError(f"cache {self.state_path} is larger than {STATE_MAX} bytes")
            value = json.loads(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as e:
            raise CacheError(f"cache {self.state_path} is unreadable: {e}") from None
        except NotRegular:
            raise CacheError(f"cache {self.state_path} is not a regular file") from None
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

    def load(self, verifiers: list[Verifier], writer: Writer = PackWriter) -> tuple[Verified, float] | None:
        """The cached version, fully re-verified, and when it was fetched; None if there is none.

        ``writer`` makes the version's map (see :class:`PackWriter`).
        """
        state = self.read_state()
        if state is None:
            return None
        with contextlib.suppress(OSError):
            self.secure()  # a read-only cache still serves; the next write reports the problem
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
        manifest = parse_manifest(raw, pointer.version)
        targets = StringTable(select_targets(manifest, self.patterns, pointer.version))
        needed = needed_files(manifest, targets)
        used, digests = kept_of(pointer.manifest_digest, manifest, targets, needed)
        work = [(path, str(e.get("digest")), signed_size(e, f"cache: {path}")) for path, e in needed.items()]
        del manifest, needed  # before the files are read: a lower peak (see fetch.fetch_version)
        pack = writer(sum(size for _, _, size in work))
        for path, digest, size in work:
            data = self.blob(digest)
            if data is None or len(data) != size:
                raise CacheError(f"cache: {path} of version {pointer.version} is missing or corrupt")
            pack.add(path, data, digest)
        return Verified(pointer, pointer_doc, etag, raw, signature, targets, pack.finish(), used=used,
                        digests=digests), fetched_at

    def save(self, v: Verified, serial_seen: int, fetched_at: float | None = None) -> None:
        """Write a verified version (new blobs first, then the state), then drop unused blobs."""
        with self._locked():
            for digest, data in v.new_blobs.items():
                if not self._blob(digest).is_file():
                    write_private(self._blob(digest), data)
            if v.digests:  # taken when the manifest was parsed to verify: not parsed again
                digests = sorted(v.digests)
            else:
                digests = sorted({v.pointer.manifest_digest} | {str(e["digest"]) for e in
                                                                needed_files(v.manifest, v.targets).values()})
            state = {
                "format": FORMAT, "source": self.source, "channel": self.channel, "targets": list(self.patterns),
                "version": v.version, "serial": v.pointer.serial, "serial_seen": max(serial_seen, v.pointer.serial),
                "etag": v.etag, "fetched_at": time.time() if fetched_at is None else fetched_at,
                "pointer": base64.b64encode(v.pointer_doc).decode(),
                "signature": base64.b64encode(v.signature).decode(), "blobs": digests,
            }
            write_private(self.state_path, json.dumps(state, indent=1, sort_keys=True).encode())
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
            write_private(self.state_path, json.dumps(state, indent=1, sort_keys=True).encode())

    def _collect(self) -> None:
        """Remove blobs no state file references (caller holds the lock)."""
        keep: set[str] = set()
        for p in (self.root / "state").glob("*.json"):
            try:
                keep.update(d.removeprefix("sha256:") for d in json.loads(read_file(p)).get("blobs", []))
            except (OSError, ValueError, AttributeError, TypeError, RecursionError, InputError):
                return  # an unreadable state file: keep everything
        for p in (self.root / "blobs" / "sha256").glob("*"):
            if p.name not in keep and not p.name.startswith("."):
                p.unlink(missing_ok=True)

    def secure(self) -> None:
        """Create the layout, and give every directory 0700 and every file 0600.

        Modes found wrong on an existing cache are corrected (the cache holds
        encrypted secrets and the configuration a service runs with).  The
        cache directory itself is created 0700; when it already exists it loses
        its group and other bits only if this user owns it and it is not a
        shared sticky directory such as /tmp.  Symlinks are never followed.
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.stat(self.root)
        if st.st_mode & 0o077 and st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX:
            os.chmod(self.root, 0o700)
        for sub in (self.root / "blobs", self.root / "blobs" / "sha256", self.root / "state"):
            sub.mkdir(exist_ok=True, mode=0o700)
            _fix(sub, 0o700)
        for d in (self.root / "blobs" / "sha256", self.root / "state"):
            for p in d.iterdir():
                _fix(p, 0o600)
        if (self.root / ".lock").exists():
            _fix(self.root / ".lock", 0o600)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold ``.lock`` (created 0600, never through a symlink) for the block."""
        self.secure()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _fix(path: Path, mode: int) -> None:
    """Set ``path``'s permission bits to ``mode`` unless it is a symlink (never followed)."""
    st = os.lstat(path)
    if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
