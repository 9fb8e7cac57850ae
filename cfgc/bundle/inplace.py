"""The manifest and the state after an in-place update (:mod:`cfgc.bundle.incremental`)."""

from __future__ import annotations

import bisect
import os
import time
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cfgc.bundle import outstate, splice
from cfgc.bundle.manifest import listed_files
from cfgc.bundle.outpack import STAMP, ints

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic
    from cfgc.bundle.layout import TargetOutput
    from cfgc.bundle.pipeline import PipelineResult
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.sources import DirSource, SourceInfo


def info_json(info: SourceInfo) -> dict[str, Any]:
    """The manifest's ``source`` section for ``info`` (as :func:`cfgc.bundle.layout.assemble` writes it)."""
    return {"repo_url": info.repo_url, "ref": info.ref, "commit": info.commit, "commit_time": info.commit_time,
            "dirty": info.dirty, "path": info.subdir}


def replace_state(state: outstate.OutState, **changes: Any) -> outstate.OutState:
    """``state`` with some fields changed."""
    return outstate.OutState(**{**state.to_json(), **changes})


def patched(
    manifest: dict[str, Any], built: dict[str, TargetOutput], info: SourceInfo
) -> tuple[dict[str, Any] | None, list[str]]:
    """The old manifest with the new targets' entries and source, when its other sections stay."""
    from cfgc.bundle.layout import manifest_entry

    targets = dict(manifest["targets"])
    for name, out in built.items():
        entry = manifest_entry(out)
        old = targets[name]
        if entry.get("prompts") != old.get("prompts") or entry.get("secrets") != old.get("secrets"):
            return None, []
        targets[name] = entry
    return {**manifest, "targets": targets, "source": info_json(info)}, []


def reassembled(
    source: DirSource, compiler: Compiler, manifest: dict[str, Any], built: dict[str, TargetOutput],
    result: PipelineResult, info: SourceInfo, cdir: Path, moves: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """The manifest assembled as a full build does; prompt and SOPS files that change are staged."""
    from cfgc.base.canonical import sha256_digest
    from cfgc.bundle.layout import TargetOutput, assemble, write_file

    outputs = [built.get(n) or TargetOutput(n, e["vars"], e["digest"], e["size"], tuple(e.get("prompts", ())),
                                            tuple(e.get("secrets", ()))) for n, e in manifest["targets"].items()]
    used = {f for o in outputs for f in o.secrets}
    secret_files = {f: result.secret_files.get(f) or source.read(f) for f in used}
    from cfgc.compile.prompts import PromptLibrary

    # The in-place run neither loads the prompt library (library=False) nor parses
    # the templates it pins (checked): a fresh library loads them with their variables.
    library = PromptLibrary(source, compiler.config.prompts).all()
    new, files = assemble(outputs, library, compiler.schema_entries(), info, secret_files)
    old = {p: e["digest"] for p, _, e in listed_files(manifest)}
    for f in files:
        if old.get(f.path) != sha256_digest(f.data):
            write_file(cdir, f.path, f.data)
            moves.append(f.path)
    listed = {p for p, _, _ in listed_files(new)}
    return new, sorted(p for p in old if p not in listed)


class DigestThread:
    """``sha256:<hex>`` of ``data``, computed on another thread while the caller commits.

    The new manifest's digest (3 MB at 10,000 targets: 84 M instructions of SHA-256)
    is needed only for the state and the answer; whether the manifest changed is
    answered by its bytes against the old ones, whose digest the OUT check matched.
    hashlib releases the GIL, so with a free core the hash overlaps the writes and
    renames instead of preceding them.
    """

    def __init__(self, data: bytes) -> None:
        import threading

        self._found: str | BaseException = ""
        self._thread = threading.Thread(target=self._run, args=(data,), daemon=True)
        self._thread.start()

    def _run(self, data: bytes) -> None:
        from cfgc.base.canonical import sha256_digest

        try:
            self._found = sha256_digest(data)
        except BaseException as e:  # noqa: BLE001 - raised again in the waiting thread
            self._found = e

    def result(self) -> str:
        """The digest (waits for the thread; raises what it raised)."""
        self._thread.join()
        if isinstance(self._found, BaseException):
            raise self._found
        return self._found


def save_after(
    out: Path, state: outstate.OutState, bundle_stamps: array[int], source: dict[str, Any], digest: DigestThread,
    moves: list[str], deletes: list[str], diags: tuple[Diagnostic, ...], affected: list[str],
    cache_root: Path, key: bytes,
) -> None:
    if any(not d.targets for d in diags):
        outstate.forget(cache_root, out)  # findings not tied to a target: the next build is a full one
        return
    now = time.time_ns()
    bundle, dirs = state.bundle, dict(state.dirs)
    where = {rel: _bundle_index(state, rel) for rel in moves}
    if deletes or any(j is None for j in where.values()):
        # Prompt or SOPS files came or went (rare): through a dict of stamps.
        it = iter(bundle_stamps)
        stamps = dict(zip(bundle, zip(it, it, it, it, strict=True), strict=True))
        for rel in deletes:
            stamps.pop(rel, None)
        for rel in moves:
            stamps[rel] = outstate.out_stamp(os.lstat(os.path.join(out, rel)), now)
        bundle, bundle_stamps = outstate.bundle_parts(stamps, state.names)
    else:
        bundle_stamps = ints(bundle_stamps)
        for rel in moves:
            j = where[rel]
            assert j is not None  # checked above
            bundle_stamps[STAMP * j : STAMP * (j + 1)] = ints(outstate.out_stamp(os.lstat(os.path.join(out, rel)), now))
    for rel in {p.rpartition("/")[0] for p in (*moves, *deletes)}:
        parts = rel.split("/") if rel else []
        for n in range(len(parts), -1, -1):
            folder = "/".join(parts[:n])
            try:
                dirs[folder] = outstate.dir_stamp(os.stat(os.path.join(out, folder)), now)
            except FileNotFoundError:
                dirs.pop(folder, None)
    warned = (set(state.warned) - set(affected)) | {t for d in diags for t in d.targets}
    outstate.save(cache_root, out, key, replace_state(
        state, bundle=bundle, bundle_stamps=bundle_stamps, dirs=dirs, manifest=digest.result(), source=source,
        warned=sorted(warned)))


def _bundle_index(state: outstate.OutState, rel: str) -> int | None:
    """Where ``rel`` is in the state's list of OUT's files, None if not there.

    A target's file is found by its name (the list starts with the targets' files
    in the order of their sorted names: :func:`cfgc.bundle.outstate.bundle_parts`)
    instead of a dict of all 10,000 paths built on every save.
    """
    bundle = state.bundle
    if rel.startswith("targets/") and rel.endswith(".json"):
        i = bisect.bisect_left(state.names, rel[len("targets/") : -len(".json")])
        if i < len(state.names) and i < len(bundle) and bundle[i] == rel:
            return i
    try:
        return bundle.index(rel)  # a prompt or SOPS file (rare): a scan
    except ValueError:
        return None


def old_entries(raw: bytes, manifest: dict[str, Any] | None, state: outstate.OutState,
             names: list[str]) -> dict[str, Any]:
    """The old manifest entries of ``names``: from the parsed manifest, else parsed where the spans say."""
    if manifest is not None:
        return {n: manifest["targets"][n] for n in names}
    return {n: splice.entry(raw, state.spans, position(state, n), n) for n in names}


def position(state: outstate.OutState, name: str) -> int:
    """Where ``name`` is among the state's (sorted) targets."""
    i = bisect.bisect_left(state.names, name)
    if i == len(state.names) or state.names[i] != name:
        raise KeyError(name)
    return i


def new_manifest(
    source: DirSource, compiler: Compiler, state: outstate.OutState, raw: bytes, info: SourceInfo,
    manifest: dict[str, Any] | None, entries: dict[str, Any], built: dict[str, TargetOutput], result: PipelineResult,
    cdir: Path, moves: list[str],
) -> tuple[bytes, list[int], list[str]]:
    """The new manifest's bytes, its spans, and the bundle files it no longer lists.

    Only targets' entries and ``source`` change: the old bytes are patched
    (:mod:`cfgc.bundle.splice`).  A target whose prompts or SOPS files
    changed reassembles the manifest as a full build does.
    """
    from cfgc.base.canonical import canonical_json
    from cfgc.bundle.layout import manifest_entry

    new_entries = {n: manifest_entry(o) for n, o in built.items()}
    if state.spans and all(
        e.get("prompts") == entries[n].get("prompts") and e.get("secrets") == entries[n].get("secrets")
        for n, e in new_entries.items()
    ):
        data, found = splice.splice(raw, state.spans, canonical_json(info_json(info)),
                                    {position(state, n): canonical_json(e) for n, e in new_entries.items()})
        return data, found, []
    if manifest is None:
        manifest = orjson.loads(raw)
    new, deletes = patched(manifest, built, info)
    if new is None:  # a target's prompts or SOPS files changed: those sections are rebuilt whole
        new, deletes = reassembled(source, compiler, manifest, built, result, info, cdir, moves)
    data = canonical_json(new)
    return data, splice.spans(data, new) or [], deletes
