"""``cfgc build``: compile every target into a bundle directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from cfgc import pipeline
from cfgc.bundle import assemble, commit_staging, open_staging
from cfgc.cli.common import Progress, cache_options, format_option, open_cache, repo_option
from cfgc.cli.main import command
from cfgc.compiler import Compiler
from cfgc.errors import InputError
from cfgc.report.diagnostics import render_json, render_text, summary_line
from cfgc.sources import open_source


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
    help="After writing, sign the bundle with this ed25519 key (see `cfgc sign`).",
)
@cache_options
@format_option("text", "json")
def build(
    repo: Path | None,
    out: Path,
    ref: str | None,
    select: str | None,
    sign_key: Path | None,
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
    is written and a previous bundle in OUT stays as it was.  Targets whose
    inputs did not change come from the build cache (outside the repo, every
    blob verified before use), and the rest compile on every core.

    \b
    Examples:
      cfgc build --out build/bundle
      cfgc build --ref origin/main --out /tmp/main-bundle
      cfgc build --target 'acme/prod/*' --format json
      cfgc build --out build/bundle --sign-key release.key
    """
    signer = None
    if sign_key is not None:  # a bad key fails before any work
        from cfgc.signing import load_signer

        signer = load_signer(sign_key)
    source = open_source(repo, ref)
    compiler = Compiler(source)
    cache = open_cache(source, no_cache, cache_dir)
    staging = open_staging(out)
    try:
        progress = Progress("compiling")
        result = pipeline.run(compiler, select, staging=staging, cache=cache, jobs=jobs, progress=progress)
        progress.close()
        names = [t.name for t in result.outputs]
        if not result.ok:
            if fmt == "json":
                click.echo(render_json(result.diagnostics, names, written=False), nl=False)
            else:
                click.echo(render_text(result.diagnostics), err=True, nl=False)
                click.echo(f"build failed: {summary_line(result.diagnostics, len(names))}; nothing written", err=True)
            raise SystemExit(1)
        if not result.outputs:
            raise InputError(
                f"no targets{' match ' + repr(select) if select else ''}: no file matches the last "
                f"hierarchy entry {compiler.config.hierarchy[-1].pattern!r}",
                compiler.config.target_location if not select else None,
            )
        manifest, files = assemble(
            result.outputs, result.prompts, compiler.schema_entries(), source.info(), result.secret_files
        )
        digest = commit_staging(staging, out, manifest, files)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if signer is not None:
        from cfgc.attest import sign_bundle, source_digests

        sign_bundle(out, [signer], inputs=source_digests(source))
    if fmt == "json":
        click.echo(
            render_json(result.diagnostics, names, written=True, out=str(out), manifest_digest=digest,
                        cache_hits=result.cache_hits),
            nl=False,
        )
        return
    if result.diagnostics:
        click.echo(render_text(result.diagnostics), err=True, nl=False)
    cached = f", {result.cache_hits} from cache" if result.cache_hits else ""
    click.echo(f"compiled {len(names)} target{'s' if len(names) != 1 else ''}{cached} into {out} (manifest {digest[:19]}…)")
