"""``cfgc check``: validation, secret hygiene, LLM checks and Rego policies."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc import api
from cfgc.api import render
from cfgc.base.errors import CfgcError, UsageError
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
    if repo is not None:
        roots = [repo.resolve()]
    elif files:
        roots = list(api.repo_roots(files))
        if not roots:
            click.echo(f"cfgc check: none of the {len(files)} files is inside a config repo (no cfgc.yaml above it)")
            return
    else:
        roots = [_nearest_root()]
    failed = []
    for root in roots:
        if len(roots) > 1 and fmt == "text":
            click.echo(f"== {root}")  # paths below are relative to this config repo
        if not _check_one(root, base_ref, select, fail_on_existing, fmt, repo, jobs, cache_arg(no_cache, cache_dir)):
            failed.append(root)
    if failed:
        raise SystemExit(1)


def _nearest_root() -> Path:
    try:
        return api.find_repo()
    except CfgcError as e:
        below = [str(p) for p in api.repos_below(Path.cwd())]
        hint = f" (found {', '.join(below)}: pass --repo DIR; in .pre-commit-config.yaml, args: [--repo, DIR])"
        raise UsageError(str(e) + (hint if below else "")) from None


def _check_one(root: Path, base_ref: str | None, select: str | None, fail_on_existing: bool, fmt: str,
               repo: Path | None, jobs: int | None, cache: bool | Path) -> bool:
    """Check one config repo and print the report; False when it fails."""
    if not (root / "cfgc.yaml").is_file():
        raise click.UsageError(f"--repo {repo}: no cfgc.yaml in that directory")
    result = api.check(root, base=base_ref, targets=select, jobs=jobs, cache=cache)
    diags = result.diagnostics
    if fmt == "json":
        extra = {"changed": sorted(result.changed) if result.changed is not None else None,
                 "baseline_states": list(result.states) if base_ref else None}
        click.echo(render.diagnostics_json(diags, result.targets, **extra), nl=False)
    elif fmt == "github":
        click.echo(render.github_annotations(diags, root, result.states), nl=False)
    elif fmt == "sarif":
        click.echo(render.sarif(diags, root, result.states), nl=False)
    elif fmt == "markdown":
        click.echo(render.check_markdown(result, fail_on_existing=fail_on_existing), nl=False)
    else:
        old = [d for i, d in enumerate(diags) if result.state(i) == "unchanged"]
        click.echo(render.diagnostics_text([d for i, d in enumerate(diags) if result.state(i) != "unchanged"]),
                   nl=False)
        if old:
            click.echo(f"already on {base_ref}:")
            click.echo(render.diagnostics_text(old), nl=False)
        if result.ok and not diags:
            click.echo(f"ok: {len(result.targets)} targets pass every check")
        else:
            click.echo(render.summary_line(diags, len(result.targets)))
        existing = result.states.count("unchanged")
        if existing:
            fails = "fail" if fail_on_existing else "do not fail: --fail-on-existing makes them"
            click.echo(f"{existing} of these findings are already on {base_ref} ({fails})")
    return not result.failing(fail_on_existing)
