"""``cfgc secrets edit`` removes its plaintext on SIGTERM, SIGHUP, SIGINT and errors.

The real console script runs an editor that records the plaintext path and
then either signals its parent (``kill -TERM $PPID``) or waits for the test to
send the signal; afterwards the private directory must be gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.repos import cfgc_bin

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"
KEY = EXAMPLE / "test-keys-DO-NOT-USE" / "acme.agekey"
SELF_KILL = '#!/bin/sh\necho "$1" > "$SEEN"\nkill -"$SIG" "$PPID"\nexec sleep 30\n'
WAIT = '#!/bin/sh\necho "$1" > "$SEEN"\nexec sleep 30\n'
FAIL = '#!/bin/sh\necho "$1" > "$SEEN"\nexit 3\n'


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "tenants" / "acme").mkdir(parents=True)
    shutil.copy(EXAMPLE / ".sops.yaml", root / ".sops.yaml")
    f = root / "tenants" / "acme" / "secrets.enc.yaml"
    shutil.copy(EXAMPLE / "tenants" / "acme" / "secrets.enc.yaml", f)
    return f


def _start(
    secret: Path, tmp_path: Path, isolated_env: dict[str, str], script: str, sig: int = 0
) -> subprocess.Popen[bytes]:
    ed = tmp_path / "ed.sh"
    ed.write_text(script)
    ed.chmod(0o755)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(KEY), "EDITOR": str(ed)}
    env |= {"SEEN": str(tmp_path / "seen"), "SIG": str(sig)}
    log = open(tmp_path / "out.log", "wb")  # noqa: SIM115 - closed by the OS with the test
    return subprocess.Popen(
        [*cfgc_bin(), "secrets", "edit", str(secret)],
        env=env,
        cwd=secret.parents[2],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _seen(tmp_path: Path) -> Path:
    seen = tmp_path / "seen"
    deadline = time.monotonic() + 60
    while not (seen.exists() and seen.read_text().endswith("\n")):
        assert time.monotonic() < deadline, "the editor never started"
        time.sleep(0.02)
    return Path(seen.read_text().strip())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("sender", ["editor", "outside"])
def test_signal_removes_the_plaintext(
    secret: Path, tmp_path: Path, isolated_env: dict[str, str], sig: int, sender: str
) -> None:
    raw = secret.read_bytes()
    script = SELF_KILL if sender == "editor" else WAIT
    proc = _start(secret, tmp_path, isolated_env, script, sig)
    plain = _seen(tmp_path)
    if sender == "outside":
        assert stat.S_IMODE(plain.stat().st_mode) == 0o600
        assert stat.S_IMODE(plain.parent.stat().st_mode) == 0o700
        assert "sk-test-acme-openai-CANARY" in plain.read_text()  # really the plaintext
        if os.access("/dev/shm", os.W_OK):
            assert str(plain).startswith("/dev/shm/")
        proc.send_signal(sig)
    rc = proc.wait(timeout=60)
    assert rc == -sig, (tmp_path / "out.log").read_text()
    assert not plain.parent.exists()
    assert secret.read_bytes() == raw
    assert "CANARY" not in (tmp_path / "out.log").read_text()


def test_editor_failure_removes_the_plaintext(
    secret: Path, tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    raw = secret.read_bytes()
    proc = _start(secret, tmp_path, isolated_env, FAIL)
    assert proc.wait(timeout=60) == 4
    assert not _seen(tmp_path).parent.exists()
    assert secret.read_bytes() == raw
    assert "exited with status 3" in (tmp_path / "out.log").read_text()
