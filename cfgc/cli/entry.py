"""The ``cfgc`` console script: a plain ``cfgc build``, ``validate`` or ``check`` starts without click.

Importing click (and what it imports beyond cfgc's own needs: ``datetime``,
``uuid`` and ``platform``, ``gettext``) and building the command tree costs about 3 % of a one-service in-place rebuild's instructions at
10,000 targets (docs/performance.md).  :func:`parse_build` accepts only the
command lines whose meaning is beyond doubt: ``build`` followed by
``--repo DIR``, ``--out DIR`` and ``--cache-dir DIR`` (each at most once,
written as two words, a value that is not empty, does not start with ``-``
and holds no escape sequence, naming no existing non-directory or unreadable
path: click would refuse those), and not while click's shell completion
variable is set.  Everything else, ``--help`` and every
mistake included, goes to click (:func:`cfgc.cli.main.main`) untouched.  The
build itself runs the same code either way (:func:`cfgc.cli.build_run.run`),
and a failure goes through the same error edge (:func:`cfgc.cli.main.fail`);
``tests/unit/cli/test_entry.py`` holds the two paths to the same parse, output
and exit code.

``cfgc validate`` and ``cfgc check`` start the same way (:func:`parse_compiling`:
``--repo DIR``, ``--cache-dir DIR``, ``--no-cache``, ``--format`` with one of
the command's choices, and for check ``--base GITREF`` and
``--fail-on-existing``), running :mod:`cfgc.cli.validate_run` and
:mod:`cfgc.cli.check_run`, which the click commands run too.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

# Options of `cfgc build` the click-free start takes, and their parameter names.
_OPTIONS = {"--repo": "repo", "--out": "out", "--cache-dir": "cache_dir"}
# Set, it asks click for shell completion instead of running the command.
_COMPLETE = "_CFGC_COMPLETE"
# validate's and check's options taken without click: each with a value (-> parameter) or a flag.
_VALUED = {"validate": {"--repo": "repo", "--cache-dir": "cache_dir", "--format": "fmt"},
           "check": {"--repo": "repo", "--cache-dir": "cache_dir", "--format": "fmt", "--base": "base_ref"}}
_FLAGS = {"validate": {"--no-cache": "no_cache"},
          "check": {"--no-cache": "no_cache", "--fail-on-existing": "fail_on_existing"}}
_FORMATS = {"validate": ("text", "json"), "check": ("text", "json", "github", "sarif", "markdown")}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "validate": {"repo": None, "ref": None, "select": None, "jobs": None, "no_cache": False, "cache_dir": None,
                 "fmt": "text"},
    "check": {"repo": None, "base_ref": None, "select": None, "fail_on_existing": False, "jobs": None,
              "no_cache": False, "cache_dir": None, "fmt": "text", "files": ()},
}


def parse_build(argv: list[str]) -> dict[str, Any] | None:
    """``cfgc build``'s parameters as click would give them, or None: let click parse."""
    if not argv or argv[0] != "build" or len(argv) % 2 == 0 or os.environ.get(_COMPLETE):
        return None
    params: dict[str, Any] = {"repo": None, "out": Path("build/bundle"), "ref": None, "select": None,
                              "sign_key": None, "shard": None, "verify_out": False, "jobs": None,
                              "no_cache": False, "cache_dir": None, "fmt": "text"}
    seen = set()
    for flag, value in zip(argv[1::2], argv[2::2], strict=True):
        name = _OPTIONS.get(flag)
        if name is None or name in seen or not _plain_dir(value):
            return None
        seen.add(name)
        params[name] = Path(value)
    # click checks the default --out as it checks a given one.
    return params if "out" in seen or _plain_dir(str(params["out"])) else None


def parse_compiling(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """``cfgc validate``'s or ``cfgc check``'s name and parameters as click would give them, or None."""
    command = argv[0] if argv else ""
    if command not in _VALUED or os.environ.get(_COMPLETE):
        return None
    valued, flags = _VALUED[command], _FLAGS[command]
    params = dict(_DEFAULTS[command])
    seen = set()
    i = 1
    while i < len(argv):
        word = argv[i]
        name = flags.get(word)
        if name is not None:
            value: Any = True
            i += 1
        else:
            name = valued.get(word)
            if name is None or i + 1 == len(argv):
                return None
            value = argv[i + 1]
            i += 2
            if not _plain_value(command, name, value):
                return None
            if name in ("repo", "cache_dir"):
                value = Path(value)
        if name in seen:
            return None
        seen.add(name)
        params[name] = value
    return command, params


def _plain_value(command: str, name: str, value: str) -> bool:
    """A value click takes unchanged for parameter ``name`` (and that names no option)."""
    if name == "fmt":
        return value in _FORMATS[command]
    if name == "base_ref":  # any text to click: only a plain word here
        return bool(value) and not value.startswith("-") and "\x1b" not in value and "\x00" not in value
    return _plain_dir(value)


def _plain_dir(value: str) -> bool:
    """A value click's ``Path(file_okay=False)`` takes unchanged (a missing path or a readable directory)."""
    if not value or value.startswith("-") or "\x1b" in value or "\x00" in value:
        return False
    try:
        st = os.stat(value)
    except OSError:
        return True  # click accepts a path that does not exist (exists=False)
    return stat.S_ISDIR(st.st_mode) and os.access(value, os.R_OK)


def main() -> None:
    """Run the cfgc command line."""
    params = parse_build(sys.argv[1:])
    if params is None:
        _compiling(sys.argv[1:])
        return
    from cfgc.cli import build_run

    try:
        build_run.run(**params)
    except Exception as e:  # noqa: BLE001 - the error edge every command has
        _fail(e)
    except KeyboardInterrupt as e:
        _fail(e)
    sys.exit(0)


def _compiling(argv: list[str]) -> None:
    """Run a plain ``cfgc validate`` or ``cfgc check`` without click; anything else with click."""
    parsed = parse_compiling(argv)
    if parsed is None:
        _click()
        return
    command, params = parsed
    if params["fmt"] == "json":  # as the click option's callback: a failure prints its JSON document too
        from cfgc.cli.failure import json_failures

        json_failures()
    try:
        if command == "validate":
            from cfgc.cli import validate_run

            validate_run.run(**params)
        else:
            from cfgc.cli import check_run
            from cfgc.cli.progress import cache_arg

            try:
                check_run.run(params["repo"], params["base_ref"], params["select"], params["fail_on_existing"],
                              params["jobs"], cache_arg(params["no_cache"], params["cache_dir"]), params["fmt"],
                              params["files"])
            except check_run.NoConfig:
                _click()  # nothing printed yet: click reports it with its usage text
                return
    except Exception as e:  # noqa: BLE001 - the error edge every command has
        _fail(e)
    except KeyboardInterrupt as e:
        _fail(e)
    sys.exit(0)


def _click() -> None:
    from cfgc.cli.main import main as click_main

    click_main()


def _fail(e: BaseException) -> None:
    from cfgc.cli.main import fail

    fail(e, debug=False)
