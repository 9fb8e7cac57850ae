"""Syncer: poll, verify, cache, swap, notify — and every failure keeping the last good version.

Real signed bundles in a real file store; the store is wrapped (FlakyStore) only
to make it fail on demand.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import CfgcError, ExternalError, IntegrityError
from cfgc.bundle.signing import Signer, generate_keypair, load_signer, load_verifier
from cfgc.runtime import sync as sync_module
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.freshness import ExpiredError, PointerPolicy, runtime_policy
from cfgc.runtime.sync import ChangeEvent, Syncer, open_source
from cfgc.stores.base import ChannelRead
from cfgc.stores.bounds import MANIFEST_MAX
from cfgc.stores.file import FileStore
from cfgc.stores.publish import PointerTerms, publish, refresh_channel
from tests.unit.runtime.bundles import Publisher

T = "acme/prod/svc"


class FlakyStore(FileStore):
    """A file store that raises ``fail`` on every channel read while it is set, and counts blob reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fail: BaseException | None = None
        self.blobs: list[str] = []
        self.versions = 0

    def get_channel(self, name: str, etag: str | None = None) -> ChannelRead:
        if self.fail is not None:
            raise self.fail
        return super().get_channel(name, etag)

    def get_version(self, version: str) -> bytes | None:
        self.versions += 1
        return super().get_version(version)

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        self.blobs.append(digest)
        return super().get_blob(digest, max_bytes)


class Env:
    def __init__(self, tmp: Path, key: tuple[Path, Path]) -> None:
        self.tmp = tmp
        self.store = FlakyStore(tmp / "store")
        self.signer = load_signer(key[0])
        self.pub = Publisher(self.store, tmp, self.signer)
        self.verifiers = [load_verifier(key[1])]
        self.cache = tmp / "cache"

    def syncer(self, cache: bool = True, **kw: Any) -> Syncer:
        return Syncer(self.store, list(self.verifiers), "prod", (T,), cache_dir=self.cache if cache else None, **kw)

    def channel_doc(self) -> bytes:
        return (self.store.root / "channels" / "prod.json").read_bytes()

    def set_channel_doc(self, doc: bytes) -> None:
        (self.store.root / "channels" / "prod.json").write_bytes(doc)

    def other_signer(self) -> Signer:
        return load_signer(generate_keypair(self.tmp / "other")[0])


@pytest.fixture
def env(tmp_path: Path, signing_key: tuple[Path, Path]) -> Env:
    return Env(tmp_path, signing_key)


def test_a_runtime_without_a_trusted_key_is_refused(env: Env) -> None:
    with pytest.raises(ValueError, match="^a runtime needs at least one trusted key$"):
        Syncer(env.store, [], "prod", (T,))


def test_refresh_swaps_in_each_new_version_then_notifies(env: Env) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    events: list[tuple[ChangeEvent, str | None]] = []
    s.on_change(lambda e: events.append((e, s.snapshot.version if s.snapshot else None)))
    assert s.status()["ready"] is False and s.status()["stale"] is True
    assert s.status()["serial_seen"] == 0  # nothing seen yet
    assert s.refresh() is True
    assert s.snapshot is not None and s.snapshot.version == v1 and s.snapshot.origin == "source"
    assert [(e.old_version, e.new_version, e.serial, seen) for e, seen in events] == [(None, v1, 1, v1)]
    assert events[0][0].snapshot is s.snapshot
    assert s.refresh() is False  # unchanged: no event
    v2 = env.pub.publish({T: {"n": 2}})
    assert s.refresh() is True
    # The callback runs after the swap: it sees the new version as current.
    assert [(e.old_version, e.new_version, e.serial, seen) for e, seen in events[1:]] == [(v1, v2, 2, v2)]
    st = s.status()
    assert (st["version"], st["serial"], st["serial_seen"], st["origin"]) == (v2, 2, 2, "source")
    assert (st["polls"], st["unchanged_polls"], st["updates"]) == (3, 1, 2)
    assert st["ready"] is True and st["stale"] is False and st["expired"] is False
    assert st["last_error"] is None and st["refresh_failures"] == {}
    assert st["last_update"] is not None and st["last_success"] >= st["last_update"] >= st["last_attempt"] - 1
    assert 0 <= st["staleness_seconds"] < 5
    p = s.snapshot.verified.pointer
    assert (st["repository"], st["pointer_issued"], st["pointer_expires"]) == (p.repository, p.issued, p.expires)
    assert st["pointer_expires_at"] == p.expires_at() and st["source"] == env.store.url and st["channel"] == "prod"
    assert st["loaded_at"] == s.snapshot.loaded_at and st["cache_corrupt_blobs"] == 0


def test_a_failing_callback_neither_stops_the_others_nor_the_update(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    seen: list[str] = []

    def boom(e: ChangeEvent) -> None:
        raise RuntimeError("callback bug")

    s.on_change(boom)
    s.on_change(lambda e: seen.append(e.new_version))
    with caplog.at_level(logging.ERROR, "cfgc.runtime"):
        assert s.refresh() is True
    assert s.snapshot is not None and seen == [s.snapshot.version]
    assert [r.getMessage() for r in caplog.records] == [f"on_change callback {boom!r} failed"]
    assert s.status()["last_error"] is None


def test_a_pointer_signed_by_an_untrusted_key_is_refused_and_the_old_version_kept(env: Env) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    s.refresh()
    env.pub.publish({T: {"n": 2}}, pointer_signers=[env.other_signer()])
    with pytest.raises(IntegrityError) as info:
        s.refresh()
    assert info.value.exit_code == 5
    assert s.snapshot is not None and s.snapshot.version == v1
    st = s.status()
    assert st["last_error_reason"] == "verification" and st["last_error"] == info.value.message
    assert st["refresh_failures"] == {"verification": 1} and st["verification_failures"] == 1
    assert st["rollback_rejections"] == 0 and st["cache_failures"] == 0
    assert st["stale"] is True  # the source could not be confirmed
    assert st["version"] == v1


def test_a_replayed_older_pointer_is_a_rollback(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    old = env.channel_doc()
    v2 = env.pub.publish({T: {"n": 2}})
    s = env.syncer(cache=False)
    s.refresh()
    env.set_channel_doc(old)
    with pytest.raises(RollbackError) as info:
        s.refresh()
    assert info.value.exit_code == 5
    st = s.status()
    assert s.snapshot is not None and s.snapshot.version == v2
    assert st["refresh_failures"] == {"rollback": 1}
    assert (st["rollback_rejections"], st["verification_failures"]) == (1, 1)
    assert st["last_error_reason"] == "rollback"


def test_a_restarted_runtime_refuses_a_rollback_below_the_cached_serial(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    old = env.channel_doc()
    env.pub.publish({T: {"n": 2}})
    env.syncer().refresh()  # caches serial 2
    env.set_channel_doc(old)
    fresh = env.syncer(policy=PointerPolicy(env.store.url))  # no serial state: only the cache remembers
    fresh.start(require=True)  # the cached version serves; the source's rollback is refused
    fresh.stop()
    assert fresh.serial_seen == 2 and fresh.snapshot is not None and fresh.snapshot.serial == 2
    assert fresh.status()["last_error_reason"] == "rollback"
    with pytest.raises(RollbackError):
        fresh.refresh()


def test_unchanged_poll_after_recovery_clears_the_error(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    s.refresh()
    env.store.fail = ExternalError("store down")
    with pytest.raises(ExternalError):
        s.refresh()
    assert s.status()["stale"] is True and s.status()["last_error"] == "store down"
    env.store.fail = None
    assert s.refresh() is False
    st = s.status()
    assert st["last_error"] is None and st["last_error_reason"] is None and st["stale"] is False
    assert st["refresh_failures"] == {"unreachable": 1}


@pytest.mark.parametrize(
    ("fail", "reason", "code"),
    [
        (ExternalError("store down"), "unreachable", 4),
        (IntegrityError("bad bytes"), "verification", 5),
        (ExpiredError("too old"), "expired", 5),
        (CfgcError("odd"), "invalid", 3),
    ],
)
def test_a_cfgc_error_from_the_store_is_raised_as_is_and_counted_by_reason(
    env: Env, fail: CfgcError, reason: str, code: int
) -> None:
    env.store.fail = fail
    s = env.syncer(cache=False)
    with pytest.raises(CfgcError) as info:
        s.refresh()
    assert info.value is fail and info.value.exit_code == code
    st = s.status()
    assert st["refresh_failures"] == {reason: 1} and st["last_error_reason"] == reason
    assert st["verification_failures"] == (1 if reason == "verification" else 0)


def test_any_other_exception_is_an_external_error_naming_channel_and_store(env: Env) -> None:
    env.store.fail = ConnectionResetError("peer reset")
    s = env.syncer(cache=False)
    with pytest.raises(ExternalError) as info:
        s.refresh()
    assert info.value.exit_code == 4
    assert info.value.message == (f"reading channel prod from {env.store.url} failed: "
                                  "ConnectionResetError: peer reset")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    st = s.status()
    assert st["refresh_failures"] == {"unreachable": 1} and st["last_error"] == info.value.message
    assert (st["polls"], st["updates"], st["unchanged_polls"]) == (1, 0, 0)
    assert st["last_success"] is None and st["staleness_seconds"] is None


def test_start_serves_the_cache_when_the_source_is_down_then_confirms_it(env: Env) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    first = env.syncer()
    first.refresh()
    fetched = first.status()["last_success"]
    env.store.fail = ExternalError("store down")
    s = env.syncer()
    s.start(require=True)  # the cache answers: no error
    s.stop()
    assert s.snapshot is not None and s.snapshot.version == v1 and s.snapshot.origin == "cache"
    st = s.status()
    assert st["ready"] is True and st["stale"] is True and st["last_error_reason"] == "unreachable"
    assert st["last_success"] == pytest.approx(fetched, abs=1.0) and st["serial_seen"] == 1
    env.store.fail = None
    assert s.refresh() is False  # the source has the cached version: confirmed, not a change
    assert s.snapshot.version == v1 and s.snapshot.origin == "source" and s.status()["stale"] is False


def test_start_without_cache_or_source(env: Env) -> None:
    env.store.fail = ExternalError("store down")
    s = env.syncer()
    with pytest.raises(ExternalError, match="store down"):
        s.start(require=True)
    s.stop()
    relaxed = env.syncer()
    relaxed.start(require=False)
    relaxed.stop()
    assert relaxed.snapshot is None and relaxed.status()["ready"] is False and relaxed.status()["stale"] is True
    assert env.syncer(cache=False).load_cache() is False


def test_start_without_loading_the_cache_asks_the_source(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    env.syncer().refresh()
    env.store.fail = ExternalError("store down")
    s = env.syncer()
    with pytest.raises(ExternalError):
        s.start(require=True, load_cache=False)
    s.stop()
    assert s.snapshot is None


def test_an_unusable_cache_is_reported_and_not_served(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    env.syncer().refresh()
    state = next((env.cache / "state").glob("*.json"))
    state.write_text("{not json")
    s = env.syncer()
    assert s.load_cache() is False and s.snapshot is None
    st = s.status()
    assert st["refresh_failures"] == {"cache": 1} and st["cache_failures"] == 1
    assert st["last_error"].startswith("cache unusable: cache ") and "unreadable" in st["last_error"]
    assert st["verification_failures"] == 0


def test_a_cached_version_the_policy_refuses_is_not_served(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    env.syncer().refresh()
    s = env.syncer(policy=PointerPolicy(env.store.url, min_serial=5))
    assert s.load_cache() is False and s.snapshot is None
    st = s.status()
    assert st["refresh_failures"] == {"cache": 1} and st["last_error"].startswith("cache unusable: channel prod")


def test_an_expired_cached_version_is_still_served_and_reported(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    v1 = publish(env.store, env.pub.bundle({T: {"n": 1}}), "prod", [env.signer],
                 terms=PointerTerms(expires_in=60)).version
    env.syncer().refresh()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    s = env.syncer()
    with caplog.at_level(logging.INFO, "cfgc.runtime"):
        assert s.load_cache() is True
    assert s.snapshot is not None and s.snapshot.version == v1
    st = s.status()
    assert st["expired"] is True and st["stale"] is True
    p = s.snapshot.verified.pointer
    assert caplog.records[-1].getMessage() == (
        f"channel prod: the pointer to version {v1} expired at {p.expires}; still serving it, reported stale "
        "(a frozen store, or CI stopped running `cfgc channel refresh`)")
    # The source still has that pointer (same ETag): confirmed, still expired, still stale.
    assert s.refresh() is False
    assert s.snapshot.origin == "source" and s.status()["expired"] is True and s.status()["stale"] is True
    assert s.status()["last_error"] is None


def test_a_new_expired_pointer_from_the_source_is_refused(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    s.refresh()
    publish(env.store, env.pub.bundle({T: {"n": 2}}), "prod", [env.signer], terms=PointerTerms(expires_in=60))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    with pytest.raises(ExpiredError) as info:
        s.refresh()
    assert info.value.exit_code == 5
    assert s.status()["last_error_reason"] == "expired" and s.snapshot is not None and s.snapshot.version == v1


def test_expiry_is_logged_once_per_transition(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    publish(env.store, env.pub.bundle({T: {"n": 1}}), "prod", [env.signer], terms=PointerTerms(expires_in=60))
    s = env.syncer(policy=PointerPolicy(env.store.url, allow_expired=True))
    with caplog.at_level(logging.INFO, "cfgc.runtime"):
        s.refresh()
        assert "expired" not in caplog.text and "fresh again" not in caplog.text
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3600)
        s.refresh()
        s.refresh()
        assert caplog.text.count("expired at") == 1 and s.status()["expired"] is True
        monkeypatch.setattr(time, "time", real)
        publish(env.store, env.pub.bundle({T: {"n": 2}}), "prod", [env.signer], terms=PointerTerms(expires_in=60))
        s.refresh()
        s.refresh()
    assert [r.getMessage() for r in caplog.records if "fresh again" in r.getMessage()] == [
        "channel prod: the pointer is fresh again"]
    assert s.status()["expired"] is False


def test_a_cache_write_failure_is_counted_but_the_new_version_served(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    s = env.syncer()
    assert s.cache is not None

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(s.cache, "save", full)
    with caplog.at_level(logging.WARNING, "cfgc.runtime"):
        assert s.refresh() is True and s.snapshot is not None and s.snapshot.version == v1
    assert [r.getMessage() for r in caplog.records] == [
        f"channel prod: cache failure: cannot write the cache {env.cache}: No space left on device"]
    st = s.status()
    assert st["cache_failures"] == 1 and st["refresh_failures"] == {"cache": 1}
    assert st["last_error"] is None  # the poll itself succeeded after the cache failure
    assert s.load_cache() is False  # nothing was written


def test_unchanged_polls_touch_the_cache_at_most_once_a_minute(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(interval=0.01)
    s.refresh()
    assert s.cache is not None and s.snapshot is not None
    touched: list[str | None] = []
    monkeypatch.setattr(s.cache, "touch", touched.append)
    s.refresh()
    s.refresh()
    assert touched == [s.snapshot.verified.etag]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60.5)  # a minute, not the 10 ms interval
    s.refresh()
    assert len(touched) == 2


def test_an_unchanged_poll_writes_the_fetch_time_into_the_cache(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 1000)
    s.refresh()
    monkeypatch.setattr(time, "time", real)
    s.refresh()
    env.store.fail = ExternalError("down")
    later = env.syncer()
    assert later.load_cache() is True
    assert later.status()["last_success"] == pytest.approx(real(), abs=30)


def test_a_new_version_reads_only_the_blobs_it_does_not_have(env: Env) -> None:
    other = "acme/prod/other"
    env.pub.publish({T: {"n": 1}, other: {"m": 1}})
    s = Syncer(env.store, env.verifiers, "prod", (T, other), cache_dir=env.cache)
    s.refresh()
    env.store.blobs.clear()
    env.pub.publish({T: {"n": 2}, other: {"m": 1}})
    assert s.refresh() is True
    assert len(env.store.blobs) == 1  # T's new file only: the other comes from the current version
    env.store.blobs.clear()
    restarted = Syncer(env.store, env.verifiers, "prod", (T, other), cache_dir=env.cache)
    env.pub.publish({T: {"n": 3}, other: {"m": 1}})
    assert restarted.refresh() is True
    assert len(env.store.blobs) == 1  # the unchanged file comes from the disk cache
    snap = restarted.snapshot
    assert snap is not None and snap.file(f"targets/{other}.json") == s.snapshot.file(f"targets/{other}.json")


def test_the_poller_keeps_polling_through_errors_at_the_interval_with_jitter(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    s = env.syncer(cache=False, interval=10.0)
    waits: list[float] = []
    outcomes: list[BaseException | None] = [ExternalError("down"), RuntimeError("bug"), None]
    calls: list[int] = []

    class Clock:
        def wait(self, timeout: float) -> bool:
            waits.append(timeout)
            return len(waits) > len(outcomes)  # stop after the last outcome

        def set(self) -> None:
            pass

    def refresh() -> bool:
        calls.append(1)
        err = outcomes[len(calls) - 1]
        if err is not None:
            raise err
        return True

    monkeypatch.setattr(s, "_stop", Clock())
    monkeypatch.setattr(s, "refresh", refresh)
    with caplog.at_level(logging.ERROR, "cfgc.runtime"):
        s._run()
    assert len(calls) == 3
    assert all(9.0 <= w <= 11.0 for w in waits) and len(set(waits)) > 1
    assert [r.getMessage() for r in caplog.records] == ["unexpected error while refreshing channel prod"]
    assert caplog.records[0].exc_info is not None  # with the traceback: a bug, not an outage


@pytest.mark.parametrize("jitter", ["low", "high"])
def test_the_poll_interval_is_jittered_by_ten_percent_either_way(
    env: Env, monkeypatch: pytest.MonkeyPatch, jitter: str
) -> None:
    s = env.syncer(cache=False, interval=10.0)
    waits: list[float] = []

    class Once:
        def wait(self, timeout: float) -> bool:
            waits.append(timeout)
            return True

    monkeypatch.setattr(s, "_stop", Once())
    monkeypatch.setattr(sync_module.random, "uniform", lambda a, b: a if jitter == "low" else b)
    s._run()
    assert waits == [pytest.approx(9.0 if jitter == "low" else 11.0)]


def test_start_requires_a_version_by_default(env: Env) -> None:
    env.store.fail = ExternalError("store down")
    s = env.syncer(cache=False)
    with pytest.raises(ExternalError):
        s.start()
    s.stop()


def test_the_background_thread_follows_the_channel_until_stopped(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False, interval=0.02)
    s.start()
    try:
        assert s._thread is not None and s._thread.daemon and s._thread.name == "cfgc-sync-prod"
        v2 = env.pub.publish({T: {"n": 2}})
        deadline = time.monotonic() + 10
        while (s.snapshot is None or s.snapshot.version != v2) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert s.snapshot is not None and s.snapshot.version == v2
    finally:
        s.stop()
    assert s._thread is not None and not s._thread.is_alive()
    thread = s._thread
    s.start()  # a second start polls again but keeps the one thread
    assert s._thread is thread


def test_stop_from_a_callback_on_the_polling_thread_does_not_wait_for_itself(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False, interval=0.01)
    done = threading.Event()
    s.start()
    s.on_change(lambda e: (s.stop(timeout=30), done.set()))
    env.pub.publish({T: {"n": 2}})
    assert done.wait(10)  # a join on itself would raise (and be logged) instead of returning


def test_open_source_opens_an_existing_file_store(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    store = open_source(env.store.url)
    assert store.url == env.store.url and type(store) is FileStore


def test_module_logger_is_the_runtime_logger() -> None:
    assert sync_module.log.name == "cfgc.runtime"


def test_an_unchanged_poll_reads_only_the_pointer(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    s.refresh()
    env.store.versions = 0
    env.store.blobs.clear()
    held = s.snapshot
    assert s.refresh() is False and s.refresh() is False
    assert env.store.versions == 0 and env.store.blobs == []
    assert s.snapshot is held  # not even replaced by an equal copy: readers holding it see no change
    assert s.status()["unchanged_polls"] == 2


def test_staleness_comes_after_three_intervals_or_a_second(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.pub.publish({T: {"n": 1}})
    # A clock that moves only when told: on a loaded machine real seconds pass
    # between the refreshes and the checks, and 0.5 s ahead would read as 1.5.
    base = time.time()
    monkeypatch.setattr(time, "time", lambda: base)
    slow, fast = env.syncer(cache=False, interval=10.0), env.syncer(cache=False, interval=0.01)
    slow.refresh()
    fast.refresh()
    for ahead, slow_stale, fast_stale in ((0.5, False, False), (1.5, False, True), (29, False, True),
                                          (31, True, True)):
        monkeypatch.setattr(time, "time", lambda ahead=ahead: base + ahead)
        assert (slow.status()["stale"], fast.status()["stale"]) == (slow_stale, fast_stale), ahead
    assert env.syncer(cache=False, interval=10.0, stale_after=100).status()["stale"] is True


def test_what_is_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    with caplog.at_level(logging.INFO, "cfgc.runtime"):
        s = env.syncer()
        s.refresh()
        env.store.fail = ExternalError("store down")
        with pytest.raises(ExternalError):
            s.refresh()
        again = env.syncer()
        again.load_cache()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"channel prod: now at version {v1} (serial 1)",
                     f"channel prod: unreachable failure: store down; keeping version {v1}",
                     f"serving cached version {v1} (serial 1) of channel prod"]
    caplog.clear()
    with caplog.at_level(logging.INFO, "cfgc.runtime"):
        env.syncer(cache=False).load_cache()
        with pytest.raises(ExternalError):
            env.syncer(cache=False).refresh()
    assert [r.getMessage() for r in caplog.records] == ["channel prod: unreachable failure: store down"]


def test_memory_is_released_after_a_swap_or_a_failure_not_after_an_unchanged_poll(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[int] = []
    monkeypatch.setattr(sync_module, "release_memory", lambda: released.append(1))
    env.pub.publish({T: {"n": 1}})
    s = env.syncer()
    assert s.load_cache() is False and len(released) == 1  # the cache is read (or not) then released
    s.refresh()
    assert len(released) == 2
    s.refresh()
    assert len(released) == 2
    env.store.fail = ExternalError("down")
    with pytest.raises(ExternalError):
        s.refresh()
    assert len(released) == 3


def test_serials_are_recorded_in_the_policy_state(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    old = env.channel_doc()
    env.pub.publish({T: {"n": 2}})
    state = env.tmp / "serials.json"
    env.syncer(cache=False, policy=runtime_policy(env.store.url, state_file=state)).refresh()
    env.set_channel_doc(old)
    later = env.syncer(cache=False, policy=runtime_policy(env.store.url, state_file=state))
    with pytest.raises(RollbackError):
        later.refresh()


def test_a_corrupt_cached_blob_is_counted(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    env.syncer().refresh()
    for blob in (env.cache / "blobs" / "sha256").iterdir():
        blob.write_bytes(b"garbage")
    s = env.syncer()
    assert s.load_cache() is False
    assert s.status()["cache_corrupt_blobs"] >= 1 and s.status()["cache_failures"] == 1


def test_open_source_bounds_the_s3_client_timeouts() -> None:
    store = open_source("s3://cfgc-bucket/prefix", timeout=3.0)
    cfg = store._client.meta.config  # type: ignore[attr-defined]
    assert (cfg.connect_timeout, cfg.read_timeout) == (3.0, 3.0)
    assert cfg.retries == {"total_max_attempts": 3, "mode": "standard"}  # 2 retries: botocore counts the first
    default = open_source("s3://cfgc-bucket/prefix")._client.meta.config  # type: ignore[attr-defined]
    assert (default.connect_timeout, default.read_timeout) == (10.0, 10.0)


def test_a_missing_file_store_is_an_external_error_not_an_empty_channel(env: Env) -> None:
    s = Syncer(open_source((env.tmp / "nowhere").as_uri()), env.verifiers, "prod", (T,))
    with pytest.raises(ExternalError, match="store file:.* does not exist: no directory ") as info:
        s.refresh()
    assert info.value.exit_code == 4 and s.status()["last_error_reason"] == "unreachable"


def test_the_parsed_target_bound_holds_for_source_and_cache_versions(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(parsed_max=3)
    s.refresh()
    assert s.snapshot is not None and s.snapshot.parsed.bound == 3
    cached = env.syncer(parsed_max=2)
    assert cached.load_cache() is True and cached.snapshot is not None and cached.snapshot.parsed.bound == 2


def test_failures_are_counted_each_time_and_by_each_reason(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    old = env.channel_doc()
    env.pub.publish({T: {"n": 2}})
    s = env.syncer(cache=False)
    s.refresh()
    env.set_channel_doc(old)
    for _ in range(2):
        with pytest.raises(RollbackError):
            s.refresh()
    env.store.fail = ExternalError("down")
    with pytest.raises(ExternalError):
        s.refresh()
    st = s.status()
    assert st["refresh_failures"] == {"rollback": 2, "unreachable": 1}
    assert (st["rollback_rejections"], st["verification_failures"], st["cache_failures"]) == (2, 2, 0)
    env.store.fail = None
    env.syncer().refresh()  # fills the cache
    (next((env.cache / "state").glob("*.json"))).write_text("{")
    broken = env.syncer()
    broken.load_cache()
    broken.load_cache()
    assert broken.status()["cache_failures"] == 2 and broken.status()["refresh_failures"] == {"cache": 2}


def test_without_a_disk_cache_a_new_version_reads_only_the_blobs_the_current_one_lacks(env: Env) -> None:
    other = "acme/prod/other"
    env.pub.publish({T: {"n": 1}, other: {"m": 1}})
    s = Syncer(env.store, env.verifiers, "prod", (T, other))
    s.refresh()
    env.store.blobs.clear()
    env.pub.publish({T: {"n": 2}, other: {"m": 1}})
    assert s.refresh() is True and len(env.store.blobs) == 1  # the unchanged file comes from memory
    assert s.snapshot is not None and s.snapshot.file(f"targets/{other}.json") is not None


def test_a_re_signed_pointer_to_the_current_version_downloads_nothing_else(env: Env) -> None:
    v1 = env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False)
    s.refresh()
    refresh_channel(env.store, "prod", [env.signer])  # same version, serial 2
    env.store.blobs.clear()
    assert s.refresh() is True
    assert s.snapshot is not None and (s.snapshot.version, s.snapshot.serial) == (v1, 2)
    assert env.store.blobs == []


def test_a_forked_channel_naming_another_version_at_the_same_serial_is_refused(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    first = env.channel_doc()
    v2 = env.pub.publish({T: {"n": 2}})
    second = env.channel_doc()
    env.set_channel_doc(first)
    env.pub.publish({T: {"n": 3}})  # serial 2 again, another version
    fork = env.channel_doc()
    env.set_channel_doc(second)
    s = env.syncer(cache=False)
    s.refresh()
    env.set_channel_doc(fork)
    with pytest.raises(RollbackError, match="forked"):
        s.refresh()
    assert s.snapshot is not None and (s.snapshot.version, s.snapshot.serial) == (v2, 2)
    assert s.status()["rollback_rejections"] == 1


def test_stop_waits_for_an_in_flight_poll_at_most_its_timeout(env: Env) -> None:
    env.pub.publish({T: {"n": 1}})
    s = env.syncer(cache=False, interval=0.01)
    entered, release = threading.Event(), threading.Event()
    s.start()
    s.on_change(lambda e: (entered.set(), release.wait(10)))
    env.pub.publish({T: {"n": 2}})
    try:
        assert entered.wait(10)
        began = time.monotonic()
        s.stop(timeout=0.2)
        assert time.monotonic() - began < 5  # did not wait for the stuck callback
    finally:
        release.set()


def test_stop_bounds_its_wait_to_five_seconds_by_default(env: Env) -> None:
    # The client's close() and the agent's shutdown call stop() without a timeout.
    s = env.syncer(cache=False)
    joined: list[float | None] = []

    class Stuck:
        def join(self, timeout: float | None = None) -> None:
            joined.append(timeout)

    s._thread = Stuck()  # type: ignore[assignment]
    s.stop()
    assert joined == [5.0]


def test_staleness_is_strictly_after_stale_after_which_overrides_the_interval(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.pub.publish({T: {"n": 1}})
    t0 = float(int(time.time()))  # whole seconds: t0 + n is exact
    monkeypatch.setattr(time, "time", lambda: t0)
    s = env.syncer(cache=False, interval=10.0, stale_after=100.0)
    s.refresh()
    for ahead, stale in ((50.0, False), (100.0, False), (100.5, True)):
        monkeypatch.setattr(time, "time", lambda ahead=ahead: t0 + ahead)
        assert s.status()["stale"] is stale, ahead


def test_the_cache_is_touched_only_once_more_than_a_minute_passed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.pub.publish({T: {"n": 1}})
    t0 = float(int(time.time()))
    monkeypatch.setattr(time, "time", lambda: t0)
    s = env.syncer()
    s.refresh()
    assert s.cache is not None
    touched: list[str | None] = []
    monkeypatch.setattr(s.cache, "touch", touched.append)
    s.refresh()
    assert len(touched) == 1
    for ahead, count in ((60.0, 1), (60.5, 2)):
        monkeypatch.setattr(time, "time", lambda ahead=ahead: t0 + ahead)
        s.refresh()
        assert len(touched) == count, ahead
