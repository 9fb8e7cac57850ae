"""Read limits: nothing a store serves costs more than a documented or signed size.

Every read from a store stops at a bound (it streams and reads at most one
byte past it, which proves the object too large):

* a channel pointer at :data:`POINTER_MAX`, a version document at
  :data:`VERSION_MAX`, a signatures document at :data:`SIGNATURES_MAX`, a
  bundle manifest read without a key at :data:`MANIFEST_MAX`;
* OCI referrers (the referrers API's pages or the referrers tag schema's
  index) at :data:`REFERRERS_MAX` bytes a page, :data:`MAX_REFERRER_PAGES`
  pages and :data:`MAX_REFERRERS` descriptors in all; at most
  :data:`MAX_POINTER_TRIES` channel pointer artifacts are read per channel;
* a target, prompt or SOPS blob at :func:`compressed_bound` of the size the
  (signed) bundle manifest gives, and its gzip stream is inflated only up to
  that size (:func:`gunzip`).  No file may claim more than :data:`FILE_MAX`;
* an OCI tag listing at :data:`TAGS_MAX` bytes a page, :data:`MAX_TAG_PAGES`
  pages and :data:`MAX_LISTED_TAGS` tags kept (only those the caller asks
  for are kept, page by page); any other registry reply (an upload's, an error's) at :data:`REPLY_MAX`.

Exceeding a bound is an integrity failure (exit 5) naming the object.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

from cfgc.base.errors import IntegrityError

KIB = 1024
MIB = 1024 * KIB
POINTER_MAX = 64 * KIB
VERSION_MAX = 8 * MIB
SIGNATURES_MAX = 24 * MIB
MANIFEST_MAX = 8 * MIB
FILE_MAX = 64 * MIB
REFERRERS_MAX = 1 * MIB
MAX_REFERRER_PAGES = 16
MAX_REFERRERS = 1000
MAX_POINTER_TRIES = 4
# A tag listing page (1,000 tags are asked for a page), and the pages followed:
# a registry that links page after page would otherwise be listed forever.
TAGS_MAX = 4 * MIB
MAX_TAG_PAGES = 1000
# Tags of the kind asked for (versions, or channels) kept from one listing.
MAX_LISTED_TAGS = 200_000
# A reply whose caller names no bound of its own (PUT, POST, HEAD, DELETE, errors).
REPLY_MAX = 1 * MIB
# Signatures checked on one manifest envelope (each costs a verification).
MAX_SIGNATURES = 16
_CHUNK = MIB


def compressed_bound(size: int) -> int:
    """The most bytes the gzip blob of a ``size``-byte file may take.

    Deflate's worst case (incompressible input, stored blocks) adds 5 bytes
    per 16 KiB block plus an 18-byte gzip header and trailer; 1/256 of the
    size plus 1 KiB covers that with room to spare.
    """
    return size + size // 256 + KIB


def read_capped(read: Callable[[int], bytes], limit: int, what: str) -> bytes:
    """Read a stream to its end, but never more than ``limit`` + 1 bytes (IntegrityError then)."""
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            raise too_large(what, limit)


def check_length(data: bytes, limit: int, what: str) -> bytes:
    """``data`` if it is at most ``limit`` bytes long."""
    if len(data) > limit:
        raise too_large(what, limit)
    return data


def too_large(what: str, limit: int) -> IntegrityError:
    return IntegrityError(f"{what} is larger than its limit of {limit} bytes; not read further")


def signed_size(entry: Mapping[str, Any], what: str) -> int:
    """The size a manifest entry gives for a file (0..FILE_MAX bytes)."""
    size = entry.get("size")
    if type(size) is not int or not 0 <= size <= FILE_MAX:
        raise IntegrityError(f"{what}: the bundle manifest gives no usable size ({size!r}; at most {FILE_MAX})")
    return size


def gunzip(data: bytes, size: int, what: str) -> bytes:
    """Inflate one gzip member, stopping as soon as the output exceeds ``size`` bytes."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, size + 1)
    except zlib.error:
        raise IntegrityError(f"{what} does not decompress (corrupt gzip)") from None
    if len(out) > size:
        raise IntegrityError(f"{what} decompresses to more than the {size} bytes the signed manifest gives "
                             "(a decompression bomb?); stopped")
    if not d.eof or d.unused_data:
        raise IntegrityError(f"{what} does not decompress to one complete gzip stream (truncated or padded)")
    return out
