"""The tail of a filling build (issue 15, fill7): the in-place state's layer lists made by the
building process while the side child writes the index and scans ``targets/``; that scan
stats at once and stats again only what was inside the racy window; stamps parsed in one pass."""

from __future__ import annotations

import os
import time
import types
from itertools import chain
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cfgc.base.parallel import can_fork
from cfgc.bundle import outrecord, outscan, outstate
from cfgc.bundle.build import build_bundle
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.cache_index import cache_key
from cfgc.bundle.outpack import STAMP, ints, ints_of
from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_pipeline import many  # noqa: F401 - a fixture


def _targets(root: Path, names: list[str]) -> int:
    for n in names:
        p = root / "targets" / f"{n}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"{}")
    return os.open(root / "targets", os.O_RDONLY | os.O_DIRECTORY)


def test_the_targets_scan_stats_first_and_again_only_the_young(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files just written: the scan stats them all before it waits (the wait overlapped
    nothing before), then stats again only the files inside the window; every target's stamp
    ends up kept and equal to the file's stat, as after the old wait-then-scan.  A folder
    found too recent keeps -1 (its stamp must come before its listing)."""
    names = [f"t{i % 3}/e{i % 2}/s{i:03}" for i in range(60)]
    folder = _targets(tmp_path, names)
    after = time.time_ns()
    events: list[str] = []
    real_stamp = outstate.out_stamp
    # The scan's clock starts at the newest file's change, so every file is in
    # the racy window however late the scan runs (a paused CI runner included),
    # and the wait moves it past the window.
    clock = [max(os.stat(p).st_ctime_ns for p in (tmp_path / "targets").rglob("*.json"))]

    def stamp(st_: os.stat_result, now: int) -> outstate.Stamp:
        events.append("stat")
        return real_stamp(st_, now)

    def sleep(s: float) -> None:
        events.append("sleep")
        clock[0] += int(s * 1e9) + 1

    monkeypatch.setattr(outstate, "out_stamp", stamp)
    monkeypatch.setattr(outscan, "time", types.SimpleNamespace(time_ns=lambda: clock[0], sleep=sleep))
    try:
        got = outscan.scan_targets(folder, after, names)
        assert got is not None
        assert events[0] == "stat" and events.count("sleep") == 1
        first = events.index("sleep")
        folders = 1 + 3 + 6  # targets/, t0..t2, their e0 and e1 (dir_stamp judges by out_stamp too)
        assert first == len(names) + folders  # one stat per file and folder before the wait
        assert len(events) - first - 1 <= len(names)  # again: at most the young files, no folder
        own, rest, dirs = got
        for i, n in enumerate(names):
            s = os.stat(tmp_path / "targets" / f"{n}.json")
            assert tuple(own[i * STAMP : (i + 1) * STAMP]) == (s.st_mtime_ns, s.st_ctime_ns, s.st_size, s.st_ino)
        assert rest == {}
        # The old way (wait out the window, then one scan) gives the same files; a folder
        # stamp is the same or -1.
        events.clear()
        late = outscan.scan_targets(folder, 0, names)
        assert late is not None and "sleep" not in events
        assert late[0] == own and late[1] == rest and list(late[2]) == list(dirs)
        assert all(v in (-1, late[2][k]) for k, v in dirs.items())
    finally:
        os.close(folder)


def test_a_young_folder_that_became_a_link_is_not_followed(tmp_path: Path) -> None:
    """The second stat walks the folders again one name at a time, never through a link."""
    names = ["a/x", "b/y"]
    folder = _targets(tmp_path, names)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.json").write_bytes(b"{}")
    files = {"targets/a/x.json": outstate.NO_STAMP, "targets/b/y.json": outstate.NO_STAMP}
    (tmp_path / "targets/a").rename(tmp_path / "targets/c")
    (tmp_path / "targets/a").symlink_to(elsewhere)
    try:
        outscan._restat(folder, list(files), files, time.time_ns() + 10**12)
    finally:
        os.close(folder)
    assert files["targets/a/x.json"] == outstate.NO_STAMP
    s = os.stat(tmp_path / "targets/b/y.json")
    assert files["targets/b/y.json"] == (s.st_mtime_ns, s.st_ctime_ns, s.st_size, s.st_ino)


@pytest.mark.skipif(not can_fork(), reason="no fork on this platform")
def test_the_layer_lists_are_made_by_the_building_process(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """On two cores the side child writes the index and scans ``targets/``; the layer lists
    come from this process (a list filled in the child would stay empty here)."""
    pids: list[int] = []
    real = outrecord.layers

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        pids.append(os.getpid())
        return real(*a, **k)

    monkeypatch.setattr(outrecord, "layers", spy)
    c = BuildCache(tmp_path / "c")
    c.digests._racy = time.time_ns() + 10**12  # the test's files count as settled
    done = build_bundle(DirSource(many), tmp_path / "out", cache=c, jobs=2)
    assert done.digest is not None
    assert pids == [os.getpid()]
    state = outstate.load(tmp_path / "c", (tmp_path / "out").resolve(), cache_key())
    assert state is not None and len(state.names) == 520
    kept = sum(state.bundle_stamps[i * STAMP] != -1 for i in range(len(state.names)))
    assert kept == 520  # every target's stamp, from the child's scan


_TEXT = st.one_of(
    st.just(""),
    st.tuples(*[st.integers(-(2**64), 2**64)] * 4).map(lambda t: ":".join(map(str, t))),
    st.text(":0123456789 -_x", max_size=12),
)


def _outcome(fn, texts):  # type: ignore[no-untyped-def]
    try:
        return fn(texts)
    except Exception as e:  # noqa: BLE001 - the kind of failure is what is compared
        return type(e)


@example(["0:0:0:9223372036854775808", ":::"])  # an overflow before a malformed stamp: the same error first
@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=6))
def test_stamp_ints_equal_the_per_stamp_parse(texts: list[str]) -> None:
    def before(ts: list[str]) -> object:
        return ints(chain.from_iterable(map(outstate.parse_stamp, ts)))

    assert _outcome(outrecord.stamp_ints, texts) == _outcome(before, texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-(2**64), 2**64), max_size=8))
def test_ints_of_equals_ints(values: list[int]) -> None:
    assert _outcome(ints_of, values) == _outcome(ints, values)
