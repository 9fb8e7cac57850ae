"""A call run on a thread of its own while the caller does other work.

A recorded diff waits on git for a good part of its first 0.15 s (the head's
tree listing, the working tree's index); reading and authenticating its
9 MB record file needs no Python (file reads and HMAC-SHA256 release the
interpreter lock) and parsing it needs nothing the diff computes first, so
the two overlap.  Only for calls that share no mutable state with the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``call()`` started on a daemon thread now; :meth:`result` waits for it.

    As a context manager it is waited for on the way out, whatever happens
    in the block: no thread outlives the caller's phase (a diff pauses the
    collector for the phase; a call still running after it would not be).
    """

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cfgc-background", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            self._error = e

    def result(self) -> T:
        """The call's value (or its exception, raised here)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._thread.join()
