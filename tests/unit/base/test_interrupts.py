"""made() and temp_file(): what a block made is removed when it raises, kept when it ends; no mask leaks."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cfgc.base.interrupts import HELD, made, temp_file


def _mask() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_a_failing_block_removes_the_file_and_an_ending_one_keeps_it(tmp_path: Path) -> None:
    before = _mask()
    with pytest.raises(ValueError), temp_file(tmp_path, ".x.") as (f, name):
        f.write(b"data")
        assert not HELD & _mask()  # the block runs with signals as they were
        raise ValueError
    assert os.listdir(tmp_path) == []
    with temp_file(tmp_path, ".x.") as (f, name):
        with f:
            f.write(b"data")
        os.replace(name, tmp_path / "kept")
    assert os.listdir(tmp_path) == ["kept"] and (tmp_path / "kept").read_bytes() == b"data"
    assert _mask() == before


def test_a_failing_create_restores_the_mask_and_removes_nothing() -> None:
    before = _mask()
    removed: list[object] = []

    def create() -> int:
        assert _mask() >= HELD  # held back while the thing is made
        raise OSError("no space")

    with pytest.raises(OSError), made(create, removed.append):
        pass
    assert removed == [] and _mask() == before


# Run in a process of its own: pytest-xdist's workers ignore SIGINT, and signals
# sent to the process reach whichever thread the kernel picks.
TWO_SIGNALS_IN_A_HOST = """
import os, signal, threading, time
from cfgc.base.interrupts import deferred
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()  # a thread that may take them
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)  # whatever the caller's (nohup ignores SIGHUP): set below
called = []
host = lambda s, f: called.append(s)
signal.signal(signal.SIGTERM, host)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
inside = None
try:
    with deferred():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            time.sleep(0.001)
        inside = list(called)
except KeyboardInterrupt:
    pass
for _ in range(100):
    time.sleep(0.001)
mask = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
print(inside, called, signal.getsignal(signal.SIGTERM) is host, signal.getsignal(signal.SIGHUP) == signal.SIG_IGN,
      signal.getsignal(signal.SIGINT) is signal.default_int_handler, mask)
"""


def test_every_held_signal_reaches_the_hosts_handlers_after_the_block_and_they_stay_installed() -> None:
    # A host program's own SIGTERM handler is not called inside the block, is called
    # once after it even when a Ctrl-C came first (the first one's exception used to
    # drop the second), and every handler and the mask are as they were.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", TWO_SIGNALS_IN_A_HOST], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "[15]", "True", "True", "True", "[]"]
