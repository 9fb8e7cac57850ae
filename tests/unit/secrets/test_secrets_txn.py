"""Read-modify-write under the lock: a change made meanwhile is never overwritten."""

from __future__ import annotations

import signal
import stat
from pathlib import Path

import pytest

from cfgc.base.errors import UsageError
from cfgc.secrets import editing, fileio, ops, txn
from cfgc.secrets.keysources import Keyring

CANARY = "canary-7xn-Lk2"


@pytest.fixture()
def secret(repo: Path, keyring: Keyring) -> Path:
    p = repo / "secrets" / "app.yaml"
    p.write_text(f"db:\n  password: {CANARY}\nother: keep-me\n")
    ops.encrypt_file(p, keyring, in_place=True)
    return p


def test_save_refuses_after_a_concurrent_change(secret: Path, keyring: Keyring) -> None:
    opened = ops.open_snapshot(secret, keyring)
    ops.set_value(secret, ["theirs"], "kept", keyring)  # another writer, meanwhile
    mine = {**opened.document.tree, "mine": 1}
    with pytest.raises(txn.ConcurrentChange, match="changed by another process") as e:
        ops.save(secret, opened, mine)
    assert e.value.exit_code == 4 and CANARY not in e.value.message
    assert ops.decrypt_file(secret, keyring)["theirs"] == "kept"
    assert "mine" not in ops.decrypt_file(secret, keyring)


def test_unchanged_save_is_not_a_conflict(secret: Path, keyring: Keyring) -> None:
    opened = ops.open_snapshot(secret, keyring)
    ops.set_value(secret, ["theirs"], "kept", keyring)
    assert not ops.save(secret, opened, dict(opened.document.tree))


def test_plain_decrypted_document_still_saves(secret: Path, keyring: Keyring) -> None:
    opened = ops.open_file(secret, keyring)
    assert ops.save(secret, opened, {**opened.tree, "x": 1})
    assert ops.decrypt_file(secret, keyring)["x"] == 1


def test_create_refuses_when_the_file_appeared(repo: Path, keyring: Keyring) -> None:
    p = repo / "secrets" / "new.yaml"
    p.write_text("a: 1\n")
    with pytest.raises(txn.ConcurrentChange, match="was created by another process"):
        ops.create_file(p, {"b": 2}, keyring)
    assert p.read_text() == "a: 1\n"


def test_encrypt_in_place_refuses_a_change_it_did_not_read(
    repo: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = repo / "secrets" / "plain.yaml"
    p.write_text("a: 1\n")
    real = ops.encrypt_tree_for

    def racing(*args: object, **kw: object) -> object:
        p.write_text("a: 2\n")  # someone writes while we encrypt
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ops, "encrypt_tree_for", racing)
    with pytest.raises(txn.ConcurrentChange):
        ops.encrypt_file(p, keyring, in_place=True)
    assert p.read_text() == "a: 2\n"


def test_write_atomic_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("a: 1\n")
    p.chmod(0o640)
    fileio.write_atomic(p, "a: 2\n")
    assert p.read_text() == "a: 2\n" and stat.S_IMODE(p.stat().st_mode) == 0o640
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.yaml"]


@pytest.mark.parametrize(("raw", "want"), [(None, 30.0), ("", 30.0), ("0", 0.0), ("2.5", 2.5)])
def test_lock_timeout(raw: str | None, want: float, monkeypatch: pytest.MonkeyPatch) -> None:
    if raw is None:
        monkeypatch.delenv(txn.LOCK_TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(txn.LOCK_TIMEOUT_ENV, raw)
    assert txn.lock_timeout() == want


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "99999"])
def test_bad_lock_timeout(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(txn.LOCK_TIMEOUT_ENV, raw)
    with pytest.raises(UsageError, match=txn.LOCK_TIMEOUT_ENV):
        txn.lock_timeout()


def test_private_dir_is_removed_on_exception_and_handlers_restored() -> None:
    before = {s: signal.getsignal(s) for s in editing.SIGNALS}
    with pytest.raises(RuntimeError), editing.private_dir() as (d, _procs):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert all(signal.getsignal(s) is not before[s] for s in editing.SIGNALS)
        (d / "plain.yaml").write_text(CANARY)
        raise RuntimeError("boom")
    assert not d.exists()
    assert {s: signal.getsignal(s) for s in editing.SIGNALS} == before
