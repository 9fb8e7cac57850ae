"""``cfgc bundle merge``: join the parts of a sharded build into one bundle.

Parts travel through CI artifacts, so each is hostile input until checked:
``part.json`` is bounded (:data:`MAX_PART_JSON`) and parsed strictly
(:mod:`cfgc.bundle.part_doc`); every part must come from the same build (source,
selection, schemas, config digest, toolchain, shard count); each shard
appears exactly once; every target lies in the shard its name hashes to; the
union of the targets is exactly the set every shard saw (count and digest);
a part directory holds exactly the files its ``part.json`` lists, none a
link, each at most :data:`MAX_FILE` bytes and with the listed size and
digest (files are hard-linked when that is as safe as copying:
:mod:`cfgc.bundle.merge_files`).  Only then is the bundle written, through the same staging, lock and
atomic swap as ``cfgc build``, so a failed merge leaves ``--out`` as it was.

The manifest is the union of the parts' slices: canonical JSON does not
depend on the order entries were added in, so the bytes are those of a
single-machine build of the same tree.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.canonical import canonical_json
from cfgc.base.errors import IntegrityError, UsageError
from cfgc.bundle.layout import finish_staging, open_staging
from cfgc.bundle.merge_files import place
from cfgc.bundle.part_doc import MAX_FILE, MAX_PART_JSON, Part, load_part
from cfgc.bundle.shard import PART, names_digest, shard_of
from cfgc.bundle.stage import staged
from cfgc.bundle.swap import swap_into

__all__ = ["MAX_FILE", "MAX_PART_JSON", "MergeOutcome", "merge_parts"]
# Problems listed before "and N more".
SHOW = 20


@dataclass(frozen=True)
class MergeOutcome:
    """The merged bundle: where, its manifest digest, how many targets from how many parts."""

    out: Path
    digest: str
    targets: int
    parts: int


def merge_parts(paths: Sequence[Path], out: Path) -> MergeOutcome:
    """Merge the part directories ``paths`` into the bundle directory ``out``.

    UsageError for parts of different builds and missing or repeated shards,
    IntegrityError for a part that does not hold what it says.
    """
    if not paths:
        raise UsageError("give the part directories to merge")
    out = out.resolve()
    parts = [load_part(Path(p)) for p in paths]
    for p in parts:
        if out == p.root or p.root in out.parents:
            raise UsageError(f"--out {out} is inside the part {p.root}; write the bundle elsewhere")
    _same_build(parts)
    manifest = _union(parts)
    # The build's lock, staging and cleanup: no failure or interrupt leaves the folder behind.
    with staged(out, open_staging) as staging:
        _copy_files(parts, staging)
        digest = finish_staging(staging, manifest, [])
        swap_into(staging, out)
    return MergeOutcome(out, digest, len(manifest["targets"]), len(parts))


def _same_build(parts: list[Part]) -> None:
    first = parts[0]
    for p in parts[1:]:
        for what, mine, theirs in [
            ("source commit", first.source.get("commit"), p.source.get("commit")),
            ("source", first.source, p.source),
            ("--target selection", first.select, p.select),
            ("shard count", first.count, p.count),
            ("toolchain", first.build["toolchain"], p.build["toolchain"]),
            ("config, schemas and prompts (digest)", first.build["inputs"], p.build["inputs"]),
            ("target list", first.build["targets"], p.build["targets"]),
            ("manifest header", first.header, p.header),
        ]:
            if mine != theirs:
                raise UsageError(
                    f"parts of different builds: {first.root} and {p.root} differ in {what} "
                    f"({_short(mine)} vs {_short(theirs)}); merge the parts of one `cfgc build --shard` run"
                )
    seen: dict[int, Path] = {}
    for p in parts:
        if p.index in seen:
            raise UsageError(f"shard {p.index}/{p.count} given twice: {seen[p.index]} and {p.root}")
        seen[p.index] = p.root
    missing = [i for i in range(1, first.count + 1) if i not in seen]
    if missing:
        shown = ", ".join(f"{i}/{first.count}" for i in missing[:SHOW])
        more = f" and {len(missing) - SHOW} more" if len(missing) > SHOW else ""
        raise UsageError(f"shard{'s' if len(missing) > 1 else ''} {shown}{more} missing: give every part")


def _short(value: object) -> str:
    text = value if isinstance(value, str) else canonical_json(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


def _union(parts: list[Part]) -> dict[str, Any]:
    problems: list[str] = []
    targets: dict[str, Any] = {}
    prompts: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for p in parts:
        for name, entry in p.targets.items():
            owner = shard_of(name, p.count)
            if owner != p.index:
                problems.append(f"{p.root}: target {name} belongs to shard {owner}/{p.count}, not {p.index}")
            elif name in targets:  # unreachable when the assignment holds; kept as a second line
                problems.append(f"{p.root}: target {name} is in two parts")
            targets[name] = entry
        for table, into in ((p.prompts, prompts), (p.secrets, secrets)):
            for key, entry in table.items():
                if into.setdefault(key, entry) != entry:
                    problems.append(f"{p.root}: {entry['path']} differs from the same file in another part")
        for name, entry in p.targets.items():
            for ref, table, kind in ((entry.get("prompts", ()), p.prompts, "prompt"),
                                     (entry.get("secrets", ()), p.secrets, "secret")):
                problems.extend(f"{p.root}: target {name} names {kind} {r} the part does not carry"
                                for r in ref if r not in table)
    expect = parts[0].build["targets"]
    if len(targets) != expect["count"] or names_digest(list(targets)) != expect["digest"]:
        problems.append(
            f"the parts hold {len(targets)} targets, not the {expect['count']} the build selected "
            "(or other names): a part was altered"
        )
    _raise(problems)
    return {**parts[0].header, "targets": targets, "prompts": prompts, "secrets": secrets}


def _raise(problems: list[str]) -> None:
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:SHOW])
        more = f"\n  ... and {len(problems) - SHOW} more" if len(problems) > SHOW else ""
        plural = "s" if len(problems) != 1 else ""
        raise IntegrityError(f"bundle parts failed verification ({len(problems)} problem{plural}):\n{shown}{more}")


def _copy_files(parts: list[Part], staging: Path) -> None:
    """Check each part holds exactly its listed files, then link or copy them into ``staging``."""
    problems: list[str] = []
    written: set[str] = set()
    staging_dev = os.stat(staging).st_dev
    for p in parts:
        listed = p.files()
        problems.extend(_unlisted(p.root, listed))
        for rel, (digest, size) in sorted(listed.items()):
            # A file two parts share (a prompt, a SOPS file) is verified in both, placed once.
            before = len(problems)
            place(str(p.root), rel, digest, size, str(staging), staging_dev, problems, rel not in written)
            if len(problems) == before:
                written.add(rel)
    _raise(problems)


def _unlisted(root: Path, listed: dict[str, tuple[str, int]]) -> list[str]:
    """Files, links and other entries in a part that part.json does not list."""
    problems = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{root}/{rel}: a symbolic link in a bundle part")
                if name in dirnames:
                    dirnames.remove(name)
            elif stat.S_ISREG(mode) and rel not in listed and rel != PART:
                problems.append(f"{root}/{rel}: not listed in part.json")
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                problems.append(f"{root}/{rel}: not a regular file")
    return problems
