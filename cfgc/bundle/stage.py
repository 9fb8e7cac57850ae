"""One lock/stage/swap sequence for everything that writes a directory beside ``OUT``.

:func:`staged` holds the lock of ``OUT`` (:mod:`cfgc.bundle.outdir`), opens a
staging directory beside it and yields it; the caller fills it and swaps it in
(:func:`cfgc.bundle.swap.swap_into`).  A failure, or a return without the
swap, removes the staging directory, and an environment failure becomes exit 4
naming ``OUT`` rather than the staging path.  ``cfgc build`` (bundles) and
``cfgc build --shard`` (parts) both use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from cfgc.base.errors import UsageError, environment_error
from cfgc.base.interrupts import deferred, made
from cfgc.bundle.outdir import exclusive
from cfgc.repo.sources import Source


@contextlib.contextmanager
def staged(out: Path, open_staging: Callable[[Path], Path]) -> Iterator[Path]:
    """A staging directory for ``out`` (``open_staging(out)``), under the lock of ``out``."""
    with exclusive(out):
        # Ctrl-C (or SIGTERM) is held back from before the folder exists until the
        # block is entered, and over each removal: no interrupt leaves one behind.
        staging: Path | None = None
        try:
            with made(lambda: open_staging(out), _remove) as staging:
                yield staging
        except BaseException as e:
            if staging is None:  # open_staging failed: nothing to remove, its error as it is
                raise
            env = environment_error(e, as_out(e, staging, out))
            if env is not None:
                raise env from None
            raise
        # Swapped in, it is gone (or holds the previous bundle, already discarded);
        # a build that stopped at findings leaves it here.
        _remove(staging)


def _remove(staging: Path) -> None:
    with deferred():
        shutil.rmtree(staging, ignore_errors=True)


def refuse_own_files(inputs: Iterable[str], source: Source, out: Path, key_files: Sequence[Path]) -> None:
    """A compile that read the output directory or a key file would sign it as an input: refuse."""
    root = getattr(source, "root", None)
    if root is None:
        return
    root = Path(root).resolve()
    # Repo-relative prefixes (string tests: this runs over every layer of a large repo).
    own: dict[str, str] = {}
    for mine, kind in [(out, "in the --out directory"), *((k.resolve(), "the signing key") for k in key_files)]:
        rel = os.path.relpath(mine, root).replace(os.sep, "/")
        if rel != "." and not rel.startswith("../"):
            own[rel] = kind
    # Staging folders, and the lock and commit folder an in-place build's folder check leaves out.
    leftovers = (f".{out.name}.tmp-", f".{out.name}.old-", f".{out.name}.lock", f".{out.name}.commit")
    marker = f"/.{out.name}."
    for path in inputs:
        what: str | None = None
        if own:  # usually empty: --out and the keys lie outside the repo
            what = next((w for rel, w in own.items() if path == rel or path.startswith(rel + "/")), None)
        if what is None and marker in "/" + path and any(
            part.startswith(leftovers) for part in path.split("/")
        ):
            what = "a lock or staging file of a build into --out"
        if what is not None:
            raise UsageError(
                f"{path} is an input of this build but is {what}; keep --out and keys out of what "
                "the hierarchy, schemas and prompts match"
            )


def as_out(e: BaseException, staging: Path, out: Path) -> str | None:
    """The path an OSError names, with the staging directory shown as OUT."""
    name = getattr(e, "filename", None)
    if not isinstance(name, str):
        return rel_shown(out) if isinstance(e, OSError) else None
    if name == str(staging) or name.startswith(str(staging) + os.sep):
        return rel_shown(out) + name[len(str(staging)) :]
    return None


def rel_shown(p: Path) -> str:
    rel = os.path.relpath(p)
    return str(p) if rel.startswith("..") else rel
