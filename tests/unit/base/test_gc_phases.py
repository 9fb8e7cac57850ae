"""cfgc.base.gc_phases.collector_paused: off inside, restored after (also after an error)."""

from __future__ import annotations

import gc

import pytest

from cfgc.base.gc_phases import collector_paused


@pytest.fixture(autouse=True)
def _restore_collector():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_off_inside_and_as_it_was_after(enabled: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled


def test_an_error_inside_restores_the_collector() -> None:
    gc.enable()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("x")
    assert gc.isenabled()


def test_nested_phases_leave_it_on_only_at_the_outermost() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def _cycle_collected_after(fanout: object) -> bool:
    """Whether a cycle that is garbage during a fan-out is collected once it is done."""
    import weakref

    from cfgc.base import parallel

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    ref = weakref.ref(a)
    del a, b
    list(parallel.imap_chunks(len, [[1]] * 4, jobs=2))
    gc.collect()
    return ref() is None


def test_a_fan_out_leaves_a_host_s_own_freeze_alone() -> None:
    # A host that froze its objects for good: a fan-out froze the garbage of the moment too,
    # for good (it could not unfreeze without releasing the host's).
    gc.collect()
    gc.freeze()
    try:
        host = gc.get_freeze_count()
        assert _cycle_collected_after(None)
        assert gc.get_freeze_count() == host
    finally:
        gc.unfreeze()


def test_a_fan_out_inside_an_owning_scope_leaves_the_unfreeze_to_it() -> None:
    from cfgc.base import parallel
    from cfgc.base.gc_phases import frozen_scope

    with frozen_scope() as freeze:
        freeze()
        list(parallel.imap_chunks(len, [[1]] * 4, jobs=2))
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
