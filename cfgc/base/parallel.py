"""Running chunks of independent work on every core (fork workers).

:func:`fan_out` is the one place that decides when work over targets is worth
a pool (:data:`PARALLEL_MIN_TARGETS`) and how it is cut (:func:`chunk_size`);
the build pipeline, ``cfgc diff`` and ``cfgc check`` all go through it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
# The function a forked worker runs, set in the worker only (never in the
# parent): it travels by fork, so it may close over unpicklable state.
_worker_fn: Callable[[Any], Any] | None = None

#: Below this many targets one process does the work: starting a fork pool
#: and sending results back costs more than the second core saves.
PARALLEL_MIN_TARGETS = 400
#: The smallest chunk handed to a worker: each chunk pays a round trip.
MIN_CHUNK = 64


def cores() -> int:
    """Worker processes to use: ``$CFGC_JOBS`` or the cores this process may run on."""
    env = os.environ.get("CFGC_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def can_fork() -> bool:
    """Whether fork workers are available (they inherit the parent's loaded state)."""
    import multiprocessing  # here: a warm build that compiles a few targets never forks

    return "fork" in multiprocessing.get_all_start_methods()


def chunk_size(items: int, jobs: int | None = None) -> int:
    """Items per chunk: about four chunks per worker (so a slow chunk does not
    leave the other cores idle at the end), never fewer than :data:`MIN_CHUNK`."""
    return max(MIN_CHUNK, items // (4 * (jobs or cores())) + 1)


def parallel(items: int, jobs: int | None = None) -> bool:
    """Whether :func:`fan_out` over ``items`` items forks workers."""
    return items >= PARALLEL_MIN_TARGETS and (jobs or cores()) > 1 and can_fork()


def fan_out(
    fn: Callable[[list[T]], R], items: Sequence[T], *, jobs: int | None = None,
    size: int | None = None, ordered: bool = True,
) -> Iterator[R]:
    """``fn`` of each chunk of ``items``, on forked workers when :func:`parallel`.

    ``size`` fixes the chunk size (a caller that reports progress per chunk);
    by default it is :func:`chunk_size`, and the work done in this process is
    one call over every item.  ``fn`` is always called at least once (with an
    empty list when there are no items).
    """
    fork = parallel(len(items), jobs)
    step = size or (chunk_size(len(items), jobs) if fork else max(1, len(items)))
    chunks = [list(items[i : i + step]) for i in range(0, len(items), step)] or [[]]
    return imap_chunks(fn, chunks, jobs if fork else 1, ordered)


def map_chunks(fn: Callable[[T], R], chunks: Sequence[T], jobs: int | None = None) -> list[R]:
    """``[fn(c) for c in chunks]``, in order, on forked workers when it pays."""
    return list(imap_chunks(fn, chunks, jobs, ordered=True))


def imap_chunks(
    fn: Callable[[T], R], chunks: Sequence[T], jobs: int | None = None, ordered: bool = True
) -> Iterator[R]:
    """``fn`` of each chunk, yielded as it is done (in order unless ``ordered`` is False).

    ``fn`` may be a closure over unpicklable state: workers are forked after it
    is set, so they inherit it and the chunks (:mod:`cfgc.base.forkpool`); only
    the chunks' positions and the results travel.
    """
    n = min(jobs or cores(), len(chunks))
    if n <= 1 or not can_fork():
        yield from (fn(c) for c in chunks)
        return
    from cfgc.base import forkpool
    from cfgc.base.gc_phases import frozen_for_fork

    with frozen_for_fork():
        yield from forkpool.imap(fn, chunks, n, ordered, start=lambda: _install(fn))


def _install(fn: Callable[[Any], Any]) -> None:
    global _worker_fn
    _worker_fn = fn
    # A worker compiles, and a compile may make cycles: it collects whatever the
    # parent was doing when it forked (the build's parent pauses its collector
    # while the workers compile, cfgc.bundle.pipeline).
    import gc

    gc.enable()

