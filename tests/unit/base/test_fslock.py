"""cfgc.base.fslock.file_lock: one holder at a time, bounded wait, clean sidecar."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cfgc.base.errors import EXIT_EXTERNAL, ExternalError
from cfgc.base.fslock import LockTimeout, file_lock, lock_path

HOLD = """\
import sys, time
from pathlib import Path
from cfgc.base.fslock import file_lock
with file_lock(Path(sys.argv[1]), 5):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline() == "held\n"
    return p


def test_sidecar_name_and_removal(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    assert lock_path(f) == tmp_path / ".a.yaml.cfgc-lock"
    with file_lock(f, 1):
        assert lock_path(f).read_text() == f"{os.getpid()}\n"
    assert not lock_path(f).exists()


def test_timeout_names_the_holder(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    holder = _hold(f, 3)
    try:
        with pytest.raises(LockTimeout) as e, file_lock(f, 0.2):
            pass
        assert e.value.exit_code == EXIT_EXTERNAL
        assert f"another cfgc process (pid {holder.pid})" in e.value.message
        assert "0.2 s" in e.value.message
    finally:
        holder.kill()
        holder.wait()


def test_waiter_gets_the_lock_after_release_and_removal(tmp_path: Path) -> None:
    """The holder unlinks the sidecar on release; the waiter must lock the new one."""
    f = tmp_path / "a.yaml"
    holder = _hold(f, 0.3)
    with file_lock(f, 10):
        assert lock_path(f).read_text() == f"{os.getpid()}\n"
        # nobody else can hold it now
        with pytest.raises(LockTimeout), file_lock(f, 0):
            pass
    holder.wait()


def test_mutual_exclusion_between_threads(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    inside: list[int] = []
    overlap: list[bool] = []

    def work() -> None:
        for _ in range(20):
            with file_lock(f, 10):
                inside.append(1)
                overlap.append(len(inside) > 1)
                time.sleep(0.001)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(overlap) == 80 and not any(overlap)


def test_symlinked_sidecar_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    lock_path(f).symlink_to(target)
    with pytest.raises(ExternalError, match="lock file is a symlink"), file_lock(f, 1):
        pass
    assert target.read_text() == "keep"
