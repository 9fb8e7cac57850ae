"""cfgc.base.forkpool (through cfgc.base.parallel.imap_chunks): forked workers without threads here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cfgc.base import forkpool, parallel
from cfgc.base.errors import ExternalError

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="needs fork workers")
ROOT = Path(__file__).resolve().parents[3]


def _children() -> set[int]:
    """This process's live (or unreaped) children."""
    pid = os.getpid()
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return {int(p) for p in f.read().split()}


def _run(script: str) -> str:
    """What ``script`` prints, run by a Python of its own from the repo root (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


needs_proc = pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task"), reason="needs /proc")


def test_no_thread_runs_in_this_process_while_workers_work() -> None:
    # multiprocessing.Pool's worker handler spun on the result pipe: 1.6 s of the
    # parent's CPU at 100,000 targets.  No thread may start here (other tests may have left theirs).
    before = threading.active_count()
    seen = [threading.active_count() for _ in parallel.imap_chunks(len, [[1]] * 20, jobs=2)]
    assert seen == [before] * 20


def test_ordered_results_keep_the_chunks_order_whatever_finishes_first() -> None:
    def slow_first(chunk: list[int]) -> int:
        time.sleep(0.05 if chunk[0] % 3 == 0 else 0)
        return chunk[0]

    chunks = [[i] for i in range(30)]
    assert list(parallel.imap_chunks(slow_first, chunks, jobs=3)) == list(range(30))
    assert sorted(parallel.imap_chunks(slow_first, chunks, jobs=3, ordered=False)) == list(range(30))


def test_large_results_travel_whole() -> None:
    big = list(parallel.imap_chunks(lambda c: bytes([c[0]]) * (3 << 20), [[1], [2], [3]], jobs=2))
    assert [len(b) for b in big] == [3 << 20] * 3 and [b[-1] for b in big] == [1, 2, 3]


def test_an_exception_in_a_worker_is_raised_here_with_its_type() -> None:
    def fail_on_five(chunk: list[int]) -> int:
        if chunk[0] == 5:
            raise ExternalError("five")
        return chunk[0]

    with pytest.raises(ExternalError, match="five"):
        list(parallel.imap_chunks(fail_on_five, [[i] for i in range(10)], jobs=2))


def test_an_exception_that_cannot_be_pickled_arrives_as_its_text() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    def fail(chunk: list[int]) -> int:
        raise Local("local failure")

    with pytest.raises(OSError, match="Local: local failure"):
        list(parallel.imap_chunks(fail, [[1], [2]], jobs=2))


@needs_proc
def test_every_worker_is_reaped_however_the_consumer_stops() -> None:
    before = _children()
    it = parallel.imap_chunks(lambda c: time.sleep(0.01) or c[0], [[i] for i in range(50)], jobs=2)
    assert next(it) == 0
    it.close()  # a consumer that stops early (an error of its own, Ctrl-C)
    assert _children() == before
    list(parallel.imap_chunks(len, [[1]] * 10, jobs=2))
    assert _children() == before


def test_a_worker_that_dies_is_an_external_error_not_a_wait_forever() -> None:
    # multiprocessing.Pool waited forever for the result of a worker killed mid-chunk
    # (the out-of-memory killer); the build must end with exit 4 instead.
    script = (
        "import os, signal\n"
        "from cfgc.base import parallel\n"
        "from cfgc.base.errors import ExternalError\n"
        "def work(c):\n"
        "    if c[0] == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return c[0]\n"
        "try:\n"
        "    list(parallel.imap_chunks(work, [[i] for i in range(8)], jobs=2))\n"
        "except ExternalError as e:\n"
        "    print('external:', e.message)\n"
    )
    assert "external: a worker process ended without its result" in _run(script)


def test_a_worker_goes_on_to_its_next_chunk_while_this_process_is_busy(tmp_path: Path) -> None:
    # It must never wait for this process between two chunks: with one position
    # held, chunk 2 would only be sent once the consumer (asleep here) came back.
    awake = tmp_path / "consumer-awake"

    def note(chunk: list[int]) -> bool:
        return awake.exists()

    # One worker, so which positions it holds decides alone (two would hide one held).
    results = forkpool.imap(note, [[0], [1], [2]], 1, True, start=lambda: None)
    first = next(results)
    time.sleep(1.0)  # the consumer is busy: the workers go on without it
    awake.touch()
    assert [first, *results] == [False, False, False]


def test_an_interrupt_at_the_fork_still_stops_and_reaps_the_worker() -> None:
    # Ctrl-C landing between fork() and the worker being recorded left it running, unreaped.
    # In a process of its own: the test runner's workers handle SIGINT their own way.
    script = (
        "import os, signal\n"
        "from cfgc.base import forkpool, parallel\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # inherited as ignored under xdist\n"
        "real_fork, forks = os.fork, []\n"
        "def fork():\n"
        "    pid = real_fork()\n"
        "    if pid:\n"
        "        forks.append(pid)\n"
        "        os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C right after the fork returns\n"
        "    return pid\n"
        "forkpool.os.fork = fork\n"
        "fds = len(os.listdir('/proc/self/fd'))\n"
        "try:\n"
        "    list(parallel.imap_chunks(len, [[1]] * 10, jobs=2))\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
        "me = os.getpid()\n"
        "kids = open(f'/proc/{me}/task/{me}/children').read().split()\n"
        "print('forked', len(forks), 'left', len(kids), 'fds', len(os.listdir('/proc/self/fd')) - fds)\n"
    )
    assert _run(script).splitlines() == ["interrupted", "forked 1 left 0 fds 0"]


def test_a_pool_ends_even_when_another_child_holds_its_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A child forked elsewhere in this process (another thread's pool, a host's fork) may hold
    # a copy of a worker's positions pipe: the worker is told to end, not left waiting for EOF.
    class Forgetful(set[int]):
        def update(self, *_: object) -> None:  # children then close nothing (as a fork no hook sees)
            pass

    monkeypatch.setattr(forkpool, "_LIVE", Forgetful())
    done: list[str] = []

    def slow() -> None:
        list(parallel.imap_chunks(lambda c: time.sleep(4.0), [[1]] * 2, jobs=2))
        done.append("slow")

    quick = parallel.imap_chunks(lambda c: time.sleep(0.3), [[1]] * 4, jobs=2)
    next(quick)  # its workers and pipes exist
    other = threading.Thread(target=slow)
    other.start()  # its workers are forked with copies of the quick pool's pipes
    time.sleep(0.3)
    list(quick)
    assert done == []  # the quick pool did not wait for the slow one's workers to end
    other.join()
    assert done == ["slow"]
