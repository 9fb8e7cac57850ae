"""The bound on what aliases expand to, checked before any value is built.

A few lines of anchors and aliases can stand for billions of nodes (the
"billion laughs"); every later stage costs the expanded size, not the file's.
"""

from __future__ import annotations

import yaml

# The limits live with the reading stage, which loading imports without PyYAML.
from cfgc.base.yaml_read import MAX_EXPANDED_CHARS as MAX_EXPANDED_CHARS
from cfgc.base.yaml_read import MAX_EXPANDED_NODES as MAX_EXPANDED_NODES

_OVER = (MAX_EXPANDED_NODES + 1, MAX_EXPANDED_CHARS + 1)
_VISITING = (-1, -1)  # in memo while a node's children are counted: meeting it again is a cycle


class _Cycle(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def alias_bomb(root: yaml.Node) -> tuple[str, yaml.Node] | None:
    """What is wrong and the node to report, if ``root`` expands past a limit
    or contains itself (an alias inside its own anchor's collection).

    The node is the innermost collection whose expansion crosses the limit,
    or the collection that contains itself.  No value is built for a tree
    refused here, so the builder never meets a cycle.
    """
    culprit: list[yaml.Node] = []
    try:
        nodes, chars = _expanded_size(root, {}, culprit)
    except _Cycle as cycle:
        return "recursive alias (a collection that contains itself)", cycle.node
    where = culprit[0] if culprit else root
    if nodes > MAX_EXPANDED_NODES:
        return f"aliases expand to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)", where
    if chars > MAX_EXPANDED_CHARS:
        return f"aliases expand to more than {MAX_EXPANDED_CHARS} characters of scalars (alias bomb?)", where
    return None


def _expanded_size(node: yaml.Node, memo: dict[int, tuple[int, int]], culprit: list[yaml.Node]) -> tuple[int, int]:
    """Nodes and scalar characters of ``node`` with aliases expanded, capped just
    over the limits.  Each distinct node is visited once (memoised by identity),
    so this costs the file's size, not the expansion's."""
    key = id(node)
    if key in memo:
        size = memo[key]
        if size is _VISITING:
            raise _Cycle(node)
        return size
    memo[key] = _VISITING
    if isinstance(node, yaml.ScalarNode):
        size = (1, len(node.value))
    else:
        kids = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        nodes, chars = 1, 0
        for child in kids:
            n, c = _expanded_size(child, memo, culprit)
            nodes += n
            chars += c
        size = (min(nodes, _OVER[0]), min(chars, _OVER[1]))
        if not culprit and (size[0] >= _OVER[0] or size[1] >= _OVER[1]):
            culprit.append(node)
    memo[key] = size
    return size
