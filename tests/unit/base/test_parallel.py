"""cfgc.base.parallel: fan-out over forked workers."""

from __future__ import annotations

import os
import threading

import pytest

from cfgc.base import parallel

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="needs fork workers")


def test_a_closure_over_unpicklable_state_runs_on_workers_in_order() -> None:
    lock = threading.Lock()  # cannot be pickled: it must travel by fork

    def work(chunk: list[int]) -> tuple[int, int]:
        with lock:
            return os.getpid(), sum(chunk)

    chunks = [[i, i + 1] for i in range(0, 40, 2)]
    results = parallel.map_chunks(work, chunks, jobs=2)
    assert [s for _, s in results] == [sum(c) for c in chunks]
    assert os.getpid() not in {pid for pid, _ in results}


def test_the_parent_keeps_no_worker_state() -> None:
    parallel.map_chunks(lambda c: c, [[1], [2], [3]], jobs=2)
    assert parallel._worker_fn is None


def test_one_job_runs_in_this_process() -> None:
    assert parallel.map_chunks(lambda c: os.getpid(), [[1], [2]], jobs=1) == [os.getpid()] * 2


def test_unordered_yields_every_result() -> None:
    out = sorted(parallel.imap_chunks(lambda c: c[0] * 2, [[i] for i in range(10)], jobs=2, ordered=False))
    assert out == [i * 2 for i in range(10)]


def test_objects_frozen_for_the_fork_are_unfrozen_after() -> None:
    import gc

    seen = parallel.map_chunks(lambda c: gc.get_freeze_count() > 0, [[1], [2]], jobs=2)
    assert seen == [True, True]  # the workers' inherited objects are out of the collector's way
    assert gc.get_freeze_count() == 0  # ... and the parent's are collectable again


def test_fan_out_below_the_threshold_is_one_call_in_this_process() -> None:
    items = list(range(parallel.PARALLEL_MIN_TARGETS - 1))
    calls = list(parallel.fan_out(lambda c: (os.getpid(), len(c)), items, jobs=2))
    assert calls == [(os.getpid(), len(items))]


def test_fan_out_at_the_threshold_forks_and_keeps_the_order() -> None:
    items = list(range(parallel.PARALLEL_MIN_TARGETS))
    out = list(parallel.fan_out(lambda c: (os.getpid(), c), items, jobs=2))
    assert [i for _, chunk in out for i in chunk] == items
    assert len(out) > 1 and os.getpid() not in {pid for pid, _ in out}
    assert all(len(c) >= parallel.MIN_CHUNK for _, c in out[:-1])


def test_fan_out_calls_once_on_nothing_and_honours_a_fixed_size() -> None:
    assert list(parallel.fan_out(len, [], jobs=2)) == [0]
    assert list(parallel.fan_out(len, list(range(10)), jobs=1, size=4)) == [4, 4, 2]


def test_chunk_size_gives_each_worker_about_four_chunks() -> None:
    assert parallel.chunk_size(10_000, jobs=2) == 10_000 // 8 + 1
    assert parallel.chunk_size(100, jobs=8) == parallel.MIN_CHUNK


def test_workers_collect_even_when_the_parent_forked_with_its_collector_paused() -> None:
    import gc

    from cfgc.base.gc_phases import collector_paused

    with collector_paused():
        seen = parallel.map_chunks(lambda c: gc.isenabled(), [[1], [2], [3]], jobs=2)
        assert not gc.isenabled()  # the parent's own state is untouched
    assert seen == [True, True, True]  # a compile in a worker may make cycles: they are collected
