"""cfgc.encrypt_secrets / decrypt_secrets / set_secret / update_keys / rotate_keys on real SOPS files."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage
import pytest
import yaml

import cfgc
from cfgc.secrets.keysources import Keyring
from cfgc.secrets.keysources.age import AgeSource

CANARY = "canary-api-5ecr3t"


def _ring(identity: pyrage.x25519.Identity) -> Keyring:
    return Keyring({"age": AgeSource(identities=[identity])})


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, pyrage.x25519.Identity]:
    for var in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    me = pyrage.x25519.Identity.generate()
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: .*\\.yaml$\n    age: {me.to_public()}\n")
    (tmp_path / "s.yaml").write_text(f"db:\n  password: {CANARY}\n  port: 5432\ntoken: abc\n")
    return tmp_path, me


def test_encrypt_then_decrypt_round_trips(repo) -> None:
    root, me = repo
    text = cfgc.encrypt_secrets(root / "s.yaml")
    assert CANARY not in text and "sops" in yaml.safe_load(text)
    assert CANARY in (root / "s.yaml").read_text()  # not in place: the file is unchanged
    cfgc.encrypt_secrets(root / "s.yaml", in_place=True)
    assert CANARY not in (root / "s.yaml").read_text()
    whole = cfgc.decrypt_secrets(root / "s.yaml", keyring=_ring(me))
    assert isinstance(whole, bytes) and yaml.safe_load(whole)["db"]["password"] == CANARY
    assert cfgc.decrypt_secrets(root / "s.yaml", extract="db.password", keyring=_ring(me)) == CANARY
    assert json.loads(cfgc.decrypt_secrets(root / "s.yaml", extract='["db"]["port"]', keyring=_ring(me))) == 5432
    db = cfgc.decrypt_secrets(root / "s.yaml", extract="db", output_type="json", keyring=_ring(me))
    assert json.loads(db) == {"password": CANARY, "port": 5432}


def test_an_age_key_file_decrypts_too(repo, tmp_path: Path) -> None:
    root, me = repo
    cfgc.encrypt_secrets(root / "s.yaml", in_place=True)
    key = tmp_path / "me.key"
    key.write_text(str(me) + "\n")
    assert cfgc.decrypt_secrets(root / "s.yaml", extract="token", age_key_file=str(key)) == "abc"


def test_set_changes_one_value_and_keeps_the_others_ciphertext(repo) -> None:
    root, me = repo
    cfgc.encrypt_secrets(root / "s.yaml", in_place=True)
    before = yaml.safe_load((root / "s.yaml").read_text())
    assert cfgc.set_secret(root / "s.yaml", "token", "xyz", keyring=_ring(me))
    assert not cfgc.set_secret(root / "s.yaml", "token", "xyz", keyring=_ring(me))
    after = yaml.safe_load((root / "s.yaml").read_text())
    assert after["db"] == before["db"] and after["token"] != before["token"]
    assert cfgc.decrypt_secrets(root / "s.yaml", extract="token", keyring=_ring(me)) == "xyz"


def test_a_stranger_cannot_decrypt(repo) -> None:
    root, _ = repo
    cfgc.encrypt_secrets(root / "s.yaml", in_place=True)
    with pytest.raises(cfgc.CfgcError) as e:
        cfgc.decrypt_secrets(root / "s.yaml", keyring=_ring(pyrage.x25519.Identity.generate()))
    assert CANARY not in str(e.value)


def test_updatekeys_adds_a_recipient_and_rotate_changes_every_ciphertext(repo) -> None:
    root, me = repo
    cfgc.encrypt_secrets(root / "s.yaml", in_place=True)
    runtime = pyrage.x25519.Identity.generate()
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\\.yaml$\n    age: {me.to_public()},{runtime.to_public()}\n")
    seen: list[tuple[str, bool]] = []
    planned = cfgc.update_keys([root], dry_run=True, keyring=_ring(me),
                               on_plan=lambda p, dry: seen.append((str(p.path), dry)))
    assert [p.added for p in planned] == [(str(runtime.to_public()),)] and seen == [(str(root / "s.yaml"), True)]
    with pytest.raises(cfgc.CfgcError):
        cfgc.decrypt_secrets(root / "s.yaml", keyring=_ring(runtime))  # a dry run changed nothing
    cfgc.update_keys([root], keyring=_ring(me))
    assert cfgc.decrypt_secrets(root / "s.yaml", extract="token", keyring=_ring(runtime)) == "abc"
    before = yaml.safe_load((root / "s.yaml").read_text())
    (plan,) = cfgc.rotate_keys([root / "s.yaml"], keyring=_ring(me))
    after = yaml.safe_load((root / "s.yaml").read_text())
    assert plan.rotated and after["token"] != before["token"] and after["db"]["password"] != before["db"]["password"]
    assert cfgc.decrypt_secrets(root / "s.yaml", extract="db.password", keyring=_ring(runtime)) == CANARY


def test_nothing_to_rekey_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text("a: 1\n")
    with pytest.raises(cfgc.UsageError):
        cfgc.rotate_keys([tmp_path], keyring=_ring(pyrage.x25519.Identity.generate()))
