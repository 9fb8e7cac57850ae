"""Semantic diffs: which compiled targets a change reaches, and how.

Both sides are compiled (the base from git objects, the head from git objects
or the working tree) and compared as data with deepdiff, never as text.  Each
changed path is reported with its before and after value and the head-side
source line that set it.  Secrets are compared by reference *and* by the
ciphertext of their leaf, so a rotated secret shows as exactly one path, and
is reported by path only: no value, no ciphertext.

Only the targets that the changed files can reach are compiled: a change to a
service file compiles that one target, a change to an environment layer
compiles the targets below it, and a change to cfgc.yaml or the prompt library
compiles everything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import ExitStack, nullcontext, suppress
from functools import partial
from pathlib import Path as FsPath
from typing import Any

from cfgc.base.diagnostics import group
from cfgc.base.errors import InputError
from cfgc.base.loading import Path
from cfgc.base.parallel import fan_out, parallel
from cfgc.bundle.cache_index import cache_key
from cfgc.compile.compiler import no_match
from cfgc.compile.merging import MISSING, get_path
from cfgc.repo.sources import CONFIG_FILE, DirSource, GitSource, Source, SourceInfo
from cfgc.review.background import Background
from cfgc.review.diff_cache import DiffCache
from cfgc.review.diff_chunk import Run, chunk_diff
from cfgc.review.diff_entry import Record
from cfgc.review.diff_files import blob_digest, changed_files, reached, read_as_keyed
from cfgc.review.diff_keys import same_keys
from cfgc.review.diff_leaves import LeafMemo, Leaves, located, places
from cfgc.review.diff_memo import ResultStore, result_key
from cfgc.review.diff_records import kept_side, side_records, side_sum
from cfgc.review.diff_result import DiffResult as DiffResult
from cfgc.review.diff_result import TargetDiff as TargetDiff
from cfgc.review.diff_result import is_production as is_production
from cfgc.review.diff_sides import SideStore
from cfgc.review.diff_values import Change as Change
from cfgc.review.diff_values import Compared as Compared
from cfgc.review.diff_values import Memo, changed_paths, collapse, leaves, same, sort_key
from cfgc.review.diff_values import Side as Side
from cfgc.review.diff_values import is_secret as is_secret
from cfgc.review.gc_phases import collector_paused, frozen_scope


def compare(base: Source, head: Source, select: str | None = None,
            base_name: str = "base", head_name: str = "working tree", *, by_keys: bool = True,
            cache: FsPath | None = None) -> DiffResult:
    """Compile what the change reaches on both sides and compare it: see :func:`_compare`."""
    with frozen_scope() as freeze:
        return _compare(base, head, select, base_name, head_name, by_keys, cache, freeze)


def _compare(base: Source, head: Source, select: str | None, base_name: str, head_name: str, by_keys: bool,
             cache: FsPath | None, freeze: Callable[[], None]) -> DiffResult:
    """Compile what the change reaches on both sides and compare it.

    A target is compared when the changed files reach it on *either* side:
    a new optional layer is only in the head's layer list, a deleted one only
    in the base's, a renamed one in each.  Whether it was added or removed
    is decided by the full target lists, never by the layer lists, so a new
    ``tenants/x/prod/env.yaml`` shows as the values it changes.

    A reached target whose key is equal on both sides
    (:mod:`cfgc.review.diff_keys`) is compiled on the head side only, for its
    findings; ``by_keys=False`` compiles both sides of every reached target
    (the slow path the tests hold this one to).

    With a ``cache`` folder, a target whose record an earlier diff kept
    (:mod:`cfgc.review.diff_cache`) is not compiled on that side; the targets
    compiled are recorded for the next diff.  The result is the same.
    """
    # What is loaded below lives as long as the diff and holds no cycle: it
    # is made with the collector paused and then kept out of its generations
    # (a collection would otherwise walk all of it, several times).
    if cache is not None:
        with suppress(OSError, ValueError):  # a first diff creates the key here, not on two threads at once
            cache_key()
    with collector_paused() if cache is not None else nullcontext(), ExitStack() as stack:
        head_ids: dict[str, str] = {}
        base_ids: dict[str, str] = {}
        # Only a compile that read exactly the bytes its key names is recorded
        # (a working-tree file can be saved while the diff runs).
        b_exact = read_as_keyed(base, base_ids) if cache is not None else None
        h_exact = read_as_keyed(head, head_ids) if cache is not None else None
        files = changed_files(base, head, head_ids)
        changed = set(files)
        # A side whose tree was seen before takes its listing and record keys from then.
        store = SideStore(cache) if cache is not None and changed else None
        held = store.assume_config() if store is not None else None
        h = Side(head)
        b = Side(base) if CONFIG_FILE in base.files() else None  # no config at the base: all is new
        if b is not None:
            h.compiler.share_documents(b.compiler, changed)  # each target compiles at the base first
        b_digest, h_digest = blob_digest(base, base_ids), blob_digest(head, head_ids)
        b_sum, h_sum = side_sum(store, b, select, b_digest), side_sum(store, h, select, h_digest)
        # The same two trees diffed before from records alone: their result.
        results = ResultStore(cache) if cache is not None and b_sum is not None and h_sum is not None else None
        rkey = result_key(b_sum, h_sum, files, select, base_name, head_name) \
            if b_sum is not None and h_sum is not None else ""
        done = results.get(rkey) if results is not None else None
        if done is not None:
            return done
        # Read on a thread while the sides are read back: its file reads and
        # HMAC release the interpreter lock.
        loading = stack.enter_context(Background(partial(DiffCache, cache))) if cache is not None else None
        b_kept = kept_side(store, b, select, b_sum)
        h_kept = kept_side(store, h, select, h_sum, b_kept)
        b_all = {s.name: s for s in b.compiler.specs(select)} if changed and b else {}
        h_all = {s.name: s for s in h.compiler.specs(select)} if changed else {}
        hit = {s.name for s in reached(b.compiler, changed, select)} if changed and b else set()
        h_reached = {s.name for s in reached(h.compiler, changed, select)} if changed else set()
        wanted = hit | h_reached
        names = sorted(wanted)
        config = h.compiler.config

        kept = loading.result() if loading is not None else None
        b_keys, b_recs = side_records(kept, b, b_all, names, b_digest, b_kept.keys if b_kept else None)
        h_keys, h_recs = side_records(kept, h, h_all, names, h_digest, h_kept.keys if h_kept else None)
        if kept is not None:
            # Before the collector is on again: its first collection would walk all of it.
            freeze()  # the parsed record file, both sides' listings and records

    for side_, dig, got, keys_, exact in ((b, b_sum, b_kept, b_keys, b_exact), (h, h_sum, h_kept, h_keys, h_exact)):
        if store is not None and side_ is not None and dig is not None and exact is not None \
                and (got is None or not got.keys.keys() >= keys_.keys()) \
                and exact(side_.compiler.hierarchy.files):
            store.put(dig, side_.compiler.specs(select), {**(got.keys if got else {}), **keys_})
    if store is not None and held is not None:
        store.keep_config(held)
    for side, specs, recs in ((b, b_all, b_recs), (h, h_all, h_recs)):
        if recs.keys() >= specs.keys() & wanted:  # (set operations: 10,000 names)
            continue  # every target of this side is recorded: none is compiled
        if side is not None and isinstance(side.compiler.source, GitSource):
            fork = parallel(len(names))
            # Git objects are read in one batch up front: one at a time, each
            # is a round trip to 'git cat-file' (about 2 ms).  A change to a
            # low layer reaches thousands of targets, compiled and compared on
            # every core: the forked workers then need no git process of their own.
            src = side.compiler.source
            src.prefetch(src.files() if fork else (p for n in names if n in specs for p in specs[n].layers))
    if kept is not None and by_keys:  # equal record keys: equal target keys, without reading a file
        equal_keys = frozenset(n for n, k in h_keys.items() if b_keys.get(n) == k)
    else:
        equal_keys = same_keys(b.compiler, h.compiler, names, changed, b_all, h_all) if by_keys and b else frozenset()
    # Nothing to compile (every target recorded on both sides): forking would
    # only send each result back through a pipe.
    recorded = b_recs.keys() >= b_all.keys() & wanted and h_recs.keys() >= h_all.keys() & wanted
    run = Run(b, h, b_all, h_all, b_recs, h_recs, b_keys, h_keys, b_exact, h_exact, equal_keys, changed, config,
              diff_targets)
    # From records alone, in this process: the changes made hold no cycle
    # (a collection would walk them, and the result, over and over).
    alone = recorded and kept is not None
    with collector_paused() if alone else nullcontext():
        parts = list(fan_out(partial(chunk_diff, run), names, jobs=1 if alone else None))
    diffs = [d for part in parts for d in part[0]]
    errors = group(e for part in parts for e in part[1])
    if kept is not None:
        for _, _, new, subtrees, _ in parts:
            for key, raw in new:
                kept.put(key, raw, subtrees)
        kept.save()
    if select is not None and not h.compiler.specs(select) and not (b and b.compiler.specs(select)):
        raise no_match(select, len(h.compiler.specs()))
    result = DiffResult(base_name, head_name, config.variables, tuple(diffs), tuple(files),
                        len(h_all.keys() & wanted), len(h.compiler.specs(select)), tuple(errors))
    # Kept only when made from records alone, and every file read (cfgc.yaml,
    # schemas, prompts for the keys; no SOPS file) had the id its side's digest names.
    if (results is not None and not any(part[4] for part in parts) and not h.read_secrets
            and not (b is not None and b.read_secrets) and b_exact is not None and h_exact is not None
            and b is not None and b_exact(b.compiler.hierarchy.files) and h_exact(h.compiler.hierarchy.files)):
        results.put(rkey, result)
    return result


def diff_targets(b: Side, before: Compared, h: Side, after: Compared, memo: Memo | None = None,
                 changed: Collection[str] | None = None, leaf_memo: LeafMemo | None = None) -> list[Change]:
    """The changed leaves of one target, located on the head side.

    Each top-level subtree is compared with deepdiff once per pair of
    objects: targets share the subtrees of their common layers, so a base
    layer edit that reaches 10,000 targets is compared once, not 10,000 times.

    ``changed`` (the files that differ between the sides) allows the fast
    path: when no SOPS document the target reads is among them, a secret
    reference stands for the same ciphertext on both sides, so a top-level
    subtree that is equal as compiled (references compared by file, path and
    type) is unchanged and its comparison tokens are never built.  Without
    it every subtree is compared through its tokens; both give the same
    changes.

    Two records (:class:`cfgc.review.diff_cache.Record`) are compared by
    their subtrees' indices first: an equal index is an equal comparable
    value (references, places and tokens included), never looked into.  The
    changed leaves are then a function of the differing keys' index pairs
    alone, kept in ``leaf_memo``: what is left per target is its locations
    and, when a changed leaf holds text, the search for its sensitive strings.
    """
    memo = {} if memo is None else memo
    sig: tuple[tuple[str, Any, Any], ...] | None = None
    if type(before) is Record and type(after) is Record:
        if before.keys is after.keys:  # one shape: compare the indices in place
            diff = [(k, i, j) for k, i, j in zip(before.keys, before.idx, after.idx, strict=True) if i != j]
        else:
            at = leaf_memo.places(before.keys, after.keys) if leaf_memo is not None else places(
                before.keys, after.keys)
            li, ri = [*before.idx, None], [*after.idx, None]  # position -1: absent on that side
            diff = [(k, li[a], ri[b]) for k, a, b in at if li[a] != ri[b]]
        if not diff:
            return []
        sig = tuple(diff)
        found = leaf_memo.get(sig) if leaf_memo is not None else None
        if found is not None:
            return located(b, before, h, after, found, memo, leaf_memo)
        keys = [k for k, _, _ in diff]
        lraw, rraw = before.value, after.value
    else:
        lraw, rraw = before.value, after.value
        fast = changed is not None and changed_secrets(changed, before, after) is False
        keys = [k for k in {*lraw, *rraw}
                if not (fast and same(lraw.get(k, MISSING), rraw.get(k, MISSING)))] \
            if type(lraw) is dict and type(rraw) is dict else []
    if type(lraw) is dict and type(rraw) is dict:
        if not keys:
            return []
        # Only the subtrees that differ become comparable values; the others
        # are never read below (every root lies under a differing key).
        left: Any = {k: v for k, v in lraw.items()}
        right: Any = {k: v for k, v in rraw.items()}
        for k in keys:
            if k in left and before.secrets:
                left[k] = b.comparable(left[k])
            if k in right and after.secrets:
                right[k] = h.comparable(right[k])
        pairs: list[tuple[Path, Any, Any]] = [((k,), left.get(k, MISSING), right.get(k, MISSING)) for k in keys]
    else:
        left = b.comparable(lraw) if before.secrets else lraw
        right = h.comparable(rraw) if after.secrets else rraw
        pairs = [((), left, right)]
    roots: set[Path] = set()
    for prefix, lv, rv in pairs:
        if lv is rv:
            continue
        hit = memo.get((id(lv), id(rv)))
        if hit is None:
            hit = memo[(id(lv), id(rv))] = (lv, rv, changed_paths(lv, rv))  # keeps lv, rv alive
        for p in hit[2]:
            roots.add(collapse((*prefix, *p), left, right))
    out: dict[Path, tuple[Path, Any, Any]] = {}
    for root in sorted(roots, key=sort_key):
        ls = dict(leaves(get_path(left, root), root))
        rs = dict(leaves(get_path(right, root), root))
        for p in [*ls, *(k for k in rs if k not in ls)]:
            x, y = ls.get(p, MISSING), rs.get(p, MISSING)
            if p in out or (x == y and type(x) is type(y)):
                continue
            out[p] = (p, x, y)
    found = Leaves([out[p] for p in sorted(out, key=sort_key)])
    if sig is not None and leaf_memo is not None:
        leaf_memo[sig] = found
        return located(b, before, h, after, found, memo, leaf_memo)
    return located(b, before, h, after, found, memo)


def changed_secrets(changed: Collection[str], before: Compared, after: Compared) -> bool:
    """Whether a SOPS document either side of a target reads differs between the sides."""
    return any(f in changed for f in (*before.secrets, *after.secrets))



def open_sides(root: Any, base_ref: str, head_ref: str | None) -> tuple[Source, Source]:
    """The base commit (empty if the repo folder did not exist) and the head."""
    head: Source = GitSource(root, head_ref, "--head") if head_ref else DirSource(root)
    try:
        return GitSource(root, base_ref, "--base"), head
    except InputError:  # the config repo's folder does not exist at the base
        return _Empty(), head


class _Empty:
    def files(self) -> list[str]:
        return []

    def read(self, path: str) -> bytes:
        raise InputError(f"file not found: {path}")

    def info(self) -> SourceInfo:
        return SourceInfo()
