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

import contextlib
import hashlib
import os
import shutil
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cfgc.base.errors import CfgcError
from cfgc.base.interrupts import made
from cfgc.bundle import outstate
from cfgc.bundle.inplace import (
    DigestThread,
    info_json,
    new_manifest,
    old_entries,
    replace_state,
    save_after,
)
from cfgc.bundle.journal import JOURNAL, commit, open_commit
from cfgc.bundle.manifest import MANIFEST
from cfgc.bundle.outcheck import ManifestRead, check_out, same_folders_in
from cfgc.bundle.outdir import exclusive
from cfgc.bundle.outpack import DIGEST_BYTES, STAMP, ints
from cfgc.repo.sources import DirSource, Source

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic
    from cfgc.bundle.cache import BuildCache
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.gitinfo import GitQuery
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
            entries = old_entries(plan.raw, manifest, state, affected)
            specs = [TargetSpec(n, tuple((v, entries[n]["vars"][v]) for v in state.varnames),
                                tuple(state.paths[i] for i in layers[n])) for n in affected]
        except (IndexError, KeyError, TypeError, ValueError):
            return None  # a state that does not fit the manifest: build it whole
        try:
            return _update(source, out, state, plan, manifest, entries, specs, cache_root, key, open_cache, jobs,
                           progress)
        finally:
            from cfgc.compile.template_kept import KEPT

            KEPT.clear()  # recorded for this OUT's state only: nothing carries into a later build


def _plan(source: DirSource, out: Path, state: outstate.OutState, select: str | None, verify: bool) -> _Plan | None:
    root = str(source.root.resolve())
    if (state.out, state.root, state.select) != (str(out), root, select) or state.toolchain != outstate.toolchain():
        return None
    # git answers (a status of the whole tree among them) while this process stats
    # the repo and OUT; neither writes anything until the plan is made.
    with source.start_info() as query:
        return _checked(source, out, state, root, verify, query)


def _checked(source: DirSource, out: Path, state: outstate.OutState, root: str, verify: bool,
             query: GitQuery) -> _Plan | None:
    read = ManifestRead(out)
    try:
        return _compared(source, out, state, root, verify, query, read)
    finally:
        with contextlib.suppress(Exception):
            read.result()  # an early answer still waits for the reading thread (raised, if at all, in check_out)


def _compared(source: DirSource, out: Path, state: outstate.OutState, root: str, verify: bool,
              query: GitQuery, read: ManifestRead) -> _Plan | None:
    racy = outstate.racy_after()
    folders = same_folders_in(root, state, out, racy)
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
    checked = check_out(out, state, verify, read)
    if checked is None:
        return None
    bundle, dirs, manifest, raw = checked
    return _Plan(stamps, digests, folders, bundle, dirs, set(changed), manifest, raw, source.info(query), same_listing)


def _update(
    source: DirSource, out: Path, state: outstate.OutState, plan: _Plan, manifest: dict[str, Any] | None,
    entries: dict[str, Any], specs: list[TargetSpec], cache_root: Path, key: bytes,
    open_cache: Callable[[], BuildCache | None], jobs: int | None, progress: Progress | None,
) -> InPlace:
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
        cache.watch(source)
    if plan.same_listing:
        source.assume_listing(state.listed)  # the same files: the compile need not walk the repo again
    from cfgc.base.loading import CAREFUL
    from cfgc.bundle.outrecord import kept_careful, kept_config, kept_sops
    from cfgc.compile.template_kept import KEPT
    from cfgc.repo.config import MARKS
    from cfgc.secrets.creation_rules import PARSED

    # Values parsed from files the last build read, by their digests: a changed file is parsed again.
    MARKS.assume(state.config_marks)
    PARSED.assume(state.sops)
    CAREFUL.assume(state.careful)
    # Template results by text, limits and values read: the changed target's templates need no Jinja2.
    KEPT.assume(state.renders)
    compiler = _compiler(source)
    compiler.prompts.assume_pins(state.pins)  # the prompt files are those they were resolved over
    # Held back from before the folder exists until the block is entered: a Ctrl-C in
    # between would leave .OUT.commit without a journal.
    with made(lambda: open_commit(out), _drop_uncommitted) as cdir:
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
            data, found, deletes = new_manifest(source, compiler, state, plan.raw, plan.info, manifest, entries, built,
                                                result, cdir, moves)
            hashing = DigestThread(data)  # needed by the state's save only: overlaps the commit
            # The old bytes' digest is the state's (check_out compared them): equal bytes, the same manifest.
            same = data == plan.raw
            if not same:
                write_file(cdir, MANIFEST, data)
                moves.append(MANIFEST)
            commit(out, moves, deletes)
        except BaseException as e:
            from cfgc.base.errors import environment_error

            # A half-done commit is finished by the next build or `cfgc verify` (the journal stays).
            env = environment_error(e)
            if env is not None:
                raise env from None
            raise
    refreshed = replace_state(state, stamps=plan.stamps, digests=plan.digests, folders=plan.folders, dirs=plan.dirs,
                              spans=ints(found), pins={**state.pins, **compiler.prompts.pins()},
                              sops=kept_sops(state.globals), config_marks=kept_config(state.globals),
                              careful=kept_careful(state.globals, plan.digests), renders=KEPT.kept())
    save_after(out, refreshed, plan.bundle, info_json(plan.info), hashing, moves, deletes, result.diagnostics,
               affected, cache_root, key)
    return InPlace(names, hashing.result(), result.diagnostics, result.cache_hits + unaffected, same)


def _drop_uncommitted(cdir: Path) -> None:
    if not (cdir / JOURNAL).exists():  # renames never started: OUT is as it was
        shutil.rmtree(cdir, ignore_errors=True)


def _compiler(source: DirSource) -> Compiler:
    from cfgc.compile.compiler import Compiler

    compiler = Compiler(source)
    # Every prompt file is a global whose digest _plan checked: the full build that
    # recorded the state loaded and checked them all, and none changed since.
    compiler.prompts.checked = True
    return compiler
