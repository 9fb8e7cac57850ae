"""The one error hierarchy of cfgc.

Every failure that a user can cause or meet is a :class:`CfgcError`.  It carries
the process exit code and, for input errors, the source location, so the CLI
edge can print ``path:line:col: error: message`` and exit without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


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
