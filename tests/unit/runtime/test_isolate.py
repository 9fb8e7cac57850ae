"""Verification in a forked child (runtime/isolate.py): the same answers and errors, and nothing served from a bad one."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import CfgcError, ExternalError, IntegrityError, UsageError
from cfgc.bundle.signing import verifiers_from
from cfgc.runtime import forked, isolate
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.isolate import KeyStandIn, load_keys, run
from cfgc.runtime.pack import PackedFiles, PackWriter
from cfgc.runtime.sync import Syncer
from tests.unit.runtime.bundles import chat
from tests.unit.runtime.test_sync import Env, FlakyStore, T

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="needs fork and memfd (Linux)")


@pytest.fixture
def env(tmp_path: Path, signing_key: tuple[Path, Path]) -> Env:
    return Env(tmp_path, signing_key)


def isolated(env: Env, **kw: Any) -> Syncer:
    keys = load_keys(lambda: list(env.verifiers))
    return Syncer(env.store, list(keys), "prod", (T,), isolate=True, **kw)


def kept(s: Syncer) -> tuple[Any, ...]:
    """Everything a snapshot keeps of its version, as plain values."""
    snap = s.snapshot
    assert snap is not None
    v = snap.verified
    return (v.pointer, v.pointer_doc, v.etag, list(v.targets), {p: v.files[p] for p in v.files}, dict(snap.manifest),
            {t: snap.targets[t].raw for t in snap.targets})


def test_keys_load_in_a_child_with_the_ids_and_errors_of_the_parent(env: Env, signing_key: tuple[Path, Path]) -> None:
    keys = load_keys(lambda: verifiers_from([signing_key[1], signing_key[0]], []))
    assert [k.keyid for k in keys] == [env.verifiers[0].keyid] * 2  # a private key file gives its public key
    assert all(isinstance(k, KeyStandIn) and b"PRIVATE" not in k.der for k in keys)
    data, sig = b"payload", env.signer.sign(b"payload")
    assert keys[0].verify(data, sig) and not keys[0].verify(data + b"!", sig)
    with pytest.raises(UsageError) as info:
        load_keys(lambda: verifiers_from([env.tmp / "missing.pub"], []))
    with pytest.raises(UsageError) as direct:
        verifiers_from([env.tmp / "missing.pub"], [])
    assert info.value.message == direct.value.message


def test_an_isolated_syncer_serves_what_an_in_process_one_serves(env: Env) -> None:
    env.pub.publish({T: {"n": 1}, "acme/dev/svc": {"n": 0}})
    plain, iso = env.syncer(cache=True), isolated(env, cache_dir=env.tmp / "cache2")
    assert plain.refresh() and iso.refresh()
    assert kept(iso) == kept(plain)
    assert iso.refresh() is False  # unchanged: the conditional read, no child
    env.pub.publish({T: {"n": 2}})
    assert plain.refresh() and iso.refresh()
    assert kept(iso) == kept(plain)
    # The disk cache an isolated syncer wrote loads (in a child too) as the same version.
    again = isolated(env, cache_dir=env.tmp / "cache2")
    assert again.load_cache() and kept(again)[:5] == kept(iso)[:5]
    assert again.snapshot is not None and again.snapshot.origin == "cache"


@pytest.mark.parametrize("case", ["untrusted pointer", "rollback", "tampered target"])
def test_a_refusal_in_the_child_is_the_same_error_and_nothing_is_served(env: Env, case: str) -> None:
    env.pub.publish({T: {"n": 1}})
    old = env.channel_doc()
    plain, iso = env.syncer(cache=False), isolated(env)
    plain.refresh(), iso.refresh()
    first = kept(iso)
    if case == "untrusted pointer":
        env.pub.publish({T: {"n": 2}}, pointer_signers=[env.other_signer()])
    elif case == "rollback":
        env.pub.publish({T: {"n": 2}})
        plain.refresh(), iso.refresh()
        first = kept(iso)
        env.set_channel_doc(old)
    else:
        env.pub.publish({T: {"n": 2}})
        blobs = sorted((env.store.root / "blobs").rglob("*"), key=lambda p: p.stat().st_mtime)
        for b in blobs[-3:]:  # the newest blobs: the new target's (and manifest's) layer
            if b.is_file():
                b.write_bytes(b.read_bytes()[:-1] + b"!")
    errors = []
    for s in (plain, iso):
        with pytest.raises(CfgcError) as info:
            s.refresh()
        errors.append((type(info.value), info.value.message, info.value.exit_code))
    assert errors[0] == errors[1]
    assert issubclass(errors[1][0], RollbackError if case == "rollback" else IntegrityError)
    assert kept(iso) == first  # the version served before
    assert iso.status()["last_error"] == plain.status()["last_error"]
    assert iso.status()["refresh_failures"] == plain.status()["refresh_failures"]


def test_a_killed_child_is_an_error(env: Env) -> None:
    def work() -> tuple[dict[str, Any], list[Any]]:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}, []

    with pytest.raises(ExternalError, match="before its answer was complete"):
        run(work)


def test_a_child_error_keeps_its_class_and_message_and_other_exceptions_their_name() -> None:
    def rollback() -> tuple[dict[str, Any], list[Any]]:
        raise RollbackError("serial 3 is older than 4")

    def bug() -> tuple[dict[str, Any], list[Any]]:
        raise ConnectionResetError("peer reset")

    with pytest.raises(RollbackError) as err:
        run(rollback)
    assert err.value.message == "serial 3 is older than 4" and err.value.exit_code == RollbackError.exit_code
    with pytest.raises(Exception, match="^peer reset$") as info:
        run(bug)
    assert type(info.value).__name__ == "ConnectionResetError" and not isinstance(info.value, CfgcError)


def test_answers_beyond_the_bounds_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def big() -> tuple[dict[str, Any], list[Any]]:
        return {"x": 1}, [b"a" * 1000, b"b" * 1000]

    assert [bytes(b[:1000]) for b in run(big)[1]] == [b"a" * 1000, b"b" * 1000]
    monkeypatch.setattr(isolate, "MAX_ANSWER", 1999)
    with pytest.raises(IntegrityError, match="more than 1999 bytes"):
        run(big)
    monkeypatch.setattr(isolate, "MAX_HEADER", 10)
    with pytest.raises(IntegrityError, match="more than 10"):
        run(big)


@pytest.mark.parametrize("garbage", [b"", b"not the magic line\n" + b"\0" * 8,
                                     isolate.MAGIC + isolate._LEN.pack(5) + b"{nope",
                                     isolate.MAGIC + isolate._LEN.pack(2) + b"[]",
                                     isolate.MAGIC + isolate._LEN.pack(13) + b'{"sizes":[9]}',
                                     isolate.MAGIC + isolate._LEN.pack(25) + b'{"ok":true,"sizes":[100]}'])
def test_a_garbage_answer_is_an_error(monkeypatch: pytest.MonkeyPatch, garbage: bytes) -> None:
    def child(work: Any, w: int) -> None:
        os.write(w, garbage)
        os._exit(0)

    monkeypatch.setattr(isolate, "_child", child)
    with pytest.raises((IntegrityError, ExternalError)):
        run(lambda: ({}, []))


def test_an_answer_that_describes_no_version_is_refused(env: Env) -> None:
    env.pub.publish({T: chat()})  # the target, its prompts and its SOPS file: several spans
    s = env.syncer(cache=False)
    s.refresh()
    assert s.snapshot is not None
    files = s.snapshot.verified.files
    assert isinstance(files, PackedFiles) and len(files) > 2
    header, blobs = forked.verified_answer(s.snapshot.verified)
    fd = os.memfd_create("test", os.MFD_ALLOW_SEALING)
    try:
        os.write(fd, files.data())
        with pytest.raises(IntegrityError, match="unsealed"):
            forked.verified_of(header, blobs, fd)  # a file another process could still write
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, forked.SEALS)
        v = forked.verified_of(header, blobs, fd)  # the answer as sent is a version
        assert v is not None and {p: v.files[p] for p in v.files} == {p: files[p] for p in files}
        for broken in ({**header, "ends": header["ends"][:-1]}, {**header, "targets": ["nope"]},
                       {**header, "pointer": {"channel": "prod"}}, {**header, "other": ["sha256:" + "0" * 64]},
                       {**header, "packed": header["packed"] + 1}, {**header, "packed": -1},
                       {**header, "ends": header["ends"][::-1]}):
            with pytest.raises(IntegrityError, match="malformed answer"):
                forked.verified_of(broken, blobs, fd)
    finally:
        os.close(fd)


def test_a_stuck_child_is_killed_at_the_deadline() -> None:
    def stuck() -> tuple[dict[str, Any], list[Any]]:
        time.sleep(60)
        return {}, []

    started = time.monotonic()
    with pytest.raises(ExternalError, match="did not answer in time"):
        run(stuck, timeout=0.5)
    assert time.monotonic() - started < 10


def _answer(header: bytes) -> Any:
    """What the parent makes of a child's answer with this header (written raw to a pipe)."""
    r, w = os.pipe()
    try:
        os.write(w, isolate.MAGIC + isolate._LEN.pack(len(header)) + header)
        os.close(w)
        return isolate._read_answer(r, time.monotonic() + 5)
    finally:
        os.close(r)


@pytest.mark.parametrize("header", [
    b'{"error": [1], "sizes": []}',
    b'{"error": null, "sizes": []}',
    b'{"error": ["cfgc.base.errors", "MultipleErrors", "x"], "sizes": []}',
    b'{"exception": [1, 2], "sizes": []}',
    b'{"exception": ["not a name", "x"], "sizes": []}',
])
def test_a_malformed_error_answer_is_a_refusal_not_a_crash(header: bytes) -> None:
    with pytest.raises(IntegrityError):
        _answer(header)


def test_a_failed_fork_is_an_environment_error_and_the_agent_polls_on(env: Env,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """EAGAIN (the pod's process limit) at start-up: recorded, and polling starts all the same."""
    import errno

    env.pub.publish({T: {"n": 1}})
    s = isolated(env, cache_dir=env.cache, interval=3600)

    def eagain() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", eagain)
    with pytest.raises(ExternalError, match="could not start the verifying process"):
        run(lambda: ({}, []))
    try:
        s.start(require=False)
        assert s._thread is not None  # polls go on
        assert "could not start the verifying process" in str(s.status().get("last_error"))
    finally:
        s.stop()


class _PortsSeen:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that records the client port of every request."""

    def __init__(self) -> None:
        import http.server
        import threading

        seen: list[int] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                seen.append(self.client_address[1])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.seen = seen
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("forget", [True, False])
def test_a_child_never_uses_the_parents_pooled_connection(forget: bool) -> None:
    """A child that used the parent's keep-alive connection would leave the parent's TLS state out of
    step (its next request fails); the child drops the inherited pool and opens its own."""
    from cfgc.stores.oci import OciStore
    from cfgc.stores.oci_http import Registry

    srv = _PortsSeen()
    try:
        store = OciStore(Registry(f"127.0.0.1:{srv.port}"), "r")
        assert store.registry.request("GET", "/v2/").status == 200

        def child() -> tuple[dict[str, Any], list[Any]]:
            if forget:
                store.forget_connections()
            store.registry.request("GET", "/v2/")
            return {}, []

        run(child)
        assert store.registry.request("GET", "/v2/").status == 200  # the parent's connection still works
        parent_port, child_port, parent_again = srv.seen
        assert parent_again == parent_port
        assert (child_port != parent_port) is forget
    finally:
        srv.server.shutdown()
        srv.server.server_close()


def test_the_verifying_child_drops_inherited_connections(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    """forked.fetch calls forget_connections in the child (the parent keeps its pool)."""
    mark = tmp_path / "forgot"

    def forget(self: Any) -> None:
        mark.write_text(str(os.getpid()))

    monkeypatch.setattr(type(env.store), "forget_connections", forget)
    env.pub.publish({T: {"n": 1}})
    s = isolated(env)
    assert s.refresh() is True and s.snapshot is not None
    assert int(mark.read_text()) != os.getpid()


def test_an_answer_is_read_on_a_descriptor_above_select_limit() -> None:
    """An agent with many client connections holds descriptors past 1,023, where select() fails."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip("needs more than 1,100 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    held = []
    try:
        while True:  # fill the descriptor table below 1,030 so the answer's pipe lands above it
            fd = os.open(os.devnull, os.O_RDONLY)
            held.append(fd)
            if fd >= 1030:
                break
        header, blobs = run(lambda: ({"n": 1}, [b"x"]))
        assert header["n"] == 1 and blobs == [b"x"]
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# Another process of the agent's user: it opens the version's memfd through /proc/<agent>/fd while
# the child verifies, holds it, and once told to (the file "go") rewrites or truncates it.
_HOLDER = r"""
import glob, os, sys, time
pid, go, how = sys.argv[1], sys.argv[2], sys.argv[3]
fd = None
while fd is None:
    for p in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            if "memfd:cfgc-version" in os.readlink(p):
                fd = os.open(p, os.O_RDWR)
                break
        except OSError:
            pass
print("holding", flush=True)
while not os.path.exists(go):
    time.sleep(0.02)
try:
    if how == "rewrite":
        data = os.pread(fd, 4096, 0)
        os.pwrite(fd, data.replace(b'"n":1', b'"n":9'), 0)
    else:
        os.ftruncate(fd, 0)
    print("done", flush=True)
except OSError as e:
    print("refused", e.errno, flush=True)
"""


@pytest.mark.parametrize("how", ["rewrite", "truncate"])
def test_a_process_holding_the_memfd_cannot_change_or_truncate_what_is_served(
        env: Env, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    env.pub.publish({T: {"n": 1}})
    real = FlakyStore.get_blob

    def slow(self: FlakyStore, *args: Any, **kw: Any) -> Any:  # the child holds the memfd a while
        time.sleep(0.3)
        return real(self, *args, **kw)

    monkeypatch.setattr(FlakyStore, "get_blob", slow)
    go = env.tmp / "go"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(os.getpid()), str(go), how],
                              stdout=subprocess.PIPE, text=True)
    try:
        s = isolated(env)
        assert s.refresh()
        assert s.snapshot is not None
        served = bytes(s.snapshot.targets[T].raw)
        assert b'"n":1' in served.replace(b" ", b"")
        go.touch()
        out, _ = holder.communicate(timeout=30)
    finally:
        holder.kill()
    assert out.split("\n")[:2] == ["holding", "refused 1"]  # EPERM: the seals
    assert bytes(s.snapshot.targets[T].raw) == served  # (a truncation would have been SIGBUS here)


def test_a_memfd_written_or_mapped_by_another_process_before_the_seal_is_refused() -> None:
    data, digest = b'{"n": 1}', "sha256:" + __import__("hashlib").sha256(b'{"n": 1}').hexdigest()
    header = {"paths": ["targets/t.json"], "ends": [len(data)], "packed": len(data)}
    for case in ("written", "mapped", "truncated"):
        fd = os.memfd_create("cfgc-version", os.MFD_ALLOW_SEALING)
        try:
            w = PackWriter(len(data), fd)
            w.add("targets/t.json", data, digest)
            digests = w.digests
            if case == "written":
                os.pwrite(fd, b"9", 6)  # after the write, before the seal
            elif case == "truncated":
                os.ftruncate(fd, 1)
            if case != "mapped":
                del w  # the child's own writable map goes first (forked._sealed)
            with pytest.raises(IntegrityError, match="changed|cannot be sealed"):
                forked._seal(fd, header, digests)
            if case == "mapped":
                del w
        finally:
            os.close(fd)
