"""What ``cfgc check`` does once its options are parsed, without click.

Both the click command (:mod:`cfgc.cli.check`) and the click-free start
(:mod:`cfgc.cli.entry`) run :func:`run`, so the two print the same bytes and
exit the same way.  The one usage error found after parsing (``--repo`` names
a folder without cfgc.yaml) is :class:`NoConfig`: the click command raises it
as click's usage error, and the click-free start, which has printed nothing
then, hands the whole command line to click.
"""

from __future__ import annotations

from pathlib import Path

from cfgc import api
from cfgc.api import render
from cfgc.base.errors import CfgcError, UsageError
from cfgc.cli.echo import echo


class NoConfig(Exception):
    """``--repo DIR`` holds no cfgc.yaml (click's usage error, with click's usage text)."""


def run(repo: Path | None, base_ref: str | None, select: str | None, fail_on_existing: bool, jobs: int | None,
        cache: bool | Path, fmt: str, files: tuple[Path, ...]) -> None:
    """Check as ``cfgc check`` with these options; print its report (exit 1 when it fails)."""
    if repo is not None:
        roots = [repo.resolve()]
    elif files:
        roots = list(api.repo_roots(files))
        if not roots:
            echo(f"cfgc check: none of the {len(files)} files is inside a config repo (no cfgc.yaml above it)")
            return
    else:
        roots = [_nearest_root()]
    failed = []
    for root in roots:
        if len(roots) > 1 and fmt == "text":
            echo(f"== {root}")  # paths below are relative to this config repo
        if not _check_one(root, base_ref, select, fail_on_existing, fmt, repo, jobs, cache):
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
        raise NoConfig(f"--repo {repo}: no cfgc.yaml in that directory")
    result = api.check(root, base=base_ref, targets=select, jobs=jobs, cache=cache)
    diags = result.diagnostics
    if fmt == "json":
        extra = {"changed": sorted(result.changed) if result.changed is not None else None,
                 "baseline_states": list(result.states) if base_ref else None}
        echo(render.diagnostics_json(diags, result.targets, **extra), nl=False)
    elif fmt == "github":
        echo(render.github_annotations(diags, root, result.states), nl=False)
    elif fmt == "sarif":
        echo(render.sarif(diags, root, result.states), nl=False)
    elif fmt == "markdown":
        echo(render.check_markdown(result, fail_on_existing=fail_on_existing), nl=False)
    else:
        old = [d for i, d in enumerate(diags) if result.state(i) == "unchanged"]
        echo(render.diagnostics_text([d for i, d in enumerate(diags) if result.state(i) != "unchanged"]), nl=False)
        if old:
            echo(f"already on {base_ref}:")
            echo(render.diagnostics_text(old), nl=False)
        if result.ok and not diags:
            echo(f"ok: {len(result.targets)} targets pass every check")
        else:
            echo(render.summary_line(diags, len(result.targets)))
        existing = result.states.count("unchanged")
        if existing:
            fails = "fail" if fail_on_existing else "do not fail: --fail-on-existing makes them"
            echo(f"{existing} of these findings are already on {base_ref} ({fails})")
    return not result.failing(fail_on_existing)
