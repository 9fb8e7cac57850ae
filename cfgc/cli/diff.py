"""``cfgc diff``: what a change does to the compiled targets."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cfgc import api
from cfgc.api import render
from cfgc.cli.common import cache_arg, format_option, repo_option
from cfgc.cli.main import command


@command("diff")
@repo_option
@click.option("--base", "base_ref", required=True, metavar="GITREF",
              help="The commit to compare against (e.g. origin/main).")
@click.option("--head", "head_ref", metavar="GITREF",
              help="The commit to compare (default: the working tree).")
@click.option("--target", "select", metavar="GLOB", help="Only targets whose name matches.")
@format_option("text", "markdown", "json")
@click.option("--exit-code", is_flag=True, help="Exit 1 when any target changed.")
@click.option("--no-cache", is_flag=True, help="Compile every reached target; neither read nor write the cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Build cache folder (default: as for cfgc build).")
def diff(repo: Path | None, base_ref: str, head_ref: str | None, select: str | None,
         fmt: str, exit_code: bool, no_cache: bool, cache_dir: Path | None) -> None:
    """Show which compiled targets a change reaches, and each changed value.

    Both sides are compiled (from git objects; the head defaults to the
    working tree) and compared as data.  The report starts with the blast
    radius: how many targets changed, grouped by each hierarchy variable, with
    production targets called out.  Every changed path shows before → after
    and the head-side file:line that set it.  Secrets appear by path only.

    Only targets that the changed files can reach are compiled, so a one-file
    change in a large repo stays fast.  No keys, no checkout, no network.

    Each compared target is also validated on both sides as 'cfgc validate'
    would; the findings are listed in every format (the base's as warnings
    marked 'at the base:').  What each compiled target gives a diff is
    kept in the build cache folder, keyed by everything it depends on, so a
    later diff of either side does not compile it again.  Exit status: 1 when the head has an error
    (compile or validation), or with --exit-code when any target changed;
    0 otherwise.

    \b
    Examples:
      cfgc diff --base origin/main
      cfgc diff --base v1.4.0 --head v1.5.0 --format markdown
      cfgc diff --base HEAD~1 --format json --target 'acme/*'
      cfgc diff --base origin/main --exit-code   # exit 1 when anything changed
    """
    start = time.perf_counter()
    result = api.diff_refs(repo, base=base_ref, head=head_ref, targets=select,
                           cache=cache_arg(no_cache, cache_dir))
    elapsed = time.perf_counter() - start
    if fmt == "json":
        click.echo(render.diff_json(result), nl=False)
    elif fmt == "markdown":
        click.echo(render.diff_markdown(result), nl=False)
    else:
        click.echo(render.diff_text(result), nl=False)
        click.echo(f"({result.compiled} of {result.total} targets compiled in {elapsed:.2f}s)", err=True)
    if any(d.severity == "error" for d in result.errors):
        raise SystemExit(1)
    if exit_code and result.targets:
        raise SystemExit(1)
