"""The documents a store holds, built from a bundle directory; the same in every store.

A version document is an OCI 1.1 image manifest (artifact conventions): its
config blob is the bundle's ``manifest.json`` (so the config digest *is* the
manifest digest), and each target, prompt and secret document is one gzip layer (mtime 0, so
the same bytes always compress to the same blob) titled with its bundle path
plus ``.gz`` (what ``oras pull`` names the file).  The version id is the first
12 hex digits of the manifest digest.

Its annotations are the standard ``org.opencontainers.image.{version,
revision,created,source}`` (``source`` only when the git remote is a URL,
normalised to ``https://`` without credentials, see :func:`source_url`).
With ``flux=True`` the first layer is a Flux content layer
(``application/vnd.cncf.flux.content.v1.tar+gzip``): the whole bundle
directory as a reproducible tar.gz, what a Flux ``OCIRepository`` extracts.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.base.bounded_read import read_file
from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import IntegrityError
from cfgc.base.repopath import read_under
from cfgc.bundle.manifest import MANIFEST_TYPE, PROVENANCE, SIGNATURE, listed_files
from cfgc.bundle.signing import Verifier, verify_envelope
from cfgc.stores.base import Store, check_digest
from cfgc.stores.bounds import MAX_SIGNATURES, compressed_bound

if TYPE_CHECKING:
    import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE = "application/vnd.cfgc.bundle.v1"
CONFIG_TYPE = "application/vnd.cfgc.bundle.config.v1+json"
TARGET_TYPE = "application/vnd.cfgc.target.v1.json+gzip"
PROMPT_TYPE = "application/vnd.cfgc.prompt.v1.jinja+gzip"
SECRET_TYPE = "application/vnd.cfgc.secret.v1.sops+gzip"
MEDIA_TYPES = {"target": TARGET_TYPE, "prompt": PROMPT_TYPE, "secret": SECRET_TYPE}
SIGNATURES_TYPE = "application/vnd.cfgc.signatures.v1+json"
CHANNEL_TYPE = "application/vnd.cfgc.channel+json"
TITLE = "org.opencontainers.image.title"
CONTENT_DIGEST = "dev.cfgc.content.digest"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"
FLUX_TITLE = "bundle.tar.gz"
_SCP_REMOTE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,}):(?!//)([^\s]+)$")


@dataclass(frozen=True)
class Blob:
    """One blob of a version: where it goes in the bundle, its stored bytes and digest."""

    path: str
    media_type: str
    data: bytes
    digest: str


@dataclass(frozen=True)
class Prepared:
    """Everything ``publish`` writes for one bundle."""

    version: str
    manifest_digest: str
    manifest: dict[str, Any]
    blobs: tuple[Blob, ...]  # the config (bundle manifest) first, then layers
    version_doc: bytes
    signatures_doc: bytes | None


def compress(data: bytes) -> bytes:
    """Reproducible gzip: no name, mtime 0, fixed level."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def version_id(manifest_digest: str) -> str:
    """The content-derived id of a version."""
    return manifest_digest.split(":", 1)[1][:12]


def prepare(bundle: Path, flux: bool = False) -> Prepared:
    """Build the blobs and documents of a bundle (which must verify against its manifest).

    ``flux`` adds the Flux content layer (the bundle tree as tar.gz) first.
    """
    # Publishing only: the runtime reads versions with this module and must not import the compiler.
    from cfgc.bundle.attest import check_file, read_manifest

    raw, manifest = read_manifest(bundle)
    digest = sha256_digest(raw)
    files = [(rel, MEDIA_TYPES[kind], e) for rel, kind, e in listed_files(manifest)]
    blobs = [Blob("manifest.json", CONFIG_TYPE, raw, digest)]
    for rel, media, entry in files:
        problems = check_file(bundle, rel, entry)
        if problems:
            raise IntegrityError(f"refusing to publish {bundle}: " + "; ".join(problems))
        data = compress(read_under(str(bundle), rel))
        blobs.append(Blob(rel, media, data, sha256_digest(data)))
    sigs: dict[str, Any] = {}
    for name in (SIGNATURE, PROVENANCE):
        if (bundle / name).is_file():
            sigs[name] = json.loads(read_file(bundle / name))
    flux_blob = None
    if flux:
        tree = ["manifest.json", *(rel for rel, _, _ in files), *(n for n in (SIGNATURE, PROVENANCE) if n in sigs)]
        tgz = flux_tarball(bundle, tree)
        flux_blob = Blob(FLUX_TITLE, FLUX_CONTENT, tgz, sha256_digest(tgz))
    return Prepared(
        version=version_id(digest),
        manifest_digest=digest,
        manifest=manifest,
        blobs=tuple(blobs) + ((flux_blob,) if flux_blob else ()),
        version_doc=version_document(manifest, digest, blobs, files, flux_blob),
        signatures_doc=canonical_json(sigs) if sigs else None,
    )


def flux_tarball(bundle: Path, tree: list[str]) -> bytes:
    """The bundle files ``tree`` as a reproducible tar.gz (sorted, mtime 0, root-owned, 0644)."""
    import tarfile  # publishing with --flux only; readers of the store never need it

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for rel in sorted(tree):
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    tar.addfile(_tarinfo(d, tarfile.DIRTYPE, 0o755, 0))
            data = read_under(str(bundle), rel)
            tar.addfile(_tarinfo(rel, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return compress(buf.getvalue())


def _tarinfo(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    import tarfile

    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def source_url(remote: object) -> str | None:
    """A git remote as an ``https://`` URL without credentials, or None when it is not a URL.

    ``git@host:org/repo.git`` and ``ssh://git@host/org/repo`` become
    ``https://host/org/repo.git``; a local path or ``file://`` remote is None.
    """
    if not isinstance(remote, str) or not remote:
        return None
    scp = _SCP_REMOTE.match(remote)
    if scp:
        return f"https://{scp.group(1)}/{scp.group(2).lstrip('/')}"
    parts = urllib.parse.urlsplit(remote)
    if parts.scheme not in ("http", "https", "ssh", "git", "git+ssh") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port and parts.scheme in ("http", "https") else ""
    return urllib.parse.urlunsplit(("https", f"{parts.hostname}{port}", parts.path, "", ""))


def version_document(manifest: dict[str, Any], digest: str, blobs: list[Blob], files: list[Any],
                     flux: Blob | None = None) -> bytes:
    """The OCI image manifest of a version (canonical JSON, no wall-clock time)."""
    config, layers = blobs[0], blobs[1:]
    source = manifest.get("source") or {}
    annotations = {
        "org.opencontainers.image.version": version_id(digest),
        "dev.cfgc.manifest.digest": digest,
    }
    for key, value in (("source", source_url(source.get("repo_url"))), ("revision", source.get("commit")),
                       ("created", source.get("commit_time"))):
        if value:
            annotations[f"org.opencontainers.image.{key}"] = str(value)
    return canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": descriptor(config),
        "layers": ([{**descriptor(flux), "annotations": {TITLE: FLUX_TITLE}}] if flux else []) + [
            {**descriptor(b), "annotations": {TITLE: f"{b.path}.gz", CONTENT_DIGEST: str(f[2]["digest"])}}
            for b, f in zip(layers, files, strict=True)
        ],
        "annotations": annotations,
    })


def descriptor(blob: Blob) -> dict[str, Any]:
    """The OCI descriptor of a blob."""
    return {"mediaType": blob.media_type, "digest": blob.digest, "size": len(blob.data)}


@dataclass(frozen=True)
class VersionInfo:
    """What a version document says, parsed."""

    version: str
    manifest_digest: str
    commit: str | None
    created: str | None
    layers: tuple[dict[str, Any], ...]


def parse_version(version: str, doc: bytes) -> VersionInfo:
    """Parse a version document; IntegrityError if it is not one, or not this version's."""
    try:
        value = json.loads(doc)
        config = value["config"]
        notes = value.get("annotations") or {}
        layers = tuple(value["layers"])
        digest = check_digest(config["digest"])
    except (ValueError, KeyError, TypeError, IntegrityError):
        raise IntegrityError(f"version {version}: the stored document is not a cfgc version manifest") from None
    if version_id(digest) != version or value.get("artifactType") != ARTIFACT_TYPE:
        raise IntegrityError(f"version {version}: the stored document describes {digest}, not this version")
    return VersionInfo(version, digest, notes.get("org.opencontainers.image.revision"),
                       notes.get("org.opencontainers.image.created"), layers)


def layer_map(info: VersionInfo, want: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Bundle path -> layer descriptor, for the files of the signed manifest.

    ``want`` maps every file the bundle manifest lists to its content digest.
    The version document is not signed: it only says which blob holds each
    signed file.  A layer for a file the manifest does not list, a second
    layer for one file, a content digest that differs from the manifest's, or
    a blob digest that is not ``sha256:<64 hex>`` is refused (IntegrityError)
    before any blob is read (the Flux layer, a copy for Flux, is skipped); which files are fetched is the caller's choice
    from the signed manifest, never the layer list.
    """
    out: dict[str, dict[str, Any]] = {}
    for layer in info.layers:
        if isinstance(layer, dict) and layer.get("mediaType") == FLUX_CONTENT:
            continue  # the Flux copy of the whole tree; cfgc reads the per-file layers
        notes = layer.get("annotations") if isinstance(layer, dict) else None
        notes = notes if isinstance(notes, dict) else {}
        path = str(notes.get(TITLE, "")).removesuffix(".gz")
        if path not in want or path in out or notes.get(CONTENT_DIGEST) != want[path]:
            raise IntegrityError(f"version {info.version}: its version document lists a layer "
                                 f"{path[:200]!r} that the signed manifest does not (or lists it twice); refused")
        check_digest(layer.get("digest"))
        out[path] = layer
    return out


def signed_manifest(sigs: bytes | None, verifiers: list[Verifier], version: str,
                    manifest_digest: str) -> tuple[bytes, bytes]:
    """(bundle manifest bytes, its signature envelope as compact JSON), verified.

    The manifest is the payload of its (bounded) signature envelope, so no
    other blob is read before the signature verified; the payload must hash to
    ``manifest_digest`` (what the signed channel pointer or the version names).
    """
    try:
        envelope = json.loads(sigs)[SIGNATURE] if sigs else None
    except (ValueError, KeyError, TypeError):
        envelope = None
    if not isinstance(envelope, dict):
        raise IntegrityError(f"version {version} is not signed ({SIGNATURE} missing)")
    if len(envelope.get("signatures") or ()) > MAX_SIGNATURES:
        raise IntegrityError(f"version {version}: {SIGNATURE} has more than {MAX_SIGNATURES} signatures")
    payload, _ = verify_envelope(envelope, MANIFEST_TYPE, verifiers, f"version {version}: {SIGNATURE}")
    if sha256_digest(payload) != manifest_digest:
        raise IntegrityError(f"version {version}: the signed manifest is not {manifest_digest}")
    return payload, json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def read_blob(store: Store, digest: str, size: int, what: str) -> bytes:
    """The gzip blob of a ``size``-byte file, read at most :func:`compressed_bound` bytes.

    An integrity failure names the bundle file (``what``) as well as the blob.
    """
    try:
        data: bytes = store.get_blob(digest, max_bytes=compressed_bound(size))
    except IntegrityError as e:
        raise IntegrityError(f"{what}: {e.message}") from None
    return data
