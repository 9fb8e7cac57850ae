"""Fetching one channel's version from a store, verifying everything it uses.

A poll is one conditional read of the channel pointer (ETag / OCI manifest
digest); only when it changed are the version document, the bundle manifest,
its signatures and the files the selected targets use (the target itself,
the prompts it pins, the SOPS documents it references) read, and of those only
the ones whose content digest is not already in the local cache.

Nothing is accepted until the pointer signature, the manifest signature and
every digest on the way verify; a pointer older than the newest one seen is
refused (:class:`RollbackError`).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import ExternalError, InputError, IntegrityError
from cfgc.base.jsonvalue import JSONObject
from cfgc.bundle.manifest import MANIFEST_TYPE, SIGNATURE, listed_files
from cfgc.bundle.signing import Verifier, verify_envelope
from cfgc.runtime.pack import PackedFiles, PackWriter, StringTable, Writer
from cfgc.stores.base import ChannelRead, Store, check_channel, check_digest
from cfgc.stores.bounds import gunzip, signed_size
from cfgc.stores.layout import layer_map, parse_version, read_blob, signed_manifest
from cfgc.stores.pointer import Pointer, decode_pointer


class RollbackError(IntegrityError):
    """A channel pointer older than one already seen (a replayed or rolled-back store)."""


@dataclass(frozen=True)
class Verified:
    """A verified version: everything a snapshot is built from (all bytes checked)."""

    pointer: Pointer
    pointer_doc: bytes
    etag: str | None
    manifest_raw: bytes
    signature: bytes  # the manifest.sig.json envelope (JSON bytes)
    targets: Sequence[str]  # a StringTable when fetched
    files: Mapping[str, bytes]  # bundle path -> content, for the selected targets
    new_blobs: Mapping[str, bytes] = field(default_factory=dict)  # content digest -> bytes not in the cache
    # What the runtime keeps of the manifest, taken while it was parsed to verify (parsed once per
    # version): the used_manifest() JSON, and the content digests the version uses (manifest first).
    used: bytes = b""
    digests: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        return self.pointer.version

    @property
    def manifest(self) -> JSONObject:
        value: JSONObject = json.loads(self.manifest_raw)
        return value


def check_manifest_signature(raw: bytes, envelope: bytes, verifiers: list[Verifier], version: str) -> None:
    """The bundle manifest ``raw`` is exactly what ``envelope`` signs with a trusted key."""
    try:
        env = json.loads(envelope)
    except ValueError:
        raise IntegrityError(f"version {version}: {SIGNATURE} is not JSON") from None
    payload, _ = verify_envelope(env, MANIFEST_TYPE, verifiers, f"version {version}: {SIGNATURE}")
    if payload != raw:
        raise IntegrityError(f"version {version}: the signed manifest differs from the published one")


def used_manifest(manifest: Mapping[str, Any], targets: Sequence[str]) -> JSONObject:
    """The manifest's prompt and secret entries ``targets`` use, without the per-target entries.

    The target entries of a 10,000-target manifest, parsed, are ~15 MB: nothing reads them once
    the version verified (the next fetch hashes the bytes it already has, see Syncer._lookup).
    """
    out = {k: v for k, v in manifest.items() if k not in ("targets", "prompts", "secrets")}
    entries = [manifest["targets"][t] for t in targets]
    for section in ("prompts", "secrets"):
        every = manifest.get(section) or {}
        out[section] = {n: every[n] for e in entries for n in (e.get(section) or []) if n in every}
    return out


def kept_of(manifest_digest: str, manifest: Mapping[str, Any], targets: Sequence[str],
            needed: Mapping[str, Mapping[str, Any]]) -> tuple[bytes, tuple[str, ...]]:
    """``(used, digests)`` of :class:`Verified`: all a runtime keeps of a parsed manifest, as new objects."""
    digests = sorted({str(e["digest"]) for e in needed.values()} - {manifest_digest})
    return orjson.dumps(used_manifest(manifest, targets)), (manifest_digest, *digests)


def parse_manifest(raw: bytes, version: str) -> JSONObject:
    """The manifest's value (orjson: a 10,000-target manifest parses ~3x faster than json, same objects)."""
    try:
        value = orjson.loads(raw)
    except ValueError:
        raise IntegrityError(f"version {version}: manifest.json is not a cfgc manifest") from None
    if not isinstance(value, dict) or not isinstance(value.get("targets"), dict):
        raise IntegrityError(f"version {version}: manifest.json is not a cfgc manifest")
    return value


def select_targets(manifest: Mapping[str, Any], patterns: tuple[str, ...], version: str) -> tuple[str, ...]:
    """The target names of ``manifest`` that ``patterns`` (exact names or globs) select."""
    names = sorted(manifest.get("targets") or {})
    out = [n for n in names if any(n == p or fnmatch.fnmatchcase(n, p) for p in patterns)]
    missing = [p for p in patterns if not any(ch in p for ch in "*?[") and p not in names]
    if missing or not out:
        raise InputError(f"version {version} has no target {', '.join(missing or patterns)} "
                         f"(it has {len(names)}: {', '.join(names[:8])}{' …' if len(names) > 8 else ''})")
    return tuple(out)


def needed_files(manifest: Mapping[str, Any], targets: Sequence[str]) -> dict[str, JSONObject]:
    """Bundle path -> manifest entry for each file the targets use (target, prompts, secrets)."""
    try:
        out: dict[str, JSONObject] = {}
        for t in targets:
            entry = manifest["targets"][t]
            out[f"targets/{t}.json"] = entry
            for section, names in (("prompts", entry.get("prompts") or []), ("secrets", entry.get("secrets") or [])):
                for name in names:
                    e = manifest[section][name]
                    out[str(e["path"])] = e
        return out
    except (KeyError, TypeError, AttributeError):
        raise IntegrityError("the bundle manifest lists a target file it does not describe") from None


BlobLookup = Callable[[str], bytes | None]


def fetch(store: Store, verifiers: list[Verifier], channel: str, patterns: tuple[str, ...], *,
          etag: str | None, min_serial: int, current: Verified | None,
          cached: BlobLookup, check: Callable[[Pointer], None] | None = None) -> Verified | None:
    """Poll ``channel``; None when it did not change, else the new verified version.

    ``cached(digest)`` returns content from the local cache (verified) or None.
    ``check(pointer)`` runs on a changed pointer once its signature verified,
    before anything else is downloaded (repository, expiry, recorded serials).
    """
    read = store.get_channel(check_channel(channel), etag)
    if read.not_modified:
        return None
    return fetch_changed(store, verifiers, channel, patterns, read, min_serial=min_serial, current=current,
                         cached=cached, check=check)


def fetch_changed(store: Store, verifiers: list[Verifier], channel: str, patterns: tuple[str, ...],
                  read: ChannelRead, *, min_serial: int, current: Verified | None,
                  cached: BlobLookup, check: Callable[[Pointer], None] | None = None,
                  writer: Writer = PackWriter) -> Verified | None:
    """The rest of :func:`fetch` once the channel pointer was read and has changed (``read``).

    ``writer`` makes the version's map (see :class:`PackWriter`).
    """
    if read.data is None:
        raise ExternalError(f"channel {channel} does not exist in {store.url} (or the store is not there)")
    pointer = decode_pointer(channel, read.data, verifiers)
    if pointer.serial < min_serial:
        raise RollbackError(f"channel {channel}: pointer serial {pointer.serial} is older than serial {min_serial} "
                            f"already seen (replayed or rolled-back store); keeping the current version")
    if check is not None:
        check(pointer)
    if current is not None and pointer.serial == current.pointer.serial:
        if pointer.version != current.version or pointer.manifest_digest != current.pointer.manifest_digest:
            raise RollbackError(f"channel {channel}: serial {pointer.serial} now names {pointer.version}, "
                                f"but it named {current.version} before; refusing a forked channel")
        return None
    if current is not None and current.manifest_raw and pointer.manifest_digest == current.pointer.manifest_digest:
        # A new serial for the same content (e.g. a re-promote): nothing to download.  A runtime that
        # released the manifest bytes (the agent: see snapshot.build) reads and verifies them again.
        return Verified(pointer, read.data, read.etag, current.manifest_raw, current.signature,
                        current.targets, current.files, used=current.used, digests=current.digests)
    return fetch_version(store, verifiers, pointer, pointer_doc=read.data, etag=read.etag, patterns=patterns,
                         cached=cached, writer=writer)


def fetch_pinned(store: Store, verifiers: list[Verifier], version: str, patterns: tuple[str, ...], *,
                 cached: BlobLookup | None = None) -> Verified:
    """Read and verify one version by id, with no channel pointer.

    The manifest signature and every digest still must verify.  The result's
    pointer is a stand-in (channel ``-``, serial 0) that names the version's
    manifest: no pointer policy may check or record it.
    """
    from cfgc.stores.reader import BundleReader

    info, _ = BundleReader(store, verifiers).version(version)
    pointer = Pointer("-", version, info.manifest_digest, 0)
    return fetch_version(store, verifiers, pointer, patterns=patterns, cached=cached or (lambda d: None))


def fetch_version(store: Store, verifiers: list[Verifier], pointer: Pointer, *, pointer_doc: bytes = b"",
                  etag: str | None = None, patterns: tuple[str, ...], cached: BlobLookup,
                  writer: Writer = PackWriter) -> Verified:
    """Read and verify the version a (verified) pointer names.

    Order matters: the (bounded) version and signatures documents, then the
    manifest signature; which blobs are read, and how many bytes each may
    take, comes from the signed manifest only.
    """
    version = pointer.version
    check_digest(pointer.manifest_digest)
    doc = store.get_version(version)
    if doc is None:
        raise IntegrityError(f"channel {pointer.channel} names version {version}, which is not in {store.url}")
    info = parse_version(version, doc)
    if info.manifest_digest != pointer.manifest_digest:
        raise IntegrityError(f"version {version} has manifest {info.manifest_digest}, "
                             f"the channel pointer promised {pointer.manifest_digest}")
    payload, signature = signed_manifest(store.get_signatures(version), verifiers, version, info.manifest_digest)
    new: dict[str, bytes] = {}
    info_digest = info.manifest_digest
    raw = cached(info_digest)
    if raw is None:
        raw = payload
    check_manifest_signature(raw, signature, verifiers, version)
    manifest = parse_manifest(raw, version)
    try:
        want = {rel: str(entry.get("digest")) for rel, _, entry in listed_files(manifest)}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError(f"version {version}: manifest.json is not a cfgc manifest") from None
    targets = StringTable(select_targets(manifest, patterns, version))
    layers = layer_map(info, want)
    needed = needed_files(manifest, targets)
    used, digests = kept_of(info.manifest_digest, manifest, targets, needed)
    work = [(path, check_digest(e.get("digest")), signed_size(e, f"version {version}: {path}"),
             str(layers[path]["digest"]) if path in layers else None) for path, e in needed.items()]
    # The parsed manifest and version document (~20x their bytes) go before the downloads: a lower peak.
    del manifest, want, needed, layers, info, doc
    # Each file goes into the version's map as soon as it verified: no second copy of the version.
    pack = writer(sum(size for _, _, size, _ in work))
    fresh: dict[str, str] = {}  # content digest -> path, of what the cache does not have
    for path, want_digest, size, layer in work:
        data = cached(want_digest)
        if data is None:
            if layer is None:
                raise IntegrityError(f"version {version}: no layer for {path} with digest {want_digest}")
            blob = read_blob(store, layer, size, f"version {version}: {path}")
            data = _checked(gunzip(blob, size, f"version {version}: {path}"), want_digest, path, version)
            fresh[want_digest] = path
        if len(data) != size:
            raise IntegrityError(f"version {version}: {path} is {len(data)} bytes, the manifest says {size}")
        pack.add(path, data, want_digest)
    files = pack.finish()
    if raw is payload:
        new[info_digest] = raw
    blobs = NewBlobs(files, fresh, new)
    return Verified(pointer, pointer_doc, etag, raw, signature, targets, files, blobs, used, digests)


class NewBlobs(Mapping[str, bytes]):
    """Content digest -> bytes not in the cache: the manifest's bytes, and views into the version's map."""

    def __init__(self, files: PackedFiles, paths: dict[str, str], other: dict[str, bytes]) -> None:
        self._files, self._paths, self._other = files, paths, other

    def __getitem__(self, digest: str) -> bytes:
        if digest in self._other:
            return self._other[digest]
        return self._files[self._paths[digest]]

    def fresh(self) -> dict[str, str]:
        """Content digest -> path in the version's map, of the files downloaded."""
        return dict(self._paths)

    def other(self) -> dict[str, bytes]:
        """Content digest -> bytes of the rest (the manifest when it was downloaded)."""
        return dict(self._other)

    def __iter__(self) -> Iterator[str]:
        yield from self._other
        yield from (d for d in self._paths if d not in self._other)

    def __len__(self) -> int:
        return len(self._other) + sum(1 for d in self._paths if d not in self._other)


def _checked(data: bytes, digest: str, path: str, version: str) -> bytes:
    actual = sha256_digest(data)
    if actual != digest:
        raise IntegrityError(f"version {version}: {path} hashes to {actual}, the manifest says {digest}")
    return data
