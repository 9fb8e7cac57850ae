"""``cfgc secrets edit``: decrypt to a private file, run $EDITOR, re-encrypt.

The plaintext exists on disk only while the editor runs: in a 0600 file inside
a fresh 0700 directory (on /dev/shm, RAM-backed, when it is usable), removed on
return, on any exception and on SIGTERM, SIGHUP and SIGINT (the handler removes
it, forwards the signal to the editor, then dies of the same signal).

The file's lock is held only while reading and while writing, not while a human
edits.  If the file changed in between (another ``set``/``rotate``/``edit``),
the edit is refused rather than written over that change: the plaintext is
never kept, so the user redoes the edit on the new content.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import ExternalError, InputError
from cfgc.secrets import fileio, ops, txn
from cfgc.secrets.keysources import Keyring

EDIT_RETRIES = 3  # an invalid edit reopens the editor this many times
RAM_DIRS = ("/dev/shm",)
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

# on_invalid(message, tries_left): tell the user, wait until they are ready.
InvalidHook = Callable[[str, int], None]


@dataclass(frozen=True)
class EditResult:
    """What ``edit`` did to the file."""

    created: bool = False
    changed: bool = False


def edit_file(
    path: ops.PathLike,
    keyring: Keyring | None = None,
    config: ops.PathLike | None = None,
    on_invalid: InvalidHook | None = None,
    editor: str | None = None,
) -> EditResult:
    """Edit an encrypted file (or create one) in ``editor`` (default $VISUAL/$EDITOR/vi)."""
    fmt = fileio.format_for(path)
    opened: ops.Opened | None = None
    with txn.locked(path):
        if Path(path).exists():
            opened = ops.open_snapshot(path, keyring, fmt)
    before = opened.document.full if opened is not None else {}
    with private_dir() as (tmpdir, editor_proc):
        tmp = tmpdir / f"plain.{'json' if fmt == 'json' else 'yaml'}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(fileio.dumps(before, fmt))
        after = _edit_until_valid(tmp, fmt, str(path), editor, on_invalid, editor_proc)
    redo = "your edit was not saved; run 'cfgc secrets edit' again on the new content"
    if opened is None:
        with _conflict_hint(redo):
            ops.create_file(path, after, keyring, config, fmt)
        return EditResult(created=True, changed=True)
    with _conflict_hint(redo):
        return EditResult(changed=ops.save(path, opened, after, fmt, with_comments=True))


@contextlib.contextmanager
def _conflict_hint(hint: str) -> Iterator[None]:
    try:
        yield
    except txn.ConcurrentChange as e:
        raise txn.ConcurrentChange(f"{e.message}; {hint}") from None


def _ram_dir() -> str | None:
    for d in RAM_DIRS:
        if os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK):
            return d
    return None


@contextlib.contextmanager
def private_dir() -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    """A fresh 0700 directory, removed on exit, on any exception and on SIGTERM/SIGHUP/SIGINT.

    Yields the directory and a list the caller puts the editor process in, so
    that a signal is forwarded to it.  Signal handlers are installed only in
    the main thread (Python allows no other); elsewhere, the exit and
    exception paths still remove the directory.
    """
    d = Path(tempfile.mkdtemp(prefix="cfgc-edit-", dir=_ram_dir()))
    procs: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        shutil.rmtree(d, ignore_errors=True)
        for p in procs:
            with contextlib.suppress(OSError):
                p.send_signal(signum)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)  # not reached unless the default action is ignore

    previous: dict[int, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                previous[sig] = signal.signal(sig, on_signal)
        yield d, procs
    finally:
        shutil.rmtree(d, ignore_errors=True)
        for num, handler in previous.items():
            signal.signal(num, handler)


def _edit_until_valid(
    tmp: Path,
    fmt: str,
    file: str,
    editor: str | None,
    on_invalid: InvalidHook | None,
    procs: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:
    """Run the editor on ``tmp`` until it holds a valid document.

    An invalid edit is reported (the message names a line, never a value) and
    the editor reopens on the text as saved, up to EDIT_RETRIES times.
    """
    cmd = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    attempt = 0
    while True:
        rc = _run_editor(cmd, tmp, procs)
        if rc != 0:
            raise ExternalError(f"editor {cmd!r} exited with status {rc}; {file} unchanged")
        try:
            tree = fileio.loads(read_file(tmp), fmt, "edited file")
            if "sops" in tree:
                raise InputError("edited file: the top-level key 'sops' is reserved for metadata")
            return tree
        except InputError as e:
            if attempt == EDIT_RETRIES:
                raise InputError(
                    f"{e.message}; gave up after {EDIT_RETRIES + 1} edits, {file} unchanged"
                ) from None
            attempt += 1
            if on_invalid is not None:
                on_invalid(e.message, EDIT_RETRIES - attempt + 1)


def _run_editor(cmd: str, tmp: Path, procs: list[subprocess.Popen[bytes]]) -> int:
    try:
        proc = subprocess.Popen([*shlex.split(cmd), str(tmp)])
    except OSError as e:
        raise ExternalError(f"cannot run editor {cmd!r}: {e.strerror}") from None
    procs.append(proc)
    try:
        return proc.wait()
    finally:
        procs.remove(proc)
