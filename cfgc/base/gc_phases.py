"""Phases that make many long-lived objects and no cycles: Python's cyclic
collector paused while they are made, and the objects kept out of its
generations afterwards.  A recorded diff of 10,000 targets loads about a
million; a build of 100,000 targets lists 100,000 specs in its parent and
assembles a manifest of 100,000 entries, each of which set off full
collections over everything alive (about a second of the parent's serial
CPU at 100,000 targets)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic collector off for a phase that makes many objects and no
    cycles (reading records: 20,000 of them for a diff of 10,000 targets;
    listing a build's targets and assembling its manifest), on again after it
    (left off if it was off).  Never around a compile: a compile may make
    cycles, which would then pile up until the phase ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: Open frozen scopes that own the freeze (any thread's): each unfreezes at its end.
_owners = 0


@contextmanager
def frozen_scope() -> Iterator[Callable[[], None]]:
    """Yields ``freeze``: the objects alive when it is called are kept out of
    the collector's generations (``gc.freeze``) until the scope ends.

    Only when nothing froze objects before (a forked worker, the agent's
    child): ``gc.unfreeze`` would release theirs too.  Never beyond the scope:
    garbage frozen with them would never be collected (a long-lived process,
    the test suite, would keep every cycle that held a file open).
    """
    global _owners
    mine = gc.get_freeze_count() == 0
    froze = False

    def freeze() -> None:
        nonlocal froze
        if mine:
            gc.freeze()
            froze = True

    _owners += mine
    try:
        yield freeze
    finally:
        _owners -= mine
        if froze:
            gc.unfreeze()


@contextmanager
def frozen_for_fork() -> Iterator[None]:
    """Objects alive at a fork kept out of the collector's generations while the workers
    run (their collections then never walk, so never copy, the pages they share with
    this process).  Inside a :func:`frozen_scope` that owns the freeze, what is frozen
    stays so until that scope ends; when the host process froze objects itself, nothing
    is frozen here: garbage frozen now would never be collected, and unfreezing would
    release the host's."""
    if _owners:
        gc.freeze()
        yield
    elif gc.get_freeze_count() == 0:
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
    else:
        yield
