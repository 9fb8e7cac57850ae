"""Reading bundles back out of a store: the API the runtime client pulls through.

Every byte is verified on the way: blobs against their digests, each target
and prompt against the digest the (signed) bundle manifest records, the
manifest against the version document, channel pointers against the keys.

    reader = BundleReader(open_store(url), verifiers)
    state = reader.channel("prod", etag=last_etag)   # conditional
    if not state.not_modified:
        files = reader.files(state.pointer.version)    # {"targets/a.json": bytes, ...}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import InputError, IntegrityError, UsageError
from cfgc.base.jsonvalue import JSONObject
from cfgc.bundle.attest import verify_bundle
from cfgc.bundle.layout import open_staging
from cfgc.bundle.manifest import listed_files
from cfgc.bundle.signing import Verifier
from cfgc.bundle.stage import staged
from cfgc.bundle.swap import swap_into
from cfgc.stores.base import Store, check_channel, check_digest, check_version
from cfgc.stores.bounds import MANIFEST_MAX, gunzip, signed_size
from cfgc.stores.layout import VersionInfo, layer_map, parse_version, read_blob, signed_manifest
from cfgc.stores.pointer import Pointer, decode_pointer


@dataclass(frozen=True)
class ChannelState:
    """A channel as read: its pointer (None if absent or unchanged) and ETag."""

    pointer: Pointer | None
    etag: str | None
    not_modified: bool = False


class BundleReader:
    """Verified reads from a store."""

    def __init__(self, store: Store, verifiers: list[Verifier] | None = None,
                 accept: Callable[[Pointer], None] | None = None) -> None:
        """``accept(pointer)`` vets a channel's pointer before its version is read (repository, expiry, serial)."""
        self.store = store
        self.verifiers = verifiers
        self.accept = accept

    def channel(self, name: str, etag: str | None = None, min_serial: int = 0) -> ChannelState:
        """The pointer of a channel (signature checked when verifiers were given).

        ``min_serial`` refuses a pointer older than one seen before (replay).
        """
        read = self.store.get_channel(check_channel(name), etag)
        if read.not_modified or read.data is None:
            return ChannelState(None, read.etag, read.not_modified)
        pointer = decode_pointer(name, read.data, self.verifiers)
        if pointer.serial < min_serial:
            raise IntegrityError(f"channel {name}: serial {pointer.serial} is older than {min_serial} (replayed?)")
        return ChannelState(pointer, read.etag)

    def resolve(self, ref: str) -> tuple[str, str | None]:
        """(version id, manifest digest the channel promises or None) for a version id or channel name."""
        try:
            return check_version(ref), None
        except UsageError:
            state = self.channel(ref)
        if state.pointer is None:
            raise InputError(f"no version or channel {ref!r} in {self.store.url}")
        if self.accept is not None:
            self.accept(state.pointer)
        return state.pointer.version, state.pointer.manifest_digest

    def version(self, version: str) -> tuple[VersionInfo, bytes]:
        """A version's parsed document and its bundle manifest bytes (signed, when verifiers were given)."""
        doc = self.store.get_version(check_version(version))
        if doc is None:
            raise InputError(f"no version {version} in {self.store.url}")
        info = parse_version(version, doc)
        if self.verifiers is None:
            return info, self.store.get_blob(info.manifest_digest, max_bytes=MANIFEST_MAX)
        raw, _ = signed_manifest(self.store.get_signatures(version), self.verifiers, version, info.manifest_digest)
        return info, raw

    def files(self, version: str, manifest_digest: str | None = None) -> dict[str, bytes]:
        """Every file of a version's bundle, each checked against the bundle manifest.

        ``manifest_digest`` (from a channel pointer) must match the version's.
        With verifiers, the manifest signature is checked before any file is
        read; every blob is read at most :func:`compressed_bound` of the size
        the manifest gives and inflated at most to that size.
        """
        info, raw = self.version(version)
        if manifest_digest is not None and manifest_digest != info.manifest_digest:
            raise IntegrityError(f"version {version} has manifest {info.manifest_digest}, "
                                 f"the channel pointer promised {manifest_digest}")
        try:
            manifest: JSONObject = json.loads(raw)
            entries = {rel: entry for rel, _, entry in listed_files(manifest)}
            want = {rel: check_digest(entry["digest"]) for rel, entry in entries.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError(f"version {version}: its bundle manifest is not a cfgc manifest") from None
        if bad := [p for p in want if not _safe(p)]:
            raise IntegrityError(f"version {version}: its manifest lists a path outside the bundle: {bad[0][:200]!r}")
        layers = layer_map(info, want)
        if missing := sorted(set(want) - set(layers)):
            raise IntegrityError(f"version {version}: no layer for {', '.join(missing)}")
        out: dict[str, bytes] = {"manifest.json": raw}
        for path, digest in want.items():
            what = f"version {version}: {path}"
            size = signed_size(entries[path], what)
            blob = read_blob(self.store, str(layers[path]["digest"]), size, what)
            data = gunzip(blob, size, what)
            if sha256_digest(data) != digest or len(data) != size:
                raise IntegrityError(f"{what} does not match its manifest digest and size")
            out[path] = data
        try:
            sigs = json.loads(self.store.get_signatures(version) or b"{}")
            for name in ("manifest.sig.json", "provenance.intoto.json"):
                if name in sigs:
                    out[name] = canonical_json(sigs[name])
        except (ValueError, TypeError):
            raise IntegrityError(f"version {version}: its signatures document is not JSON") from None
        return out

    def pull(self, ref: str, out: Path) -> str:
        """Write the bundle of a version or channel to ``out`` (verified); returns the version id."""
        version, digest = self.resolve(ref)
        files = self.files(version, digest)
        out = out.resolve()
        # A build's lock, staging folder (named with the pid, so the next build or pull
        # removes it once this process is gone) and cleanup: an interrupt leaves nothing.
        with staged(out, open_staging) as tmp:
            for rel, data in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            if self.verifiers is not None:
                verify_bundle(tmp, self.verifiers)
            swap_into(tmp, out)
        return version


def _safe(path: str) -> bool:
    """A relative path that stays inside the bundle directory."""
    parts = path.split("/")
    return not path.startswith("/") and ".." not in parts and "" not in parts
