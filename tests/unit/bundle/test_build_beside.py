"""A full build writes the cache's index, the in-place state's layer lists and the scan of
``targets/`` in a forked child beside the manifest's write (cfgc.bundle.build._beside):
the same bundle, index and state as the same work done in the parent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cfgc.base import beside, parallel
from cfgc.base.parallel import can_fork
from cfgc.bundle import build as build_mod
from cfgc.bundle import outstate
from cfgc.bundle.build import build_bundle
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.cache_index import cache_key, decode_index
from cfgc.bundle.outpack import STAMP, target_files
from cfgc.bundle.outscan import scan_out
from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_pipeline import many, tree  # noqa: F401 - many is a fixture

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


def _build(repo: Path, out: Path, cache: Path) -> str:
    c = BuildCache(cache)
    c.digests._racy = time.time_ns() + 10**12  # the test's files count as settled: remembered by stat
    done = build_bundle(DirSource(repo), out, cache=c, jobs=2)
    assert done.digest is not None
    return done.digest


def _state(out: Path, cache: Path) -> outstate.OutState:
    state = outstate.load(cache, out.resolve(), cache_key())
    assert state is not None
    return state


def _stamps_hold(state: outstate.OutState, out: Path) -> set[str]:
    """Every stamp the state kept is the file's stat now; returns the files whose stamp was kept."""
    files, dirs = scan_out(out.resolve(), time.time_ns() + 10**12)
    assert state.bundle == outstate.bundle_parts(files, state.names)[0]
    kept = set()
    for i, p in enumerate(state.bundle):
        mine = tuple(state.bundle_stamps[i * STAMP : (i + 1) * STAMP])
        assert mine in (outstate.NO_STAMP, files[p]), p
        if mine != outstate.NO_STAMP:
            kept.add(p)
    assert set(state.dirs) == set(dirs) and list(state.dirs) == list(dirs)
    assert all(v in (-1, dirs[k]) for k, v in state.dirs.items())
    return kept


def test_the_side_process_leaves_what_the_parent_would(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    forked: list[bool] = []

    class Spy(beside.Beside):  # type: ignore[type-arg]
        def __init__(self, fn, fork):  # type: ignore[no-untyped-def]
            forked.append(fork)
            super().__init__(fn, fork)

    monkeypatch.setattr(build_mod, "Beside", Spy)
    d1 = _build(many, tmp_path / "a", tmp_path / "ca")
    assert forked == [True]  # 520 targets on two cores: the side work was forked

    # The way before: one process for the tail, OUT scanned whole after the swap (and serial workers).
    monkeypatch.setattr(parallel, "parallel", lambda items, jobs=None: False)
    forked.clear()
    d2 = _build(many, tmp_path / "b", tmp_path / "cb")
    assert forked == [False]
    assert d1 == d2 and tree(tmp_path / "a") == tree(tmp_path / "b")

    def index(cache: Path) -> object:
        return decode_index(cache_key(), (cache / "index").read_bytes())[1:]

    assert index(tmp_path / "ca") == index(tmp_path / "cb")
    a, b = _state(tmp_path / "a", tmp_path / "ca"), _state(tmp_path / "b", tmp_path / "cb")
    # entries: OUT's own name is left out; folders: stamps of the repo's folders, judged
    # against the clock by the parent in both ways (one build may run past their racy window).
    differ = {"out", "bundle_stamps", "dirs", "entries", "folders"}
    assert {k: v for k, v in a.to_json().items() if k not in differ} == {
        k: v for k, v in b.to_json().items() if k not in differ
    }
    # The child waited out the racy window: every target's stamp is kept (the manifest may be too fresh).
    assert set(target_files(a.names)) <= _stamps_hold(a, tmp_path / "a")
    _stamps_hold(b, tmp_path / "b")


def test_a_state_from_the_side_process_serves_an_in_place_build(
    many: Path, tmp_path: Path  # noqa: F811
) -> None:
    from cfgc.bundle.incremental import build_in_place

    _build(many, tmp_path / "a", tmp_path / "c")
    (many / "svc/dev/s007.yaml").write_text("id: 7\nm: {$extends: limits, extra: 70}\n")
    time.sleep(0.01)
    done = build_in_place(DirSource(many), tmp_path / "a", select=None, cache_root=tmp_path / "c", key=cache_key(),
                          open_cache=lambda: BuildCache(tmp_path / "c"), jobs=1)
    assert done is not None and done.digest is not None and done.cache_hits == 519  # in place, from the state
    assert b'"extra":70' in (tmp_path / "a/targets/dev/s007.json").read_bytes()


def test_a_side_process_killed_leaves_the_new_bundle_and_no_state(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """The child killed (the OOM killer) after the bundle is in place: the build succeeds
    with the new bundle; there is only no index and no in-place state (the next build is cold)."""
    import os
    import signal

    real = build_mod.Beside

    def killed(fn, fork):  # type: ignore[no-untyped-def]
        return real(lambda: os.kill(os.getpid(), signal.SIGKILL), fork)

    monkeypatch.setattr(build_mod, "Beside", killed)
    digest = _build(many, tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "a/manifest.json").exists() and digest
    assert outstate.load(tmp_path / "c", (tmp_path / "a").resolve(), cache_key()) is None
    monkeypatch.setattr(build_mod, "Beside", real)
    assert _build(many, tmp_path / "b", tmp_path / "c") == digest  # a later build still makes the same bundle
