"""age keys as sops takes them: SSH keys, SOPS_AGE_KEY_CMD, SOPS_AGE_RECIPIENTS, case."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from cfgc.base.errors import ExternalError, InputError
from cfgc.secrets import fileio, ops
from cfgc.secrets.keysources import Keyring, default_keyring
from cfgc.secrets.keysources.age import AgeSource
from tests.fixtures.tools import need
from tests.unit.secrets.conftest import CANARY


def _plain(repo: Path) -> Path:
    p = repo / "secrets" / "a.yaml"
    p.write_text(f"pw: {CANARY}\nuser: admin\n")
    return p


def _ssh_key(tmp_path: Path, kind: str) -> tuple[Path, str]:
    exe = need("ssh-keygen", "apt-get install openssh-client")
    key = tmp_path / f"id_{kind}"
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        [exe, "-q", "-t", kind, *extra, "-N", "", "-C", "me@host", "-f", str(key)], check=True
    )
    return key, (tmp_path / f"id_{kind}.pub").read_text().strip()


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_recipient_and_identity(
    repo: Path, tmp_path: Path, kind: str, no_env_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, pub = _ssh_key(tmp_path, kind)
    (repo / ".sops.yaml").write_text(f'creation_rules:\n  - age: "{pub}"\n')
    p = _plain(repo)
    ops.encrypt_file(p, default_keyring(), in_place=True)
    assert fileio.read(p)["sops"]["age"][0]["recipient"] == pub
    with pytest.raises(InputError, match="no age identity"):
        ops.decrypt_file(p, default_keyring())
    monkeypatch.setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", str(key))
    assert ops.decrypt_file(p, default_keyring())["pw"] == CANARY
    monkeypatch.delenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copy(key, home / ".ssh" / f"id_{kind}")
    monkeypatch.setenv("HOME", str(home))
    assert ops.decrypt_file(p, default_keyring())["pw"] == CANARY


def test_passphrase_ssh_key_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = need("ssh-keygen", "apt-get install openssh-client")
    key = tmp_path / "locked"
    subprocess.run([exe, "-q", "-t", "ed25519", "-N", "pass phrase", "-f", str(key)], check=True)
    monkeypatch.setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", str(key))
    with pytest.raises(InputError, match="passphrase-protected"):
        AgeSource().preload()


def test_key_cmd(repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity, tmp_path: Path,
                 no_env_keys: None, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    p = _plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    script = tmp_path / "key cmd.py"
    script.write_text(f"print('# from a vault')\nprint({str(age_id)!r})\n")
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"{sys.executable} '{script}'")
    assert ops.decrypt_file(p, default_keyring())["pw"] == CANARY
    bad = tmp_path / "bad.py"
    bad.write_text(f"import sys\nsys.stderr.write({str(age_id)!r})\nsys.exit(3)\n")
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"{sys.executable} {bad}")
    with pytest.raises(ExternalError, match="exited with status 3") as exc:
        ops.decrypt_file(p, default_keyring())
    assert "AGE-SECRET-KEY" not in str(exc.value)


def test_key_cmd_runs_once_for_many_files(
    repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity, tmp_path: Path,
    no_env_keys: None, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from cfgc.secrets.bulk import decrypt_files

    files = []
    for i in range(3):
        p = repo / "secrets" / f"f{i}.yaml"
        p.write_text(f"pw: {CANARY}\n")
        ops.encrypt_file(p, keyring, in_place=True)
        files.append(p)
    count = tmp_path / "count"
    script = tmp_path / "k.sh"
    script.write_text(f"#!/bin/sh\necho x >> {count}\necho {age_id}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", str(script))
    assert [t["pw"] for t in decrypt_files(files)] == [CANARY] * 3
    assert count.read_text().count("x") == 1


def test_env_recipients_replace_the_rule_keys(
    repo: Path, age_id: pyrage.x25519.Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = pyrage.x25519.Identity.generate()
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {age_id.to_public()}\n    encrypted_regex: ^pw$\n"
    )
    monkeypatch.setenv("SOPS_AGE_RECIPIENTS", f" {other.to_public()} ")
    p = _plain(repo)
    ops.encrypt_file(p, None, in_place=True)
    doc = fileio.read(p)
    assert [k["recipient"] for k in doc["sops"]["age"]] == [str(other.to_public())]
    assert doc["user"] == "admin" and doc["sops"]["encrypted_regex"] == "^pw$"
    ring = Keyring({"age": AgeSource(identities=[other])})
    assert ops.decrypt_file(p, ring)["pw"] == CANARY
    # no .sops.yaml at all: the defaults apply
    (repo / ".sops.yaml").unlink()
    q = repo / "secrets" / "b.yaml"
    q.write_text("pw: x\n")
    ops.encrypt_file(q, None, in_place=True)
    assert fileio.read(q)["sops"]["unencrypted_suffix"] == "_unencrypted"
    monkeypatch.setenv("SOPS_AGE_RECIPIENTS", "age1notvalid")
    with pytest.raises(InputError, match="SOPS_AGE_RECIPIENTS"):
        ops.encrypt_tree_for(q, {"a": "b"})


@pytest.mark.parametrize("case", [str.upper, lambda r: r[:10].upper() + r[10:]])
def test_age_recipient_not_in_lower_case_is_refused(
    repo: Path, age_id: pyrage.x25519.Identity, case: object
) -> None:
    rec = case(str(age_id.to_public()))  # type: ignore[operator]
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - age: {rec}\n")
    p = _plain(repo)
    before = p.read_text()
    with pytest.raises(InputError, match="lower case|mixes upper"):
        ops.encrypt_file(p, None, in_place=True)
    assert p.read_text() == before


def test_file_with_upper_case_recipient_still_decrypts(
    repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity
) -> None:
    """Files an earlier cfgc wrote for an upper-case recipient stay readable."""
    p = _plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    text = p.read_text().replace(str(age_id.to_public()), str(age_id.to_public()).upper())
    p.write_text(text)
    assert ops.decrypt_file(p, keyring)["pw"] == CANARY
