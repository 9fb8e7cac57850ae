"""The checks of an in-place build on the second core while this process imports the compiler.

A ``cfgc build`` that finds one changed service file spent about a third of its
wall time importing the compiler's modules (YAML, Jinja2, JSON Schema, cfgc's
compile stages: about 0.12 s) *after* its checks (a stat of every repo and
bundle file, the manifest hashed, git: about 0.09 s) had found that one target
must be compiled.  :func:`beside_imports` runs the checks in a forked child;
as soon as the child has seen a changed layer file (its first pass, before it
checks ``OUT``) it says so, and this process imports the modules while the
child finishes, so the two costs overlap on two cores.  A build that finds
nothing changed imports nothing (the child never says so).

Soundness does not depend on the child: it runs the very same check code on
the same inputs (fork copies the loaded state), and its answer comes back over
a pipe only this process and the child hold (pickle is safe there: nobody else
can write to it).  Anything unusual (no fork, one core, the child failing or
dying, an answer of the wrong shape) and the caller runs the checks itself, as
before.

Only a cold process forks: when the modules are already imported (a test run,
a program using :mod:`cfgc.api`, which may have threads) there is nothing to
overlap and no fork happens.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# What compiling any one target imports; a module left out only costs speed (the
# compile imports it when it needs it).  Not Jinja2: only a target with templates
# needs it, and one without must not pay for it (tests/unit/bundle/test_incremental_light.py).
COMPILE_MODULES = (
    "cfgc.base.canonical",
    "cfgc.repo.hierarchy",
    "cfgc.compile.compiler",
    "cfgc.bundle.layout",
    "cfgc.bundle.pipeline",
    "jsonschema_rs",
    "cfgc.secrets.keysources.age",
)
# An answer bigger than this is not the child's (the manifest of 1,000,000 targets is about 250 MB).
MAX_ANSWER_BYTES = 2 << 30


def beside_imports(
    work: Callable[[Callable[[], None]], T], *, jobs: int | None, modules: Sequence[str] = COMPILE_MODULES,
) -> tuple[bool, T | None]:
    """``(True, work(early))`` computed in a forked child, ``modules`` imported here once it calls ``early()``.

    ``(False, None)`` when it was not done that way (the caller runs ``work``
    itself).  ``work``'s result must pickle; it must not print.
    """
    if not _worth_it(modules, jobs):
        return False, None
    try:
        r, w = os.pipe()
    except OSError:
        return False, None
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return False, None
    if pid == 0:  # pragma: no cover - the child; its answer is what the tests check
        _child(r, w, work)
    os.close(w)
    reaped = False
    try:
        chunks = _read(r, first=True)
        if chunks[:1] == [_EARLY]:
            for name in modules:
                importlib.import_module(name)
            chunks = _read(r, first=False)
        answer, reaped = _finish(chunks, pid), True
        return (False, None) if answer is None else (True, answer[0])
    finally:
        os.close(r)
        if not reaped:  # an import failed or was interrupted: the child's answer is not wanted
            _kill(pid)


_EARLY, _ANSWER = b"G", b"A"


def _worth_it(modules: Sequence[str], jobs: int | None) -> bool:
    if not hasattr(os, "fork") or all(m in sys.modules for m in modules):
        return False
    from cfgc.base.parallel import cores

    return (jobs or cores()) > 1


def _child(r: int, w: int, work: Callable[[Callable[[], None]], Any]) -> None:  # pragma: no cover - the fork
    code = 1
    told = False

    def early() -> None:
        nonlocal told
        if not told:
            told = True
            os.write(w, _EARLY)

    try:
        os.close(r)
        data = _ANSWER + pickle.dumps(work(early), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(w, view) :]
        code = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent runs the work itself and reports it
        pass
    finally:
        os._exit(code)  # no atexit handlers, no flushing of buffers the parent owns


def _read(r: int, *, first: bool) -> list[bytes]:
    """The child's next message: its early byte alone (``first``) or all it writes until it exits."""
    chunks: list[bytes] = []
    if first:
        byte = os.read(r, 1)
        if byte == _EARLY or not byte:
            return [byte] if byte else []
        chunks.append(byte)
    size = sum(map(len, chunks))
    while data := os.read(r, 1 << 20):
        size += len(data)
        if size > MAX_ANSWER_BYTES:
            raise OverflowError("the checks' answer is too big")
        chunks.append(data)
    return chunks


def _finish(chunks: list[bytes], pid: int) -> tuple[Any] | None:
    """Reap the child; its answer if it exited cleanly after writing it whole, else None."""
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if status != 0 or not data.startswith(_ANSWER):
        return None
    try:
        return (pickle.loads(data[1:]),)  # noqa: S301 - our own fork, over a private pipe
    except Exception:  # noqa: BLE001 - a torn answer: the caller checks again itself
        return None


def _kill(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
