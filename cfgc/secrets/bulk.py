"""Decrypting many SOPS files at once, on every core.

``updatekeys``/``rotate`` over a repo, or a runtime loading the documents of
many tenants, decrypt hundreds of files; each takes about a millisecond of CPU
in this process, so a fork pool of one worker per core divides the wall time.
Results come back in input order; the first failure is raised as it would be
by :func:`cfgc.secrets.ops.decrypt_file`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Sequence
from typing import Any

from cfgc.base.errors import CfgcError
from cfgc.secrets.keysources import Keyring, default_keyring
from cfgc.secrets.ops import PathLike, decrypt_file

PARALLEL_MIN_FILES = 32
# Set in each forked worker by the pool's initializer, never in the parent.
_worker_keyring: Keyring | None = None


def decrypt_files(
    paths: Sequence[PathLike], keyring: Keyring | None = None, jobs: int | None = None
) -> list[dict[str, Any]]:
    """The plaintext trees of ``paths`` (MAC verified), decrypted on ``jobs`` cores."""
    keyring = keyring if keyring is not None else default_keyring()
    _preload(keyring)
    n = jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    if n <= 1 or len(paths) < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        trees = []
        for p in paths:
            try:
                trees.append(decrypt_file(p, keyring))
            except CfgcError as e:
                raise _named(e, p) from None
        return trees
    with multiprocessing.get_context("fork").Pool(n, initializer=_install, initargs=(keyring,)) as pool:
        results = pool.map(_one, list(paths), chunksize=max(1, len(paths) // (4 * n)))
    out: list[dict[str, Any]] = []
    for r in results:
        if isinstance(r, CfgcError):
            raise r
        out.append(r)
    return out


def _preload(keyring: Keyring) -> None:
    """Load identities once here: SOPS_AGE_KEY_CMD runs once, not per file or worker."""
    preload = getattr(keyring.sources.get("age"), "preload", None)
    if preload is not None:
        with contextlib.suppress(CfgcError):  # reported per file, with its name, by decrypt_file
            preload()


def _install(keyring: Keyring) -> None:
    global _worker_keyring
    _worker_keyring = keyring


def _one(path: PathLike) -> dict[str, Any] | CfgcError:
    try:
        return decrypt_file(path, _worker_keyring)
    except CfgcError as e:  # travels back and is raised in the caller, with its exit code
        return _named(e, path)


def _named(e: CfgcError, path: PathLike) -> CfgcError:
    name = os.fspath(path)
    return e if name in e.message else type(e)(f"{name}: {e.message}", e.location)
