"""The one error hierarchy of cfgc.

Every failure that a user can cause or meet is a :class:`CfgcError`.  It carries
the process exit code and, for input errors, the source location, so the CLI
edge can print ``path:line:col: error: message`` and exit without a traceback.
"""

from __future__ import annotations

import errno as errno_mod
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic


@dataclass(frozen=True, order=True)
class Location:
    """A position in a source file; ``path`` is relative to the repo root."""

    path: str
    line: int = 0  # 1-based; 0 means "the whole file"
    col: int = 0  # 1-based; 0 means "the whole line"

    def __str__(self) -> str:
        if not self.line:
            return self.path
        if not self.col:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"


EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_EXTERNAL = 4
EXIT_INTEGRITY = 5


class CfgcError(Exception):
    """Base of every error cfgc reports to a user."""

    exit_code = EXIT_BUG

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is not None:
            return f"{self.location}: error: {self.message}"
        return f"error: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls ``cls(*args)``: a subclass whose __init__
        # takes other arguments (InvalidConfig, MultipleErrors) would not rebuild
        # in the build's parent, and every error would lose its location.
        return (_restore, (type(self), self.args, self.__dict__.copy()))


def _restore(cls: type[CfgcError], args: tuple[Any, ...], state: dict[str, Any]) -> CfgcError:
    """A pickled :class:`CfgcError` as it was: its class, args and attributes, no __init__ run."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InputError(CfgcError):
    """The configuration (or another input) is invalid: exit 1."""

    exit_code = EXIT_INVALID


class UsageError(CfgcError):
    """The command line is wrong: exit 2."""

    exit_code = EXIT_USAGE


class ExternalError(CfgcError):
    """An external system failed (git, network, KMS, registry): exit 4."""

    exit_code = EXIT_EXTERNAL


class IntegrityError(CfgcError):
    """A signature, MAC or digest did not verify: exit 5."""

    exit_code = EXIT_INTEGRITY


class InvalidConfig(InputError):
    """Findings stopped a compile or a build (nothing was written): exit 1.

    ``diagnostics`` holds every finding (warnings too), ``targets`` the names
    of the targets that compiled; ``str()`` lists the errors one per line as
    ``path:line:col: error: message``.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic], targets: Iterable[str] = ()) -> None:
        self.diagnostics = tuple(diagnostics)
        self.targets = tuple(targets)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in the configuration")

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics if d.severity == "error") or f"error: {self.message}"


class MultipleErrors(InputError):
    """Several input errors found in one pass, reported together."""

    def __init__(self, errors: list[CfgcError]) -> None:
        self.errors = sorted(errors, key=_sort_key)
        super().__init__(f"{len(errors)} errors")
        self.exit_code = max((e.exit_code for e in errors), default=EXIT_INVALID)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def _sort_key(e: CfgcError) -> tuple[str, int, int, str]:
    loc = e.location
    if loc is None:
        return ("", 0, 0, e.message)
    return (loc.path, loc.line, loc.col, e.message)


# OSErrors that say the machine, not cfgc, is at fault: exit 4 with a plain
# message.  Each is (what happened, how the path follows it).
_ENVIRONMENT = {
    "ENOSPC": ("no space left on device", " writing {}"),
    "EDQUOT": ("disk quota exceeded", " writing {}"),
    "EFBIG": ("file too large", " writing {}"),
    "EROFS": ("read-only file system", ": cannot write {}"),
    "EACCES": ("permission denied", ": {}"),
    "EPERM": ("operation not permitted", ": {}"),
    "EMFILE": ("too many open files; raise the limit (ulimit -n) or lower --jobs", " (at {})"),
    "ENFILE": ("the system's open-file table is full", " (at {})"),
    "ENOMEM": ("out of memory", " (at {})"),
    "EIO": ("input/output error", " on {}"),
    "EADDRINUSE": ("address already in use", ": {}"),
    "EADDRNOTAVAIL": ("address not available", ": {}"),
}


def environment_error(e: BaseException, path: str | None = None) -> ExternalError | None:
    """The exit-4 error for an environment failure (disk full, permissions,
    descriptors, memory, ports), or None when ``e`` is not one (then it is a bug).

    ``path`` overrides the file the OSError names (a staging path shown as the
    output path the user asked for).
    """
    if isinstance(e, MemoryError):
        return ExternalError("out of memory; lower --jobs or build fewer targets (--target)")
    if not isinstance(e, OSError) or e.errno is None:
        return None
    known = _ENVIRONMENT.get(errno_mod.errorcode.get(e.errno, ""))
    if known is None:
        return None
    where = path if path is not None else _shown(e.filename)
    err = ExternalError(known[0] + (known[1].format(where) if where else ""))
    err.__cause__ = e
    return err


def _shown(filename: object) -> str | None:
    """A path as the user would type it: relative to the working directory when inside it."""
    if filename is None:
        return None
    name = os.fsdecode(filename) if isinstance(filename, (str, bytes)) else str(filename)
    try:
        rel = os.path.relpath(name)
    except ValueError:
        return name
    return name if rel.startswith("..") else rel
