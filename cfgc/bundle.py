"""Bundle directories: the compiled output of ``cfgc build``.

Layout::

    manifest.json                 what is inside, with digests (canonical JSON)
    targets/<target>.json         one compiled target each (canonical JSON)
    prompts/<name>/<version>.j2   the prompt templates the targets pin

A bundle is written to a temporary sibling directory and swapped into place
only when complete, so a failed build never leaves half a bundle and never
removes the previous one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc import __version__
from cfgc.canonical import canonical_json, sha256_digest
from cfgc.compiler import CompiledTarget
from cfgc.errors import InputError, UsageError
from cfgc.prompts import Prompt
from cfgc.schema import LoadedSchema
from cfgc.sources import SourceInfo

FORMAT = "cfgc.bundle/v1"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle: its path inside the bundle and its bytes."""

    path: str
    data: bytes


def target_path(name: str) -> str:
    """Where a target lives inside a bundle."""
    return f"targets/{name}.json"


def assemble(
    targets: Iterable[CompiledTarget],
    prompts: Iterable[Prompt],
    schemas: Iterable[LoadedSchema],
    info: SourceInfo,
    secret_files: dict[str, bytes] | None = None,
) -> tuple[dict[str, Any], list[BundleFile]]:
    """The manifest and the files of a bundle; no I/O."""
    files: list[BundleFile] = []
    entries: dict[str, Any] = {}
    used_prompts: set[str] = set()
    used_secrets: set[str] = set()
    for t in sorted(targets, key=lambda t: t.name):
        try:
            data = canonical_json(t.value)
        except ValueError:
            raise InputError(f"target {t.name} holds NaN or infinity, which JSON cannot carry") from None
        path = target_path(t.name)
        files.append(BundleFile(path, data))
        entry: dict[str, Any] = {"digest": sha256_digest(data), "size": len(data), "vars": t.spec.variables}
        if t.prompts:
            entry["prompts"] = list(t.prompts)
            used_prompts.update(t.prompts)
        if t.secrets:
            entry["secrets"] = list(t.secrets)
            used_secrets.update(t.secrets)
        entries[t.name] = entry
    prompt_entries: dict[str, Any] = {}
    for p in prompts:
        if p.pinned not in used_prompts:
            continue
        data = p.text.encode("utf-8")
        path = f"prompts/{p.name}/{p.version}.j2"
        files.append(BundleFile(path, data))
        prompt_entries[p.pinned] = {
            "path": path,
            "digest": sha256_digest(data),
            "size": len(data),
            "variables": list(p.variables),
        }
    # SOPS documents travel as they are (still encrypted) for runtimes to decrypt.
    secret_entries: dict[str, Any] = {}
    for file in sorted(used_secrets):
        data = (secret_files or {})[file]
        path = f"secrets/{file}"
        files.append(BundleFile(path, data))
        secret_entries[file] = {"path": path, "digest": sha256_digest(data), "size": len(data)}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "cfgc_version": __version__,
        "source": {
            "repo_url": info.repo_url,
            "ref": info.ref,
            "commit": info.commit,
            "commit_time": info.commit_time,
            "dirty": info.dirty,
            "path": info.subdir,
        },
        "targets": entries,
        "prompts": prompt_entries,
        "secrets": secret_entries,
        "schemas": {s.rule.schema: {"digest": sha256_digest(s.raw), "match": s.rule.match} for s in schemas},
    }
    return manifest, files


def write_bundle(out: Path, manifest: dict[str, Any], files: list[BundleFile]) -> str:
    """Write a bundle to ``out`` atomically; returns the manifest digest."""
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise UsageError(f"--out {out} is a non-empty directory that holds no bundle; refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for f in files:
            dest = tmp / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.data)
        data = canonical_json(manifest)
        (tmp / MANIFEST).write_bytes(data)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sha256_digest(data)


def _swap(new: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
