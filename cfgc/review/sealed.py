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
import tempfile
from pathlib import Path

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
