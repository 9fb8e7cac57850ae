"""A cold check's targets keyed a burst at a time, ahead of their compiles.

A cold ``cfgc check`` keys each target in the worker that checks it
(:class:`cfgc.review.check_cache.EntryKeys`).  Keyed one by one, each key's
file read (the kernel's work) and hash came between two compiles and left
the compile's caches cold; a build reads a chunk's own files in one run
before compiling them (:meth:`cfgc.repo.sources.DirSource.prefetch`), and a
first fill of the build cache keys a chunk in one loop, for the same reason.
Here a burst of :data:`BURST` targets has its own files read in one run and
is keyed in one loop, then compiled.

A key still names exactly the bytes its compile parses: only targets whose
own file the prefetch holds (at most ``PREFETCH_MAX_BYTES`` for the burst,
so never past the keep bound) are keyed ahead, and keying one hands the same
bytes back to the source for the compile (``content_digest`` keeps what it
hashed).  Every other target is keyed just before its compile, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cfgc.base.parallel import MIN_CHUNK
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource, Source
from cfgc.review.check_keys import EntryKeys

#: Targets keyed ahead at a time: a build's chunk (cfgc.bundle.pipeline.CHUNK).
BURST = MIN_CHUNK


def key_ahead(keyer: EntryKeys, source: Source, specs: Sequence[TargetSpec]) -> tuple[dict[str, str | None], list[str]]:
    """The entry keys of the targets of ``specs`` whose own file was read
    ahead (by name), and the paths read ahead (for :func:`drop`).

    Nothing is read ahead from a git ref, nor while reads are witnessed
    (``DirSource.prefetch`` declines): every target is then keyed before its
    own compile.
    """
    plain = unwrapped(source)
    if not isinstance(plain, DirSource):
        return {}, []
    fetched = plain.prefetch(spec.layers[-1] for spec in specs)
    if not fetched:
        return {}, []
    held = set(fetched)
    return {spec.name: keyer.key(spec) for spec in specs if spec.layers[-1] in held}, fetched


def shared_layers(specs: Sequence[TargetSpec]) -> frozenset[str]:
    """The files some target of ``specs`` layers on below its own file.

    A check must not release (:meth:`cfgc.compile.compiler.Compiler.release`)
    a target's own file that is one of these: a later target would parse it
    again from disk, where it may have been saved since, while its key (made
    a burst ahead, and from the one digest a run takes of each path) names
    the bytes read first.  Kept parsed, every compile of the run reads those.
    """
    prefixes = {spec.layers[:-1] for spec in specs}  # a few dozen for 10,000 targets
    return frozenset([path for prefix in prefixes for path in prefix])


def drop(source: Source, fetched: list[str]) -> None:
    """Forget what :func:`key_ahead` read for compiles that never read it (a
    target that failed before its own file)."""
    plain = unwrapped(source)
    if fetched and isinstance(plain, DirSource):
        plain.drop(fetched)


def keyed(keyer: EntryKeys | None, source: Source, specs: Sequence[TargetSpec], positions: Sequence[int],
          keys: Sequence[str | None]) -> Iterator[tuple[int, str | None]]:
    """Each of ``positions`` (into ``specs``) with its entry key, in order:
    ``keys[i]`` without a ``keyer``, else made by it a burst ahead
    (:func:`key_ahead`) or just before the target's compile.  The caller
    compiles each target before taking the next."""
    for start in range(0, len(positions), BURST):
        burst = positions[start : start + BURST]
        if keyer is None:
            yield from ((i, keys[i]) for i in burst)
            continue
        ahead, fetched = key_ahead(keyer, source, [specs[i] for i in burst])
        try:
            for i in burst:
                spec = specs[i]
                yield i, ahead[spec.name] if spec.name in ahead else keyer.key(spec)
        finally:
            drop(source, fetched)
