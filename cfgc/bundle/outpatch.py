"""Rewriting an out state in place (:mod:`cfgc.bundle.outstate`): only the numbers that changed and the tail.

An in-place build of one changed file changes a few stat stamps, the
manifest's spans and the small :data:`~cfgc.bundle.outpack.VOLATILE` fields;
packing and writing the whole 2.7 MB state again (10,000 targets) cost
20-26 ms of a ~0.3 s build.  The state read by :func:`cfgc.bundle.outstate.load`
is remembered (:func:`loaded`), and the next save of the same file writes the
64 KiB pieces of the fixed-width parts that differ, the new tail, and a new
MAC over the whole new body, which is computed in memory: from the chunk
digests the load computed, with only the chunks these writes touched hashed
again (:mod:`cfgc.bundle.outmac`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.bundle import outmac
from cfgc.bundle.outpack import VOLATILE, Layout, Packed, regions, tail

if TYPE_CHECKING:
    from cfgc.bundle.outstate import OutState

@dataclass(frozen=True)
class Loaded:
    """The last state this process loaded, as read: what :func:`patch` may rewrite in place."""

    body: memoryview
    layout: Layout
    state: OutState
    file: tuple[int, int, int]  # device, inode and size of the file it was read from
    chunks: bytes  # the body's chunk digests (:func:`cfgc.bundle.outmac.digests`)


_LOADED: dict[Path, Loaded] = {}


def loaded(path: Path, state: Loaded) -> None:
    """Remember the state just read from ``path`` (only the last one: it holds the whole body)."""
    _LOADED.clear()
    _LOADED[path] = state


def patch(path: Path, state: OutState, mac: Callable[[int, bytes], bytes], mac_at: int, header: int) -> bool:
    """Write ``state`` over the file at ``path`` by rewriting only what changed since it was
    loaded (:func:`loaded`): the fixed-width numbers that differ (in 64 KiB pieces), the tail
    and the MAC of the whole new body (``mac(length, chunk digests)``, at offset ``mac_at``;
    the body at ``header``); False when the state cannot be patched
    (other names, files or lengths; the file replaced since) and is to be written whole.

    Crash-safe without a rename: the MAC covers the whole new body, so a file with some of
    these writes and not others fails authentication and reads as no state (a full build).
    Under the lock of ``OUT``, no other cfgc process writes this file meanwhile.
    """
    loaded = _LOADED.pop(path, None)
    if loaded is None:
        return False
    old = loaded.state
    fixed = loaded.layout.fixed
    if any(getattr(state, k) != v for k, v in fixed.items()) or (
            state.paths != old.paths or state.bundle != old.bundle or state.counts != old.counts
            or state.layers != old.layers):
        return False
    try:
        new = regions(Packed(state.paths, state.stamps, state.digests, state.bundle, state.bundle_stamps,
                             state.spans, state.counts, state.layers))
        end = tail({k: getattr(state, k) for k in VOLATILE})
    except (ValueError, TypeError, OverflowError):
        return False
    if any(len(b) != stop - start for b, (start, stop) in zip(new, loaded.layout.regions, strict=True)):
        return False
    body = bytearray(loaded.body[: loaded.layout.tail])
    writes: list[tuple[int, bytes]] = []
    for data, (start, stop) in zip(new, loaded.layout.regions, strict=True):
        for at in range(start, stop, _PIECE):
            piece = data[at - start : min(at + _PIECE, stop) - start]
            if body[at : at + len(piece)] != piece:
                body[at : at + len(piece)] = piece
                writes.append((at, piece))
    start = len(body)
    body += end
    tag = mac(len(body), outmac.updated(loaded.chunks, body,
                                        [(at, at + len(piece)) for at, piece in writes] + [(start, len(body))]))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino, st.st_size) != loaded.file:
            return False  # not the file that was read (replaced, or pruned and written again)
        for at, piece in writes:
            os.pwrite(fd, piece, header + at)
        os.pwrite(fd, end, header + loaded.layout.tail)
        os.ftruncate(fd, header + len(body))
        os.pwrite(fd, tag, mac_at)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)  # half written: it would fail authentication anyway
        return True
    finally:
        os.close(fd)
    return True


_PIECE = 64 * 1024
