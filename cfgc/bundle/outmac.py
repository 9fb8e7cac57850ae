"""The out state's authentication tag (:mod:`cfgc.bundle.outstate`): keyed BLAKE2b over the
digests of the body's 64 KiB chunks, so that a patched save rehashes only what it rewrote.

An in-place build rewrites a few pieces of a state of 2.7 MB (10,000 targets,
:mod:`cfgc.bundle.outpatch`); a tag over the whole body cost its save about 37 M
instructions (8 ms) every time.  Here the tag is keyed BLAKE2b-512 over the body's
length and the BLAKE2b-256 digest of each :data:`CHUNK` of it, in order: the load
still hashes every byte (a state is authenticated before any byte of it is
parsed), and remembers the digests; the save recomputes the digests of the chunks
it changed (:func:`updated`).  As strong as a tag over the body: two bodies with
the same length and chunk digests differ nowhere unless BLAKE2b-256 collides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

CHUNK = 64 * 1024
DIGEST = 32  # bytes of a chunk's digest
TAG_CHARS = 128  # hex of the 64-byte tag
PERSON = b"cfgc-out-state9"  # BLAKE2b's personalisation (at most 16 bytes): the format the tag is for


def digests(body: bytes | bytearray | memoryview) -> bytes:
    """The digest of every :data:`CHUNK` of ``body``, concatenated."""
    view = memoryview(body)
    return b"".join(hashlib.blake2b(view[at : at + CHUNK], digest_size=DIGEST).digest()
                    for at in range(0, len(view), CHUNK))


def tag(key: bytes, length: int, chunks: bytes | bytearray) -> bytes:
    """The hex tag of a body of ``length`` bytes whose chunk digests are ``chunks``."""
    k = hashlib.sha256(key).digest() if len(key) > 64 else key
    # The personalisation keeps this format's tags apart from any other use of the key.
    return hashlib.blake2b(length.to_bytes(8, "big") + bytes(chunks), key=k, person=PERSON).hexdigest().encode()


def updated(chunks: bytes, body: bytes | bytearray, dirty: Iterable[tuple[int, int]]) -> bytes:
    """The chunk digests of ``body``, given ``chunks`` of a body that differs from it only
    within the ``dirty`` ranges (start, stop) and in length (the chunks past the shorter
    length are rehashed: mark the changed end dirty)."""
    view = memoryview(body)
    count = -(-len(view) // CHUNK)
    had = len(chunks) // DIGEST
    out = bytearray(chunks[: DIGEST * count])
    redo = set(range(len(out) // DIGEST, count))  # chunks the old body did not have
    # The last chunk of either body may have been cut short or grown.
    redo.update(i for i in (had - 1, count - 1) if 0 <= i < count)
    for start, stop in dirty:
        redo.update(range(start // CHUNK, min(-(-stop // CHUNK), count)))
    out.extend(bytes(DIGEST * count - len(out)))
    for i in redo:
        out[DIGEST * i : DIGEST * (i + 1)] = hashlib.blake2b(view[CHUNK * i : CHUNK * (i + 1)],
                                                             digest_size=DIGEST).digest()
    return bytes(out)
