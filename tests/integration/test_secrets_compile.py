"""SOPS files in the hierarchy: compiled to references, shipped encrypted, never decrypted in CI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from cfgc.secrets.keysources import default_keyring
from cfgc.secrets.ops import decrypt_file
from tests.fixtures.tools import need

pytestmark = pytest.mark.integration

CANARY = "sk-CANARY-do-not-leak-7f3a9c"
CANARY_INT = 48213977

CONFIG = """\
version: 1
hierarchy:
  - base/*.yaml
  - tenants/{tenant}/secrets.enc.yaml
  - tenants/{tenant}/{env}/{service}.yaml
targets: "{tenant}/{env}/{service}"
schemas:
  - schema: schemas/s.json
"""
SCHEMA = {
    "type": "object",
    "properties": {
        "providers": {"type": "object", "properties": {"openai": {"type": "object", "properties": {
            "api_key": {"type": "string", "pattern": "^sk-"}, "org_id": {"type": "integer"}}}}},
        "models": {"type": "object"},
    },
}


def age_keygen(dest: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(dest)], check=True, capture_output=True)
    return next(line.split()[-1] for line in dest.read_text().splitlines() if "public key" in line)


@pytest.fixture
def secret_repo(make_repo, tmp_path: Path, sops_bin: str) -> tuple[Path, Path]:
    need("age-keygen", "apt-get install age")
    key = tmp_path / "acme.agekey"
    recipient = age_keygen(key)
    root = make_repo({
        "base/a.yaml": "models:\n  primary:\n    $extends: providers.openai\n    model_id: gpt-4o\n",
        "tenants/acme/prod/chat.yaml": "service: chat\n",
        "schemas/s.json": json.dumps(SCHEMA),
        ".sops.yaml": f"creation_rules:\n  - path_regex: tenants/acme/.*\n    age: {recipient}\n",
    }, config=CONFIG)
    plain = root / "tenants/acme/secrets.enc.yaml"
    plain.write_text(f"providers:\n  openai:\n    api_key: {CANARY}\n    org_id: {CANARY_INT}\n    region_unencrypted: us\n")
    # encrypted by the real sops binary, as a team already using sops would have it
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([sops_bin, "--encrypt", "--in-place", str(plain)], check=True, cwd=root, env=env,
                   capture_output=True)
    assert CANARY not in plain.read_text()
    return root, key


def test_build_ships_references_and_the_encrypted_document(secret_repo, run_cfgc, tmp_path: Path) -> None:
    root, key = secret_repo
    out = tmp_path / "bundle"
    # no key in the environment: CI never holds one
    proc = run_cfgc("build", "--repo", root, "--out", out, env={"SOPS_AGE_KEY_FILE": "", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    target = json.loads((out / "targets/acme/prod/chat.json").read_text())
    ref = target["models"]["primary"]["api_key"]["$secret"]
    assert ref == {"file": "tenants/acme/secrets.enc.yaml", "path": ["providers", "openai", "api_key"], "type": "str"}
    assert target["providers"]["openai"]["org_id"]["$secret"]["type"] == "int"
    assert target["providers"]["openai"]["region_unencrypted"] == "us"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["targets"]["acme/prod/chat"]["secrets"] == ["tenants/acme/secrets.enc.yaml"]
    shipped = out / manifest["secrets"]["tenants/acme/secrets.enc.yaml"]["path"]
    for f in out.rglob("*"):
        if f.is_file():
            assert CANARY.encode() not in f.read_bytes(), f
            assert str(CANARY_INT).encode() not in f.read_bytes(), f
    # a runtime holding the tenant's identity recovers the value from the bundle
    tree = decrypt_file(shipped, default_keyring(str(key)))
    node = tree
    for k in ref["path"]:
        node = node[k]
    assert node == CANARY


def test_schema_sees_the_declared_type(secret_repo, run_cfgc) -> None:
    root, _ = secret_repo
    schema = json.loads((root / "schemas/s.json").read_text())
    schema["properties"]["providers"]["properties"]["openai"]["properties"]["org_id"] = {"type": "string"}
    (root / "schemas/s.json").write_text(json.dumps(schema))
    proc = run_cfgc("validate", "--repo", root)
    assert proc.returncode == 1
    assert "tenants/acme/secrets.enc.yaml:4:9: error: providers.openai.org_id: a secret of type int is not of type" in proc.stdout
    assert "not of type 'string'" in proc.stdout
    assert str(CANARY_INT) not in proc.stdout + proc.stderr
    assert CANARY not in proc.stdout + proc.stderr


def test_secret_cannot_be_interpolated_into_text(secret_repo, run_cfgc) -> None:
    root, _ = secret_repo
    (root / "tenants/acme/prod/chat.yaml").write_text(
        "service: chat\nheader: 'Bearer {{ config.providers.openai.api_key }}'\n")
    proc = run_cfgc("validate", "--repo", root)
    assert proc.returncode == 1
    assert "tenants/acme/prod/chat.yaml:2:1: error:" in proc.stdout
    assert "cannot be interpolated" in proc.stdout
    assert CANARY not in proc.stdout + proc.stderr


def test_whole_secret_reference_may_be_copied_by_template(secret_repo, run_cfgc, tmp_path: Path) -> None:
    root, _ = secret_repo
    (root / "tenants/acme/prod/chat.yaml").write_text(
        "service: chat\nclient:\n  key: '{{ config.providers.openai.api_key }}'\n")
    out = tmp_path / "b"
    proc = run_cfgc("build", "--repo", root, "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    target = json.loads((out / "targets/acme/prod/chat.json").read_text())
    assert target["client"]["key"]["$secret"]["path"] == ["providers", "openai", "api_key"]


def test_explain_never_shows_plaintext(secret_repo, run_cfgc) -> None:
    root, _ = secret_repo
    proc = run_cfgc("explain", "acme/prod/chat", "--repo", root)
    assert proc.returncode == 0
    assert "<redacted hmac:" in proc.stdout  # the SOPS value is a marker, its source line still shown
    assert CANARY not in proc.stdout and "ENC[" not in proc.stdout
    assert yaml.safe_load((root / "tenants/acme/secrets.enc.yaml").read_text())["sops"]["age"]
