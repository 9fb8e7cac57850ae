"""The records a diff can take instead of compiling (:mod:`cfgc.review.diff_cache`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from cfgc.base.errors import CfgcError
from cfgc.bundle.target_keys import TargetKeys, global_key
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.sources import GitSource
from cfgc.review.check_keys import validator_versions
from cfgc.review.diff_cache import DiffCache, Record, record_key
from cfgc.review.diff_sides import KeptSide, SideStore, side_digest

if TYPE_CHECKING:
    from cfgc.review.diff import Side


def side_sum(store: SideStore | None, side: Side | None, select: str | None,
             digest: Callable[[str], str]) -> str | None:
    """The digest of one side's tree (:func:`cfgc.review.diff_sides.side_digest`),
    or None without a store, or when the side cannot be keyed (a schema
    that cannot be read, a working-tree file that cannot be hashed)."""
    if store is None or side is None:
        return None
    try:
        gkey = global_key(side.compiler)
    except CfgcError:
        return None
    source = side.compiler.source
    tree = source.tree_id() if isinstance(source, GitSource) else None
    try:
        return side_digest(gkey, validator_versions(), select, side.compiler.hierarchy.files, digest, tree)
    except CfgcError:  # a file it cannot hash (a symlink, unreadable) the diff may never read
        return None


def kept_side(store: SideStore | None, side: Side | None, select: str | None, found: str | None,
              like: KeptSide | None = None) -> KeptSide | None:
    """What is kept under a side's digest ``found`` (:func:`side_sum`); a kept
    listing becomes the side's :meth:`specs` (sharing the specs of ``like``,
    the other side, where equal).  None without a store or a digest: the
    side is listed and keyed as usual."""
    if store is None or side is None or found is None:
        return None
    kept = store.get(found, like)
    if kept is not None:
        side.compiler.assume_specs(select, kept.specs)
    return kept


def side_records(kept: DiffCache | None, side: Side | None, specs: Mapping[str, TargetSpec],
                 names: Collection[str], digest: Callable[[str], str],
                 known: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, Record]]:
    """The record key of each of ``names`` on one side, and the records kept for them.

    Keys are the build cache's target keys with each layer's ``digest``
    (its git blob id: what :func:`cfgc.review.diff.changed_files` already
    trusts to tell an unchanged file, free on the git side and computed once
    for the working tree) and the schema validators' versions; ``known``
    ones (a side kept by its tree's digest) are not computed again.  A target
    that cannot be keyed (a layer that cannot be read, a schema that does not
    load) has no key: it is compiled and not recorded.  The side takes each
    record's comparison tokens when the record's value is first used.
    """
    if kept is None or side is None:
        return {}, {}
    known = known or {}
    keys: TargetKeys | None = None
    validators = validator_versions()
    out: dict[str, str] = {}
    for name in names:
        spec = specs.get(name)
        if spec is None:
            continue
        key = known.get(name)
        if key is None:
            if keys is None:
                try:
                    keys = TargetKeys(global_key(side.compiler), digest)
                except CfgcError:
                    return {}, {}
            try:
                key = record_key(keys.key(spec), validators)
            except CfgcError:
                continue
        out[name] = key
    return out, kept.get_many(out, side.tokens)
