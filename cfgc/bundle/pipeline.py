"""The build pipeline: cache lookup, then compile the rest on every core.

Targets are grouped by the layers they share and handed to worker processes
(fork) in chunks, so each worker parses a shared layer once.  Workers validate
and serialise their targets and, when a bundle is being written, write the
target files into the staging directory themselves; only small records travel
back.  The result is identical to a serial build: outputs are sorted by name
and the findings are grouped the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.diagnostics import Diagnostic, group
from cfgc.base.errors import CfgcError, ExternalError, InputError
from cfgc.base.gc_phases import collector_paused
from cfgc.base.parallel import MIN_CHUNK, cores, fan_out, parallel
from cfgc.bundle.layout import TargetOutput
from cfgc.bundle.pipeline_workers import Chunk, Hashed, Wire, compile_chunk
from cfgc.compile.compiler import Compiler
from cfgc.compile.hygiene import sops_file_findings
from cfgc.compile.prompts import Prompt
from cfgc.compile.template_kept import KEPT
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.inputs import ReadLog

if TYPE_CHECKING:  # a build without a cache (--no-cache) never imports it
    from cfgc.bundle.cache import BuildCache

Progress = Callable[[int, int], None]
CHUNK = MIN_CHUNK  # targets per chunk, also on one core: the progress stays live
_ChunkResult = tuple[list[TargetOutput], list[Diagnostic], dict[str, bytes], list[str | None], list[tuple[str, str]], Hashed]


@dataclass(frozen=True)
class PipelineResult:
    """What a build produced: outputs sorted by name, grouped findings."""

    outputs: tuple[TargetOutput, ...]
    diagnostics: tuple[Diagnostic, ...]
    prompts: tuple[Prompt, ...]
    secret_files: dict[str, bytes]
    cache_hits: int = 0
    inputs: dict[str, str] | None = None  # path -> sha256 of every file read, when recorded

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(d.severity == "error" for d in self.diagnostics)



def run(
    compiler: Compiler,
    select: str | None = None,
    *,
    staging: Path | None = None,
    cache: BuildCache | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    reads: ReadLog | None = None,
    specs: list[TargetSpec] | None = None,
    library: bool = True,
    save_cache: bool = True,
    freeze: Callable[[], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> PipelineResult:
    """Compile, validate and serialise the selected targets.

    With ``reads`` (the log of the compiler's source, a
    :class:`cfgc.repo.inputs.RecordingSource`) the result's ``inputs`` are the
    files the build read, including those read by worker processes and the
    layers of targets that came from the build cache.  ``specs`` replaces the
    selection (an in-place build compiles only the targets a change reaches).
    ``library=False`` leaves out loading every prompt version for the result's
    ``prompts`` (an in-place build whose prompt files did not change keeps them).
    ``save_cache=False`` leaves writing the cache's index to the caller (a full
    build writes it beside the bundle, :mod:`cfgc.bundle.build`).  ``freeze`` (of a
    :func:`cfgc.base.gc_phases.frozen_scope`) is called once the outputs are gathered,
    while the collector is still paused: they then stay out of its generations.
    ``meanwhile`` is called once, after the first compiled chunk is gathered (workers, when
    they fork, are then compiling): work of the caller's that neither needs the results nor
    may fail, moved off the serial start and end of the build.
    """
    if specs is None:
        specs = compiler.selected(select)
    outputs, todo, gkey = _from_cache(compiler, specs, cache, staging)
    hits = len(outputs)
    if todo:
        try:
            compiler.schemas  # noqa: B018 - a bad schema fails fast, before any worker starts
        except CfgcError as e:
            return PipelineResult((), (Diagnostic.from_error(e, "schema"),), (), {})
    diags: list[Diagnostic] = []
    secret_files: dict[str, bytes] = {}
    # When workers compile, this process only gathers their records (an object
    # or two per target, no cycles): its collector's passes over 100,000 specs
    # and outputs took the cores the workers need.  A compile here keeps it on.
    # The cores are counted once, and the pause is decided as imap_chunks decides to
    # fork (workers for two chunks or more): a count that changed in between (taskset
    # on a running build) would leave this process compiling with its collector off.
    jobs = jobs or cores()
    forks = parallel(len(todo), jobs) and min(jobs, -(-len(todo) // CHUNK)) > 1
    with collector_paused() if forks else contextlib.nullcontext():
        _compile_rest(compiler, todo, len(specs), hits, _Sink(outputs, diags, secret_files),
                      staging=staging, cache=cache, jobs=jobs, progress=progress, reads=reads, gkey=gkey,
                      meanwhile=meanwhile)
        _backfill_secrets(compiler, outputs, secret_files, cache)
        outputs.sort(key=lambda o: o.name)
        if freeze is not None:
            freeze()
    diags.extend(sops_file_findings(compiler.source, compiler.config, secret_files))
    prompts = _prompts(compiler, diags) if library else []
    if save_cache and cache is not None and not any(d.severity == "error" for d in diags):
        cache.save()
    inputs = None
    if reads is not None:
        _read_cached_layers(compiler, specs, outputs, reads, cache)
        inputs = reads.digests()
    return PipelineResult(tuple(outputs), tuple(group(diags)), tuple(prompts), secret_files, hits, inputs)


@dataclass(frozen=True)
class _Sink:
    """Where compiled chunks land (the lists and dict are filled in place)."""

    outputs: list[TargetOutput]
    diags: list[Diagnostic]
    secret_files: dict[str, bytes]


def _from_cache(
    compiler: Compiler, specs: list[TargetSpec], cache: BuildCache | None, staging: Path | None
) -> tuple[list[TargetOutput], list[tuple[TargetSpec, str | None]], str | None]:
    """The targets the build cache holds (placed into ``staging``), the rest with their
    keys, and the global key when the workers key their own targets instead
    (:meth:`cfgc.bundle.cache.BuildCache.keys_in_workers`: a first fill has nothing to look up,
    and keying 10,000 targets here is serial work before any worker starts)."""
    if cache is None:
        return [], [(s, None) for s in specs], None
    from cfgc.bundle.target_keys import global_key

    gkey = global_key(compiler)
    if cache.keys_in_workers(compiler.source):
        return [], [(s, None) for s in specs], gkey
    keyed = [(spec, cache.target_key(spec, gkey, compiler.source)) for spec in specs]
    found, misses = cache.get_many(keyed, staging)
    return list(found), list(misses), None


def _compile_rest(
    compiler: Compiler,
    todo: list[tuple[TargetSpec, str | None]],
    total: int,
    done: int,
    sink: _Sink,
    *,
    staging: Path | None,
    cache: BuildCache | None,
    jobs: int | None,
    progress: Progress | None,
    reads: ReadLog | None,
    gkey: str | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Compile ``todo`` on every core (:mod:`cfgc.bundle.pipeline_workers`), recording each output in the cache and reporting
    progress (``gkey``: the workers key their targets under this global key)."""
    if progress is not None and total:
        progress(done, total)
    for outs, ds, secrets, keys, read, hashed in _compile_all(compiler, todo, staging, cache, jobs, reads, gkey):
        if reads is not None:
            reads.merge(read)
        if cache is not None and hashed:
            cache.adopt(hashed)
        sink.outputs.extend(outs)
        sink.diags.extend(ds)
        sink.secret_files.update(secrets)
        if cache is not None:
            for out, k in zip(outs, keys, strict=True):
                if k is not None:
                    cache.record(k, out)
        done += len(outs) + len({t for d in ds for t in d.targets} - {o.name for o in outs})
        if progress is not None:
            progress(min(done, total), total)
        if meanwhile is not None:
            meanwhile()
            meanwhile = None


def _backfill_secrets(
    compiler: Compiler, outputs: list[TargetOutput], secret_files: dict[str, bytes], cache: BuildCache | None
) -> None:
    """Cached targets may need SOPS documents this run did not parse.

    Those targets were served under keys naming each file's digest; a file
    saved since (the cache's check of every read from disk) would pair them
    with other bytes, so the build stops before anything is written.
    """
    for out in outputs:
        for f in out.secrets:
            if f not in secret_files:
                secret_files[f] = compiler.source.read(f)
                if cache is not None and f in cache.digests.changed_paths:
                    raise ExternalError(f"{f}: changed while cfgc was building; nothing was written, build again")


def _prompts(compiler: Compiler, diags: list[Diagnostic]) -> list[Prompt]:
    """Every prompt version the bundle carries; a broken library becomes a finding."""
    try:
        return compiler.prompts.all()
    except InputError as e:
        diags.append(Diagnostic.from_error(e, "prompt"))
        return []


def _read_cached_layers(
    compiler: Compiler,
    specs: list[TargetSpec],
    outputs: list[TargetOutput],
    reads: ReadLog,
    cache: BuildCache | None,
) -> None:
    """Read the layers of targets served from the cache, which this build did not parse.

    The cache knew them by stat; the provenance names their content, which
    must be the content the cache key was made from.
    """
    built = {o.name for o in outputs}
    for spec in specs:
        if spec.name in built:
            for path in spec.layers:
                if path not in reads:
                    compiler.source.read(path)
                    if cache is not None:
                        _same_as_cache_key(path, reads.get(path) or "", cache.file_digest(compiler.source, path))


def _same_as_cache_key(path: str, read: str, keyed: str) -> None:
    # The cache keys working-tree files by plain sha256 hex (git blobs by "git:<sha1>").
    if len(keyed) == 64 and read != "sha256:" + keyed:
        from cfgc.base.errors import ExternalError

        raise ExternalError(f"{path} changed while cfgc was building; build again")


def _compile_all(
    compiler: Compiler,
    todo: Chunk,
    staging: Path | None,
    cache: BuildCache | None,
    jobs: int | None,
    reads: ReadLog | None = None,
    gkey: str | None = None,
) -> Iterator[_ChunkResult]:
    """Results chunk by chunk, as workers finish them (so progress is live)."""
    if not todo:
        return
    # Targets that share layers go together, so a worker parses them once.
    with collector_paused():  # a key tuple per target, no cycles
        todo.sort(key=lambda item: (item[0].layers[:-1], item[0].name))

    def work(positions: list[int]) -> Wire:
        # A forked worker records into its own copy of the log: send back what it added.
        mark = reads.mark() if reads is not None else 0
        wire, diags, secrets, keys = compile_chunk(compiler, staging, cache, todo, positions, gkey)
        hashed = cache.hashed() if cache is not None and gkey is not None else []
        # The template results it recorded (when the build leaves an in-place state), for the parent to keep.
        return wire, diags, secrets, keys, reads.since(mark) if reads is not None else [], hashed, KEPT.drain()

    # fork workers inherit the parsed config, hierarchy, compiled schemas and
    # the work list itself: chunks travel as positions in it, not as specs.
    for wire, diags, secrets, keys, read, hashed, renders in fan_out(
        work, range(len(todo)), jobs=jobs, size=CHUNK, ordered=False
    ):
        KEPT.take(renders)
        outs = []
        for i, digest, size, prompts, secret_files in wire:
            spec = todo[i][0]
            outs.append(TargetOutput(spec.name, spec.variables, digest, size, prompts, secret_files))
        yield outs, diags, secrets, keys, read, hashed
