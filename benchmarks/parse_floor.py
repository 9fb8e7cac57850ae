#!/usr/bin/env python3
"""The floor: parse every YAML file of a repo once with the libyaml loader, nothing else.

    parse_floor.py REPO                     # cfgc's own tags taken as the values they mark
    parse_floor.py --parser yaml-rs REPO    # the parser of cfgc's fast path (cfgc/base/yaml_fast.py)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import yaml


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader that also takes cfgc's own tags (`!replace`,
    `!prompt`, ...) as the plain value they mark, so the full corpus has a
    floor too. Untagged files cost exactly what the plain safe loader costs."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


Loader.add_multi_constructor("!", _untagged)


def _parser(name: str) -> Callable[[bytes], Any]:
    if name == "yaml-rs":
        import yaml_rs

        return lambda raw: yaml_rs.loads(raw.decode("utf-8-sig"), parse_datetime=False)
    return lambda raw: yaml.load(raw, Loader=Loader)


def main(repo: str, parser: str = "libyaml") -> int:
    parse = _parser(parser)
    n = 0
    for dirpath, _dirs, files in os.walk(repo):
        for name in files:
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(dirpath, name), "rb") as f:
                    parse(f.read())
                n += 1
    print(f"{n} files parsed ({parser})")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parser", choices=["libyaml", "yaml-rs"], default="libyaml")
    ap.add_argument("repo")
    args = ap.parse_args()
    sys.exit(main(args.repo, args.parser))
