"""Write the state a full build leaves for the next in-place build (:mod:`cfgc.bundle.incremental`)."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.base.errors import CfgcError
from cfgc.bundle import outfolders, outstate
from cfgc.bundle.manifest import MANIFEST
from cfgc.bundle.outcheck import MAX_MANIFEST_BYTES
from cfgc.bundle.outpack import DIGEST_BYTES, ints
from cfgc.bundle.splice import spans
from cfgc.repo.sources import DirSource, Source

if TYPE_CHECKING:
    from cfgc.bundle.cache import BuildCache
    from cfgc.bundle.pipeline import PipelineResult
    from cfgc.compile.compiler import Compiler


def global_digests(compiler: Compiler) -> dict[str, str] | None:
    """sha256 of every file all targets depend on: cfgc.yaml, schemas, prompts, SOPS rules.

    Taken before the compile, so a file changed during the build is seen as
    changed by the next one.  None when one cannot be read: the build reports it.
    """
    try:
        return _global_digests(compiler)
    except (CfgcError, OSError):
        return None


def _global_digests(compiler: Compiler) -> dict[str, str]:
    from cfgc.compile.schema import schema_files
    from cfgc.secrets.creation_rules import CONFIG_NAMES

    src = compiler.source
    found = {"cfgc.yaml": src.read("cfgc.yaml"), **schema_files(src, compiler.config)}
    for versions in compiler.prompts.versions.values():
        for path in versions.values():
            found[path] = src.read(path)
    listed = set(src.files())
    for name in CONFIG_NAMES:
        if name in listed:
            found[name] = src.read(name)
    return {p: hashlib.sha256(raw).hexdigest() for p, raw in sorted(found.items())}


def record(
    source: Source, compiler: Compiler, select: str | None, result: PipelineResult, out: Path,
    cache: BuildCache | None, globals_: dict[str, str] | None, manifest: dict[str, Any], digest: str,
) -> None:
    """Leave the state of ``out`` just written by a full build; drop it when no in-place build may follow."""
    if cache is None or cache.key is None:
        return
    try:
        _record(source, compiler, select, result, out, cache, cache.key, globals_, manifest, digest)
    except OSError:  # the state only saves time: a build that wrote OUT has succeeded
        outstate.forget(cache.root, out)


def _record(
    source: Source, compiler: Compiler, select: str | None, result: PipelineResult, out: Path,
    cache: BuildCache, key: bytes, globals_: dict[str, str] | None, manifest: dict[str, Any], digest: str,
) -> None:
    root = cache.root
    if not isinstance(source, DirSource) or globals_ is None or any(not d.targets for d in result.diagnostics):
        outstate.forget(root, out)
        return
    specs = compiler.selected(select)
    index: dict[str, int] = {}
    paths: list[str] = []
    stamps: list[outstate.Stamp] = []
    digests: list[bytes] = []
    names: list[str] = []
    counts: list[int] = []
    flat: list[int] = []
    for spec in sorted(specs, key=lambda s: s.name):  # the manifest's order (cfgc.bundle.splice)
        layers = []
        for p in spec.layers:
            i = index.get(p)
            if i is None:
                memo = cache.memo(p)
                if memo is None:  # not hashed by this build: no stamp to trust
                    outstate.forget(root, out)
                    return
                i = index[p] = len(paths)
                paths.append(p)
                stamps.append(outstate.parse_stamp(memo[0]))
                digests.append(bytes.fromhex(memo[1]))
            layers.append(i)
        names.append(spec.name)
        counts.append(len(layers))
        flat += layers
    secrets = {f: hashlib.sha256(raw).hexdigest() for f, raw in result.secret_files.items()}
    racy = outstate.racy_after()
    try:  # the bytes the spans are checked against; bounded like the in-place build's read of them
        raw = read_capped(out / MANIFEST, MAX_MANIFEST_BYTES, follow_links=False)
    except NotRegular:
        raw = b""
    if not raw or len(raw) > MAX_MANIFEST_BYTES:  # not the manifest this build wrote
        outstate.forget(root, out)
        return
    found = spans(raw, manifest)
    scanned, dirs = scan_out(out, time.time_ns())
    try:
        bundle, bundle_stamps = outstate.bundle_parts(scanned, names)
    except KeyError:  # a target's file is not in OUT: nothing to update in place from
        outstate.forget(root, out)
        return
    state = outstate.OutState(
        out=str(out), root=str(source.root.resolve()), select=select, toolchain=outstate.toolchain(),
        listing=outstate.listing_digest(source.files()), listed=source.files(), source=manifest["source"],
        folders={rel: outstate.folder_stamp(st, racy) for rel, st in source.folders.items()},
        entries=outfolders.listed_entries(source.files(), list(source.folders), out, source.root.resolve()),
        varnames=list(compiler.config.hierarchy[-1].variables), globals={**globals_, **secrets},
        paths=paths, stamps=ints(chain.from_iterable(stamps)), digests=b"".join(digests), names=names,
        counts=ints(counts), layers=ints(flat), warned=sorted({t for d in result.diagnostics for t in d.targets}),
        manifest=digest, bundle=bundle, bundle_stamps=bundle_stamps, dirs=dirs, spans=ints(found or ()), pins={},
        sops=kept_sops(globals_), config_marks=kept_config(globals_), careful={},
    )
    state = replace(state, careful=kept_careful(state.globals, state.digests))
    outstate.save(root, out, key, state)


def kept_sops(globals_: dict[str, str]) -> dict[str, Any]:
    """The parsed ``.sops.yaml`` of this build, for the next in-place build (only the current file's digest)."""
    from cfgc.secrets.creation_rules import PARSED

    return PARSED.kept(set(globals_.values()))


def kept_careful(globals_: dict[str, str], digests: bytes) -> dict[str, Any]:
    """The values the careful YAML path built for files still in the repo (``digests``: the layers', packed)."""
    from cfgc.base.loading import CAREFUL

    current = set(globals_.values())
    return CAREFUL.kept(lambda d: d in current or _packed(digests, bytes.fromhex(d)))


def _packed(digests: bytes, one: bytes) -> bool:
    at = digests.find(one)
    while at >= 0 and at % DIGEST_BYTES:
        at = digests.find(one, at + 1)
    return at >= 0


def kept_config(globals_: dict[str, str]) -> dict[str, Any]:
    """The source positions of this build's ``cfgc.yaml``, for the next in-place build."""
    from cfgc.repo.config import MARKS

    return MARKS.kept(set(globals_.values()))


def scan_out(out: Path, now: int) -> tuple[dict[str, outstate.Stamp], dict[str, int]]:
    """The stamps of every file and folder in a bundle directory just written (``now``: time_ns)."""
    files: dict[str, outstate.Stamp] = {}
    dirs: dict[str, int] = {}
    root = str(out)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        dirs[rel] = outstate.dir_stamp(os.stat(dirpath), now)
        for name in filenames:
            p = f"{rel}/{name}" if rel else name
            files[p] = outstate.out_stamp(os.stat(os.path.join(dirpath, name), follow_symlinks=False), now)
        dirnames.sort()
    return files, dirs
