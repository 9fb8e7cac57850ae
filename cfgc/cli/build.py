"""``cfgc build``: compile every target into a bundle directory."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from cfgc import api
from cfgc.api.render import diagnostics_json as render_json
from cfgc.api.render import diagnostics_text as render_text
from cfgc.api.render import summary_line
from cfgc.base.errors import InvalidConfig, UsageError
from cfgc.cli.common import Progress, cache_arg, cache_options, format_option, repo_option, warn
from cfgc.cli.main import command


@command("build")
@repo_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/bundle"),
    show_default=True,
    help="Bundle directory to write (replaced atomically; left untouched on failure).",
)
@click.option("--ref", metavar="GITREF", help="Compile this commit from git objects, without a checkout.")
@click.option("--target", "select", metavar="GLOB", help="Only targets whose name matches, e.g. 'acme/*/*'.")
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Sign the bundle with this ed25519 key before it replaces OUT (see `cfgc sign`).",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Compile only shard I of N (a deterministic split by target name) into a bundle part; "
    "join the N parts with `cfgc bundle merge`.",
)
@cache_options
@format_option("text", "json")
def build(
    repo: Path | None,
    out: Path,
    ref: str | None,
    select: str | None,
    sign_key: Path | None,
    shard: str | None,
    jobs: int | None,
    no_cache: bool,
    cache_dir: Path | None,
    fmt: str,
) -> None:
    """Compile the config repo into a bundle directory.

    Loads every layer, merges them per target, resolves $extends, prompt
    references and templates, validates each target against its schemas and
    writes:

    \b
      OUT/manifest.json            targets with sha256 digests, source commit
      OUT/targets/<target>.json    each compiled target as canonical JSON
      OUT/prompts/<name>/<v>.j2    the prompt templates the targets pin
      OUT/secrets/<file>           SOPS documents the targets reference (still encrypted)

    The same commit always gives byte-identical output.  On any error nothing
    is written and a previous bundle in OUT stays as it was; with --sign-key
    the bundle is signed before it replaces OUT, so OUT never holds an
    unsigned or half-written bundle.  Builds into one OUT wait for each other
    (lock .OUT.lock beside it, up to 600 s) and clean up what killed builds
    left there.  The signed provenance lists exactly the files the compile
    read.  Targets whose inputs did not change come from the build cache
    (outside the repo, every blob verified before use), and the rest compile
    on every core.

    \b
    Examples:
      cfgc build --out build/bundle
      cfgc build --ref origin/main --out /tmp/main-bundle
      cfgc build --target 'acme/prod/*' --format json
      cfgc build --out build/bundle --sign-key release.key
      cfgc build --shard 2/8 --out build/part-2

    With --shard I/N, OUT is a bundle part: the files of shard I's targets
    and part.json (see docs/bundle-format.md).  `cfgc bundle merge` joins the
    N parts into the bundle a single build would have written, byte for byte;
    sign that bundle, not the parts.
    """
    if shard is not None:
        _build_shard(repo, out, ref, select, sign_key, shard, jobs, no_cache, cache_dir, fmt)
        return
    progress = Progress("compiling")
    try:
        try:
            done = api.build_bundle(repo, out, ref=ref, targets=select, sign_key=sign_key, jobs=jobs,
                                    cache=cache_arg(no_cache, cache_dir), progress=progress, warn=warn)
        finally:
            progress.close()
    except InvalidConfig as e:
        _refused(e, fmt)
    names, digest = done.targets, done.digest
    if fmt == "json":
        click.echo(
            render_json(done.diagnostics, names, written=True, out=str(out), manifest_digest=digest,
                        cache_hits=done.cache_hits),
            nl=False,
        )
        return
    if done.diagnostics:
        click.echo(render_text(done.diagnostics), err=True, nl=False)
    cached = f", {done.cache_hits} from cache" if done.cache_hits else ""
    signed = "signed, " if done.signed else ""
    plural = "s" if len(names) != 1 else ""
    click.echo(f"compiled {len(names)} target{plural}{cached} into {out} ({signed}manifest {digest[:19]}…)")


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
        click.echo(render_json(result.diagnostics, names, written=True, out=str(out), shard=str(done.shard),
                               total_targets=done.total, part_digest=digest,
                               cache_hits=result.cache_hits), nl=False)
        return
    if result.diagnostics:
        click.echo(render_text(result.diagnostics), err=True, nl=False)
    cached = f", {result.cache_hits} from cache" if result.cache_hits else ""
    click.echo(f"compiled {len(names)} of {done.total} targets (shard {done.shard}){cached} into part {out} "
               f"(part.json {digest[:19]}…)")


def _refused(e: InvalidConfig, fmt: str) -> NoReturn:
    """Print the findings that stopped a build (nothing was written) and exit 1."""
    if fmt == "json":
        click.echo(render_json(e.diagnostics, e.targets, written=False), nl=False)
    else:
        click.echo(render_text(e.diagnostics), err=True, nl=False)
        click.echo(f"build failed: {summary_line(e.diagnostics, len(e.targets))}; nothing written", err=True)
    raise SystemExit(1) from None
