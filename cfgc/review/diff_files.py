"""Which files differ between the two sides of a diff, and which targets they reach."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cfgc.base.repopath import NotFound
from cfgc.compile.compiler import Compiler
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.sources import CONFIG_FILE, DirSource, GitSource, Source, blob_id
from cfgc.review.background import Background
from cfgc.review.diff_validation import schema_inputs
from cfgc.review.index_ids import index_ids

#: Below this many files reading them costs less than asking git (about 40 ms).
_INDEX_MIN = 200


def changed_files(base: Source, head: Source, ids: dict[str, str] | None = None, *,
                  use_index: bool = True) -> list[str]:
    """Files that differ between two sources, compared by git blob id (the
    working tree's go to ``ids``, for the record keys).

    A working tree's ids come from git's index where it vouches for them
    (:mod:`cfgc.review.index_ids`; ``use_index=False``: every file is read)."""
    ids = {} if ids is None else ids
    if isinstance(base, GitSource) and isinstance(head, DirSource):
        # The base's 'git ls-tree' runs on a thread while the working tree is
        # walked and git's index read: both mostly wait on git processes.
        with Background(base.files) as listing:
            try:
                b_files = set(head.files())
                if use_index and len(b_files) > _INDEX_MIN:
                    ids.update(index_ids(head.root, b_files))
            # Not on Ctrl-C: git got the same signal, and its exit must not hide the interrupt.
            except Exception:
                listing.result()  # the base's error first, as when it was listed first
                raise
            a_files = set(listing.result())
    else:
        a_files, b_files = set(base.files()), set(head.files())
    common = a_files & b_files
    if isinstance(base, GitSource) and isinstance(head, DirSource):  # (10,000 files: no call per file but for a read)
        sha = base.blob_ids()
        same = {p for p in common if (ids.get(p) or _blob_id(head, p, ids)) == sha[p]}
    else:
        same = {p for p in common if _blob_id(base, p) == _blob_id(head, p, ids)}
    return sorted((a_files | b_files) - same)


def _blob_id(source: Source, path: str, ids: dict[str, str] | None = None) -> str:
    if isinstance(source, GitSource):
        return source.blob_sha(path)
    known = ids.get(path) if ids is not None else None
    if known is not None:
        return known
    found = blob_id(source.read(path))
    if ids is not None:
        ids[path] = found
    return found


def blob_digest(source: Source, ids: dict[str, str]) -> Callable[[str], str]:
    """A layer file's git blob id, as :func:`changed_files` compared it (for record keys)."""

    def digest(path: str) -> str:
        found = ids.get(path)
        if found is None:
            try:
                found = ids[path] = _blob_id(source, path)
            except NotFound:
                found = "missing"
        return "git:" + found

    return digest


def read_as_keyed(source: Source, ids: dict[str, str]) -> Callable[[Iterable[str]], bool]:
    """Whether the compiles of ``source`` read exactly the bytes a record key
    (:func:`blob_digest` over ``ids``) names for a target's layer files.

    Git objects are immutable by id.  A working tree's file can be saved
    while a diff runs, after its id was taken (from git's index or by hashing
    it) and before the compile reads it: the record would hold the new value
    under the old bytes' key.  So from here on the tree notes the id of the
    bytes each read returns; a target is recorded only if every layer it read
    has the id its key names and no file was read twice with different bytes
    (cfgc.yaml, schemas and prompts are read for the key and for the compile).
    A layer it did not read was parsed on the base side, whose blob has the
    same id (:meth:`cfgc.compile.compiler.Compiler.share_documents`).  Any
    other source is never recorded.  Call before the side's compiler is made.
    """
    if isinstance(source, GitSource):
        return lambda layers: True
    if not isinstance(source, DirSource):
        return lambda layers: False
    tree = source
    reads = tree.track_reads()

    def exact(layers: Iterable[str]) -> bool:
        if tree.read_mixed:
            return False
        for path in layers:
            found = reads.get(path)
            if found is not None and found != ids.get(path):
                return False
        return True

    return exact


def reached(compiler: Compiler, changed: set[str], select: str | None) -> list[TargetSpec]:
    """The targets of one side that the changed files can reach."""
    specs = compiler.specs(select)
    prompts = (compiler.config.prompts or "\0") + "/"
    if CONFIG_FILE in changed or any(p.startswith(prompts) for p in changed):
        return specs
    if compiler.config.schemas and not changed.isdisjoint(schema_inputs(compiler)):
        return specs  # a schema edit changes no value but can make any target invalid
    return [s for s in specs if not changed.isdisjoint(s.layers)]
