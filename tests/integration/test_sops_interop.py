"""cfgc's native SOPS implementation against the real sops binary, both ways."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
import pytest

from cfgc.base.errors import ExternalError
from cfgc.secrets import fileio, ops
from cfgc.secrets.keysources import default_keyring
from tests.fixtures.tools import need

pytestmark = pytest.mark.integration

CANARY = "canary-1nt3gr4t10n-K7"
PLAIN = f"""\
db:
  password: {CANARY}
  port: 5432
  ratio: 1.5e-7
  big: 1e21
  enabled: true
  empty: ""
  nothing: null
  user_unencrypted: admin
list:
  - a
  - 2
  - {{x: "y", z: [1.25, false]}}
multi: |
  line1
  line2
"quoted key": 'x'
"""
TRICKY = {
    "yes": "yes", "on": "on", "y": "y", "num": "123", "float": "1.5", "date": "2024-01-02",
    "lead": " x", "colon": "a: b", "hash": "a #b", "star": "*x", "amp": "&a", "bang": "!x",
    "tab": "a\tb", "ctrl": "a\x01b\x7f", "quote": "it's \"q\"", "uni": "héllo ☃ 😀",
    "nl": "a\nb", "nl_end": "a\n", "nl2": "a\n\n", "trail": "x \ny", "empty": "",
    "dash": "- x", "brace": "{a}", "pct": "%x", "null": "null", "tilde": "~",
}  # fmt: skip


def cfgc_cmd() -> list[str]:
    exe = shutil.which("cfgc")
    return [exe] if exe else [sys.executable, "-c", "from cfgc.cli.main import main; main()"]


def run(
    cmd: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.fixture()
def age_keygen(tmp_path: Path) -> tuple[Path, str]:
    """An identity made by the real ``age-keygen`` command, and its recipient."""
    exe = need("age-keygen", "apt-get install age")
    key = tmp_path / "keygen.txt"
    subprocess.run([exe, "-o", str(key)], check=True, capture_output=True)
    recipient = next(
        line.split()[-1] for line in key.read_text().splitlines() if "public key" in line
    )
    return key, recipient


@pytest.fixture()
def pyrage_key(tmp_path: Path) -> tuple[Path, str]:
    ident = pyrage.x25519.Identity.generate()
    key = tmp_path / "pyrage.txt"
    key.write_text(f"# created by pyrage\n{ident}\n")
    return key, str(ident.to_public())


def _repo(tmp_path: Path, rules: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / ".sops.yaml").write_text(rules)
    return repo


def _age_rule(*recipients: str) -> str:
    return f"creation_rules:\n  - path_regex: .*\n    age: {','.join(recipients)}\n"


def _sops_plain(sops_bin: str, path: Path, env: dict[str, str], cwd: Path) -> Any:
    r = run([sops_bin, "--decrypt", str(path)], env, cwd)
    assert r.returncode == 0, r.stderr
    return fileio.loads(r.stdout, fileio.format_for(path))


@pytest.mark.parametrize("keysrc", ["age_keygen", "pyrage_key"])
def test_cfgc_encrypts_sops_decrypts(
    keysrc: str,
    request: pytest.FixtureRequest,
    sops_bin: str,
    isolated_env: dict[str, str],
    tmp_path: Path,
) -> None:
    key, recipient = request.getfixturevalue(keysrc)
    repo = _repo(tmp_path, _age_rule(recipient))
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    r = run([*cfgc_cmd(), "secrets", "encrypt", "--in-place", str(f)], env, repo)
    assert r.returncode == 0, r.stderr
    assert CANARY not in f.read_text()
    assert _sops_plain(sops_bin, f, env, repo) == fileio.loads(PLAIN, "yaml")
    # JSON too, with tricky strings
    j = repo / "t.json"
    j.write_text(json.dumps(TRICKY))
    assert run([*cfgc_cmd(), "secrets", "encrypt", "-i", str(j)], env, repo).returncode == 0
    assert _sops_plain(sops_bin, j, env, repo) == TRICKY


def test_tricky_yaml_strings_round_trip(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path, pyrage_key: tuple[Path, str]
) -> None:
    key, recipient = pyrage_key
    repo = _repo(tmp_path, _age_rule(recipient))
    f = repo / "t.yaml"
    f.write_text(fileio.dumps(TRICKY, "yaml"))
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    ops.encrypt_file(f, default_keyring(str(key)), in_place=True)
    assert _sops_plain(sops_bin, f, env, repo) == TRICKY
    r = run([sops_bin, "--decrypt", "--output-type", "json", str(f)], env, repo)
    assert json.loads(r.stdout) == TRICKY


@pytest.mark.parametrize("keysrc", ["age_keygen", "pyrage_key"])
def test_sops_encrypts_cfgc_decrypts(
    keysrc: str,
    request: pytest.FixtureRequest,
    sops_bin: str,
    isolated_env: dict[str, str],
    tmp_path: Path,
) -> None:
    key, recipient = request.getfixturevalue(keysrc)
    repo = _repo(tmp_path, _age_rule(recipient))
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    r = run([sops_bin, "--encrypt", "--in-place", str(f)], env, repo)
    assert r.returncode == 0, r.stderr
    r = run([*cfgc_cmd(), "secrets", "decrypt", "--output-type", "json", str(f)], env, repo)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(fileio.dumps(fileio.loads(PLAIN, "yaml"), "json"))
    r = run(
        [*cfgc_cmd(), "secrets", "decrypt", "--extract", '["db"]["password"]', str(f)], env, repo
    )
    assert r.stdout == CANARY


def test_sops_set_on_cfgc_file_and_back(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path, pyrage_key: tuple[Path, str]
) -> None:
    key, recipient = pyrage_key
    repo = _repo(tmp_path, _age_rule(recipient))
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    assert run([*cfgc_cmd(), "secrets", "encrypt", "-i", str(f)], env, repo).returncode == 0
    before = fileio.read(f)
    r = run([sops_bin, "set", str(f), '["db"]["port"]', "6543"], env, repo)
    assert r.returncode == 0, r.stderr
    after = fileio.read(f)
    assert after["db"]["password"] == before["db"]["password"]  # sops kept our IVs
    assert after["list"] == before["list"]
    assert ops.decrypt_file(f, default_keyring(str(key)))["db"]["port"] == 6543
    # and cfgc set on the file sops just wrote; sops still reads it
    r = run([*cfgc_cmd(), "secrets", "set", str(f), "db.password"], env, repo, stdin="n3w\n")
    assert r.returncode == 0, r.stderr
    final = fileio.read(f)
    assert final["db"]["port"] == after["db"]["port"] and final["list"] == after["list"]
    assert _sops_plain(sops_bin, f, env, repo)["db"]["password"] == "n3w"


def test_shamir_and_updatekeys_written_by_cfgc(
    sops_bin: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    ids = [pyrage.x25519.Identity.generate() for _ in range(3)]
    rec = [str(i.to_public()) for i in ids]
    groups = "".join(f"      - age: [{r}]\n" for r in rec)
    repo = _repo(tmp_path, f"creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n{groups}")
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    keys = tmp_path / "two.txt"
    keys.write_text(f"{ids[0]}\n{ids[2]}\n")
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(keys)}
    assert run([*cfgc_cmd(), "secrets", "encrypt", "-i", str(f)], env, repo).returncode == 0
    assert _sops_plain(sops_bin, f, env, repo) == fileio.loads(PLAIN, "yaml")
    # updatekeys: back to one group with a new recipient
    new = pyrage.x25519.Identity.generate()
    (repo / ".sops.yaml").write_text(_age_rule(rec[0], str(new.to_public())))
    r = run([*cfgc_cmd(), "secrets", "updatekeys", "--dry-run", str(f)], env, repo)
    assert r.returncode == 0 and f"+ {new.to_public()}" in r.stdout and f"- {rec[1]}" in r.stdout
    assert run([*cfgc_cmd(), "secrets", "updatekeys", str(f)], env, repo).returncode == 0
    newkey = tmp_path / "new.txt"
    newkey.write_text(f"{new}\n")
    assert _sops_plain(
        sops_bin, f, {**env, "SOPS_AGE_KEY_FILE": str(newkey)}, repo
    ) == fileio.loads(PLAIN, "yaml")
    r = run(
        [*cfgc_cmd(), "secrets", "rotate", str(f)], {**env, "SOPS_AGE_KEY_FILE": str(newkey)}, repo
    )
    assert r.returncode == 0, r.stderr
    assert _sops_plain(
        sops_bin, f, {**env, "SOPS_AGE_KEY_FILE": str(newkey)}, repo
    ) == fileio.loads(PLAIN, "yaml")


TAMPERS = {
    "ciphertext": lambda d: d["db"].__setitem__(
        "password", d["db"]["password"].replace("data:", "data:AA", 1)
    ),
    "renamed_key": lambda d: d["db"].__setitem__("passwd", d["db"].pop("password")),
    "mac": lambda d: d["sops"].__setitem__("mac", d["list"][0]),
    "plain_value": lambda d: d["db"].__setitem__("user_unencrypted", "root"),
}


@pytest.mark.parametrize("how", sorted(TAMPERS))
def test_tamper_exit_5(
    how: str,
    sops_bin: str,
    isolated_env: dict[str, str],
    tmp_path: Path,
    pyrage_key: tuple[Path, str],
) -> None:
    key, recipient = pyrage_key
    repo = _repo(tmp_path, _age_rule(recipient))
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    assert run([sops_bin, "--encrypt", "-i", str(f)], env, repo).returncode == 0
    doc = fileio.read(f)
    TAMPERS[how](doc)
    fileio.write(f, doc)
    r = run([*cfgc_cmd(), "secrets", "decrypt", str(f)], env, repo)
    assert r.returncode == 5, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and CANARY not in r.stderr + r.stdout
    assert run([sops_bin, "--decrypt", str(f)], env, repo).returncode != 0  # sops agrees


def _kms_key(moto_url: str, context: bool = False) -> str:
    import boto3

    kms = boto3.client("kms", region_name="us-east-1", endpoint_url=moto_url)
    return str(kms.create_key(Description="cfgc test")["KeyMetadata"]["Arn"])


def test_kms_both_ways(
    sops_bin: str,
    isolated_env: dict[str, str],
    aws_env: dict[str, str],
    moto_server: str,
    tmp_path: Path,
) -> None:
    arn = _kms_key(moto_server)
    rules = (
        "creation_rules:\n"
        "  - path_regex: ctx/.*\n"
        "    key_groups:\n"
        f"      - kms:\n          - arn: {arn}\n            context: {{tenant: acme, env: prod}}\n"
        f"  - path_regex: .*\n    kms: {arn}\n"
    )
    repo = _repo(tmp_path, rules)
    (repo / "ctx").mkdir()
    env = {**isolated_env, **aws_env}
    for name in ("plain.yaml", "ctx/c.yaml"):
        a, b = repo / f"cfgc-{Path(name).name}", repo / name
        a = a if "/" not in name else repo / "ctx" / f"cfgc-{Path(name).name}"
        a.write_text(PLAIN)
        b.write_text(PLAIN)
        r = run([*cfgc_cmd(), "secrets", "encrypt", "-i", str(a)], env, repo)
        assert r.returncode == 0, r.stderr
        meta = fileio.read(a)["sops"]["kms"][0]
        assert meta["arn"] == arn and meta["aws_profile"] == ""
        assert ("context" in meta) == ("ctx" in name)
        assert _sops_plain(sops_bin, a, env, repo) == fileio.loads(PLAIN, "yaml")
        r = run([sops_bin, "--encrypt", "-i", str(b)], env, repo)
        assert r.returncode == 0, r.stderr
        assert ops.decrypt_file(b, default_keyring()) == fileio.loads(PLAIN, "yaml")
        # sops' metadata layout equals ours (ignoring values that are random)
        ours, theirs = fileio.read(a)["sops"], fileio.read(b)["sops"]
        assert list(ours) == list(theirs) and list(ours["kms"][0]) == list(theirs["kms"][0])


EXAMPLE = Path(__file__).parents[2] / "examples" / "repo"


@pytest.mark.parametrize(("tenant", "other"), [("acme", "globex"), ("globex", "acme")])
def test_example_repo_secrets(
    tenant: str, other: str, sops_bin: str, isolated_env: dict[str, str]
) -> None:
    """The example secrets decrypt with sops and their tenant's key only."""
    key = EXAMPLE / "test-keys-DO-NOT-USE" / f"{tenant}.agekey"
    env = {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}
    mine = EXAMPLE / "tenants" / tenant / "secrets.enc.yaml"
    plain = _sops_plain(sops_bin, mine, env, EXAMPLE)
    assert plain["key_id_unencrypted"] == f"{tenant}-2026-11"
    assert f"-{tenant}-" in plain["providers"]["openai"]["api_key"]
    assert plain == ops.decrypt_file(mine, default_keyring(str(key)))
    theirs = EXAMPLE / "tenants" / other / "secrets.enc.yaml"
    r = run([sops_bin, "--decrypt", str(theirs)], env, EXAMPLE)
    assert r.returncode != 0 and "CANARY" not in r.stdout + r.stderr


def test_decrypt_delegated_to_real_sops(
    sops_bin: str,
    isolated_env: dict[str, str],
    tmp_path: Path,
    pyrage_key: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file cfgc holds no native key for but lists a PGP key goes through sops."""
    from cfgc.secrets.keysources import Keyring, delegate
    from cfgc.secrets.keysources.age import AgeSource

    key, recipient = pyrage_key
    repo = _repo(tmp_path, _age_rule(recipient))
    f = repo / "s.yaml"
    f.write_text(PLAIN)
    ops.encrypt_file(f, default_keyring(str(key)), in_place=True)
    doc = fileio.read(f)
    fp = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    doc["sops"]["pgp"] = [{"created_at": "2026-01-01T00:00:00Z", "enc": "x", "fp": fp}]
    fileio.write(f, doc)
    for k, v in {**isolated_env, "SOPS_AGE_KEY_FILE": str(key)}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv(delegate.BINARY_ENV, sops_bin)
    blind = Keyring({"age": AgeSource(identities=[])})  # cfgc itself cannot unwrap
    assert ops.decrypt_file(f, blind) == fileio.loads(PLAIN, "yaml")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "none.txt"))
    with pytest.raises(ExternalError, match="sops --decrypt failed"):
        ops.decrypt_file(f, blind)
