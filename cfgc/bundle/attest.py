"""Signing and verifying bundle directories.

``sign_bundle`` writes two DSSE envelopes next to ``manifest.json``:

* ``manifest.sig.json`` - payload: the manifest's canonical bytes, type
  ``application/vnd.cfgc.manifest+json``;
* ``provenance.intoto.json`` - payload: the in-toto provenance statement
  (:mod:`cfgc.bundle.provenance_statement`), type ``application/vnd.in-toto+json``.

``verify_bundle`` checks both signatures, that the signed manifest is the
manifest on disk, and the digest and size of every file the manifest lists
(targets, prompts, SOPS secret documents).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import FileTooLarge, NotRegular, read_file
from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import ExternalError, InputError, IntegrityError
from cfgc.base.jsonvalue import JSONObject
from cfgc.base.repopath import NotFound, read_under
from cfgc.bundle.manifest import (
    MANIFEST,
    MANIFEST_TYPE,
    PROVENANCE,
    SECTIONS,
    SIGNATURE,
    listed_files,
)
from cfgc.bundle.provenance_statement import PAYLOAD_TYPE as PROVENANCE_TYPE
from cfgc.bundle.provenance_statement import check_subjects, statement
from cfgc.bundle.signing import (
    Signer,
    Verifier,
    add_signatures,
    decode_payload,
    load_envelope,
    sign_envelope,
    verify_envelope,
)
from cfgc.repo.sources import Source


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify_bundle`` checked: key ids that signed, files checked, problems."""

    keyids: tuple[str, ...]
    checked: int
    problems: tuple[str, ...] = field(default=())
    provenance: bool = False


def read_manifest(bundle: Path) -> tuple[bytes, JSONObject]:
    """The bytes and value of a bundle's manifest.json."""
    path = bundle / MANIFEST
    try:
        raw = read_file(path)
    except FileNotFoundError:
        raise InputError(f"{bundle}: no {MANIFEST}; not a cfgc bundle") from None
    except (FileTooLarge, NotRegular) as e:  # a bundle's own file: its integrity, not the user's input
        raise IntegrityError(f"{path}: {e.message}") from None
    except OSError as e:
        raise ExternalError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise IntegrityError(f"{path}: not JSON: {e}") from None
    if not isinstance(value, dict) or not isinstance(value.get("targets"), dict):
        raise IntegrityError(f"{path}: not a cfgc bundle manifest")
    return raw, value


def _write(path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(canonical_json(value))
    os.replace(tmp, path)


def sign_bundle(bundle: Path, signers: list[Signer], inputs: Mapping[str, str] | None = None) -> str:
    """Sign a bundle's manifest and write its signed provenance; returns the manifest digest.

    Signing an already signed bundle adds the new keys' signatures to the
    envelopes (a key that signed before is re-signed, not duplicated).
    """
    raw, manifest = read_manifest(bundle)
    sig_path, prov_path = bundle / SIGNATURE, bundle / PROVENANCE
    env = _existing(sig_path, raw)
    _write(sig_path, add_signatures(env, signers) if env else sign_envelope(raw, MANIFEST_TYPE, signers))
    payload = canonical_json(statement(manifest, inputs))
    # Re-signing keeps a build-time statement (with every input digest) if it fits this manifest.
    prov = _fitting_provenance(prov_path, manifest) if inputs is None else None
    _write(prov_path, add_signatures(prov, signers) if prov else sign_envelope(payload, PROVENANCE_TYPE, signers))
    return sha256_digest(raw)


def source_digests(source: Source) -> dict[str, str]:
    """``sha256:<hex>`` of every file of a config repo source: the provenance's inputs."""
    return {path: sha256_digest(source.read(path)) for path in source.files()}


def _fitting_provenance(path: Path, manifest: JSONObject) -> JSONObject | None:
    """The provenance envelope at ``path`` if its statement is about ``manifest``'s targets."""
    if not path.is_file():
        return None
    try:
        env = load_envelope(path)
        return env if not check_subjects(json.loads(decode_payload(env)), manifest) else None
    except (IntegrityError, ValueError, RecursionError):
        return None


def _existing(path: Path, payload: bytes) -> JSONObject | None:
    """An envelope at ``path`` over exactly ``payload``, if there is one."""
    if not path.is_file():
        return None
    try:
        env = load_envelope(path)
        return env if decode_payload(env) == payload else None
    except IntegrityError:
        return None


class VerificationFailed(IntegrityError):
    """A bundle failed verification; ``report`` names every problem (for ``--format json``)."""

    def __init__(self, bundle: Path, report: VerifyReport) -> None:
        n = len(report.problems)
        super().__init__(f"bundle {bundle} failed verification ({n} problem{'s' if n != 1 else ''}):\n  "
                         + "\n  ".join(report.problems))
        self.report = report


def verify_bundle(bundle: Path, verifiers: list[Verifier]) -> VerifyReport:
    """Check a bundle directory; raises IntegrityError naming every failure.

    An in-place build a crash interrupted is finished first (see :mod:`cfgc.bundle.journal`).
    """
    from cfgc.bundle.journal import commit_dir

    if os.path.lexists(commit_dir(bundle.resolve())):
        from cfgc.bundle.outdir import exclusive

        with exclusive(bundle):
            pass  # taking the lock rolls the journal forward
    raw, manifest = read_manifest(bundle)
    problems: list[str] = []
    keyids: list[str] = []
    try:
        payload, keyids = verify_envelope(load_envelope(bundle / SIGNATURE), MANIFEST_TYPE, verifiers, SIGNATURE)
        if payload != raw:
            problems.append(f"{MANIFEST}: differs from the manifest that was signed")
    except IntegrityError as e:
        problems.append(e.message)
    checked = 0
    listed: set[str] = set()
    for rel, _, entry in listed_files(manifest):
        listed.add(rel)
        checked += 1
        problems.extend(check_file(bundle, rel, entry))
    for sub in ("targets", *SECTIONS):
        for p in sorted((bundle / sub).rglob("*")) if (bundle / sub).is_dir() else []:
            rel = p.relative_to(bundle).as_posix()
            if p.is_file() and rel not in listed:
                problems.append(f"{rel}: not listed in the manifest")
    has_prov = (bundle / PROVENANCE).is_file()
    if has_prov:
        try:
            body, _ = verify_envelope(load_envelope(bundle / PROVENANCE), PROVENANCE_TYPE, verifiers, PROVENANCE)
            problems.extend(check_subjects(json.loads(body), manifest))
        except (IntegrityError, ValueError, RecursionError) as e:
            problems.append(e.message if isinstance(e, IntegrityError) else f"{PROVENANCE}: payload is not JSON")
    if problems:
        raise VerificationFailed(bundle, VerifyReport(tuple(keyids), checked, tuple(problems), has_prov))
    return VerifyReport(tuple(keyids), checked, (), has_prov)


def check_file(bundle: Path, rel: str, entry: Mapping[str, Any]) -> list[str]:
    """Problems with one file of a bundle against its manifest entry."""
    try:
        data = read_under(str(bundle), rel)
    except NotFound:
        return [f"{rel}: missing"]
    except InputError as e:
        return [f"{rel}: unreadable: {e.message}"]
    out = []
    if len(data) != entry.get("size"):
        out.append(f"{rel}: size {len(data)}, manifest says {entry.get('size')}")
    if sha256_digest(data) != entry.get("digest"):
        out.append(f"{rel}: digest {sha256_digest(data)[:19]}…, manifest says {str(entry.get('digest'))[:19]}…")
    return out
