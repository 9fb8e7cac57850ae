"""Fail the image build when an installed distribution is not at its requirements/lock.txt version.

    python require_locked.py requirements/lock.txt

The image installs the project's runtime dependencies with the lock as a constraint (so
the test tools in the lock stay out of the image); a constraint does not stop pip from
choosing a version for a dependency the lock lacks. This closes that gap.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

EXEMPT = {"cfgc", "pip", "setuptools", "wheel"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(text: str) -> dict[str, str]:
    """``name==version`` lines of a pip-compile lock, by normalised name."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def unlocked(lock: dict[str, str]) -> list[str]:
    """Installed distributions whose version is not the locked one."""
    bad = []
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        if name not in EXEMPT and lock.get(name) != dist.version:
            bad.append(f"{name}=={dist.version} (lock: {lock.get(name, 'absent')})")
    return sorted(bad)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        problems = unlocked(locked(f.read()))
    for p in problems:
        print(f"not locked: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)
