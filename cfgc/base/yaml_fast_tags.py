"""cfgc's merge tags on the fast path: rewritten into the key, restored after parsing.

yaml-rs drops tags, so a tagged file used to take the careful (libyaml) path
whole; in a real repo that is most service files (``fallbacks: !append [x]``,
``system: !prompt chat@^1.0``), and composing them in Python was the largest
single cost of compiling such a target.  One form of tag is common and
simple: a cfgc tag on the value of a plain block-mapping key, written
``key: !tag`` at the start of a line.  :func:`rewrite_tags` moves each such
tag into its key as its index in the list of tags (``key~cfgc-tag~0: [x]``;
the list holds each tag's name, line, column and key), yaml-rs parses the
result, and :func:`untag` turns each marked key back into its key and the
tagged value into the object the careful loader builds (:mod:`cfgc.base.yaml_tags`).

Anything else declines (both functions return None), and the careful loader decides:
a ``!`` anywhere else (left in the text, :mod:`cfgc.base.yaml_fast` refuses
it), a key the core schema does not read as a string, a value of the wrong
kind for its tag (``!append`` of a mapping, ``!prompt`` of a number, a
``!delete`` with a value), a ``!prompt`` reference that does not parse, a
marked key that is not found back as a key, whole and once (the line sat
inside a multi-line string) and a marked key that collides with another key of its mapping (a
duplicate).  A ``!prompt`` reference carries the location the careful loader
gives it: the line and column of its tag.
tests/unit/base/test_yaml_fast_differential.py holds both paths to the same
values, errors and locations, over hand-written and generated tagged files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cfgc.base.tags import DELETE, Append, Prepend, Replace, prompt_ref

Tag = tuple[int, int, str, str]
"""A moved tag: line (of a ``!prompt``; 0 for the others, which carry no location), column
(1-based, of the "!"), tag name, and the key it was moved into."""

MARK = "~cfgc-tag~"
_LINE = re.compile(
    r"^( *)([A-Za-z_][A-Za-z0-9_-]*): !(append|prepend|replace|delete|prompt)(?=$| )(.*)$", re.MULTILINE
)
# The longest index a marked key may end in (the index of a tag in its file's list):
# a file within cfgc.base.limits.MAX_FILE_BYTES (64 MiB) holds fewer than 10**8
# tag lines ("a: !delete" and its newline is the shortest).  Longer digit runs are
# declined before int() sees them (Python refuses to parse over 4,300 digits).
_INDEX_DIGITS = 9
_EMPTY_REST = re.compile(r" *| +#.*")
# Plain keys the YAML 1.2 core schema reads as null or a boolean (refused as keys).
_NOT_STRINGS = frozenset(["null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"])


def rewrite_tags(text: str) -> tuple[str, list[Tag]] | None:
    """``text`` with each ``key: !tag`` line's tag moved into its key, or None to decline."""
    if MARK in text:
        return None
    tags: list[Tag] = []
    out: list[str] = []
    last = 0
    line, counted = 1, 0  # lines counted up to ``counted``: linear in the text, however many tags
    for m in _tag_lines(text):
        indent, key, tag, rest = m.groups()
        if key in _NOT_STRINGS:
            return None
        if tag == "delete" and not (_EMPTY_REST.fullmatch(rest) and _ends_here(text, m.end(), len(indent))):
            return None
        if tag == "prompt":  # the one tag whose value carries its location
            line += text.count("\n", counted, m.start())
            counted = m.start()
        col = len(indent) + len(key) + 3
        # Only the index goes into the key: the rest is looked up when the key
        # is found back (no number to parse, no pattern to match per tag).
        index = len(tags)
        tags.append((line if tag == "prompt" else 0, col, tag, key))
        # A !delete's empty value is written '' for yaml-rs: a scalar that
        # would continue it ("Null" on the next line of a flow collection,
        # which the careful loader refuses) is then a syntax error, not null.
        value = " ''" + rest if tag == "delete" else rest
        out += (text[last : m.start()], f"{indent}{key}{MARK}{index}:{value}")
        last = m.end()
    if not tags:
        return text, tags
    out.append(text[last:])
    return "".join(out), tags


def _tag_lines(text: str) -> Iterator[re.Match[str]]:
    """``_LINE.finditer(text)``, found from each ``": !"`` instead of trying every position.

    A line ``_LINE`` matches holds ``": !"`` right after its key (spaces and
    key characters before it, so no earlier one on that line), and ``^``
    matches at a line start however the match is started: matching from the
    start of each line that holds ``": !"`` gives the same matches in the
    same order, at the cost of the few such lines instead of the whole text
    (tests/unit/base/test_yaml_fast_scan.py holds the two to the same matches).
    Each line is tried once, so a line of many ``": !"`` costs linear time.
    """
    at = text.find(": !")
    while at != -1:
        m = _LINE.match(text, text.rfind("\n", 0, at) + 1)
        if m is not None:
            yield m
            at = text.find(": !", m.end())
        else:  # no later ": !" on this line can match either (same line start): next line
            nl = text.find("\n", at)
            at = -1 if nl == -1 else text.find(": !", nl)


def _ends_here(text: str, end: int, indent: int) -> bool:
    """Whether the value after ``key: !delete`` is empty: the next line that
    is neither blank nor a comment is not indented deeper than the key."""
    # Line by line from ``end``, never copying the rest of the file: the next
    # content line is where the scan stops, so all of a file's tags cost one pass.
    start = text.find("\n", end)
    while start != -1:
        stop = text.find("\n", start + 1)
        line = text[start + 1 : stop if stop != -1 else len(text)]
        body = line.lstrip(" ")
        if body and not body.startswith("#"):
            return len(line) - len(body) <= indent
        start = stop
    return True


class _Decline(Exception):
    """The careful loader must decide."""


Marked = tuple[dict[str, Any], tuple[str | int, ...]]
"""A mapping of yaml-rs's value with a marked key, and its key path from the root."""


def untag(value: Any, tags: list[Tag], path: str, marked: list[Marked]) -> Any:
    """``value`` (parsed from rewritten text) with its marked keys restored and
    their values tagged, or None to decline (a restored value is a mapping or
    a list; None, not :mod:`cfgc.base.yaml_fast`'s ``MISS``: importing that here
    cost every tagged file 0.45 µs).

    ``marked`` lists every mapping of ``value`` with a key that holds
    :data:`MARK`, each with its key path, parents before children (the walk
    that checked the value found them): only those are rebuilt, not the whole
    value walked again.
    """
    if type(value) is not dict and type(value) is not list:
        # A scalar document: its tag-like line sat inside a quoted string.
        return None
    seen: set[int] = set()
    # yaml-rs's value is ours: children first (the list reversed), each
    # rebuilt mapping is set in place of the old one in its parent, which is
    # found by its key path (its own marked key, if any, not restored yet).
    try:
        for node, at in reversed(marked):
            new = _restored(node, path, seen, tags)
            if not at:
                value = new
                continue
            parent: Any = value
            for k in at[:-1]:
                parent = parent[k]
            parent[at[-1]] = new  # same key: the order stays
    except _Decline:
        return None
    return value if len(seen) == len(tags) else None


def _restored(node: dict[str, Any], path: str, seen: set[int], tags: list[Tag]) -> dict[str, Any]:
    """A copy of ``node`` with its marked keys restored and their values tagged."""
    out: dict[str, Any] = {}
    for k, v in node.items():
        if MARK in k:
            key, _, at = k.rpartition(MARK)
            # The key must be exactly one that rewrite_tags wrote: the key of
            # the tag its index names, then the index.  A mark that ended up
            # inside a longer key (a multi-line quoted one) fails either test.
            i = int(at) if len(at) <= _INDEX_DIGITS and at.isascii() and at.isdigit() else -1
            if not 0 <= i < len(tags) or i in seen or tags[i][3] != key:
                raise _Decline
            seen.add(i)
            line, col, tag, k = tags[i]
            v = _tagged(tag, v, path, line, col)
        if k in out:
            raise _Decline  # a duplicate key: the careful loader names both places
        out[k] = v
    return out


def _tagged(tag: str, value: Any, path: str, line: int, col: int) -> Any:
    """What the careful loader builds for ``value`` under ``tag`` (:mod:`cfgc.base.yaml_tags`);
    only a ``!prompt`` reference carries its location (made for it alone)."""
    if tag in ("append", "prepend"):
        if type(value) is not list:
            raise _Decline
        return Append(tuple(value)) if tag == "append" else Prepend(tuple(value))
    if tag == "replace":
        if type(value) is not dict and type(value) is not list:
            raise _Decline
        return Replace(value)
    if tag == "delete":
        if value != "":
            raise _Decline
        return DELETE
    if type(value) is not str:
        raise _Decline
    ref = prompt_ref(value, path, line, col)
    if ref is None:
        raise _Decline
    return ref
