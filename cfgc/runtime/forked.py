"""The Syncer's verification in a forked child (runtime/isolate.py): what a child sends of a version.

The child runs :func:`cfgc.runtime.fetch.fetch_changed` or :meth:`BundleCache.load` as an
in-process runtime would, checks each target is JSON (snapshot.check_targets: its refusal comes
back as a message, raised where snapshot.build would raise it), and sends the :class:`Verified`
as a small JSON header and its byte strings; the target files it packs into a memory file
(``memfd``) made before the fork, which the parent maps once the child is gone: the version's
bytes are never copied, and never twice in memory.  :func:`verified_of` checks the answer describes a version
(spans in order, every target file present) before anything is built from it.

The memfd is open in the agent while the child runs, so another process of the agent's user can
open it (``/proc/<agent>/fd/N``) read-write.  So the child, once its own writable map is gone,
seals it (no write, shrink or grow, no more seals: refused, an IntegrityError, while anyone maps it
writable) and checks the sealed bytes against the digests they verified as (:func:`_seal`); the
parent maps it only with the four seals on (:func:`verified_of`): what is served cannot change.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import mmap
import os
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from typing import Any

from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import CfgcError, InputError, IntegrityError
from cfgc.bundle.signing import Verifier
from cfgc.runtime import isolate, snapshot
from cfgc.runtime.cache import BundleCache
from cfgc.runtime.fetch import BlobLookup, NewBlobs, Verified, fetch_changed
from cfgc.runtime.isolate import real_verifiers
from cfgc.runtime.memory import release_memory
from cfgc.runtime.pack import PackedFiles, PackWriter, StringTable, Writer
from cfgc.runtime.snapshot import BundleSnapshot, check_targets
from cfgc.stores.base import ChannelRead, Store
from cfgc.stores.pointer import Pointer


def fetch(store: Store, verifiers: list[Verifier], channel: str, patterns: tuple[str, ...], read: ChannelRead, *,
          min_serial: int, current: Verified | None, cached: BlobLookup,
          check: Callable[[Pointer], None]) -> tuple[Verified | None, str | None]:
    """``fetch_changed`` in a child: the version (None when unchanged) and why a target is not JSON."""
    with shared() as fd:
        def answer(made: list[list[str | None]]) -> tuple[dict[str, Any], list[Any]]:
            store.forget_connections()  # the parent's pooled connections stay the parent's
            v = fetch_changed(store, real_verifiers(verifiers), channel, patterns, read, min_serial=min_serial,
                              current=current, cached=cached, check=check, writer=writer(fd, made))
            return verified_answer(v, {"not_json": not_json(v) if v is not None else None})

        header, blobs = isolate.run(lambda: sealed(fd, answer))
        return verified_of(header, blobs, fd), message_of(header)


def lookup(files: Mapping[str, bytes] | None, cache: BundleCache | None) -> BlobLookup:
    """Content by digest: ``files`` (the current version's) first, then the disk cache.

    ``files`` are hashed on the first lookup (only a changed version asks): a snapshot does not
    keep the manifest's per-target digests (see fetch.used_manifest).
    """
    mem: dict[str, str] | None = None  # digest -> path (a copy is made only for a file asked for)
    have: Mapping[str, bytes] = files if files is not None else {}

    def find(digest: str) -> bytes | None:
        nonlocal mem
        if mem is None:
            mem = {}
            for name in have:
                view = have.view(name) if isinstance(have, PackedFiles) else have[name]
                mem[sha256_digest(view)] = name
        path = mem.get(digest)
        data = have[path] if path is not None else None
        if data is None and cache is not None:
            data = cache.blob(digest)
        return data

    return find


def load_cache(cache: BundleCache, verifiers: list[Verifier]) -> tuple[tuple[Verified, float] | None, str | None]:
    """``cache.load`` in a child: (the version, when it was fetched) or None, and as :func:`fetch`."""
    with shared() as fd:
        header, blobs = isolate.run(lambda: sealed(fd, lambda made: load_answer(cache, verifiers, fd, made)))
        return loaded_of(header, blobs, fd)


def loaded_of(header: dict[str, Any], blobs: list[Any], fd: int) -> tuple[tuple[Verified, float] | None, str | None]:
    """What :func:`load_cache`'s child answered: (the version, when it was fetched) or None, and as :func:`fetch`."""
    v = verified_of(header, blobs, fd)
    try:
        return (None if v is None else (v, float(header["fetched_at"]))), message_of(header)
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("the verifying process gave a malformed answer (fetched_at)") from None


def load_answer(cache: BundleCache, verifiers: list[Verifier], fd: int, made: list[list[str | None]],
                 ) -> tuple[dict[str, Any], list[Any]]:
    loaded = cache.load(real_verifiers(verifiers), writer(fd, made))
    if loaded is None:
        return verified_answer(None)
    return verified_answer(loaded[0], {"fetched_at": loaded[1], "not_json": not_json(loaded[0])})


_HELD: dict[int, int] = {}  # id(PackedFiles) -> a descriptor of its memory file, while it lives


def version_fd(files: object) -> int | None:
    """The memory file a version's files were mapped from (shared with a verifying child), or None."""
    return _HELD.get(id(files))


def _hold(files: PackedFiles, fd: int) -> None:
    """Keep a descriptor of ``fd`` for as long as ``files`` lives (closed by a finaliser)."""
    key, held = id(files), os.dup(fd)
    _HELD[key] = held

    def drop() -> None:
        if _HELD.get(key) == held:
            del _HELD[key]
        os.close(held)

    weakref.finalize(files, drop)


@contextlib.contextmanager
def shared() -> Iterator[int]:
    """A memory file for the version's map: the child fills it, this process maps it (no copy)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("cfgc-version", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    else:  # not Linux (no /proc to open it by, no seals): an unlinked temporary file
        with tempfile.TemporaryFile() as f:
            fd = os.dup(f.fileno())
    try:
        yield fd
    finally:
        os.close(fd)  # a map made of it keeps the memory for as long as the version is held


def writer(fd: int, made: list[list[str | None]]) -> Writer:
    """A Writer into ``fd``; ``made`` gets the digests list of each PackWriter (not the writer: it holds the map)."""
    def make(total: int) -> PackWriter:
        # In the child, once the manifest's parse is garbage: its pages go back before the files are read.
        release_memory()
        w = PackWriter(total, fd)
        made.append(w.digests)
        return w

    return make


# All four: no write, shrink or grow from now on, and no seal removed or added (Linux memfd only).
SEALS = (fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
         if hasattr(os, "memfd_create") else 0)


def sealed(fd: int, answer: Callable[[list[list[str | None]]], tuple[dict[str, Any], list[Any]]]
            ) -> tuple[dict[str, Any], list[Any]]:
    """In the child: ``answer()``, then, its version (and so its writable map) gone, ``fd`` sealed and checked."""
    made: list[list[str | None]] = []
    header, blobs = answer(made)
    if header.get("none") is True or not made or not SEALS:
        return header, blobs  # nothing written (the parent refuses an unsealed version)
    gc.collect()  # the map goes with the Verified that held it, even in a cycle
    _seal(fd, header, made[-1])
    return header, blobs


def _seal(fd: int, header: dict[str, Any], digests: list[str | None]) -> None:
    """Seal ``fd`` with :data:`SEALS`, then check each file of ``header`` in it has its verified digest.

    IntegrityError if it cannot be sealed (a process maps it writable) or a file changed between
    its write and the seal (another process wrote the memfd): the version is refused.
    """
    try:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except OSError as e:
        raise IntegrityError(f"the version's memory file cannot be sealed ({e.strerror}): another process "
                             f"maps it writable; refusing the version") from None
    paths, ends, size = header["paths"], header["ends"], int(header["packed"])
    if len(digests) != len(paths) or os.fstat(fd).st_size != max(size, 1):
        raise IntegrityError("the version's memory file changed size after it was written; refusing the version")
    with mmap.mmap(fd, max(size, 1), flags=mmap.MAP_SHARED, prot=mmap.PROT_READ) as m, memoryview(m) as view:
        start = 0
        for path, end, digest in zip(paths, ends, digests, strict=True):
            if digest is None or sha256_digest(view[start:end]) != digest:
                raise IntegrityError(f"{path}: its bytes changed after they verified (another process wrote "
                                     f"the version's memory file); refusing the version")
            start = end


def verified_answer(v: Verified | None, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[bytes]]:
    """What a child sends of a verified version (see :func:`verified_of`); the files are in the shared map."""
    if v is None:
        return {"none": True, **(extra or {})}, []
    files = v.files
    assert isinstance(files, PackedFiles)  # fetch_version and BundleCache.load pack what they read
    blobs = v.new_blobs
    fresh, other = (blobs.fresh(), blobs.other()) if isinstance(blobs, NewBlobs) else ({}, dict(blobs))
    # The manifest read from the store is also a new blob: its bytes cross the pipe once.
    same = [d for d, b in other.items() if b is v.manifest_raw or b == v.manifest_raw]
    sent = {d: b for d, b in other.items() if d not in same}
    header = {"pointer": asdict(v.pointer), "etag": v.etag, "targets": list(v.targets), "paths": list(files),
              "ends": list(files.ends), "fresh": fresh, "other": list(sent), "other_manifest": same,
              "digests": list(v.digests), "packed": len(files.data()), **(extra or {})}
    return header, [v.pointer_doc, v.manifest_raw, v.signature, v.used, *sent.values()]


def verified_of(header: dict[str, Any], blobs: list[bytes], fd: int) -> Verified | None:
    """The :class:`Verified` a child's answer describes, its files mapped from ``fd``.

    IntegrityError if the answer does not describe a version (spans out of order or beyond the
    file, a target's file missing), or the file does not have the four :data:`SEALS` (then any
    process holding it could change what is served).  Call it only once the child is gone
    (:func:`isolate.run` reaps it); the seals mean nothing writes the file after it is mapped.
    """
    if header.get("none") is True:
        return None
    if SEALS and fcntl.fcntl(fd, fcntl.F_GET_SEALS) & SEALS != SEALS:
        raise IntegrityError("the verifying process left the version's memory file unsealed; refusing the version")
    try:
        other = [str(d) for d in header["other"]]
        pointer_doc, raw, signature, used, *rest = blobs
        extra = dict(zip(other, rest, strict=True))
        extra.update((str(d), raw) for d in header.get("other_manifest", ()))
        size = int(header["packed"])
        if not 0 <= size <= isolate.MAX_ANSWER or os.fstat(fd).st_size != max(size, 1):
            raise ValueError("the map's size")
        paths = StringTable(str(p) for p in header["paths"])
        ends = array("Q", (int(e) for e in header["ends"]))
        if len(ends) != len(paths) or (ends[-1] if len(ends) else 0) != size or \
                any(a > b for a, b in zip(ends, ends[1:], strict=False)):
            raise ValueError("file spans")
        # Populated now: the version's pages are counted in this process's RSS from the start.
        packed = mmap.mmap(fd, max(size, 1), flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                           prot=mmap.PROT_READ)
        files = PackedFiles(paths, ends, packed)
        _hold(files, fd)
        fresh = {str(d): str(p) for d, p in header["fresh"].items()}
        if any(p not in files for p in fresh.values()):
            raise ValueError("fresh paths")
        targets = StringTable(str(t) for t in header["targets"])
        if any(f"targets/{t}.json" not in files for t in targets):
            raise ValueError("targets")
        return Verified(Pointer(**header["pointer"]), bytes(pointer_doc), header["etag"], bytes(raw),
                        bytes(signature), targets, files, NewBlobs(files, fresh, extra), bytes(used),
                        tuple(str(d) for d in header["digests"]))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise IntegrityError(f"the verifying process gave a malformed answer ({e})") from None


def not_json(v: Verified) -> str | None:
    """The message of ``check_targets(v)``, or None when every target is JSON."""
    try:
        check_targets(v)
    except CfgcError as e:
        return e.message
    return None


def message_of(header: dict[str, Any]) -> str | None:
    value = header.get("not_json")
    return value if value is None or isinstance(value, str) else "a target is not JSON"



def build(v: Verified, origin: str, parsed_max: int, not_json: str | None, checked: bool) -> BundleSnapshot:
    """``build``, with the JSON check made here, or (``checked``) in a child: ``not_json`` is its refusal."""
    if not_json is not None:
        raise InputError(not_json)
    return snapshot.build(v, origin, parsed_max, checked=checked)
