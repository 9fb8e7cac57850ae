"""The Syncer's verification in a forked child (runtime/isolate.py): what a child sends of a version.

The child runs :func:`cfgc.runtime.fetch.fetch_changed` or :meth:`BundleCache.load` as an
in-process runtime would, checks each target is JSON (snapshot.check_targets: its refusal comes
back as a message, raised where snapshot.build would raise it), and sends the :class:`Verified`
as a small JSON header and its byte strings, the packed target files last (read by the parent
straight into the version's map).  :func:`verified_of` checks the answer describes a version
(spans in order, every target file present) before anything is built from it.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from cfgc.base.errors import CfgcError, InputError, IntegrityError
from cfgc.bundle.signing import Verifier
from cfgc.runtime import isolate, snapshot
from cfgc.runtime.cache import BundleCache
from cfgc.runtime.fetch import BlobLookup, NewBlobs, Verified, fetch_changed
from cfgc.runtime.isolate import real_verifiers
from cfgc.runtime.pack import PackedFiles, StringTable
from cfgc.runtime.snapshot import BundleSnapshot, check_targets
from cfgc.stores.base import ChannelRead, Store
from cfgc.stores.pointer import Pointer


def fetch(store: Store, verifiers: list[Verifier], channel: str, patterns: tuple[str, ...], read: ChannelRead, *,
          min_serial: int, current: Verified | None, cached: BlobLookup,
          check: Callable[[Pointer], None]) -> tuple[Verified | None, str | None]:
    """``fetch_changed`` in a child: the version (None when unchanged) and why a target is not JSON."""
    def work() -> tuple[dict[str, Any], list[Any]]:
        v = fetch_changed(store, real_verifiers(verifiers), channel, patterns, read, min_serial=min_serial,
                          current=current, cached=cached, check=check)
        return verified_answer(v, {"not_json": _not_json(v) if v is not None else None})

    header, blobs = isolate.run(work)
    return verified_of(header, blobs), _message(header)


def load_cache(cache: BundleCache, verifiers: list[Verifier]) -> tuple[tuple[Verified, float] | None, str | None]:
    """``cache.load`` in a child: (the version, when it was fetched) or None, and as :func:`fetch`."""
    def work() -> tuple[dict[str, Any], list[Any]]:
        loaded = cache.load(real_verifiers(verifiers))
        if loaded is None:
            return verified_answer(None)
        return verified_answer(loaded[0], {"fetched_at": loaded[1], "not_json": _not_json(loaded[0])})

    header, blobs = isolate.run(work)
    v = verified_of(header, blobs)
    try:
        return (None if v is None else (v, float(header["fetched_at"]))), _message(header)
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("the verifying process gave a malformed answer (fetched_at)") from None


def verified_answer(v: Verified | None, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[bytes]]:
    """What a child sends of a verified version (see :func:`verified_of`)."""
    if v is None:
        return {"none": True, **(extra or {})}, []
    files = v.files
    assert isinstance(files, PackedFiles)  # fetch_version and BundleCache.load pack what they read
    blobs = v.new_blobs
    fresh, other = (blobs.fresh(), blobs.other()) if isinstance(blobs, NewBlobs) else ({}, dict(blobs))
    header = {"pointer": asdict(v.pointer), "etag": v.etag, "targets": list(v.targets), "paths": list(files),
              "ends": list(files.ends), "fresh": fresh, "other": list(other), "digests": list(v.digests),
              **(extra or {})}
    data: list[Any] = [v.pointer_doc, v.manifest_raw, v.signature, v.used, *other.values()]
    return header, [*data, files.data()]


def verified_of(header: dict[str, Any], blobs: list[Any]) -> Verified | None:
    """The :class:`Verified` a child's answer describes (IntegrityError if it does not describe one)."""
    if header.get("none") is True:
        return None
    try:
        other = [str(d) for d in header["other"]]
        pointer_doc, raw, signature, used, *rest = blobs
        packed, size = rest[-1], int(header["sizes"][-1])
        extra = dict(zip(other, rest[:-1], strict=True))
        paths = StringTable(str(p) for p in header["paths"])
        ends = array("Q", (int(e) for e in header["ends"]))
        if len(ends) != len(paths) or (ends[-1] if len(ends) else 0) != size or \
                any(a > b for a, b in zip(ends, ends[1:], strict=False)):
            raise ValueError("file spans")
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
    except (KeyError, TypeError, ValueError, AttributeError) as e:
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
