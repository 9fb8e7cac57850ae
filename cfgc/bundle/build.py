"""``build_bundle``: compile a source into a complete, signed bundle directory.

The sequence, all while holding the lock of the output directory
(:mod:`cfgc.bundle.outdir`)::

    clean leftovers of dead builds  ->  stage .OUT.tmp-<pid>-*  ->  compile
    ->  write targets + manifest  ->  sign in staging  ->  swap into OUT

so ``OUT`` only ever holds a complete bundle, signed when signers are given:
an invalid repo, a signing failure, a full disk or a kill leaves the previous
``OUT`` as it was.  The provenance's inputs are the files the compile read
(:mod:`cfgc.repo.inputs`), never a re-walk of the tree.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.errors import InputError, UsageError, environment_error
from cfgc.bundle import pipeline
from cfgc.bundle.layout import assemble, finish_staging, open_staging, swap_into
from cfgc.bundle.outdir import exclusive
from cfgc.bundle.pipeline import PipelineResult
from cfgc.compile.compiler import Compiler
from cfgc.repo.inputs import record_reads
from cfgc.repo.sources import Source

if TYPE_CHECKING:
    from cfgc.bundle.cache import BuildCache
    from cfgc.bundle.signing import Signer


@dataclass(frozen=True)
class BuildOutcome:
    """What :func:`build_bundle` did: the pipeline result, and the manifest digest if written."""

    result: PipelineResult
    out: Path
    digest: str | None = None  # None: findings stopped the build, OUT untouched

    @property
    def written(self) -> bool:
        """True when OUT now holds the new bundle."""
        return self.digest is not None

    @property
    def names(self) -> list[str]:
        """The targets compiled, sorted."""
        return [t.name for t in self.result.outputs]


def build_bundle(
    source: Source,
    out: Path,
    *,
    select: str | None = None,
    signers: Sequence[Signer] = (),
    key_files: Sequence[Path] = (),
    cache: BuildCache | None = None,
    jobs: int | None = None,
    progress: pipeline.Progress | None = None,
) -> BuildOutcome:
    """Compile ``source`` into the bundle directory ``out``, signed by ``signers``.

    ``key_files`` are the files the signers were loaded from: a compile that
    read one is refused rather than naming a private key as a build input.
    Raises CfgcError (environment failures as exit-4 errors naming ``out``).
    """
    reads = record_reads(source) if signers else None
    compiler = Compiler(source)
    out = out.resolve()
    # Fail before any work when a layer is in OUT (a build would read its own last output).
    refuse_own_files({p for spec in compiler.specs(select) for p in spec.layers}, source, out, key_files)
    with exclusive(out):
        staging = open_staging(out)
        try:
            result = pipeline.run(
                compiler, select, staging=staging, cache=cache, jobs=jobs, progress=progress, reads=reads
            )
            if not result.ok:
                shutil.rmtree(staging, ignore_errors=True)
                return BuildOutcome(result, out)
            if not result.outputs:
                raise InputError(
                    f"no targets{' match ' + repr(select) if select else ''}: no file matches the last "
                    f"hierarchy entry {compiler.config.hierarchy[-1].pattern!r}",
                    compiler.config.target_location if not select else None,
                )
            manifest, files = assemble(
                result.outputs, result.prompts, compiler.schema_entries(), source.info(), result.secret_files
            )
            digest = finish_staging(staging, manifest, files)
            if signers:
                from cfgc.bundle.attest import sign_bundle

                inputs = result.inputs or {}
                refuse_own_files(inputs, source, out, key_files)
                sign_bundle(staging, list(signers), inputs=inputs)
            swap_into(staging, out)
        except BaseException as e:
            shutil.rmtree(staging, ignore_errors=True)
            env = environment_error(e, as_out(e, staging, out))
            if env is not None:
                raise env from None
            raise
    return BuildOutcome(result, out, digest)


def refuse_own_files(inputs: Iterable[str], source: Source, out: Path, key_files: Sequence[Path]) -> None:
    """A compile that read the output directory or a key file would sign it as an input: refuse."""
    root = getattr(source, "root", None)
    if root is None:
        return
    root = Path(root).resolve()
    # Repo-relative prefixes (string tests: this runs over every layer of a large repo).
    own: dict[str, str] = {}
    for mine, kind in [(out, "in the --out directory"), *((k.resolve(), "the signing key") for k in key_files)]:
        rel = os.path.relpath(mine, root).replace(os.sep, "/")
        if rel != "." and not rel.startswith("../"):
            own[rel] = kind
    leftovers = (f".{out.name}.tmp-", f".{out.name}.old-")
    for path in inputs:
        what: str | None = next((w for rel, w in own.items() if path == rel or path.startswith(rel + "/")), None)
        if what is None and f"/.{out.name}." in f"/{path}" and any(
            part.startswith(leftovers) for part in path.split("/")
        ):
            what = "in a staging directory of a build into --out"
        if what is not None:
            raise UsageError(
                f"{path} is an input of this build but is {what}; keep --out and keys out of what "
                "the hierarchy, schemas and prompts match"
            )


# The name tests/unit/bundle/test_build.py imports (written before the helper became public).
_refuse_own_files = refuse_own_files


def as_out(e: BaseException, staging: Path, out: Path) -> str | None:
    """The path an OSError names, with the staging directory shown as OUT."""
    name = getattr(e, "filename", None)
    if not isinstance(name, str):
        return _rel(out) if isinstance(e, OSError) else None
    if name == str(staging) or name.startswith(str(staging) + os.sep):
        return _rel(out) + name[len(str(staging)) :]
    return None


def _rel(p: Path) -> str:
    rel = os.path.relpath(p)
    return str(p) if rel.startswith("..") else rel
