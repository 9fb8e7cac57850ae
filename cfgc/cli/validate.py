"""``cfgc validate``: compile and validate without writing anything."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc import api
from cfgc.api.render import diagnostics_json as render_json
from cfgc.api.render import diagnostics_text as render_text
from cfgc.api.render import summary_line
from cfgc.cli.common import Progress, cache_arg, cache_options, format_option, repo_option, warn
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
    progress = Progress("validating")
    try:
        result = api.validate(repo, ref=ref, targets=select, jobs=jobs, cache=cache_arg(no_cache, cache_dir),
                              progress=progress, warn=warn)
    finally:
        progress.close()
    names = result.targets
    if fmt == "json":
        click.echo(render_json(result.diagnostics, names), nl=False)
    else:
        click.echo(render_text(result.diagnostics), nl=False)
        if result.ok:
            click.echo(f"ok: {len(names)} target{'s' if len(names) != 1 else ''} valid")
        else:
            click.echo(summary_line(result.diagnostics, len(names)))
    if not result.ok:
        raise SystemExit(1)
