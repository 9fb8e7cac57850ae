"""Verifying a version in a short-lived forked child: the agent never holds the manifest's garbage.

Why: verifying a version parses the whole bundle manifest (about 20x its bytes in Python
objects: 60 MB for 10,000 targets) to keep the few entries of the targets served.  Freed, that
garbage still fragmented the heap, and the signature check imported cryptography (6 to 8 MB of
RSS, most of it its Rust extension's pages).  A sidecar serving 0.7 MB of targets sat at 42 MB at
ready, above its 41.4 MB budget (benchmarks/agent_memory.py; 30 MB with this).  Here a forked
child does all of it (runtime/forked.py says what it sends back) and exits; the agent never
imports cryptography.

The child is the parent's own code, so the answer is trusted as far as its meaning goes, but it is
read as hostile bytes all the same: a magic line, bounded lengths (:data:`MAX_HEADER`,
:data:`MAX_ANSWER`), a deadline (:data:`TIMEOUT`, or :data:`IDLE` without progress, then the
child is killed), and a child that
dies, answers garbage or more than the bounds is an error; nothing of such an answer is served.
A child's error comes back as the same error class (found among the loaded :class:`CfgcError`
subclasses) with the same message, so status, metrics and logs read as before.  While it runs,
the child's memory counts in the pod's (the manifest's parse, as before, but in a process of its
own that gives it all back when it exits).  :func:`run` forks from the calling process (keys at
start, before any thread; tests): the child inherits its threads' locks and its sockets.  The
agent's verifying children come from its fork server instead (runtime/forkserver.py), which has
neither.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cfgc.base.errors import CfgcError, ExternalError, IntegrityError

MAGIC = b"cfgc-isolated-answer-1\n"
MAX_HEADER = 64 * 1024 * 1024  # the answer's JSON part: names, ends and digests of the files
MAX_ANSWER = 4 * 1024 * 1024 * 1024  # all of an answer: the targets' bytes and the cached documents
TIMEOUT = 600.0  # seconds a child may take in all (a live child reading a slow store: see IDLE)
# Seconds a child may go without progress (CPU time, bytes read or written: /proc/PID/stat and io)
# before it is killed.  A live child either computes or waits in one store operation, and every
# store bounds those: S3 10 s connect and read (two attempts), OCI 10 s connect and 60 s read;
# the file store does not block.  The longest, 70 s, plus margin: a child seen idle for 90 s is stuck
# (a lock held forever, a store that stopped answering below its timeouts cannot be).
IDLE = 90.0
_LEN = struct.Struct("<Q")


@dataclass(frozen=True)
class KeyStandIn:
    """A trusted key as the parent holds it: its id and public key (DER), never used to verify here.

    The children rebuild the real verifier from ``der`` (:func:`real_verifiers`).
    """

    keyid: str
    der: bytes

    def verify(self, data: bytes, sig: bytes) -> bool:
        """Verify with the real key (imports cryptography: only the children should call this)."""
        return bool(real_verifiers([self])[0].verify(data, sig))


def real_verifiers(keys: list[Any]) -> list[Any]:
    """The verifiers stand-ins describe (other verifiers as they are)."""
    from cryptography.hazmat.primitives import serialization

    from cfgc.bundle.signing import PublicKeyVerifier

    return [PublicKeyVerifier(serialization.load_der_public_key(k.der), k.keyid)  # type: ignore[arg-type]
            if isinstance(k, KeyStandIn) else k for k in keys]


def load_keys(load: Callable[[], list[Any]]) -> list[KeyStandIn]:
    """Run ``load`` (e.g. signing.verifiers_from) in a child; the keys' ids and public DER bytes.

    The same errors as ``load`` in this process (an unreadable key file, a KMS failure).
    """
    def child() -> tuple[dict[str, Any], list[bytes]]:
        from cryptography.hazmat.primitives import serialization

        out = load()
        ders = [v.public_key.public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) for v in out]
        return {"keyids": [v.keyid for v in out]}, ders

    header, blobs = run(child)
    keyids = header.get("keyids")
    if not isinstance(keyids, list) or len(keyids) != len(blobs) or not all(isinstance(k, str) for k in keyids):
        raise IntegrityError("the key-loading process gave a malformed answer")
    return [KeyStandIn(k, bytes(d)) for k, d in zip(keyids, blobs, strict=True)]


def run(work: Callable[[], tuple[dict[str, Any], list[Any]]],
        timeout: float = TIMEOUT) -> tuple[dict[str, Any], list[Any]]:
    """``work()`` in a forked child; its (header, blobs), once the child is gone.

    The child's CfgcError is raised here as the same class with the same message; any other
    exception as an Exception of the same name and message (callers word those as before).
    """
    try:
        r, w = os.pipe()
    except OSError as e:  # EMFILE: an environment failure, recorded and retried like a store's
        raise ExternalError(f"could not start the verifying process: {e}") from None
    try:
        pid = os.fork()
    except OSError as e:  # EAGAIN: the pod's process limit
        os.close(r)
        os.close(w)
        raise ExternalError(f"could not start the verifying process: {e}") from None
    if pid == 0:  # the child: never returns
        os.close(r)
        _child(work, w)
    os.close(w)
    try:
        return _read_answer(r, time.monotonic() + timeout, Watch(pid))
    finally:
        os.close(r)
        _reap(pid)


def child(work: Callable[[], tuple[dict[str, Any], list[Any]]], w: int) -> None:
    """In a forked child: run ``work``, write its answer (or its error) to ``w``, and exit (never returns)."""
    _child(work, w)


def read_answer(fd: int, deadline: float, watch: Watch | None = None) -> tuple[dict[str, Any], list[Any]]:
    """A child's answer from ``fd`` (a pipe), read as hostile bytes by ``deadline`` (see the module docstring).

    With ``watch``, a child that makes no progress for :data:`IDLE` seconds is given up earlier.
    """
    return _read_answer(fd, deadline, watch)


class Watch:
    """Whether a child (``pid``) made progress: its CPU time, bytes read and written, or wake-ups changed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mark = self._sample()
        self.since = time.monotonic()  # when it last progressed

    def _sample(self) -> tuple[int, ...] | None:
        # Bytes from a socket (recv, send) are not in /proc/PID/io and CPU
        # time in stat moves in 10 ms steps, so a download that trickles in
        # over plain HTTP would look idle: every wake-up of the child counts
        # too (its context switches, and its CPU time in nanoseconds where the
        # kernel keeps schedstat).  A child blocked on a lock never wakes.
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{self.pid}/io", "rb") as f:
                io = {k: v for k, _, v in (line.partition(b":") for line in f.read().splitlines())}
            with open(f"/proc/{self.pid}/status", "rb") as f:
                status = {k: v for k, _, v in (line.partition(b":") for line in f.read().splitlines())}
            switches = int(status[b"voluntary_ctxt_switches"]), int(status[b"nonvoluntary_ctxt_switches"])
            return (int(fields[11]), int(fields[12]), int(io[b"rchar"]), int(io[b"wchar"]), *switches,
                    _schedstat(self.pid))
        except (OSError, ValueError, IndexError, KeyError):  # no /proc, or not ours to read: no idle bound
            return None

    def stuck(self) -> bool:
        """True when the child made no progress for :data:`IDLE` seconds (never when it cannot be read)."""
        now, mark = time.monotonic(), self._sample()
        if mark is None or mark != self.mark:
            self.mark, self.since = mark, now
            return False
        return now - self.since >= IDLE


def _schedstat(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):  # a kernel without schedstats
        return 0


def reap(pid: int) -> None:
    """Wait for the child; kill it first if it is still there (a timeout or a refused answer)."""
    _reap(pid)


def _child(work: Callable[[], tuple[dict[str, Any], list[Any]]], w: int) -> None:
    code = 0
    try:
        # The parent's objects stay out of the child's collections: they would be copied page by page.
        gc.freeze()
        # A signal meant for the agent must not reach its loop through the inherited wakeup fd.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        try:
            header, blobs = work()
            header = {"ok": True, **header}
        except CfgcError as e:
            header, blobs = {"error": [type(e).__module__, type(e).__qualname__, e.message]}, []
        except Exception as e:  # noqa: BLE001 - sent to the parent, which words it
            header, blobs = {"exception": [type(e).__name__, str(e)]}, []
        out = orjson.dumps({**header, "sizes": [len(b) for b in blobs]})
        with os.fdopen(w, "wb", buffering=1 << 16) as f:
            f.write(MAGIC + _LEN.pack(len(out)) + out)
            for b in blobs:
                f.write(b)
    except BaseException:  # noqa: BLE001 - the parent sees a missing or short answer
        code = 1
    finally:
        os._exit(code)


def _read_answer(fd: int, deadline: float, watch: Watch | None = None) -> tuple[dict[str, Any], list[Any]]:
    head = _read_exact(fd, len(MAGIC) + _LEN.size, deadline, watch)
    if head[:len(MAGIC)] != MAGIC:
        raise IntegrityError("the verifying process gave no answer (see the log for its end)")
    (n,) = _LEN.unpack(head[len(MAGIC):])
    if n > MAX_HEADER:
        raise IntegrityError(f"the verifying process answered {n} bytes of header, more than {MAX_HEADER}")
    try:
        header = orjson.loads(_read_exact(fd, n, deadline, watch))
        sizes = [int(s) for s in header["sizes"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError("the verifying process gave a malformed answer") from None
    if not isinstance(header, dict):
        raise IntegrityError("the verifying process gave a malformed answer")
    if "error" in header:
        raise _error(header["error"])
    if "exception" in header:
        desc = header["exception"]
        if not (isinstance(desc, list) and len(desc) == 2 and all(isinstance(x, str) for x in desc)
                and desc[0].isidentifier()):
            raise IntegrityError("the verifying process gave a malformed answer")
        raise type(desc[0], (Exception,), {})(desc[1])
    if header.pop("ok", None) is not True or any(s < 0 for s in sizes) or sum(sizes) > MAX_ANSWER:
        raise IntegrityError(f"the verifying process answered more than {MAX_ANSWER} bytes, or garbage")
    blobs: list[Any] = [_read_exact(fd, s, deadline, watch) for s in sizes]
    if _read_some(fd, 1, deadline, watch):
        raise IntegrityError("the verifying process answered more than it announced")
    return header, blobs


def _error(desc: Any) -> CfgcError:
    if not (isinstance(desc, list) and len(desc) == 3 and all(isinstance(x, str) for x in desc)):
        return IntegrityError("the verifying process gave a malformed answer")
    module, name, message = desc
    todo: list[type[CfgcError]] = [CfgcError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == module and cls.__qualname__ == name:
            try:
                return cls(message)
            except Exception:  # noqa: BLE001 - a class built from more than a message: still a refusal
                break
        todo.extend(cls.__subclasses__())
    return IntegrityError(message)  # a class this process never loaded: still a refusal


def _wait(fd: int, deadline: float, watch: Watch | None) -> None:
    # poll, not select: an agent holding over 1,023 descriptors (client connections) gets pipe
    # numbers select() refuses ("filedescriptor out of range").
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ExternalError("the verifying process did not answer in time (killed)")
        if poller.poll(min(left, IDLE / 8) * 1000):  # a stuck child is seen within IDLE + IDLE / 8
            return
        if watch is not None and watch.stuck():
            raise ExternalError(f"the verifying process made no progress in {IDLE:g} s (killed)")


def _read_some(fd: int, n: int, deadline: float, watch: Watch | None = None) -> bytes:
    _wait(fd, deadline, watch)
    return os.read(fd, n)


def _read_exact(fd: int, n: int, deadline: float, watch: Watch | None = None) -> bytes:
    buf = bytearray(n)
    _read_into(fd, memoryview(buf), deadline, watch)
    return bytes(buf)


def _read_into(fd: int, view: memoryview, deadline: float, watch: Watch | None) -> None:
    at = 0
    while at < len(view):
        _wait(fd, deadline, watch)
        got = os.readv(fd, [view[at:]])
        if got == 0:
            raise ExternalError("the verifying process ended before its answer was complete")
        at += got


def _reap(pid: int) -> None:
    """Wait for the child; kill it first if it is still there (a timeout or a refused answer)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
