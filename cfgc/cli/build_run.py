"""What ``cfgc build`` does once its options are parsed, without click.

Both the click command (:mod:`cfgc.cli.build`) and the click-free start of a
plain ``cfgc build`` (:mod:`cfgc.cli.entry`) run :func:`run`, so the two print
the same bytes and exit the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from cfgc import api
from cfgc.api.render import diagnostics_json as render_json
from cfgc.api.render import diagnostics_text as render_text
from cfgc.api.render import summary_line
from cfgc.base.errors import InvalidConfig, UsageError
from cfgc.cli.echo import echo
from cfgc.cli.progress import Progress, cache_arg, warn


def run(
    repo: Path | None,
    out: Path,
    ref: str | None,
    select: str | None,
    sign_key: Path | None,
    shard: str | None,
    verify_out: bool,
    jobs: int | None,
    no_cache: bool,
    cache_dir: Path | None,
    fmt: str,
) -> None:
    """Build as ``cfgc build`` with these options; print its report (exit 1 when findings stop it)."""
    if shard is not None:
        _build_shard(repo, out, ref, select, sign_key, shard, jobs, no_cache, cache_dir, fmt)
        return
    progress = Progress("compiling")
    try:
        try:
            done = api.build_bundle(repo, out, ref=ref, targets=select, sign_key=sign_key, jobs=jobs,
                                    cache=cache_arg(no_cache, cache_dir), progress=progress, warn=warn,
                                    verify_out=verify_out)
        finally:
            progress.close()
    except InvalidConfig as e:
        _refused(e, fmt)
    names, digest = done.targets, done.digest
    if fmt == "json":
        echo(
            render_json(done.diagnostics, names, written=True, out=str(out), manifest_digest=digest,
                        cache_hits=done.cache_hits, unchanged=done.unchanged),
            nl=False,
        )
        return
    if done.diagnostics:
        echo(render_text(done.diagnostics), err=True, nl=False)
    cached = f", {done.cache_hits} from cache" if done.cache_hits else ""
    signed = "signed, " if done.signed else ""
    plural = "s" if len(names) != 1 else ""
    same = "unchanged, " if done.unchanged else ""
    echo(f"compiled {len(names)} target{plural}{cached} into {out} ({same}{signed}manifest {digest[:19]}…)")


def _build_shard(
    repo: Path | None, out: Path, ref: str | None, select: str | None, sign_key: Path | None, text: str,
    jobs: int | None, no_cache: bool, cache_dir: Path | None, fmt: str,
) -> None:
    if sign_key is not None:
        raise UsageError("--sign-key with --shard: a part is not a bundle; sign the merged bundle")
    progress = Progress("compiling")
    try:
        try:
            done = api.build_part(repo, out, text, ref=ref, targets=select, jobs=jobs,
                                  cache=cache_arg(no_cache, cache_dir), progress=progress, warn=warn)
        finally:
            progress.close()
    except InvalidConfig as e:
        _refused(e, fmt)
    result, names, digest = done.result, done.names, done.digest
    assert digest is not None  # api.build_part raises InvalidConfig otherwise
    if fmt == "json":
        echo(render_json(result.diagnostics, names, written=True, out=str(out), shard=str(done.shard),
                               total_targets=done.total, part_digest=digest,
                               cache_hits=result.cache_hits), nl=False)
        return
    if result.diagnostics:
        echo(render_text(result.diagnostics), err=True, nl=False)
    cached = f", {result.cache_hits} from cache" if result.cache_hits else ""
    echo(f"compiled {len(names)} of {done.total} targets (shard {done.shard}){cached} into part {out} "
               f"(part.json {digest[:19]}…)")


def _refused(e: InvalidConfig, fmt: str) -> NoReturn:
    """Print the findings that stopped a build (nothing was written) and exit 1."""
    if fmt == "json":
        echo(render_json(e.diagnostics, e.targets, written=False), nl=False)
    else:
        echo(render_text(e.diagnostics), err=True, nl=False)
        echo(f"build failed: {summary_line(e.diagnostics, len(e.targets))}; nothing written", err=True)
    raise SystemExit(1) from None
