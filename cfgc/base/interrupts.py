"""Making a temporary thing so that no interrupt leaves it behind.

The pattern ``tmp = create(); try: ... except: remove(tmp)`` has a window: a
Ctrl-C (or SIGTERM turned into an exception) that arrives after ``create``
made the file or folder but before the ``try`` is entered leaves it behind.
:func:`made` closes it: SIGINT, SIGTERM and SIGHUP are held back
(``pthread_sigmask``) from before ``create`` until the block is entered, and
over the removal; one that came meanwhile is raised inside the block, where
the removal covers it.  :func:`deferred` holds them back over steps that must
not stop half-way; :func:`temp_file` is :func:`made` for a file written then
renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

__all__ = ["HELD", "deferred", "made", "temp_file"]

T = TypeVar("T")

# What is held back: Ctrl-C and the signals that end a process by default.
HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@dataclass
class _Hold:
    mask: set[int | signal.Signals]
    saved: dict[signal.Signals, Any] = field(default_factory=dict)
    came: list[int] = field(default_factory=list)


def _set_handler(s: signal.Signals, handler: Any, raised: list[BaseException]) -> None:
    # A pending handler may raise at any bytecode here (signal.signal runs them before
    # it swaps): note it and go on until the swap is done, so no restore is ever skipped.
    while True:
        try:
            signal.signal(s, handler)
            return
        except BaseException as e:  # noqa: BLE001 - raised again by _release once all is undone
            raised.append(e)


def _hold() -> _Hold:
    """Hold SIGINT, SIGTERM and SIGHUP back until :func:`_release`.

    Blocking them in this thread is not enough while another thread runs (a
    build hashes its manifest on one): the kernel hands a signal sent to the
    process to a thread that does not block it, and Python then runs the
    handler in the main thread whatever its mask.  So in the main thread each
    handler is also swapped for one that only notes the signal.  A signal
    whose handler raises while the hold is being made undoes all of it first.
    """
    hold = _Hold(set(signal.pthread_sigmask(signal.SIG_BLOCK, ())))  # may raise: nothing changed yet
    try:
        if threading.current_thread() is threading.main_thread():
            for s in HELD:
                handler = signal.getsignal(s)
                if handler not in (signal.SIG_IGN, None):  # None: a handler not set from Python
                    hold.saved[s] = handler
                    signal.signal(s, lambda signum, _frame: hold.came.append(signum))
        signal.pthread_sigmask(signal.SIG_BLOCK, HELD)  # blocks, then runs pending handlers
    except BaseException:
        _release(hold)
        raise
    return hold


def _release(hold: _Hold) -> None:
    """Undo :func:`_hold`; every signal that came meanwhile goes to the handler it had, here."""
    raised: list[BaseException] = []
    try:
        for s, handler in list(hold.saved.items()):
            _set_handler(s, handler, raised)
            del hold.saved[s]
    finally:
        # Sent to this thread while it still blocks them: the unblock delivers them all, and
        # one handler's exception does not drop the others (Python runs those at its next check).
        try:
            for signum in dict.fromkeys(hold.came):
                signal.pthread_kill(threading.get_ident(), signum)
        except BaseException as e:  # noqa: BLE001 - raised below, after the unblock
            raised.append(e)
        finally:
            hold.came.clear()
            signal.pthread_sigmask(signal.SIG_SETMASK, hold.mask)
    if raised:
        raise raised[0]


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back over the block; one that came is acted on after it."""
    hold = _hold()
    try:
        yield
    finally:
        _release(hold)


@contextlib.contextmanager
def made(create: Callable[[], T], remove: Callable[[T], object]) -> Iterator[T]:
    """``create()``'s result for the block; ``remove(it)`` when the block raises (an interrupt too).

    Signals are held back from before ``create`` until the block is entered, so
    none can come between the two; the removal runs with them held back too.
    A block that ends normally keeps what it made (it renamed or removed it).
    """
    hold = _hold()
    try:
        thing = create()
    except BaseException:
        _release(hold)
        raise
    try:
        # A signal that came meanwhile is raised by this call, inside the try.
        _release(hold)
        yield thing
    except BaseException:
        try:
            hold = _hold()
        except BaseException:  # a second signal, come before the hold: remove all the same
            remove(thing)
            raise
        try:
            remove(thing)
        finally:
            _release(hold)
        raise


@contextlib.contextmanager
def temp_file(folder: str | os.PathLike[str], prefix: str) -> Iterator[tuple[BinaryIO, str]]:
    """A new file ``folder/prefix*`` (``mkstemp``: 0600, never a link) open for writing, and its path.

    When the block raises (an interrupt too) the file is closed and removed; a
    block that ends normally has renamed it into place (or removes it itself).
    """

    def create() -> tuple[BinaryIO, str]:
        import tempfile  # only for a file written whole; it imports random

        fd, name = tempfile.mkstemp(prefix=prefix, dir=folder)
        return os.fdopen(fd, "wb"), name

    with made(create, _close_and_remove) as made_file:
        yield made_file


def _close_and_remove(made_file: tuple[BinaryIO, str]) -> None:
    with contextlib.suppress(OSError):
        made_file[0].close()  # a close that flushes onto a full disk fails: the file goes anyway
    with contextlib.suppress(OSError):
        os.unlink(made_file[1])
