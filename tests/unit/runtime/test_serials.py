"""The serial state file: monotonic per (repository, channel), atomic, locked, never silently reset."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import stat
import time
from pathlib import Path

import pytest

from cfgc.base.errors import EXIT_INTEGRITY, IntegrityError
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.freshness import ExpiredError, LegacyPointerError, PointerPolicy
from cfgc.runtime.serials import SerialState, StateFileError
from cfgc.stores.pointer import Pointer, format_time

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def ptr(serial: int, repo: str = "acme", channel: str = "prod", digest: str = D1, expires_in: float = 3600) -> Pointer:
    now = time.time()
    return Pointer(channel, digest[7:19], digest, serial, None, repo, format_time(now - 60),
                   format_time(now + expires_in))


def test_record_is_monotonic_per_repository_and_channel(tmp_path: Path) -> None:
    st = SerialState(tmp_path / "s" / "serials.json")
    st.record(ptr(5), "file:///x")
    st.record(ptr(5), "file:///x")  # the same pointer again is fine
    with pytest.raises(RollbackError, match="older than serial 5"):
        st.record(ptr(4), "file:///x")
    with pytest.raises(RollbackError, match="forked"):
        st.record(ptr(5, digest=D2), "file:///x")
    st.record(ptr(1, repo="globex"), "file:///y")  # other repository: its own counter
    st.record(ptr(1, channel="staging"), "file:///x")
    assert st.seen("acme", "prod").serial == 5 and st.seen("globex", "prod").serial == 1  # type: ignore[union-attr]
    assert st.pinned("file:///x", "prod") == "acme"
    assert stat.S_IMODE(st.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(st.path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "other"}',
                                     b'{"format": "cfgc.runtime-serials/v1", "channels": {"a#b": {"serial": "9"}},'
                                     b' "pins": {}}'])
def test_corrupt_state_file_is_refused_not_reset(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "serials.json"
    path.write_bytes(content)
    st = SerialState(path)
    with pytest.raises(StateFileError, match="Restore it from a backup") as e:
        st.record(ptr(1), "file:///x")
    assert e.value.exit_code == EXIT_INTEGRITY
    assert path.read_bytes() == content  # left for the operator, not overwritten
    with pytest.raises(StateFileError):
        PointerPolicy("file:///x", None, st).check(ptr(1))


def _writer(path: str, start: int, n: int) -> None:
    st = SerialState(Path(path))
    for s in range(start, start + n):
        # RollbackError: another process recorded a higher serial first, which is correct
        with contextlib.suppress(RollbackError):
            st.record(ptr(s, digest="sha256:" + f"{s:064x}"), "file:///x")


def test_concurrent_writers_never_lose_the_highest_serial(tmp_path: Path) -> None:
    path = tmp_path / "serials.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), i * 10, 25)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    state = json.loads(path.read_bytes())
    assert state["channels"]["acme#prod"]["serial"] == 3 * 10 + 24
    assert not [x for x in path.parent.iterdir() if x.name.startswith(".serials.json.tmp-")]


def test_policy_refuses_legacy_cross_repository_old_and_expired(tmp_path: Path) -> None:
    st = SerialState(tmp_path / "serials.json")
    policy = PointerPolicy("file:///x", None, st, min_serial=2)
    legacy = Pointer("prod", "0" * 12, D1, 9)
    with pytest.raises(LegacyPointerError, match="channel refresh"):
        policy.check(legacy)
    with pytest.raises(RollbackError, match="older than serial 2"):
        policy.check(ptr(1))
    policy.check(ptr(3))
    policy.record(ptr(3))  # pins file:///x prod -> acme
    with pytest.raises(IntegrityError, match="repository 'globex'"):
        policy.check(ptr(7, repo="globex"))
    with pytest.raises(IntegrityError, match="repository 'acme'"):
        PointerPolicy("file:///x", "globex", st).check(ptr(7))
    with pytest.raises(ExpiredError, match="expired at"):
        policy.check(ptr(4, expires_in=-1))
    policy.check(ptr(4, expires_in=-1), allow_expired=True)
    PointerPolicy("file:///x", None, st, allow_expired=True).check(ptr(4, expires_in=-1))
