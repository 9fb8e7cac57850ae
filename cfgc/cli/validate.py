"""``cfgc validate``: compile and validate without writing anything."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc.cli import validate_run
from cfgc.cli.common import cache_options, format_option, repo_option
from cfgc.cli.main import command


@command("validate")
@repo_option
@click.option("--ref", metavar="GITREF", help="Validate this commit from git objects.")
@click.option("--target", "select", metavar="GLOB", help="Only targets whose name matches.")
@cache_options
@format_option("text", "json")
def validate(
    repo: Path | None,
    ref: str | None,
    select: str | None,
    jobs: int | None,
    no_cache: bool,
    cache_dir: Path | None,
    fmt: str,
) -> None:
    """Load, merge, resolve and validate every target; write nothing.

    Prints one line per finding in the compiler convention
    ``path:line:col: error: message`` (paths relative to the repo root), so
    editors and CI annotate the exact line.  Exits 1 when any error is found.

    \b
    Examples:
      cfgc validate
      cfgc validate --repo examples/repo --format json
    """
    validate_run.run(repo, ref, select, jobs, no_cache, cache_dir, fmt)
