"""``cfgc check``: validation, secret hygiene, LLM checks and Rego policies."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc.cli import check_run
from cfgc.cli.common import cache_arg, cache_options, format_option, repo_option
from cfgc.cli.main import command


@command("check")
@repo_option
@click.option("--base", "base_ref", metavar="GITREF",
              help="Compare with this commit: policies see input.changed true/false.")
@click.option("--target", "select", metavar="GLOB", help="Only targets whose name matches.")
@click.option("--fail-on-existing", is_flag=True,
              help="With --base: errors already on the base fail too (default: only new ones).")
@cache_options
@format_option("text", "json", "github", "sarif", "markdown")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def check(repo: Path | None, base_ref: str | None, select: str | None, fail_on_existing: bool, jobs: int | None,
          no_cache: bool, cache_dir: Path | None, fmt: str, files: tuple[Path, ...]) -> None:
    """Run every check on the repo: the gate for pull requests.

    \b
    Checks, each finding at its file:line:col:
      validation      what 'cfgc validate' reports (YAML, merge, schemas...)
      secrets         secret hygiene (unencrypted values, key age, ...)
      llm.routing     routing.default_model and routing.fallbacks name models
                      under 'models'; fallback chains have no cycle
      llm.prompt      pinned prompt references exist; a template that
                      declares '{# variables: a, b #}' uses only those
      policy.*        Rego policies in the policies folder (package main,
                      v1 syntax: 'deny contains msg if {...}', 'warn ...')

    Policies get one input per target: {"target", "vars", "config",
    "changed"}; 'changed' is null without --base.  A rule yields a message
    or {"msg": ..., "path": "dotted.path"}; with a path the finding points
    at the line that set that value.

    Exits 1 when any error or deny finding exists; warnings do not fail.
    With --base, each finding is new (this change introduces it) or
    unchanged (the base has it too: same rule, file, message and targets,
    whatever its line); only new errors fail unless --fail-on-existing.
    --target matching no target is a usage error (exit 2).

    Each target's findings are kept in the build cache folder, keyed by
    everything they depend on (its files, cfgc.yaml, schemas, prompts,
    policies, --base's changed flag): an unchanged target is not compiled
    again.  --no-cache checks every target.

    FILES (as pre-commit passes them): check the config repo each file
    belongs to, the nearest directory above it holding cfgc.yaml; files
    outside any config repo are ignored.  --repo wins over FILES.

    \b
    Formats: text (path:line:col: severity: message), json, github
    (workflow commands that annotate the PR), sarif (2.1.0, for code
    scanning), markdown (a PR comment).

    \b
    Examples:
      cfgc check
      cfgc check --base origin/main --format github
      cfgc check --format sarif > cfgc.sarif
      cfgc check config/envs/prod.yaml     # the repo holding that file
    """
    try:
        check_run.run(repo, base_ref, select, fail_on_existing, jobs, cache_arg(no_cache, cache_dir), fmt, files)
    except check_run.NoConfig as e:
        raise click.UsageError(str(e)) from None
