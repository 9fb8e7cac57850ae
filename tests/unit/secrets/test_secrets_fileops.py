"""File operations never lose a secret: links, owners, skipped files, lock-out."""

from __future__ import annotations

import os
from pathlib import Path

import pyrage
import pytest
from click.testing import CliRunner

from cfgc.base.errors import InputError
from cfgc.secrets import fileio, ops, rekey, walk
from cfgc.secrets.keysources import Keyring
from cfgc.secrets.keysources.age import AgeSource
from tests.unit.secrets.conftest import CANARY


def _encrypted(repo: Path, keyring: Keyring, name: str = "a.yaml") -> Path:
    p = repo / "secrets" / name
    p.write_text(f"db:\n  password: {CANARY}\nother: keep-me\n")
    ops.encrypt_file(p, keyring, in_place=True)
    return p


def _rule(repo: Path, *recipients: object) -> None:
    (repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: secrets/.*\n"
        f"    age: {','.join(str(r) for r in recipients)}\n"
    )


def test_writers_refuse_a_link_and_leave_link_and_target_alone(
    repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity
) -> None:
    target = _encrypted(repo, keyring)
    link = repo / "secrets" / "link.yaml"
    link.symlink_to("a.yaml")
    before = target.read_bytes()
    other = pyrage.x25519.Identity.generate()
    _rule(repo, other.to_public(), age_id.to_public())
    for action in (
        lambda: ops.set_value(link, ["db", "password"], "new", keyring),
        lambda: rekey.rotate(link, keyring),
        lambda: rekey.updatekeys(link, keyring),
    ):
        with pytest.raises(InputError, match="symbolic link"):
            action()
        assert link.is_symlink() and os.readlink(link) == "a.yaml"
        assert target.read_bytes() == before
    plain = repo / "secrets" / "plain.yaml"
    plain.write_text("k: v\n")
    plink = repo / "secrets" / "plink.yaml"
    plink.symlink_to("plain.yaml")
    with pytest.raises(InputError, match="symbolic link"):
        ops.encrypt_file(plink, keyring, in_place=True)
    assert plink.is_symlink() and plain.read_text() == "k: v\n"


def test_write_keeps_mode_owner_and_group(repo: Path, keyring: Keyring) -> None:
    p = _encrypted(repo, keyring)
    p.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(p, 65534, 65534)
    want = p.stat()
    assert ops.set_value(p, ["db", "password"], "changed", keyring)
    got = p.stat()
    assert (got.st_mode & 0o777, got.st_uid, got.st_gid) == (0o640, want.st_uid, want.st_gid)
    assert got.st_ino != want.st_ino  # it was replaced (atomic rename), not written in place


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file another owner")
def test_root_keeps_another_users_file_owner(repo: Path, keyring: Keyring) -> None:
    p = _encrypted(repo, keyring)
    os.chown(p, 65534, 65533)
    rekey.rotate(p, keyring)
    assert (p.stat().st_uid, p.stat().st_gid) == (65534, 65533)


def test_updatekeys_refuses_to_lock_the_runner_out(
    repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity
) -> None:
    p = _encrypted(repo, keyring)
    other = pyrage.x25519.Identity.generate()
    _rule(repo, other.to_public())
    before = p.read_bytes()
    with pytest.raises(rekey.LosesAccess) as exc:
        rekey.updatekeys(p, keyring)
    assert exc.value.plan.removed == (str(age_id.to_public()),)
    assert p.read_bytes() == before
    plan = rekey.updatekeys(p, keyring, yes=True)
    assert plan.applied
    ring = Keyring({"age": AgeSource(identities=[other])})
    assert ops.decrypt_file(p, ring)["db"]["password"] == CANARY


def test_scan_names_files_it_cannot_take(repo: Path, keyring: Keyring, tmp_path: Path) -> None:
    good = _encrypted(repo, keyring)
    d = repo / "secrets"
    (d / "broken.yaml").write_text("a: ENC[AES256_GCM,data:x]\n  b: [\n")
    (d / "app.env").write_text("K=ENC[AES256_GCM,data:eA==,iv:x,tag:y,type:str]\n")
    (d / "nometa.yaml").write_text("a: ENC[AES256_GCM,data:eA==,iv:x,tag:y,type:str]\n")
    (d / "plain.yaml").write_text("a: b\n")
    (d / "inner.yaml").symlink_to("a.yaml")  # its target is processed: not skipped
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_bytes(good.read_bytes())
    (d / "outer.yaml").symlink_to(elsewhere)
    found = walk.scan([d])
    assert found.files == (good,)
    assert {s.path.name: s.reason.split(" ")[0] for s in found.skipped} == {
        "broken.yaml": "cannot", "app.env": "not", "nometa.yaml": "holds", "outer.yaml": "symbolic",
    }  # fmt: skip


def test_cli_updatekeys_names_skipped_files_and_fails(
    repo: Path, keyring: Keyring, age_id: pyrage.x25519.Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cfgc.cli.secrets import secrets

    a = _encrypted(repo, keyring)
    (repo / "secrets" / "broken.yaml").write_text("a: ENC[AES256_GCM,data:x]\n  b: [\n")
    other = pyrage.x25519.Identity.generate()
    _rule(repo, age_id.to_public(), other.to_public())
    monkeypatch.setattr("cfgc.cli.secrets._keyring", lambda _f: keyring)
    res = CliRunner().invoke(secrets, ["updatekeys", "secrets"])
    assert res.exit_code == 1
    assert "broken.yaml: skipped: cannot parse" in res.output
    assert "1 file(s) not updated: secrets/broken.yaml" in str(res.exception)
    # the file it could take was still updated
    assert str(other.to_public()) in [k["recipient"] for k in fileio.read(a)["sops"]["age"]]
    res = CliRunner().invoke(secrets, ["rotate", "secrets"])
    assert res.exit_code == 1 and "broken.yaml" in str(res.exception)
