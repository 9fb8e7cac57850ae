"""A call on a thread of its own gives its value or its exception to the caller, and never outlives the block."""

from __future__ import annotations

import threading

import pytest

from cfgc.review.background import Background


def test_the_value_and_the_exception_reach_the_caller() -> None:
    assert Background(lambda: 41 + 1).result() == 42

    def fails() -> int:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        Background(fails).result()


def test_the_block_waits_for_the_call_whatever_happens_in_it() -> None:
    release = threading.Event()
    done: list[int] = []

    def slow() -> None:
        release.wait(5)
        done.append(1)

    with pytest.raises(RuntimeError), Background(slow):
        threading.Timer(0.05, release.set).start()
        raise RuntimeError("the caller fails first")
    assert done == [1]  # joined on the way out
