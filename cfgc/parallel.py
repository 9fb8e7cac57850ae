"""Running chunks of independent work on every core (fork workers)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_FN: list[Callable[[Any], Any] | None] = [None]


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


def map_chunks(fn: Callable[[T], R], chunks: Sequence[T], jobs: int | None = None) -> list[R]:
    """``[fn(c) for c in chunks]``, in order, on forked workers when it pays."""
    return list(imap_chunks(fn, chunks, jobs, ordered=True))


def imap_chunks(
    fn: Callable[[T], R], chunks: Sequence[T], jobs: int | None = None, ordered: bool = True
) -> Iterator[R]:
    """``fn`` of each chunk, yielded as it is done (in order unless ``ordered`` is False).

    ``fn`` may be a closure over unpicklable state: workers are forked after it
    is set, so they inherit it; only the chunks and the results are pickled.
    """
    n = min(jobs or cores(), len(chunks))
    if n <= 1 or not can_fork():
        yield from (fn(c) for c in chunks)
        return
    _FN[0] = fn
    try:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(n) as pool:
            run = pool.imap if ordered else pool.imap_unordered
            yield from run(_call, chunks, chunksize=1)
    finally:
        _FN[0] = None


def _call(chunk: Any) -> Any:
    fn = _FN[0]
    assert fn is not None
    return fn(chunk)
