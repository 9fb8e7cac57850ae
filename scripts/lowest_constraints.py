"""Print pip constraints that pin every runtime dependency to its declared lower bound.

    python3 scripts/lowest_constraints.py > lowest.txt
    pip install -c lowest.txt -e ".[test]"

Used by ``bash scripts/test.sh --lowest`` and the scheduled CI job: the lower
bounds in pyproject.toml are promises to users, so the suite runs against them.
Test tools are left to resolve freely (they are not what users install).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lowest(requirements: list[str]) -> list[str]:
    """``name==lower`` for each requirement with a ``>=`` bound."""
    pins = []
    for req in requirements:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", req)
        if not m:
            continue
        bound = re.search(r">=\s*([0-9][^,;\s]*)", m.group(2))
        if bound:
            pins.append(f"{m.group(1)}=={bound.group(1)}")
    return pins


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    print("\n".join(lowest(project["dependencies"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
