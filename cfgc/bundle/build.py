"""``build_bundle``: compile a source into a complete, signed bundle directory.

The sequence, all while holding the lock of the output directory
(:mod:`cfgc.bundle.outdir`)::

    clean leftovers of dead builds  ->  stage .OUT.tmp-<pid>-*  ->  compile
    ->  write targets + manifest  ->  sign in staging  ->  swap into OUT

so ``OUT`` only ever holds a complete bundle, signed when signers are given:
an invalid repo, a signing failure, a full disk or a kill leaves the previous
``OUT`` as it was.  The provenance's inputs are the files the compile read
(:mod:`cfgc.repo.inputs`), never a re-walk of the tree.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.base.beside import Beside, HelperLost
from cfgc.base.errors import InputError
from cfgc.base.gc_phases import collector_paused, frozen_scope
from cfgc.bundle import pipeline
from cfgc.bundle.layout import assemble, finish_staging, open_staging
from cfgc.bundle.pipeline import PipelineResult
from cfgc.bundle.stage import as_out, refuse_own_files, staged
from cfgc.bundle.swap import swap_into
from cfgc.compile.compiler import Compiler
from cfgc.repo.inputs import ReadLog, RecordingSource
from cfgc.repo.sources import DirSource, Source

if TYPE_CHECKING:
    from cfgc.bundle.cache import BuildCache
    from cfgc.bundle.outscan import Targets
    from cfgc.bundle.signing import Signer


@dataclass(frozen=True)
class BuildOutcome:
    """What :func:`build_bundle` did: the pipeline result, and the manifest digest if written."""

    result: PipelineResult
    out: Path
    digest: str | None = None  # None: findings stopped the build, OUT untouched

    @property
    def written(self) -> bool:
        """True when OUT now holds the new bundle."""
        return self.digest is not None

    @property
    def names(self) -> list[str]:
        """The targets compiled, sorted."""
        return [t.name for t in self.result.outputs]


def build_bundle(
    source: Source,
    out: Path,
    *,
    select: str | None = None,
    signers: Sequence[Signer] = (),
    key_files: Sequence[Path] = (),
    cache: BuildCache | None = None,
    jobs: int | None = None,
    progress: pipeline.Progress | None = None,
) -> BuildOutcome:
    """Compile ``source`` into the bundle directory ``out``, signed by ``signers``.

    ``key_files`` are the files the signers were loaded from: a compile that
    read one is refused rather than naming a private key as a build input.
    Raises CfgcError (environment failures as exit-4 errors naming ``out``).
    """
    # The listing and the outputs live as long as the build and hold no cycle: made with
    # the collector paused, then kept out of its generations (at 100,000 targets the
    # collections that walked them again were 0.3 s of this process's serial CPU).
    with frozen_scope() as freeze:
        return _build(source, out, select, signers, key_files, cache, jobs, progress, freeze)


def _build(
    source: Source, out: Path, select: str | None, signers: Sequence[Signer], key_files: Sequence[Path],
    cache: BuildCache | None, jobs: int | None, progress: pipeline.Progress | None, freeze: Callable[[], None],
) -> BuildOutcome:
    reads = ReadLog() if signers else None
    compiler = Compiler(RecordingSource(source, reads) if reads is not None else source)
    out = out.resolve()
    # Fail before any work when a layer is in OUT (a build would read its own last output).
    with collector_paused():  # 100,000 specs: no cycles, and full collections over them cost ~0.3 s
        layers = {p for spec in compiler.specs(select) for p in spec.layers}
        freeze()  # while paused: the collector's first pass after the pause would walk them all
    refuse_own_files(layers, source, out, key_files)
    recording = cache is not None and not signers and isinstance(source, DirSource)
    try:
        with staged(out, open_staging) as staging:
            globals_ = None
            if recording:
                from cfgc.bundle.outglobals import global_digests

                globals_ = global_digests(compiler)
                from cfgc.compile.template_kept import KEPT

                KEPT.assume(None)  # record template results: the next in-place build then needs no Jinja2
            result = pipeline.run(
                compiler, select, staging=staging, cache=cache, jobs=jobs, progress=progress, reads=reads,
                save_cache=False, freeze=freeze, meanwhile=_tail_imports if cache is not None else None,
            )
            if not result.ok:
                return BuildOutcome(result, out)
            # The cache's index and the in-place state's layer lists need neither the
            # bundle nor the manifest: made on the core the workers just left.
            side = _beside(source, compiler, select, result, out, staging, cache, recording and globals_ is not None, jobs)
            try:
                manifest, digest = _write(compiler, select, signers, key_files, source, result, out, staging, freeze)
                # The state the next build into OUT updates in place from (cfgc.bundle.incremental);
                # without a cache there is none to leave (record() returns at once).
                if cache is not None:
                    from cfgc.bundle.outrecord import record

                    record(source, compiler, select, result, out, cache, globals_, manifest, digest,
                           targets=side.result if side is not None else None)
                if side is not None:
                    # An error of the index's write (a bug) is raised here.  A helper lost
                    # (killed, out of memory) once the bundle is in place only means no
                    # index and no in-place state: the next build is a cold one.
                    with contextlib.suppress(HelperLost):
                        side.result()
            finally:
                if side is not None:
                    side.wait()  # a build stopped by an error still lets the index be written
        return BuildOutcome(result, out, digest)
    finally:
        if recording:
            from cfgc.compile.template_kept import KEPT

            KEPT.clear()  # recorded for this OUT's state only: nothing carries into a later build


def _write(
    compiler: Compiler, select: str | None, signers: Sequence[Signer], key_files: Sequence[Path], source: Source,
    result: PipelineResult, out: Path, staging: Path, freeze: Callable[[], None],
) -> tuple[dict[str, Any], str]:
    """Write the manifest and the remaining files, sign, and swap the bundle into ``out``."""
    if not result.outputs:
        raise InputError(
            f"no targets{' match ' + repr(select) if select else ''}: no file matches the last "
            f"hierarchy entry {compiler.config.hierarchy[-1].pattern!r}",
            compiler.config.target_location if not select else None,
        )
    schemas = compiler.schema_entries()
    info = source.info()
    # An entry per target and no cycles: at 100,000 targets the collector's full
    # passes over the outputs and entries were about half of assembling them.
    with collector_paused():
        manifest, files = assemble(result.outputs, result.prompts, schemas, info, result.secret_files)
        digest = finish_staging(staging, manifest, files)
        freeze()
    if signers:
        from cfgc.bundle.attest import sign_bundle

        inputs = result.inputs or {}
        refuse_own_files(inputs, source, out, key_files)
        sign_bundle(staging, list(signers), inputs=inputs)
    swap_into(staging, out)
    return manifest, digest


def _tail_imports() -> None:
    """Import what only the end of a build with a cache runs (the in-place state, the scan
    of ``targets/``), while the workers compile: before the fork these imports (about 8 ms)
    were serial work with the second core idle, and after the last result they would be on
    the tail's critical path."""
    import cfgc.bundle.outrecord
    import cfgc.bundle.outscan  # noqa: F401


def _beside(
    source: Source, compiler: Compiler, select: str | None, result: PipelineResult, out: Path, staging: Path,
    cache: BuildCache | None, lists: bool, jobs: int | None,
) -> Beside[Targets | None] | None:
    """The cache's index written and (``lists``) the ``targets/`` folder the workers wrote scanned
    for the in-place state (:func:`cfgc.bundle.outscan.scan_targets`), in a forked child when the
    build ran on several cores (:func:`cfgc.base.parallel.parallel`) and this process writes no
    file into that folder.

    The state's layer lists (:func:`cfgc.bundle.outrecord.layers`) are made by this process,
    after the manifest: the child's index and scan took longer than the parent's manifest and
    swap, so the lists there were on the tail's critical path (and travelled back pickled).
    """
    if cache is None:
        return None
    from cfgc.base.parallel import parallel
    from cfgc.bundle.outrecord import target_names
    from cfgc.bundle.outscan import open_targets, scan_targets

    fork = parallel(len(result.outputs), jobs)
    folder = -1
    if fork and all(o.data is None for o in result.outputs):
        # Opened before the fork: the child reads it by descriptor after the swap renamed it.
        with contextlib.suppress(OSError):
            folder = open_targets(staging)
    written = time.time_ns()  # every worker has returned: no target file is written after this

    def tail() -> Targets | None:
        cache.save()
        if not lists or cache.key is None or folder < 0:
            return None
        try:
            # The names in the order outrecord.layers gives them (the same function, the same specs).
            return scan_targets(folder, written, target_names(compiler, select))
        except OSError:  # outrecord.record then scans the whole of OUT itself
            return None

    try:
        side = Beside(tail, fork=fork)
    finally:
        if folder >= 0:
            os.close(folder)
    cache.release()  # the child, or tail() here, wrote the index; this process links no more blobs
    return side


# Names other modules and tests import from here (the helpers now live in cfgc.bundle.stage).
_refuse_own_files = refuse_own_files
__all__ = ["BuildOutcome", "as_out", "build_bundle", "refuse_own_files"]
