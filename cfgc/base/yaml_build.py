"""Building values (and, on request, source marks) from a composed node tree.

One walk over the tree: plain scalars by the core schema (:mod:`cfgc.base.yaml_core`),
tags by :mod:`cfgc.base.yaml_tags`, and every mapping key through the same checks
(scalar, not null, not a merge key, not a duplicate), with marks or without.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from cfgc.base.errors import InputError
from cfgc.base.paths import Path
from cfgc.base.yaml_alias import alias_bomb
from cfgc.base.yaml_compose import MAP, PLAIN_TAG, SEQ, STD, STR, location
from cfgc.base.yaml_core import NULLS, NumberError, resolve_plain
from cfgc.base.yaml_read import MAX_DEPTH
from cfgc.base.yaml_tags import tagged_collection, tagged_scalar

Mark = tuple[int, int]  # 1-based line, column
_MERGE = STD + "merge"
# Plain keys the key checks must look at: null, or the merge key.
_ODD_PLAIN_KEYS = NULLS | {"<<"}
_ANCHOR = re.compile(r"&\S+\s+")
_BARE_BANG = re.compile(r"![ \t\r\n]|!\Z")


class Duplicate(Exception):
    """A duplicate key met while not tracking marks (the caller loads again with marks)."""


class Builder:
    """Builds the value of one document; with ``track``, also the mark of every key path."""

    def __init__(self, path: str, text: str, track: bool = True) -> None:
        self.path = path
        # libyaml reports ``! 12`` (the non-specific tag) as an untagged plain
        # scalar; only the source text tells them apart, so it is kept when a
        # "!" could be such a tag: one before a blank, a line break or the end.
        self.text = text if _BARE_BANG.search(text) else ""
        self._line_starts: list[int] | None = None
        self.has_anchors = "&" in text
        self.marks: dict[Path, Mark] = {(): (1, 1)}
        self.track = track

    def build(self, root: yaml.Node) -> Any:
        """The value of ``root``, after the alias bounds are checked."""
        if self.has_anchors:
            bomb = alias_bomb(root)
            if bomb is not None:
                raise InputError(bomb[0], location(self.path, bomb[1]))
        return self._value(root, (), 0)

    def non_specific(self, node: yaml.Node) -> bool:
        """Whether a plain scalar carries the non-specific tag ``!`` (YAML 1.2:
        it is then a string, never a number, boolean or null)."""
        if not self.text:
            return False
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        m = node.start_mark
        if m.line >= len(self._line_starts):
            return False
        pos = self._line_starts[m.line] + m.column
        text = self.text
        if text.startswith("&", pos):  # an anchor may come before the tag
            anchor = _ANCHOR.match(text, pos)
            pos = anchor.end() if anchor else pos
        return text.startswith("!", pos) and text[pos + 1 : pos + 2] in (" ", "\t", "\n", "\r", "")

    def _plain(self, node: yaml.Node) -> Any:
        """A plain scalar by the core schema, or a string under ``!``."""
        if self.text and self.non_specific(node):
            return node.value
        try:
            return resolve_plain(node.value)
        except NumberError as e:
            raise InputError(str(e), location(self.path, node)) from None

    def _value(self, node: yaml.Node, path: Path, depth: int) -> Any:
        tag = node.tag
        if tag == PLAIN_TAG:
            return self._plain(node)
        if isinstance(node, yaml.ScalarNode):
            return node.value if tag == STR else tagged_scalar(node, self.path)
        # ``depth`` collections enclose this one: the same count, and the same node
        # reported, as the nesting guard's event scan (yaml_read).
        if depth >= MAX_DEPTH:
            raise InputError(f"nesting deeper than {MAX_DEPTH} levels", location(self.path, node))
        # No cycle reaches here: alias_bomb refused it (a file with an alias has an "&").
        if isinstance(node, yaml.SequenceNode):
            value: Any = self._seq(node, path, depth + 1)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = self._map(node, path, depth + 1)
        if tag in (MAP, SEQ):
            if (tag == SEQ) != isinstance(node, yaml.SequenceNode):
                raise InputError(f"tag {tag.replace(STD, '!!')} does not fit this node", location(self.path, node))
            return value
        return tagged_collection(tag, value, node, self.path)

    def _seq(self, node: yaml.SequenceNode, path: Path, depth: int) -> list[Any]:
        value = self._value
        if not self.track:
            return [value(child, path, depth) for child in node.value]
        out = []
        marks = self.marks
        for i, child in enumerate(node.value):
            p = (*path, i)
            m = child.start_mark
            marks[p] = (m.line + 1, m.column + 1)
            out.append(value(child, p, depth))
        return out

    def _map(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        value = self._value
        plain = self._plain
        track = self.track
        marks = self.marks
        for knode, vnode in node.value:
            k = knode.value
            tag = knode.tag
            # The usual key passes every check at once; any other goes through them one by one.
            if not (tag == PLAIN_TAG and k not in _ODD_PLAIN_KEYS or tag == STR and type(knode) is yaml.ScalarNode) \
                    or k in out:
                k = self._key(knode, out, path)
            p = path
            if track:
                p = (*path, k)
                m = knode.start_mark
                marks[p] = (m.line + 1, m.column + 1)
            # Scalar values are built here rather than through _value: a call per scalar is a tenth of the walk.
            vtag = vnode.tag
            if vtag == PLAIN_TAG:
                out[k] = plain(vnode)
            elif vtag == STR and type(vnode) is yaml.ScalarNode:
                out[k] = vnode.value
            else:
                out[k] = value(vnode, p, depth)
        return out

    def _key(self, knode: yaml.Node, out: dict[str, Any], path: Path) -> str:
        """The key ``knode`` stands for, or the error for a key cfgc refuses."""
        if not isinstance(knode, yaml.ScalarNode):
            raise InputError("mapping keys must be scalars", location(self.path, knode))
        k: str = knode.value
        plain = knode.tag == PLAIN_TAG
        if knode.tag == _MERGE or (plain and k == "<<"):
            raise InputError("YAML merge keys (<<) are not supported; use $extends or layers", location(self.path, knode))
        if plain and k in NULLS and not self.non_specific(knode):
            raise InputError("mapping key is null", location(self.path, knode))
        if k in out:
            if not self.track:
                raise Duplicate()
            first = self.marks[(*path, k)]
            raise InputError(f"duplicate key {k!r} (first defined at line {first[0]})", location(self.path, knode))
        return k
