"""Delegating decryption to the sops binary for PGP / cloud-KMS-only files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cfgc.base.errors import ExternalError, InputError, IntegrityError
from cfgc.secrets import fileio, ops
from cfgc.secrets.document import split_document
from cfgc.secrets.keysources import Keyring, delegate
from cfgc.secrets.keysources.age import AgeSource

CANARY = "canary-d3l3gat3-Wq4"
PGP = {
    "created_at": "2026-01-01T00:00:00Z",
    "enc": "-----BEGIN PGP MESSAGE-----\n\nwcBMA0fake\n-----END PGP MESSAGE-----\n",
    "fp": "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
}


@pytest.fixture()
def pgp_only(repo: Path, keyring: Keyring) -> Path:
    """An encrypted file whose only master key is a PGP key cfgc cannot use."""
    p = repo / "secrets" / "pgp.yaml"
    p.write_text(f"db:\n  password: {CANARY}\n  port: 5432\n")
    ops.encrypt_file(p, keyring, in_place=True)
    doc = fileio.read(p)
    doc["sops"].pop("age")
    doc["sops"] = {"pgp": [PGP], **doc["sops"]}
    fileio.write(p, doc)
    return p


@pytest.fixture()
def no_native() -> Keyring:
    return Keyring({"age": AgeSource(identities=[])})


def _fake_sops(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "fake-sops"
    exe.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "args"}\n{body}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_delegated_kinds(pgp_only: Path) -> None:
    _, meta = split_document(fileio.read(pgp_only))
    assert delegate.delegated_kinds(meta) == ["PGP"]


def test_no_binary_is_a_clear_input_error(
    pgp_only: Path, no_native: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delegate, "find_sops_binary", lambda: None)
    with pytest.raises(InputError) as e:
        ops.decrypt_file(pgp_only, no_native)
    assert "this file uses PGP keys; install the sops binary to decrypt it" in e.value.message
    assert str(pgp_only) in e.value.message
    assert e.value.exit_code == 1


def test_binary_env_pointing_nowhere(
    pgp_only: Path, no_native: Keyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(delegate.BINARY_ENV, str(tmp_path / "no-such-sops"))
    with pytest.raises(InputError, match="install the sops binary"):
        ops.decrypt_file(pgp_only, no_native)


def test_delegates_to_the_binary(
    pgp_only: Path, no_native: Keyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # sops prints YAML; cfgc parses it with its own (Go yaml.v3-like) reader
    exe = _fake_sops(tmp_path, f"printf 'db:\\n    password: {CANARY}\\n    port: 0755\\n'")
    monkeypatch.setenv(delegate.BINARY_ENV, str(exe))
    tree = ops.decrypt_file(pgp_only, no_native)
    assert tree == {"db": {"password": CANARY, "port": 0o755}}
    args = (tmp_path / "args").read_text().split()
    assert args == ["--decrypt", "--input-type", "yaml", "--output-type", "yaml", str(pgp_only)]


@pytest.mark.parametrize(
    ("code", "error"), [(51, IntegrityError), (128, ExternalError), (2, InputError)]
)
def test_binary_failures(
    code: int,
    error: type[Exception],
    pgp_only: Path,
    no_native: Keyring,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    body = f"echo 'db: {CANARY}'; echo 'Failed to get the data key' >&2; exit {code}"
    monkeypatch.setenv(delegate.BINARY_ENV, str(_fake_sops(tmp_path, body)))
    with pytest.raises(error) as e:
        ops.decrypt_file(pgp_only, no_native)
    assert f"exit {code}" in str(e.value) and "Failed to get the data key" in str(e.value)
    assert CANARY not in str(e.value)  # standard output is never quoted


def test_unparsable_output_is_not_echoed(
    pgp_only: Path, no_native: Keyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    exe = _fake_sops(tmp_path, f"echo '[{CANARY}'")
    monkeypatch.setenv(delegate.BINARY_ENV, str(exe))
    with pytest.raises(ExternalError) as e:
        ops.decrypt_file(pgp_only, no_native)
    assert CANARY not in str(e.value)


def test_native_key_wins_and_binary_is_not_run(
    repo: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    p = repo / "secrets" / "both.yaml"
    p.write_text(f"a: {CANARY}\n")
    ops.encrypt_file(p, keyring, in_place=True)
    doc = fileio.read(p)
    doc["sops"]["pgp"] = [PGP]
    fileio.write(p, doc)
    monkeypatch.setenv(delegate.BINARY_ENV, str(_fake_sops(tmp_path, "exit 99")))
    assert ops.decrypt_file(p, keyring) == {"a": CANARY}
    assert not (tmp_path / "args").exists()


def test_files_without_delegable_keys_fail_natively(
    repo: Path, keyring: Keyring, no_native: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = repo / "secrets" / "age.yaml"
    p.write_text("a: 1\n")
    ops.encrypt_file(p, keyring, in_place=True)
    monkeypatch.setattr(delegate, "find_sops_binary", lambda: pytest.fail("must not delegate"))
    with pytest.raises(InputError, match="no age identity"):
        ops.decrypt_file(p, no_native)


def test_edit_paths_say_to_use_sops(pgp_only: Path, no_native: Keyring) -> None:
    with pytest.raises(InputError, match="PGP keys: change it with the sops binary"):
        ops.set_value(pgp_only, ["db", "port"], 1, no_native)
