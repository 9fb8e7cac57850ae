"""Finding and creating config repos, and the git history of one value."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Traversable

    from cfgc.review.history import HistoryEntry

PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class InitResult:
    """The config repo :func:`cfgc.init_repo` created."""

    directory: Path
    files: tuple[str, ...]  # relative paths, sorted


def find_repo(start: PathArg | None = None) -> Path:
    """The config repo holding ``start`` (default: the working directory): the nearest parent with cfgc.yaml.

    Raises :class:`~cfgc.base.errors.UsageError` when there is none.
    """
    from cfgc.repo.sources import find_repo_root

    return find_repo_root(None if start is None else Path(start))


def repos_below(directory: PathArg) -> tuple[Path, ...]:
    """The config repos one level below ``directory`` (its subdirectories holding cfgc.yaml), sorted."""
    from cfgc.repo.sources import CONFIG_FILE

    return tuple(sorted(p.parent for p in Path(directory).glob("*/" + CONFIG_FILE)))


def repo_roots(files: Iterable[PathArg]) -> tuple[Path, ...]:
    """The distinct config repos ``files`` belong to, sorted; files outside any config repo are ignored."""
    from cfgc.repo.changed_roots import config_roots

    return tuple(config_roots(Path(f) for f in files))


def init_repo(directory: PathArg = ".") -> InitResult:
    """Write the scaffold config repo (one tenant, two environments, a service, a prompt, a schema).

    Raises :class:`~cfgc.base.errors.UsageError`, writing nothing, when
    ``directory`` already holds a cfgc.yaml or any file of the scaffold.
    """
    from importlib import resources

    from cfgc.base.errors import UsageError
    from cfgc.repo.sources import CONFIG_FILE

    root = Path(directory)
    if (root / CONFIG_FILE).exists():
        raise UsageError(f"{root / CONFIG_FILE} already exists; not overwriting it")
    files = _walk(resources.files("cfgc").joinpath("data/init"))
    clashes = [rel for rel, _ in files if (root / rel).exists()]
    if clashes:
        raise UsageError(f"{root} already has {', '.join(clashes[:3])}; not overwriting")
    for rel, data in files:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return InitResult(root, tuple(rel for rel, _ in files))


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out.extend(_walk(child, rel + "/"))
        elif child.name != "__pycache__":
            out.append((rel, child.read_bytes()))
    return out


def value_history(repo: PathArg | None, target: str, path: str, *, max_count: int = 20) -> tuple[HistoryEntry, ...]:
    """The commits that changed ``target``'s resolved value at dotted ``path``, newest first (``cfgc history``).

    Committed history only.  ``HistoryEntry``: ``commit``, ``author``,
    ``date``, ``subject``, ``before``, ``after`` (redacted; absent or
    not-compiling sides are the markers :mod:`cfgc.api.render` tests for),
    ``secret``.
    """
    from cfgc.compile.merging import parse_dotted
    from cfgc.review.history import value_history as history

    root = Path(repo).resolve() if repo is not None else find_repo()
    return tuple(history(root, target, parse_dotted(path), max_count))
