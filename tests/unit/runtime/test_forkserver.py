"""The agent's verifying children come from a fork server started before any thread (runtime/forkserver.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import ExternalError
from cfgc.runtime import forked, forkserver, served
from cfgc.runtime.fetch import fetch
from cfgc.runtime.isolate import load_keys
from cfgc.runtime.sync import Syncer
from tests.unit.runtime.bundles import chat
from tests.unit.runtime.test_isolate import kept
from tests.unit.runtime.test_sync import Env, FlakyStore, T

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="needs fork and memfd (Linux)")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path: Path, signing_key: tuple[Path, Path]) -> Env:
    return Env(tmp_path, signing_key)


@pytest.fixture
def syncers() -> Iterator[list[Syncer]]:
    made: list[Syncer] = []
    yield made
    for s in made:
        if s.server is not None:
            s.server.close()


def isolated(env: Env, made: list[Syncer], server: bool = True, **kw: Any) -> Syncer:
    s = Syncer(env.store, list(load_keys(lambda: list(env.verifiers))), "prod", (T,), isolate=True, **kw)
    made.append(s)
    if server:
        s.start_fork_server()
    return s


def test_a_served_syncer_serves_what_an_in_process_one_serves_and_reads_only_new_blobs(
        env: Env, syncers: list[Syncer], monkeypatch: pytest.MonkeyPatch) -> None:
    reads = env.tmp / "reads"

    def counted(self: FlakyStore, digest: str, *args: Any, **kw: Any) -> bytes:
        with open(reads, "a") as f:  # the child's reads: the parent's list is not the child's
            f.write(digest + "\n")
        return FlakyStore.__mro__[1].get_blob(self, digest, *args, **kw)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(FlakyStore, "get_blob", counted)
    env.pub.publish({T: chat(1), "acme/dev/svc": {"n": 0}})
    plain = env.syncer(cache=False)
    for cache in (None, env.tmp / "cache-served"):  # the current version's memfd, then the disk cache too
        s = isolated(env, syncers, cache_dir=cache)
        assert plain.refresh() in (True, False) and s.refresh()
        assert kept(s) == kept(plain)
        assert s.refresh() is False
    env.pub.publish({T: chat(2)})  # the target changes; its prompts and SOPS file do not
    assert plain.refresh()
    reads.write_text("")
    assert syncers[0].refresh()
    assert kept(syncers[0]) == kept(plain)
    # Only the changed target (and the manifest) were read: the rest came from the served version's memfd.
    assert 1 <= len(reads.read_text().split()) <= 2
    again = isolated(env, syncers, cache_dir=env.tmp / "cache-served")
    assert again.load_cache() and again.snapshot is not None and again.snapshot.origin == "cache"
    assert kept(again)[:5] == kept(syncers[1])[:5]


_LOCK = threading.Lock()  # stands for any lock another thread of the agent holds (a pool's, a Syncer's)


@pytest.mark.parametrize("server", [True, False])
def test_a_lock_another_thread_holds_does_not_reach_the_verifier(env: Env, syncers: list[Syncer],
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   server: bool) -> None:
    real = FlakyStore.get_version

    def locked(self: FlakyStore, version: str) -> bytes | None:
        if not _LOCK.acquire(timeout=3):  # forked while held: never released in the child
            raise ExternalError("the verifier found a lock held forever")
        _LOCK.release()
        return real(self, version)

    monkeypatch.setattr(FlakyStore, "get_version", locked)
    env.pub.publish({T: {"n": 1}})
    s = isolated(env, syncers, server=server)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with _LOCK:
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        held.wait(5)
        if server:
            assert s.refresh() and s.snapshot is not None
        else:  # the hazard the server removes: a child forked from this multi-threaded process
            with pytest.raises(ExternalError, match="held forever"):
                s.refresh()
    finally:
        release.set()
        t.join()


@pytest.mark.parametrize("server", [True, False])
def test_the_verifier_holds_no_socket_the_agent_opened_after_start(env: Env, syncers: list[Syncer],
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    server: bool) -> None:
    seen = env.tmp / "fds"
    real = FlakyStore.get_version

    def listing(self: FlakyStore, version: str) -> bytes | None:
        links = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                links.append(os.readlink(f"/proc/self/fd/{fd}"))
        seen.write_text("\n".join(links))
        return real(self, version)

    monkeypatch.setattr(FlakyStore, "get_version", listing)
    env.pub.publish({T: {"n": 1}})
    s = isolated(env, syncers, server=server)
    listener = socket.create_server(("127.0.0.1", 0))  # the agent's port and a client, opened after start
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    try:
        assert s.refresh()
        inodes = {f"socket:[{os.fstat(x.fileno()).st_ino}]" for x in (listener, client, conn)}
        assert bool(inodes & set(seen.read_text().split("\n"))) is not server
    finally:
        for x in (listener, client, conn):
            x.close()


def test_the_manifest_crosses_the_pipe_once(env: Env) -> None:
    env.pub.publish({T: chat(1)})
    v = fetch(env.store, env.verifiers, "prod", (T,), etag=None, min_serial=0, current=None, cached=lambda d: None)
    assert v is not None and v.new_blobs[v.pointer.manifest_digest] == v.manifest_raw  # read from the store
    header, blobs = forked.verified_answer(v)
    assert sum(b == v.manifest_raw for b in blobs) == 1
    fd = os.memfd_create("test", os.MFD_ALLOW_SEALING)
    try:
        files = v.files
        os.write(fd, files.data())  # type: ignore[attr-defined]
        import fcntl
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, forked.SEALS)
        back = forked.verified_of(header, blobs, fd)
        assert back is not None and dict(back.new_blobs) == dict(v.new_blobs)
    finally:
        os.close(fd)


def test_a_gone_server_is_an_error_and_not_alive(env: Env, syncers: list[Syncer]) -> None:
    env.pub.publish({T: {"n": 1}})
    s = isolated(env, syncers)
    assert s.refresh() and s.server is not None and s.server.alive()
    os.kill(s.server.pid, signal.SIGKILL)
    env.pub.publish({T: {"n": 2}})
    with pytest.raises(ExternalError, match="could not start the verifying process"):
        s.refresh()
    assert not s.server.alive()
    assert s.snapshot is not None and b'"n":1' in bytes(s.snapshot.targets[T].raw).replace(b" ", b"")


_ORPHAN = r"""
import os, sys, time
sys.path.insert(0, ROOT)
from cfgc.runtime import forkserver
server = forkserver.start(None)
print(server.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["killed", "closed"])
def test_the_server_dies_with_the_agent(how: str) -> None:
    if how == "closed":
        server = forkserver.start(None)
        server.close()  # EOF: it exits, and close reaps it
        with pytest.raises(ProcessLookupError):
            os.kill(server.pid, 0)
        return
    agent = subprocess.Popen([sys.executable, "-c", _ORPHAN.replace("ROOT", repr(str(ROOT)))],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert agent.stdout is not None
        pid = int(agent.stdout.readline())
        os.kill(pid, 0)
        agent.kill()  # SIGKILL: no clean-up runs in the agent
        agent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        agent.kill()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_request_beyond_the_bounds_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forkserver, "MAX_REQUEST", 10)
    server = forkserver.start(None)
    try:
        with pytest.raises(ExternalError, match="fork server is gone"):
            server.run(served._load, fds=())
        assert not server.alive()
    finally:
        server.close()


def test_a_child_without_progress_is_killed_long_before_the_deadline_and_a_busy_one_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.runtime import isolate

    monkeypatch.setattr(isolate, "IDLE", 0.8)

    def stuck() -> tuple[dict[str, Any], list[Any]]:
        held = threading.Lock()
        held.acquire()
        held.acquire(timeout=60)  # as a lock held at fork time: it waits, computes nothing
        return {}, []

    def busy() -> tuple[dict[str, Any], list[Any]]:
        end = time.monotonic() + 2.5  # three IDLE periods of work, no answer yet
        while time.monotonic() < end:
            pass
        return {"done": True}, []

    started = time.monotonic()
    with pytest.raises(ExternalError, match="made no progress in 0.8 s"):
        isolate.run(stuck, timeout=60)
    assert time.monotonic() - started < 10
    assert isolate.run(busy, timeout=60)[0]["done"] is True
    server = forkserver.start(None)
    try:
        started = time.monotonic()
        with pytest.raises(ExternalError, match="made no progress"):
            server.run(_stuck_in_server, timeout=60)
        assert time.monotonic() - started < 10 and server.alive()
    finally:
        server.close()


def _stuck_in_server(ctx: Any, fds: list[int]) -> tuple[dict[str, Any], list[Any]]:
    time.sleep(60)
    return {}, []


def test_a_child_receiving_slowly_from_a_socket_is_not_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes from recv() are not in /proc/PID/io, and a waiting child uses almost
    no CPU: its wake-ups are what show the download moving."""
    from cfgc.runtime import isolate

    monkeypatch.setattr(isolate, "IDLE", 0.8)
    a, b = socket.socketpair()

    def trickle() -> None:
        for _ in range(12):  # 200 B every 0.2 s: about three IDLE periods in all
            time.sleep(0.2)
            b.sendall(b"x" * 200)
        b.close()

    def receive() -> tuple[dict[str, Any], list[Any]]:
        b.close()  # (the child's copy of the sending end: the parent's close is then the end)
        got = 0
        while chunk := a.recv(4096):
            got += len(chunk)
        return {"bytes": got}, []

    feeder = threading.Thread(target=trickle)
    feeder.start()
    try:
        assert isolate.run(receive, timeout=60)[0]["bytes"] == 2400
    finally:
        feeder.join()
        a.close()


def _inline_age_key(ctx: Any, fds: list[int]) -> tuple[dict[str, Any], list[Any]]:
    return {"key": os.environ.get("SOPS_AGE_KEY")}, []


def test_an_inline_age_key_is_not_in_the_servers_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY", "AGE-SECRET-KEY-1CANARYCANARYCANARY")

    class Store:
        def forget_connections(self) -> None:
            pass

    context = served.Context(store=Store(), verifiers=[], cache=None)  # type: ignore[arg-type]
    server = forkserver.start(context, context.prepare)
    try:
        assert server.run(_inline_age_key)[0]["key"] is None
        assert os.environ["SOPS_AGE_KEY"].endswith("CANARY")  # the agent keeps its own
    finally:
        server.close()


def test_a_request_that_cannot_be_pickled_leaks_no_descriptor() -> None:
    server = forkserver.start(None)
    try:
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            with pytest.raises(Exception):  # noqa: B017, PT011 - pickle's own error, whatever its class
                server.run(lambda ctx, fds: ({}, []))
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        server.close()
