"""The changed leaves of two compared targets, kept for the next pair, and located
(:func:`cfgc.review.diff.diff_targets`)."""

from __future__ import annotations

from typing import Any

from cfgc.base.errors import Location
from cfgc.base.loading import Path
from cfgc.review.diff_entry import Located
from cfgc.review.diff_values import Change, Compared, Memo, Side, has_str, is_secret, sensitive
from cfgc.secrets.redact import redact


class Leaves:
    """The changed leaves ``(path, before, after)`` of a target, in report order,
    with what of them does not depend on the target (see :func:`located`)."""

    def __init__(self, items: list[tuple[Path, Any, Any]]) -> None:
        self.items = items
        # The target's sensitive strings only matter to a leaf that holds
        # text; a number or a boolean is shown as it is.
        self.text = any(has_str(x) or has_str(y) for _, x, y in items)
        self.shown = None if self.text else [
            (p, redact(x, p), redact(y, p), is_secret(x) or is_secret(y)) for p, x, y in items]


class LeafMemo:
    """What comparing two records leaves for the next pair: changed leaves by
    differing (key, index, index) tuples, key positions by pair of shapes."""

    def __init__(self) -> None:
        self.leaves: dict[tuple[tuple[str, Any, Any], ...], Leaves] = {}
        self._places: dict[tuple[int, int], tuple[Any, Any, list[tuple[str, int, int]]]] = {}
        # Located changes by (leaves, their stored spots): a global change
        # gives 10,000 records the same leaves set at the same place.
        self.changes: dict[tuple[int, tuple[tuple[str, int, int], ...]], tuple[Leaves, list[Change]]] = {}

    def get(self, sig: tuple[tuple[str, Any, Any], ...]) -> Leaves | None:
        """The changed leaves kept for ``sig``."""
        return self.leaves.get(sig)

    def __setitem__(self, sig: tuple[tuple[str, Any, Any], ...], found: Leaves) -> None:
        self.leaves[sig] = found

    def places(self, left: tuple[str, ...], right: tuple[str, ...]) -> list[tuple[str, int, int]]:
        """:func:`places`, once per pair of shapes (by identity: the record file's shapes are shared)."""
        hit = self._places.get((id(left), id(right)))
        if hit is None:
            hit = self._places[(id(left), id(right))] = (left, right, places(left, right))  # keeps both alive
        return hit[2]


def places(left: tuple[str, ...], right: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """Each key of either shape, sorted, with its position in each (-1: absent)."""
    lp, rp = {k: n for n, k in enumerate(left)}, {k: n for n, k in enumerate(right)}
    return [(k, lp.get(k, -1), rp.get(k, -1)) for k in sorted({*left, *right})]


def located(b: Side, before: Compared, h: Side, after: Compared, found: Leaves, memo: Memo,
            shared: LeafMemo | None = None) -> list[Change]:
    """The changes of ``found``, redacted against the target's sensitive strings and located.

    With ``shared``, a record's changes are the same :class:`Change` objects as
    an earlier record's whose leaves (the same object) are stored at the same
    places: they are equal, and frozen."""
    shown = found.shown
    if shown is not None and shared is not None:
        where = after.provenance
        if type(where) is Located:
            spots = tuple([where.spot(p) for p, _, _, _ in shown])
            hit = shared.changes.get((id(found), spots))
            if hit is None:
                # (found is kept with them: its id is not reused while the memo lives)
                made = [Change(p, x, y, Location(*at), secret) for (p, x, y, secret), at in zip(shown, spots, strict=True)]
                hit = shared.changes[(id(found), spots)] = (found, made)
            return list(hit[1])
    if shown is None:
        lraw, rraw = before.value, after.value
        # A template may have copied a credential to any key: the whole
        # target is searched, with every secret as its token.
        full_l = b.comparable(lraw) if before.secrets else lraw
        full_r = h.comparable(rraw) if after.secrets else rraw
        known = sensitive(full_l, memo) | sensitive(full_r, memo)
        shown = [(p, redact(x, p, known), redact(y, p, known), is_secret(x) or is_secret(y))
                 for p, x, y in found.items]
    where = after.provenance
    return [Change(p, x, y, where.locate(p), secret) for p, x, y, secret in shown]
