"""The ``cfgc`` console script: a plain ``cfgc build`` starts without click.

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
        from cfgc.cli.main import main as click_main

        click_main()
        return
    from cfgc.cli import build_run

    try:
        build_run.run(**params)
    except Exception as e:  # noqa: BLE001 - the error edge every command has
        _fail(e)
    except KeyboardInterrupt as e:
        _fail(e)
    sys.exit(0)


def _fail(e: BaseException) -> None:
    from cfgc.cli.main import fail

    fail(e, debug=False)
