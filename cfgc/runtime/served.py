"""The agent's verification through its fork server (runtime/forkserver.py): what a request carries.

The server's children are copies of the agent as it started, not as it runs: they have the store,
the trusted keys and the cache's location (:class:`Context`), but not the version served now nor
the pointer policy's latest state.  So a fetch request carries the channel read, the serial floor,
the current version's pointer and its file index, and the policy; the current version's files
reach the child as the sealed memory file they are mapped from (``SCM_RIGHTS``), mapped read-only
there, so a changed version still downloads only what neither that version nor the disk cache has.
The answer is the one :mod:`cfgc.runtime.forked` defines, checked the same way.
"""

from __future__ import annotations

import mmap
import os
from array import array
from dataclasses import dataclass
from typing import Any

from cfgc.bundle.signing import Verifier
from cfgc.runtime import forked
from cfgc.runtime.cache import BundleCache
from cfgc.runtime.fetch import Verified, fetch_changed
from cfgc.runtime.forkserver import ForkServer
from cfgc.runtime.freshness import PointerPolicy
from cfgc.runtime.isolate import real_verifiers
from cfgc.runtime.pack import PackedFiles, StringTable
from cfgc.stores.base import ChannelRead, Store
from cfgc.stores.pointer import Pointer


@dataclass(frozen=True)
class Context:
    """What the fork server's children verify with, fixed when the agent starts.

    The store (its pooled connections dropped in the server), the trusted keys (stand-ins:
    public keys only, runtime/isolate.py) and the disk cache's location.
    """

    store: Store
    verifiers: list[Verifier]
    cache: BundleCache | None

    def prepare(self) -> None:
        """In the server, first: the agent's pooled connections stay the agent's, and an age
        key given inline (``SOPS_AGE_KEY``) leaves the server's environment, so no child has it."""
        self.store.forget_connections()
        os.environ.pop("SOPS_AGE_KEY", None)


def fetch(server: ForkServer, channel: str, patterns: tuple[str, ...], read: ChannelRead, *, min_serial: int,
          current: Verified | None, policy: PointerPolicy) -> tuple[Verified | None, str | None]:
    """:func:`forked.fetch` in a child of ``server``: the version (None when unchanged), why a target is not JSON."""
    with forked.shared() as fd:
        files = current.files if current is not None else None
        held = forked.version_fd(files)
        names = (list(files), list(files.ends)) if isinstance(files, PackedFiles) and held is not None else None
        cur = (current.pointer, current.etag) if current is not None else None
        header, blobs = server.run(_fetch, (channel, patterns, read, min_serial, cur, names, policy),
                                   fds=(fd,) if held is None or names is None else (fd, held))
        return forked.verified_of(header, blobs, fd), forked.message_of(header)


def load_cache(server: ForkServer) -> tuple[tuple[Verified, float] | None, str | None]:
    """:func:`forked.load_cache` in a child of ``server`` (its cache)."""
    with forked.shared() as fd:
        header, blobs = server.run(_load, fds=(fd,))
        return forked.loaded_of(header, blobs, fd)


def _fetch(ctx: Context, fds: list[int], channel: str, patterns: tuple[str, ...], read: ChannelRead,
           min_serial: int, cur: tuple[Pointer, str | None] | None, names: tuple[list[str], list[int]] | None,
           policy: PointerPolicy) -> tuple[dict[str, Any], list[Any]]:
    """In a child of the server: :func:`fetch`'s work, from what the request carried."""
    fd = fds[0]
    # All fetch_changed reads of the current version is its pointer (the serial checks): the agent
    # released its manifest bytes (snapshot.build), so there is no same-manifest shortcut there either.
    current = None if cur is None else Verified(cur[0], b"", cur[1], b"", b"", (), {})
    files: PackedFiles | None = None
    if names is not None and len(fds) > 1:
        size = names[1][-1] if names[1] else 0
        files = PackedFiles(StringTable(names[0]), array("Q", names[1]),
                            mmap.mmap(fds[1], max(size, 1), flags=mmap.MAP_SHARED, prot=mmap.PROT_READ))
    cached = forked.lookup(files, ctx.cache)

    def answer(made: list[list[str | None]]) -> tuple[dict[str, Any], list[Any]]:
        ctx.store.forget_connections()
        v = fetch_changed(ctx.store, real_verifiers(ctx.verifiers), channel, patterns, read, min_serial=min_serial,
                          current=current, cached=cached, check=policy.check, writer=forked.writer(fd, made))
        return forked.verified_answer(v, {"not_json": forked.not_json(v) if v is not None else None})

    return forked.sealed(fd, answer)


def _load(ctx: Context, fds: list[int]) -> tuple[dict[str, Any], list[Any]]:
    """In a child of the server: :func:`load_cache`'s work."""
    cache = ctx.cache
    if cache is None:
        return forked.verified_answer(None)
    return forked.sealed(fds[0], lambda made: forked.load_answer(cache, ctx.verifiers, fds[0], made))
