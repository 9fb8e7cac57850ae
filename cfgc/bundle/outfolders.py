"""The folder check of an in-place build: which entries each repo folder held when it was listed.

A folder whose stat moved since the listing (a file saved by rename, cfgc's
own writes when ``OUT`` is inside the repo) is listed again, alone, and its
entries compared with :func:`folder_digest` of what the full build saw
(:mod:`cfgc.bundle.incremental`), instead of walking the whole repo.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def own_names(out: Path) -> frozenset[str]:
    """What cfgc keeps beside ``OUT`` only while a build holds its lock: its lock file and commit folder.

    Left out of the entries of ``OUT``'s parent folder: a build lists the repo
    before it takes the lock, an in-place build under it.  A layer may never be
    one of them (:func:`cfgc.bundle.stage.refuse_own_files`).
    """
    return frozenset((f".{out.name}.lock", f".{out.name}.commit", f".{out.name}.commit/"))


def folder_digest(names: list[str], ignore: frozenset[str] = frozenset()) -> str:
    """Digest of one folder's entries (:func:`cfgc.repo.sources.folder_entries`), ``ignore`` left out."""
    kept = sorted(n for n in names if n not in ignore)
    return hashlib.sha256("\0".join(kept).encode("utf-8", "surrogateescape")).hexdigest()


def listed_entries(files: list[str], folders: list[str], out: Path, root: Path) -> dict[str, str]:
    """Each listed folder's :func:`folder_digest`, from a repo listing (``files``) and its folders."""
    children: dict[str, list[str]] = {rel: [] for rel in folders}
    for f in files:
        parent, _, name = f.rpartition("/")
        children.setdefault(parent + "/" if parent else "", []).append(name)
    for rel in folders:
        if rel:
            parent, _, name = rel[:-1].rpartition("/")
            children.setdefault(parent + "/" if parent else "", []).append(name + "/")
    beside = out_parent(out, root)
    own = own_names(out)
    return {rel: folder_digest(names, own if rel == beside else frozenset()) for rel, names in children.items()}


def out_parent(out: Path, root: Path) -> str | None:
    """The repo folder (``a/b/``, ``""`` the root) that holds ``OUT``, or None when it is outside the repo."""
    rel = os.path.relpath(out.parent, root).replace(os.sep, "/")
    if rel == ".":
        return ""
    return None if rel == ".." or rel.startswith("../") else rel + "/"
