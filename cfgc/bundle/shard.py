"""Sharded builds: ``cfgc build --shard I/N`` compiles a deterministic 1/N of the targets.

A target belongs to shard ``1 + int(sha256(name)[:8]) mod N``: the assignment
depends on the name alone, so adding or removing one target never moves any
other between shards, and every machine computes the same split.  A shard's
output is a *part* (:data:`PART`, see docs/bundle-format.md): the target,
prompt and SOPS files of its targets plus ``part.json``, which carries this
shard's slice of the manifest and what every shard must agree on (source,
schemas, the digest of the config, schemas and prompt library, the toolchain
that shapes the bytes, and the count and digest of all target names).
:mod:`cfgc.bundle.merge` checks all of that and writes the bundle a single
``cfgc build`` would have written, byte for byte.

Everything computed over all targets is either computed identically by every
shard (schemas, the prompt library and its errors, the set of target names)
or by the merge (the manifest's target, prompt and secret tables).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import InputError, UsageError
from cfgc.bundle import pipeline
from cfgc.bundle.layout import assemble, write_file
from cfgc.bundle.pipeline import PipelineResult
from cfgc.bundle.stage import refuse_own_files, staged
from cfgc.bundle.swap import swap_into
from cfgc.compile.compiler import Compiler, no_match
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.sources import Source

if TYPE_CHECKING:
    from cfgc.bundle.cache import BuildCache

PART = "part.json"
PART_FORMAT = "cfgc.bundle-part/v1"
# More shards than this is a typo, and merge lists missing shards by number.
MAX_SHARDS = 1024


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, name: str) -> bool:
        """Whether the target ``name`` belongs to this shard."""
        return shard_of(name, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """``"I/N"`` -> Shard; UsageError unless 1 <= I <= N <= MAX_SHARDS."""
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit()):
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. 3/8")
    shard = Shard(int(i), int(n))
    if not 1 <= shard.index <= shard.count <= MAX_SHARDS:
        raise UsageError(f"--shard {text}: need 1 <= I <= N <= {MAX_SHARDS}")
    return shard


def shard_of(name: str, count: int) -> int:
    """The shard (1-based) the target ``name`` belongs to among ``count``."""
    return 1 + int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % count


def names_digest(names: list[str]) -> str:
    """Digest of a sorted list of target names (what every shard saw)."""
    return sha256_digest("\n".join(sorted(names)).encode("utf-8"))


class ShardCompiler(Compiler):
    """A compiler whose selection is one shard's targets; ``universe`` names every selected target.

    Only this shard's targets get a :class:`TargetSpec` (their layers
    resolved and held): at 1,000,000 targets the other shards' specs were
    most of a shard's listing time and memory.
    """

    def __init__(self, source: Source, shard: Shard) -> None:
        super().__init__(source)
        self.shard = shard
        self._listed: dict[str | None, tuple[list[str], list[TargetSpec]]] = {}

    def _listing(self, select: str | None) -> tuple[list[str], list[TargetSpec]]:
        found = self._listed.get(select)
        if found is None:
            found = self._listed[select] = self.hierarchy.listing(select, self.shard.owns)
        return found

    def universe(self, select: str | None = None) -> list[str]:
        """The name of every target of the selection, across all shards, sorted."""
        return list(self._listing(select)[0])

    def selected(self, select: str | None = None) -> list[TargetSpec]:
        names, mine = self._listing(select)
        if select is not None and not names:
            raise no_match(select, len(self.hierarchy.listing(None, lambda _: False)[0]))
        return list(mine)


@dataclass(frozen=True)
class PartOutcome:
    """What :func:`build_part` did; ``digest`` (of part.json) is None when findings stopped it."""

    result: PipelineResult
    out: Path
    shard: Shard
    total: int
    digest: str | None = None

    @property
    def names(self) -> list[str]:
        """This shard's targets, sorted."""
        return [t.name for t in self.result.outputs]


def build_part(
    source: Source,
    out: Path,
    shard: Shard,
    *,
    select: str | None = None,
    cache: BuildCache | None = None,
    jobs: int | None = None,
    progress: pipeline.Progress | None = None,
) -> PartOutcome:
    """Compile shard ``shard`` of ``source`` into the part directory ``out`` (atomically, like a build)."""
    compiler = ShardCompiler(source, shard)
    out = out.resolve()
    mine = compiler.selected(select)  # first: a --target that matches nothing is a usage error
    every = compiler.universe(select)
    if not every:
        raise InputError(
            f"no targets: no file matches the last hierarchy entry {compiler.config.hierarchy[-1].pattern!r}",
            compiler.config.target_location,
        )
    refuse_own_files({p for spec in mine for p in spec.layers}, source, out, ())
    with staged(out, _open_part_staging) as staging:
        result = pipeline.run(compiler, select, staging=staging, cache=cache, jobs=jobs, progress=progress)
        if not result.ok:
            return PartOutcome(result, out, shard, len(every))
        manifest, files = assemble(
            result.outputs, result.prompts, compiler.schema_entries(), source.info(), result.secret_files
        )
        for f in files:
            write_file(staging, f.path, f.data)
        doc = {
            "format": PART_FORMAT,
            "shard": {"index": shard.index, "count": shard.count},
            "select": select,
            "build": {
                "inputs": inputs_digest(compiler),
                "toolchain": toolchain(),
                "targets": {"count": len(every), "digest": names_digest(every)},
            },
            "manifest": manifest,
        }
        data = canonical_json(doc)
        write_file(staging, PART, data)
        swap_into(staging, out)
    return PartOutcome(result, out, shard, len(every), sha256_digest(data))


def _open_part_staging(out: Path) -> Path:
    """A staging directory beside ``out``; refuses to replace a directory that is no part or bundle."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / PART).is_file():
        raise UsageError(f"--out {out} is a non-empty directory that holds no bundle part; refusing to replace it")
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))


def inputs_digest(compiler: Compiler) -> str:
    """Digest of what every target depends on besides its layers: cfgc.yaml, schemas, prompt library."""
    from cfgc.bundle.target_keys import hash_inputs

    h = hashlib.sha256()
    hash_inputs(h, compiler)
    return "sha256:" + h.hexdigest()


def toolchain() -> str:
    """The versions that shape a target's bytes; shards built by different ones may differ."""
    from importlib.metadata import version

    import yaml

    from cfgc import __version__

    python = "{}.{}.{}".format(*sys.version_info[:3])
    # Jinja2's version from its metadata: importing it costs a build start-up.
    return f"cfgc {__version__}, python {python}, PyYAML {yaml.__version__}, Jinja2 {version('jinja2')}"
