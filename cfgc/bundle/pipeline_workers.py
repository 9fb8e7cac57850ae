"""The worker side of the build pipeline: compiling chunks of the work list.

Forked workers (:func:`cfgc.bundle.pipeline.run` hands them out) inherit the
parsed config, hierarchy, compiled schemas and the work list itself: chunks
travel as positions in it, and only small records (plain tuples) travel back.  With a staging directory each worker writes its
targets' files itself (and, with a build cache, links them as blobs).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import CfgcError
from cfgc.bundle.folder_writer import FolderWriter
from cfgc.bundle.layout import target_output, target_path
from cfgc.compile.compiler import Compiler
from cfgc.compile.template_kept import Drained
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource

if TYPE_CHECKING:  # a build without a cache (--no-cache) never imports it
    from cfgc.bundle.cache import BuildCache

Chunk = list[tuple[TargetSpec, str | None]]
# A chunk's compiled targets are held for one write burst up to this many bytes:
# a repo whose every target is megabytes (one large shared layer) must not make a
# worker hold a whole chunk of them.  Ordinary targets (a few KB) never reach it.
BURST_MAX_BYTES = 4 * 1024 * 1024
Hashed = list[tuple[str, str, str]]  # cfgc.bundle.cache.BuildCache.hashed()
# A compiled target on the wire: its position in the sorted work list, digest,
# size, prompts and secret files (the parent has the name and variables).
Record = tuple[int, str, int, tuple[str, ...], tuple[str, ...]]
Wire = tuple[list[Record], list[Diagnostic], dict[str, bytes], list[str | None], list[tuple[str, str]], Hashed, Drained]


def compile_chunk(
    compiler: Compiler, staging: Path | None, cache: BuildCache | None, todo: Chunk, positions: list[int],
    gkey: str | None = None,
) -> tuple[list[Record], list[Diagnostic], dict[str, bytes], list[str | None]]:
    """Compile the targets at ``positions`` of ``todo``: their records, findings,
    SOPS files and cache keys (made here, before each compile, under ``gkey`` when given)."""
    # Plain tuples pickle in a third of the time of the dataclasses (the
    # parent unpickles every target's record while the workers compile).
    records: list[Record] = []
    diags: list[Diagnostic] = []
    keys: list[str | None] = []
    secrets: dict[str, bytes] = {}
    # Targets come folder by folder (the work list is sorted by shared layers): keep the folder open.
    writer = FolderWriter(staging or Path())
    made: dict[int, str] = {}
    writes: list[tuple[bool, str, str, bytes]] = []  # (stored in the cache, name, digest, bytes)
    held = 0  # bytes in writes: at most BURST_MAX_BYTES plus one target's
    if gkey is not None and cache is not None:
        # The chunk's keys first, in one loop (measured cheaper than one key
        # before each compile); the compile then parses the bytes read for them.
        made = {i: cache.target_key(todo[i][0], gkey, compiler.source) for i in positions}
    fetched: list[str] = []
    plain = unwrapped(compiler.source)
    if gkey is None and cache is None and isinstance(plain, DirSource):
        # Without a cache the chunk's own files are read first too, in one run (a cache
        # that keys in the parent witnesses every read from disk instead: prefetch() waits).
        fetched = plain.prefetch(todo[i][0].layers[-1] for i in positions)
    try:
        for i in positions:
            spec, key = todo[i]
            key = made.get(i, key)
            ct, failed = compiler.try_compile(spec)
            if ct is None:
                diags.extend(failed)
                continue
            try:
                found = compiler.validate(ct)
                out = target_output(ct)
            except CfgcError as e:
                diags.extend(compiler.error_findings(spec, e))
                continue
            finally:
                compiler.release(spec)
            diags.extend(found)
            if any(d.severity == "error" for d in found):
                continue
            assert out.data is not None
            # Only targets without any finding are cached: a warm build must
            # report the same warnings as a cold one.
            stored = cache is not None and key is not None and not found and not cache.digests.changed
            keys.append(key if stored else None)
            if stored or staging is not None:
                writes.append((stored, spec.name, out.digest, out.data))
                held += len(out.data)
                if held > BURST_MAX_BYTES:  # large targets: written now, a chunk of them is not held at once
                    _write_all(writes, cache, staging, writer)
                    held = 0
            records.append((i, out.digest, out.size, out.prompts, out.secrets))
            for f in ct.secrets:
                secrets[f] = compiler.secret_files[f]
        # The chunk's files are written after its compiles, in one burst: file
        # creation in the kernel between two compiles left the compile's caches
        # cold (the same effect as keying each target just before its compile).
        _write_all(writes, cache, staging, writer)
    finally:
        writer.close()
        if fetched:  # a target that failed before reading its own file leaves nothing held
            assert isinstance(plain, DirSource)
            plain.drop(fetched)
    return records, diags, secrets, keys


def _write_all(writes: list[tuple[bool, str, str, bytes]], cache: BuildCache | None, staging: Path | None,
               writer: FolderWriter) -> None:
    """Write (and store in the cache) the compiled targets held in ``writes``, and empty it."""
    for stored, name, digest, data in writes:
        if stored:
            assert cache is not None
            cache.store(digest, data, staging, target_path(name), writer)
        else:
            writer.write(target_path(name), data)
    writes.clear()
