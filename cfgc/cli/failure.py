"""Failures as JSON: with ``--format json`` a failing command still prints one JSON document.

Scripts that parse stdout get valid JSON on every exit code.  Commands whose
report has a failure form of its own (``validate``/``build``/``check`` findings,
``verify`` problems) print that; every other failure prints::

    {"ok": false, "exit_code": 2, "errors": 1,
     "diagnostics": [{"severity": "error", "rule": "usage", "message": "...",
                      "file": null, "line": null, "col": null, "targets": []}]}

``rule`` is the exit code's class: ``input`` (1), ``usage`` (2), ``bug`` (3),
``external`` (4), ``integrity`` (5).  The human message still goes to stderr.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from cfgc.base.errors import CfgcError, Location, MultipleErrors

if TYPE_CHECKING:  # click only when a failure is printed: the click-free start imports this module
    import click

RULES = {1: "input", 2: "usage", 3: "bug", 4: "external", 5: "integrity"}


class _State:
    json_mode = False  # --format json was given
    printed = False  # the command already printed its own JSON report


def reset() -> None:
    """Forget the previous invocation's mode (tests run many in one process)."""
    _State.json_mode = False
    _State.printed = False


def format_callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback of ``--format``: remember that failures must be JSON too."""
    if value == "json":
        json_failures()
    return value


def json_failures() -> None:
    """``--format json`` was given: failures print their JSON document too."""
    _State.json_mode = True


def note_argv(argv: list[str]) -> None:
    """For a command line click could not parse (an unknown option): ``--format json``
    there still asks for a JSON failure document."""
    for i, a in enumerate(argv):
        if a == "--format=json" or (a == "--format" and argv[i + 1 : i + 2] == ["json"]):
            _State.json_mode = True


def report_printed() -> None:
    """A command printed its own failure report on stdout: print no second one."""
    _State.printed = True


def _entry(message: str, location: Location | None, exit_code: int) -> dict[str, Any]:
    return {"severity": "error", "rule": RULES.get(exit_code, "bug"), "message": message,
            "file": location.path if location else None,
            "line": location.line or None if location else None,
            "col": location.col or None if location else None, "targets": []}


def failure_json(exit_code: int, errors: list[tuple[str, Location | None]]) -> dict[str, Any]:
    """The JSON document of a failure (see the module docstring)."""
    return {"ok": False, "exit_code": exit_code, "errors": len(errors),
            "diagnostics": [_entry(m, loc, exit_code) for m, loc in errors]}


def echo_failure(exit_code: int, e: BaseException) -> None:
    """Print the failure JSON on stdout when --format json was given (once)."""
    if not _State.json_mode or _State.printed:
        return
    import click

    if isinstance(e, MultipleErrors):
        errors = [(x.message, x.location) for x in e.errors]
    elif isinstance(e, CfgcError):
        errors = [(e.message, e.location)]
    elif isinstance(e, click.ClickException):
        errors = [(e.format_message(), None)]
    else:
        errors = [(f"internal error: {type(e).__name__}: {e}", None)]
    _State.printed = True
    # A closed stdout loses the document; the stderr message and the exit code remain.
    import json  # only when a failure is printed as JSON: not on every command's start-up

    with contextlib.suppress(OSError):
        click.echo(json.dumps(failure_json(exit_code, errors), indent=2))
