"""Which config repos a list of changed files belongs to (for pre-commit).

pre-commit runs hooks at the root of the git work tree and passes the changed
files; a config repo is often a subfolder (``config/cfgc.yaml``).  Each file
belongs to the nearest directory above it that holds cfgc.yaml.  The walk
stops at the git work tree's top (a directory holding ``.git``) so a
cfgc.yaml outside the repository is never picked up.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cfgc.repo.sources import CONFIG_FILE


def config_root(file: Path) -> Path | None:
    """The nearest directory at or above ``file`` holding cfgc.yaml, inside
    the git work tree; None when there is none."""
    here = file.resolve()
    for d in (here, *here.parents) if here.is_dir() else here.parents:
        if (d / CONFIG_FILE).is_file():
            return d
        if (d / ".git").exists():
            return None
    return None


def config_roots(files: Iterable[Path]) -> list[Path]:
    """The distinct config repos the files belong to, sorted; files outside
    any config repo (a README, another tool's YAML) are ignored."""
    return sorted({r for f in files if (r := config_root(f)) is not None})
