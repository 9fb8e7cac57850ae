"""The repo half of the public API: compile, validate, build, diff, check, explain.

Every heavy module is imported inside the function that needs it, so
``import cfgc`` stays cheap for the command line (docs/performance.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from cfgc.api._build_result import BuildResult

if TYPE_CHECKING:
    from cfgc.api._results import Compilation, Leaf, ValidationResult
    from cfgc.bundle.cache import BuildCache
    from cfgc.bundle.incremental import InPlace
    from cfgc.bundle.merge import MergeOutcome
    from cfgc.bundle.shard import PartOutcome
    from cfgc.compile.compiler import CompiledTarget, Compiler
    from cfgc.compile.explain import Explanation
    from cfgc.repo.sources import Source
    from cfgc.review.checks import CheckResult
    from cfgc.review.diff import DiffResult

PathArg = str | os.PathLike[str]
Progress = Callable[[int, int], None]
Warn = Callable[[str], None]


def _path(p: PathArg | None) -> Path | None:
    return None if p is None else Path(p)


def _root(repo: PathArg | None) -> Path:
    from cfgc.repo.sources import find_repo_root

    return Path(repo).resolve() if repo is not None else find_repo_root()


def _open_cache(source: Source, cache: bool | PathArg, warn: Warn | None) -> BuildCache | None:
    if cache is False:
        return None  # before the import: a --no-cache build never loads the cache modules
    from cfgc.bundle.cache import BuildCache, default_cache_dir

    root = default_cache_dir(source) if cache is True else Path(cache)
    return BuildCache(root, warn=warn) if root is not None else None


def compile_repo(repo: PathArg | None, *, ref: str | None = None, targets: str | None = None,
                 jobs: int | None = None) -> Compilation:
    """Compile the targets of ``repo`` (None: walk up from the working directory to cfgc.yaml).

    ``ref`` compiles that commit from git objects instead of the working tree;
    ``targets`` is a name glob (``acme/prod/*``).  Each target's value is exactly
    the JSON a build writes into its bundle.  Raises
    :class:`~cfgc.base.errors.InvalidConfig` when any finding is an error (its
    ``diagnostics`` list them), :class:`~cfgc.base.errors.UsageError` for a glob
    that matches no target.
    """
    import json
    import tempfile

    from cfgc.api._results import Compilation, Target
    from cfgc.base.errors import InvalidConfig
    from cfgc.bundle import pipeline
    from cfgc.bundle.layout import target_path
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.sources import open_source
    from cfgc.runtime.snapshot import freeze

    compiler = Compiler(open_source(_path(repo), ref))
    with tempfile.TemporaryDirectory(prefix="cfgc-compile-") as tmp:
        # Workers write each target's bundle bytes here: the values are what a bundle holds.
        result = pipeline.run(compiler, targets, staging=Path(tmp), jobs=jobs)
        names = [o.name for o in result.outputs]
        if not result.ok:
            raise InvalidConfig(result.diagnostics, names)
        explainer = _Explainer(compiler)
        out = tuple(
            Target(o.name, MappingProxyType(dict(o.vars)), o.digest,
                   freeze(json.loads((Path(tmp) / target_path(o.name)).read_bytes())), explainer)
            for o in result.outputs
        )
    return Compilation(out, result.diagnostics, compiler.source.info())


class _Explainer:
    """Compiles a target again, once, when its provenance is asked for."""

    def __init__(self, compiler: Compiler) -> None:
        self._compiler = compiler
        self._done: dict[str, CompiledTarget] = {}

    def __call__(self, name: str, path: str) -> Explanation:
        from cfgc.compile.explain import explain as explain_path
        from cfgc.compile.explain import find_target
        from cfgc.compile.merging import parse_dotted

        compiled = self._done.get(name)
        if compiled is None:
            compiled = self._done[name] = self._compiler.compile(find_target(self._compiler, name))
        return explain_path(compiled, parse_dotted(path))


def validate(repo: PathArg | None, *, ref: str | None = None, targets: str | None = None,
             jobs: int | None = None, cache: bool | PathArg = True, progress: Progress | None = None,
             warn: Warn | None = None) -> ValidationResult:
    """Load, merge, resolve and validate the selected targets; write nothing.

    ``cache``: True uses the build cache in its default folder (outside the
    repo), a path uses that folder, False compiles every target.  ``warn``
    receives cache problems (a corrupt entry is recompiled, never used).
    Findings are returned, not raised: check ``result.ok``.
    """
    from cfgc.api._results import ValidationResult
    from cfgc.bundle import pipeline
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.sources import open_source

    source = open_source(_path(repo), ref)
    compiler = Compiler(source)
    result = pipeline.run(compiler, targets, cache=_open_cache(source, cache, warn), jobs=jobs, progress=progress)
    return ValidationResult(tuple(o.name for o in result.outputs), result.diagnostics, result.cache_hits)


def build_bundle(repo: PathArg | None, out: PathArg, *, ref: str | None = None, targets: str | None = None,
          sign_key: PathArg | None = None, jobs: int | None = None, cache: bool | PathArg = True,
          progress: Progress | None = None, warn: Warn | None = None, verify_out: bool = False) -> BuildResult:
    """Compile ``repo`` into the bundle directory ``out`` (replaced atomically).

    With ``sign_key`` (an ed25519 private key file) the bundle is signed before
    it replaces ``out``.  The same commit always gives byte-identical output.
    An unsigned build of a working tree into the ``out`` the last build wrote
    updates only the files that change (docs/build.md, "In-place rebuilds");
    ``verify_out`` hashes every file of ``out`` first instead of trusting stat.
    Raises :class:`~cfgc.base.errors.InvalidConfig` when any finding is an error
    (``out`` is then left as it was); other failures are
    :class:`~cfgc.base.errors.CfgcError` subclasses too.
    """
    from cfgc.base.errors import InvalidConfig
    from cfgc.repo.sources import open_source

    signers = []
    if sign_key is not None:  # a bad key fails before any work
        from cfgc.bundle.signing import load_signer

        signers.append(load_signer(Path(sign_key)))
    source = open_source(_path(repo), ref)
    if not signers and cache is not False:
        fast = _in_place(source, Path(out), targets, cache, warn, jobs, progress, verify_out)
        if fast is not None:
            if fast.digest is None:
                raise InvalidConfig(fast.diagnostics, fast.names)
            return BuildResult(Path(out), fast.digest, fast.names, fast.diagnostics, fast.cache_hits,
                               unchanged=fast.unchanged)
    from cfgc.bundle.build import build_bundle as write_bundle

    done = write_bundle(
        source, Path(out), select=targets, signers=signers, key_files=[Path(sign_key)] if sign_key else [],
        cache=_open_cache(source, cache, warn), jobs=jobs, progress=progress,
    )
    if done.digest is None:
        raise InvalidConfig(done.result.diagnostics, done.names)
    return BuildResult(Path(out), done.digest, tuple(done.names), done.result.diagnostics,
                       done.result.cache_hits, bool(signers))


def _in_place(source: Source, out: Path, targets: str | None, cache: bool | PathArg, warn: Warn | None,
              jobs: int | None, progress: Progress | None, verify_out: bool) -> InPlace | None:
    """The in-place update of ``out``, when the last build into it allows one (imports stay light)."""
    if _nothing_in_place(out):
        # A first build into ``out``: no bundle to update, so neither the in-place modules
        # (about 10 ms of imports) nor a round of the lock before the full build takes it.
        return None
    from cfgc.bundle.cache_index import cache_key, default_cache_dir
    from cfgc.bundle.incremental import build_in_place

    root = default_cache_dir(source) if cache is True else Path(cache)  # type: ignore[arg-type]
    if root is None:
        return None
    try:
        key = cache_key()
    except OSError:
        return None
    return build_in_place(source, out, select=targets, cache_root=root, key=key,
                          open_cache=lambda: _open_cache(source, cache, warn), jobs=jobs, progress=progress,
                          verify_out=verify_out)


def _nothing_in_place(out: Path) -> bool:
    """True when ``out`` neither exists nor has an interrupted in-place update beside it
    (:func:`cfgc.bundle.journal.commit_dir`): an in-place build could then only fall back to
    a full one, which takes the lock, finishes such an update and cleans leftovers itself."""
    from cfgc.bundle.journal import commit_dir

    try:
        out = out.resolve()
        return not os.path.lexists(out) and not os.path.lexists(commit_dir(out))
    except (OSError, RuntimeError, ValueError):  # an odd path: let the in-place attempt decide as before
        return False


def build_part(repo: PathArg | None, out: PathArg, shard: str, *, ref: str | None = None,
               targets: str | None = None, jobs: int | None = None, cache: bool | PathArg = True,
               progress: Progress | None = None, warn: Warn | None = None) -> PartOutcome:
    """Compile shard ``shard`` ("I/N") of ``repo`` into the bundle part ``out`` (see docs/sharding.md).

    Join the N parts with :func:`cfgc.bundle.merge.merge_parts` (``cfgc bundle
    merge``).  Raises :class:`~cfgc.base.errors.InvalidConfig` when any finding of
    this shard's targets is an error (``out`` is then left as it was).
    """
    from cfgc.base.errors import InvalidConfig
    from cfgc.bundle.shard import build_part as write_part
    from cfgc.bundle.shard import parse_shard
    from cfgc.repo.sources import open_source

    which = parse_shard(shard)
    source = open_source(_path(repo), ref)
    done = write_part(source, Path(out), which, select=targets, cache=_open_cache(source, cache, warn),
                      jobs=jobs, progress=progress)
    if done.digest is None:
        raise InvalidConfig(done.result.diagnostics, done.names)
    return done


def merge_parts(parts: Sequence[PathArg], out: PathArg) -> MergeOutcome:
    """Join the parts of one sharded build into the bundle directory ``out``.

    The bundle is byte-identical to a single build of the same tree.  Parts
    of different builds or a missing shard raise UsageError; a part that does
    not hold what its part.json says raises IntegrityError; ``out`` is left as
    it was on any failure.
    """
    from cfgc.bundle.merge import merge_parts as write_merged

    return write_merged([Path(p) for p in parts], Path(out))


def diff_refs(repo: PathArg | None, *, base: str, head: str | None = None, targets: str | None = None,
              cache: bool | PathArg = True) -> DiffResult:
    """Compare the compiled targets at git ref ``base`` with ``head`` (None: the working tree).

    Only targets the changed files can reach are compiled.  Findings on
    either side are in ``result.errors`` (the base's as warnings), not raised.
    ``cache`` (True: the build cache folder; a folder; False: none) keeps what
    each compiled target gives a diff, so a later diff of either side need
    not compile it again (:mod:`cfgc.review.diff_cache`); the result is the same.
    """
    from cfgc.bundle.cache_index import default_cache_dir
    from cfgc.review.diff import compare, open_sides

    root = _root(repo)
    b, h = open_sides(root, base, head)
    try:
        folder = None if cache is False else default_cache_dir(h) if cache is True else Path(cache)
        return compare(b, h, targets, base, head or "working tree", cache=folder)
    finally:
        _close(b, h)


def check(repo: PathArg | None, *, base: str | None = None, targets: str | None = None,
          jobs: int | None = None, cache: bool | PathArg = True) -> CheckResult:
    """Run every check (validation, secret hygiene, LLM checks, Rego policies) on the working tree.

    With ``base`` (a git ref) each finding is marked new or unchanged;
    ``result.failing()`` lists the errors that fail a pull request.
    ``cache`` (True: the build cache folder; a folder; False: none) keeps
    each target's findings between runs (:mod:`cfgc.review.check_cache`).
    """
    from cfgc.base.errors import UsageError
    from cfgc.repo.sources import CONFIG_FILE, DirSource, GitSource
    from cfgc.review.checks import run_checks

    root = _root(repo)
    if not (root / CONFIG_FILE).is_file():
        raise UsageError(f"{root}: no {CONFIG_FILE} in that directory")
    head = DirSource(root)
    old = GitSource(root, base, "--base") if base else None
    try:
        return run_checks(head, targets, old,
                          cache=False if cache is False else True if cache is True else Path(cache), jobs=jobs)
    finally:
        _close(head, old)


def _close(*sources: object) -> None:
    """Release what ``sources`` hold open (folder fds, git processes) now, not at
    the next garbage collection: a long-lived caller may call thousands of times."""
    for source in sources:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def explain_value(repo: PathArg | None, target: str, path: str, *, ref: str | None = None) -> Explanation:
    """The value at dotted ``path`` of ``target`` and every layer that set it (values redacted)."""
    from cfgc.compile.compiler import Compiler
    from cfgc.compile.explain import explain as explain_path
    from cfgc.compile.explain import find_target
    from cfgc.compile.merging import parse_dotted
    from cfgc.repo.sources import open_source

    compiler = Compiler(open_source(_path(repo), ref))
    return explain_path(compiler.compile(find_target(compiler, target)), parse_dotted(path))


def explain_target(repo: PathArg | None, target: str, *, ref: str | None = None) -> tuple[Leaf, ...]:
    """Every leaf of ``target`` (values redacted) with the location that set it."""
    from cfgc.api._results import Leaf
    from cfgc.compile.compiler import Compiler
    from cfgc.compile.explain import find_target, shown_leaves
    from cfgc.compile.merging import dotted
    from cfgc.repo.sources import open_source

    compiler = Compiler(open_source(_path(repo), ref))
    compiled = compiler.compile(find_target(compiler, target))
    return tuple(Leaf(dotted(p), v, loc) for p, v, loc in shown_leaves(compiled))
