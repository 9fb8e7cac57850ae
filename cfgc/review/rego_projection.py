"""Cutting a target's Rego input down to what the policies read, and the
answers kept for equal inputs (:mod:`cfgc.review.rego_inputs` finds the paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from cfgc.review.rego_inputs import InputUse

# A module's references: a trie of object keys (EVERY: every key of an object,
# every item of an array); WHOLE (None) marks a subtree read whole.  The trie
# of the whole input is WHOLE itself.
Trie = dict[Any, Any] | None
WHOLE: Trie = None
EVERY = object()

_ABSENT = object()


def trie(paths: list[tuple[Any, ...]]) -> Trie:
    """The trie of ``paths`` (each read whole at its end)."""
    root: dict[Any, Any] = {}
    for path in sorted(paths, key=len):
        node = root
        for n, key in enumerate(path):
            if key in node and node[key] is None:
                break  # a shorter path already keeps this subtree whole
            if n == len(path) - 1:
                node[key] = WHOLE
            else:
                node = node.setdefault(key, {})
    return _spread(root)


def _spread(node: Trie) -> Trie:
    """Merge each node's EVERY subtrie into its named keys' (both apply to
    them), so that :func:`project` looks each key up once."""
    if node is None:
        return None
    wild = node.get(EVERY, _ABSENT)
    if wild is not _ABSENT:
        node = {k: v if k is EVERY else _union(v, wild) for k, v in node.items()}
    return {k: _spread(v) for k, v in node.items()}


def _union(a: Trie, b: Trie) -> Trie:
    if a is None or b is None:
        return WHOLE
    out = dict(a)
    for k, v in b.items():
        out[k] = _union(out[k], v) if k in out else v
    return out


def project(value: Any, paths: Trie) -> Any:
    """``value`` cut down to the subtrees ``paths`` names (in ``value``'s key
    order).  A subtree that is not an object where ``paths`` goes on is kept
    whole, except that an array under a trie of EVERY alone has each item cut
    down (an array has no keys a reference could name)."""
    if paths is None:
        return value
    t = type(value)
    if t is dict:
        wild = paths.get(EVERY, _ABSENT)
        out = {}
        for k, v in value.items():
            sub = paths.get(k, wild)  # a named key's trie already holds EVERY's (_spread)
            if sub is not _ABSENT:
                out[k] = project(v, sub)
        return out
    if t is list and len(paths) == 1 and EVERY in paths:
        return [project(v, paths[EVERY]) for v in value]
    return value


MAX_REMEMBERED_BYTES = 64 * 1024 * 1024  # input text of the answers kept in one process


class Inputs:
    """The input text one policy set is given per target, and the answers
    already found for equal texts.

    An answer is kept under the exact input text regopy was given, so it is
    the answer for any target whose projection is that text: the projection
    is all the policies can read (:func:`analyse`), and a pure policy set
    answers equal inputs equally.  Answers are kept only when the input is
    projected (a whole input holds the target's name: no two are equal) and
    within :data:`MAX_REMEMBERED_BYTES` of input text.
    """

    def __init__(self, use: InputUse) -> None:
        self.use = use
        self._answers: dict[str, Any] = {}
        self._quick: dict[bytes, Any] = {}
        self._bytes = 0

    def document(self, doc: dict[str, Any]) -> Any:
        """What the policies are given for the whole input ``doc``."""
        return project(doc, self.use.paths) if self.use.projects else doc

    def recall(self, text: str) -> Any:
        """The answer kept for ``text``, or None."""
        return self._answers.get(text) if self.use.projects else None

    def remember(self, text: str, answer: Any) -> None:
        """Keep ``answer`` (not None) for ``text`` while the bound allows."""
        if self.use.projects and self._bytes + len(text) <= MAX_REMEMBERED_BYTES:
            self._answers[text] = answer
            self._bytes += len(text)

    def quick_key(self, projected: Any) -> bytes | None:
        """The orjson text of a projected input when it names exactly one
        ``json.dumps`` text (the one regopy is given), else None.

        Both write the same JSON value tree (dict order kept, tuples as
        arrays), each injectively, except where orjson writes what the other
        would not: NaN and infinities as ``null`` (so any ``null`` declines),
        and types it writes natively (dataclasses, datetimes, subclasses of
        the plain types: passed through, so they decline).  A key orjson
        refuses (not a string, an integer beyond 64 bits) declines too.
        orjson also writes enums and UUIDs natively (no passthrough option
        exists for them), where ``json.dumps`` would refuse them: compiled
        values never hold either (they are built from YAML and JSON: str,
        int, float, bool, None, dicts, lists, tuples and secret references).
        About a tenth of ``json.dumps``' time: an input already answered
        is recalled without writing its text (:meth:`quick_recall`).
        """
        if not self.use.projects:
            return None
        try:
            data = orjson.dumps(projected, option=_PASS)
        except TypeError:
            return None
        return None if b"null" in data else data

    def quick_recall(self, key: bytes) -> Any:
        """The answer kept under a :meth:`quick_key`, or None."""
        return self._quick.get(key)

    def quick_remember(self, key: bytes, answer: Any) -> None:
        """Keep ``answer`` under a :meth:`quick_key` (within the same bound as :meth:`remember`)."""
        if self._bytes + len(key) <= MAX_REMEMBERED_BYTES:
            self._quick[key] = answer
            self._bytes += len(key)


_PASS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
