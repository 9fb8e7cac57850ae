"""Result files of ``cfgc check`` in the build cache folder, sealed with HMAC-SHA256.

The folder is untrusted (:mod:`cfgc.bundle.cache_index`): a file is read only
within a size bound and its body is returned only when its MAC, under the cache
key that never lives in the folder, matches.  Used by
:mod:`cfgc.review.policy_cache` and :mod:`cfgc.review.check_cache`.

Layout::

    <magic line>\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body>
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson

from cfgc import __version__
from cfgc.base.bounded_read import NotRegular, read_capped


def _mac(key: bytes, magic: bytes, body: bytes) -> bytes:
    # The magic line is under the MAC too: one kind of file's authentic body
    # never passes for another's (both are sealed under the same cache key).
    return hmac.new(key, magic + body, hashlib.sha256).hexdigest().encode()


def read_sealed(path: Path, magic: bytes, key: bytes, max_bytes: int) -> bytes:
    """The body of ``path``; ValueError when it is not ours (too big, another
    magic, edited, truncated or written under another key), OSError when unreadable."""
    # Non-blocking and a regular file only: a FIFO planted in the cache folder
    # must not make a diff or a check wait for a writer.
    try:
        data = read_capped(path, max_bytes)
    except NotRegular:
        raise ValueError("not a regular file") from None
    if len(data) > max_bytes or not data.startswith(magic):
        raise ValueError("not a cfgc result file")
    mac, sep, body = data[len(magic):].partition(b"\n")
    if not sep or not hmac.compare_digest(mac, _mac(key, magic, body)):
        raise ValueError("edited, truncated or written under another key")
    return body


def write_sealed(path: Path, magic: bytes, key: bytes, body: bytes) -> bool:
    """Replace ``path`` atomically (readers see the old file or the new one);
    False when it could not be written, which a cache ignores."""
    data = magic + _mac(key, magic, body) + b"\n" + body
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


_NAME = re.compile(r"[0-9a-f]{64}")


class SealedFolder:
    """JSON documents named by a SHA-256 hex digest, each sealed under the cache key
    (:func:`cfgc.bundle.cache_index.cache_key`), written by this cfgc version and
    naming its own name in ``name_field`` (a file renamed to another's name is not
    that document); at most ``keep`` are kept, the least recently written go first.
    No cache key: nothing is read or written.  Failures are misses: it is a cache.
    """

    def __init__(self, folder: Path, magic: bytes, max_bytes: int, keep: int, name_field: str) -> None:
        from cfgc.bundle.cache_index import cache_key

        self.folder, self._magic, self._max, self._keep, self._field = folder, magic, max_bytes, keep, name_field
        try:
            self.key: bytes | None = cache_key()
        except (OSError, ValueError):
            self.key = None

    def load(self, name: str) -> dict[str, Any] | None:
        """The document kept under ``name``, or None (absent, not ours or malformed)."""
        if self.key is None or not _NAME.fullmatch(name):
            return None
        try:
            doc = orjson.loads(read_sealed(self.folder / name, self._magic, self.key, self._max))
        except (OSError, ValueError):
            return None
        if type(doc) is not dict or doc.get("cfgc") != __version__ or doc.get(self._field) != name:
            return None
        return doc

    def save(self, name: str, doc: dict[str, Any]) -> None:
        """Keep ``doc`` under ``name`` (with this version and its name added)."""
        if self.key is None or not _NAME.fullmatch(name):
            return
        try:
            body = orjson.dumps({"cfgc": __version__, self._field: name, **doc})
        except TypeError:
            return
        if write_sealed(self.folder / name, self._magic, self.key, body):
            self._trim()

    def _trim(self) -> None:
        try:
            found = [(e.stat().st_mtime_ns, e.path) for e in os.scandir(self.folder)
                     if _NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
            for _, path in sorted(found)[: -self._keep]:
                os.unlink(path)
        except OSError:
            pass
