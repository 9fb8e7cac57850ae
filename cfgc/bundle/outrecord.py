"""Write the state a full build leaves for the next in-place build (:mod:`cfgc.bundle.incremental`)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.bundle import outfolders, outstate
from cfgc.bundle.manifest import MANIFEST
from cfgc.bundle.outcheck import MAX_MANIFEST_BYTES
from cfgc.bundle.outglobals import global_digests  # noqa: F401 - its name here before it moved
from cfgc.bundle.outpack import DIGEST_BYTES, ints, ints_of, target_files
from cfgc.bundle.outscan import Targets, scan_out
from cfgc.bundle.splice import spans
from cfgc.repo.sources import DirSource, Source

if TYPE_CHECKING:
    from cfgc.bundle.cache import BuildCache
    from cfgc.bundle.pipeline import PipelineResult
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.hierarchy import TargetSpec


@dataclass(frozen=True)
class Layers:
    """The part of the in-place state that needs neither ``OUT`` nor the manifest: each
    target's layer files with their stamps and digests, the toolchain and the listing's digests.

    Made from the build cache's memo once the last compile is in, so it can be
    made beside the writing of the bundle (:func:`layers`, in a forked child).
    """

    paths: list[str]
    stamps: array[int]  # outstate.Stamp after outstate.Stamp, parallel to paths
    digests: bytes  # parallel to paths, DIGEST_BYTES each
    names: list[str]  # the targets, sorted (the manifest's order)
    counts: array[int]
    flat: array[int]  # indices into paths, each target's layers in turn
    toolchain: str
    listing: str
    entries: dict[str, str]
    targets: Targets | None = None  # OUT's targets/ subtree scanned in staging (cfgc.bundle.outscan)


def _sorted_specs(compiler: Compiler, select: str | None) -> list[TargetSpec]:
    return sorted(compiler.selected(select), key=attrgetter("name"))  # the manifest's order (cfgc.bundle.splice)


def target_names(compiler: Compiler, select: str | None) -> list[str]:
    """The names of the targets ``select`` names, in the order of :attr:`Layers.names`."""
    return [spec.name for spec in _sorted_specs(compiler, select)]


def layers(source: Source, compiler: Compiler, select: str | None, out: Path, cache: BuildCache) -> Layers | None:
    """:class:`Layers` of the targets ``select`` names, or None when a layer was not hashed by this build."""
    if not isinstance(source, DirSource):
        return None
    specs = _sorted_specs(compiler, select)
    # Each layer file's index is its first appearance: setdefault with the count so far.
    index: dict[str, int] = {}
    put = index.setdefault
    flat = [put(p, len(index)) for spec in specs for p in spec.layers]
    paths = list(index)
    texts: list[str] = []  # parsed all at once (stamp_ints)
    digests: list[str] = []
    memo = cache.memo
    for p in paths:
        known = memo(p)
        if known is None:  # not hashed by this build: no stamp to trust
            return None
        texts.append(known[0])
        digests.append(known[1])
    names = [spec.name for spec in specs]
    counts = [len(spec.layers) for spec in specs]
    return Layers(
        paths, stamp_ints(texts), bytes.fromhex("".join(digests)), names, ints(counts), ints_of(flat),
        outstate.toolchain(), outstate.listing_digest(source.files()),
        outfolders.listed_entries(source.files(), list(source.folders), out, source.root.resolve()),
    )


_NONE_TEXT = ":".join(map(str, outstate.NO_STAMP))


def stamp_ints(texts: list[str]) -> array[int]:
    """The stamps ``texts`` (the build cache's text form, :func:`cfgc.bundle.outstate.parse_stamp`)
    as one array, :data:`~cfgc.bundle.outstate.STAMP` integers each.

    Parsed as one joined string (one ``split`` and ``int`` mapped in C): a call per
    stamp was about a third of the layer lists' time.  A text that is not four
    fields takes the per-stamp way, which fails or passes as it always did.
    """
    full = [t or _NONE_TEXT for t in texts]
    if full and all(t.count(":") == 3 for t in full):
        # Any failure is the per-stamp way's to raise, with the error it always gave.
        with contextlib.suppress(ValueError, OverflowError):
            return ints_of(list(map(int, ":".join(full).split(":"))))
    return ints(chain.from_iterable(map(outstate.parse_stamp, texts)))


def record(
    source: Source, compiler: Compiler, select: str | None, result: PipelineResult, out: Path,
    cache: BuildCache | None, globals_: dict[str, str] | None, manifest: dict[str, Any], digest: str,
    targets: Callable[[], Targets | None] | None = None,
) -> None:
    """Leave the state of ``out`` just written by a full build; drop it when no in-place build may follow.

    ``targets`` gives the scan of OUT's ``targets/`` folder when it was made beside this
    process (:class:`cfgc.base.beside.Beside`, :func:`cfgc.bundle.outscan.scan_targets`,
    in the order of :func:`target_names`); it is asked for only after this process has made
    the layer lists, so both run at once.  Without it (or None) OUT is scanned whole here.
    """
    if cache is None or cache.key is None:
        return
    try:
        str(out).encode()
        "\0".join(source.files()).encode()  # (and every file of the repo)
    except UnicodeEncodeError:  # the state names OUT in JSON: a path that is not UTF-8 gets none
        outstate.forget(cache.root, out)
        return

    def made() -> Layers | None:
        lay = layers(source, compiler, select, out, cache)
        if lay is None or targets is None:
            return lay
        return replace(lay, targets=targets())  # HelperLost is an OSError: no state, as below

    try:
        _record(source, compiler, select, result, out, cache, cache.key, globals_, manifest, digest, made)
    # The state only saves time: a build that wrote OUT has succeeded.  OverflowError:
    # an inode number past 2**63 (overlayfs with xino, NFS or SMB file ids) does not
    # fit the state's integers, so such a file system gets no in-place builds.
    except (OSError, OverflowError):
        outstate.forget(cache.root, out)


def _record(
    source: Source, compiler: Compiler, select: str | None, result: PipelineResult, out: Path,
    cache: BuildCache, key: bytes, globals_: dict[str, str] | None, manifest: dict[str, Any], digest: str,
    made: Callable[[], Layers | None],
) -> None:
    root = cache.root
    if not isinstance(source, DirSource) or globals_ is None or any(not d.targets for d in result.diagnostics):
        outstate.forget(root, out)
        return
    secrets = {f: hashlib.sha256(raw).hexdigest() for f, raw in result.secret_files.items()}
    racy = outstate.racy_after()
    try:  # the bytes the spans are checked against; bounded like the in-place build's read of them
        raw = read_capped(out / MANIFEST, MAX_MANIFEST_BYTES, follow_links=False)
    except NotRegular:
        raw = b""
    if not raw or len(raw) > MAX_MANIFEST_BYTES:  # not the manifest this build wrote
        outstate.forget(root, out)
        return
    found = spans(raw, manifest)
    lay = made()
    if lay is None:
        outstate.forget(root, out)
        return
    pre = lay.targets
    scanned, dirs = scan_out(out, time.time_ns(), None if pre is None else pre[1:])
    if pre is not None:  # the targets' files, in the targets' order, were scanned beside
        bundle, bundle_stamps = target_files(lay.names) + list(scanned), pre[0] + ints(chain.from_iterable(scanned.values()))
    else:
        try:
            bundle, bundle_stamps = outstate.bundle_parts(scanned, lay.names)
        except KeyError:  # a target's file is not in OUT: nothing to update in place from
            outstate.forget(root, out)
            return
    state = outstate.OutState(
        out=str(out), root=str(source.root.resolve()), select=select, toolchain=lay.toolchain,
        listing=lay.listing, listed=source.files(), source=manifest["source"],
        folders={rel: outstate.folder_stamp(st, racy) for rel, st in source.folders.items()},
        entries=lay.entries, varnames=list(compiler.config.hierarchy[-1].variables), globals={**globals_, **secrets},
        paths=lay.paths, stamps=lay.stamps, digests=lay.digests, names=lay.names,
        counts=lay.counts, layers=lay.flat, warned=sorted({t for d in result.diagnostics for t in d.targets}),
        manifest=digest, bundle=bundle, bundle_stamps=bundle_stamps, dirs=dirs, spans=ints(found or ()), pins={},
        sops=kept_sops(globals_), config_marks=kept_config(globals_), careful={}, renders=kept_renders(),
    )
    state = replace(state, careful=kept_careful(state.globals, state.digests))
    outstate.save(root, out, key, state)


def kept_sops(globals_: dict[str, str]) -> dict[str, Any]:
    """The parsed ``.sops.yaml`` of this build, for the next in-place build (only the current file's digest)."""
    from cfgc.secrets.creation_rules import PARSED

    return PARSED.kept(set(globals_.values()))


def kept_careful(globals_: dict[str, str], digests: bytes) -> dict[str, Any]:
    """The values the careful YAML path built for files still in the repo (``digests``: the layers', packed)."""
    from cfgc.base.loading import CAREFUL

    current = set(globals_.values())
    return CAREFUL.kept(lambda d: d in current or _packed(digests, bytes.fromhex(d)))


def _packed(digests: bytes, one: bytes) -> bool:
    at = digests.find(one)
    while at >= 0 and at % DIGEST_BYTES:
        at = digests.find(one, at + 1)
    return at >= 0


def kept_renders() -> dict[str, Any]:
    """The template reads and results this build's workers recorded (template_kept.KEPT)."""
    from cfgc.compile.template_kept import KEPT

    return KEPT.kept()


def kept_config(globals_: dict[str, str]) -> dict[str, Any]:
    """The source positions of this build's ``cfgc.yaml``, for the next in-place build."""
    from cfgc.repo.config import MARKS

    return MARKS.kept(set(globals_.values()))
