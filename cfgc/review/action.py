"""The GitHub Action's entry point (``python3 -m cfgc.review.action``).

action.yml passes every input through the environment (``CFGC_COMMAND``,
``CFGC_TARGET``, ``CFGC_FORMAT``...), never by pasting ``${{ inputs.x }}``
into the script, so an input is data, not shell code.  Each input becomes
exactly one argument; the free-form ``args`` input is split like a POSIX
shell would (``--target 'acme/*'`` is two arguments, quotes removed) but
never evaluated.

On a pull request (a base ref is known) ``check`` and ``diff`` run
:func:`cfgc.review.github.run_pr`; otherwise the command runs as ``cfgc <command>``.
The exit code is cfgc's.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from cfgc.base.errors import EXIT_USAGE, CfgcError, UsageError

COMMANDS = ("check", "diff", "build", "publish")
FORMATS = ("github", "text", "json", "sarif", "markdown")
DEFAULT_REPORT = {"sarif": "cfgc.sarif", "json": "cfgc.json", "markdown": "cfgc.md"}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _flag(name: str) -> bool:
    return _env(name, "false").lower() == "true"


def cli_args() -> list[str]:
    """The cfgc command line the inputs ask for (without the program name)."""
    command, repo, target, fmt = _env("CFGC_COMMAND", "check"), _env("CFGC_REPO", "."), \
        _env("CFGC_TARGET"), _env("CFGC_FORMAT")
    if command not in COMMANDS:
        raise UsageError(f"unsupported command: {command} ({', '.join(COMMANDS)})")
    if fmt and fmt not in FORMATS:
        raise UsageError(f"unsupported format: {fmt} ({', '.join(FORMATS)})")
    try:
        extra = shlex.split(_env("CFGC_ARGS"))
    except ValueError as e:
        raise UsageError(f"args: {e}") from None
    sel = ["--target", target] if target else []
    if command == "check":
        fail = ["--fail-on-existing"] if _flag("CFGC_FAIL_ON_EXISTING") else []
        return ["check", "--repo", repo, "--format", fmt or "github", *sel, *fail, *extra]
    if command == "build":
        out = _env("CFGC_OUT")
        return ["build", "--repo", repo, *sel, *(["--out", out] if out else []), *extra]
    if command == "publish":
        bundle, to, channel = _env("CFGC_BUNDLE", "build/bundle"), _env("CFGC_TO"), _env("CFGC_CHANNEL")
        return ["publish", bundle, *(["--to", to] if to else []), *(["--channel", channel] if channel else []),
                *extra]
    raise UsageError("cfgc diff needs base-ref outside pull requests")


def report_file(fmt: str) -> str:
    """Where a machine-readable report goes ('' for the log only)."""
    return _env("CFGC_OUTPUT_FILE") or DEFAULT_REPORT.get(fmt, "")


def run() -> int:
    """Run the command the inputs describe; the exit code."""
    from cfgc.review.github import run_pr, set_outputs

    command, base = _env("CFGC_COMMAND", "check"), _env("CFGC_BASE_REF")
    fmt = _env("CFGC_FORMAT")
    args = cli_args() if not (base and command in ("check", "diff")) else []
    if not args:
        target = _env("CFGC_TARGET") or None
        path = report_file(fmt) if fmt not in ("", "github") else ""
        code = run_pr(Path(_env("CFGC_REPO", ".")).resolve(), base, command, _flag("CFGC_COMMENT"), target,
                      _flag("CFGC_FAIL_ON_EXISTING"), (fmt, path) if path else None)
        set_outputs({"report-file": path})
        return code
    path = report_file(fmt) if command == "check" and fmt not in ("", "github", "text") else ""
    cmd = [sys.executable, "-c", "from cfgc.cli.main import main; main()", *args]
    if path:
        with open(path, "w", encoding="utf-8") as f:
            code = subprocess.run(cmd, stdout=f, check=False).returncode
        print(f"cfgc: wrote the {fmt} report to {path}")
    else:
        code = subprocess.run(cmd, check=False).returncode
    set_outputs({"report-file": path})
    return code


def main() -> int:
    """Entry point: the exit code, with usage errors as workflow error commands."""
    try:
        return run()
    except CfgcError as e:
        print(f"::error title=cfgc::{e.message}")
        return e.exit_code if e.exit_code else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
