"""In-place rebuilds: a build into the ``OUT`` the last build wrote does work proportional to the change.

Under the lock of ``OUT``, with the state the last build left (:mod:`cfgc.bundle.outstate`):

1. check that nothing global changed (toolchain, the repo's file list, cfgc.yaml,
   schemas, prompts, SOPS files) and that ``OUT`` is still what cfgc wrote
   (manifest hashed; every other file and folder by stat, a file whose stat
   changed hashed against the manifest; all hashed with ``verify_out``);
2. stat every layer file; read and hash only those whose stat changed;
3. the targets a changed file reaches (and those that had warnings) are
   compiled, validated and written into ``.OUT.commit/`` with the new
   manifest, before ``OUT`` is touched;
4. the changed files are renamed into ``OUT``, manifest last, under the
   commit journal (:mod:`cfgc.bundle.journal`).

Anything else returns None and the caller runs the full staged build and swap.
The manifest is assembled by the same code as a full build, from the entries
of the verified old manifest and the new outputs, so the bytes are those of a
clean build.  Nothing here imports the compiler, YAML or JSON Schema unless a
target must be compiled.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import shutil
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cfgc.base.errors import CfgcError
from cfgc.bundle import outfolders, outstate, splice
from cfgc.bundle.inplace import info_json, patched, reassembled, replace_state, save_after
from cfgc.bundle.journal import JOURNAL, commit, open_commit
from cfgc.bundle.manifest import MANIFEST, SECTIONS
from cfgc.bundle.outdir import exclusive
from cfgc.bundle.outpack import DIGEST_BYTES, STAMP, ints
from cfgc.repo.sources import DirSource, Source, folder_entries

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic
    from cfgc.bundle.cache import BuildCache
    from cfgc.bundle.layout import TargetOutput
    from cfgc.bundle.pipeline import PipelineResult
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.hierarchy import TargetSpec
    from cfgc.repo.sources import SourceInfo

Progress = Callable[[int, int], None]
# Up to this many targets to compile, the build cache is not opened (see _update).
DIRECT_MAX = 32


@dataclass(frozen=True)
class InPlace:
    """What an in-place build did; ``digest`` is None when findings stopped it (OUT untouched)."""

    names: tuple[str, ...]
    digest: str | None
    diagnostics: tuple[Diagnostic, ...]
    cache_hits: int
    unchanged: bool


@dataclass(frozen=True)
class _Plan:
    stamps: array[int]  # the state's file stamps, refreshed
    digests: bytes  # the state's file digests, refreshed
    folders: dict[str, str]  # the state's repo folder stamps, refreshed
    bundle: array[int]  # the state's bundle stamps, refreshed
    dirs: dict[str, int]  # the state's OUT folder stamps, refreshed
    changed: set[int]
    manifest: dict[str, Any] | None  # parsed when a check needed it
    raw: bytes
    info: SourceInfo
    same_listing: bool  # the folder check proved the repo holds the files the state lists


def build_in_place(
    source: Source, out: Path, *, select: str | None, cache_root: Path, key: bytes,
    open_cache: Callable[[], BuildCache | None], jobs: int | None = None,
    progress: Progress | None = None, verify_out: bool = False,
) -> InPlace | None:
    """Update ``out`` in place if the last build into it allows; None: do a full build."""
    if not isinstance(source, DirSource):
        return None
    out = out.resolve()
    with exclusive(out):
        state = outstate.load(cache_root, out, key)
        if state is None:
            return None
        try:
            plan = _plan(source, out, state, select, verify_out)
        except (OSError, CfgcError, ValueError, TypeError, IndexError, KeyError):
            # A file vanished or turned odd meanwhile (the full build reports it), or a state
            # of an unexpected shape: build it whole.
            plan = None
        if plan is None:
            return None
        reached = {i for i in plan.changed}
        layers = state.reach(reached, set(state.warned)) if reached or state.warned else {}
        affected = sorted(layers)
        info = info_json(plan.info)
        if not affected and info == state.source:
            refreshed = replace_state(state, stamps=plan.stamps, digests=plan.digests, bundle_stamps=plan.bundle,
                                      folders=plan.folders, dirs=plan.dirs)
            if refreshed != state:
                outstate.save(cache_root, out, key, refreshed)
            return InPlace(tuple(state.names), state.manifest, (), len(state.names), True)
        if 2 * len(affected) > len(state.names):
            return None  # most targets change: a fresh directory and one swap cost less
        manifest = plan.manifest
        if manifest is None and not state.spans:
            manifest = orjson.loads(plan.raw)
        from cfgc.repo.hierarchy import TargetSpec

        try:
            entries = _entries(plan.raw, manifest, state, affected)
            specs = [TargetSpec(n, tuple((v, entries[n]["vars"][v]) for v in state.varnames),
                                tuple(state.paths[i] for i in layers[n])) for n in affected]
        except (IndexError, KeyError, TypeError, ValueError):
            return None  # a state that does not fit the manifest: build it whole
        return _update(source, out, state, plan, manifest, entries, specs, cache_root, key, open_cache, jobs,
                       progress)


def _entries(raw: bytes, manifest: dict[str, Any] | None, state: outstate.OutState,
             names: list[str]) -> dict[str, Any]:
    """The old manifest entries of ``names``: from the parsed manifest, else parsed where the spans say."""
    if manifest is not None:
        return {n: manifest["targets"][n] for n in names}
    return {n: splice.entry(raw, state.spans, _position(state, n), n) for n in names}


def _position(state: outstate.OutState, name: str) -> int:
    """Where ``name`` is among the state's (sorted) targets."""
    i = bisect.bisect_left(state.names, name)
    if i == len(state.names) or state.names[i] != name:
        raise KeyError(name)
    return i


def _plan(source: DirSource, out: Path, state: outstate.OutState, select: str | None, verify: bool) -> _Plan | None:
    root = str(source.root.resolve())
    if (state.out, state.root, state.select) != (str(out), root, select) or state.toolchain != outstate.toolchain():
        return None
    racy = outstate.racy_after()
    folders = _same_folders_in(root, state, out, racy)
    same_listing = folders is not None
    if folders is None:
        if outstate.listing_digest(source.files()) != state.listing:
            return None  # a file was added or removed: targets and layers may differ
        folders = {rel: outstate.folder_stamp(st, racy) for rel, st in source.folders.items()}
    for path, hexdigest in state.globals.items():
        try:
            if hashlib.sha256(source.read(path)).hexdigest() != hexdigest:
                return None
        except Exception:  # noqa: BLE001 - unreadable now: the full build reports it properly
            return None
    stamps, digests = state.stamps, state.digests
    changed: dict[int, bytes] = {}
    stat = os.stat
    it = iter(state.stamps)
    for i, (path, mtime, ctime, size, ino) in enumerate(zip(state.paths, it, it, it, it, strict=True)):
        st = stat(f"{root}/{path}")
        # The stamp inline: this runs for every layer file of the repo.
        if mtime == st.st_mtime_ns and ctime == st.st_ctime_ns and size == st.st_size and ino == st.st_ino:
            continue
        data, st = source.read_stat(path)
        digest = hashlib.sha256(data).digest()
        if digest != digests[DIGEST_BYTES * i : DIGEST_BYTES * (i + 1)]:
            changed[i] = digest
            source.keep(path, data)  # the compile reads exactly the bytes hashed here
        if stamps is state.stamps:
            stamps = ints(stamps)
        stamps[STAMP * i : STAMP * (i + 1)] = ints(outstate.stamp(st, racy))
    if changed:
        edited = bytearray(digests)
        for i, digest in changed.items():
            edited[DIGEST_BYTES * i : DIGEST_BYTES * (i + 1)] = digest
        digests = bytes(edited)
    checked = _check_out(out, state, verify)
    if checked is None:
        return None
    bundle, dirs, manifest, raw = checked
    return _Plan(stamps, digests, folders, bundle, dirs, set(changed), manifest, raw, source.info(), same_listing)


def _same_folders_in(root: str, state: outstate.OutState, out: Path, racy: int) -> dict[str, str] | None:
    """The refreshed folder stamps if no repo folder's entries changed since it was listed, else None.

    A folder whose stat is unchanged holds what it held; one whose stat moved
    (a file saved by rename, cfgc's own writes when ``OUT`` is inside the repo)
    is listed again, alone, and compared with the digest of its entries.
    """
    folders = state.folders
    if not folders:
        return None
    stat = os.stat
    beside = outfolders.out_parent(out, Path(root))
    for rel, old in state.folders.items():
        try:
            st = stat(f"{root}/{rel}")
            if old and old == f"{st.st_mtime_ns}:{st.st_ctime_ns}":
                continue
            names = folder_entries(f"{root}/{rel}")  # after the stat: a later change shows next time
        except OSError:
            return None
        own = outfolders.own_names(out) if rel == beside else frozenset()
        if outfolders.folder_digest(names, own) != state.entries.get(rel):
            return None
        if folders is state.folders:
            folders = dict(state.folders)
        folders[rel] = outstate.folder_stamp(st, racy)
    return folders


def _check_out(
    out: Path, state: outstate.OutState, verify: bool
) -> tuple[array[int], dict[str, int], dict[str, Any] | None, bytes] | None:
    """OUT's refreshed stamps if it still holds what the state says cfgc wrote, else None."""
    try:
        with open(os.path.join(out, MANIFEST), "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if "sha256:" + hashlib.sha256(raw).hexdigest() != state.manifest:
        return None
    manifest: dict[str, Any] | None = None
    expected: dict[str, Any] = {}
    stamps = state.bundle_stamps
    lstat, base, now = os.lstat, str(out), time.time_ns()
    it = iter(state.bundle_stamps)
    try:
        for j, (rel, mtime, ctime, size, ino) in enumerate(zip(state.bundle, it, it, it, it, strict=True)):
            if rel == MANIFEST:
                continue
            st = lstat(f"{base}/{rel}")
            if (mtime == st.st_mtime_ns and ctime == st.st_ctime_ns and size == st.st_size and ino == st.st_ino
                    and not verify):
                continue
            if manifest is None:
                manifest = orjson.loads(raw)
                expected = _by_path(manifest)
            entry = expected.get(rel)
            if entry is None or not _matches(f"{base}/{rel}", entry):
                return None
            if stamps is state.bundle_stamps:
                stamps = ints(stamps)
            stamps[STAMP * j : STAMP * (j + 1)] = ints(outstate.out_stamp(st, now))
        dirs = _same_folders(out, state, verify, now)
        if dirs is None:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return stamps, dirs, manifest, raw


def _by_path(manifest: dict[str, Any]) -> dict[str, Any]:
    """Each file a manifest cfgc wrote lists, by bundle path (names were checked when written)."""
    found = {f"targets/{n}.json": e for n, e in manifest["targets"].items()}
    for section in SECTIONS:
        found.update((e["path"], e) for e in (manifest.get(section) or {}).values())
    return found


def _matches(path: str, entry: Any) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        data = os.read(fd, int(entry["size"]) + 1)
    finally:
        os.close(fd)
    return bool(len(data) == entry["size"] and "sha256:" + hashlib.sha256(data).hexdigest() == entry["digest"])


def _same_folders(out: Path, state: outstate.OutState, verify: bool, now: int) -> dict[str, int] | None:
    """OUT's refreshed folder stamps if every folder holds exactly the entries cfgc wrote
    (listed when its mtime moved), else None."""
    children: dict[str, set[str]] | None = None
    dirs = state.dirs
    for rel, mtime in state.dirs.items():
        st = os.lstat(os.path.join(out, rel))  # before the listing: a later change shows next time
        if mtime >= 0 and st.st_mtime_ns == mtime and not verify:
            continue
        if children is None:
            children = {}
            for p in (*state.bundle, *state.dirs):
                if p:
                    parent, _, name = p.rpartition("/")
                    children.setdefault(parent, set()).add(name)
        if set(os.listdir(os.path.join(out, rel))) != children.get(rel, set()):
            return None
        if dirs is state.dirs:
            dirs = dict(state.dirs)
        dirs[rel] = outstate.dir_stamp(st, now)
    return dirs


def _update(
    source: DirSource, out: Path, state: outstate.OutState, plan: _Plan, manifest: dict[str, Any] | None,
    entries: dict[str, Any], specs: list[TargetSpec], cache_root: Path, key: bytes,
    open_cache: Callable[[], BuildCache | None], jobs: int | None, progress: Progress | None,
) -> InPlace:
    from cfgc.base.canonical import sha256_digest
    from cfgc.bundle import pipeline
    from cfgc.bundle.layout import target_path, write_file

    affected = [s.name for s in specs]
    # A few targets compile faster than the build cache's index loads and saves
    # (about 3 MB at 10,000 targets): the cache is for changes that reach many.
    cache = open_cache() if len(specs) > DIRECT_MAX else None
    if cache is not None:
        cache.retain_all()  # the unaffected targets' entries stay: this build did not look them up
        index = {p: i for i, p in enumerate(state.paths)}
        for spec in specs:  # digests this build just checked: the cache need not stat or read again
            for p in spec.layers:
                cache.known(p, plan.digests[DIGEST_BYTES * index[p] : DIGEST_BYTES * (index[p] + 1)].hex())
    if plan.same_listing:
        source.assume_listing(state.listed)  # the same files: the compile need not walk the repo again
    compiler = _compiler(source)
    compiler.prompts.assume_pins(state.pins)  # the prompt files are those they were resolved over
    cdir = open_commit(out)
    try:
        # Prompt files are globals, unchanged since the full build loaded and checked them all.
        result = pipeline.run(compiler, None, staging=cdir, cache=cache, jobs=jobs, progress=progress, specs=specs,
                              library=False)
        built = {o.name: o for o in result.outputs}
        unaffected = len(state.names) - len(affected)
        names = tuple(sorted(set(state.names) - set(affected) | set(built)))
        if not result.ok:
            shutil.rmtree(cdir, ignore_errors=True)
            return InPlace(names, None, result.diagnostics, result.cache_hits + unaffected, False)
        moves = [target_path(n) for n in sorted(built) if built[n].digest != entries[n]["digest"]]
        data, found, deletes = _new_manifest(source, compiler, state, plan, manifest, entries, built, result,
                                             cdir, moves)
        digest = sha256_digest(data)
        if digest != state.manifest:
            write_file(cdir, MANIFEST, data)
            moves.append(MANIFEST)
        commit(out, moves, deletes)
    except BaseException as e:
        if not (cdir / JOURNAL).exists():  # renames never started: OUT is as it was
            shutil.rmtree(cdir, ignore_errors=True)
        from cfgc.base.errors import environment_error

        # A half-done commit is finished by the next build or `cfgc verify` (the journal stays).
        env = environment_error(e)
        if env is not None:
            raise env from None
        raise
    refreshed = replace_state(state, stamps=plan.stamps, digests=plan.digests, folders=plan.folders, dirs=plan.dirs,
                              spans=ints(found), pins={**state.pins, **compiler.prompts.pins()})
    save_after(out, refreshed, plan.bundle, info_json(plan.info), digest, moves, deletes, result.diagnostics,
               affected, cache_root, key)
    return InPlace(names, digest, result.diagnostics, result.cache_hits + unaffected, digest == state.manifest)


def _compiler(source: DirSource) -> Compiler:
    from cfgc.compile.compiler import Compiler

    compiler = Compiler(source)
    # Every prompt file is a global whose digest _plan checked: the full build that
    # recorded the state loaded and checked them all, and none changed since.
    compiler.prompts.checked = True
    return compiler


def _new_manifest(
    source: DirSource, compiler: Compiler, state: outstate.OutState, plan: _Plan, manifest: dict[str, Any] | None,
    entries: dict[str, Any], built: dict[str, TargetOutput], result: PipelineResult, cdir: Path, moves: list[str],
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
        data, found = splice.splice(plan.raw, state.spans, canonical_json(info_json(plan.info)),
                                    {_position(state, n): canonical_json(e) for n, e in new_entries.items()})
        return data, found, []
    if manifest is None:
        manifest = orjson.loads(plan.raw)
    new, deletes = patched(manifest, built, plan.info)
    if new is None:  # a target's prompts or SOPS files changed: those sections are rebuilt whole
        new, deletes = reassembled(source, compiler, manifest, built, result, plan.info, cdir, moves)
    data = canonical_json(new)
    return data, splice.spans(data, new) or [], deletes
