from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyrage
import pytest

from cfgc.base.errors import CfgcError, InputError, IntegrityError
from cfgc.secrets import fileio, ops
from cfgc.secrets.keysources import Keyring
from cfgc.secrets.keysources.age import AgeSource

DATA = Path(__file__).parent / "data"
CANARY = "canary-5ecr3t-Zq9"


def _write_plain(repo: Path) -> Path:
    p = repo / "secrets" / "app.yaml"
    p.write_text(f"db:\n  password: {CANARY}\n  port: 5432\nother: keep-me\n")
    return p


def test_encrypt_decrypt_set(repo: Path, keyring: Keyring) -> None:
    p = _write_plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    text = p.read_text()
    assert CANARY not in text and text.rstrip().endswith("version: 3.11.0")
    assert ops.decrypt_file(p, keyring)["db"]["password"] == CANARY
    before = fileio.read(p)
    assert ops.set_value(p, ["db", "port"], 6543, keyring)
    after = fileio.read(p)
    assert after["db"]["password"] == before["db"]["password"]
    assert after["other"] == before["other"]
    assert after["db"]["port"] != before["db"]["port"]
    # setting the same value again changes nothing, not even lastmodified
    raw = p.read_bytes()
    assert not ops.set_value(p, ["db", "port"], 6543, keyring)
    assert p.read_bytes() == raw


def test_no_rule_matches(repo: Path, keyring: Keyring) -> None:
    p = repo / "elsewhere.yaml"
    p.write_text("a: 1\n")
    with pytest.raises(InputError, match="no creation rule"):
        ops.encrypt_file(p, keyring)


def test_already_encrypted(repo: Path, keyring: Keyring) -> None:
    p = _write_plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    with pytest.raises(InputError, match="already encrypted"):
        ops.encrypt_file(p, keyring)


def test_updatekeys_and_rotate(
    repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity
) -> None:
    p = _write_plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    before = fileio.read(p)
    new_id = pyrage.x25519.Identity.generate()
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n"
        f"    age: {age_id.to_public()},{new_id.to_public()}\n"
    )
    plan = ops.updatekeys(p, keyring, dry_run=True)
    assert plan.added == (str(new_id.to_public()),) and not plan.removed and not plan.applied
    assert fileio.read(p) == before
    plan = ops.updatekeys(p, keyring)
    assert plan.applied
    after = fileio.read(p)
    assert {k: v for k, v in after.items() if k != "sops"} == {
        k: v for k, v in before.items() if k != "sops"
    }
    assert after["sops"]["age"][0] == before["sops"]["age"][0]  # kept byte for byte
    newring = Keyring({"age": AgeSource(identities=[new_id])})
    assert ops.decrypt_file(p, newring)["db"]["password"] == CANARY
    # remove the first recipient again, then rotate
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {new_id.to_public()}\n"
    )
    plan = ops.updatekeys(p, newring)
    assert plan.removed == (str(age_id.to_public()),)
    with pytest.raises(CfgcError):
        ops.decrypt_file(p, keyring)
    old = fileio.read(p)
    ops.rotate(p, newring)
    rotated = fileio.read(p)
    assert rotated["db"]["password"] != old["db"]["password"]
    assert rotated["sops"]["age"][0]["enc"] != old["sops"]["age"][0]["enc"]
    assert ops.decrypt_file(p, newring)["db"]["password"] == CANARY


def test_edit_with_editor_script(
    repo: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    p = _write_plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    before = fileio.read(p)
    script = tmp_path / "ed.py"
    script.write_text(
        "import os, stat, sys\n"
        "p = sys.argv[1]\n"
        "assert stat.S_IMODE(os.stat(p).st_mode) == 0o600\n"
        "open(os.environ['SEEN_FILE'], 'w').write(p)\n"
        "t = open(p).read().replace('keep-me', 'changed')\n"
        "open(p, 'w').write(t)\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setenv("SEEN_FILE", str(tmp_path / "seen"))
    monkeypatch.delenv("VISUAL", raising=False)
    from click.testing import CliRunner

    from cfgc.cli.secrets import secrets

    monkeypatch.setattr("cfgc.cli.secrets._keyring", lambda _f: keyring)
    res = CliRunner().invoke(secrets, ["edit", str(p)])
    assert res.exit_code == 0, res.output
    after = fileio.read(p)
    assert after["db"] == before["db"]  # unchanged values keep their ciphertext
    assert ops.decrypt_file(p, keyring)["other"] == "changed"
    plain_tmp = Path((tmp_path / "seen").read_text())
    assert not plain_tmp.exists() and not plain_tmp.parent.exists()  # temp plaintext removed


def test_golden_files_from_sops(no_env_keys: None) -> None:
    ring = Keyring({"age": AgeSource(key_file=str(DATA / "test-age.key"))})
    plain = fileio.read(DATA / "golden.plain.yaml")
    assert ops.decrypt_file(DATA / "sops-golden.enc.yaml", ring) == plain
    assert ops.decrypt_file(DATA / "sops-golden-regex.enc.yaml", ring) == plain
    # Shamir: 2 of 3 groups needed; one identity is not enough
    with pytest.raises(CfgcError, match="need 2 of 3"):
        ops.decrypt_file(DATA / "sops-shamir.enc.yaml", ring)
    two = (DATA / "test-age.key").read_text() + (DATA / "test-age-3.key").read_text()
    from cfgc.secrets.keysources.age import parse_identities

    ids = AgeSource(identities=parse_identities(two, "test"))
    assert ops.decrypt_file(DATA / "sops-shamir.enc.yaml", Keyring({"age": ids})) == plain


def test_errors_never_show_secrets(repo: Path, keyring: Keyring, no_env_keys: None) -> None:
    p = _write_plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    doc = fileio.read(p)
    messages: list[str] = []
    # wrong key path (AAD), swapped values, changed type, no key at all
    doc2 = dict(doc)
    doc2["other2"] = doc["db"]["password"]
    fileio.write(p, doc2)
    for ring in (keyring, Keyring({"age": AgeSource(identities=[])})):
        with pytest.raises(CfgcError) as ei:
            ops.decrypt_file(p, ring)
        messages += [str(ei.value), repr(ei.value)]
    doc3 = dict(doc)
    doc3["db"] = dict(doc["db"], password=doc["db"]["password"].replace("type:str", "type:int"))
    fileio.write(p, doc3)
    with pytest.raises(IntegrityError) as ei:
        ops.decrypt_file(p, keyring)
    messages += [str(ei.value), repr(ei.value)]
    opened = ops.open_file(_reencrypt(repo, keyring), keyring)
    messages.append(repr(opened))
    for m in messages:
        assert CANARY not in m


def _reencrypt(repo: Path, keyring: Keyring) -> Path:
    p = _write_plain(repo)
    ops.encrypt_file(p, keyring, in_place=True)
    return p


def test_cli_edge_exit_codes(repo: Path, age_id: pyrage.x25519.Identity, tmp_path: Path) -> None:
    """Through ``python -m``-free entry: the real CLI edge maps errors to exit codes."""
    key = tmp_path / "k.txt"
    key.write_text(str(age_id) + "\n")
    p = _write_plain(repo)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SOPS_AGE_KEY_FILE": str(key)}
    run = [sys.executable, "-c", "from cfgc.cli.main import main; main()", "secrets"]
    r = subprocess.run(
        [*run, "encrypt", "-i", str(p)], env=env, capture_output=True, text=True, cwd=repo
    )
    assert r.returncode == 0, r.stderr
    doc = fileio.read(p)
    doc["db"]["port"], doc["db"]["password"] = doc["db"]["password"], doc["db"]["port"]
    fileio.write(p, doc)
    r = subprocess.run([*run, "decrypt", str(p)], env=env, capture_output=True, text=True, cwd=repo)
    assert r.returncode == 5 and "Traceback" not in r.stderr and CANARY not in r.stderr + r.stdout
