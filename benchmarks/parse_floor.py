#!/usr/bin/env python3
"""The floor: parse every YAML file of a repo once with the libyaml loader, nothing else.

    parse_floor.py REPO
"""

from __future__ import annotations

import os
import sys

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def main(repo: str) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(repo):
        for name in files:
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(dirpath, name), "rb") as f:
                    yaml.load(f, Loader=Loader)
                n += 1
    print(f"{n} files parsed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
