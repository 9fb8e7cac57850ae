"""Composing a node tree with libyaml, every untagged plain scalar left for cfgc to resolve.

PyYAML's resolver would apply YAML 1.1 (``yes`` is true, ``010`` is octal);
cfgc resolves by the YAML 1.2 core schema itself (:mod:`cfgc.base.yaml_core`),
so the resolver here only marks plain scalars with :data:`PLAIN_TAG`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import yaml

from cfgc.base.errors import Location
from cfgc.base.yaml_read import diagnose

PLAIN_TAG = "tag:cfgc,2024:plain"
STD = "tag:yaml.org,2002:"
STR = STD + "str"
SEQ = STD + "seq"
MAP = STD + "map"


class _Resolver(yaml.resolver.BaseResolver):
    """Tags every untagged plain scalar as PLAIN; we resolve YAML 1.2 ourselves."""

    yaml_implicit_resolvers = {None: [(PLAIN_TAG, re.compile(r".*", re.DOTALL))]}
    yaml_path_resolvers: dict[Any, Any] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None  # no path resolvers: skip PyYAML's bookkeeping per node

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # Called by the C parser for every untagged node: keep it trivial.
        if kind is yaml.ScalarNode:
            return PLAIN_TAG if implicit[0] else STR
        return SEQ if kind is yaml.SequenceNode else MAP


class _NodeLoader(Protocol):
    """What :func:`compose` needs of a loader: libyaml's or PyYAML's."""

    def get_single_node(self) -> yaml.Node | None: ...

    def dispose(self) -> None: ...


class _PyLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver):
    """The loader where PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


Loader: Callable[[str], _NodeLoader] = _PyLoader
try:
    # libyaml's parser, which the yaml package does not re-export (yaml.CParser
    # does not exist): without it loading is several times slower.
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass
else:

    class _CLoader(_CParser, _Resolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _Resolver.__init__(self)

    Loader = _CLoader


def compose(text: str, path: str) -> yaml.Node | None:
    """The node tree of the single document ``text`` (None when it is empty).

    Any refusal by the parser is reworded by :func:`~cfgc.base.yaml_read.diagnose`.
    """
    loader = Loader(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError as e:
        raise diagnose(text, path, e) from None
    finally:
        loader.dispose()


def location(path: str, node: yaml.Node) -> Location:
    """Where ``node`` starts (libyaml's marks are 0-based)."""
    m = node.start_mark
    return Location(path, m.line + 1, m.column + 1)
