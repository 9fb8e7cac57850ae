"""Build a secrets tree from PyYAML nodes, with comments placed as sops places them.

sops (yaml.v3) turns each comment into an entry of the collection that holds
it, before the entry it precedes or ends the line of: ``- a # primary`` becomes
``[Comment(" primary"), "a"]``.  PyYAML drops comments, so they are found in
the text (a ``#`` after a blank, outside every scalar's span) and placed with
the node marks: a full-line comment belongs to the open collection whose
entries start at its column; a comment ending a line goes before the innermost
entry starting on that line.  Limits: comments inside flow collections
(``[a, b]``) are attached to the nearest block collection.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import yaml

from cfgc.base.errors import InputError
from cfgc.base.loading import MAX_EXPANDED_NODES
from cfgc.secrets.cipher import Comment

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class _Coll:
    node: Any
    before: dict[int, list[Comment]] = field(default_factory=dict)
    after: list[Comment] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    line: int
    col: int
    coll: int
    idx: int


def _err(node: Any, msg: str) -> InputError:
    return InputError(f"line {node.start_mark.line + 1}: {msg}")


class _Index:
    """Collections, their entries and the spans of every scalar."""

    def __init__(self, root: Any, text: str) -> None:
        self.text = text
        self.built = 0  # nodes built so far, aliased ones counted at every use
        self.colls: list[_Coll] = []
        self.by_node: dict[int, int] = {}
        self.entries: list[_Entry] = []
        self.spans: list[tuple[int, int]] = []
        self._visit(root, set())
        self.entries.sort(key=lambda e: (e.line, e.col))
        self.spans.sort()
        self._starts = [s for s, _ in self.spans]

    def _visit(self, node: Any, stack: set[int]) -> None:
        if id(node) in stack:
            raise _err(node, "recursive YAML alias")
        if isinstance(node, yaml.ScalarNode):
            self.spans.append((node.start_mark.index, node.end_mark.index))
            return
        if id(node) in self.by_node:
            return  # an alias of a collection already indexed
        ci = len(self.colls)
        self.colls.append(_Coll(node))
        self.by_node[id(node)] = ci
        stack = stack | {id(node)}
        block = not node.flow_style
        if isinstance(node, yaml.MappingNode):
            for i, (k, v) in enumerate(node.value):
                if block:
                    self.entries.append(_Entry(k.start_mark.line, k.start_mark.column, ci, i))
                self._visit(k, stack)
                self._visit(v, stack)
        else:
            for i, v in enumerate(node.value):
                if block:
                    line, col = self._dash(v)
                    self.entries.append(_Entry(line, col, ci, i))
                self._visit(v, stack)

    def _dash(self, item: Any) -> tuple[int, int]:
        """Line and column of the ``-`` that starts a block sequence item."""
        i = item.start_mark.index - 1
        while i >= 0 and self.text[i] in " \t\r\n":
            i -= 1
        line_start = self.text.rfind("\n", 0, max(i, 0)) + 1
        if i >= 0 and self.text[i] == "-":
            return self.text.count("\n", 0, i), i - line_start
        return item.start_mark.line, item.start_mark.column

    def in_scalar(self, pos: int) -> bool:
        j = bisect.bisect_right(self._starts, pos) - 1
        while j >= 0:
            s, e = self.spans[j]
            if s <= pos < e:
                return True
            if e <= pos and s < pos - 100_000:
                return False
            j -= 1
        return False

    def place(self, line: int, col: int, trailing: bool, c: Comment) -> None:
        if trailing:
            on_line = [e for e in self.entries if e.line == line]
            if on_line:
                e = max(on_line, key=lambda e: e.col)
                self.colls[e.coll].before.setdefault(e.idx, []).append(c)
                return
        prev = [e for e in self.entries if e.line < line and e.col == col]
        if prev and not any(prev[-1].line < e.line < line and e.col < col for e in self.entries):
            owner = prev[-1].coll
            nxt = [e for e in self.entries if e.coll == owner and e.line > line]
            self._before(owner, nxt[0].idx if nxt else None, c)
            return
        later = [e for e in self.entries if e.line > line]
        same = [e for e in later if e.col == col]
        if same and not any(e.line < same[0].line and e.col < col for e in later):
            self._before(same[0].coll, same[0].idx, c)
        elif later:
            self._before(later[0].coll, later[0].idx, c)
        else:
            self._before(0, None, c)

    def _before(self, coll: int, idx: int | None, c: Comment) -> None:
        if idx is None:
            self.colls[coll].after.append(c)
        else:
            self.colls[coll].before.setdefault(idx, []).append(c)


def _comments(ix: _Index) -> None:
    pos = 0
    for n, line in enumerate(ix.text.split("\n")):
        at = line.find("#")
        while at >= 0:
            if (at == 0 or line[at - 1] in " \t") and not ix.in_scalar(pos + at):
                trailing = line[:at].strip() != ""
                ix.place(n, at, trailing, Comment(line[at + 1 :].rstrip()))
                break
            at = line.find("#", at + 1)
        pos += len(line) + 1


def build(loader: Any, root: Any, text: str) -> Any:
    """The value of ``root`` (a composed node), comments included as entries."""
    ix = _Index(root, text)
    if ix.colls and isinstance(root, yaml.MappingNode | yaml.SequenceNode):
        _comments(ix)
    return _value(loader, root, ix)


def _value(loader: Any, node: Any, ix: _Index) -> Any:
    # A secrets file comes from a pull request like any layer: aliases are
    # expanded into copies here, so their expansion is bounded as in layers.
    ix.built += 1
    if ix.built > MAX_EXPANDED_NODES:
        raise _err(node, f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (alias bomb?)")
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_object(node, deep=True)
        if isinstance(v, int) and not isinstance(v, bool) and not INT64_MIN <= v <= INT64_MAX:
            raise _err(
                node, "integer outside the 64-bit range: sops cannot read it back (quote it)"
            )
        return v
    coll = ix.colls[ix.by_node[id(node)]]
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for i, v in enumerate(node.value):
            items.extend(coll.before.get(i, []))
            items.append(_value(loader, v, ix))
        return items + coll.after
    out: dict[Any, Any] = {}
    for i, (k, v) in enumerate(node.value):
        if k.tag == MERGE_TAG or (
            isinstance(k, yaml.ScalarNode) and k.value == "<<" and not k.style
        ):
            raise _err(
                k, "YAML merge keys ('<<') are not supported in secrets files: write the values out"
            )
        key = _value(loader, k, ix) if isinstance(k, yaml.ScalarNode) else None
        if not isinstance(key, str):
            raise _err(k, "only string keys are supported")
        if key in out:
            raise _err(k, f"duplicate key {key!r}")
        for c in coll.before.get(i, []):
            out[c] = None
        out[key] = _value(loader, v, ix)
    for c in coll.after:
        out[c] = None
    return out
