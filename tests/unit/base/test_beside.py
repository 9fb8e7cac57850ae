"""cfgc.base.beside: work done in a forked child gives what it gives in this process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from cfgc.base.beside import Beside, HelperLost
from cfgc.base.parallel import can_fork

forks = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


@pytest.mark.parametrize("fork", [pytest.param(True, marks=forks), False])
def test_a_value_and_an_error_come_back_as_in_this_process(fork: bool) -> None:
    big = {f"k{i}": (i, i * 2, str(i)) for i in range(50_000)}  # more than a pipe holds at once
    assert Beside(lambda: big, fork=fork).result() == big

    def fail() -> None:
        raise ValueError("no")

    side = Beside(fail, fork=fork)
    with pytest.raises(ValueError, match="no"):
        side.result()
    side.wait()  # waiting again after the result is harmless


@forks
def test_the_child_runs_in_another_process_and_never_unwinds_into_the_caller(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    try:
        side = Beside(os.getpid, fork=True)
        assert side.result() != os.getpid()
    finally:
        marker.write_text(marker.read_text() + "x" if marker.exists() else "x")
    assert marker.read_text() == "x"  # the caller's finally ran once, in this process only


@forks
def test_a_child_killed_before_its_result_is_an_os_error() -> None:
    side = Beside(lambda: os.kill(os.getpid(), signal.SIGKILL), fork=True)
    with pytest.raises(OSError, match="ended without its result"):
        side.result()


@forks
def test_an_exception_that_cannot_be_pickled_travels_as_its_text() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    def fail() -> None:
        raise Local("kept text")

    with pytest.raises(OSError, match="Local: kept text"):
        Beside(fail, fork=True).result()


@forks
def test_a_wait_cut_short_never_touches_the_descriptor_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the parent reads the child's result: the caller's later wait() is a
    no-op, and the freed descriptor number (by then another file's) is never closed twice."""
    from cfgc.base import beside

    side = Beside(lambda: time.sleep(0.2) or 1, fork=True)
    real_read = os.read
    calls = []

    def interrupted(fd: int, n: int) -> bytes:
        calls.append(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(beside.os, "read", interrupted)
    with pytest.raises(KeyboardInterrupt):
        side.result()
    monkeypatch.setattr(beside.os, "read", real_read)
    other = os.open(os.devnull, os.O_RDONLY)  # most likely the number the pipe had
    try:
        side.wait()
        os.fstat(other)  # still open: wait() did not close it
        with pytest.raises(HelperLost, match="interrupted"):
            side.result()
    finally:
        os.close(other)
    assert len(calls) == 1


@forks
def test_a_host_that_ignores_sigchld_still_gets_the_result() -> None:
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert Beside(lambda: 42, fork=True).result() == 42
    finally:
        signal.signal(signal.SIGCHLD, old)
