"""Keys and file operations against the real sops binary, both ways.

SSH recipients and identities, SOPS_AGE_KEY_CMD, SOPS_AGE_RECIPIENTS, upper-case
recipients, symbolic links, owners, skipped files and updatekeys lock-out.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyrage
import pytest

from cfgc.secrets import fileio
from tests.fixtures.tools import need
from tests.integration.test_sops_interop import cfgc_cmd, run

pytestmark = pytest.mark.integration
CANARY = "canary-f1le0ps-Q3"
PLAIN = f"db:\n  password: {CANARY}\nuser: admin\n"


def _cfgc(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run([*cfgc_cmd(), "secrets", *args], env, cwd, stdin)


def _ssh(tmp_path: Path, kind: str) -> tuple[Path, str]:
    exe = need("ssh-keygen", "apt-get install openssh-client")
    key = tmp_path / f"id_{kind}"
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        [exe, "-q", "-t", kind, *extra, "-N", "", "-C", "ops@host", "-f", str(key)], check=True
    )
    return key, (tmp_path / f"id_{kind}.pub").read_text().strip()


def _age(tmp_path: Path, name: str) -> tuple[Path, str]:
    ident = pyrage.x25519.Identity.generate()
    key = tmp_path / f"{name}.agekey"
    key.write_text(f"{ident}\n")
    return key, str(ident.to_public())


def _repo(tmp_path: Path, *recipients: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    items = "".join(f'      - "{r}"\n' for r in recipients)
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: .*\n    age:\n{items}")
    return repo


def _decrypts(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    r = run(cmd, env, cwd)
    assert r.returncode == 0, r.stderr
    assert CANARY in r.stdout


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_keys_both_ways(
    kind: str, sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    key, pub = _ssh(tmp_path, kind)
    repo = _repo(tmp_path, pub)
    (repo / "c.yaml").write_text(PLAIN)
    (repo / "s.yaml").write_text(PLAIN)
    assert _cfgc(["encrypt", "-i", "c.yaml"], isolated_env, repo).returncode == 0
    assert run([sops_bin, "--encrypt", "--in-place", "s.yaml"], isolated_env, repo).returncode == 0
    env = {**isolated_env, "SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(key)}
    for f in ("c.yaml", "s.yaml"):
        _decrypts([sops_bin, "--decrypt", f], env, repo)
        _decrypts([*cfgc_cmd(), "secrets", "decrypt", f], env, repo)
    # the default location ~/.ssh/id_<kind>, for both tools
    ssh_dir = Path(isolated_env["HOME"]) / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / f"id_{kind}").write_bytes(key.read_bytes())
    (ssh_dir / f"id_{kind}").chmod(0o600)
    _decrypts([*cfgc_cmd(), "secrets", "decrypt", "s.yaml"], isolated_env, repo)
    _decrypts([sops_bin, "--decrypt", "c.yaml"], isolated_env, repo)


def test_key_cmd_both_ways(sops_bin: str, isolated_env: dict[str, str], tmp_path: Path) -> None:
    key, rec = _age(tmp_path, "cmd")
    repo = _repo(tmp_path, rec)
    (repo / "c.yaml").write_text(PLAIN)
    (repo / "s.yaml").write_text(PLAIN)
    assert _cfgc(["encrypt", "-i", "c.yaml"], isolated_env, repo).returncode == 0
    assert run([sops_bin, "-e", "-i", "s.yaml"], isolated_env, repo).returncode == 0
    script = tmp_path / "print-key.sh"
    script.write_text(f"#!/bin/sh\necho '# from the vault'\ncat '{key}'\n")
    script.chmod(0o700)
    env = {**isolated_env, "SOPS_AGE_KEY_CMD": f"{script}"}
    for f in ("c.yaml", "s.yaml"):
        _decrypts([sops_bin, "--decrypt", f], env, repo)
        _decrypts([*cfgc_cmd(), "secrets", "decrypt", f], env, repo)


def test_env_recipients_as_sops(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    rule_key, rule_rec = _age(tmp_path, "rule")
    env_key, env_rec = _age(tmp_path, "env")
    repo = _repo(tmp_path, rule_rec)
    cfg = repo / ".sops.yaml"
    cfg.write_text(cfg.read_text() + "    encrypted_regex: ^password$\n")
    (repo / "c.yaml").write_text(PLAIN)
    (repo / "s.yaml").write_text(PLAIN)
    env = {**isolated_env, "SOPS_AGE_RECIPIENTS": env_rec}
    assert _cfgc(["encrypt", "-i", "c.yaml"], env, repo).returncode == 0
    assert run([sops_bin, "-e", "-i", "s.yaml"], env, repo).returncode == 0
    meta = [fileio.read(repo / f)["sops"] for f in ("c.yaml", "s.yaml")]
    assert [[k["recipient"] for k in m["age"]] for m in meta] == [[env_rec], [env_rec]]
    assert [m.get("encrypted_regex") for m in meta] == ["^password$", "^password$"]
    dec = {**isolated_env, "SOPS_AGE_KEY_FILE": str(env_key)}
    _decrypts([sops_bin, "--decrypt", "c.yaml"], dec, repo)
    _decrypts([*cfgc_cmd(), "secrets", "decrypt", "s.yaml"], dec, repo)


def test_upper_case_recipient_refused_like_sops(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    key, rec = _age(tmp_path, "up")
    repo = _repo(tmp_path, rec.upper())
    (repo / "c.yaml").write_text(PLAIN)
    assert run([sops_bin, "-e", "c.yaml"], isolated_env, repo).returncode != 0
    r = _cfgc(["encrypt", "-i", "c.yaml"], isolated_env, repo)
    assert r.returncode == 1 and "lower case" in r.stderr
    assert (repo / "c.yaml").read_text() == PLAIN
    # a file an earlier cfgc wrote with the upper-case recipient: both tools read it
    _repo(tmp_path, rec)
    assert _cfgc(["encrypt", "-i", "c.yaml"], isolated_env, repo).returncode == 0
    f = repo / "c.yaml"
    f.write_text(f.read_text().replace(rec, rec.upper()))
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    _decrypts([sops_bin, "--decrypt", "c.yaml"], env, repo)
    _decrypts([*cfgc_cmd(), "secrets", "decrypt", "c.yaml"], env, repo)


def test_link_to_sops_file_is_refused_and_kept(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    key, rec = _age(tmp_path, "link")
    new_key, new_rec = _age(tmp_path, "new")
    repo = _repo(tmp_path, rec)
    (repo / "real.yaml").write_text(PLAIN)
    assert run([sops_bin, "-e", "-i", "real.yaml"], isolated_env, repo).returncode == 0
    (repo / "link.yaml").symlink_to("real.yaml")
    before = (repo / "real.yaml").read_bytes()
    _repo(tmp_path, new_rec)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    for args, stdin in (
        (["set", "link.yaml", "db.password"], "new"),
        (["rotate", "link.yaml"], None),
        (["updatekeys", "--yes", "link.yaml"], None),
    ):
        r = _cfgc(args, env, repo, stdin)
        assert r.returncode == 1 and "symbolic link" in r.stderr, r.stderr
        assert (repo / "link.yaml").is_symlink()
        assert (repo / "real.yaml").read_bytes() == before
    # the target itself is updated normally, and sops reads it through the link
    assert _cfgc(["updatekeys", "--yes", "real.yaml"], env, repo).returncode == 0
    _decrypts(
        [sops_bin, "--decrypt", "link.yaml"],
        {**isolated_env, "SOPS_AGE_KEY_FILE": str(new_key)},
        repo,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file another owner")
def test_owner_kept_on_a_sops_file(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    key, rec = _age(tmp_path, "own")
    repo = _repo(tmp_path, rec)
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    assert run([sops_bin, "-e", "-i", "s.yaml"], isolated_env, repo).returncode == 0
    os.chown(f, 65534, 65534)
    f.chmod(0o640)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    for args, stdin in (
        (["set", "s.yaml", "db.password"], "changed"),
        (["rotate", "s.yaml"], None),
    ):
        assert _cfgc(args, env, repo, stdin).returncode == 0
        st = f.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o640)
    r = run([sops_bin, "--decrypt", "s.yaml"], env, repo)
    assert r.returncode == 0 and "changed" in r.stdout


def test_updatekeys_dir_names_files_it_skips(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    key, rec = _age(tmp_path, "old")
    new_key, new_rec = _age(tmp_path, "new")
    repo = _repo(tmp_path, rec)
    (repo / "good.yaml").write_text(PLAIN)
    (repo / "app.env").write_text(f"PASSWORD={CANARY}\n")
    (repo / "multi.yaml").write_text(f"a: {CANARY}\n---\nb: 2\n")
    for f in ("good.yaml", "app.env", "multi.yaml"):
        assert run([sops_bin, "-e", "-i", f], isolated_env, repo).returncode == 0, f
    _repo(tmp_path, rec, new_rec)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    r = _cfgc(["updatekeys", "."], env, repo)
    assert r.returncode == 1, r.stderr
    assert "app.env: skipped" in r.stderr and "not updated" in r.stderr
    assert ("multi.yaml: skipped" in r.stderr) != (new_rec in (repo / "multi.yaml").read_text())
    _decrypts(
        [sops_bin, "--decrypt", "good.yaml"],
        {**isolated_env, "SOPS_AGE_KEY_FILE": str(new_key)},
        repo,
    )
    assert CANARY not in r.stdout + r.stderr


def test_updatekeys_refuses_to_lock_out_the_runner(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    key, rec = _age(tmp_path, "runner")
    other_key, other_rec = _age(tmp_path, "other")
    repo = _repo(tmp_path, rec)
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    assert run([sops_bin, "-e", "-i", "s.yaml"], isolated_env, repo).returncode == 0
    _repo(tmp_path, other_rec)
    before = f.read_bytes()
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    r = _cfgc(["updatekeys", "s.yaml"], env, repo)
    assert r.returncode == 1 and "--yes" in r.stderr
    assert f"+ {other_rec}" in r.stdout and f"- {rec}" in r.stdout  # the plan is shown
    assert f.read_bytes() == before
    # sops, non-interactive without -y, refuses too
    assert run([sops_bin, "updatekeys", "s.yaml"], env, repo, "").returncode != 0
    assert f.read_bytes() == before
    assert _cfgc(["updatekeys", "--yes", "s.yaml"], env, repo).returncode == 0
    _decrypts(
        [sops_bin, "--decrypt", "s.yaml"],
        {**isolated_env, "SOPS_AGE_KEY_FILE": str(other_key)},
        repo,
    )
