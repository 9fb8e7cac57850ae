"""YAML comments in secrets trees, stored as sops stores them.

sops keeps a comment as an entry of the collection that holds it: in a list, as
an item (written encrypted as ``- ENC[...,type:comment]``); in a mapping, as a
key without value (written as a ``#ENC[...]`` comment line).  cfgc does the same:
a :class:`~cfgc.secrets.cipher.Comment` is a list item or a mapping key (mapped
to None).  Comments are encrypted but never part of the MAC.

Code outside the file-format layer sees comment-free trees (:func:`strip`);
:func:`graft` puts the comments of the file back around a changed tree, so
``set``/``updatekeys``/``rotate`` keep them.
"""

from __future__ import annotations

from typing import Any

from cfgc.secrets.cipher import Comment


def strip(node: Any) -> Any:
    """``node`` without comments (a new tree; leaves shared)."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if not isinstance(k, Comment)}
    if isinstance(node, list):
        return [strip(v) for v in node if not isinstance(v, Comment)]
    return node


def has_comments(node: object) -> bool:
    if isinstance(node, dict):
        return any(isinstance(k, Comment) or has_comments(v) for k, v in node.items())
    if isinstance(node, list):
        return any(isinstance(v, Comment) or has_comments(v) for v in node)
    return False


def texts(node: Any) -> list[str]:
    """Every comment's text, in document order (to tell whether comments changed)."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend([k.value] if isinstance(k, Comment) else texts(v))
    elif isinstance(node, list):
        for v in node:
            out.extend([v.value] if isinstance(v, Comment) else texts(v))
    return out


def graft(new: Any, old: Any) -> Any:
    """``new`` (comment-free) with the comments of ``old`` (its previous version).

    A mapping comment stays before the key it preceded (at the end when that key
    is gone); a list comment stays before the item at the same index.
    """
    if isinstance(new, dict) and isinstance(old, dict):
        out: dict[Any, Any] = {}
        pending: list[Comment] = []
        for k, v in old.items():
            if isinstance(k, Comment):
                pending.append(k)
            elif k in new:
                for c in pending:
                    out[c] = None
                pending = []
                out[k] = graft(new[k], v)
        for k, v in new.items():
            if k not in out:
                out[k] = v
        for c in pending:
            out[c] = None
        # keep the new key order, comments attached to the key that follows them
        ordered: dict[Any, Any] = {}
        before: dict[str, list[Comment]] = {}
        trailing: list[Comment] = []
        for k in out:
            if isinstance(k, Comment):
                trailing.append(k)
            else:
                before[k], trailing = trailing, []
        for k in new:
            for c in before.get(k, []):
                ordered[c] = None
            ordered[k] = out[k]
        for c in trailing:
            ordered[c] = None
        return ordered
    if isinstance(new, list) and isinstance(old, list):
        items = [v for v in old if not isinstance(v, Comment)]
        result: list[Any] = []
        i = 0
        for v in old:
            if isinstance(v, Comment):
                result.append(v)
                continue
            if i < len(new):
                result.append(graft(new[i], items[i]))
            i += 1
        result.extend(new[i:])
        return result
    return new
