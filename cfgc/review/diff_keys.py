"""Which reached targets a diff need not compare: equal target keys on both sides.

A target's key (:mod:`cfgc.bundle.target_keys`, the build cache's key) covers
everything its compile reads.  Equal keys on the two sides mean the same
value, the same secret tokens and the same findings on both: the target has
no change to report, and its base-side findings are its head-side ones.  So
such a target is compiled once, on the head side, for its findings only.

A target is reached with equal keys when only a file that no compile reads
changed under the prompt folder (a README beside the templates, say); every
other reached target has a changed layer or a changed global input.  Layer
digests are sha256 of the bytes on both sides, as the build cache computes
them for a working tree: the git side hashes the blob bytes the diff reads
anyway in one ``git cat-file --batch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet

from cfgc.base.errors import CfgcError
from cfgc.bundle.target_keys import TargetKeys, content_digest, global_key
from cfgc.compile.compiler import Compiler
from cfgc.repo.hierarchy import TargetSpec


def same_keys(base: Compiler, head: Compiler, names: Iterable[str], changed: AbstractSet[str],
              base_specs: Mapping[str, TargetSpec], head_specs: Mapping[str, TargetSpec]) -> frozenset[str]:
    """The targets of ``names`` that exist on both sides with equal keys.

    A target with a layer among the ``changed`` files (which differ between
    the sides by content, or exist on one side only) has unequal keys: its
    keys are not computed.  Any error while keying a side (a schema that
    cannot be read, a layer that is a symlink) keys nothing: those targets
    are compiled on both sides and the error reported as usual.
    """
    pairs = []
    for name in names:
        b, h = base_specs.get(name), head_specs.get(name)
        if b is not None and h is not None and b.layers == h.layers and changed.isdisjoint(h.layers):
            pairs.append((name, b, h))
    if not pairs:
        return frozenset()
    try:
        bg, hg = global_key(base), global_key(head)
        if bg != hg:
            return frozenset()
        bk, hk = TargetKeys(bg, content_digest(base.source)), TargetKeys(hg, content_digest(head.source))
        return frozenset(name for name, b, h in pairs if bk.key(b) == hk.key(h))
    except CfgcError:
        return frozenset()

