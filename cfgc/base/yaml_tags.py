"""What a tagged node means: cfgc's merge tags, YAML's explicit scalar and collection tags.

Everything else (``!!timestamp``, ``!!binary``, a typo such as ``!apend``) is
refused with the list of tags cfgc knows, rather than read as plain text.
"""

from __future__ import annotations

from typing import Any

import yaml

from cfgc.base.errors import InputError
from cfgc.base.tags import DELETE, Append, Prepend, PromptRef, Replace
from cfgc.base.yaml_compose import STD, location
from cfgc.base.yaml_core import ScalarError, explicit

# !!str is the builder's: it needs no resolving.
SCALAR_TAGS = frozenset(STD + k for k in ("int", "float", "bool", "null"))
KNOWN_TAGS = ("!replace", "!delete", "!append", "!prepend", "!prompt")


def tagged_scalar(node: yaml.ScalarNode, path: str) -> Any:
    """The value of a scalar with an explicit tag other than ``!!str``."""
    tag = node.tag
    if tag in SCALAR_TAGS:
        try:
            return explicit(tag[len(STD) :], node.value)
        except ScalarError as e:
            raise InputError(str(e), location(path, node)) from None
    if tag == "!delete":
        if node.value not in ("", "~", "null"):
            raise InputError("!delete takes no value", location(path, node))
        return DELETE
    if tag == "!prompt":
        return PromptRef.parse(node.value, location(path, node))
    if tag in ("!append", "!prepend", "!replace"):
        what = "mapping or list" if tag == "!replace" else "list"
        raise InputError(f"{tag} needs a {what}", location(path, node))
    raise unknown(tag, node, path)


def tagged_collection(tag: str, value: Any, node: yaml.Node, path: str) -> Any:
    """``value`` (the built list or dict of ``node``) under ``tag`` (not ``!!seq`` or ``!!map``)."""
    if tag == "!replace":
        return Replace(value)
    if tag in ("!append", "!prepend"):
        if not isinstance(value, list):
            raise InputError(f"{tag} needs a list", location(path, node))
        return Append(tuple(value)) if tag == "!append" else Prepend(tuple(value))
    if tag in ("!delete", "!prompt"):
        raise InputError(f"{tag} needs a scalar", location(path, node))
    raise unknown(tag, node, path)


def unknown(tag: str, node: yaml.Node, path: str) -> InputError:
    """The error for a tag cfgc does not know."""
    shown = tag.replace(STD, "!!")
    return InputError(f"unknown tag {shown} (cfgc knows {', '.join(KNOWN_TAGS)})", location(path, node))
