"""Bundle directories: the compiled output of ``cfgc build``.

Layout::

    manifest.json                 what is inside, with digests (canonical JSON)
    targets/<target>.json         one compiled target each (canonical JSON)
    prompts/<name>/<version>.j2   the prompt templates the targets pin

A bundle is written to a temporary sibling directory (``.OUT.tmp-<pid>-*``)
and swapped into place only when complete (and signed), so a failed build
never leaves half a bundle and never removes the previous one; see
:mod:`cfgc.bundle.build` for the whole sequence and :mod:`cfgc.bundle.outdir` for the lock.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfgc import __version__
from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import InputError, UsageError
from cfgc.base.repopath import inside, relative_problem, target_name_problem
from cfgc.bundle.manifest import FORMAT, MANIFEST
from cfgc.bundle.manifest_json import manifest_bytes
from cfgc.bundle.swap import swap_into
from cfgc.compile.compiler import CompiledTarget
from cfgc.compile.merging import dotted
from cfgc.compile.prompts import Prompt
from cfgc.repo.config import SchemaRule
from cfgc.repo.sources import SourceInfo


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle: its path inside the bundle and its bytes."""

    path: str
    data: bytes


def target_path(name: str) -> str:
    """Where a target lives inside a bundle; InputError if ``name`` breaks the target grammar."""
    problem = target_name_problem(name)
    if problem:
        raise InputError(problem)
    return f"targets/{name}.json"


@dataclass(frozen=True)
class TargetOutput:
    """A compiled target in its bundle form.

    ``data`` is None when the bytes were already written into the staging
    directory (by a build worker, or linked from the build cache).
    """

    name: str
    vars: dict[str, str]
    digest: str
    size: int
    prompts: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    data: bytes | None = field(default=None, repr=False)


def target_output(t: CompiledTarget) -> TargetOutput:
    """Serialise a compiled target (canonical JSON, digest)."""
    try:
        data = canonical_json(t.value, t.encodes_plain)
    except ValueError:
        # Unreachable from YAML (the loader and templates refuse non-finite
        # numbers); kept for values built by other means, with a location.
        path = _non_finite(t.value)
        raise InputError(
            f"target {t.name} holds NaN or infinity at '{dotted(path)}', which JSON cannot carry",
            t.provenance.locate(path),
        ) from None
    return TargetOutput(t.name, t.spec.variables, sha256_digest(data), len(data), t.prompts, t.secrets, data)


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    """The path of the first NaN or infinity in ``value`` (the root if none)."""
    stack = [(path, value)]
    while stack:
        p, v = stack.pop()
        if type(v) is float and (v != v or v in (float("inf"), float("-inf"))):
            return p
        if type(v) is dict:
            stack.extend(((*p, k), x) for k, x in v.items())
        elif type(v) is list:
            stack.extend(((*p, i), x) for i, x in enumerate(v))
    return path


def manifest_entry(t: TargetOutput) -> dict[str, Any]:
    """The manifest's entry for one target."""
    entry: dict[str, Any] = {"digest": t.digest, "size": t.size, "vars": t.vars}
    if t.prompts:
        entry["prompts"] = list(t.prompts)
    if t.secrets:
        entry["secrets"] = list(t.secrets)
    return entry


def assemble(
    targets: Iterable[TargetOutput | CompiledTarget],
    prompts: Iterable[Prompt],
    schemas: Iterable[tuple[SchemaRule, bytes]],
    info: SourceInfo,
    secret_files: dict[str, bytes] | None = None,
) -> tuple[dict[str, Any], list[BundleFile]]:
    """The manifest and the files of a bundle still to write; no I/O."""
    files: list[BundleFile] = []
    entries: dict[str, Any] = {}
    used_prompts: set[str] = set()
    used_secrets: set[str] = set()
    outputs = [t if isinstance(t, TargetOutput) else target_output(t) for t in targets]
    for t in sorted(outputs, key=lambda t: t.name):
        if t.data is not None:
            files.append(BundleFile(target_path(t.name), t.data))
        entries[t.name] = manifest_entry(t)
        used_prompts.update(t.prompts)
        used_secrets.update(t.secrets)
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
        "schemas": {rule.schema: {"digest": sha256_digest(raw), "match": rule.match} for rule, raw in schemas},
    }
    return manifest, files


def open_staging(out: Path) -> Path:
    """A fresh temporary directory beside ``out`` to write a bundle into."""
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise UsageError(f"--out {out} is a non-empty directory that holds no bundle; refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    # The pid lets the next build tell a dead build's leftovers from a live one's.
    import tempfile  # only a full build stages a new directory; it imports random

    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))


def write_file(staging: Path, rel: str, data: bytes, mode: int = 0o644) -> str:
    """Write one file of a bundle into the staging directory; returns its path.

    ``mode`` 0o444 is for files the build cache then links as its blobs.
    """
    # Plain os calls: this runs once per target, and pathlib costs more than the write.
    problem = relative_problem(rel)
    if problem:
        raise InputError(f"refusing to write outside the bundle: {problem}")
    dest = os.path.join(staging, rel)
    folder = os.path.dirname(dest)
    if not inside_folder(str(staging), folder):
        raise InputError(f"refusing to write outside the bundle: {rel}")
    try:
        fd = os.open(dest, WRITE_FLAGS, mode)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(dest, WRITE_FLAGS, mode)
    write_all(fd, data, dest)
    return dest


def write_all(fd: int, data: bytes, dest: str) -> None:
    """Write ``data`` to ``fd`` and close it; an error names ``dest``."""
    try:
        view = memoryview(data)
        while view:  # a regular file takes it in one write; loop for the rare short write
            view = view[os.write(fd, view) :]
    except OSError as e:  # os.write names no file: a full disk should say which one
        raise OSError(e.errno, e.strerror, dest) from None
    finally:
        os.close(fd)


# O_NOFOLLOW: the file itself is never a link; its folder is checked below.
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


@functools.lru_cache(maxsize=4096)
def inside_folder(staging: str, folder: str) -> bool:
    """Whether ``folder`` resolves inside ``staging`` (decided once per folder)."""
    # One realpath per folder of the bundle, not per file: cfgc made every
    # folder of the staging directory itself, and a folder that resolved
    # inside once stays inside for the rest of the build.
    return inside(staging, folder)


def finish_staging(staging: Path, manifest: dict[str, Any], files: list[BundleFile]) -> str:
    """Write the remaining files and the manifest into ``staging``; returns the manifest digest."""
    for f in files:
        write_file(staging, f.path, f.data)
    data = manifest_bytes(manifest)
    write_file(staging, MANIFEST, data)
    return sha256_digest(data)


def commit_staging(staging: Path, out: Path, manifest: dict[str, Any], files: list[BundleFile]) -> str:
    """Finish a staged bundle and swap it into ``out``; returns the manifest digest.

    On any failure the staging directory is removed and ``out`` is untouched.
    """
    try:
        digest = finish_staging(staging, manifest, files)
        swap_into(staging, out.resolve())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return digest
