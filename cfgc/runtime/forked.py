"""The Syncer's verification in a forked child (runtime/isolate.py): what a child sends of a version.

The child runs :func:`cfgc.runtime.fetch.fetch_changed` or :meth:`BundleCache.load` as an
in-process runtime would, checks each target is JSON (snapshot.check_targets: its refusal comes
back as a message, raised where snapshot.build would raise it), and sends the :class:`Verified`
as a small JSON header and its byte strings; the target files it packs into a memory file
(``memfd``) made before the fork, which the parent maps once the child is gone: the version's
bytes are never copied, and never twice in memory.  :func:`verified_of` checks the answer describes a version
(spans in order, every target file present) before anything is built from it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

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
    with _shared() as fd:
        def work() -> tuple[dict[str, Any], list[Any]]:
            v = fetch_changed(store, real_verifiers(verifiers), channel, patterns, read, min_serial=min_serial,
                              current=current, cached=cached, check=check, writer=_writer(fd))
            return verified_answer(v, {"not_json": _not_json(v) if v is not None else None})

        header, blobs = isolate.run(work)
        return verified_of(header, blobs, fd), _message(header)


def load_cache(cache: BundleCache, verifiers: list[Verifier]) -> tuple[tuple[Verified, float] | None, str | None]:
    """``cache.load`` in a child: (the version, when it was fetched) or None, and as :func:`fetch`."""
    with _shared() as fd:
        def work() -> tuple[dict[str, Any], list[Any]]:
            loaded = cache.load(real_verifiers(verifiers), _writer(fd))
            if loaded is None:
                return verified_answer(None)
            return verified_answer(loaded[0], {"fetched_at": loaded[1], "not_json": _not_json(loaded[0])})

        header, blobs = isolate.run(work)
        v = verified_of(header, blobs, fd)
    try:
        return (None if v is None else (v, float(header["fetched_at"]))), _message(header)
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("the verifying process gave a malformed answer (fetched_at)") from None


@contextlib.contextmanager
def _shared() -> Iterator[int]:
    """A memory file for the version's map: the child fills it, this process maps it (no copy)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("cfgc-version", os.MFD_CLOEXEC)
    else:  # not Linux: an unlinked temporary file
        with tempfile.TemporaryFile() as f:
            fd = os.dup(f.fileno())
    try:
        yield fd
    finally:
        os.close(fd)  # a map made of it keeps the memory for as long as the version is held


def _writer(fd: int) -> Writer:
    def make(total: int) -> PackWriter:
        # In the child, once the manifest's parse is garbage: its pages go back before the files are read.
        release_memory()
        return PackWriter(total, fd)

    return make


def verified_answer(v: Verified | None, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[bytes]]:
    """What a child sends of a verified version (see :func:`verified_of`); the files are in the shared map."""
    if v is None:
        return {"none": True, **(extra or {})}, []
    files = v.files
    assert isinstance(files, PackedFiles)  # fetch_version and BundleCache.load pack what they read
    blobs = v.new_blobs
    fresh, other = (blobs.fresh(), blobs.other()) if isinstance(blobs, NewBlobs) else ({}, dict(blobs))
    header = {"pointer": asdict(v.pointer), "etag": v.etag, "targets": list(v.targets), "paths": list(files),
              "ends": list(files.ends), "fresh": fresh, "other": list(other), "digests": list(v.digests),
              "packed": len(files.data()), **(extra or {})}
    return header, [v.pointer_doc, v.manifest_raw, v.signature, v.used, *other.values()]


def verified_of(header: dict[str, Any], blobs: list[bytes], fd: int) -> Verified | None:
    """The :class:`Verified` a child's answer describes, its files mapped from ``fd``.

    IntegrityError if the answer does not describe a version (spans out of order or beyond the
    file, a target's file missing).  Call it only once the child is gone (:func:`isolate.run`
    reaps it): nothing writes the file after it is mapped.
    """
    if header.get("none") is True:
        return None
    try:
        other = [str(d) for d in header["other"]]
        pointer_doc, raw, signature, used, *rest = blobs
        extra = dict(zip(other, rest, strict=True))
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


def _not_json(v: Verified) -> str | None:
    """The message of ``check_targets(v)``, or None when every target is JSON."""
    try:
        check_targets(v)
    except CfgcError as e:
        return e.message
    return None


def _message(header: dict[str, Any]) -> str | None:
    value = header.get("not_json")
    return value if value is None or isinstance(value, str) else "a target is not JSON"



def build(v: Verified, origin: str, parsed_max: int, not_json: str | None, checked: bool) -> BundleSnapshot:
    """``build``, with the JSON check made here, or (``checked``) in a child: ``not_json`` is its refusal."""
    if not_json is not None:
        raise InputError(not_json)
    return snapshot.build(v, origin, parsed_max, checked=checked)
