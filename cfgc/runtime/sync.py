"""The engine under the client and the agent: poll, verify, cache, swap, notify.

One :class:`Syncer` follows one channel of one store for a set of targets
(exact names or globs).  ``refresh()`` polls once; ``start()`` loads the cache,
polls, and keeps polling on a daemon thread.  The current
:class:`~cfgc.runtime.snapshot.BundleSnapshot` is replaced by one reference
assignment after the new version verified and was written to the cache;
change callbacks run after the swap, on the polling thread.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cfgc.base.errors import CfgcError, ExternalError
from cfgc.base.jsonvalue import JSONObject
from cfgc.bundle.signing import Verifier
from cfgc.runtime import forked, forkserver, served
from cfgc.runtime.cache import BundleCache, CacheError
from cfgc.runtime.fetch import Verified, fetch
from cfgc.runtime.forkserver import ForkServer
from cfgc.runtime.freshness import PointerPolicy
from cfgc.runtime.health import Metrics, reason_of
from cfgc.runtime.memory import release_memory
from cfgc.runtime.snapshot import PARSED_MAX, BundleSnapshot
from cfgc.stores import Store, open_store
from cfgc.stores.base import check_channel

log = logging.getLogger("cfgc.runtime")


@dataclass(frozen=True)
class ChangeEvent:
    """A new version was swapped in."""

    old_version: str | None
    new_version: str
    serial: int
    snapshot: BundleSnapshot = field(repr=False)


def open_source(url: str, timeout: float = 10.0) -> Store:
    """The store a runtime reads from, with bounded network timeouts."""
    return open_store(url, must_exist=True, s3_timeout=timeout)


class Syncer:
    """Follow one channel; hold the current verified snapshot."""

    def __init__(self, store: Store, verifiers: list[Verifier], channel: str, patterns: tuple[str, ...],
                 cache_dir: Path | None = None, interval: float = 30.0, stale_after: float | None = None,
                 policy: PointerPolicy | None = None, parsed_max: int = PARSED_MAX, isolate: bool = False) -> None:
        if not verifiers:
            raise ValueError("a runtime needs at least one trusted key")
        self.store = store
        self.verifiers = verifiers
        self.channel = channel
        self.patterns = patterns
        self.interval = interval
        self.parsed_max = parsed_max  # parsed targets kept per version (snapshot.ParsedCache)
        self.isolate = isolate  # verify each version in a forked child (runtime/isolate.py)
        self.server: ForkServer | None = None  # the children's parent, once start_fork_server ran
        self.stale_after = stale_after if stale_after is not None else max(3 * interval, 1.0)
        self.cache = BundleCache(cache_dir, store.url, channel, patterns) if cache_dir is not None else None
        self.metrics = Metrics()
        # Without a policy: signature, channel, legacy and expiry checks only; serials kept in memory.
        self.policy = policy if policy is not None else PointerPolicy(store.url)
        self._expired = False  # last expiry state logged (log once per transition, not per poll)
        self.snapshot: BundleSnapshot | None = None
        self.serial_seen = 0
        self._callbacks: list[Callable[[ChangeEvent], object]] = []
        self._refresh_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_touch = 0.0

    # -- lifecycle -----------------------------------------------------------
    def load_cache(self) -> bool:
        """Serve the cached version (re-verified) if there is one; False if none is usable."""
        try:
            return self._load_cache()
        finally:
            release_memory()  # the whole manifest parsed to verify it is garbage now

    def _load_cache(self) -> bool:
        if self.cache is None:
            return False
        self.serial_seen = max(self.serial_seen, self.cache.serial_seen())
        try:
            loaded, not_json = self._cache_load()
        except CfgcError as e:
            self._failed(CacheError(f"cache unusable: {e.message}"), "cache")
            return False
        except Exception as e:  # noqa: BLE001 - e.g. the verifying child's MemoryError: the source is next
            self._failed(CacheError(f"cache unusable: {type(e).__name__}: {e}"), "cache")
            return False
        if loaded is None:
            return False
        v, fetched_at = loaded
        try:
            self.policy.check(v.pointer, allow_expired=True)  # the last good version, even expired
        except CfgcError as e:
            self._failed(CacheError(f"cache unusable: {e.message}"), "cache")
            return False
        self.serial_seen = max(self.serial_seen, v.pointer.serial)
        self._swap(forked.build(v, "cache", self.parsed_max, not_json, self.isolate))
        with self._stats_lock:
            self.metrics.last_success = fetched_at
        log.info("serving cached version %s (serial %d) of channel %s", v.version, v.pointer.serial, self.channel)
        self._note_expiry()
        return True

    def start_fork_server(self) -> None:
        """Fork the verifying children from a server started now (before any thread: forkserver.py)."""
        if self.isolate and self.server is None:
            ctx = served.Context(self.store, self.verifiers, self.cache)
            self.server = forkserver.start(ctx, ctx.prepare)

    def start(self, require: bool = True, load_cache: bool = True) -> None:
        """Load the cache, poll once, then poll every ``interval`` seconds in the background.

        With ``require``, raise the poll's error when neither the source nor
        the cache gave a verified version.
        """
        try:
            if load_cache:
                self.load_cache()
            try:
                self.refresh()
            except CfgcError:
                if require and self.snapshot is None:
                    raise
        finally:
            # Whatever the first poll met (a failed fork is an ExternalError, but a bug must not
            # turn one bad start into an agent that never polls again), the polls go on.
            self.start_polling()

    def start_polling(self) -> None:
        """Poll every ``interval`` seconds on a daemon thread (the first poll one interval from now)."""
        if self._thread is None:
            # started before it is published: a signal handler that calls stop()
            # in between must never join a thread that has not started
            thread = threading.Thread(target=self._run, name=f"cfgc-sync-{self.channel}", daemon=True)
            thread.start()
            self._thread = thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def on_change(self, callback: Callable[[ChangeEvent], object]) -> None:
        self._callbacks.append(callback)

    def _run(self) -> None:
        while not self._stop.wait(self.interval * random.uniform(0.9, 1.1)):
            try:
                self.refresh()
            except CfgcError:
                pass  # recorded in the metrics and logged
            except Exception:  # noqa: BLE001 - the poller must survive anything
                log.exception("unexpected error while refreshing channel %s", self.channel)

    # -- polling -------------------------------------------------------------
    def _lookup(self, snap: BundleSnapshot | None) -> Callable[[str], bytes | None]:
        """Content by digest: the current version's files first, then the disk cache (forked.lookup)."""
        return forked.lookup(snap.verified.files if snap is not None else None, self.cache)

    def refresh(self) -> bool:
        """Poll the channel once; True if a new version was swapped in.

        Raises the failure (also recorded in the metrics); the current version stays.
        """
        changed: bool | None = None
        with self._refresh_lock:
            try:
                changed = self._refresh()
            finally:
                if changed is not False:
                    # The old version (or a refused new one) is garbage once _refresh returned.
                    release_memory()
        return bool(changed)

    def _refresh(self) -> bool:
        now = time.time()
        with self._stats_lock:
            self.metrics.polls += 1
            self.metrics.last_attempt = now
        held = self.snapshot
        try:
            v, not_json = self._fetch(held)
            if v is not None:
                self.policy.record(v.pointer)  # after every byte verified, before it is served
                snap = forked.build(v, "source", self.parsed_max, not_json, self.isolate)
        except CfgcError as e:
            self._failed(e, reason_of(e))
            raise
        except Exception as e:  # noqa: BLE001 - e.g. a truncated HTTP response
            err = ExternalError(f"reading channel {self.channel} from {self.store.url} failed: "
                                f"{type(e).__name__}: {e}")
            self._failed(err, "unreachable")
            raise err from None
        if v is None:
            if self.snapshot is not None and self.snapshot.origin != "source":
                self._swap(dataclasses.replace(self.snapshot, origin="source"))  # confirmed current
            with self._stats_lock:
                self.metrics.unchanged += 1
                self.metrics.last_success = time.time()
                self.metrics.last_error = self.metrics.last_error_reason = None
            if self.cache is not None and time.time() - self._last_touch > max(self.interval, 60.0):
                self._last_touch = time.time()
                self._save(None)
            self._note_expiry()
            return False
        self.serial_seen = max(self.serial_seen, v.pointer.serial)
        self._save(v)
        old = self.snapshot
        self._swap(snap)
        with self._stats_lock:
            self.metrics.updates += 1
            self.metrics.last_success = self.metrics.last_update = time.time()
            self.metrics.last_error = self.metrics.last_error_reason = None
        log.info("channel %s: now at version %s (serial %d)", self.channel, snap.version, snap.serial)
        self._note_expiry()
        event = ChangeEvent(old.version if old else None, snap.version, snap.serial, snap)
        for cb in list(self._callbacks):
            try:
                cb(event)
            except Exception:  # noqa: BLE001 - a callback must not stop the updates
                log.exception("on_change callback %r failed", cb)
        return True

    def _cache_load(self) -> tuple[tuple[Verified, float] | None, str | None]:
        """``BundleCache.load`` here or in a child; and why a target is not JSON, when isolated."""
        assert self.cache is not None
        if not self.isolate:
            return self.cache.load(self.verifiers), None
        if self.server is not None:
            return served.load_cache(self.server)
        return forked.load_cache(self.cache, self.verifiers)

    def _fetch(self, held: BundleSnapshot | None) -> tuple[Verified | None, str | None]:
        """Poll once (fetch.fetch), the verification in a child when isolated; and as _cache_load."""
        current = held.verified if held is not None else None
        etag = current.etag if current is not None else None
        if not self.isolate:
            return fetch(self.store, self.verifiers, self.channel, self.patterns, etag=etag,
                         min_serial=self.serial_seen, current=current, cached=self._lookup(held),
                         check=self.policy.check), None
        # The conditional read of the pointer here: an unchanged channel forks nothing.
        read = self.store.get_channel(check_channel(self.channel), etag)
        if read.not_modified:
            return None, None
        if self.server is not None:
            v, not_json = served.fetch(self.server, self.channel, self.patterns, read, min_serial=self.serial_seen,
                                       current=current, policy=self.policy)
        else:
            v, not_json = forked.fetch(self.store, self.verifiers, self.channel, self.patterns, read,
                                       min_serial=self.serial_seen, current=current, cached=self._lookup(held),
                                       check=self.policy.check)
        if v is not None:
            self.policy.check(v.pointer)  # as the child did; this process's state is what it records
        return v, not_json

    def _save(self, v: Verified | None) -> None:
        if self.cache is None:
            return
        try:
            if v is None:
                self.cache.touch(self.snapshot.verified.etag if self.snapshot else None)
            else:
                self.cache.save(v, self.serial_seen)
        except OSError as e:
            self._failed(ExternalError(f"cannot write the cache {self.cache.root}: {e.strerror}"), "cache")

    def _note_expiry(self) -> None:
        snap = self.snapshot
        expired = snap is not None and snap.verified.pointer.expired()
        if expired != self._expired:
            self._expired = expired
            p = snap.verified.pointer if snap is not None else None
            if expired and p is not None:
                log.warning("channel %s: the pointer to version %s expired at %s; still serving it, reported stale "
                            "(a frozen store, or CI stopped running `cfgc channel refresh`)",
                            self.channel, p.version, p.expires)
            else:
                log.info("channel %s: the pointer is fresh again", self.channel)

    def _swap(self, snap: BundleSnapshot) -> None:
        self.snapshot = snap

    def _failed(self, e: CfgcError, reason: str) -> None:
        with self._stats_lock:
            m = self.metrics
            m.failures[reason] = m.failures.get(reason, 0) + 1
            if reason in ("verification", "rollback"):
                m.verification_failures += 1
            if reason == "rollback":
                m.rollback_rejections += 1
            if reason == "cache":
                m.cache_failures += 1
            m.last_error, m.last_error_reason = e.message, reason
        keep = f"; keeping version {self.snapshot.version}" if self.snapshot else ""
        log.warning("channel %s: %s failure: %s%s", self.channel, reason, e.message, keep)

    # -- status --------------------------------------------------------------
    def status(self) -> JSONObject:
        """What an SRE wants to see: version, serial, freshness, failures."""
        snap = self.snapshot
        now = time.time()
        with self._stats_lock:
            m = self.metrics
            age = now - m.last_success if m.last_success is not None else None
            p = snap.verified.pointer if snap else None
            expired = p is not None and p.expired(now)
            return {
                "channel": self.channel, "source": self.store.url, "ready": snap is not None,
                "version": snap.version if snap else None, "serial": snap.serial if snap else None,
                "serial_seen": self.serial_seen, "origin": snap.origin if snap else None,
                "loaded_at": snap.loaded_at if snap else None,
                "last_attempt": m.last_attempt, "last_success": m.last_success, "last_update": m.last_update,
                "staleness_seconds": age,
                "stale": snap is None or age is None or age > self.stale_after or m.last_error is not None
                or expired,
                "expired": expired, "repository": p.repository if p else None,
                "pointer_issued": p.issued if p else None, "pointer_expires": p.expires if p else None,
                "pointer_expires_at": p.expires_at() if p else None,
                "last_error": m.last_error, "last_error_reason": m.last_error_reason,
                "polls": m.polls, "unchanged_polls": m.unchanged, "updates": m.updates,
                "refresh_failures": dict(m.failures), "verification_failures": m.verification_failures,
                "rollback_rejections": m.rollback_rejections, "cache_failures": m.cache_failures,
                "cache_corrupt_blobs": self.cache.corrupt_blobs if self.cache else 0,
            }
